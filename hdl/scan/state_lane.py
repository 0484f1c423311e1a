"""StateLane: one lane of the state recurrence h = sat(r(dA * h) + sat(r(dtu * B))) (steps 6, 7)."""
from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from nlihw.hdl.common.fixed_point import saturate, shape_of
from nlihw.hdl.common.product import (plus_ready, product_parts, product_terms, round_plus_rows,
                                      round_plus_select, round_terms)
from .datapath import ScanDatapath
from .params import ScanParams


class StateLane(wiring.Component):
    """The arithmetic of one state lane; valid bits and side bands are the caller's.

    - ``h`` (in, state_fmt): the state read; ``first`` (in): a sequence's first item, whose h is
      taken as 0 (by zeroing dA: the state read goes to the multiplier untouched), ``dA`` (in,
      dam_fmt),
      ``dBu`` (in): the exact product dtu * B as ``ProductTerms``' terms, added and rounded to
      state_fmt's fraction before ``state_in`` and saturated after it (beside the dA * h multiply).
    - ``h_new`` (out, state_fmt): sat(r(dA * h) + dBu); ``ovf`` (out): either saturation happened.
    - ``en`` (in): advance the optional registers ``state_in`` (the inputs), ``state_mult`` (the
      product, dBu) and ``state_add`` (the unsaturated sum); without them the lane is combinational.
    """

    def __init__(self, params: ScanParams):
        self.params = p = params
        state = shape_of(p.state_fmt)
        super().__init__({"en": In(1), "first": In(1), "h": In(state), "dA": In(shape_of(p.dam_fmt)),
                          "dBu": In(data.ArrayLayout(ScanDatapath(p).dbu_shape.width, ScanDatapath(p).dbu_terms)),
                          "h_new": Out(state), "ovf": Out(1)})

    def elaborate(self, platform):
        m = Module()
        p = self.params
        dp = ScanDatapath(p)
        pl = p.pipeline

        def stage(name, *values):
            regs = [Signal(v.shape(), name=f"{name}{k}", reset_less=True) for k, v in enumerate(values)]
            with m.If(self.en):
                m.d.sync += [r.eq(v) for r, v in zip(regs, values)]
            return regs

        # a sequence's first item: dA = 0 instead of h = 0 (the same dA * h), so that nothing
        # sits between the state memory's output and the multiplier's input register
        # dBu rounded before state_in and saturated after it: each carry chain in its own stage
        h, da = self.h, Mux(self.first, 0, self.dA)
        dbu = round_terms(m, [self.dBu[j] for j in range(dp.dbu_terms)], dp.dbu_shape.width, dp.dbu_shift,
                          p.rounding)
        if "state_in" in pl:
            h, da, dbu = stage("sin", h, da, dbu)
        dbu, dbu_ovf = saturate(dbu, p.state_fmt)
        # dA * h as its terms (the block's product, the fabric's rows): state_mult registers them,
        # the fabric's rows already compressed with dBu and the rounding's half; behind it the
        # sum T and T - 2**s in one carry chain each and a mux (``round_terms_plus``): no carry
        # chain before the register. The terms' modulus is widened to hold the whole sum.
        # Without state_mult, one sum and a plain add (fewer gates where the clock is not the aim).
        s = dp.dah_shift
        width = max(dp.dah_shape.width, s + p.state_fmt.width + 2)
        if "state_mult" in pl and plus_ready(width, s, p.rounding, p.state_fmt.width):
            rows, blocks = product_parts(m, da, h, p.multipliers, width)
            if rows:
                rows = round_plus_rows(m, rows, width, s, dbu)
                *regs, lsb, dbu_ovf = stage("smul", *rows, *blocks, dbu[0], dbu_ovf)
            else:                  # nothing to compress before the register: dBu registered
                *regs, dbu, dbu_ovf = stage("smul", *blocks, dbu, dbu_ovf)
                regs, lsb = [*regs, *round_plus_rows(m, [], width, s, dbu)], dbu[0]
            total = round_plus_select(m, regs, width, s, lsb)
        else:
            terms = product_terms(m, da, h, p.multipliers, width)
            if "state_mult" in pl:
                *terms, dbu, dbu_ovf = stage("smul", *terms, dbu, dbu_ovf)
            total = round_terms(m, terms, width, s, p.rounding) + dbu
        if "state_add" in pl:
            total, dbu_ovf = stage("sadd", total, dbu_ovf)
        h_new, ovf = saturate(total, p.state_fmt)
        m.d.comb += [self.h_new.eq(h_new), self.ovf.eq(ovf | dbu_ovf)]
        return m
