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
    """v / 2**s with one rounding (s <= 0 is an exact left shift); signed result."""
    v = as_signed(v)
    if s <= 0:
        return v << -s
    rounding = parse_rounding(rounding)
    fl = v >> s                          # arithmetic shift: floor
    rem = v[:s]
    half = Const(1 << (s - 1), unsigned(s))
    neg = v[-1]
    if rounding is Rounding.FLOOR:
        return fl
    if rounding is Rounding.TOWARD_ZERO:
        up = neg & (rem != 0)
    elif rounding is Rounding.NEAREST_AWAY:
        up = (rem > half) | ((rem == half) & ~neg)
    else:
        up = (rem > half) | ((rem == half) & fl[0])
    return fl + up


def saturate(v: Value, fmt: Q) -> tuple[Value, Value]:
    """(v clamped into ``fmt`` as a value of its shape, 1 if it was outside)."""
    shape = signed(fmt.width) if fmt.signed else unsigned(fmt.width)
    hi, lo = v > fmt.max_raw, v < fmt.min_raw
    low = v[:fmt.width].as_signed() if fmt.signed else v[:fmt.width]
    out = Mux(hi, Const(fmt.max_raw, shape), Mux(lo, Const(fmt.min_raw, shape), low))
    return out, hi | lo


def shape_of(fmt: Q):
    return signed(fmt.width) if fmt.signed else unsigned(fmt.width)
