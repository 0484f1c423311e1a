"""Default domains of built-in functions on a float input, derived per (function, input format,
output format) from where the function's tails are exact.

The rule: on each side the domain ends at the first finite input code from which on, to the end of
the format, the side's tail outputs f(x) rounded to nearest (saturating) into the output format
(its value; -0 and +0 count as equal), checked on every such code; a clamp tail's constant is that
rounding at the format's extreme code, and the fitter stores that constant (the limit) wherever
it puts the end cutpoint. The end code itself is in the domain; on a derived domain f is fitted
saturated to the output's range (e^x past fp16's 65504 as 65504, the best any output code can
do). A side with no exact run reaches the end of the format. Functions with a stated natural
domain (reciprocal, rsqrt: a mantissa range) and user functions are not derived.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from nlihw.errors import ParamsError
from .functions import Function
from .layout import MAX_POSITION, TableLayout
from .tails import Tail, TailMode, default_tails, tail_output

RULE = "tails exact beyond it at every code"
RULE_VERSION = 1        # in sweep point keys of float points without a domain: bump when RULE changes


@dataclass(frozen=True)
class DefaultDomain:
    """A derived domain [lo, hi] (input code values), the tails in force beyond it and each clamp
    side's constant (an output code; None: the fitter stores f at the end cutpoint)."""
    domain: tuple[float, float]
    tails: tuple[Tail, Tail]
    limits: tuple = (None, None)

    def __post_init__(self):
        lo, hi = self.domain
        if not lo < hi:
            raise ParamsError(f"a default domain needs lo < hi, got [{lo:g}, {hi:g}]")


def derives(fn: Function, layout: TableLayout) -> bool:
    """A float input, a built-in function without a stated natural domain."""
    return layout.in_float and not fn.user and fn.default_domain is None


def rounded_f(layout: TableLayout, f: np.ndarray) -> np.ndarray:
    """f rounded to nearest even into the output format, saturating (NaN stays NaN), as reals."""
    fout = layout.out_fmt
    bad = np.isnan(f)
    if fout.is_float:
        y = fout.to_real(fout.quantize(np.clip(np.where(bad, 0.0, f), fout.min, fout.max)))
    else:
        y = fout.to_real(fout.quantize(np.clip(np.where(bad, 0.0, f), fout.min - 1.0,
                                               fout.max + 1.0)))
    return np.where(bad, np.nan, y)


def _exact_run(layout: TableLayout, tail: Tail, codes: np.ndarray,
               target: np.ndarray) -> tuple[int, "int | None"]:
    """How many codes from the start of ``codes`` (ordered outward-in) the tail outputs exactly,
    and a clamp's constant (f rounded at the first code, the format's extreme)."""
    if tail.mode is TailMode.LINEAR:
        return 0, None              # its offset depends on the cutpoint the fitter picks
    clamp = tail.mode is TailMode.CLAMP
    b = int(layout.out_fmt.quantize(target[:1])[0]) if clamp else 0
    y = layout.out_fmt.to_real(tail_output(tail, layout, codes, b))
    miss = np.flatnonzero(~(y == target))
    return int(codes.shape[0] if miss.shape[0] == 0 else miss[0]), (b if clamp else None)


def saturated(fn: Function, layout: TableLayout) -> Function:
    """``fn`` clipped to the output format's range [min, max] (its mpmath form too), same name."""
    lo, hi = float(layout.out_fmt.min), float(layout.out_fmt.max)
    f, mp = fn.fn, fn.mp
    return dataclasses.replace(
        fn, fn=lambda x: np.clip(np.asarray(f(x), dtype=np.float64), lo, hi),
        mp=None if mp is None else (lambda x: min(max(mp(x), lo), hi)))


def derive_domain(fn: Function, layout: TableLayout, given=None) -> DefaultDomain:
    """The default domain and tails of ``fn`` on ``layout`` (see the module docstring); ``given``
    (left, right) tails replace the function's defaults (None: default)."""
    given = (None, None) if given is None else tuple(given)
    defaults = default_tails(fn.name)
    tails = [Tail.parse(g) if g is not None else d for g, d in zip(given, defaults)]
    fin = layout.in_fmt
    codes = fin.finite_codes()
    x = fin.to_real(codes)
    with np.errstate(all="ignore"):
        f = fn(x)
    target = rounded_f(layout, f)
    n = codes.shape[0]
    ends, limits = [], [None, None]
    for side, order in ((0, np.arange(n)), (1, np.arange(n)[::-1])):
        run, limits[side] = _exact_run(layout, tails[side], codes[order], target[order])
        if run >= n:
            raise ParamsError(f"{fn.name} is constant on every {fin} code; nothing to fit")
        if run == 0:
            tails[side] = Tail() if given[side] is None else tails[side]
            limits[side] = None
            ends.append(int(order[0]))
            continue
        ends.append(int(order[run - 1]))
    lo, hi = float(x[ends[0]]), float(x[ends[1]])
    if not lo < hi:
        raise ParamsError(f"{fn.name}'s tails are exact on every {fin} code but [{lo:g}, {hi:g}]; "
                          f"pass --domain")
    return DefaultDomain((lo, hi), (tails[0], tails[1]), (limits[0], limits[1]))


def check_position(layout: TableLayout, domain: tuple[float, float], what: str) -> None:
    """Refuse a float-input domain beyond the internal position range (|x| 2^x_frac_bits < 2^52)."""
    lo, hi = domain
    F = layout.x_frac_bits
    top = float(np.ldexp(float(MAX_POSITION), -F))
    if max(abs(lo), abs(hi)) >= top:
        raise ParamsError(f"{what} [{lo:g}, {hi:g}] reaches |x| >= 2^{52 - F} ({top:g}), beyond "
                          f"the internal position range of a {layout.in_fmt} input at x_frac_bits "
                          f"{F}; pass a narrower --domain")


def check_reach(layout: TableLayout, domain: tuple[float, float], what: str) -> None:
    """Refuse a derived domain wider than M-1 macro intervals reach (each < 2^dx_width units):
    codes past them would fall to a tail that is not exact there."""
    lo, hi = domain
    span = float(np.ldexp(float(1 << layout.dx_width), -layout.x_frac_bits))
    if hi - lo > (layout.M - 1) * span:
        raise ParamsError(f"{what} [{lo:g}, {hi:g}] is wider than M-1 = {layout.M - 1} macro "
                          f"intervals of less than {span:g} each can cover (dx_width "
                          f"{layout.dx_width}); raise -M or pass a narrower --domain")
