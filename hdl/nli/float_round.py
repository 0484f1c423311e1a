"""Round (-1)^sign mag 2^exp (an integer magnitude and a binary exponent) once, to nearest even,
into a float format, saturating to the largest finite value: the RTL twin of ``FP.quantize``.

Used by the float MAC (acc 2^(E-T)) and by the identity tails that convert into a float output.

Normalize: p = index of mag's leading one, binade b = max(p + exp, emin) (emin = 1 - bias: the
subnormal range), right shift r = b - man - exp (r >= -man; r > mag's width gives 0 like any
larger r). Round: q = RNE(mag 2^-r), code magnitude ((b + bias - 1) << man) + q (a carry moves
into the next binade, or from subnormal to normal, by itself), then the saturation and the sign:
an exact 0 keeps the sign it came with (the MAC's acc = 0 is positive: +0), a negative rounding
to 0 gives -0. ``pipelined``: one register (advancing on ``en``) between normalize and round;
``split_round`` (with ``pipelined``): one more between the rounded code magnitude and its saturation.
"""
from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from nlihw.formats import FP


class FloatRound(wiring.Component):
    """``code`` = (-1)^sign mag 2^exp rounded to nearest even into ``fmt``, saturating.

    Parameters: ``fmt`` (``FP``), the output format; ``mag_bits``, the width of ``mag``;
    ``exp_lo``, ``exp_hi``, the range of ``exp``; ``pipelined``: a register between normalize and
    round (adds the ``en`` port); ``split_round`` (with ``pipelined``): one more before the
    saturation.

    Members: ``sign``: In(1). ``mag``: In(mag_bits), the magnitude (an integer). ``exp``:
    In(signed), the binary exponent. ``en``: In(1), advance the registers (``pipelined`` only).
    ``code``: Out(fmt.width), the rounded code.
    """

    def __init__(self, fmt: FP, mag_bits: int, exp_lo: int, exp_hi: int, pipelined: bool = False,
                 split_round: bool = False):
        self.fmt, self.mag_bits = fmt, mag_bits
        self.exp_lo, self.exp_hi, self.pipelined = exp_lo, exp_hi, pipelined
        if split_round and not pipelined:
            raise ValueError("FloatRound: split_round needs pipelined=True (it adds a register)")
        self.split_round = split_round
        ports = {"sign": In(1), "mag": In(mag_bits),
                 "exp": In(signed(max(abs(exp_lo), abs(exp_hi)).bit_length() + 1)),
                 "code": Out(fmt.width)}
        if pipelined:
            ports["en"] = In(1)
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        fmt, N = self.fmt, self.mag_bits
        man, emin = fmt.man_bits, 1 - fmt.bias
        # --- normalize: leading one, binade, shift ------------------------------------------
        p = Signal(range(max(2, N)), name="lead")
        for k in range(N):                              # the highest set bit wins
            with m.If(self.mag[k]):
                m.d.comb += p.eq(k)
        b_lo, b_hi = min(emin, self.exp_lo), max(emin, self.exp_hi + N - 1)
        b = Signal(range(b_lo, b_hi + 1), name="binade")
        # mag = 0: the subnormal binade, so the code is 0 (q = 0)
        m.d.comb += b.eq(Mux((self.mag != 0) & (p + self.exp > emin), p + self.exp, emin))
        sh_max = N + man + 1                            # shift of mag << man; beyond: 0 anyway
        r_man = b - self.exp                            # r + man = b - exp >= 0
        sh = Signal(range(sh_max + 1), name="shift")
        m.d.comb += sh.eq(Mux(r_man > sh_max, sh_max, r_man))
        sign, mag = self.sign, self.mag
        if self.pipelined:
            regs = [Signal(1, name="sign_r", reset_less=True), Signal(N, name="mag_r", reset_less=True),
                    Signal.like(b, name="binade_r", reset_less=True),
                    Signal.like(sh, name="shift_r", reset_less=True)]
            with m.If(self.en):
                m.d.sync += [dst.eq(src) for dst, src in zip(regs, (sign, mag, b, sh))]
            sign, mag, b, sh = regs
        # --- round: q = RNE((mag << man) >> sh) ------------------------------------------------
        ext = Cat(Const(0, man), mag)
        kept = Signal(man + 1, name="kept")             # < 2^(man+1) because r >= p - man
        m.d.comb += kept.eq(ext >> sh)
        below = ((Const(1, 1) << sh) - 1)[:N + man + 1]   # mask of the bits shifted out
        sh_m1 = Signal.like(sh, name="shift_m1")
        m.d.comb += sh_m1.eq(Mux(sh != 0, sh - 1, 0))
        round_bit = Signal()
        sticky = Signal()
        m.d.comb += [round_bit.eq((sh != 0) & ((ext >> sh_m1)[0])),
                     sticky.eq((ext & (below >> 1)) != 0)]
        q = Signal(man + 2, name="q")
        m.d.comb += q.eq(kept + (round_bit & (sticky | kept[0])))
        code_hi = ((b_hi + fmt.bias - 1) << man) + (1 << (man + 1))
        cmag = Signal(range(code_hi + 1), name="code_mag")
        m.d.comb += cmag.eq(((b + (fmt.bias - 1)) << man) + q)
        if self.split_round:
            cmag_r = Signal.like(cmag, name="code_mag_r", reset_less=True)
            sign_r = Signal(name="sign_s", reset_less=True)
            with m.If(self.en):
                m.d.sync += [cmag_r.eq(cmag), sign_r.eq(sign)]
            cmag, sign = cmag_r, sign_r
        sat = Mux(cmag > fmt.max_finite_raw, fmt.max_finite_raw, cmag)
        m.d.comb += self.code.eq(Cat(sat[:fmt.width - 1], sign))
        return m
