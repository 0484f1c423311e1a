"""The hardware's exact behaviour as a float function, for model-level accuracy checks.

``Approx(table)(x)`` quantizes a float64 array into the table's input format (nearest even,
saturating as the hardware's input would), evaluates the bit-exact golden model (tails included)
and returns the output codes' real values, so a numpy or PyTorch model can use the engine in place
of an activation. Unlike ``nli_eval``, which refuses codes outside the format, this saturates.

Float input formats: x rounds to nearest even into the format (a finite x beyond its largest
finite value saturates to it, as ``FP.quantize``); NaN becomes the canonical NaN code and +-inf the
Inf codes (the largest finite codes of a format without Inf), which the hardware sends through its
NaN path and its tails. A float output's NaN code comes back as NaN.

The row units have the same kind of entry point: ``softmax(x)``, ``rmsnorm(x, w)`` and
``layernorm(x, w, b)`` quantize into the unit's I/O formats, run the bit-exact golden model
(``nlihw.sim.rowop.golden``) over the last axis and return float64: the exact hardware softmax
and norms in numpy.
"""
from __future__ import annotations

import numbers
from pathlib import Path

import numpy as np

from nlihw.errors import ParamsError
from nlihw.hdl.rowop.params import NormParams, SoftmaxParams, norm_preset, softmax_preset
from nlihw.luts.default_tables import shipped_table
from nlihw.luts.golden import nli_eval
from nlihw.luts.table import NLITable
from nlihw.sim.rowop.golden import norm_eval, softmax_eval


class Approx:
    """A table as a vectorized float64 function with the hardware's exact outputs."""

    def __init__(self, table: NLITable):
        if not isinstance(table, NLITable):
            raise TypeError(f"expected an NLITable, got {type(table).__name__}")
        self.table = table

    @classmethod
    def load(cls, path: "str | Path", verify: bool = True) -> "Approx":
        """From a table file (``nlihw fit -o``)."""
        return cls(NLITable.load(path, verify=verify))

    @classmethod
    def shipped(cls, name: str) -> "Approx":
        """From a shipped table by name, e.g. ``silu_M11_K32``."""
        return cls(shipped_table(name))

    def codes(self, x) -> np.ndarray:
        """Raw input codes for ``x``: a float format's own rounding (NaN -> canonical NaN, +-inf ->
        Inf codes); fixed point saturates (NaN excluded: see ``__call__``)."""
        fin = self.table.layout.in_fmt
        x = _real_array(x)
        if fin.is_float:
            return fin.quantize(x)
        return fin.quantize(np.clip(np.nan_to_num(x, nan=0.0), fin.min - 1, fin.max + 1))

    def __call__(self, x) -> np.ndarray:
        """f(x) as the hardware computes it; NaN in gives NaN out (a float output: the hardware's
        canonical NaN; a fixed output, whose hardware gives 0 for a NaN code: forced to NaN here),
        +-inf go through the input format (saturating a fixed one) and on through the tails.
        Keeps the shape of ``x``."""
        x = _real_array(x)
        y = self.table.layout.out_fmt.to_real(nli_eval(self.table, self.codes(x).ravel()))
        y = y.reshape(x.shape)
        return np.where(np.isnan(x), np.nan, y)

    def __repr__(self) -> str:
        lay = self.table.layout
        return f"Approx({self.table.function}: {lay.in_fmt} -> {lay.out_fmt}, M={lay.M}, K={lay.K})"


def _real_array(x) -> np.ndarray:
    """``x`` as a float64 array; anything but real numbers (None, strings, complex, bool,
    objects) is refused, not turned into NaN or parsed."""
    a = np.asarray(x)
    if a.dtype.kind == "O" and all(isinstance(v, numbers.Real) and not isinstance(v, bool)
                                   for v in a.ravel()):
        a = a.astype(np.float64)           # Python integers beyond int64
    if a.dtype.kind not in "iuf":
        what = f" of {a.dtype}" if a.dtype.kind != "O" else " with non-numbers" if a.ndim else ""
        raise TypeError(f"expected real numbers (an array, a sequence or a number), got "
                        f"{type(x).__name__}{what}")
    return a.astype(np.float64)


def approx(table: "NLITable | str | Path") -> Approx:
    """``Approx`` of a table object, a table file path, or a shipped table name."""
    if isinstance(table, NLITable):
        return Approx(table)
    if not isinstance(table, (str, Path)):
        raise TypeError(f"expected an NLITable, a table file path or a shipped table name, got "
                        f"{type(table).__name__}")
    p = Path(table)
    if p.suffix == ".json" or p.exists():
        return Approx.load(p)
    return Approx.shipped(str(table))


# --- the row units: softmax, RMSNorm, LayerNorm over the last axis ----------------------------
ROW_N_MAX = 4096        # the presets' row length; longer rows get a unit of their own length


def _row_array(x, what: str) -> tuple[np.ndarray, int]:
    """``x`` as float64 with at least one axis, and its row length (the last axis)."""
    a = _real_array(x)
    if a.ndim == 0:
        raise ValueError(f"{what}: x must have at least one axis (the row), got a scalar")
    return a, a.shape[-1]


def _unit(preset, cls, make, n: int, **over):
    """The normalized-mode params of ``preset`` (a preset name or a params object) for rows of
    ``n``; ``over`` replaces fields (None: keep)."""
    over = {k: v for k, v in over.items() if v is not None}
    if isinstance(preset, cls):
        p = preset.replace(output_mode="normalized", **over)
        if n > p.n_max:
            raise ParamsError(f"rows of {n} elements exceed the unit's n_max={p.n_max}")
        return p
    if not isinstance(preset, str):
        raise TypeError(f"preset: expected a preset name or {cls.__name__}, got "
                        f"{type(preset).__name__}")
    return make(preset, n_max=max(n, ROW_N_MAX), **over)


def softmax(x, preset: "str | SoftmaxParams" = "int16", mask=None) -> np.ndarray:
    """Softmax over the last axis exactly as the hardware unit computes it: ``x`` rounded to
    nearest even into the unit's input format (saturating), ``softmax_eval``, p as float64 (same
    shape as ``x``). ``mask`` (bool, broadcast to ``x``): True excludes an entry, as does -inf in
    ``x`` (torch's additive mask). A row with nothing left outputs zeros (the unit's ``empty``
    flag; torch gives NaN). NaN and +inf are refused. ``preset``: ``int16``, ``int8`` or a
    ``SoftmaxParams`` (its normalized mode)."""
    a, n = _row_array(x, "softmax")
    if np.isnan(a).any() or np.isposinf(a).any():
        raise ValueError("softmax: x holds NaN or +inf (use -inf or mask to exclude an entry)")
    p = _unit(preset, SoftmaxParams, softmax_preset, n)
    drop = np.isneginf(a)
    if mask is not None:
        m = np.asarray(mask)
        if m.dtype != bool:
            raise TypeError(f"softmax: mask must be a bool array (True excludes), got {m.dtype}")
        try:
            drop = drop | np.broadcast_to(m, a.shape)
        except ValueError:
            raise ValueError(f"softmax: mask of shape {m.shape} does not broadcast to x's "
                             f"{a.shape}") from None
    codes = p.in_fmt.quantize(np.where(drop, 0.0, a)).reshape(-1, n)
    res = softmax_eval(p, codes, mask=drop.reshape(-1, n))
    return p.out_fmt.to_real(res.out).reshape(a.shape)


def _channel(v, n: int, fmt, what: str) -> np.ndarray:
    """Per-channel ``w`` or ``b``: n finite reals, as raw codes of ``fmt`` (nearest even,
    saturating)."""
    a = _real_array(v)
    if a.shape != (n,):
        raise ValueError(f"{what} must have shape ({n},) (one per channel), got {a.shape}")
    return fmt.quantize(a)


def _norm(kind: str, x, w, b, preset, eps) -> np.ndarray:
    a, n = _row_array(x, f"{kind}norm")
    p = _unit(preset, NormParams, lambda name, **kw: norm_preset(name, kind, **kw), n, eps=eps)
    if p.kind != kind:
        raise ParamsError(f"{kind}norm: the params are for kind={p.kind!r}")
    wc = _channel(w, n, p.w_fmt, "w")
    bc = _channel(b, n, p.b_fmt, "b") if kind == "layer" else None
    res = norm_eval(p, p.in_fmt.quantize(a).reshape(-1, n), wc, bc)
    return p.out_fmt.to_real(res.out).reshape(a.shape)


def rmsnorm(x, w, preset: "str | NormParams" = "int16", *, eps: "float | None" = None) -> np.ndarray:
    """RMSNorm x rsqrt(mean(x^2) + eps) w over the last axis exactly as the hardware unit
    computes it: ``x`` and ``w`` rounded to nearest even into the unit's formats (saturating),
    ``norm_eval``, y as float64. ``eps`` replaces the preset's (int16 1e-5, int8 1e-3);
    ``preset``: ``int16``, ``int8`` or a ``NormParams`` of kind rms."""
    return _norm("rms", x, w, None, preset, eps)


def layernorm(x, w, b, preset: "str | NormParams" = "int16", *,
              eps: "float | None" = None) -> np.ndarray:
    """LayerNorm (x - mean) rsqrt(var + eps) w + b (biased variance, as torch) over the last
    axis exactly as the hardware unit computes it; see ``rmsnorm``."""
    return _norm("layer", x, w, b, preset, eps)
