"""Front: issues (token, channel, step) items and forms the softplus input x = sat(delta + bias)."""
from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from nlihw.hdl.common.fixed_point import saturate, shape_of
from nlihw.hdl.common.data_register import data_register
from .config_port import read_bus
from .datapath import CLAMPED, FLAG_BITS, OVERFLOW, ScanDatapath, bc_layout, input_layout
from .params import ScanParams
from .read_ahead import ReadAhead


class Front(wiring.Component):
    """Steps through N/P steps per (token, channel) and d_inner channels per token.

    - ``i`` (in): per (token, channel) ``{u, delta, z, first}``; taken on the channel's last step.
      Mamba-2 reads delta on each head's first channel and holds it for the head.
    - ``bc`` (in): per token ``{B, C}``; taken on the token's last step.
    - ``o`` (out): the softplus engine's input ``{x, side}``: x = sat(delta + bias) (step 1),
      side = ``ScanDatapath.softplus_side`` (the step's P words of B and C unless ``queued_bc``;
      flag: x above delta_fmt sets OVERFLOW, below it CLAMPED).
    - ``token_start`` (out): a token's first item issues (with ``queued_bc`` its B and C go into
      their ``TokenQueue``s); ``token_room`` (in): the queues can take them (1 when unconnected).
    - ``bias_rd`` (``read_bus``): the delta_bias memory (channel, or head in Mamba-2), read a
      cycle ahead: when a channel's last step issues, the next channel's word is read, so the
      read's output register holds the bias of the item issuing (no latency added); the address
      comes from registers only, the enable from the stall.
    - ``hold`` (in): a configuration command waits; stop at the next channel boundary.
      ``cfg_mode`` (in): the memories are the command's (or the bias read is being reissued);
      issue nothing.
    - ``start`` (out): a channel's first step issues. ``idle`` (out): at a channel boundary.
    - ``credit`` (in): the output queue has a word for one more channel (``backpressure="credit"``;
      1 when unconnected). Items issue only with it, so everything behind the front may run free.

    ``front_sum`` registers delta and the bias before their saturating sum (one cycle more).
    """

    def __init__(self, params: ScanParams):
        self.params = p = params
        dp = ScanDatapath(p)
        super().__init__({
            "i": In(stream.Signature(input_layout(p))),
            "bc": In(stream.Signature(bc_layout(p))),
            "o": Out(stream.Signature(dp.engine_in("softplus", dp.softplus_side))),
            "bias_rd": Out(read_bus(max(2, p.bias_count), shape_of(p.delta_fmt))),
            "hold": In(1), "cfg_mode": In(1), "credit": In(1, init=1), "token_room": In(1, init=1),
            "token_start": Out(1), "start": Out(1), "idle": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        p, steps = self.params, self.params.steps
        dp = ScanDatapath(p)
        d_ctr, head, c_ctr = Signal(dp.d_bits), Signal(dp.head_bits), Signal(range(p.headdim + 1))
        k_ctr = Signal(dp.k_bits)
        delta_head = Signal(shape_of(p.delta_fmt), reset_less=True)
        f_out = data_register(m, self.o.payload)
        f_valid, f_x, f_side = self.o.valid, f_out.x[0], f_out.side
        adv_f = Signal()
        can_issue = Signal()
        # the counters' compares kept in flip-flops beside them, so that the issue decision (whose
        # fan-out reaches every register of the front and the bias read) is two logic levels
        first_k, last_k = Signal(init=1), Signal(init=steps == 1)
        first_d, last_d = Signal(init=1), Signal(init=p.d_inner == 1)
        token_first = first_d & first_k
        m.d.comb += can_issue.eq(self.i.valid & self.bc.valid & self.credit & (self.token_room | ~token_first)
                                 & ~(self.hold & first_k) & ~self.cfg_mode)
        go = Signal()
        m.d.comb += go.eq(can_issue & adv_f)
        m.d.comb += [self.i.ready.eq(go & last_k), self.bc.ready.eq(go & last_k & last_d),
                     self.start.eq(go & first_k), self.token_start.eq(go & token_first),
                     self.idle.eq(first_k)]
        beat = self.i.payload
        if p.mode == "mamba2":
            delta = Mux(c_ctr == 0, beat.delta, delta_head)
            with m.If(go & (c_ctr == 0)):
                m.d.sync += delta_head.eq(beat.delta)
        else:
            delta = beat.delta
        bias = self.bias_rd.data
        if "front_sum" in p.pipeline:
            # delta and the bias read registered here, their saturating sum registered in a
            # second stage before the softplus engine
            g_valid, g_delta = Signal(name="fs_valid"), Signal.like(delta, name="fs_delta", reset_less=True)
            g_bias = Signal.like(bias, name="fs_bias", reset_less=True)
            g_side = Signal(dp.softplus_side, name="fs_side", reset_less=True)
            adv_g = Signal()
            m.d.comb += [adv_g.eq(~f_valid | self.o.ready), adv_f.eq(~g_valid | adv_g)]
            x_sat, x_flag = self._sum(m, g_delta + g_bias)
            with m.If(adv_g):
                m.d.sync += [f_valid.eq(g_valid), f_x.eq(x_sat), f_side.eq(g_side),
                             f_side.flag.eq(x_flag)]
            f_valid_in, f_side_in = g_valid, g_side
            with m.If(adv_f):
                m.d.sync += [g_delta.eq(delta), g_bias.eq(bias)]
        else:
            m.d.comb += adv_f.eq(~f_valid | self.o.ready)
            x_sat, x_flag = self._sum(m, delta + bias)
            f_valid_in, f_side_in = f_valid, f_side
            with m.If(adv_f):
                m.d.sync += [f_x.eq(x_sat), f_side.flag.eq(x_flag)]
        with m.If(adv_f):
            m.d.sync += f_valid_in.eq(can_issue)
            m.d.sync += [f_side_in.d.eq(d_ctr), f_side_in.k.eq(k_ctr), f_side_in.head.eq(head),
                         f_side_in.first.eq(beat.first), f_side_in.last.eq(last_k),
                         f_side_in.u.eq(beat.u), f_side_in.z.eq(beat.z)]
            if not dp.queued_bc:                   # the step's P words of B and C ride along
                bw, cw = p.b_fmt.width, p.c_fmt.width
                m.d.sync += [
                    f_side_in.B.as_value().eq(self.bc.payload.B.as_value().word_select(k_ctr, p.lanes * bw)),
                    f_side_in.C.as_value().eq(self.bc.payload.C.as_value().word_select(k_ctr, p.lanes * cw))]
        d_succ = Mux(last_d, 0, d_ctr + 1)
        last_c = c_ctr == p.headdim - 1
        head_succ = Mux(last_c, Mux(last_d, 0, head + 1), head)
        with m.If(go):
            m.d.sync += [k_ctr.eq(Mux(last_k, 0, k_ctr + 1)), first_k.eq(last_k),
                         last_k.eq(Mux(last_k, 0, k_ctr == steps - 2) if steps > 1 else 1)]
            with m.If(last_k):
                m.d.sync += [d_ctr.eq(d_succ), first_d.eq(last_d),
                             last_d.eq(Mux(last_d, 0, d_ctr == p.d_inner - 2) if p.d_inner > 1 else 1)]
                if p.mode == "mamba2":
                    m.d.sync += [c_ctr.eq(Mux(last_c, 0, c_ctr + 1)), head.eq(head_succ)]
        # the next channel's bias (its head's in Mamba-2), read as its last step issues; the
        # address from counters of its own, so no logic sits before the memory's address pins
        words, group = (p.n_heads, p.headdim) if p.mode == "mamba2" else (p.d_inner, 1)
        m.submodules.bias_ahead = ahead = ReadAhead(words, group, self.bias_rd.data.shape())
        wiring.connect(m, ahead.rd, wiring.flipped(self.bias_rd))
        m.d.comb += ahead.take.eq(go & last_k)
        return m

    def _sum(self, m, total):
        """x = sat(delta + bias) and its flag: above delta_fmt OVERFLOW, below it CLAMPED."""
        fmt = self.params.delta_fmt
        x_sat, _ = saturate(total, fmt)
        flag = Signal(FLAG_BITS, name="x_flag")
        m.d.comb += [flag[OVERFLOW].eq(total > fmt.max_raw), flag[CLAMPED].eq(total < fmt.min_raw)]
        return x_sat, flag
