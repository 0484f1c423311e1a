"""DotReduce: the exact C . h of each (token, channel), summed over its N/P steps (step 8's sum)."""
from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from nlihw.hdl.common.fixed_point import shape_of
from nlihw.hdl.common.data_register import data_register
from nlihw.hdl.common.product import compress_terms, product_terms_of, sum_terms
from .datapath import FLAG_BITS, LANE_GROUP, ScanDatapath
from .params import ScanParams




class DotReduce(wiring.Component):
    """Exact partial sums C . h per step, accumulated over a channel's steps; one item leaves per
    channel.

    - ``i`` (in): ``lanes_layout`` (k, last, the item, the step's P states, and C unless
      ``queued_bc``).
    - With ``queued_bc``: ``c_token`` (in): the item's token's C (``TokenQueue.head``); ``c_pop``
      (out): the token's last item is taken.
    - ``o`` (out): the SiLU engine's input ``{x: z, side: silu_side}``; side.acc = sum_n C_n h_n
      (exact, acc_width), side.flag = the OR of the channel's steps' flags.

    Two register stages, ``dot_mult`` (the products, as their terms: ``ProductTerms`` at the sum's
    width) and ``dot_rows`` (each group of ``dot_group`` lanes' terms as two carry-save rows, so the
    tree across the lanes starts from registers beside them) before them: the step's sum as the two rows of a carry-save tree over every lane's
    terms, then the channel's running sum, which adds them to the running sum in one carry chain.
    All advance with ``~o.valid | o.ready``, which is ``i.ready``.
    """

    def __init__(self, params: ScanParams):
        self.params = p = params
        dp = ScanDatapath(p)
        super().__init__({
            "i": In(stream.Signature(dp.lanes_layout)),
            "o": Out(stream.Signature(dp.engine_in("silu", dp.silu_side))),
            **({"c_token": In(data.ArrayLayout(shape_of(p.c_fmt), p.d_state)), "c_pop": Out(1)}
               if dp.queued_bc else {}),
        })

    def elaborate(self, platform):
        m = Module()
        p = self.params
        dp = ScanDatapath(p)
        adv = Signal()
        m.d.comb += [adv.eq(~self.o.valid | self.o.ready), self.i.ready.eq(adv)]
        r2 = self.i.payload
        fields = ("k", "last", "d", "u", "z", "flag")
        if dp.queued_bc:               # P = N: the token's C is the step's
            C = self.c_token
            m.d.comb += self.c_pop.eq(self.i.valid & self.i.ready & (r2.d == p.d_inner - 1))
        else:
            C = r2.C
        width = dp.acc_shape.width
        ch = [t for k in range(p.lanes)
              for t in product_terms_of(m, f"ch{k}", C[k], r2.h[k], p.multipliers, width)]
        d_v, d_side = self.i.valid, {f: getattr(r2, f) for f in fields}
        if "dot_mult" in p.pipeline:
            v = Signal(name="dot_valid")
            regs = {f: Signal(x.shape(), name=f"dot_{f}", reset_less=True) for f, x in d_side.items()}
            ch_r = [Signal(x.shape(), name=f"dot_term{j}", reset_less=True) for j, x in enumerate(ch)]
            with m.If(adv):
                m.d.sync += [v.eq(d_v), *(regs[f].eq(x) for f, x in d_side.items()),
                             *(r.eq(x) for r, x in zip(ch_r, ch))]
            d_v, d_side, ch = v, regs, ch_r
        if "dot_rows" in p.pipeline:
            # each group of lanes' terms to two rows, registered near those lanes
            per = len(ch) // p.lanes
            size = dot_group(p.lanes, per)
            groups = [compress_terms(m, ch[g * per:(g + size) * per], width) for g in range(0, p.lanes, size)]
            v = Signal(name="rows_valid")
            regs = {f: Signal(x.shape(), name=f"rows_{f}", reset_less=True) for f, x in d_side.items()}
            rows_r = [[Signal(width, name=f"rows_g{g}_{j}", reset_less=True) for j in range(len(rows))] for g, rows in enumerate(groups)]
            with m.If(adv):
                m.d.sync += [v.eq(d_v), *(regs[f].eq(x) for f, x in d_side.items()),
                             *(r.eq(x) for rs, rows in zip(rows_r, groups) for r, x in zip(rs, rows))]
            d_v, d_side, ch = v, regs, [r for rs in rows_r for r in rs]
        rows = compress_terms(m, ch, width)
        v3 = Signal()
        r3 = {f: Signal(x.shape(), name=f"part_{f}", reset_less=True) for f, x in d_side.items()}
        r3_rows = [Signal(width, name=f"part_row{j}", reset_less=True) for j in range(len(rows))]
        with m.If(adv):
            m.d.sync += [v3.eq(d_v), *(r.eq(x) for r, x in zip(r3_rows, rows)),
                         *(r3[f].eq(x) for f, x in d_side.items())]
        # the sum over the steps of a channel
        acc_reg, flag_reg = Signal(dp.acc_shape, reset_less=True), Signal(FLAG_BITS, reset_less=True)
        acc, chflag = Signal(dp.acc_shape), Signal(FLAG_BITS)
        running = [] if p.steps == 1 else [Mux(r3["k"] == 0, 0, acc_reg)]
        m.d.comb += [acc.eq(sum_terms(m, [*running, *r3_rows], width)),
                     chflag.eq(Mux(r3["k"] == 0, 0, flag_reg) | r3["flag"])]
        out = data_register(m, self.o.payload)
        side = out.side
        with m.If(adv):
            m.d.sync += self.o.valid.eq(v3 & r3["last"])
            m.d.sync += [side.acc.eq(acc), side.d.eq(r3["d"]), side.u.eq(r3["u"]),
                         side.flag.eq(chflag), out.x[0].eq(r3["z"])]
            with m.If(v3):
                m.d.sync += [acc_reg.eq(acc), flag_reg.eq(chflag)]
        return m


def csa_levels(rows: int) -> int:
    """Levels of 3:2 compressors that reduce ``rows`` rows to two (``compress_terms``)."""
    levels = 0
    while rows > 2:
        rows, levels = rows - rows // 3, levels + 1
    return levels


def dot_group(lanes: int, per: int) -> int:
    """Lanes per carry-save group of ``dot_rows``: the two trees around the register (g lanes' ``per``
    terms each to two rows, then the groups' rows to two) about equally deep, the larger group on a
    tie (P = 4: 2, P = 16: 4, at three terms a lane; one group of four at P = 4 put five levels
    before the register and none after, the P = 4 limit on an ECP5), and at most ``LANE_GROUP``."""
    def depth(g):
        return max(csa_levels(g * per), csa_levels(2 * -(-lanes // g)))
    return min(range(min(lanes, LANE_GROUP), 0, -1), key=depth)
