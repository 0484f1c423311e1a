"""Full-LUT addressing (baseline): address = clip(x - c0) + func * n_values, registered, with t = 0.
The clamps need no mux: the end entries hold the clamp values (checked by NLIEngineParams)."""
from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from nlihw.luts.layout import clog2
from nlihw.hdl.common.mux_table import select
from nlihw.hdl.common.data_register import data_register
from nlihw.hdl.common.fixed_point import shape_of


class DirectAddress(wiring.Component):
    """The full-LUT table address of ``x``, registered (advances on ``en``).

    Parameters: ``params`` (``NLIEngineParams`` of arch ``direct``).

    Members: ``en``: In(1), advance the register. ``x``: In(in_fmt shape), the input code.
    ``func``: In(func_bits), the function. ``addr``: Out(clog2(total_values)), the address into
    the table memories: clip(x - c0, 0, n_values - 1) + func * n_values.
    """

    def __init__(self, params):
        self.params = params
        lay = params.layout
        super().__init__({
            "en": In(1), "x": In(shape_of(lay.in_fmt)), "func": In(params.func_bits),
            "addr": Out(max(1, clog2(params.total_values))),
        })

    def elaborate(self, platform):
        m = Module()
        p, lay = self.params, self.params.layout
        W = lay.in_fmt.width
        c0 = select([t.cutpoints[0] for t in p.tables], self.func) if p.n_funcs > 1 else p.tables[0].cutpoints[0]
        off = Signal(range(-(1 << W), 1 << W))
        m.d.comb += off.eq(self.x - c0)
        n = lay.n_values
        local = Mux(off < 0, 0, Mux(off >= n - 1, n - 1, off))
        base = self.func * n if p.n_funcs > 1 else 0
        addr = Signal.like(self.addr)
        m.d.comb += addr.eq(base + local[:len(self.addr)])
        addr_r = data_register(m, self.addr)
        with m.If(self.en):
            m.d.sync += addr_r.eq(addr)
        return m
