"""Uniform-PWL addressing (baseline): the segment is the input's top bits, I = ((x - c0) >> p) + 1,
dx = the low p bits; two comparators handle the clamps. No cutpoint comparators, no multiplier."""
from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from nlihw.hdl.common.mux_table import select
from nlihw.hdl.common.fixed_point import shape_of
from nlihw.hdl.common.data_register import data_register


def segment_log2(table) -> int:
    return (table.cutpoints[1] - table.cutpoints[0]).bit_length() - 1


class UniformSearch(wiring.Component):
    """The macro interval of ``x`` for tables of equal 2^p-code intervals: the top bits are the index.

    Same members and one register stage as ``ComparatorTree``: ``en``: In(1), advance. ``x``: In,
    the input code; ``func``: In, the function. ``index``: Out, the interval (0..M); ``dx``: Out, the
    offset in it; ``func_out``: Out, ``func`` registered beside them.
    """

    def __init__(self, params):
        self.params = params
        lay = params.layout
        super().__init__({
            "en": In(1), "x": In(shape_of(lay.in_fmt)), "func": In(params.func_bits),
            "index": Out(lay.index_bits), "dx": Out(lay.dx_bits), "func_out": Out(params.func_bits),
        })

    def elaborate(self, platform):
        m = Module()
        p, lay = self.params, self.params.layout
        fin, W = lay.in_fmt, lay.in_fmt.width
        c0 = select([t.cutpoints[0] for t in p.tables], self.func) if p.n_funcs > 1 else p.tables[0].cutpoints[0]
        seg = select([segment_log2(t) for t in p.tables], self.func) if p.n_funcs > 1 else segment_log2(p.tables[0])
        off = Signal(W + 1)
        m.d.comb += off.eq(self.x - c0)
        low = self.x < c0
        tops = [t.cutpoints[-1] for t in p.tables]
        if all(c > fin.max_raw for c in tops):
            high = 0                                    # the last segment ends past the format
        else:
            top = select([min(c, fin.max_raw) for c in tops], self.func) if p.n_funcs > 1 else tops[0]
            past = [c > fin.max_raw for c in tops]
            beyond = select(past, self.func) if p.n_funcs > 1 else past[0]
            high = ~beyond & (self.x >= top)
        index = Mux(low, 0, Mux(high, lay.M, (off >> seg) + 1))
        mask = (1 << W) - 1
        index_r, dx_r, func_r = (data_register(m, s) for s in (self.index, self.dx, self.func_out))
        with m.If(self.en):
            m.d.sync += [index_r.eq(index), dx_r.eq(Mux(low | high, 0, off & ~(mask << seg) & mask)),
                         func_r.eq(self.func)]
        return m
