"""Fixed-point arithmetic in Amaranth, the RTL twin of ``nlihw.formats.shift_round`` / ``Q.saturate``.

``round_shift(v, s, rounding)`` divides a (signed) value by 2**s with one rounding; ``saturate``
clamps it into a format and says whether it had to. Widths follow from the operands, so callers
never state one.
"""
from __future__ import annotations

from amaranth.hdl import Cat, Const, Mux, Value, signed, unsigned

from nlihw.formats import Q, Rounding, parse_rounding


def as_signed(v: Value) -> Value:
    """``v`` as a signed value of the same numeric value (one bit wider if it was unsigned)."""
    v = Value.cast(v)
    if v.shape().signed:
        return v
    return Cat(v, Const(0, 1)).as_signed()


def round_shift(v: Value, s: int, rounding: "Rounding | str") -> Value:
    """v / 2**s with one rounding (s <= 0 is an exact left shift); signed result.

    Nearest-even adds the half and clears the result's last bit on an exact tie (no dropped bit
    left): the carry chain starts at the register and the tie test reads the chain's low bits,
    which settle first. The other roundings take the round-up bit from reductions of the dropped
    bits (no comparator), so the only carry chain is the final increment."""
    v = as_signed(v)
    if s <= 0:
        return v << -s
    rounding = parse_rounding(rounding)
    n = len(v)
    if rounding is Rounding.NEAREST_EVEN and s < n:
        t = (Cat(v, v[-1]).as_signed() + (1 << (s - 1)))[:n + 1]     # v + half: fits in n + 1 bits
        tie = ~t[:s].any()
        return Cat(t[s] & ~tie, t[s + 1:]).as_signed()
    fl = v >> s                          # arithmetic shift: floor
    if rounding is Rounding.FLOOR:
        return fl
    rem = v[:s]
    neg = v[-1]
    if rounding is Rounding.TOWARD_ZERO:
        up = neg & rem.any()
    else:
        below = rem[:s - 1].any() if s > 1 else Const(0, 1)      # any dropped bit under the half
        above_half, at_half = rem[s - 1] & below, rem[s - 1] & ~below
        tie_up = ~neg if rounding is Rounding.NEAREST_AWAY else fl[0]
        up = above_half | (at_half & tie_up)
    return fl + up


def saturate(v: Value, fmt: Q) -> tuple[Value, Value]:
    """(v clamped into ``fmt`` as a value of its shape, 1 if it was outside).

    Out of range is read off the bits above the format (all equal to the sign when v fits), a
    reduction rather than two comparators with carry chains."""
    v = as_signed(v)
    shape = shape_of(fmt)
    width, w = len(v), fmt.width
    neg = v[-1]
    if fmt.signed:
        if width <= w:
            return v, Const(0, 1)
        top = v[w - 1:]
        hi, lo = ~neg & top.any(), neg & ~top.all()
        low = v[:w].as_signed()
    else:
        hi = ~neg & v[w:width - 1].any() if width - 1 > w else Const(0, 1)
        lo = neg
        low = v[:w]
    out = Mux(hi, Const(fmt.max_raw, shape), Mux(lo, Const(fmt.min_raw, shape), low))
    return out, hi | lo


def shape_of(fmt):
    """Shape of a raw code on a wire: the fixed-point value, or a float's unsigned bit pattern."""
    if fmt.is_float:
        return unsigned(fmt.width)
    return signed(fmt.width) if fmt.signed else unsigned(fmt.width)
