"""Interpolation y = y0 + t (y1 - y0) in fixed-point arithmetic, for a fixed or a float output:
exact product, one rounding, saturation, then the class mux (inside / low tail / high tail / NaN
input). Four register stages: the table outputs (the block RAM output register), the product
t (y1 - y0), the exact sum (y0 << T) + product, and the rounded, saturated, class-selected result.

Float output: y0, y1 are ``value_bits``-bit signed mantissas of the interval's block exponent E
(input ``exp``, carried beside them); the exact sum acc is rounded once into the output format as
acc 2^(E-T) (``FloatRound``: nearest even, saturating, +0 for acc = 0, -0 for a negative rounding
to 0), which adds its normalize register stage before the output register. A NaN input gives the
canonical NaN (float output) or 0 (fixed output).

Pipeline points (``NLIEngineParams.pipeline``): ``table_out`` (the table data come one cycle later,
through TableStorage's output register: t and the side band wait for them), ``interp_in`` (y1 - y0
and t registered before the product: the multiplier's input register) and ``round_split`` (the
rounded value registered before the saturation and the class mux; float output: the rounded code
magnitude, inside ``FloatRound``). Each adds one register stage and carries the side band along.
"""
from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from nlihw.formats import Rounding
from nlihw.hdl.common.data_register import data_register
from nlihw.hdl.common.product import product_terms, signed_width, sum_terms
from .float_round import FloatRound
from .micro_bin import CLS_HIGH, CLS_LOW, CLS_NAN


def value_shape(layout):
    """Shape of a stored value: the output format (fixed point) or a signed block mantissa."""
    fmt = layout.out_fmt
    if layout.out_float:
        return signed(layout.value_bits)
    return signed(fmt.width) if fmt.signed else unsigned(fmt.width)


class InterpolationMAC(wiring.Component):
    """y = the class mux of round(y0 + t (y1 - y0)), saturated; every register advances on ``en``.

    Parameters: ``params`` (``NLIEngineParams``): its layout gives the widths and formats, its
    ``pipeline`` the optional register points (``table_out``, ``interp_in``, ``round_split``),
    ``diff_bits`` the width of y1 - y0, ``multipliers`` how the product is built.

    Members:

    - ``en``: In(1), advance every register.
    - ``y0``, ``y1``: In(value_bits), the interval's end values (fixed: output codes; float: signed
      block mantissas). ``t``: In(t_bits), the fraction. ``cls``: In(2), the class (``CLS_*``).
    - ``clamp_lo``, ``clamp_hi``: In(out_width), the outputs of the low and high tails.
    - ``exp``: In(signed(exp_bits)), the block exponent E (float output only).
    - ``y``: Out(out_width), the output code (registered; NaN input: canonical NaN or 0).
    """

    def __init__(self, params):
        self.params = params
        lay = params.layout
        w, vb = params.out_width, lay.value_bits
        ports = {
            "en": In(1),
            "y0": In(vb), "y1": In(vb), "t": In(lay.t_bits), "cls": In(2),
            "clamp_lo": In(w), "clamp_hi": In(w),
            "y": Out(w),
        }
        if lay.out_float:
            ports["exp"] = In(signed(lay.exp_bits))
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        lay, pl = self.params.layout, self.params.pipeline
        y0, t0, diff, side = self._table_stage(m)
        acc, up_r, side = self._product_sum(m, y0, t0, diff, side)
        if lay.out_float:
            sat, side = self._float_round(m, acc, side)
            nan_code = lay.out_fmt.canonical_nan
        else:
            # stage 3: one rounding; saturate
            sat = self._fixed_round(m, acc, value_shape(lay), "round_split" in pl, up_r)
            if "round_split" in pl:
                side = self._carry(m, side, "_s")
            nan_code = 0
        (cls_r, _), (lo_r, _), (hi_r, _) = side[:3]
        out = Mux(cls_r == CLS_LOW, lo_r, Mux(cls_r == CLS_HIGH, hi_r, sat))
        if lay.in_float:
            out = Mux(cls_r == CLS_NAN, Const(nan_code, lay.out_fmt.width), out)
        y = data_register(m, self.y)
        with m.If(self.en):
            m.d.sync += y.eq(out)
        return m

    def _carry(self, m, side, stage):
        """The side band [(value, shape)] through one register (names ``cls``, ``lo``, ``hi``,
        ``exp`` + ``stage``)."""
        regs = [Signal(s, name=f"{n}{stage}", reset_less=True) for (_, s), n in zip(side, ("cls", "lo", "hi", "exp"))]
        with m.If(self.en):
            m.d.sync += [r.eq(v) for r, (v, _) in zip(regs, side)]
        return [(r, s) for r, (_, s) in zip(regs, side)]

    def _table_stage(self, m):
        """Stage 0: the table outputs and t registered (after ``table_out``'s wait for the table
        data); returns (y0, t, y1 - y0, side band)."""
        lay, pl = self.params.layout, self.params.pipeline
        T, w, shape = lay.t_bits, lay.out_fmt.width, value_shape(lay)
        # side band that travels beside the data: class, tail values, (float) block exponent
        side_in = [(self.cls, 2), (self.clamp_lo, w), (self.clamp_hi, w)]
        if lay.out_float:
            side_in.append((self.exp, signed(lay.exp_bits)))
        t_in = self.t
        if "table_out" in pl:
            # the table data come through TableStorage's output register: wait for them
            t_in = Signal(T, name="t_w", reset_less=True)
            with m.If(self.en):
                m.d.sync += t_in.eq(self.t)
            side_in = self._carry(m, side_in, "_w")

        y0, y1 = Signal(shape, reset_less=True), Signal(shape, reset_less=True)
        t0 = Signal(T, reset_less=True)
        with m.If(self.en):
            m.d.sync += [y0.eq(self.y0), y1.eq(self.y1), t0.eq(t_in)]
        side = self._carry(m, side_in, 0)
        db = self.params.diff_bits
        diff = y1 - y0
        if db < lay.diff_bits:
            diff = diff[:db].as_signed()       # adjacent values of these tables differ this little
        return y0, t0, diff, side

    def _product_sum(self, m, y0, t0, diff, side):
        """Stages 1 and 2 (after ``interp_in``'s input register): the exact product t (y1 - y0),
        then the exact sum (y0 << T) + product; returns (sum, round_split's round-up bit or None,
        side band)."""
        lay, pl = self.params.layout, self.params.pipeline
        T, shape, db = lay.t_bits, value_shape(lay), self.params.diff_bits
        if "interp_in" in pl:
            # the product's input register: y1 - y0 and t (y0 beside them)
            y0_a, t_a = Signal(shape, name="y0_a", reset_less=True), Signal(T, name="t_a", reset_less=True)
            diff_a = Signal(signed(db), name="diff_a", reset_less=True)
            with m.If(self.en):
                m.d.sync += [y0_a.eq(y0), t_a.eq(t0), diff_a.eq(diff)]
            side = self._carry(m, side, "_a")
            y0, t0, diff = y0_a, t_a, diff_a

        # stage 1: product t * (y1 - y0), exact, registered as its terms (the DSP block's product
        # in its own output register, the fabric's carry-save rows beside it)
        width = max(lay.acc_bits, signed_width(t0.shape()) + signed_width(diff.shape()))
        y0_r = Signal(shape, reset_less=True)
        terms = product_terms(m, t0, diff, self.params.multipliers, width)
        terms_r = [Signal(width, name=f"prod{j}", reset_less=True) for j in range(len(terms))]
        with m.If(self.en):
            m.d.sync += [y0_r.eq(y0), *(r.eq(t) for r, t in zip(terms_r, terms))]
        side = self._carry(m, side, 1)

        # stage 2: the exact sum, the product's terms and y0 << T in one carry chain
        acc = Signal(signed(lay.acc_bits), reset_less=True)
        with m.If(self.en):
            m.d.sync += acc.eq(sum_terms(m, [y0_r << T, *terms_r], width))
        side = self._carry(m, side, "_r")
        up_r = None
        if ("round_split" in pl and not lay.out_float
                and lay.rounding in (Rounding.NEAREST_EVEN, Rounding.FLOOR)):
            # the round-up bit beside the sum: acc's low T bits are prod's (y0 << T has zeros
            # there) and acc[T] = y0[0] ^ prod[T], so the split rounding stage is one increment;
            # prod's low T + 1 bits from its terms' (a short chain of their own)
            up_r = Signal(name="up_r", reset_less=True)
            prod = sum_terms(m, [t[:T + 1] for t in terms_r], T + 1)
            rem, half = prod[:T], Const(1 << (T - 1), T)
            up = Const(0) if lay.rounding is Rounding.FLOOR else \
                (rem > half) | ((rem == half) & (y0_r[0] ^ prod[T]))
            with m.If(self.en):
                m.d.sync += up_r.eq(up)
        return acc, up_r, side

    def _float_round(self, m, acc, side):
        """Stages 3, 4 of a float output: normalize (registered inside FloatRound), round acc
        2^(E - T); returns (output code, side band without the exponent)."""
        lay, T = self.params.layout, self.params.layout.t_bits
        e_lo, e_hi = lay.exp_range
        split = "round_split" in self.params.pipeline
        m.submodules.round = rnd = FloatRound(lay.out_fmt, lay.acc_bits - 1, e_lo - T, e_hi - T,
                                              pipelined=True, split_round=split)
        exp_r = side[3][0]
        m.d.comb += [rnd.en.eq(self.en), rnd.sign.eq(acc[-1]),
                     rnd.mag.eq(Mux(acc[-1], -acc, acc)), rnd.exp.eq(exp_r - T)]
        side = self._carry(m, side[:3], "_n")
        if split:
            side = self._carry(m, side, "_s")
        return rnd.code, side

    def _fixed_round(self, m, acc, shape, split=False, up_r=None):
        lay = self.params.layout
        fmt, T, w = lay.out_fmt, lay.t_bits, lay.out_fmt.width
        fl = Signal(signed(lay.acc_bits - T + 1))
        m.d.comb += fl.eq(acc >> T)
        rem = acc[:T]
        half = Const(1 << (T - 1), T)
        r = lay.rounding
        if r is Rounding.FLOOR:
            up = Const(0)
        elif r is Rounding.TOWARD_ZERO:
            up = acc[-1] & (rem != 0)
        elif r is Rounding.NEAREST_AWAY:
            up = (rem > half) | ((rem == half) & ~acc[-1])
        else:
            up = (rem > half) | ((rem == half) & fl[0])
        if up_r is not None:
            up = up_r                                    # formed beside the sum (round_split)
        rounded = Signal(signed(lay.acc_bits - T + 2))
        m.d.comb += rounded.eq(fl + up)
        if split:
            # round_split: the rounded value registered; saturation and class mux after it
            rounded_r = Signal.like(rounded, name="rounded_r", reset_less=True)
            with m.If(self.en):
                m.d.sync += rounded_r.eq(rounded)
            rounded = rounded_r
        sat = Signal(w)
        m.d.comb += sat.eq(Mux(rounded > fmt.max_raw, Const(fmt.max_raw, shape),
                               Mux(rounded < fmt.min_raw, Const(fmt.min_raw, shape), rounded)))
        return sat
