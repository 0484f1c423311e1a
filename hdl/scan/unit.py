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
"""
from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal, signed
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
                           top_name=f"{p.top_name}_{which}")


def pipeline_depths(p: ScanParams) -> dict[str, int]:
    """Register stages of each part, input transfer to output transfer (the latency adds them)."""
    d = {"front": 1, "softplus": engine_params(p, "softplus").latency, "dt_a": 1,
         "exp": engine_params(p, "exp").latency, "state": 4}
    if p.gate:
        d["silu"] = engine_params(p, "silu").latency
    d["output"] = 3
    return d


def latency(p: ScanParams) -> int:
    """Cycles from a (token, channel) input transfer (its last step) to its output transfer."""
    return sum(pipeline_depths(p).values())


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
        cfg_mode = Signal()            # a command waits or is served: memories' addresses are its
        m.d.comb += cfg_mode.eq(self.cfg.valid & idle)
        rd_pending = Signal()
        rd_sel = Signal(range(5))
        rd_lane = Signal(max(1, lane_bits))
        rd_comb = Signal(p.config_data_bits)
        m.d.comb += self.cfg.ready.eq(idle & ~rd_pending & ~self.rdata.valid)
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
        m.d.comb += adv_f.eq(~f_valid | sp.i.ready)
        can_issue = Signal()
        m.d.comb += can_issue.eq(self.i.valid & self.bc.valid & ~(self.cfg.valid & (k_ctr == 0)))
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
        x_sat, x_ovf = saturate(delta + b_rd.data, p.delta_fmt)
        with m.If(adv_f):
            m.d.sync += f_valid.eq(can_issue)
            m.d.sync += [f_x.eq(x_sat), f_side.d.eq(d_ctr), f_side.k.eq(k_ctr), f_side.head.eq(head),
                         f_side.first.eq(beat.first), f_side.last.eq(last_k), f_side.u.eq(beat.u),
                         f_side.z.eq(beat.z), f_side.flag.eq(x_ovf)]
            bw, cw = p.b_fmt.width, p.c_fmt.width
            m.d.sync += [
                f_side.B.as_value().eq(self.bc.payload.B.as_value().word_select(k_ctr, P * bw)),
                f_side.C.as_value().eq(self.bc.payload.C.as_value().word_select(k_ctr, P * cw))]
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
        w_flags = []
        w_vals = []
        for k in range(p.exp_lanes):
            prod = Signal(signed(p.dt_fmt.width + p.a_fmt.width + 1), name=f"dtA{k}")
            m.d.comb += prod.eq(dt * a_rd[k].data)
            rounded = round_shift(prod, wshift, rnd)
            w_sat, _ = saturate(rounded, p.w_fmt)
            w_vals.append(w_sat)
            w_flags.append(rounded > p.w_fmt.max_raw)
        dtu_prod = Signal(signed(p.dt_fmt.width + p.u_fmt.width + 1))
        m.d.comb += dtu_prod.eq(dt * s1.u)
        dtu_sat, dtu_ovf = saturate(
            round_shift(dtu_prod, p.dt_fmt.frac_bits + p.u_fmt.frac_bits - p.dtu_fmt.frac_bits, rnd), p.dtu_fmt)
        flag2 = s1.flag | dtu_ovf
        for f in w_flags:
            flag2 = flag2 | f
        with m.If(adv_e):
            m.d.sync += e_valid.eq(sp.o.valid)
            m.d.sync += [e_w[k].eq(w_vals[k]) for k in range(p.exp_lanes)]
            m.d.sync += [e_side.d.eq(s1.d), e_side.k.eq(s1.k), e_side.first.eq(s1.first),
                         e_side.last.eq(s1.last), e_side.dtu.eq(dtu_sat), e_side.u.eq(s1.u),
                         e_side.z.eq(s1.z), e_side.B.eq(s1.B), e_side.C.eq(s1.C), e_side.flag.eq(flag2)]

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
        m.d.comb += [adv_s.eq(~s4_valid | s_out_ready), ex.o.ready.eq(adv_s)]
        s2 = ex.o.payload.side
        # input stage: dBu = dt*u*B per lane; the state read is issued for this step
        s_addr_in = s2.d * steps + s2.k
        for r in s_rd:
            m.d.comb += [r.addr.eq(Mux(cfg_mode, s_word_of, s_addr_in)), r.en.eq(adv_s | cfg_mode)]
        bshift = p.dtu_fmt.frac_bits + p.b_fmt.frac_bits - p.state_fmt.frac_bits
        v1 = Signal()
        r1 = Signal(data.StructLayout({
            "addr": range(max(2, Dn * steps)), "k": k_bits, "first": 1, "last": 1, "d": d_bits,
            "u": shape_of(p.u_fmt), "z": shape_of(p.z_fmt), "flag": 1,
            "dA": data.ArrayLayout(shape_of(p.da_fmt), p.exp_lanes),
            "dBu": data.ArrayLayout(shape_of(p.state_fmt), P),
            "C": data.ArrayLayout(shape_of(p.c_fmt), P)}))
        flag_in = s2.flag
        dbu = []
        for k in range(P):
            prod = Signal(signed(p.dtu_fmt.width + p.b_fmt.width), name=f"dtuB{k}")
            m.d.comb += prod.eq(s2.dtu * s2.B[k])
            v, o = saturate(round_shift(prod, bshift, rnd), p.state_fmt)
            dbu.append(v)
            flag_in = flag_in | o
        with m.If(adv_s):
            m.d.sync += v1.eq(ex.o.valid)
            m.d.sync += [r1.addr.eq(s_addr_in), r1.k.eq(s2.k), r1.first.eq(s2.first), r1.last.eq(s2.last),
                         r1.d.eq(s2.d), r1.u.eq(s2.u), r1.z.eq(s2.z), r1.flag.eq(flag_in), r1.C.eq(s2.C)]
            m.d.sync += [r1.dA[k].eq(ex.o.payload.y[k]) for k in range(p.exp_lanes)]
            m.d.sync += [r1.dBu[k].eq(dbu[k]) for k in range(P)]
        # stage 1: h = sat(r(dA * h) + dBu), written back
        v2 = Signal()
        r2 = Signal(data.StructLayout({
            "k": k_bits, "last": 1, "d": d_bits, "u": shape_of(p.u_fmt), "z": shape_of(p.z_fmt),
            "flag": 1, "h": data.ArrayLayout(shape_of(p.state_fmt), P),
            "C": data.ArrayLayout(shape_of(p.c_fmt), P)}))
        flag1 = r1.flag
        h_new = []
        for k in range(P):
            h_old = Signal(shape_of(p.state_fmt), name=f"h_old{k}")
            m.d.comb += h_old.eq(Mux(r1.first, 0, s_rd[k].data))
            prod = Signal(signed(p.da_fmt.width + p.state_fmt.width + 1), name=f"dAh{k}")
            m.d.comb += prod.eq(r1.dA[k if p.exp_lanes > 1 else 0] * h_old)
            v, o = saturate(round_shift(prod, p.da_fmt.frac_bits, rnd) + r1.dBu[k], p.state_fmt)
            hn = Signal(shape_of(p.state_fmt), name=f"h_new{k}")
            m.d.comb += hn.eq(v)
            h_new.append(hn)
            flag1 = flag1 | o
            m.d.comb += [s_wr[k].en.eq(Mux(cfg_mode, wr_en & hit["state"] & (s_lane_of == k), v1 & adv_s)),
                         s_wr[k].addr.eq(Mux(cfg_mode, s_word_of, r1.addr)),
                         s_wr[k].data.eq(Mux(cfg_mode, cdata, hn))]
        with m.If(adv_s):
            m.d.sync += v2.eq(v1)
            m.d.sync += [r2.k.eq(r1.k), r2.last.eq(r1.last), r2.d.eq(r1.d), r2.u.eq(r1.u),
                         r2.z.eq(r1.z), r2.flag.eq(flag1), r2.C.eq(r1.C)]
            m.d.sync += [r2.h[k].eq(h_new[k]) for k in range(P)]
        # stage 2: the exact partial dot product of this step
        v3 = Signal()
        r3 = Signal(data.StructLayout({"k": k_bits, "last": 1, "d": d_bits, "u": shape_of(p.u_fmt),
                                       "z": shape_of(p.z_fmt), "flag": 1,
                                       "part": signed(p.acc_width)}))
        part = 0
        for k in range(P):
            part = part + r2.C[k] * r2.h[k]
        with m.If(adv_s):
            m.d.sync += v3.eq(v2)
            m.d.sync += [r3.k.eq(r2.k), r3.last.eq(r2.last), r3.d.eq(r2.d), r3.u.eq(r2.u),
                         r3.z.eq(r2.z), r3.flag.eq(r2.flag), r3.part.eq(part)]
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
        y_sat, y_ovf = saturate(round_shift(o_in.acc, p.acc_frac - p.y_fmt.frac_bits, rnd), p.y_fmt)
        du_prod = Signal(signed(p.d_fmt.width + p.u_fmt.width))
        m.d.comb += du_prod.eq(d_rd.data * o_in.u)
        du = round_shift(du_prod, p.d_fmt.frac_bits + p.u_fmt.frac_bits - p.y_fmt.frac_bits, rnd)
        yd_sat, yd_ovf = saturate(y1 + du1, p.y_fmt)
        if p.gate:
            prod = Signal(signed(p.y_fmt.width + p.g_fmt.width + 1))
            m.d.comb += prod.eq(yd2 * g2)
            out_raw = round_shift(prod, p.y_fmt.frac_bits + p.g_fmt.frac_bits - p.out_fmt.frac_bits, rnd)
        else:
            out_raw = round_shift(yd2, p.y_fmt.frac_bits - p.out_fmt.frac_bits, rnd)
        out_sat, out_ovf = saturate(out_raw, p.out_fmt)
        sticky = Signal()
        with m.If(adv_o):
            m.d.sync += [ov1.eq(o_in_valid), y1.eq(y_sat), du1.eq(du), g1.eq(g_in),
                         f1.eq(o_in.flag | y_ovf),
                         ov2.eq(ov1), yd2.eq(yd_sat), g2.eq(g1), f2.eq(f1 | yd_ovf),
                         self.o.valid.eq(ov2), self.o.payload.out.eq(out_sat),
                         self.o.payload.overflow.eq(sticky | f2 | out_ovf)]
            with m.If(ov2):
                m.d.sync += sticky.eq(sticky | f2 | out_ovf)

        # ---- channels in flight (for the configuration port) -----------------------------------
        start = go & (k_ctr == 0)
        done = self.o.valid & self.o.ready
        m.d.sync += inflight.eq(inflight + start - done)
        return m
