"""Tails: what a table outputs below its first cutpoint and from its last cutpoint on.

Each side has a mode: ``clamp`` (a constant, the fitter stores f at the end cutpoint rounded to
nearest even into the output format; a negative f that rounds to 0 stores -0), ``zero`` (+0),
``identity`` (y = x) or ``linear`` (y = 2^shift x + b, b chosen so the tail meets f at the end
cutpoint). In hardware every mode is ``y = saturate(gain ? round(x 2^e) + b : b)``: a constant, or
a wire shift and an adder, never a multiplier. ``b`` is the table's clamp value on that side.
With a float side a linear tail is one rounding of the exact 2^shift x + b into a float output
(an aligned add, ``hdl/nli/float_sum.py``), or saturate(round(2^shift x) + b) into a fixed one.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

import numpy as np

from nlihw.errors import ParamsError
from nlihw.formats import shift_round

MAX_SHIFT = 16


class TailMode(str, Enum):
    CLAMP = "clamp"
    ZERO = "zero"
    IDENTITY = "identity"
    LINEAR = "linear"


_TAIL_RE = re.compile(r"^(clamp|zero|identity|linear)(?::([+-]?\d+))?$")


@dataclass(frozen=True)
class Tail:
    """One side's tail: its mode, and for ``linear`` the slope 2**shift."""
    mode: TailMode = TailMode.CLAMP
    shift: int = 0

    def __post_init__(self):
        try:
            object.__setattr__(self, "mode", TailMode(self.mode))
        except ValueError:
            raise ParamsError(f"tail mode must be one of {', '.join(m.value for m in TailMode)}, "
                              f"got {self.mode!r}") from None
        if not isinstance(self.shift, int) or isinstance(self.shift, bool):
            raise ParamsError(f"tail shift must be an integer, got {self.shift!r}")
        if self.mode is not TailMode.LINEAR and self.shift != 0:
            raise ParamsError(f"only a linear tail has a slope; got {self.mode.value} with shift "
                              f"{self.shift}")
        if not -MAX_SHIFT <= self.shift <= MAX_SHIFT:
            raise ParamsError(f"linear tail slope 2^{self.shift}: shift must be in "
                              f"-{MAX_SHIFT}..{MAX_SHIFT}")

    @classmethod
    def parse(cls, text: "str | Tail") -> "Tail":
        """``clamp``, ``zero``, ``identity``, ``linear`` (slope 1) or ``linear:S`` (slope 2^S)."""
        if isinstance(text, Tail):
            return text
        m = _TAIL_RE.match(str(text).strip())
        if not m:
            raise ParamsError(f"bad tail {text!r}; expected clamp, zero, identity, linear or "
                              f"linear:S (slope 2^S)")
        return cls(TailMode(m.group(1)), int(m.group(2) or 0))

    def __str__(self) -> str:
        return f"linear:{self.shift}" if self.mode is TailMode.LINEAR and self.shift else self.mode.value

    @property
    def gain(self) -> bool:
        """True when the output follows x (identity, linear); False for a constant."""
        return self.mode in (TailMode.IDENTITY, TailMode.LINEAR)

    @property
    def fixed_offset(self) -> bool:
        """zero and identity: the offset b is 0 by definition."""
        return self.mode in (TailMode.ZERO, TailMode.IDENTITY)

    def exponent(self, layout) -> int:
        """e in round(x 2^e): x raw (input LSBs) to output LSBs, times the slope."""
        return self.shift + layout.out_fmt.frac_bits - layout.in_fmt.frac_bits


def tail_gain(tail: Tail, layout, x) -> np.ndarray:
    """round(x 2^e) in output LSBs (0 for constant tails): the hardware's shifted input."""
    x = np.asarray(x, dtype=np.int64)
    if not tail.gain:
        return np.zeros_like(x)
    return shift_round(x, -tail.exponent(layout), layout.rounding)


def convert(layout, x) -> np.ndarray:
    """Input codes -> output codes of the same value, rounded once to nearest even, saturating
    (+-Inf stay infinite where the output has them; a fixed output saturates them). Exact: both
    formats' values are float64 values and ``quantize`` rounds float64 exactly. NaN codes give 0."""
    fin, fout = layout.in_fmt, layout.out_fmt
    v = fin.to_real(np.asarray(x, dtype=np.int64))
    v = np.where(np.isnan(v), 0.0, v)
    if not fout.is_float:
        v = np.clip(v, fout.min - 1.0, fout.max + 1.0)
    return fout.quantize(v)


def _round_to_odd_sum(a, b) -> np.ndarray:
    """a + b in float64, rounded to odd when inexact (TwoSum gives the exact error): rounding this
    once more to a format of at most 51 significant bits gives the correctly rounded exact sum."""
    a, b = np.broadcast_arrays(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    with np.errstate(invalid="ignore"):
        s = a + b
        bb = s - a
        err = (a - (s - bb)) + (b - bb)
    s = np.array(s, dtype=np.float64, ndmin=1)
    even = (s.view(np.int64) & 1) == 0
    nudge = np.isfinite(s) & (np.reshape(err, s.shape) != 0) & even
    out = np.where(nudge, np.nextafter(s, np.where(np.reshape(err, s.shape) > 0, np.inf, -np.inf)), s)
    return out.reshape(a.shape)


def linear_fixed_gain(tail: Tail, layout, x) -> np.ndarray:
    """Float input, fixed output: round(2^S x 2^frac) to nearest even, saturated to the output
    width + 2 bits (enough that adding b then saturating is as if unsaturated); NaN gives 0."""
    fin, fout = layout.in_fmt, layout.out_fmt
    v = np.ldexp(fin.to_real(np.asarray(x, dtype=np.int64)), tail.shift + fout.frac_bits)
    top = 1 << (fout.width + 1)
    return np.rint(np.clip(np.nan_to_num(v, nan=0.0), -top, top - 1)).astype(np.int64)


def scaled_input(tail: Tail, layout, x) -> np.ndarray:
    """2^S x as float64 (exact: a power-of-two scale of a format value); NaN gives 0."""
    v = layout.in_fmt.to_real(np.asarray(x, dtype=np.int64))
    return np.ldexp(np.nan_to_num(v, nan=0.0, posinf=np.inf, neginf=-np.inf), tail.shift)


def linear_output(tail: Tail, layout, x, b) -> np.ndarray:
    """A linear tail with a float side: y = round(2^S x + b), one rounding of the exact sum to
    nearest even into a float output (saturating; +-Inf in gives +-Inf, or the largest finite
    value without Inf); into a fixed output (float input) y = saturate(round(2^S x) + b), the
    identity tail's conversion scaled by 2^S. ``b`` (an output code) may be an array."""
    fout = layout.out_fmt
    x = np.asarray(x, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    if not fout.is_float:
        return fout.saturate(linear_fixed_gain(tail, layout, x) + b)
    return fout.quantize(_round_to_odd_sum(scaled_input(tail, layout, x), fout.to_real(b)))


def tail_output(tail: Tail, layout, x, b: int) -> np.ndarray:
    """Raw outputs of a tail with offset ``b`` (the clamp value) for raw inputs ``x``."""
    if layout.in_float or layout.out_float:
        x = np.asarray(x, dtype=np.int64)
        if tail.mode is TailMode.IDENTITY:
            return convert(layout, x)
        if tail.mode is TailMode.LINEAR:
            return linear_output(tail, layout, x, b)
        return np.full(x.shape, np.int64(0 if tail.mode is TailMode.ZERO else b))
    return layout.out_fmt.saturate(tail_gain(tail, layout, x) + np.int64(b))


def linear_offsets(tail: Tail, layout, c, y_at_c) -> np.ndarray:
    """Offsets b of a linear tail with a float side that make it pass through the output codes
    ``y_at_c`` at the input codes ``c`` (rounded into the output format)."""
    fout = layout.out_fmt
    c, y = np.asarray(c, dtype=np.int64), np.asarray(y_at_c, dtype=np.int64)
    if not fout.is_float:
        return fout.saturate(y - linear_fixed_gain(tail, layout, c))
    return fout.quantize(_round_to_odd_sum(fout.to_real(y), -scaled_input(tail, layout, c)))


def tail_offset(tail: Tail, layout, c: int, y_at_c: int) -> int:
    """The offset b the fitter stores: clamp -> f(c) quantized (-0 kept); zero/identity -> 0;
    linear -> the b that makes the tail pass through f(c) quantized (kept inside the output
    format)."""
    if tail.mode is TailMode.CLAMP:
        return int(y_at_c)
    if tail.fixed_offset:
        return 0
    if layout.in_float or layout.out_float:
        return int(linear_offsets(tail, layout, c, y_at_c))
    b = int(y_at_c) - int(tail_gain(tail, layout, np.int64(c)))
    return int(layout.out_fmt.saturate(b))


# Per-function defaults: (left, right). SiLU and GELU tend to 0 on the left and to x on the right,
# softplus likewise, exp to 0 on the left; saturating functions keep constant clamps.
DEFAULT_TAILS = {
    "silu": ("zero", "identity"), "gelu": ("zero", "identity"), "gelu_tanh": ("zero", "identity"),
    "softplus": ("zero", "identity"), "exp": ("zero", "clamp"),
}


def default_tails(func: str) -> tuple[Tail, Tail]:
    lo, hi = DEFAULT_TAILS.get(func, ("clamp", "clamp"))
    return Tail.parse(lo), Tail.parse(hi)
