"""Softmax: the softmax unit of ``sim/rowop/golden.py`` (``softmax_eval``, bit-exact) as a streaming
component, ``lanes`` = 1, built from two NLI engines (exp and reciprocal).

Streams (``lib.stream``; ``o`` honours back-pressure, nothing lost, duplicated or reordered):

- ``i`` (in), per element ``{x: in_fmt, mask, last}``: ``mask`` excludes the element (-inf),
  ``last`` marks a row's final element. Rows of any length 1..n_max; an element that arrives as
  the n_max-th of its row ends the row whatever its ``last`` says. ``i.ready`` is high during
  pass 1 only (it depends on the unit's state, never on ``i.valid``).
- ``o`` (out), per element, in input order, ``last`` on the row's final element:
  ``normalized``: ``{p: out_fmt, last, empty, sat}``; ``deferred``: ``{e: e_fmt, last, r: r_fmt,
  k: k_width bits, empty}``. The row fields are defined on the ``last`` beat (the beat that
  closes the row, so a consumer needs no second stream): ``empty`` (no unmasked element: every
  output 0, r = k = 0), ``sat`` (some p of the row saturated: the beat's ``sat`` is the flag of
  the row so far), ``r`` and ``k`` (p = e r 2^-(F_r + k)). ``r``, ``k`` and ``empty`` are also
  held on every other beat of the row.

Passes (one row at a time; the step numbers of the golden model's table):

1. ``LOAD``: each element is written into the row buffer (``Memory``, n_max words of {x, mask})
   while the max over unmasked entries is tracked (step 1).
2. ``EXP``: the row is read back, d = sat(x - m) (step 2) goes through the exp engine (a
   ``TaggedEngine`` carrying the mask), e (0 where masked, step 3) is written into the e buffer
   and summed into S (step 4).
   Between passes 2 and 3, once per row (``LOD``, ``RECIP``, ``RWAIT``): the leading-one
   detector gives k and the truncated s (step 5), the reciprocal engine r (step 6).
3. ``OUT``: the e buffer is read back; normalized: p = sat(round(e r / 2^(F_e + F_r - F_out + k)))
   with one rounding (step 7), formed as a fixed shift of (e r) << (k_max - k) so the existing
   ``round_shift`` applies; deferred: e as is.

e is stored (a second n_max-word buffer: n_max x e_fmt bits, 74 kbit for int16 at n_max 4096,
beside the row buffer's n_max x (in_fmt + 1)) rather than recomputed: the exp engine then sees
each element once, pass 3 needs no engine (no second latency, no table read), and a full-rate
version keeps one exp engine busy on row j + 1 while row j leaves from its e buffer (recomputing
would need a second exp engine there).

Cycles (no input gaps, ``o`` always ready): a row of n elements takes ``row_cycles(n)`` =
3 n + L_exp + L_rec + 6 clocks from its first input transfer to the next row's first input
transfer; its first output leaves n + L_exp + L_rec + 7 clocks after its last input transfer
(``first_out_latency``). A full-rate unit (one element per clock, rows back to back) would
overlap the passes of three rows: double-buffered row and e buffers (pass 1 of row j + 2 writes
one row bank while pass 2 of row j + 1 reads the other; pass 2 writes one e bank while pass 3 of
row j reads the other), one set of row registers (m, n, S, k, r, flags) per row in flight, and
rows of n < L_exp + L_rec + ~6 leave bubbles for the once-per-row reciprocal step.
"""
from __future__ import annotations

from types import SimpleNamespace

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from nlihw.errors import ParamsError
from nlihw.hdl.common.fixed_point import round_shift, saturate, shape_of
from nlihw.hdl.common.tagged_engine import TaggedEngine
from nlihw.hdl.nli.engine import NLIEngine
from nlihw.hdl.nli.params import NLIEngineParams
from .leading_one import LeadingOne
from .readout import readout_pass
from .params import NormParams, SoftmaxParams

__all__ = ["Softmax", "input_layout", "output_layout", "engine_params"]


def input_layout(p: SoftmaxParams) -> data.StructLayout:
    return data.StructLayout({"x": shape_of(p.in_fmt), "mask": 1, "last": 1})


def row_layout(p: SoftmaxParams) -> data.StructLayout:
    """A row buffer word."""
    return data.StructLayout({"x": shape_of(p.in_fmt), "mask": 1})


def output_layout(p: SoftmaxParams) -> data.StructLayout:
    if p.output_mode == "normalized":
        return data.StructLayout({"p": shape_of(p.out_fmt), "last": 1, "empty": 1, "sat": 1})
    return data.StructLayout({"e": shape_of(p.e_fmt), "last": 1, "r": shape_of(p.r_fmt),
                              "k": p.k_width, "empty": 1})


def engine_params(p: "SoftmaxParams | NormParams", which: str) -> NLIEngineParams:
    """The engine of ``which`` (exp, reciprocal or rsqrt): one lane, constant tables, the
    params' ``engine_arch`` and the table it runs (``engine_table``: NLI or baseline)."""
    return NLIEngineParams((p.engine_table(which),), arch=p.engine_arch, lanes=1, storage="rom",
                           top_name=f"{p.top_name}_{which}")


class Softmax(wiring.Component):
    """The softmax unit of ``params`` (``SoftmaxParams``, lanes = 1); see the module docstring."""

    def __init__(self, params: SoftmaxParams):
        if not isinstance(params, SoftmaxParams):
            raise ParamsError(f"params: expected SoftmaxParams, got {type(params).__name__}")
        if params.lanes != 1:
            raise ParamsError(f"lanes: this unit has one lane, got {params.lanes}")
        self.params = params
        super().__init__({
            "i": In(stream.Signature(input_layout(params))),
            "o": Out(stream.Signature(output_layout(params))),
        })

    @property
    def engine_latency(self) -> int:
        return (engine_params(self.params, "exp").latency
                + engine_params(self.params, "reciprocal").latency)

    def row_cycles(self, n: int) -> int:
        """Clocks per row of n elements, first input transfer to the next row's, no stalls."""
        return 3 * n + self.engine_latency + 6

    def first_out_latency(self, n: int) -> int:
        """Clocks from a row's last input transfer to its first output transfer, no stalls."""
        return n + self.engine_latency + 7

    def elaborate(self, platform):
        m = Module()
        p = self.params
        r = self._registers()
        m.submodules.xbuf = xbuf = memory.Memory(shape=row_layout(p), depth=p.n_max, init=[])
        m.submodules.ebuf = ebuf = memory.Memory(shape=shape_of(p.e_fmt), depth=p.n_max, init=[])
        r.xw, r.xr = xbuf.write_port(), xbuf.read_port()
        r.ew, r.er = ebuf.write_port(), ebuf.read_port()
        m.submodules.exp = r.exp = TaggedEngine(engine_params(p, "exp"), 1)
        m.submodules.rec = r.rec = NLIEngine(engine_params(p, "reciprocal"))
        m.submodules.lod = r.lod = LeadingOne(p.acc_fmt.width)
        m.d.comb += [r.exp.o.ready.eq(1), r.rec.o.ready.eq(1), r.lod.v.eq(r.S)]
        self._exp_datapath(m, r)
        self._out_datapath(m, r)
        # the engine's whole input driven outside the FSM: a payload bit assigned in no state
        # would be printed as an always @* block with nothing to trigger it (X in Verilog-2005)
        m.d.comb += [r.rec.i.payload.x[0].eq(r.s), r.rec.i.payload.func.eq(0)]
        with m.FSM(name="phase"):
            with m.State("LOAD"):
                self._load(m, r)
            with m.State("EXP"):
                self._exp_pass(m, r)
            with m.State("LOD"):
                self._leading_one(m, r)
            with m.State("RECIP"):
                m.d.comb += r.rec.i.valid.eq(1)
                m.next = "RWAIT"        # rec.o.ready = 1, so rec.i.ready = 1: taken now
            with m.State("RWAIT"):
                with m.If(r.rec.o.valid):
                    m.d.sync += [r.r.eq(Mux(r.empty, 0, r.rec.o.payload[0])), r.oa.eq(0),
                                 r.sat_row.eq(0)]
                    m.next = "OUT"
            with m.State("OUT"):
                self._out_pass(m, r)
        return m

    def _registers(self) -> SimpleNamespace:
        """The row state: counters, the max, the sum and the per-row results."""
        p = self.params
        n_range = range(p.n_max + 1)
        return SimpleNamespace(
            n=Signal(n_range, name="n"),                 # the row's length
            wa=Signal(n_range, name="wa"),               # pass 1 write address
            ra=Signal(n_range, name="ra"),               # pass 2 read issue
            wc=Signal(n_range, name="wc"),               # pass 2 e writes
            oa=Signal(n_range, name="oa"),               # pass 3 read issue
            mx=Signal(shape_of(p.in_fmt), name="mx"),    # the max over unmasked entries
            live=Signal(name="live"),                    # some entry unmasked
            S=Signal(p.acc_fmt.width, name="S"),
            k=Signal(p.k_width, name="k"),
            kshift=Signal(p.k_width, name="kshift"),     # k_max - k
            s=Signal(shape_of(p.s_fmt), name="s"),
            r=Signal(shape_of(p.r_fmt), name="r"),
            empty=Signal(name="empty"),
            sat_row=Signal(name="sat_row"),
            fire_x=Signal(name="fire_x"),                # pass 2 issues a read this cycle
            fire_e=Signal(name="fire_e"),                # pass 3 issues a read this cycle
            adv=Signal(name="adv"),                      # pass 3's pipeline advances
        )

    def _load(self, m, r):
        """Pass 1: write {x, mask} at wa, track the max, close the row on last (or n_max)."""
        p, i = self.params, self.i
        m.d.comb += [i.ready.eq(1), r.xw.addr.eq(r.wa), r.xw.data.x.eq(i.payload.x),
                     r.xw.data.mask.eq(i.payload.mask)]
        with m.If(i.valid):
            m.d.comb += r.xw.en.eq(1)
            m.d.sync += r.wa.eq(r.wa + 1)
            with m.If(~i.payload.mask):
                m.d.sync += r.live.eq(1)
                with m.If(~r.live | (i.payload.x > r.mx)):
                    m.d.sync += r.mx.eq(i.payload.x)
            with m.If(i.payload.last | (r.wa == p.n_max - 1)):
                m.d.sync += [r.n.eq(r.wa + 1), r.ra.eq(0), r.wc.eq(0), r.S.eq(0)]
                m.next = "EXP"

    def _exp_pass(self, m, r):
        """Pass 2's control: issue reads 0..n-1; leave when the n-th e has been written."""
        m.d.comb += r.fire_x.eq(r.ra < r.n)
        with m.If(r.fire_x):
            m.d.sync += r.ra.eq(r.ra + 1)
        with m.If(r.exp.o.valid & (r.wc == r.n - 1)):
            m.next = "LOD"

    def _exp_datapath(self, m, r):
        """Pass 2's datapath: row buffer -> d = sat(x - m) -> exp engine -> e buffer and S. The
        engine's ``o.ready`` is 1, so it never stalls and takes the read data the cycle it
        appears (``i.ready`` = ``~o.valid | o.ready`` = 1)."""
        p = self.params
        rd_valid = Signal(name="rd_valid")
        m.d.sync += rd_valid.eq(r.fire_x)
        m.d.comb += r.xr.addr.eq(r.ra)
        diff = Signal(signed(p.diff_width), name="diff")       # x - m, exact
        d, _ = saturate(diff, p.d_fmt)
        m.d.comb += [
            diff.eq(r.xr.data.x - r.mx),
            r.exp.i.valid.eq(rd_valid), r.exp.i.payload.x[0].eq(d),
            r.exp.i.payload.side.eq(r.xr.data.mask),
        ]
        e = Mux(r.exp.o.payload.side, 0, r.exp.o.payload.y[0])
        m.d.comb += [r.ew.addr.eq(r.wc), r.ew.data.eq(e)]
        with m.If(r.exp.o.valid):
            m.d.comb += r.ew.en.eq(1)
            m.d.sync += [r.S.eq(r.S + e), r.wc.eq(r.wc + 1)]

    def _leading_one(self, m, r):
        """k = msb(S) - F_e, s = fl_{msb(S) - F_s}(S) (= fl_{F_e + k - F_s}(S), step 5); empty:
        k = 0 (and r = 0 later)."""
        p = self.params
        Fe, Fs = p.e_fmt.frac_bits, p.s_fmt.frac_bits
        k = Mux(r.live, r.lod.pos - Fe, 0)[:p.k_width]
        s = ((r.S << Fs) >> r.lod.pos)[:p.s_fmt.width]
        m.d.sync += [r.k.eq(k), r.kshift.eq((p.k_max - k)[:p.k_width]), r.s.eq(s),
                     r.empty.eq(~r.live)]
        m.next = "RECIP"

    def _out_pass(self, m, r):
        """Pass 3's control (``readout_pass``)."""
        readout_pass(m, self.o, r, r.fire_e, [r.live.eq(0)])

    def _out_datapath(self, m, r):
        """Pass 3's pipeline, every register stepped by adv = ~o.valid | o.ready: e buffer read
        (its read enable is adv, so the read data hold in a stall) -> e r (or e) -> the output
        register (round and saturate, or e with the row's r and k)."""
        p, o = self.params, self.o
        m.d.comb += [r.adv.eq(~o.valid | o.ready), r.er.addr.eq(r.oa), r.er.en.eq(r.adv)]
        v1, l1, v2, l2 = (Signal(name=f"{n}_out") for n in ("v1", "l1", "v2", "l2"))
        normalized = p.output_mode == "normalized"
        val2 = Signal(p.product_width if normalized else p.e_fmt.width, name="val2")
        with m.If(r.adv):
            m.d.sync += [v1.eq(r.fire_e), l1.eq(r.fire_e & (r.oa == r.n - 1)),
                         v2.eq(v1), l2.eq(l1), o.valid.eq(v2), o.payload.last.eq(l2),
                         o.payload.empty.eq(r.empty),
                         val2.eq(r.er.data * r.r if normalized else r.er.data)]
            if normalized:
                base = p.p_shift_min - p.k_min         # F_e + F_r - F_out
                q = (val2 << r.kshift)[:p.product_width + p.k_max]
                pv, sat_e = saturate(round_shift(q, base + p.k_max, p.rounding), p.out_fmt)
                m.d.sync += [o.payload.p.eq(pv), o.payload.sat.eq(r.sat_row | (v2 & sat_e))]
                with m.If(v2):
                    m.d.sync += r.sat_row.eq(r.sat_row | sat_e)
            else:
                m.d.sync += [o.payload.e.eq(val2), o.payload.r.eq(r.r), o.payload.k.eq(r.k)]
