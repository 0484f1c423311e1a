"""ConfigPort: the scan unit's parameter and state memories and the configuration port that loads,
reads back, saves and restores them through one address map (``ScanParams.config_regions``)."""
from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from nlihw.hdl.common.fixed_point import shape_of
from nlihw.luts.layout import clog2
from .datapath import ScanDatapath, cfg_layout
from .params import ScanParams
from .timing import latency


def read_bus(depth: int, shape) -> wiring.Signature:
    """An asynchronous memory read, from the reader's side: ``addr`` out, ``data`` in."""
    return wiring.Signature({"addr": Out(range(depth)), "data": In(shape)})


def state_bus(p: ScanParams) -> wiring.Signature:
    """The state memories, from the datapath's side: a synchronous read of one word per lane
    (``addr``, ``en`` -> ``data`` a cycle later) and a write (``wr_en``, ``wr_addr``, ``wr_data``)."""
    words, lanes = ScanDatapath(p).state_words, data.ArrayLayout(shape_of(p.state_fmt), p.lanes)
    return wiring.Signature({"addr": Out(range(words)), "en": Out(1), "data": In(lanes),
                             "wr_en": Out(1), "wr_addr": Out(range(words)), "wr_data": Out(lanes)})


class ConfigPort(wiring.Component):
    """The A, D, delta_bias and state memories, shared by the datapath and configuration commands.

    Commands:

    - ``cfg`` (in) ``{addr, data, write}``; accepted only while the unit is drained (no channel in
      flight, ``front_idle``); a read answers on ``rdata`` (out), state words one cycle later.
    - ``waiting`` (out): a command is waiting; the front stops at its next channel boundary.
    - ``busy`` (out): the memories' addresses are the command's (registered ``cfg.valid`` while
      idle); the front issues nothing.
    - ``start`` / ``done`` (in): a channel entered the unit / left it (counts what is in flight).

    Datapath ports (``read_bus``: asynchronous reads; the command's addresses while ``busy``):
    ``a_rd`` (one word per exp lane), ``bias_rd``, ``d_rd``; ``state`` (``state_bus``: per lane,
    the read forwards a write to the same word).
    """

    def __init__(self, params: ScanParams):
        self.params = p = params
        dp = ScanDatapath(p)
        super().__init__({
            "cfg": In(stream.Signature(cfg_layout(p))),
            "rdata": Out(stream.Signature(p.config_data_bits)),
            "waiting": Out(1), "busy": Out(1),
            "start": In(1), "done": In(1), "front_idle": In(1),
            "a_rd": In(read_bus(dp.a_words, data.ArrayLayout(shape_of(p.a_fmt), p.exp_lanes))),
            "bias_rd": In(read_bus(max(2, p.bias_count), shape_of(p.delta_fmt))),
            "d_rd": In(read_bus(max(2, p.d_inner), shape_of(p.d_fmt))),
            "state": In(state_bus(p)),
        })

    def _memories(self, m: Module):
        """(A, D, bias, state) memories' (write, read) ports."""
        p = self.params
        a_mem = [memory.Memory(shape=shape_of(p.a_fmt), depth=ScanDatapath(p).a_words, init=[])
                 for _ in range(p.exp_lanes)]
        d_mem = memory.Memory(shape=shape_of(p.d_fmt), depth=max(2, p.d_inner), init=[])
        b_mem = memory.Memory(shape=shape_of(p.delta_fmt), depth=max(2, p.bias_count), init=[])
        s_mem = [memory.Memory(shape=shape_of(p.state_fmt), depth=ScanDatapath(p).state_words, init=[])
                 for _ in range(p.lanes)]
        for k, mem in enumerate(a_mem):
            m.submodules[f"a_mem{k}"] = mem
        for k, mem in enumerate(s_mem):
            m.submodules[f"state_mem{k}"] = mem
        m.submodules.d_mem, m.submodules.bias_mem = d_mem, b_mem
        a = ([mem.write_port() for mem in a_mem], [mem.read_port(domain="comb") for mem in a_mem])
        s_wr = [mem.write_port() for mem in s_mem]
        s = (s_wr, [mem.read_port(transparent_for=(w,)) for mem, w in zip(s_mem, s_wr)])
        return (a, (d_mem.write_port(), d_mem.read_port(domain="comb")),
                (b_mem.write_port(), b_mem.read_port(domain="comb")), s)

    def elaborate(self, platform):
        m = Module()
        p = self.params
        P = p.lanes
        lane_bits = clog2(P)
        (a_wr, a_rd), (d_wr, d_rd), (b_wr, b_rd), (s_wr, s_rd) = self._memories(m)

        inflight = Signal(range(4 * latency(p) + 8))
        idle = Signal()
        m.d.comb += [idle.eq((inflight == 0) & self.front_idle), self.waiting.eq(self.cfg.valid)]
        m.d.sync += inflight.eq(inflight + self.start - self.done)
        # a command waited while the unit was idle last cycle: the memories' addresses are the
        # command's (registered: it drives every memory's address multiplexer); no item issues
        cfg_mode = self.busy
        m.d.sync += cfg_mode.eq(self.cfg.valid & idle)
        rd_pending = Signal()
        rd_sel = Signal(range(5))
        rd_lane = Signal(max(1, lane_bits))
        rd_comb = Signal(p.config_data_bits)
        m.d.comb += self.cfg.ready.eq(cfg_mode & idle & ~rd_pending & ~self.rdata.valid)
        accept = Signal()
        m.d.comb += accept.eq(self.cfg.valid & self.cfg.ready)
        caddr, cdata = self.cfg.payload.addr, self.cfg.payload.data
        hit, idx = {}, {}
        for name, (base, n, _) in p.config_regions().items():
            hit[name] = Signal(name=f"cfg_{name}")
            idx[name] = Signal(range(max(2, n)), name=f"cfg_{name}_idx")
            above = (caddr >= base) if base else Const(1)
            m.d.comb += [hit[name].eq(above & (caddr < base + n)), idx[name].eq(caddr - base)]
        # A and state index d*N + n: lane = n mod P (low bits), word = d*steps + n div P
        a_lane_of = idx["A"][:lane_bits] if (p.mode == "mamba1" and lane_bits) else Const(0, 1)
        a_word_of = idx["A"] >> lane_bits if p.mode == "mamba1" else idx["A"]
        s_lane_of = idx["state"][:lane_bits] if lane_bits else Const(0, 1)
        s_word_of = idx["state"] >> lane_bits
        wr_en = accept & self.cfg.payload.write
        for k, w in enumerate(a_wr):
            m.d.comb += [w.addr.eq(a_word_of), w.data.eq(cdata), w.en.eq(wr_en & hit["A"] & (a_lane_of == k))]
        m.d.comb += [d_wr.addr.eq(idx["D"]), d_wr.data.eq(cdata), d_wr.en.eq(wr_en & hit["D"]),
                     b_wr.addr.eq(idx["bias"]), b_wr.data.eq(cdata), b_wr.en.eq(wr_en & hit["bias"])]

        # the datapath's ports, the command's addresses in cfg_mode
        for k, r in enumerate(a_rd):
            m.d.comb += [r.addr.eq(Mux(cfg_mode, a_word_of, self.a_rd.addr)), self.a_rd.data[k].eq(r.data)]
        m.d.comb += [b_rd.addr.eq(Mux(cfg_mode, idx["bias"], self.bias_rd.addr)),
                     self.bias_rd.data.eq(b_rd.data),
                     d_rd.addr.eq(Mux(cfg_mode, idx["D"], self.d_rd.addr)), self.d_rd.data.eq(d_rd.data)]
        st = self.state
        for k, (r, w) in enumerate(zip(s_rd, s_wr)):
            m.d.comb += [r.addr.eq(Mux(cfg_mode, s_word_of, st.addr)), r.en.eq(st.en | cfg_mode),
                         st.data[k].eq(r.data),
                         w.en.eq(Mux(cfg_mode, wr_en & hit["state"] & (s_lane_of == k), st.wr_en)),
                         w.addr.eq(Mux(cfg_mode, s_word_of, st.wr_addr)),
                         w.data.eq(Mux(cfg_mode, cdata, st.wr_data[k]))]

        # read back: comb memories are sampled at acceptance; the state one cycle later
        a_sel = Signal(shape_of(p.a_fmt))
        m.d.comb += a_sel.eq(a_rd[0].data)
        for k in range(1, p.exp_lanes):
            with m.If(a_lane_of == k):
                m.d.comb += a_sel.eq(a_rd[k].data)
        with m.If(accept & ~self.cfg.payload.write):
            m.d.sync += [rd_pending.eq(1), rd_lane.eq(s_lane_of),
                         rd_sel.eq(Mux(hit["A"], 0, Mux(hit["D"], 1, Mux(hit["bias"], 2, Mux(hit["state"], 3, 4))))),
                         rd_comb.eq(Mux(hit["A"], a_sel.as_unsigned(),
                                        Mux(hit["D"], d_rd.data.as_unsigned(),
                                            Mux(hit["bias"], b_rd.data.as_unsigned(), 0))))]
        with m.If(rd_pending):
            state_word = Signal(p.state_fmt.width)
            m.d.comb += state_word.eq(s_rd[0].data)
            for k in range(1, P):
                with m.If(rd_lane == k):
                    m.d.comb += state_word.eq(s_rd[k].data)
            m.d.sync += [rd_pending.eq(0), self.rdata.valid.eq(1),
                         self.rdata.payload.eq(Mux(rd_sel == 3, state_word, rd_comb))]
        with m.Elif(self.rdata.ready):
            m.d.sync += self.rdata.valid.eq(0)
        return m
