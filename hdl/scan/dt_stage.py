"""DtStage: the exp input w = sat(r(dt * A)) per exp lane and dtu = sat(r(dt * u)) (steps 3 and 5)."""
from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from nlihw.hdl.common.fixed_point import saturate, shape_of
from nlihw.hdl.common.data_register import data_register
from nlihw.hdl.common.product import product_terms_of, round_terms
from .config_port import read_bus
from .datapath import ScanDatapath
from .params import ScanParams
from .read_ahead import ReadAhead


class DtStage(wiring.Component):
    """Between the softplus and exp engines.

    - ``i`` (in): the softplus output ``{y: dt, side: softplus_side}``.
    - ``a_rd`` (``read_bus``): A of the item (d*steps + k, or the head in Mamba-2), one word
      per exp lane, read a cycle ahead: items arrive in (token, channel, step) order, so when one
      is taken the next one's word is read (its address follows from the item's side band); the
      read's output register holds A of the item on ``i`` (no latency added, valid from the
      second cycle after reset).
    - ``o`` (out): the exp input ``{x: w per lane, side: exp_side}``; side.dtu = dt*u; side.flag
      also when dt*u saturated or dt*A overflowed above w_fmt (below it exp is ~0: not flagged).

    One register stage, and ``dta_in`` (dt, A, side), ``dta_mult`` (the products) and ``dta_round``
    (the products rounded, before their saturation and the flag) before it.
    """

    def __init__(self, params: ScanParams):
        self.params = p = params
        dp = ScanDatapath(p)
        super().__init__({
            "i": In(stream.Signature(dp.engine_out("softplus", dp.softplus_side))),
            "o": Out(stream.Signature(dp.engine_in("exp", dp.exp_side))),
            "a_rd": Out(read_bus(dp.a_words, data.ArrayLayout(shape_of(p.a_fmt), p.exp_lanes))),
        })

    def elaborate(self, platform):
        m = Module()
        p = self.params
        dp = ScanDatapath(p)
        rnd, pl, lanes = p.rounding, p.pipeline, p.exp_lanes
        sb1 = dp.softplus_side
        s1 = self.i.payload.side
        dt = self.i.payload.y[0]                                   # unsigned dt_fmt bits
        e_valid, e_out = self.o.valid, data_register(m, self.o.payload)
        e_side = e_out.side
        adv_e = Signal()
        m.d.comb += [adv_e.eq(~e_valid | self.o.ready), self.i.ready.eq(adv_e)]
        self._read_ahead(m)
        # dta_in registers dt, A and the side band (cuts the A read from the multiply),
        # dta_mult the products (cuts the multiply from the rounding and saturation)
        x_valid, x_dt, x_side = self.i.valid, dt, s1
        x_a = [self.a_rd.data[k] for k in range(lanes)]
        if "dta_in" in pl:
            v = Signal(name="dta_valid")
            dt_r = Signal(dt.shape(), name="dta_dt", reset_less=True)
            side_r = Signal(sb1, name="dta_side", reset_less=True)
            a_r = [Signal(shape_of(p.a_fmt), name=f"dta_a{k}", reset_less=True) for k in range(lanes)]
            with m.If(adv_e):
                m.d.sync += [v.eq(x_valid), dt_r.eq(x_dt), side_r.eq(x_side)]
                m.d.sync += [a_r[k].eq(x_a[k]) for k in range(lanes)]
            x_valid, x_dt, x_side, x_a = v, dt_r, side_r, a_r
        # each product as terms (the block's product, the fabric's rows): dta_mult registers
        # them, and their sum and its rounding share one carry chain behind it
        w_terms = [product_terms_of(m, f"dtA{k}", x_dt, x_a[k], p.multipliers) for k in range(lanes)]
        dtu_terms = product_terms_of(m, "dtu", x_dt, x_side.u, p.multipliers)
        if "dta_mult" in pl:
            x_valid, x_side, w_terms, dtu_terms = _register(m, "dtm", adv_e, x_valid, x_side, w_terms, dtu_terms)
        w_round = [round_terms(m, terms, len(terms[0]), dp.w_shift, rnd) for terms in w_terms]
        dtu_round = round_terms(m, dtu_terms, len(dtu_terms[0]), dp.dtu_shift, rnd)
        if "dta_round" in pl:
            x_valid, x_side, w_round, dtu_round = _register(m, "dtr", adv_e, x_valid, x_side, w_round, dtu_round)
        w_vals, flag2 = [], x_side.flag
        for rounded in w_round:
            w_vals.append(saturate(rounded, p.w_fmt)[0])
            flag2 = flag2 | (rounded > p.w_fmt.max_raw)
        dtu_sat, dtu_ovf = saturate(dtu_round, p.dtu_fmt)
        flag2 = flag2 | dtu_ovf
        with m.If(adv_e):
            m.d.sync += e_valid.eq(x_valid)
            m.d.sync += [e_out.x[k].eq(w_vals[k]) for k in range(lanes)]
            m.d.sync += [e_side.d.eq(x_side.d), e_side.k.eq(x_side.k), e_side.first.eq(x_side.first),
                         e_side.last.eq(x_side.last), e_side.dtu.eq(dtu_sat), e_side.u.eq(x_side.u),
                         e_side.z.eq(x_side.z), e_side.flag.eq(flag2)]
            if not dp.queued_bc:
                m.d.sync += [e_side.B.eq(x_side.B), e_side.C.eq(x_side.C)]
        return m

    def _read_ahead(self, m: Module):
        """Reads A of the item after the one on ``i`` when that one is taken (the enable holds the
        word through a stall); on ``reissue`` that of the item expected next (0 after reset)."""
        p, dp = self.params, ScanDatapath(self.params)
        group = 1 if p.mode == "mamba1" else p.headdim * p.steps
        words = p.d_inner * p.steps if p.mode == "mamba1" else p.n_heads
        m.submodules.a_ahead = ahead = ReadAhead(words, group, self.a_rd.data.shape())
        wiring.connect(m, ahead.rd, wiring.flipped(self.a_rd))
        m.d.comb += ahead.take.eq(self.i.valid & self.i.ready)
        assert len(ahead.rd.addr) == len(self.a_rd.addr) and dp.a_words == max(2, words)


def _register(m: Module, prefix: str, en, valid, side, ws: list, dtu):
    """One register stage of the dt stage, advancing with ``en``: the item's valid, side band, its
    dt*A values (one per exp lane, each a value or a list of terms) and dt*u; the registered
    (valid, side, ws, dtu)."""
    v, side_r = Signal(name=f"{prefix}_valid"), Signal.like(side, name=f"{prefix}_side", reset_less=True)

    def reg(x, name):
        if isinstance(x, list):
            return [reg(t, f"{name}_t{j}") for j, t in enumerate(x)]
        r = Signal(x.shape(), name=name, reset_less=True)
        m.d.sync += r.eq(x)
        return r
    with m.If(en):
        m.d.sync += [v.eq(valid), side_r.eq(side)]
        ws_r = [reg(w, f"{prefix}_dtA{k}") for k, w in enumerate(ws)]
        dtu_r = reg(dtu, f"{prefix}_dtu")
    return v, side_r, ws_r, dtu_r
