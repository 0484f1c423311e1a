"""Float code -> fixed-point integer round(x 2^F): the internal position of a float input
(floor, modulo 2^W; ``layout.position``) and the identity tail into a fixed-point output (nearest
even, saturating; ``luts.tails.convert``). Combinational.

x = (-1)^s sig 2^(max(e,1) - bias - man); sig 2^s with s = max(e,1) - bias - man + F is formed
by one left shift into a window of the kept integer bits and R = man + 2 fraction bits: a value
below the window's fraction (s < -R) is < 1/2, and bits above the window are either dropped
(modulo 2^W) or flag an overflow (saturation).
"""
from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from nlihw.formats import FP, Q, Rounding


def float_fields(code, fmt: FP):
    """(sign, significand with the hidden bit, exponent field) of a float code Value."""
    man, eb = fmt.man_bits, fmt.exp_bits
    e = code[man:man + eb]
    sig = Cat(code[:man], e != 0)
    return code[fmt.width - 1], sig, e


def is_nan(code, fmt: FP):
    """NaN test of a float code Value (FP.is_nan)."""
    mag = code[:fmt.width - 1]
    if fmt.finite_only:
        return mag == fmt._mag_mask
    return mag > fmt._inf_mag


def is_inf(code, fmt: FP):
    if fmt.finite_only:
        return Const(0, 1)
    return code[:fmt.width - 1] == fmt._inf_mag


class FloatToFixed(wiring.Component):
    """``y`` = round(x 2^frac_bits) of the float code ``x``.

    ``rounding``: floor or nearest-even. ``out``: an int (wrap: the result modulo 2^out, unsigned
    bits) or a :class:`Q` (saturate into it: +-Inf and overflows to its ends; NaN gives 0).
    """

    def __init__(self, fmt: FP, frac_bits: int, out, rounding: "Rounding | str" = Rounding.FLOOR):
        self.fmt, self.frac_bits, self.out_spec = fmt, frac_bits, out
        self.rounding = Rounding(rounding)
        if self.rounding not in (Rounding.FLOOR, Rounding.NEAREST_EVEN):
            raise ValueError(f"FloatToFixed rounds floor or nearest-even, not {self.rounding.value}")
        self.wrap = isinstance(out, int)
        if self.wrap:
            shape = unsigned(out)
        else:
            shape = signed(out.width) if out.signed else unsigned(out.width)
        super().__init__({"x": In(fmt.width), "y": Out(shape)})

    def elaborate(self, platform):
        m = Module()
        fmt, F = self.fmt, self.frac_bits
        man = fmt.man_bits
        R = man + 2                                   # fraction bits kept below the binary point
        # integer bits kept: W (wrap), or the output's magnitude with room for the whole
        # significand above it (saturate: bits shifted past the window would be lost)
        Wk = self.out_spec if self.wrap else self.out_spec.width + man + 2
        sign, sig, e = float_fields(self.x, fmt)
        ef = Mux(e == 0, 1, e)
        off = F - fmt.bias - man + R                  # shift of sig into the window
        amount = Signal(range(min(0, 1 + off), max(1, (1 << fmt.exp_bits) + off)), name="amount")
        m.d.comb += amount.eq(ef + off)
        under = Signal()                              # |x| 2^F < 1/2 (below the window)
        big = Signal()                                # |x| 2^F >= 2^Wk (above the window)
        # wrap: s >= W leaves nothing modulo 2^W; saturate: s > out width is beyond every output
        top = Wk + R if self.wrap else Wk + R - (man + 1)
        # (each test only where the format's exponents can reach it: no constant comparisons)
        if 1 + off < 0:
            m.d.comb += under.eq(amount < 0)
        if (1 << fmt.exp_bits) - 1 + off >= top:
            m.d.comb += big.eq((amount >= top) & (sig != 0))
        sh = Signal(range(Wk + R), name="shift")
        m.d.comb += sh.eq(Mux(under | big, 0, amount))
        window = Signal(Wk + R)
        m.d.comb += window.eq(Mux(under | big, 0, sig << sh))
        P, frac = window[R:], window[:R]
        frac_nz = Mux(under, sig != 0, frac != 0)
        if self.rounding is Rounding.FLOOR:
            mag = Signal(Wk + 1)
            m.d.comb += mag.eq(P + (sign & frac_nz))   # floor of a negative: -(P + any fraction)
        else:
            half = 1 << (R - 1)
            mag = Signal(Wk + 1)
            m.d.comb += mag.eq(P + ((frac > half) | ((frac == half) & P[0])))
        if self.wrap:
            m.d.comb += self.y.eq(Mux(sign, -mag, mag))
            return m
        q: Q = self.out_spec
        hi, lo = q.max_raw, -q.min_raw                # largest magnitudes of each sign
        over_pos = big | is_inf(self.x, fmt) | (mag > hi)
        over_neg = big | is_inf(self.x, fmt) | (mag > lo)
        shape = self.y.shape()
        y = Mux(sign, Mux(over_neg, Const(q.min_raw, shape), (-mag)[:q.width]),
                Mux(over_pos, Const(q.max_raw, shape), mag[:q.width]))
        m.d.comb += self.y.eq(Mux(is_nan(self.x, fmt), 0, y))
        return m
