"""SelectiveScan: the fused Mamba selective-scan datapath of ``sim/scan/golden.py`` as a streaming
component, built on three NLI engines (softplus, exp, SiLU).

Pipeline, one component each: ``Front`` (sum delta + bias; the step's B and C into the side
band, or at P = N a token's B and C into two ``TokenQueue``s read by the state update and C . h)
-> softplus
engine -> ``DtStage`` (dt*A, dt*u) -> exp engine (P lanes; one in Mamba-2) -> ``StateUpdate``
(read-modify-write of P state memories through P ``StateLane``s) -> ``DotReduce`` (exact C . h
per step, summed over the N/P steps) -> SiLU engine -> ``OutputStage`` (y, D*u, gate). The
memories and the configuration port are ``ConfigPort``'s (every read synchronous, so A, D and
delta_bias are block RAM; the datapath reads them a cycle ahead at no latency); shifts, widths
and side bands are ``ScanDatapath``'s, latencies ``timing.py``'s. P = N lanes take one (token,
channel) per clock; P < N take N/P clocks.

Register points (``ScanParams.pipeline``, see ``PIPELINE`` in params.py) each add one cycle and
change no value. Three of them (state_*) lengthen the state loop, read to write-back, to
``loop_depth`` advances. Items issue in (token, channel, step) order, so a state word is read
again ``d_inner * N/P`` items later; when that is shorter than the loop, the item waits (a bubble)
until the word's update is written (``hazard_free``). II stays 1 otherwise, and every stage
advances with the back-pressure of its section as before. With ``backpressure="credit"`` nothing
in the unit stalls (unless a state word must wait): a ``CreditQueue`` at the unit's output takes
the back-pressure, and the front issues a channel only when the queue has room for it.
"""
from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out, flipped

from nlihw.hdl.common.credit_queue import CreditQueue
from nlihw.hdl.common.fixed_point import shape_of
from nlihw.hdl.common.skid_buffer import SkidBuffer
from nlihw.hdl.common.tagged_engine import TaggedEngine
from .config_port import ConfigPort
from .datapath import ScanDatapath, bc_layout, cfg_layout, engine_params, input_layout, output_layout
from .dot_reduce import DotReduce
from .dt_stage import DtStage
from .front import Front
from .output_stage import OutputStage
from .params import ScanParams
from .state_update import StateUpdate
from .timing import (STATE_LOOP, credit_depth, hazard_free, latency, loop_depth, pipeline_depths,
                     token_queue_depth)
from .token_queue import TokenQueue

__all__ = ["SelectiveScan", "input_layout", "bc_layout", "output_layout", "cfg_layout", "engine_params",
           "STATE_LOOP", "pipeline_depths", "latency", "loop_depth", "hazard_free"]


class SelectiveScan(wiring.Component):
    """Streams (``lib.stream``, full back-pressure):

    - ``bc`` (in): per token ``{B: N x b, C: N x c}``; held until the token's last channel is issued.
    - ``i`` (in): per (token, channel), token-major ``{u, delta, z, first}``; ``first`` starts a new
      sequence for the channel (its state reads as zero). Mamba-2 reads delta on each head's first
      channel only.
    - ``o`` (out): per (token, channel) ``{out, overflow, clamped}``; both flags sticky since reset
      (``datapath.FLAG_BITS``: a saturation, and delta + bias clamped below delta_fmt).
    - ``cfg`` (in) ``{addr, data, write}`` and ``rdata`` (out) ``{data}``: A, D, delta_bias and the
      state (save / restore) through one address map (``ScanParams.config_regions``). A command
      waits until the pipeline has drained; the unit stops issuing at the next channel boundary
      meanwhile.
    """

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
        dp = ScanDatapath(p)
        m.submodules.config = cfg = ConfigPort(p)
        m.submodules.front = front = Front(p)
        m.submodules.softplus = sp = TaggedEngine(engine_params(p, "softplus"), dp.softplus_side)
        m.submodules.dt_stage = dt = DtStage(p)
        m.submodules.exp = ex = TaggedEngine(engine_params(p, "exp"), dp.exp_side)
        m.submodules.state = state = StateUpdate(p)
        m.submodules.dot = dot = DotReduce(p)
        m.submodules.output = out = OutputStage(p)
        wiring.connect(m, flipped(self.cfg), cfg.cfg)
        wiring.connect(m, cfg.rdata, flipped(self.rdata))
        wiring.connect(m, flipped(self.i), front.i)
        wiring.connect(m, flipped(self.bc), front.bc)
        wiring.connect(m, front.o, sp.i)
        wiring.connect(m, sp.o, dt.i)
        wiring.connect(m, self._skid(m, "skid_exp", dt.o), ex.i)
        wiring.connect(m, ex.o, state.i)
        wiring.connect(m, state.o, dot.i)
        if dp.queued_bc:
            # B and C wait per token in a queue each, read where they are used
            depth = token_queue_depth(p)
            m.submodules.b_queue = bq = TokenQueue(shape_of(p.b_fmt), p.d_state, depth)
            m.submodules.c_queue = cq = TokenQueue(shape_of(p.c_fmt), p.d_state, depth)
            m.d.comb += [bq.push.eq(front.token_start), bq.data.eq(self.bc.payload.B),
                         state.b_token.eq(bq.head), bq.pop.eq(state.b_pop),
                         cq.push.eq(front.token_start), cq.data.eq(self.bc.payload.C),
                         dot.c_token.eq(cq.head), cq.pop.eq(dot.c_pop),
                         front.token_room.eq(bq.room & cq.room)]
        dot_o = self._skid(m, "skid_dot", dot.o)
        if p.gate:
            m.submodules.silu = silu = TaggedEngine(engine_params(p, "silu"), dp.silu_side)
            wiring.connect(m, dot_o, silu.i)
            wiring.connect(m, silu.o, out.i)
        else:                                      # no SiLU: the gate input stays 0
            m.d.comb += [out.i.valid.eq(dot_o.valid), out.i.payload.side.eq(dot_o.payload.side),
                         dot_o.ready.eq(out.i.ready)]
        if p.backpressure == "credit":
            # a channel enters the unit only with a word of the output queue for it, so no
            # stage of the unit waits for the output's ready
            m.submodules.credit = q = CreditQueue(out.o.payload.shape(), credit_depth(p))
            m.d.comb += [front.credit.eq(q.credit), q.take.eq(front.i.valid & front.i.ready)]
            wiring.connect(m, out.o, q.i)
            wiring.connect(m, q.o, flipped(self.o))
        else:                                      # front.credit stays 1 (its init)
            wiring.connect(m, out.o, flipped(self.o))
        wiring.connect(m, front.bias_rd, cfg.bias_rd)
        wiring.connect(m, dt.a_rd, cfg.a_rd)
        wiring.connect(m, state.state, cfg.state)
        wiring.connect(m, out.d_rd, cfg.d_rd)
        m.d.comb += [front.hold.eq(cfg.waiting), front.cfg_mode.eq(cfg.busy),
                     cfg.front_idle.eq(front.idle), cfg.start.eq(front.start),
                     cfg.done.eq(self.o.valid & self.o.ready)]
        return m

    def _skid(self, m, point, source):
        """``source`` through a ``SkidBuffer`` where register point ``point`` is enabled."""
        if point not in self.params.pipeline:
            return source
        m.submodules[point] = skid = SkidBuffer(source.payload.shape())
        wiring.connect(m, source, skid.i)
        return skid.o
