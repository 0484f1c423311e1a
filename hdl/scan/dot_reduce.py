"""DotReduce: the exact C . h of each (token, channel), summed over its N/P steps (step 8's sum)."""
from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from nlihw.hdl.common.fixed_point import shape_of
from nlihw.hdl.common.product import product
from .datapath import FLAG_BITS, ScanDatapath
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

    Two register stages (the step's sum, the channel's running sum), ``dot_mult`` (the products)
    before them; all advance with ``~o.valid | o.ready``, which is ``i.ready``.
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
        ch = [product(m, f"ch{k}", C[k], r2.h[k], dp.ch_shape, p.multipliers) for k in range(p.lanes)]
        d_v, d_side = self.i.valid, {f: getattr(r2, f) for f in fields}
        if "dot_mult" in p.pipeline:
            v = Signal(name="dot_valid")
            regs = {f: Signal(x.shape(), name=f"dot_{f}") for f, x in d_side.items()}
            ch_r = [Signal(x.shape(), name=f"dot_ch{k}") for k, x in enumerate(ch)]
            with m.If(adv):
                m.d.sync += [v.eq(d_v), *(regs[f].eq(x) for f, x in d_side.items()),
                             *(r.eq(x) for r, x in zip(ch_r, ch))]
            d_v, d_side, ch = v, regs, ch_r
        part = 0
        for x in ch:
            part = part + x
        v3 = Signal()
        r3 = {f: Signal(x.shape(), name=f"part_{f}") for f, x in d_side.items()}
        r3_part = Signal(dp.acc_shape)
        with m.If(adv):
            m.d.sync += [v3.eq(d_v), r3_part.eq(part), *(r3[f].eq(x) for f, x in d_side.items())]
        # the sum over the steps of a channel
        acc_reg, flag_reg = Signal(dp.acc_shape), Signal(FLAG_BITS)
        acc, chflag = Signal(dp.acc_shape), Signal(FLAG_BITS)
        m.d.comb += [acc.eq(Mux(r3["k"] == 0, 0, acc_reg) + r3_part),
                     chflag.eq(Mux(r3["k"] == 0, 0, flag_reg) | r3["flag"])]
        side = self.o.payload.side
        with m.If(adv):
            m.d.sync += self.o.valid.eq(v3 & r3["last"])
            m.d.sync += [side.acc.eq(acc), side.d.eq(r3["d"]), side.u.eq(r3["u"]),
                         side.flag.eq(chflag), self.o.payload.x[0].eq(r3["z"])]
            with m.If(v3):
                m.d.sync += [acc_reg.eq(acc), flag_reg.eq(chflag)]
        return m
