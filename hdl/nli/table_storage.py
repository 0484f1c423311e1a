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
    """One copy of the table (two banks) read through ``ports`` read ports, one per lane it serves:
    ``en``, ``addr``, ``y0``, ``y1`` are arrays of ``ports``. Two ports per bank are a true
    dual-port block RAM (ECP5 DP16KD, Xilinx RAMB18), so two lanes share one copy.

    Members per port: ``en``: In(1), advance the reads. ``addr``: In(clog2(total_values)), the
    address of y0. ``y0``, ``y1``: Out(value_bits), the values at addr and addr + 1, one read
    later (two with ``table_out``). storage="ram" adds one write port: ``we``: In(1), ``waddr``:
    In(address bits), ``wdata``: In(value_bits).
    """

    def __init__(self, params, ports: int = 1):
        self.params = params
        self.ports = ports
        self._addr_bits = max(1, clog2(params.total_values))
        w = params.layout.value_bits
        members = {
            "en": In(1).array(ports),
            "addr": In(self._addr_bits).array(ports),
            "y0": Out(w).array(ports),
            "y1": Out(w).array(ports),
        }
        if params.storage == "ram":
            members.update({"we": In(1), "waddr": In(self._addr_bits), "wdata": In(w)})
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        even, odd = bank_images(self.params)
        w = self.params.layout.value_bits
        m.submodules.even = ev = memory.Memory(shape=w, depth=len(even), init=even)
        m.submodules.odd = od = memory.Memory(shape=w, depth=len(odd), init=odd)
        for k in range(self.ports):
            self._read(m, k, ev.read_port(), od.read_port())
        if self.params.storage == "ram":
            ev_wr, od_wr = ev.write_port(), od.write_port()
            m.d.comb += [
                ev_wr.addr.eq(self.waddr >> 1), ev_wr.data.eq(self.wdata),
                ev_wr.en.eq(self.we & ~self.waddr[0]),
                od_wr.addr.eq(self.waddr >> 1), od_wr.data.eq(self.wdata),
                od_wr.en.eq(self.we & self.waddr[0]),
            ]
        return m

    def _read(self, m, k, ev_rd, od_rd):
        """Port ``k``: y0 = v[addr], y1 = v[addr + 1] from one read of each bank."""
        w = self.params.layout.value_bits
        en, addr = self.en[k], self.addr[k]
        m.d.comb += [
            ev_rd.addr.eq((addr + 1) >> 1), od_rd.addr.eq(addr >> 1),
            ev_rd.en.eq(en), od_rd.en.eq(en),
        ]
        odd_first = Signal(name=f"odd_first{k}", reset_less=True)
        with m.If(en):
            m.d.sync += odd_first.eq(addr[0])
        ev_data, od_data = ev_rd.data, od_rd.data
        if "table_out" in self.params.pipeline:
            # reset-less like the memories' own output registers (DP16KD OUTREG, RAMB18 DOB_REG),
            # so that a flow can move them there; the data are don't-care until valid arrives
            ev_data = Signal(w, name=f"even_data_r{k}", reset_less=True)
            od_data = Signal(w, name=f"odd_data_r{k}", reset_less=True)
            odd_r = Signal(name=f"odd_first_r{k}", reset_less=True)
            with m.If(en):
                m.d.sync += [ev_data.eq(ev_rd.data), od_data.eq(od_rd.data), odd_r.eq(odd_first)]
            odd_first = odd_r
        m.d.comb += [
            self.y0[k].eq(Mux(odd_first, od_data, ev_data)),
            self.y1[k].eq(Mux(odd_first, ev_data, od_data)),
        ]
