"""FloatSum: (-1)^sa ma 2^ea + (-1)^sb mb 2^eb as (-1)^sign mag 2^exp for one rounding by
``FloatRound`` (the float linear tail y = round(2^S x + b)).

The operand with the larger exponent (a zero operand never counts as larger) is placed X bits up
in a frame whose LSB has weight 2^(e_hi - X), X = N + man_bits + 3 (N the wider significand); the
other is shifted in by the exponent difference d. For d <= X the sum is exact. For d > X the
smaller operand is below 2^(e_hi - man_bits - 3) and is jammed: truncated to the frame, its LSB
ORed with the bits shifted out. The larger operand's frame value is even (X >= 1), so the sum is
odd and strictly within one frame LSB of the exact sum, and every rounding boundary of the result
(its leading one is at least e_hi - 1, so its half quantum is at least 4 frame LSBs) is an even
frame value: both round alike. An exact zero is -0 only for -0 + -0.
"""
from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out


def _exp_shape(lo: int, hi: int):
    return signed(max(abs(lo), abs(hi)).bit_length() + 1)


class FloatSum(wiring.Component):
    """Combinational. ``a_exp`` in ``a_range``, ``b_exp`` in ``b_range`` (inclusive); ``exp``
    spans ``exp_range`` and ``mag`` has ``mag_bits`` bits: the arguments of a ``FloatRound``."""

    def __init__(self, a_bits: int, a_range: tuple[int, int], b_bits: int,
                 b_range: tuple[int, int], man_bits: int):
        self.N = max(a_bits, b_bits)
        self.X = self.N + man_bits + 3
        self.a_range, self.b_range = a_range, b_range
        lo, hi = min(a_range[0], b_range[0]), max(a_range[1], b_range[1])
        self.exp_range = (lo - self.X, hi - self.X)
        self.mag_bits = self.N + self.X + 1
        super().__init__({
            "a_sign": In(1), "a_mag": In(a_bits), "a_exp": In(_exp_shape(*a_range)),
            "b_sign": In(1), "b_mag": In(b_bits), "b_exp": In(_exp_shape(*b_range)),
            "sign": Out(1), "mag": Out(self.mag_bits), "exp": Out(_exp_shape(*self.exp_range)),
        })

    def elaborate(self, platform):
        m = Module()
        N, X = self.N, self.X
        W = N + X                                       # frame width of one operand
        b_hi = Signal()
        m.d.comb += b_hi.eq((self.a_mag == 0) | ((self.b_mag != 0) & (self.b_exp > self.a_exp)))
        s_hi, s_lo = Mux(b_hi, self.b_sign, self.a_sign), Mux(b_hi, self.a_sign, self.b_sign)
        m_hi = Signal(N, name="mag_hi")
        m_lo = Signal(N, name="mag_lo")
        e_hi = Signal(_exp_shape(min(self.a_range[0], self.b_range[0]),
                                 max(self.a_range[1], self.b_range[1])), name="exp_hi")
        m.d.comb += [m_hi.eq(Mux(b_hi, self.b_mag, self.a_mag)),
                     m_lo.eq(Mux(b_hi, self.a_mag, self.b_mag)),
                     e_hi.eq(Mux(b_hi, self.b_exp, self.a_exp))]
        # d = e_hi - e_lo, clamped to 0..W (a zero m_lo makes d irrelevant; W shifts everything out)
        lo, hi = min(self.a_range[0], self.b_range[0]), max(self.a_range[1], self.b_range[1])
        d_full = Signal(_exp_shape(lo - hi, hi - lo), name="exp_diff")
        m.d.comb += d_full.eq(Mux(b_hi, self.b_exp - self.a_exp, self.a_exp - self.b_exp))
        d = Signal(range(W + 1), name="shift")
        m.d.comb += d.eq(Mux(d_full < 0, 0, Mux(d_full > W, W, d_full)))
        big = Signal(W, name="frame_hi")
        wide = Signal(W, name="frame_lo_unshifted")
        m.d.comb += [big.eq(m_hi << X), wide.eq(m_lo << X)]
        kept = Signal(W, name="frame_lo")
        lost = Signal(name="sticky")
        m.d.comb += [kept.eq(wide >> d),
                     lost.eq((wide & ((Const(1, W + 1) << d) - 1)[:W]) != 0)]
        small = Signal(W, name="frame_lo_jammed")
        m.d.comb += small.eq(kept | lost)
        total = Signal(signed(W + 2), name="frame_sum")
        m.d.comb += total.eq(Mux(s_hi == s_lo, big + small, big - small))
        neg = total[-1]
        m.d.comb += [
            self.mag.eq(Mux(neg, -total, total)),
            # the sign of hi, flipped when lo outweighs it (exact then: no bits were lost)
            self.sign.eq(Mux(total == 0, self.a_sign & self.b_sign, s_hi ^ neg)),
            self.exp.eq(e_hi - X),
        ]
        return m
