"""StateUpdate: the state memories' read-modify-write around P state lanes (steps 6 and 7)."""
from __future__ import annotations

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from nlihw.hdl.common.fixed_point import round_shift, saturate, shape_of
from nlihw.hdl.common.data_register import data_register
from .config_port import state_bus
from nlihw.hdl.common.product import product_terms_of
from .datapath import FLAG_BITS, LANE_GROUP, ScanDatapath
from .params import ScanParams
from .state_lane import StateLane
from .timing import STATE_LOOP, hazard_free, loop_depth


class StateUpdate(wiring.Component):
    """Reads each item's P state words, updates them in P ``StateLane``s and writes them back.

    - ``i`` (in): the exp output ``{y: dA per exp lane, side: exp_side}``.
    - ``state`` (``state_bus``): the read is issued for the item on ``i``; the update is written
      ``loop_depth`` advances later.
    - With ``queued_bc``: ``b_token`` (in): the item's token's B (``TokenQueue.head``); ``b_pop``
      (out): the token's last item is taken. Otherwise B and C come with the item.
    - ``o`` (out): ``lanes_layout``: the step's new states and the item; flag also when dBu or h
      saturated.

    Every register advances with ``o.ready`` (the section stalls as one). The first register
    holds dA rounded to dam_fmt and dBu = dtu * B as its product terms (each lane adds and rounds
    them in one carry chain, and saturates after its ``state_in`` register, beside the dA * h
    multiply); ``state_in`` / ``state_mult`` / ``state_add`` lengthen the
    loop. When a word is read again before its update is written (not ``hazard_free``), ``i``
    waits (a bubble).
    """

    def __init__(self, params: ScanParams):
        self.params = p = params
        dp = ScanDatapath(p)
        super().__init__({
            "i": In(stream.Signature(dp.engine_out("exp", dp.exp_side))),
            "o": Out(stream.Signature(dp.lanes_layout)),
            "state": Out(state_bus(p)),
            **({"b_token": In(data.ArrayLayout(shape_of(p.b_fmt), p.d_state)), "b_pop": Out(1)}
               if dp.queued_bc else {}),
        })

    def elaborate(self, platform):
        m = Module()
        p = self.params
        dp = ScanDatapath(p)
        P = p.lanes
        adv_s = self.o.ready
        s2 = self.i.payload.side
        if dp.queued_bc:               # P = N: the token's B is the step's
            m.d.comb += self.b_pop.eq(self.i.valid & self.i.ready & (s2.d == p.d_inner - 1))
        hazard = Signal()
        item_valid, dA, s2, B, dtu = self._input(m, hazard)
        s_addr_in = s2.d * p.steps + s2.k
        m.d.comb += [self.state.addr.eq(s_addr_in), self.state.en.eq(adv_s)]
        side_layout = {"addr": range(dp.state_words), "k": dp.k_bits, "first": 1, "last": 1,
                       "d": dp.d_bits, "u": shape_of(p.u_fmt), "z": shape_of(p.z_fmt), "flag": FLAG_BITS}
        if not dp.queued_bc:
            side_layout["C"] = data.ArrayLayout(shape_of(p.c_fmt), P)
        dbu_terms = [product_terms_of(m, f"dBu{k}", dtu[k], B[k], p.multipliers) for k in range(P)]
        v1 = Signal()
        r1 = Signal(data.StructLayout({
            **side_layout, "dA": data.ArrayLayout(shape_of(p.dam_fmt), p.exp_lanes),
            "dBu": data.ArrayLayout(data.ArrayLayout(dp.dbu_shape.width, dp.dbu_terms), P)}), reset_less=True)
        with m.If(adv_s):
            m.d.sync += v1.eq(item_valid & ~hazard)
            m.d.sync += [r1.addr.eq(s_addr_in), r1.k.eq(s2.k), r1.first.eq(s2.first), r1.last.eq(s2.last),
                         r1.d.eq(s2.d), r1.u.eq(s2.u), r1.z.eq(s2.z), r1.flag.eq(s2.flag)]
            if not dp.queued_bc:
                m.d.sync += r1.C.eq(s2.C)
            m.d.sync += [r1.dA[k].eq(self._dam(dA[k], dp)) for k in range(p.exp_lanes)]
            m.d.sync += [r1.dBu[k][j].eq(t) for k, terms in enumerate(dbu_terms) for j, t in enumerate(terms)]

        loop, v1, r1, h = self._read(m, v1, r1)    # (valid, state word) of each loop stage so far
        flag, lanes = r1.flag, []
        for k in range(P):
            m.submodules[f"lane{k}"] = lane = StateLane(p)
            lanes.append(lane)
            m.d.comb += [lane.first.eq(r1.first), lane.en.eq(adv_s), lane.h.eq(h[k]),
                         lane.dA.eq(r1.dA[k if p.exp_lanes > 1 else 0]), lane.dBu.eq(r1.dBu[k])]
        # the valid bit and the side band beside the lanes' optional registers
        cur_v, side = v1, {f: getattr(r1, f) for f in side_layout}
        side["flag"] = flag
        for name in (n for n in STATE_LOOP[1:] if n in p.pipeline):
            cur_v, side = self._stage(m, name, cur_v, side)
            loop.append((cur_v, side["addr"]))
        assert len(loop) == loop_depth(p)
        flag1 = side["flag"]
        for lane in lanes:
            flag1 = flag1 | lane.ovf
        m.d.comb += [self.state.wr_en.eq(cur_v & adv_s), self.state.wr_addr.eq(side["addr"])]
        m.d.comb += [self.state.wr_data[k].eq(lane.h_new) for k, lane in enumerate(lanes)]
        if not hazard_free(p):
            # a word still being updated in a stage before the last (the last one writes in this
            # cycle, which the read port forwards) is not read again until it is written
            m.d.comb += hazard.eq(item_valid & Cat(*[v & (a == s_addr_in) for v, a in loop[:-1]]).any())
        r2 = data_register(m, self.o.payload)
        with m.If(adv_s):
            m.d.sync += self.o.valid.eq(cur_v)
            m.d.sync += [r2.k.eq(side["k"]), r2.last.eq(side["last"]), r2.d.eq(side["d"]), r2.u.eq(side["u"]),
                         r2.z.eq(side["z"]), r2.flag.eq(flag1)]
            if not dp.queued_bc:
                m.d.sync += r2.C.eq(side["C"])
            m.d.sync += [r2.h[k].eq(lane.h_new) for k, lane in enumerate(lanes)]
        return m

    def _input(self, m, hazard):
        """The item the state read is issued for: (valid, dA, side, B, dtu per lane), straight
        from ``i``, or with ``state_copy`` registered once more with dtu once per group of
        LANE_GROUP lanes (one register read by every lane's dtu * B would fan out across the die;
        the copies are marked keep so that synthesis does not merge them back into one)."""
        p, dp = self.params, ScanDatapath(self.params)
        P, adv_s = p.lanes, self.o.ready
        item_valid, dA, s2 = self.i.valid, self.i.payload.y, self.i.payload.side
        B = self.b_token if dp.queued_bc else s2.B
        if "state_copy" not in p.pipeline:
            m.d.comb += self.i.ready.eq(adv_s & ~hazard)
            return item_valid, dA, s2, B, [s2.dtu] * P
        regs = [(Signal(name="copy_valid"), item_valid),
                (Signal(dA.shape(), name="copy_dA", reset_less=True), dA),
                (Signal(s2.shape(), name="copy_side", reset_less=True), s2)]
        if dp.queued_bc:
            regs.append((Signal(B.shape(), name="copy_B", reset_less=True), B))
        copies = [Signal(s2.dtu.shape(), name=f"copy_dtu{g}", attrs={"keep": 1}, reset_less=True)
                  for g in range(-(-P // LANE_GROUP))]
        adv_in = Signal()
        m.d.comb += [adv_in.eq(adv_s & ~hazard), self.i.ready.eq(adv_in)]
        with m.If(adv_in):
            m.d.sync += [r.eq(v) for r, v in regs] + [c.eq(s2.dtu) for c in copies]
        (item_valid, _), (dA, _), (s2, _), *rest = regs
        B = rest[0][0] if dp.queued_bc else s2.B
        return item_valid, dA, s2, B, [copies[k // LANE_GROUP] for k in range(P)]

    def _read(self, m, v1, r1):
        """The state read and the item beside it, with ``state_read`` registered once more (reset-less,
        so that an ECP5 flow moves the words into the block RAM's output register): the loop's
        (valid, state word) stages so far, the item's valid and fields, the state words."""
        words = [self.state.data[k] for k in range(self.params.lanes)]
        if "state_read" not in self.params.pipeline:
            return [(v1, r1.addr)], v1, r1, words
        v, r = Signal(name="sread_valid"), Signal.like(r1, name="sread", reset_less=True)
        h = [Signal.like(w, name=f"sread_h{k}", reset_less=True) for k, w in enumerate(words)]
        with m.If(self.o.ready):
            m.d.sync += [v.eq(v1), r.eq(r1), *(x.eq(w) for x, w in zip(h, words))]
        return [(v1, r1.addr), (v, r.addr)], v, r, h

    def _dam(self, da, dp):
        """The exp table's dA rounded to the multiplier's dam_fmt (cannot saturate: dA <= 1)."""
        if not dp.da_shift:
            return da
        return saturate(round_shift(da, dp.da_shift, self.params.rounding), self.params.dam_fmt)[0]

    def _stage(self, m, name, valid, side):
        """Register the valid bit and the side fields with the lanes' ``name`` register."""
        tag = {"state_in": "sin", "state_mult": "smul", "state_add": "sadd"}[name]
        v = Signal(name=f"{tag}_valid")
        regs = {f: Signal(x.shape(), name=f"{tag}_{f}", reset_less=True) for f, x in side.items()}
        with m.If(self.o.ready):
            m.d.sync += v.eq(valid)
            m.d.sync += [regs[f].eq(x) for f, x in side.items()]
        return v, regs
