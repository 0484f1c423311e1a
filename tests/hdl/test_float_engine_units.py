"""The float converter modules of the engine in the Amaranth simulator, against the spec's
arithmetic: FloatRound against FP.quantize, FloatToFixed against floor(x 2^F) mod 2^W (exact
fractions) and against luts.tails.convert (nearest even, saturating), the float input stage's
order key against FP.order_key with -0 as +0. Every code of the fp8 formats, random ones of the
16-bit formats, random magnitudes and exponents around every range edge."""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from amaranth.sim import Simulator

from nlihw.formats import FP, Q, bf16, fp8e4m3, fp8e5m2, fp16
from nlihw.hdl.nli.float_round import FloatRound
from nlihw.hdl.nli.float_to_fixed import FloatToFixed
from nlihw.luts.layout import TableLayout
from nlihw.luts.tails import convert
from tests.support.float_units import comb_run, test_codes

FORMATS = {"fp16": fp16, "bf16": bf16, "fp8e4m3": fp8e4m3, "fp8e5m2": fp8e5m2}


# --- FloatRound ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(FORMATS))
@pytest.mark.parametrize("pipelined", [False, True])
def test_float_round_matches_quantize(name, pipelined):
    """(-1)^s mag 2^e for random mags of every length (leading one anywhere) and exponents from
    far below the subnormals to far above the largest finite value: one RNE rounding, saturation,
    +0 for a zero magnitude, -0 for a negative rounding to 0."""
    fmt = FORMATS[name]
    rng = np.random.default_rng(7)
    N = 24
    emin = 1 - fmt.bias - fmt.man_bits
    e_lo, e_hi = emin - N - 4, int(np.frexp(fmt.max)[1]) + 2
    n = 1500
    lens = rng.integers(0, N + 1, n)
    mags = [int(rng.integers(0, 1 << k)) if k else 0 for k in lens]
    # ties: a few bits then exactly half an output ulp
    mags[:60] = [(int(rng.integers(1, 64)) << 8 | 0x80) for _ in range(60)]
    signs = rng.integers(0, 2, n)
    exps = rng.integers(e_lo, e_hi + 1, n)
    # the overflow edge: exactly 2^e_top (max < 2^e_top), and just below it (rounds up to it)
    e_top = int(np.frexp(fmt.max)[1])
    for k, (mg, e) in enumerate([(1, e_top), ((1 << N) - 1, e_top - N), (1, e_top - 1)]):
        mags[60 + k], exps[60 + k] = mg, e
    dut = FloatRound(fmt, N, e_lo, e_hi, pipelined=pipelined)
    vecs = [dict(sign=int(s), mag=mg, exp=int(e)) for s, mg, e in zip(signs, mags, exps)]
    if not pipelined:
        got = [g[0] for g in comb_run(dut, vecs, ["code"])]
    else:
        got = []

        async def tb(ctx):
            ctx.set(dut.en, 1)
            for vec in vecs:
                for k, v in vec.items():
                    ctx.set(getattr(dut, k), v)
                await ctx.tick()            # the register takes the vector; the rounding follows
                got.append(ctx.get(dut.code))

        sim = Simulator(dut)
        sim.add_clock(1e-6)
        sim.add_testbench(tb)
        sim.run()
    want = [int(fmt.quantize(math.ldexp(-mg if s else mg, int(e)) if mg else (-0.0 if s else 0.0)))
            for s, mg, e in zip(signs, mags, exps)]
    bad = [(int(s), hex(mg), int(e), hex(w), hex(g)) for s, mg, e, w, g in
           zip(signs, mags, exps, want, got) if w != g]
    assert not bad, f"{len(bad)} of {n} differ, first (sign, mag, exp, want, got): {bad[:4]}"
    # the test reached saturation, subnormals and -0
    assert fmt.max_finite_raw in want and any(0 < (w & ~(1 << (fmt.width - 1))) < (1 << fmt.man_bits)
                                              for w in want)
    assert (1 << (fmt.width - 1)) in want


# --- FloatToFixed ----------------------------------------------------------------------------
def exact_value(fmt: FP, code: int) -> Fraction | None:
    """The code's value as a Fraction from its bit fields (None for Inf/NaN)."""
    s = code >> (fmt.width - 1)
    e = (code >> fmt.man_bits) & ((1 << fmt.exp_bits) - 1)
    mnt = code & ((1 << fmt.man_bits) - 1)
    if bool(fmt.is_nan(code)) or bool(fmt.is_inf(code)):
        return None
    sig = mnt | (1 << fmt.man_bits) if e else mnt
    v = Fraction(sig) * Fraction(2) ** (max(e, 1) - fmt.bias - fmt.man_bits)
    return -v if s else v


@pytest.mark.parametrize("name", list(FORMATS))
def test_position_is_floor_modulo_w(name):
    """X = floor(x 2^F) mod 2^W, W = dx_bits, at the layout's default F and W (and a small F, where
    most codes round), against exact fractions."""
    fmt = FORMATS[name]
    codes = [int(c) for c in test_codes(fmt, 2500, 3)]
    for lay in (TableLayout(fmt, fmt, 3, 1), TableLayout(fmt, fmt, 3, 1, x_frac_bits=3, dx_width=12)):
        F, W = lay.x_frac_bits, lay.dx_bits
        dut = FloatToFixed(fmt, F, W, "floor")
        got = [g[0] for g in comb_run(dut, [dict(x=c) for c in codes], ["y"])]
        bad = []
        for c, g in zip(codes, got):
            v = exact_value(fmt, c)
            if v is not None and g != math.floor(v * 2 ** F) % (1 << W):
                bad.append((hex(c), hex(g)))
        assert not bad, f"F={F} W={W}: {len(bad)} differ, first (code, got): {bad[:4]}"


@pytest.mark.parametrize("name, q", [("fp16", "s4.12"), ("bf16", "s4.12"), ("fp8e4m3", "s3.5"),
                                     ("fp8e5m2", "u4.4"), ("fp16", "s16.0"), ("fp8e4m3", "u0.8"),
                                     # wide enough to hold 2^(emax+1): Inf must still saturate
                                     ("fp8e5m2", "s18.0"), ("fp16", "s24.4")])
def test_identity_into_fixed_matches_convert(name, q):
    """Nearest even, saturating, +-Inf to the ends, NaN to 0: luts.tails.convert."""
    fmt, qf = FORMATS[name], Q.parse(q)
    codes = test_codes(fmt, 2500, 4)
    dut = FloatToFixed(fmt, qf.frac_bits, qf, "nearest-even")
    got = qf.to_bits([g[0] for g in comb_run(dut, [dict(x=int(c)) for c in codes], ["y"])])
    want = qf.to_bits(convert(TableLayout(fmt, qf, 3, 1), codes))
    bad = [(hex(c), hex(w), hex(g)) for c, w, g in zip(codes, want, got) if w != g]
    assert not bad, f"{len(bad)} differ, first (code, want, got): {bad[:4]}"


# --- FloatInput: order key, position, NaN flag -----------------------------------------------
@pytest.mark.parametrize("name", list(FORMATS))
def test_float_input_stage(name):
    """key = FP.order_key with -0 as +0 (so -0 and +0 compare equal; their keys sit between the
    negatives and the positives), pos = floor(x 2^F) mod 2^W, nan = the code is a NaN."""
    from nlihw.hdl.nli.float_input import FloatInput
    fmt = FORMATS[name]
    lay = TableLayout(fmt, fmt, 3, 1)
    codes = [int(c) for c in test_codes(fmt, 2000, 5)] + [1 << (fmt.width - 1)]
    dut = FloatInput(lay)
    got = []

    async def tb(ctx):
        ctx.set(dut.en, 1)
        for c in codes:
            ctx.set(dut.x, c)
            await ctx.tick()
            got.append((ctx.get(dut.key), ctx.get(dut.pos), ctx.get(dut.nan)))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    sb = 1 << (fmt.width - 1)
    F, W = lay.x_frac_bits, lay.dx_bits
    bad = []
    for c, (key, pos, nan) in zip(codes, got):
        c0 = 0 if c == sb else c                                   # -0 compares as +0
        want_key = (sb - 1 - (c0 & (sb - 1))) if c0 & sb else c0 | sb   # sign-magnitude -> offset
        v = exact_value(fmt, c)
        if key != want_key or nan != bool(fmt.is_nan(c)) or \
                (v is not None and pos != math.floor(v * 2 ** F) % (1 << W)):
            bad.append((hex(c), hex(key), hex(want_key), hex(pos), nan))
    assert not bad, f"{len(bad)} differ, first (code, key, want key, pos, nan): {bad[:4]}"
    # the keys order the values: strictly increasing over FP.codes() except -0 == +0
    order = {c: k for c, (k, _, _) in zip(codes, got)}
    assert order[sb] == order[0]
