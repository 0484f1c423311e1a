"""Table values in two memory banks (even / odd addresses) so y0 = v[a] and y1 = v[a+1] are read in
one cycle through one synchronous read port per bank (maps to FPGA block RAM); ``ram`` adds a write port.
Pipeline point ``table_out`` (``NLIEngineParams.pipeline``): the read data registered straight at
the memories' outputs (the block RAM output register), before the even/odd swap.
"""
from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from nlihw.luts.layout import clog2


def value_bits(params, v: int) -> int:
    """Bit pattern of a stored value: an output code, or a ``value_bits`` two's complement
    block mantissa (float output)."""
    lay = params.layout
    if lay.out_float:
        return int(v) & ((1 << lay.value_bits) - 1)
    return int(lay.out_fmt.to_bits(v))


def bank_images(params) -> tuple[list[int], list[int]]:
    """Bit patterns of the even and odd banks: every table's values concatenated by function."""
    flat = [value_bits(params, v) for t in params.tables for v in t.values]
    even, odd = flat[0::2], flat[1::2]
    # at least two words per bank: a one-word memory would have a zero-width address
    return even + [0] * (2 - len(even)), odd + [0] * (2 - len(odd))


class TableStorage(wiring.Component):
    def __init__(self, params):
        self.params = params
        self._addr_bits = max(1, clog2(params.total_values))
        w = params.layout.value_bits
        ports = {
            "en": In(1),
            "addr": In(self._addr_bits),
            "y0": Out(w),
            "y1": Out(w),
        }
        if params.storage == "ram":
            ports.update({"we": In(1), "waddr": In(self._addr_bits), "wdata": In(w)})
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        even, odd = bank_images(self.params)
        w = self.params.layout.value_bits
        m.submodules.even = ev = memory.Memory(shape=w, depth=len(even), init=even)
        m.submodules.odd = od = memory.Memory(shape=w, depth=len(odd), init=odd)
        ev_rd = ev.read_port()
        od_rd = od.read_port()
        m.d.comb += [
            ev_rd.addr.eq((self.addr + 1) >> 1), od_rd.addr.eq(self.addr >> 1),
            ev_rd.en.eq(self.en), od_rd.en.eq(self.en),
        ]
        odd_first = Signal()
        with m.If(self.en):
            m.d.sync += odd_first.eq(self.addr[0])
        ev_data, od_data = ev_rd.data, od_rd.data
        if "table_out" in self.params.pipeline:
            # reset-less like the memories' own output registers (DP16KD OUTREG, RAMB18 DOB_REG),
            # so that a flow can move them there; the data are don't-care until valid arrives
            ev_data = Signal(w, name="even_data_r", reset_less=True)
            od_data = Signal(w, name="odd_data_r", reset_less=True)
            odd_r = Signal(name="odd_first_r")
            with m.If(self.en):
                m.d.sync += [ev_data.eq(ev_rd.data), od_data.eq(od_rd.data), odd_r.eq(odd_first)]
            odd_first = odd_r
        m.d.comb += [
            self.y0.eq(Mux(odd_first, od_data, ev_data)),
            self.y1.eq(Mux(odd_first, ev_data, od_data)),
        ]
        if self.params.storage == "ram":
            ev_wr, od_wr = ev.write_port(), od.write_port()
            m.d.comb += [
                ev_wr.addr.eq(self.waddr >> 1), ev_wr.data.eq(self.wdata),
                ev_wr.en.eq(self.we & ~self.waddr[0]),
                od_wr.addr.eq(self.waddr >> 1), od_wr.data.eq(self.wdata),
                od_wr.en.eq(self.we & self.waddr[0]),
            ]
        return m
