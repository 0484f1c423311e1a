"""Tail outputs for one lane: y = saturate(round(x 2^e) + b) (identity, linear) or y = b (clamp,
zero), for the left and the right tail of the selected function (luts/tails.py).

Combinational; the engine feeds it ``x`` delayed to line up with the interpolation's class, so the
tail values enter the multiply-add's output mux as the clamps did. The modes and slopes are fixed
when the engine is generated; the constants ``b`` may be run-time registers (storage="ram").
"""
from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from nlihw.hdl.common.fixed_point import round_shift, saturate, shape_of
from .comparator_tree import _select


class TailUnit(wiring.Component):
    def __init__(self, params, b_lo, b_hi):
        self.params = params
        self._b = (b_lo, b_hi)                      # [func] Values of the output width (bits)
        lay = params.layout
        super().__init__({
            "x": In(shape_of(lay.in_fmt)),
            "func": In(params.func_bits),
            "lo": Out(lay.out_fmt.width),
            "hi": Out(lay.out_fmt.width),
        })

    def elaborate(self, platform):
        m = Module()
        p, lay = self.params, self.params.layout
        fout = lay.out_fmt
        shifted = {}                                # one shifter per distinct exponent

        def output(tail, b_bits):
            if not tail.gain:
                return b_bits
            e = tail.exponent(lay)
            if e not in shifted:
                s = Signal(round_shift(self.x, -e, lay.rounding).shape(), name=f"x_shift{e:+d}")
                m.d.comb += s.eq(round_shift(self.x, -e, lay.rounding))
                shifted[e] = s
            b = b_bits.as_signed() if fout.signed else b_bits
            y, _ = saturate(shifted[e] + b, fout)
            return y

        for side, port, tails in (("lo", self.lo, [t.tail_lo for t in p.tables]),
                                  ("hi", self.hi, [t.tail_hi for t in p.tables])):
            outs = []
            for f, tail in enumerate(tails):
                y = Signal(fout.width, name=f"tail_{side}_f{f}")
                m.d.comb += y.eq(output(tail, self._b[side == "hi"][f]))
                outs.append(y)
            m.d.comb += port.eq(_select(outs, self.func))
        return m
