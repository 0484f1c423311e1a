"""OutputStage: y = sat(r(C . h)), yd = sat(y + r(D * u)), out = sat(r(yd * g)) (steps 8 to 10)."""
from __future__ import annotations

from amaranth.hdl import Const, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from nlihw.hdl.common.fixed_point import round_shift, saturate, shape_of
from nlihw.hdl.common.data_register import data_register
from nlihw.hdl.common.product import product_terms_of, round_terms
from .config_port import read_bus
from .datapath import CLAMPED, FLAG_BITS, OVERFLOW, ScanDatapath, output_layout
from .params import ScanParams
from .read_ahead import ReadAhead


class OutputStage(wiring.Component):
    """The output of each (token, channel).

    - ``i`` (in): the SiLU engine's output ``{y: g, side: silu_side}`` (without a gate, g is unused).
    - ``d_rd`` (``read_bus``): D of the channel, read a cycle ahead: channels arrive in order,
      so when an item is taken the next channel is read (the enable holds the word through a
      stall; ``reissue`` rereads the channel expected next); the read's output register holds D
      of the item on ``i`` (no latency added, valid from the second cycle after reset).
    - ``o`` (out): ``{out, overflow, clamped}``, both sticky since reset: the OR, in output order,
      of every item's flag bits (``overflow`` also of every saturation here).

    Three register stages (y and D*u; y + D*u; out), advancing with ``~o.valid | o.ready``;
    ``du_in`` (D, u), ``du_mult`` (D*u), ``out_mult`` (yd * g) and ``out_round`` (its rounding,
    before the saturation) each add one.
    """

    def __init__(self, params: ScanParams):
        self.params = p = params
        dp = ScanDatapath(p)
        super().__init__({
            "i": In(stream.Signature(dp.engine_out("silu", dp.silu_side))),
            "d_rd": Out(read_bus(max(2, p.d_inner), shape_of(p.d_fmt))),
            "o": Out(stream.Signature(output_layout(p))),
        })

    def elaborate(self, platform):
        m = Module()
        p = self.params
        dp = ScanDatapath(p)
        rnd, pl = p.rounding, p.pipeline
        o_in = self.i.payload.side
        g_in = self.i.payload.y[0] if p.gate else Const(0, p.g_fmt.width)
        adv_o = Signal()
        m.d.comb += [adv_o.eq(~self.o.valid | self.o.ready), self.i.ready.eq(adv_o)]
        # D of the channel after the one in hand, read when that one is taken
        m.submodules.d_ahead = ahead = ReadAhead(p.d_inner, 1, self.d_rd.data.shape())
        wiring.connect(m, ahead.rd, wiring.flipped(self.d_rd))
        m.d.comb += ahead.take.eq(self.i.valid & self.i.ready)
        g_shape = shape_of(p.g_fmt)
        ov1, ov2 = Signal(), Signal()
        # values without a reset (their valid bits have one; hdl/common/data_register.py): a reset
        # on yd * g's operand registers, which the DSP block absorbs, cost a LUT in front of them
        R = dict(reset_less=True)
        y1, du1 = Signal(shape_of(p.y_fmt), reset_less=True), Signal(dp.du_round_shape, reset_less=True)
        g1, g2 = Signal(g_shape, reset_less=True), Signal(g_shape, reset_less=True)
        f1, f2 = Signal(FLAG_BITS, **R), Signal(FLAG_BITS, **R)
        yd2 = Signal(shape_of(p.y_fmt), reset_less=True)
        # du_in registers D and u before the D*u multiply, du_mult the product
        # before its rounding; both ahead of stage 1. y = C . h is rounded before the first of them
        # (between them, beside the multiply, when both are enabled) and saturated after (with
        # neither, both happen in stage 1)
        late = "du_in" in pl and "du_mult" in pl
        x_acc = o_in.acc if late else round_shift(o_in.acc, dp.y_shift, rnd)
        x_valid, x_flag, x_g, x_d, x_u = self.i.valid, o_in.flag, g_in, self.d_rd.data, o_in.u
        if "du_in" in pl:
            regs = [Signal(), Signal(x_acc.shape(), **R), Signal(FLAG_BITS, **R), Signal(g_shape, **R),
                    Signal(shape_of(p.d_fmt), **R), Signal(shape_of(p.u_fmt), **R)]
            with m.If(adv_o):
                m.d.sync += [r.eq(x) for r, x in zip(regs, (x_valid, x_acc, x_flag, x_g, x_d, x_u))]
            x_valid, x_acc, x_flag, x_g, x_d, x_u = regs
        if late:
            x_acc = round_shift(x_acc, dp.y_shift, rnd)
        # products as their terms (the block's product, the fabric's rows): du_mult and out_mult
        # register them, and their sum and rounding share one carry chain behind the register
        du_terms = product_terms_of(m, "du", x_d, x_u, p.multipliers)
        if "du_mult" in pl:
            regs = [Signal(), Signal(x_acc.shape(), **R), Signal(FLAG_BITS, **R), Signal(g_shape, **R),
                    *(Signal(t.shape(), name=f"du_term{j}", **R) for j, t in enumerate(du_terms))]
            with m.If(adv_o):
                m.d.sync += [r.eq(x) for r, x in zip(regs, (x_valid, x_acc, x_flag, x_g, *du_terms))]
            x_valid, x_acc, x_flag, x_g, *du_terms = regs
        y_sat, y_ovf = saturate(x_acc, p.y_fmt)
        du = round_terms(m, du_terms, len(du_terms[0]), dp.du_shift, rnd)
        yd_sat, yd_ovf = saturate(y1 + du1, p.y_fmt)
        ov3, f3 = ov2, f2
        # without the gate there is no product: out_mult only delays
        out_terms = product_terms_of(m, "out", yd2, g2, p.multipliers) if p.gate else [yd2]
        if "out_mult" in pl:                 # the product's terms registered before rounding
            terms3 = [Signal(t.shape(), name=f"out_term{j}", **R) for j, t in enumerate(out_terms)]
            ov3, f3 = Signal(), Signal(FLAG_BITS, **R)
            with m.If(adv_o):
                m.d.sync += [*(r.eq(t) for r, t in zip(terms3, out_terms)), ov3.eq(ov2), f3.eq(f2)]
            out_terms = terms3
        rounded = (round_terms(m, out_terms, len(out_terms[0]), dp.out_shift, rnd) if p.gate
                   else round_shift(out_terms[0], dp.out_shift, rnd))
        if "out_round" in pl:                # rounded, registered before the saturation
            r4, ov4, f4 = Signal(rounded.shape(), **R), Signal(), Signal(FLAG_BITS, **R)
            with m.If(adv_o):
                m.d.sync += [r4.eq(rounded), ov4.eq(ov3), f4.eq(f3)]
            rounded, ov3, f3 = r4, ov4, f4
        out_sat, out_ovf = saturate(rounded, p.out_fmt)
        sticky, f_out = Signal(FLAG_BITS), Signal(FLAG_BITS)
        m.d.comb += f_out.eq(sticky | f3 | out_ovf)
        o_out = data_register(m, self.o.payload)
        with m.If(adv_o):
            m.d.sync += [ov1.eq(x_valid), y1.eq(y_sat), du1.eq(du), g1.eq(x_g),
                         f1.eq(x_flag | y_ovf),
                         ov2.eq(ov1), yd2.eq(yd_sat), g2.eq(g1), f2.eq(f1 | yd_ovf),
                         self.o.valid.eq(ov3), o_out.out.eq(out_sat),
                         o_out.overflow.eq(f_out[OVERFLOW]), o_out.clamped.eq(f_out[CLAMPED])]
            with m.If(ov3):
                m.d.sync += sticky.eq(f_out)
        return m
