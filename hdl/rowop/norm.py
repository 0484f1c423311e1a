"""Norm: the RMSNorm / LayerNorm unit of ``sim/rowop/golden.py`` (``norm_eval``, bit-exact) as a
streaming component, ``lanes`` = 1, built from two NLI engines (reciprocal and rsqrt).

Streams (``lib.stream``; ``o`` honours back-pressure, nothing lost, duplicated or reordered):

- ``i`` (in), per element ``{x: in_fmt, last}``; ``last`` marks a row's final element. Rows of any
  length 1..n_max; an element that arrives as the n_max-th of its row ends the row whatever its
  ``last`` says. ``i.ready`` is high during pass 1 only (it depends on the unit's state, never on
  ``i.valid``).
- ``cfg`` (in, ``normalized`` mode only), the per-channel parameters: ``{addr: 0..n_max-1,
  w: w_fmt}`` (rms) or ``{addr, w: w_fmt, b: b_fmt}`` (layer), one channel per transfer, written
  into the weight memory (n_max words). ``cfg.ready`` is high exactly when ``i.ready`` is (pass 1:
  waiting for or receiving a row), so a write accepted before a row's last input transfer applies
  to that row and every later one; reload any subset between rows. Memory is not cleared by
  reset: load every channel a row will use.
- ``o`` (out), per element, in input order, ``last`` on the row's final element:
  ``normalized``: ``{y: out_fmt, last, sat}``, ``sat`` on the ``last`` beat is the row's flag
  (some y of the row saturated; on other beats, the flag of the row so far). ``deferred``:
  ``{x: in_fmt, last, scale: rs_fmt, k, mean: mean_fmt (layer only)}``: x echoed from the row
  buffer, and the row's rsqrt(v) = scale 2^-(F_rs + k) and (layer) mean, defined on the ``last``
  beat and held on every beat of the row (a consumer forms (x - mean) scale 2^-k w + b itself).

Passes (one row at a time; the step numbers of the golden model's table):

1. ``LOAD``: each element is written into the row buffer (``Memory``, n_max words of x) while
   Q = sum x^2 and X = sum x accumulate (step 1).
   Once per row: ``RECIP`` j = msb(n), n_s (step 2) into the reciprocal engine (layer: N = n Q -
   X^2 registered); ``RWAIT`` rn (step 3; layer: N' and rn2); ``VAR`` v (step 4; deferred layer:
   the mean); ``LOD`` k and s (step 5, the leading one of v); ``RSQRT`` s into the rsqrt engine;
   ``SWAIT`` rs (step 6; layer: g = sat(r(rs rn)), step 7).
2. ``OUT``: the row buffer and the weight memory are read back at the same address; c = x or
   n x - X, then c g, then c g w, then y = sat(r_sh(c g w + b 2^(F_out - F_b) 2^sh)) with one
   rounding (step 8), formed as a constant ``round_shift`` of (c g w) << (sh_max - sh) plus the
   bias at sh_max. Every register of the pass advances on ``~o.valid | o.ready``.

Cycles (no input gaps, ``o`` always ready): a row of n elements takes ``row_cycles(n)`` =
2 n + L_rec + L_rsqrt + 8 clocks from its first input transfer to the next row's first input
transfer (n to take it in, L_rec + L_rsqrt + 4 once-per-row states, n + 4 to stream it out
through the 4-register output pipeline); its first output leaves ``first_out_latency`` =
L_rec + L_rsqrt + 9 clocks after its last input transfer, whatever n. A full-rate unit (one
element per clock, rows back to back) would overlap pass 1 of row j + 1 with pass 2 of row j:
a double-buffered row buffer (one bank written while the other is read), a second set of row
registers (n, Q, X, j, rn, v, k, rs, g, mean), weight memory reads not conflicting with cfg
writes (writes only between rows, as now, or a second bank), and rows of n < L_rec + L_rsqrt + ~8
leave bubbles for the once-per-row steps (which could also share one multiplier, as they run in
sequence, instead of each step having its own).
"""
from __future__ import annotations

from types import SimpleNamespace

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from nlihw.errors import ParamsError
from nlihw.hdl.common.fixed_point import round_shift, saturate, shape_of
from nlihw.hdl.nli.engine import NLIEngine
from .leading_one import LeadingOne
from .norm_row import (k_shape, layer_scale, mantissa, mean_shift, n_scaled, rn_squared,
                       var_layer, var_num, var_num_cut, var_rms, y_shift_span, z_max)
from .readout import readout_pass
from .params import NormParams
from .softmax import engine_params

__all__ = ["Norm", "input_layout", "output_layout", "config_layout"]


def input_layout(p: NormParams) -> data.StructLayout:
    return data.StructLayout({"x": shape_of(p.in_fmt), "last": 1})


def weight_layout(p: NormParams) -> data.StructLayout:
    """A weight memory word: w (and b for layer)."""
    fields = {"w": shape_of(p.w_fmt)}
    if p.kind == "layer":
        fields["b"] = shape_of(p.b_fmt)
    return data.StructLayout(fields)


def config_layout(p: NormParams) -> data.StructLayout:
    """A ``cfg`` beat: the channel and its w (and b)."""
    return data.StructLayout({"addr": range(p.n_max), **weight_layout(p).members})


def output_layout(p: NormParams) -> data.StructLayout:
    if p.output_mode == "normalized":
        return data.StructLayout({"y": shape_of(p.out_fmt), "last": 1, "sat": 1})
    fields = {"x": shape_of(p.in_fmt), "last": 1, "scale": shape_of(p.rs_fmt), "k": k_shape(p)}
    if p.kind == "layer":
        fields["mean"] = shape_of(p.mean_fmt)
    return data.StructLayout(fields)


class Norm(wiring.Component):
    """The norm unit of ``params`` (``NormParams``, lanes = 1); see the module docstring."""

    def __init__(self, params: NormParams):
        if not isinstance(params, NormParams):
            raise ParamsError(f"params: expected NormParams, got {type(params).__name__}")
        if params.lanes != 1:
            raise ParamsError(f"lanes: this unit has one lane, got {params.lanes}")
        self.params = params
        ports = {
            "i": In(stream.Signature(input_layout(params))),
            "o": Out(stream.Signature(output_layout(params))),
        }
        if params.output_mode == "normalized":
            ports["cfg"] = In(stream.Signature(config_layout(params)))
        super().__init__(ports)

    @property
    def engine_latency(self) -> int:
        return (engine_params(self.params, "reciprocal").latency
                + engine_params(self.params, "rsqrt").latency)

    def row_cycles(self, n: int) -> int:
        """Clocks per row of n elements, first input transfer to the next row's, no stalls."""
        return 2 * n + self.engine_latency + 8

    def first_out_latency(self, n: int) -> int:
        """Clocks from a row's last input transfer to its first output transfer, no stalls."""
        return self.engine_latency + 9

    def elaborate(self, platform):
        m = Module()
        p = self.params
        r = self._registers()
        m.submodules.xbuf = xbuf = memory.Memory(shape=shape_of(p.in_fmt), depth=p.n_max, init=[])
        r.xw, r.xr = xbuf.write_port(), xbuf.read_port()
        if p.output_mode == "normalized":
            m.submodules.wbuf = wbuf = memory.Memory(shape=weight_layout(p), depth=p.n_max,
                                                     init=[])
            r.ww, r.wr = wbuf.write_port(), wbuf.read_port()
        m.submodules.rec = r.rec = NLIEngine(engine_params(p, "reciprocal"))
        m.submodules.rsq = r.rsq = NLIEngine(engine_params(p, "rsqrt"))
        m.submodules.lod_n = r.lod_n = LeadingOne(p.n_bits)
        m.submodules.lod_v = r.lod_v = LeadingOne(p.v_fmt.width)
        m.d.comb += [r.rec.o.ready.eq(1), r.rsq.o.ready.eq(1), r.lod_n.v.eq(r.n),
                     r.lod_v.v.eq(r.v)]
        self._out_datapath(m, r)
        with m.FSM(name="phase"):
            with m.State("LOAD"):
                self._load(m, r)
            self._row_steps(m, r)
            with m.State("OUT"):
                self._out_pass(m, r)
        return m

    def _registers(self) -> SimpleNamespace:
        """The row state: counters, the sums and the per-row results."""
        p = self.params
        n_range = range(p.n_max + 1)
        return SimpleNamespace(
            n=Signal(n_range, name="n"),                 # the row's length
            wa=Signal(n_range, name="wa"),               # pass 1 write address
            oa=Signal(n_range, name="oa"),               # pass 2 read issue
            Q=Signal(p.sumsq_fmt.width, name="Q"),
            X=Signal(signed(p.sum_fmt.width), name="X"),
            j=Signal(range(p.j_max + 1), name="j"),
            N=Signal(p.var_num_width, name="N"),                     # layer
            Nr=Signal(p.var_num_width + p.guard_bits, name="Nr"),    # layer
            rn=Signal(shape_of(p.rn_fmt), name="rn"),
            rn2=Signal(shape_of(p.rn_fmt), name="rn2"),              # layer
            v=Signal(p.v_fmt.width, name="v"),
            k=Signal(k_shape(p), name="k"),
            yshift=Signal(range(y_shift_span(p) + 1), name="yshift"),  # sh_max - sh
            s=Signal(shape_of(p.s_fmt), name="s"),
            rs=Signal(shape_of(p.rs_fmt), name="rs"),
            g=Signal(shape_of(p.scale_fmt), name="g"),
            mean=Signal(shape_of(p.mean_fmt), name="mean"),          # deferred layer
            sat_row=Signal(name="sat_row"),
            fire=Signal(name="fire"),                    # pass 2 issues a read this cycle
            adv=Signal(name="adv"),                      # pass 2's pipeline advances
        )

    def _load(self, m, r):
        """Pass 1: write x at wa, accumulate Q and X, close the row on last (or n_max); weight
        writes from ``cfg`` are taken in this state only."""
        p, i = self.params, self.i
        m.d.comb += [i.ready.eq(1), r.xw.addr.eq(r.wa), r.xw.data.eq(i.payload.x)]
        with m.If(i.valid):
            x = i.payload.x
            m.d.comb += r.xw.en.eq(1)
            m.d.sync += [r.wa.eq(r.wa + 1), r.Q.eq(r.Q + x * x), r.X.eq(r.X + x)]
            with m.If(i.payload.last | (r.wa == p.n_max - 1)):
                m.d.sync += r.n.eq(r.wa + 1)
                m.next = "RECIP"
        if p.output_mode == "normalized":
            cfg = self.cfg
            m.d.comb += [cfg.ready.eq(1), r.ww.addr.eq(cfg.payload.addr), r.ww.en.eq(cfg.valid)]
            m.d.comb += [getattr(r.ww.data, f).eq(getattr(cfg.payload, f))
                         for f in weight_layout(p).members]

    def _row_steps(self, m, r):
        """The once-per-row states between the passes (steps 2-7)."""
        p, layer = self.params, self.params.kind == "layer"
        # the engines' whole inputs driven outside the FSM: a payload bit assigned in no state
        # would be printed as an always @* block with nothing to trigger it (X in Verilog-2005)
        m.d.comb += [r.rec.i.payload.x[0].eq(n_scaled(p, r.n, r.lod_n.pos)), r.rec.i.payload.func.eq(0),
                     r.rsq.i.payload.x[0].eq(r.s), r.rsq.i.payload.func.eq(0)]
        with m.State("RECIP"):
            m.d.comb += r.rec.i.valid.eq(1)
            m.d.sync += r.j.eq(r.lod_n.pos)
            if layer:
                m.d.sync += r.N.eq(var_num(p, r.n, r.Q, r.X))
            m.next = "RWAIT"            # rec.o.ready = 1, so rec.i.ready = 1: taken now
        with m.State("RWAIT"):
            if layer:
                m.d.sync += r.Nr.eq(var_num_cut(p, r.N, r.j))
            with m.If(r.rec.o.valid):
                rn = r.rec.o.payload[0]
                m.d.sync += r.rn.eq(rn)
                if layer:
                    m.d.sync += r.rn2.eq(rn_squared(p, rn))
                m.next = "VAR"
        with m.State("VAR"):
            v = var_layer(p, r.Nr, r.rn2) if layer else var_rms(p, r.Q, r.rn, r.j)
            m.d.sync += r.v.eq(v)
            if layer and p.output_mode == "deferred":
                m.d.sync += r.mean.eq(mean_shift(p, r.X, r.rn, r.j))
            m.next = "LOD"
        with m.State("LOD"):
            k, s = mantissa(p, r.v, r.lod_v.pos)
            z = r.j if layer else 0
            m.d.sync += [r.k.eq(k), r.s.eq(s), r.yshift.eq((p.k_max - k) + (z_max(p) - z))]
            m.next = "RSQRT"
        with m.State("RSQRT"):
            m.d.comb += r.rsq.i.valid.eq(1)
            m.next = "SWAIT"
        with m.State("SWAIT"):
            with m.If(r.rsq.o.valid):
                rs = r.rsq.o.payload[0]
                m.d.sync += [r.rs.eq(rs), r.g.eq(layer_scale(p, rs, r.rn) if layer else rs),
                             r.oa.eq(0), r.sat_row.eq(0)]
                m.next = "OUT"

    def _out_pass(self, m, r):
        """Pass 2's control (``readout_pass``)."""
        readout_pass(m, self.o, r, r.fire, [r.Q.eq(0), r.X.eq(0)])

    def _out_datapath(self, m, r):
        """Pass 2's pipeline, every register stepped by adv = ~o.valid | o.ready: buffer reads
        (read enable adv, so the read data hold in a stall) -> c g -> c g w -> the output
        register (round and saturate; or x with the row's fields)."""
        p, o = self.params, self.o
        normalized = p.output_mode == "normalized"
        m.d.comb += [r.adv.eq(~o.valid | o.ready), r.xr.addr.eq(r.oa), r.xr.en.eq(r.adv)]
        if normalized:
            m.d.comb += [r.wr.addr.eq(r.oa), r.wr.en.eq(r.adv)]
        v1, l1, v2, l2, v3, l3 = (Signal(name=f"{n}_out")
                                  for n in ("v1", "l1", "v2", "l2", "v3", "l3"))
        with m.If(r.adv):
            m.d.sync += [v1.eq(r.fire), l1.eq(r.fire & (r.oa == r.n - 1)),
                         v2.eq(v1), l2.eq(l1), v3.eq(v2), l3.eq(l2),
                         o.valid.eq(v3), o.payload.last.eq(l3)]
            if normalized:
                self._y_stages(m, r, v3)
            else:
                x2, x3 = (Signal(shape_of(p.in_fmt), name=n) for n in ("x2", "x3"))
                m.d.sync += [x2.eq(r.xr.data), x3.eq(x2), o.payload.x.eq(x3),
                             o.payload.scale.eq(r.rs), o.payload.k.eq(r.k)]
                if p.kind == "layer":
                    m.d.sync += o.payload.mean.eq(r.mean)

    def _y_stages(self, m, r, v3):
        """Step 8 in three registers (inside ``adv``): c g; c g w; y = sat(r(... + b)), sat."""
        p, o = self.params, self.o
        layer = p.kind == "layer"
        cg = Signal(signed(p.centered_width + p.scale_fmt.width), name="cg")
        prod = Signal(signed(p.product_width), name="prod")
        w2 = Signal(shape_of(p.w_fmt), name="w2")
        c = r.n * r.xr.data - r.X if layer else r.xr.data
        m.d.sync += [cg.eq(c * r.g), w2.eq(r.wr.data.w), prod.eq(cg * w2)]
        sh_max = (p.in_fmt.frac_bits + p.scale_fmt.frac_bits + p.w_fmt.frac_bits
                  - p.out_fmt.frac_bits + p.k_max + z_max(p))
        q = (prod << r.yshift)[:p.product_width + y_shift_span(p)].as_signed()
        if layer:
            b2, b3 = (Signal(shape_of(p.b_fmt), name=n) for n in ("b2", "b3"))
            m.d.sync += [b2.eq(r.wr.data.b), b3.eq(b2)]
            q = q + (b3 << (p.out_fmt.frac_bits - p.b_fmt.frac_bits + sh_max))
        y, sat_e = saturate(round_shift(q, sh_max, p.rounding), p.out_fmt)
        m.d.sync += [o.payload.y.eq(y), o.payload.sat.eq(r.sat_row | (v3 & sat_e))]
        with m.If(v3):
            m.d.sync += r.sat_row.eq(r.sat_row | sat_e)
