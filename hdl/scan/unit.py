"""SelectiveScan: the fused Mamba selective-scan datapath of ``sim/scan/golden.py`` as a streaming
component, built on three NLI engines (softplus, exp, SiLU).

Streams (``lib.stream``, full back-pressure):

- ``bc`` (in): per token ``{B: N x b, C: N x c}``; held until the token's last channel is issued.
- ``i`` (in): per (token, channel), token-major ``{u, delta, z, first}``; ``first`` starts a new
  sequence for the channel (its state reads as zero). Mamba-2 reads delta on each head's first
  channel only.
- ``o`` (out): per (token, channel) ``{out, overflow}``; ``overflow`` is sticky since reset.
- ``cfg`` (in) ``{addr, data, write}`` and ``rdata`` (out) ``{data}``: A, D, delta_bias and the
  state (save / restore) through one address map (``ScanParams.config_regions``). A command waits
  until the pipeline has drained; the unit stops issuing at the next channel boundary meanwhile.

Pipeline: front (sum delta + bias, select the step's B and C) -> softplus engine -> dt*A and dt*u
-> exp engine (P lanes; one in Mamba-2) -> state update (read-modify-write of P state memories,
exact C . h per step, summed over the N/P steps) -> SiLU engine -> y, D*u, gate -> output.
P = N lanes take one (token, channel) per clock; P < N take N/P clocks.

Register points (``ScanParams.pipeline``, see ``PIPELINE`` in params.py) each add one cycle and
change no value. Three of them (state_*) lengthen the state loop, read to write-back, to
``loop_depth`` advances. Items issue in (token, channel, step) order, so a state word is read
again ``d_inner * N/P`` items later; when that is shorter than the loop, the item waits (a bubble)
until the word's update is written (``hazard_free``). II stays 1 otherwise, and every stage
advances with the back-pressure of its section as before.
"""
from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from nlihw.hdl.common.fixed_point import round_shift, saturate, shape_of
from nlihw.hdl.common.tagged_engine import TaggedEngine
from nlihw.hdl.nli.params import NLIEngineParams
from nlihw.luts.layout import clog2
from .params import ScanParams


def _bits(n: int) -> int:
    return max(1, clog2(n))


def input_layout(p: ScanParams) -> data.StructLayout:
    return data.StructLayout({"u": shape_of(p.u_fmt), "delta": shape_of(p.delta_fmt),
                              "z": shape_of(p.z_fmt), "first": 1})


def bc_layout(p: ScanParams) -> data.StructLayout:
    return data.StructLayout({"B": data.ArrayLayout(shape_of(p.b_fmt), p.d_state),
                              "C": data.ArrayLayout(shape_of(p.c_fmt), p.d_state)})


def output_layout(p: ScanParams) -> data.StructLayout:
    return data.StructLayout({"out": shape_of(p.out_fmt), "overflow": 1})


def cfg_layout(p: ScanParams) -> data.StructLayout:
    return data.StructLayout({"addr": p.config_addr_bits, "data": p.config_data_bits, "write": 1})


def engine_params(p: ScanParams, which: str) -> NLIEngineParams:
    lanes = p.exp_lanes if which == "exp" else 1
    return NLIEngineParams((getattr(p, which),), arch="parallel", lanes=lanes, storage="rom",
                           top_name=f"{p.top_name}_{which}", pipeline=p.engine_pipeline)


STATE_LOOP = ("state_in", "state_mult", "state_add")


def pipeline_depths(p: ScanParams) -> dict[str, int]:
    """Register stages of each part, input transfer to output transfer (the latency adds them)."""
    pl = p.pipeline
    d = {"front": 1 + pl.cycles_through("front_sum"), "softplus": engine_params(p, "softplus").latency,
         "dt_a": 1 + pl.cycles_through("dta_in", "dta_mult"),
         "exp": engine_params(p, "exp").latency,
         "state": 4 + pl.cycles_through(*STATE_LOOP, "dot_mult")}
    if p.gate:
        d["silu"] = engine_params(p, "silu").latency
    d["output"] = 3 + pl.cycles_through("du_in", "du_mult", "out_mult")
    return d


def latency(p: ScanParams) -> int:
    """Cycles from a (token, channel) input transfer (its last step) to its output transfer."""
    return sum(pipeline_depths(p).values())


def loop_depth(p: ScanParams) -> int:
    """Advances from a state read to the write of its update: 1 plus the enabled state_* points."""
    return 1 + p.pipeline.cycles_through(*STATE_LOOP)


def hazard_free(p: ScanParams) -> bool:
    """Whether every state read comes after the write it depends on without waiting.

    The unit issues (token, channel, step) in order, so a state word is read again
    ``d_inner * steps`` items after its last read; the update is written ``loop_depth`` advances
    after the read (a write in the same cycle as the read is forwarded by the memory). With
    ``d_inner * steps >= loop_depth`` the next read always sees the update. Otherwise the unit
    holds an item whose word is still being updated (one-cycle bubbles, fewer results per clock,
    same values).
    """
    return p.d_inner * p.steps >= loop_depth(p)


class SelectiveScan(wiring.Component):
    def __init__(self, params: ScanParams):
        self.params = params
        super().__init__({
            "i": In(stream.Signature(input_layout(params))),
            "bc": In(stream.Signature(bc_layout(params))),
            "o": Out(stream.Signature(output_layout(params))),
            "cfg": In(stream.Signature(cfg_layout(params))),
            "rdata": Out(stream.Signature(params.config_data_bits)),
        })

    def elaborate(self, platform):
        m = Module()
        p = self.params
        P, steps, Dn = p.lanes, p.steps, p.d_inner
        rnd = p.rounding
        pl = p.pipeline
        d_bits, k_bits, h_bits = _bits(Dn), _bits(steps), _bits(p.n_heads)
        lane_bits = clog2(P)
        a_lanes = P if p.mode == "mamba1" else 1

        # ---- memories: configuration (asynchronous reads) and state (synchronous read) --------
        # depth >= 2: a one-entry memory would have a zero-width address port
        a_depth = max(2, Dn * steps if p.mode == "mamba1" else p.n_heads)
        a_mem = [memory.Memory(shape=shape_of(p.a_fmt), depth=a_depth, init=[]) for _ in range(a_lanes)]
        d_mem = memory.Memory(shape=shape_of(p.d_fmt), depth=max(2, Dn), init=[])
        b_mem = memory.Memory(shape=shape_of(p.delta_fmt), depth=max(2, p.bias_count), init=[])
        s_mem = [memory.Memory(shape=shape_of(p.state_fmt), depth=max(2, Dn * steps), init=[])
                 for _ in range(P)]
        for k, mem in enumerate(a_mem):
            m.submodules[f"a_mem{k}"] = mem
        for k, mem in enumerate(s_mem):
            m.submodules[f"state_mem{k}"] = mem
        m.submodules.d_mem, m.submodules.bias_mem = d_mem, b_mem
        a_wr = [mem.write_port() for mem in a_mem]
        a_rd = [mem.read_port(domain="comb") for mem in a_mem]
        d_wr, d_rd = d_mem.write_port(), d_mem.read_port(domain="comb")
        b_wr, b_rd = b_mem.write_port(), b_mem.read_port(domain="comb")
        s_wr = [mem.write_port() for mem in s_mem]
        s_rd = [mem.read_port(transparent_for=(w,)) for mem, w in zip(s_mem, s_wr)]

        # ---- configuration port -------------------------------------------------------------
        inflight = Signal(range(4 * latency(p) + 8))
        k_ctr = Signal(k_bits)
        idle = Signal()
        m.d.comb += idle.eq((inflight == 0) & (k_ctr == 0))
        # a command waited while the unit was idle last cycle: the memories' addresses are the
        # command's (registered: it drives every memory's address multiplexer); no item issues
        cfg_mode = Signal()
        m.d.sync += cfg_mode.eq(self.cfg.valid & idle)
        rd_pending = Signal()
        rd_sel = Signal(range(5))
        rd_lane = Signal(max(1, lane_bits))
        rd_comb = Signal(p.config_data_bits)
        m.d.comb += self.cfg.ready.eq(cfg_mode & idle & ~rd_pending & ~self.rdata.valid)
        accept = Signal()
        m.d.comb += accept.eq(self.cfg.valid & self.cfg.ready)
        caddr, cdata = self.cfg.payload.addr, self.cfg.payload.data
        regions = p.config_regions()
        hit, idx = {}, {}
        for name, (base, n, _) in regions.items():
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
        # read back: comb memories are sampled at acceptance; the state one cycle later
        a_sel = Signal(shape_of(p.a_fmt))
        m.d.comb += a_sel.eq(a_rd[0].data)
        for k in range(1, a_lanes):
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

        # ---- front: issue (token, channel, step) ------------------------------------------------
        sb1 = data.StructLayout({
            "d": d_bits, "k": k_bits, "head": h_bits, "first": 1, "last": 1,
            "u": shape_of(p.u_fmt), "z": shape_of(p.z_fmt),
            "B": data.ArrayLayout(shape_of(p.b_fmt), P), "C": data.ArrayLayout(shape_of(p.c_fmt), P),
            "flag": 1})
        m.submodules.softplus = sp = TaggedEngine(engine_params(p, "softplus"), sb1)
        d_ctr, head, c_ctr = Signal(d_bits), Signal(h_bits), Signal(range(p.headdim + 1))
        delta_head = Signal(shape_of(p.delta_fmt))
        f_valid = Signal()
        f_x = Signal(shape_of(p.delta_fmt))
        f_side = Signal(sb1)
        m.d.comb += [sp.i.valid.eq(f_valid), sp.i.payload.x[0].eq(f_x), sp.i.payload.side.eq(f_side)]
        adv_f = Signal()
        can_issue = Signal()
        m.d.comb += can_issue.eq(self.i.valid & self.bc.valid & ~(self.cfg.valid & (k_ctr == 0)) & ~cfg_mode)
        go = Signal()
        m.d.comb += go.eq(can_issue & adv_f)
        last_k = k_ctr == steps - 1
        last_d = d_ctr == Dn - 1
        m.d.comb += [self.i.ready.eq(go & last_k), self.bc.ready.eq(go & last_k & last_d)]
        beat = self.i.payload
        if p.mode == "mamba2":
            delta = Mux(c_ctr == 0, beat.delta, delta_head)
            with m.If(go & (c_ctr == 0)):
                m.d.sync += delta_head.eq(beat.delta)
            bias_addr = head
        else:
            delta = beat.delta
            bias_addr = d_ctr
        m.d.comb += b_rd.addr.eq(Mux(cfg_mode, idx["bias"], bias_addr))
        if "front_sum" in pl:
            # the optional front_sum stage: delta and the bias read registered here, their
            # saturating sum registered in a second stage before the softplus engine
            g_valid, g_delta, g_bias = Signal(name="fs_valid"), Signal.like(delta, name="fs_delta"), \
                Signal.like(b_rd.data, name="fs_bias")
            g_side = Signal(sb1, name="fs_side")
            adv_g = Signal()
            m.d.comb += [adv_g.eq(~f_valid | sp.i.ready), adv_f.eq(~g_valid | adv_g)]
            x_sat, x_ovf = saturate(g_delta + g_bias, p.delta_fmt)
            with m.If(adv_g):
                m.d.sync += [f_valid.eq(g_valid), f_x.eq(x_sat), f_side.eq(g_side),
                             f_side.flag.eq(x_ovf)]
            f_valid_in, f_side_in = g_valid, g_side
            with m.If(adv_f):
                m.d.sync += [g_delta.eq(delta), g_bias.eq(b_rd.data)]
        else:
            m.d.comb += adv_f.eq(~f_valid | sp.i.ready)
            x_sat, x_ovf = saturate(delta + b_rd.data, p.delta_fmt)
            f_valid_in, f_side_in = f_valid, f_side
            with m.If(adv_f):
                m.d.sync += [f_x.eq(x_sat), f_side.flag.eq(x_ovf)]
        with m.If(adv_f):
            m.d.sync += f_valid_in.eq(can_issue)
            m.d.sync += [f_side_in.d.eq(d_ctr), f_side_in.k.eq(k_ctr), f_side_in.head.eq(head),
                         f_side_in.first.eq(beat.first), f_side_in.last.eq(last_k),
                         f_side_in.u.eq(beat.u), f_side_in.z.eq(beat.z)]
            bw, cw = p.b_fmt.width, p.c_fmt.width
            m.d.sync += [
                f_side_in.B.as_value().eq(self.bc.payload.B.as_value().word_select(k_ctr, P * bw)),
                f_side_in.C.as_value().eq(self.bc.payload.C.as_value().word_select(k_ctr, P * cw))]
        with m.If(go):
            m.d.sync += k_ctr.eq(Mux(last_k, 0, k_ctr + 1))
            with m.If(last_k):
                m.d.sync += d_ctr.eq(Mux(last_d, 0, d_ctr + 1))
                if p.mode == "mamba2":
                    last_c = c_ctr == p.headdim - 1
                    m.d.sync += [c_ctr.eq(Mux(last_c, 0, c_ctr + 1)),
                                 head.eq(Mux(last_c, Mux(last_d, 0, head + 1), head))]

        # ---- dt * A (exp input) and dt * u ------------------------------------------------------
        sb2 = data.StructLayout({
            "d": d_bits, "k": k_bits, "first": 1, "last": 1, "dtu": shape_of(p.dtu_fmt),
            "u": shape_of(p.u_fmt), "z": shape_of(p.z_fmt),
            "B": data.ArrayLayout(shape_of(p.b_fmt), P), "C": data.ArrayLayout(shape_of(p.c_fmt), P),
            "flag": 1})
        m.submodules.exp = ex = TaggedEngine(engine_params(p, "exp"), sb2)
        s1 = sp.o.payload.side
        dt = sp.o.payload.y[0]                                     # unsigned dt_fmt bits
        a_addr = s1.d * steps + s1.k if p.mode == "mamba1" else s1.head
        for r in a_rd:
            m.d.comb += r.addr.eq(Mux(cfg_mode, a_word_of, a_addr))
        e_valid = Signal()
        e_w = [Signal(shape_of(p.w_fmt), name=f"w{k}") for k in range(p.exp_lanes)]
        e_side = Signal(sb2)
        m.d.comb += [ex.i.valid.eq(e_valid), ex.i.payload.side.eq(e_side)]
        m.d.comb += [ex.i.payload.x[k].eq(e_w[k]) for k in range(p.exp_lanes)]
        adv_e = Signal()
        m.d.comb += [adv_e.eq(~e_valid | ex.i.ready), sp.o.ready.eq(adv_e)]
        wshift = p.dt_fmt.frac_bits + p.a_fmt.frac_bits - p.w_fmt.frac_bits
        # optional stages, all advancing with adv_e: dta_in registers dt, A and the side band
        # (cuts the A LUT-RAM read from the multiply), dta_mult the products (cuts the multiply
        # from the rounding and saturation)
        x_valid, x_dt, x_side = sp.o.valid, dt, s1
        x_a = [r.data for r in a_rd]
        if "dta_in" in pl:
            v, dt_r, side_r = Signal(name="dta_valid"), Signal(dt.shape(), name="dta_dt"), Signal(sb1, name="dta_side")
            a_r = [Signal(shape_of(p.a_fmt), name=f"dta_a{k}") for k in range(p.exp_lanes)]
            with m.If(adv_e):
                m.d.sync += [v.eq(x_valid), dt_r.eq(x_dt), side_r.eq(x_side)]
                m.d.sync += [a_r[k].eq(x_a[k]) for k in range(p.exp_lanes)]
            x_valid, x_dt, x_side, x_a = v, dt_r, side_r, a_r
        w_prods = []
        for k in range(p.exp_lanes):
            prod = Signal(signed(p.dt_fmt.width + p.a_fmt.width + 1), name=f"dtA{k}")
            m.d.comb += prod.eq(x_dt * x_a[k])
            w_prods.append(prod)
        dtu_prod = Signal(signed(p.dt_fmt.width + p.u_fmt.width + 1))
        m.d.comb += dtu_prod.eq(x_dt * x_side.u)
        if "dta_mult" in pl:
            v, side_r = Signal(name="dtm_valid"), Signal(sb1, name="dtm_side")
            w_r = [Signal(q.shape(), name=f"dtm_dtA{k}") for k, q in enumerate(w_prods)]
            dtu_r = Signal(dtu_prod.shape(), name="dtm_dtu")
            with m.If(adv_e):
                m.d.sync += [v.eq(x_valid), side_r.eq(x_side), dtu_r.eq(dtu_prod)]
                m.d.sync += [w_r[k].eq(w_prods[k]) for k in range(p.exp_lanes)]
            x_valid, x_side, w_prods, dtu_prod = v, side_r, w_r, dtu_r
        w_flags = []
        w_vals = []
        for prod in w_prods:
            rounded = round_shift(prod, wshift, rnd)
            w_sat, _ = saturate(rounded, p.w_fmt)
            w_vals.append(w_sat)
            w_flags.append(rounded > p.w_fmt.max_raw)
        dtu_sat, dtu_ovf = saturate(
            round_shift(dtu_prod, p.dt_fmt.frac_bits + p.u_fmt.frac_bits - p.dtu_fmt.frac_bits, rnd), p.dtu_fmt)
        flag2 = x_side.flag | dtu_ovf
        for f in w_flags:
            flag2 = flag2 | f
        with m.If(adv_e):
            m.d.sync += e_valid.eq(x_valid)
            m.d.sync += [e_w[k].eq(w_vals[k]) for k in range(p.exp_lanes)]
            m.d.sync += [e_side.d.eq(x_side.d), e_side.k.eq(x_side.k), e_side.first.eq(x_side.first),
                         e_side.last.eq(x_side.last), e_side.dtu.eq(dtu_sat), e_side.u.eq(x_side.u),
                         e_side.z.eq(x_side.z), e_side.B.eq(x_side.B), e_side.C.eq(x_side.C),
                         e_side.flag.eq(flag2)]

        # ---- state update: read-modify-write, C . h per step, sum over steps -------------------
        sb3 = data.StructLayout({"acc": signed(p.acc_width), "d": d_bits, "u": shape_of(p.u_fmt),
                                 "flag": 1})
        if p.gate:
            m.submodules.silu = sl = TaggedEngine(engine_params(p, "silu"), sb3)
            s_out_valid, s_out_ready = sl.i.valid, sl.i.ready
        else:
            s_out_valid, s_out_ready = Signal(), Signal()
        s4_valid = Signal()
        s4_side = Signal(sb3)
        s4_z = Signal(shape_of(p.z_fmt))
        if p.gate:
            m.d.comb += [sl.i.payload.x[0].eq(s4_z), sl.i.payload.side.eq(s4_side)]
        m.d.comb += s_out_valid.eq(s4_valid)
        adv_s = Signal()
        m.d.comb += adv_s.eq(~s4_valid | s_out_ready)
        s2 = ex.o.payload.side
        # input stage: the state read is issued for this step; dBu = dt*u*B per lane, registered
        # unrounded (rounded and saturated beside the state read, off the loop's path)
        s_addr_in = s2.d * steps + s2.k
        hazard = Signal()
        for r in s_rd:
            m.d.comb += [r.addr.eq(Mux(cfg_mode, s_word_of, s_addr_in)), r.en.eq(adv_s | cfg_mode)]
        m.d.comb += ex.o.ready.eq(adv_s & ~hazard)
        bshift = p.dtu_fmt.frac_bits + p.b_fmt.frac_bits - p.state_fmt.frac_bits
        side_layout = {"addr": range(max(2, Dn * steps)), "k": k_bits, "first": 1, "last": 1,
                       "d": d_bits, "u": shape_of(p.u_fmt), "z": shape_of(p.z_fmt), "flag": 1,
                       "C": data.ArrayLayout(shape_of(p.c_fmt), P)}
        dbu_shape = signed(p.dtu_fmt.width + p.b_fmt.width)
        v1 = Signal()
        r1 = Signal(data.StructLayout({
            **side_layout, "dA": data.ArrayLayout(shape_of(p.da_fmt), p.exp_lanes),
            "dBu": data.ArrayLayout(dbu_shape, P)}))
        with m.If(adv_s):
            m.d.sync += v1.eq(ex.o.valid & ~hazard)
            m.d.sync += [r1.addr.eq(s_addr_in), r1.k.eq(s2.k), r1.first.eq(s2.first), r1.last.eq(s2.last),
                         r1.d.eq(s2.d), r1.u.eq(s2.u), r1.z.eq(s2.z), r1.flag.eq(s2.flag), r1.C.eq(s2.C)]
            m.d.sync += [r1.dA[k].eq(ex.o.payload.y[k]) for k in range(p.exp_lanes)]
            m.d.sync += [r1.dBu[k].eq(s2.dtu * s2.B[k]) for k in range(P)]
        # the recurrence h = sat(r(dA * h) + dBu): read in stage 1, written back from the last
        # loop stage; state_in / state_mult / state_add each add a stage in between
        loop = [(v1, r1.addr)]                     # (valid, state word) of each loop stage
        cur_v = v1
        side = {f: getattr(r1, f) for f in side_layout}
        flag_dbu = 0
        dbu = []
        for k in range(P):
            v, o = saturate(round_shift(r1.dBu[k], bshift, rnd), p.state_fmt)
            dbu.append(v)
            flag_dbu = flag_dbu | o
        side["flag"] = r1.flag | flag_dbu
        h_old = []
        for k in range(P):
            h = Signal(shape_of(p.state_fmt), name=f"h_old{k}")
            m.d.comb += h.eq(Mux(r1.first, 0, s_rd[k].data))
            h_old.append(h)
        da = [r1.dA[k if p.exp_lanes > 1 else 0] for k in range(P)]

        def stage(tag, valid, side, lanes):
            """Register the valid bit, the side fields and per-lane values {name: [values]}."""
            v = Signal(name=f"{tag}_valid")
            rs = {f: Signal(x.shape(), name=f"{tag}_{f}") for f, x in side.items()}
            rl = {n: [Signal(x.shape(), name=f"{tag}_{n}{k}") for k, x in enumerate(xs)] for n, xs in lanes.items()}
            with m.If(adv_s):
                m.d.sync += v.eq(valid)
                m.d.sync += [rs[f].eq(x) for f, x in side.items()]
                m.d.sync += [r.eq(x) for n, xs in lanes.items() for r, x in zip(rl[n], xs)]
            return v, rs, rl

        if "state_in" in pl:
            cur_v, side, lanes = stage("sin", cur_v, side, {"h": h_old, "dA": da, "dBu": dbu})
            h_old, da, dbu = lanes["h"], lanes["dA"], lanes["dBu"]
            loop.append((cur_v, side["addr"]))
        prods = []
        for k in range(P):
            prod = Signal(signed(p.da_fmt.width + p.state_fmt.width + 1), name=f"dAh{k}")
            m.d.comb += prod.eq(da[k] * h_old[k])
            prods.append(prod)
        if "state_mult" in pl:
            cur_v, side, lanes = stage("smul", cur_v, side, {"prod": prods, "dBu": dbu})
            prods, dbu = lanes["prod"], lanes["dBu"]
            loop.append((cur_v, side["addr"]))
        sums = [round_shift(prods[k], p.da_fmt.frac_bits, rnd) + dbu[k] for k in range(P)]
        if "state_add" in pl:
            cur_v, side, lanes = stage("sadd", cur_v, side, {"sum": sums})
            sums = lanes["sum"]
            loop.append((cur_v, side["addr"]))
        assert len(loop) == loop_depth(p)
        flag1 = side["flag"]
        h_new = []
        for k in range(P):
            v, o = saturate(sums[k], p.state_fmt)
            hn = Signal(shape_of(p.state_fmt), name=f"h_new{k}")
            m.d.comb += hn.eq(v)
            h_new.append(hn)
            flag1 = flag1 | o
            m.d.comb += [s_wr[k].en.eq(Mux(cfg_mode, wr_en & hit["state"] & (s_lane_of == k), cur_v & adv_s)),
                         s_wr[k].addr.eq(Mux(cfg_mode, s_word_of, side["addr"])),
                         s_wr[k].data.eq(Mux(cfg_mode, cdata, hn))]
        if not hazard_free(p):
            # a word still being updated in a stage before the last (the last one writes in this
            # cycle, which the read port forwards) is not read again until it is written
            m.d.comb += hazard.eq(ex.o.valid & Cat(*[v & (a == s_addr_in) for v, a in loop[:-1]]).any())
        v2 = Signal()
        r2 = Signal(data.StructLayout({
            "k": k_bits, "last": 1, "d": d_bits, "u": shape_of(p.u_fmt), "z": shape_of(p.z_fmt),
            "flag": 1, "h": data.ArrayLayout(shape_of(p.state_fmt), P),
            "C": data.ArrayLayout(shape_of(p.c_fmt), P)}))
        with m.If(adv_s):
            m.d.sync += v2.eq(cur_v)
            m.d.sync += [r2.k.eq(side["k"]), r2.last.eq(side["last"]), r2.d.eq(side["d"]), r2.u.eq(side["u"]),
                         r2.z.eq(side["z"]), r2.flag.eq(flag1), r2.C.eq(side["C"])]
            m.d.sync += [r2.h[k].eq(h_new[k]) for k in range(P)]
        # stage 2: the exact partial dot product of this step (dot_mult: products registered first)
        v3 = Signal()
        r3 = Signal(data.StructLayout({"k": k_bits, "last": 1, "d": d_bits, "u": shape_of(p.u_fmt),
                                       "z": shape_of(p.z_fmt), "flag": 1,
                                       "part": signed(p.acc_width)}))
        ch = [r2.C[k] * r2.h[k] for k in range(P)]
        d_v, d_side = v2, {f: getattr(r2, f) for f in ("k", "last", "d", "u", "z", "flag")}
        if "dot_mult" in pl:
            d_v, d_side, lanes = stage("dot", v2, d_side, {"ch": ch})
            ch = lanes["ch"]
        part = 0
        for k in range(P):
            part = part + ch[k]
        with m.If(adv_s):
            m.d.sync += v3.eq(d_v)
            m.d.sync += [r3.k.eq(d_side["k"]), r3.last.eq(d_side["last"]), r3.d.eq(d_side["d"]),
                         r3.u.eq(d_side["u"]), r3.z.eq(d_side["z"]), r3.flag.eq(d_side["flag"]),
                         r3.part.eq(part)]
        # stage 3: sum over the steps of a channel; one item per channel leaves
        acc_reg, flag_reg = Signal(signed(p.acc_width)), Signal()
        acc = Signal(signed(p.acc_width))
        chflag = Signal()
        m.d.comb += [acc.eq(Mux(r3.k == 0, 0, acc_reg) + r3.part),
                     chflag.eq(Mux(r3.k == 0, 0, flag_reg) | r3.flag)]
        with m.If(adv_s):
            m.d.sync += s4_valid.eq(v3 & r3.last)
            m.d.sync += [s4_side.acc.eq(acc), s4_side.d.eq(r3.d), s4_side.u.eq(r3.u),
                         s4_side.flag.eq(chflag), s4_z.eq(r3.z)]
            with m.If(v3):
                m.d.sync += [acc_reg.eq(acc), flag_reg.eq(chflag)]

        # ---- output: y, y + D*u, gate ----------------------------------------------------------
        if p.gate:
            o_in_valid, o_in, g_in = sl.o.valid, sl.o.payload.side, sl.o.payload.y[0]
        else:
            o_in_valid, o_in, g_in = s4_valid, s4_side, Const(0, p.g_fmt.width)
        adv_o = Signal()
        m.d.comb += adv_o.eq(~self.o.valid | self.o.ready)
        if p.gate:
            m.d.comb += sl.o.ready.eq(adv_o)
        else:
            m.d.comb += s_out_ready.eq(adv_o)
        m.d.comb += d_rd.addr.eq(Mux(cfg_mode, idx["D"], o_in.d))
        g_shape = shape_of(p.g_fmt)
        ov1, ov2 = Signal(), Signal()
        y1, du1 = Signal(shape_of(p.y_fmt)), Signal(signed(p.d_fmt.width + p.u_fmt.width + 1))
        g1, g2 = Signal(g_shape), Signal(g_shape)
        f1, f2 = Signal(), Signal()
        yd2 = Signal(shape_of(p.y_fmt))
        # du_in registers D (a LUT-RAM read) and u before the D*u multiply, du_mult the product
        # before its rounding; both ahead of stage 1, advancing with adv_o. y = C . h is rounded
        # before them and saturated after (with neither, both happen in stage 1)
        y_rnd = round_shift(o_in.acc, p.acc_frac - p.y_fmt.frac_bits, rnd)
        x_valid, x_acc, x_flag, x_g, x_d, x_u = o_in_valid, y_rnd, o_in.flag, g_in, d_rd.data, o_in.u
        if "du_in" in pl:
            regs = [Signal(), Signal(x_acc.shape()), Signal(), Signal(g_shape), Signal(shape_of(p.d_fmt)),
                    Signal(shape_of(p.u_fmt))]
            with m.If(adv_o):
                m.d.sync += [r.eq(x) for r, x in zip(regs, (x_valid, x_acc, x_flag, x_g, x_d, x_u))]
            x_valid, x_acc, x_flag, x_g, x_d, x_u = regs
        du_prod = Signal(signed(p.d_fmt.width + p.u_fmt.width))
        m.d.comb += du_prod.eq(x_d * x_u)
        if "du_mult" in pl:
            regs = [Signal(), Signal(x_acc.shape()), Signal(), Signal(g_shape), Signal(du_prod.shape())]
            with m.If(adv_o):
                m.d.sync += [r.eq(x) for r, x in zip(regs, (x_valid, x_acc, x_flag, x_g, du_prod))]
            x_valid, x_acc, x_flag, x_g, du_prod = regs
        y_sat, y_ovf = saturate(x_acc, p.y_fmt)
        du = round_shift(du_prod, p.d_fmt.frac_bits + p.u_fmt.frac_bits - p.y_fmt.frac_bits, rnd)
        yd_sat, yd_ovf = saturate(y1 + du1, p.y_fmt)
        ov3, f3 = ov2, f2
        if p.gate:
            prod = Signal(signed(p.y_fmt.width + p.g_fmt.width + 1))
            m.d.comb += prod.eq(yd2 * g2)
            if "out_mult" in pl:             # the product registered before rounding
                prod3, ov3, f3 = Signal(prod.shape()), Signal(), Signal()
                with m.If(adv_o):
                    m.d.sync += [prod3.eq(prod), ov3.eq(ov2), f3.eq(f2)]
                prod = prod3
            out_raw = round_shift(prod, p.y_fmt.frac_bits + p.g_fmt.frac_bits - p.out_fmt.frac_bits, rnd)
        else:
            yd = yd2
            if "out_mult" in pl:             # no product: the stage only delays
                yd, ov3, f3 = Signal(yd2.shape()), Signal(), Signal()
                with m.If(adv_o):
                    m.d.sync += [yd.eq(yd2), ov3.eq(ov2), f3.eq(f2)]
            out_raw = round_shift(yd, p.y_fmt.frac_bits - p.out_fmt.frac_bits, rnd)
        out_sat, out_ovf = saturate(out_raw, p.out_fmt)
        sticky = Signal()
        with m.If(adv_o):
            m.d.sync += [ov1.eq(x_valid), y1.eq(y_sat), du1.eq(du), g1.eq(x_g),
                         f1.eq(x_flag | y_ovf),
                         ov2.eq(ov1), yd2.eq(yd_sat), g2.eq(g1), f2.eq(f1 | yd_ovf),
                         self.o.valid.eq(ov3), self.o.payload.out.eq(out_sat),
                         self.o.payload.overflow.eq(sticky | f3 | out_ovf)]
            with m.If(ov3):
                m.d.sync += sticky.eq(sticky | f3 | out_ovf)

        # ---- channels in flight (for the configuration port) -----------------------------------
        start = go & (k_ctr == 0)
        done = self.o.valid & self.o.ready
        m.d.sync += inflight.eq(inflight + start - done)
        return m
