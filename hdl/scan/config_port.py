"""ConfigPort: the scan unit's parameter and state memories and the configuration port that loads,
reads back, saves and restores them through one address map (``ScanParams.config_regions``)."""
from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from nlihw.hdl.common.fixed_point import shape_of
from nlihw.hdl.common.data_register import data_register
from nlihw.hdl.common.mux_table import select
from nlihw.luts.layout import clog2
from .datapath import ScanDatapath, cfg_layout
from .params import ScanParams
from .timing import latency, needs_forwarding


def read_bus(depth: int, shape) -> wiring.Signature:
    """A synchronous (block-RAM) memory read, from the reader's side: ``data`` (in) is the word at
    the ``addr`` (out) given in the last cycle with ``en`` (out) high, and holds while ``en`` is low.
    ``reissue`` (in, registered): ``data`` was lost (reset, a configuration command); the reader
    reads its current word again (a cycle in which no item is taken)."""
    return wiring.Signature({"addr": Out(range(depth)), "en": Out(1), "data": In(shape),
                             "reissue": In(1)})


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
      flight, ``front_idle``); a read answers on ``rdata`` (out) three cycles after acceptance (the
      memories' synchronous read, their words registered, then the word selected and registered).
    - ``waiting`` (out): a command is waiting; the front stops at its next channel boundary.
    - ``busy`` (out): the memories' addresses are the command's (registered ``cfg.valid`` while
      idle), and one cycle more (also after reset) while the datapath's reads are reissued; the
      front issues nothing.
    - ``start`` / ``done`` (in): a channel entered the unit / left it (counts what is in flight).

    Datapath ports (``read_bus``: synchronous reads, one cycle; the command's addresses while
    ``busy``): ``a_rd`` (one word per exp lane), ``bias_rd``, ``d_rd``; ``state`` (``state_bus``:
    per lane; the read forwards a write to the same word in the same cycle only where that can
    happen, ``needs_forwarding``; elsewhere no read meets its word's write, and the memories say
    so to yosys with ``no_rw_check``, which then puts no collision logic behind the block RAM).
    Every memory has one synchronous read port and one write port, so A, D and delta_bias map to
    block RAM.
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
        """(A, D, bias, state) memories' (write, read) ports, the A and state ones per lane."""
        p = self.params
        dp = ScanDatapath(p)
        forward = needs_forwarding(p)
        mems = {"a": [memory.Memory(shape=shape_of(p.a_fmt), depth=dp.a_words, init=[])
                      for _ in range(p.exp_lanes)],
                "d": [memory.Memory(shape=shape_of(p.d_fmt), depth=max(2, p.d_inner), init=[])],
                "bias": [memory.Memory(shape=shape_of(p.delta_fmt), depth=max(2, p.bias_count), init=[])],
                "state": [memory.Memory(shape=shape_of(p.state_fmt), depth=dp.state_words, init=[],
                                        attrs={} if forward else {"no_rw_check": 1})
                          for _ in range(p.lanes)]}
        ports = {}
        for name, lst in mems.items():
            wr, rd = [], []
            for k, mem in enumerate(lst):
                m.submodules[f"{name}_mem{k}" if name in ("a", "state") else f"{name}_mem"] = mem
                wr.append(mem.write_port())
                rd.append(mem.read_port(transparent_for=(wr[-1],) if name == "state" and forward else ()))
            ports[name] = (wr, rd)
        return ports["a"], ports["d"], ports["bias"], ports["state"]

    def _control(self, m: Module):
        """cfg_mode (the memories are the command's), accept, rd_pending; drives the handshakes."""
        inflight = Signal(range(4 * latency(self.params) + 8))
        idle = Signal()
        m.d.comb += [idle.eq((inflight == 0) & self.front_idle), self.waiting.eq(self.cfg.valid)]
        m.d.sync += inflight.eq(inflight + self.start - self.done)
        # a command waited while the unit was idle last cycle: the memories' addresses are the
        # command's (registered: it drives every memory's address multiplexer); no item issues,
        # nor in the cycle after, while the front's bias read is reissued
        cfg_mode, after = Signal(), Signal(init=1)
        m.d.sync += [cfg_mode.eq(self.cfg.valid & idle), after.eq(cfg_mode)]
        m.d.comb += self.busy.eq(cfg_mode | after)
        rd_pending = Signal()
        # cfg_mode implies the unit is still idle: the command was waiting when it was idle last
        # cycle, so the front (held at the channel boundary) issued nothing, and issues nothing
        # in cfg_mode; ready thus needs no path from the datapath's counters
        rd_words = Signal()             # the read words registered, to be selected
        m.d.comb += self.cfg.ready.eq(cfg_mode & ~rd_pending & ~rd_words & ~self.rdata.valid)
        accept = Signal()
        m.d.comb += accept.eq(self.cfg.valid & self.cfg.ready)
        return cfg_mode, accept, rd_pending, rd_words

    def elaborate(self, platform):
        m = Module()
        p = self.params
        P = p.lanes
        lane_bits = clog2(P)
        (a_wr, a_rd), (d_wr, d_rd), (b_wr, b_rd), (s_wr, s_rd) = self._memories(m)
        cfg_mode, accept, rd_pending, rd_words = self._control(m)
        rd_sel = Signal(range(5))
        rd_lane = Signal(max(1, lane_bits))
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
            m.d.comb += [w.data.eq(cdata), w.en.eq(wr_en & hit["A"] & (a_lane_of == k))]
        m.d.comb += [d_wr[0].data.eq(cdata), d_wr[0].en.eq(wr_en & hit["D"]),
                     b_wr[0].data.eq(cdata), b_wr[0].en.eq(wr_en & hit["bias"])]

        # the datapath's reads, the command's addresses (every port enabled) in cfg_mode. A, D and
        # bias are written in cfg_mode only, so their write port takes the read port's address:
        # one read-write port of the block RAM, whose read-before-write needs no fabric logic (a
        # separate write port would have yosys emulate the collision with a mux behind the RAM)
        def share(r, w, cfg_addr, bus, data):
            m.d.comb += [r.addr.eq(Mux(cfg_mode, cfg_addr, bus.addr)), r.en.eq(cfg_mode | bus.en),
                         w.addr.eq(r.addr), data.eq(r.data), bus.reissue.eq(self.busy)]
        for k, (r, w) in enumerate(zip(a_rd, a_wr)):
            share(r, w, a_word_of, self.a_rd, self.a_rd.data[k])
        share(b_rd[0], b_wr[0], idx["bias"], self.bias_rd, self.bias_rd.data)
        share(d_rd[0], d_wr[0], idx["D"], self.d_rd, self.d_rd.data)
        st = self.state
        for k, (r, w) in enumerate(zip(s_rd, s_wr)):
            m.d.comb += [r.addr.eq(Mux(cfg_mode, s_word_of, st.addr)), r.en.eq(st.en | cfg_mode),
                         st.data[k].eq(r.data),
                         w.en.eq(Mux(cfg_mode, wr_en & hit["state"] & (s_lane_of == k), st.wr_en)),
                         w.addr.eq(Mux(cfg_mode, s_word_of, st.wr_addr)),
                         w.data.eq(Mux(cfg_mode, cdata, st.wr_data[k]))]

        # read back: every memory is read at acceptance; its words registered a cycle later (no
        # logic behind a block RAM's clock-to-output), the word selected the cycle after
        with m.If(accept & ~self.cfg.payload.write):
            m.d.sync += [rd_pending.eq(1), rd_lane.eq(Mux(hit["A"], a_lane_of, s_lane_of)),
                         rd_sel.eq(Mux(hit["A"], 0, Mux(hit["D"], 1, Mux(hit["bias"], 2, Mux(hit["state"], 3, 4)))))]
        a_w, s_w = ([Signal.like(r.data, name=f"rb_{n}{k}", reset_less=True) for k, r in enumerate(rds)]
                    for n, rds in (("a", a_rd), ("s", s_rd)))
        d_w = Signal.like(d_rd[0].data, name="rb_d", reset_less=True)
        b_w = Signal.like(b_rd[0].data, name="rb_b", reset_less=True)
        rdata = data_register(m, self.rdata.payload)
        with m.If(rd_pending):
            m.d.sync += [rd_pending.eq(0), rd_words.eq(1), d_w.eq(d_rd[0].data), b_w.eq(b_rd[0].data)]
            m.d.sync += [w.eq(r.data) for w, r in zip(a_w + s_w, a_rd + s_rd)]
        with m.If(rd_words):
            # one mux tree over the lanes (an If per lane made a 16-deep priority chain across the die)
            lane_word = {0: Signal(p.a_fmt.width), 3: Signal(p.state_fmt.width)}
            for sel, words in ((0, a_w), (3, s_w)):
                m.d.comb += lane_word[sel].eq(select(list(words), rd_lane))
            word = Signal(p.config_data_bits)
            with m.Switch(rd_sel):
                for sel, v in ((0, lane_word[0]), (1, d_w.as_unsigned()),
                               (2, b_w.as_unsigned()), (3, lane_word[3])):
                    with m.Case(sel):
                        m.d.comb += word.eq(v)
                with m.Default():                     # outside every region: reads as 0
                    m.d.comb += word.eq(0)
            m.d.sync += [rd_words.eq(0), self.rdata.valid.eq(1), rdata.eq(word)]
        with m.Elif(self.rdata.ready):
            m.d.sync += self.rdata.valid.eq(0)
        return m
