"""Interpolation y = y0 + t (y1 - y0) in fixed point: exact product, one rounding, saturation, then
the clamp mux. Four register stages: the table outputs (the block RAM output register), the product
t (y1 - y0), the exact sum (y0 << T) + product, and the rounded, saturated, clamped result.
"""
from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from nlihw.formats import Rounding
from .micro_bin import CLS_HIGH, CLS_LOW


class FixedMAC(wiring.Component):
    def __init__(self, params):
        self.params = params
        w = params.out_width
        super().__init__({
            "en": In(1),
            "y0": In(w), "y1": In(w), "t": In(params.layout.t_bits), "cls": In(2),
            "clamp_lo": In(w), "clamp_hi": In(w),
            "y": Out(w),
        })

    def elaborate(self, platform):
        m = Module()
        lay = self.params.layout
        fmt, T, w = lay.out_fmt, lay.t_bits, lay.out_fmt.width
        shape = signed(w) if fmt.signed else unsigned(w)
        # stage 0: table outputs and their side band
        y0, y1 = Signal(shape), Signal(shape)
        t0, cls0, lo0, hi0 = Signal(T), Signal(2), Signal(w), Signal(w)
        with m.If(self.en):
            m.d.sync += [y0.eq(self.y0), y1.eq(self.y1), t0.eq(self.t), cls0.eq(self.cls),
                         lo0.eq(self.clamp_lo), hi0.eq(self.clamp_hi)]

        # stage 1: product t * (y1 - y0), exact
        y0_r = Signal(shape)
        prod = Signal(signed(lay.diff_bits + T))
        cls1, lo1, hi1 = Signal(2), Signal(w), Signal(w)
        with m.If(self.en):
            m.d.sync += [y0_r.eq(y0), prod.eq(t0 * (y1 - y0)), cls1.eq(cls0), lo1.eq(lo0), hi1.eq(hi0)]

        # stage 2: the exact sum
        acc = Signal(signed(lay.acc_bits))
        cls_r, lo_r, hi_r = Signal(2), Signal(w), Signal(w)
        with m.If(self.en):
            m.d.sync += [acc.eq((y0_r << T) + prod), cls_r.eq(cls1), lo_r.eq(lo1), hi_r.eq(hi1)]

        # stage 3: one rounding; saturate; clamp mux
        fl = Signal(signed(lay.acc_bits - T + 1))
        m.d.comb += fl.eq(acc >> T)
        rem = acc[:T]
        half = Const(1 << (T - 1), T)
        r = lay.rounding
        if r is Rounding.FLOOR:
            up = Const(0)
        elif r is Rounding.TOWARD_ZERO:
            up = acc[-1] & (rem != 0)
        elif r is Rounding.NEAREST_AWAY:
            up = (rem > half) | ((rem == half) & ~acc[-1])
        else:
            up = (rem > half) | ((rem == half) & fl[0])
        rounded = Signal(signed(lay.acc_bits - T + 2))
        m.d.comb += rounded.eq(fl + up)
        sat = Signal(w)
        m.d.comb += sat.eq(Mux(rounded > fmt.max_raw, Const(fmt.max_raw, shape),
                               Mux(rounded < fmt.min_raw, Const(fmt.min_raw, shape), rounded)))
        with m.If(self.en):
            m.d.sync += self.y.eq(Mux(cls_r == CLS_LOW, lo_r, Mux(cls_r == CLS_HIGH, hi_r, sat)))
        return m
