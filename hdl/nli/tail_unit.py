"""Tail outputs for one lane: y = saturate(round(x 2^e) + b) (identity, linear) or y = b (clamp,
zero), for the left and the right tail of the selected function (luts/tails.py).

With a float side (``luts.tails.convert``): clamp gives the stored code b, zero gives 0, identity
gives x converted to the output format, rounded to nearest even and saturating: the code itself
when the formats are equal, ``FloatRound`` into a float output (+-Inf stay infinite where the
output has Inf, else the largest finite value of that sign), ``FloatToFixed`` into a fixed output;
linear gives round(2^S x + b): into a float output the exact sum (``FloatSum``) rounded once by
``FloatRound``, into a fixed output round(2^S x) (``FloatToFixed``) plus b, saturating.

Combinational; the engine feeds it ``x`` delayed to line up with the interpolation's class, so the
tail values enter the multiply-add's output mux as the clamps do. The modes and slopes are fixed
when the engine is generated; the constants ``b`` may be run-time registers (storage="ram").
"""
from __future__ import annotations

from dataclasses import dataclass

from amaranth.hdl import Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from nlihw.hdl.common.fixed_point import round_shift, saturate
from nlihw.luts.tails import TailMode
from nlihw.hdl.common.mux_table import select
from nlihw.hdl.common.fixed_point import shape_of
from .float_round import FloatRound
from .float_sum import FloatSum
from .float_to_fixed import FloatToFixed, float_fields, is_inf


@dataclass(frozen=True)
class _Range:
    """A signed saturation range of ``width`` bits (FloatToFixed's ``out``; may exceed Q's 32)."""
    width: int
    signed: bool = True

    @property
    def max_raw(self) -> int:
        return (1 << (self.width - 1)) - 1

    @property
    def min_raw(self) -> int:
        return -(1 << (self.width - 1))


class TailUnit(wiring.Component):
    """The low and high tail outputs of ``x`` for the selected function (combinational).

    Parameters: ``params`` (``NLIEngineParams``: each table's ``tail_lo``, ``tail_hi``);
    ``b_lo``, ``b_hi``: per function, the offsets b (Values of the output width: constants, or
    registers with storage="ram").

    Members: ``x``: In(in_fmt shape), the input code. ``func``: In(func_bits), the function.
    ``lo``, ``hi``: Out(out width), the output codes of the low and the high tail.
    """

    def __init__(self, params, b_lo, b_hi):
        self.params = params
        self._b = (b_lo, b_hi)                      # [func] Values of the output width (bits)
        lay = params.layout
        super().__init__({
            "x": In(shape_of(lay.in_fmt)),
            "func": In(params.func_bits),
            "lo": Out(lay.out_fmt.width),
            "hi": Out(lay.out_fmt.width),
        })

    def elaborate(self, platform):
        m = Module()
        p, lay = self.params, self.params.layout
        fout = lay.out_fmt
        shifted = {}                                # one shifter per distinct exponent
        self._n_linear = 0

        def output(tail, b_bits, b_side):
            if not tail.gain:
                return b_bits
            if (lay.in_float or lay.out_float) and tail.mode is TailMode.IDENTITY:
                if "identity" not in shifted:
                    shifted["identity"] = self._identity(m)
                return shifted["identity"]
            if lay.in_float or lay.out_float:
                # one adder per side and slope; b is this side's offset of the selected function
                key = (id(b_side), tail.shift)
                if key not in shifted:
                    shifted[key] = self._linear(m, tail.shift, b_side)
                return shifted[key]
            e = tail.exponent(lay)
            if e not in shifted:
                s = Signal(round_shift(self.x, -e, lay.rounding).shape(), name=f"x_shift{e:+d}")
                m.d.comb += s.eq(round_shift(self.x, -e, lay.rounding))
                shifted[e] = s
            b = b_bits.as_signed() if fout.signed else b_bits
            y, _ = saturate(shifted[e] + b, fout)
            return y

        for side, port, tails in (("lo", self.lo, [t.tail_lo for t in p.tables]),
                                  ("hi", self.hi, [t.tail_hi for t in p.tables])):
            b_all = self._b[side == "hi"]
            b_side = Signal(fout.width, name=f"offset_{side}")
            m.d.comb += b_side.eq(select(b_all, self.func))
            outs = []
            for f, tail in enumerate(tails):
                y = Signal(fout.width, name=f"tail_{side}_f{f}")
                m.d.comb += y.eq(output(tail, b_all[f], b_side))
                outs.append(y)
            m.d.comb += port.eq(select(outs, self.func))
        return m

    def _linear(self, m, shift, b):
        """round(2^shift x + b) with a float side (luts.tails.linear_output), as output bits."""
        lay = self.params.layout
        fin, fout = lay.in_fmt, lay.out_fmt
        y = Signal(fout.width, name=f"x_linear{shift:+d}")
        self._n_linear += 1
        tag = f"{'m' if shift < 0 else 'p'}{abs(shift)}_{self._n_linear}"
        if not fout.is_float:
            # float -> fixed: round(2^S x) saturated to the output width + 2 bits, then + b
            wide = _Range(fout.width + 2)
            conv = FloatToFixed(fin, fout.frac_bits + shift, wide, "nearest-even")
            m.submodules[f"linear_{tag}"] = conv
            bv = b.as_signed() if fout.signed else b
            sat, _ = saturate(conv.y + bv, fout)
            m.d.comb += [conv.x.eq(self.x), y.eq(sat)]
            return y
        # a float output: the exact sum, rounded once
        b_sign, b_sig, b_e = float_fields(b, fout)
        e_out = 1 - fout.bias - fout.man_bits
        b_range = (e_out, (1 << fout.exp_bits) - 1 - fout.bias - fout.man_bits)
        if fin.is_float:
            a_sign, a_sig, a_e = float_fields(self.x, fin)
            e_in = 1 - fin.bias - fin.man_bits + shift
            a_range = (e_in, (1 << fin.exp_bits) - 1 - fin.bias - fin.man_bits + shift)
            a_exp = Mux(a_e == 0, 1, a_e) + (e_in - 1)
            a_bits = fin.man_bits + 1
        else:
            neg = self.x[-1] if fin.signed else Const(0, 1)
            a_sign, a_sig = neg, Mux(neg, -self.x, self.x)[:fin.width]
            a_range = (shift - fin.frac_bits,) * 2
            a_exp, a_bits = a_range[0], fin.width
        add = FloatSum(a_bits, a_range, fout.man_bits + 1, b_range, fout.man_bits)
        rnd = FloatRound(fout, add.mag_bits, *add.exp_range)
        m.submodules[f"linear_sum_{tag}"] = add
        m.submodules[f"linear_round_{tag}"] = rnd
        m.d.comb += [add.a_sign.eq(a_sign), add.a_mag.eq(a_sig), add.a_exp.eq(a_exp),
                     add.b_sign.eq(b_sign), add.b_mag.eq(b_sig),
                     add.b_exp.eq(Mux(b_e == 0, 1, b_e) + (e_out - 1)),
                     rnd.sign.eq(add.sign), rnd.mag.eq(add.mag), rnd.exp.eq(add.exp)]
        code = rnd.code
        if fin.is_float:
            inf_mag = fout._inf_mag if fout.has_inf else fout.max_finite_raw
            code = Mux(is_inf(self.x, fin), (a_sign << (fout.width - 1)) | inf_mag, code)
        m.d.comb += y.eq(code)
        return y

    def _identity(self, m):
        """x converted to the output format (luts.tails.convert), as output bits."""
        lay = self.params.layout
        fin, fout = lay.in_fmt, lay.out_fmt
        y = Signal(fout.width, name="x_converted")
        if fin == fout:
            m.d.comb += y.eq(self.x)
        elif not fout.is_float:
            m.submodules.to_fixed = conv = FloatToFixed(fin, fout.frac_bits, fout, "nearest-even")
            m.d.comb += [conv.x.eq(self.x), y.eq(conv.y)]
        elif not fin.is_float:
            # fixed -> float: |x| 2^-frac_bits
            m.submodules.to_float = rnd = FloatRound(fout, fin.width, -fin.frac_bits, -fin.frac_bits)
            neg = self.x[-1] if fin.signed else 0
            m.d.comb += [rnd.sign.eq(neg), rnd.mag.eq(Mux(neg, -self.x, self.x)),
                         rnd.exp.eq(-fin.frac_bits), y.eq(rnd.code)]
        else:
            # float -> another float: sig 2^(max(e,1) - bias - man), Inf kept or saturated
            e_lo = 1 - fin.bias - fin.man_bits
            e_hi = (1 << fin.exp_bits) - 1 - fin.bias - fin.man_bits
            m.submodules.to_float = rnd = FloatRound(fout, fin.man_bits + 1, e_lo, e_hi)
            sign, sig, e = float_fields(self.x, fin)
            inf_mag = fout._inf_mag if fout.has_inf else fout.max_finite_raw
            m.d.comb += [rnd.sign.eq(sign), rnd.mag.eq(sig),
                         rnd.exp.eq(Mux(e == 0, 1, e) + e_lo - 1),
                         y.eq(Mux(is_inf(self.x, fin), (sign << (fout.width - 1)) | inf_mag,
                                  rnd.code))]
        return y
