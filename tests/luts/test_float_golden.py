"""The float datapath of the golden model (luts/golden.py) against an independent re-statement
in plain Python fractions: own fp8 / fp16 decoders, brute-force nearest-even encoders, exact
interval search, floor positions and block-float interpolation.
"""
from __future__ import annotations

import random
from fractions import Fraction

import numpy as np
import pytest

from nlihw.errors import ParamsError, TableError
from nlihw.formats import FP, Q
from nlihw.luts.golden import nli_eval
from nlihw.luts.layout import TableLayout
from nlihw.luts.table import NLITable
from tests.support.float_fractions import E4M3, FP8, decode, encoder, random_fp8_table


# --- the fractions model of the datapath (formats: tests/support/float_fractions.py) -------------
def linear_reference(shift: int, kind: str, v, b: int, spec) -> int:
    """round(2^shift x + b) of a float -> float linear tail, from fractions: the exact sum rounded
    once (brute-force nearest even, saturating); +-Inf stay infinite (or saturate); an exact 0 is
    -0 only for -0 + -0."""
    e_bits, m_bits, fn = spec
    width = 1 + e_bits + m_bits
    bkind, bv = decode(b, *spec)
    if kind == "inf":
        if fn:
            return encoder(*spec)(Fraction(v) * 2 ** 200)
        return ((1 << e_bits) - 1 << m_bits) | ((1 << (width - 1)) if v < 0 else 0)
    val = v * Fraction(2) ** shift + bv
    if val == 0:
        return (1 << (width - 1)) if kind == "negzero" and bkind == "negzero" else 0
    return encoder(*spec)(val)


def reference_eval(table: NLITable, x: int, spec) -> int:
    """One output code of a float -> float table, from the fractions model."""
    lay = table.layout
    e_bits, m_bits, fn = spec
    width = 1 + e_bits + m_bits
    enc = encoder(*spec)
    kind, v = decode(x, *spec)
    if kind == "nan":
        return lay.out_fmt.canonical_nan
    cuts = [decode(c, *spec)[1] for c in table.cutpoints]
    if kind == "inf":
        side = "lo" if v < 0 else "hi"
    elif v < cuts[0]:
        side = "lo"
    elif v >= cuts[-1]:
        side = "hi"
    else:
        side = None
    if side is not None:
        tail = table.tail_lo if side == "lo" else table.tail_hi
        if tail.mode.value == "identity":
            if kind == "inf":
                return x
            return enc(v) if kind == "num" else x      # -0 passes as -0
        if tail.mode.value == "zero":
            return 0
        b = table.clamp_lo if side == "lo" else table.clamp_hi
        if tail.mode.value == "linear":
            return linear_reference(tail.shift, kind, v, b, spec)
        return b
    i = max(k for k in range(len(cuts) - 1) if cuts[k] <= v)
    F = lay.x_frac_bits
    P = lambda r: (r * 2 ** F).__floor__()      # noqa: E731
    dx = P(v) - P(cuts[i])
    L = P(cuts[i + 1]) - P(cuts[i])
    K, T = lay.K, lay.t_bits
    assert 0 <= dx < L
    # the scale is a table field, checked against its definition in its own test below
    mul, shift = table.mul[i], table.shift[i]
    u = (dx * mul) >> shift
    j, t = u >> T, u & ((1 << T) - 1)
    m0, m1 = table.values[i * (K + 1) + j], table.values[i * (K + 1) + j + 1]
    val = (Fraction(m0) + Fraction(t, 1 << T) * (m1 - m0)) * Fraction(2) ** table.exponents[i]
    if val == 0:
        return 0
    return enc(val)


@pytest.mark.parametrize("seed", range(9))
def test_fp8_table_every_code_matches_fractions(seed):
    rng = random.Random(seed)
    tails = [("clamp", "clamp"), ("zero", "identity"), ("identity", "zero"), ("linear:-2", "linear"),
             ("linear:3", "linear:-5"), ("linear:0", "identity")][seed % 6]
    table = random_fp8_table(rng, K=[1, 2, 4][seed % 3], tails=tails)
    codes = np.arange(256, dtype=np.int64)
    got = nli_eval(table, codes)
    want = [reference_eval(table, int(x), E4M3) for x in codes]
    bad = [(hex(x), hex(w), hex(int(g))) for x, w, g in zip(codes, want, got) if w != g]
    assert not bad, f"{len(bad)} codes differ, first (x, want, got): {bad[:5]}"


def test_scale_of_float_intervals_follows_its_definition():
    """mul = floor(K 2^(T+s) / L) with the largest s that keeps mul below 2^mul_bits, L in units
    of 2^-x_frac_bits."""
    table = random_fp8_table(random.Random(3), K=4)
    lay = table.layout
    cuts = [decode(c, *E4M3)[1] * 2 ** lay.x_frac_bits for c in table.cutpoints]
    for i, (mul, s) in enumerate(zip(table.mul, table.shift)):
        L = int(cuts[i + 1] - cuts[i])
        best = max(s2 for s2 in range(64) if (lay.K << (lay.t_bits + s2)) // L < 1 << lay.mul_bits)
        assert s == max(0, best) and mul == (lay.K << (lay.t_bits + s)) // L


def test_fp16_inputs_nan_inf_zero_and_subnormal():
    """fp16 -> fp16 around zero: -0 falls with +0, subnormals get exact positions, NaN ->
    canonical NaN, -Inf and +Inf follow the zero and identity tails."""
    f16, spec = FP(5, 10), (5, 10, False)
    lay = TableLayout(f16, f16, 3, 2)
    cut = tuple(int(f16.quantize(v)) for v in (-1.0, 0.0, 1.0))
    s = 1 << (lay.value_bits - 2)
    t = NLITable(lay, "silu", cut, (-s, -s // 2, 0, 0, s // 2, s), 0, 0, (-1.0, 1.0 - 2 ** -10),
                 "zero", "identity", exponents=(-(lay.value_bits - 2),) * 2)
    xs = [0x0000, 0x8000, 0x0001, 0x8001, 0x03FF, 0x3400, 0xB400, 0x7C00, 0xFC00, 0x7E00, 0xFE01,
          0x3C00, 0x4000, 0xBC01, 0x3BFF, 0xBBFF]
    got = [int(v) for v in nli_eval(t, np.array(xs))]
    want = [reference_eval(t, x, spec) for x in xs]
    assert got == want
    assert got[0] == got[1] == 0 and got[9] == got[10] == 0x7E00
    assert got[7] == 0x7C00 and got[8] == 0 and got[11] == 0x3C00


def test_mixed_fixed_input_float_output():
    lay = TableLayout(Q(4, 4), FP(5, 10), 3, 2)
    assert lay.block_values and lay.n_values == 6 and not lay.in_float
    t = NLITable(lay, "silu", (-16, 0, 16), (0, 1, 2, 2, 3, 4), 0, 0, (-1.0, 1.0),
                 exponents=(-2, -2))
    y = FP(5, 10).to_real(nli_eval(t, np.arange(-16, 17)))
    # interval 0: x from -1 to 0 -> m from 0 to 2 (times 2^-2): y = (x + 1) / 2 on the 8-bin grid
    want = [float((Fraction(x + 16, 16) * 2) / 4) for x in range(-16, 0)] + \
           [float((2 + Fraction(x, 16) * 2) / 4) for x in range(0, 16)] + [0.0]
    assert list(y) == want


def test_float_input_fixed_output_uses_shared_values():
    lay = TableLayout(FP(5, 10), Q(4, 12), 3, 4)
    assert not lay.block_values and lay.n_values == 9 and lay.dx_bits == 32


@pytest.mark.parametrize("kw, msg", [
    (dict(in_fmt="fp16", out_fmt="fp16", M=3, K=2, rounding="floor"), "nearest even"),
    (dict(in_fmt="fp16", out_fmt="fp16", M=3, K=2, value_bits=40), "value_bits"),
    (dict(in_fmt="fp16", out_fmt="fp16", M=3, K=2, dx_width=41), "dx_width"),
    (dict(in_fmt="s4.12", out_fmt="fp16", M=3, K=2, dx_width=20), "set by the fixed-point input"),
    (dict(in_fmt="fp16", out_fmt="s4.12", M=3, K=2, value_bits=12), "set by the fixed-point output"),
])
def test_float_layout_refusals(kw, msg):
    with pytest.raises(ParamsError, match=msg):
        TableLayout(**kw)


def test_float_table_refusals():
    f16 = FP(5, 10)
    lay = TableLayout(f16, f16, 3, 1)
    ok = dict(layout=lay, function="silu", cutpoints=(0xBC00, 0, 0x3C00), values=(0, 1, 1, 2),
              clamp_lo=0, clamp_hi=0, domain=(-1.0, 1.0), exponents=(-3, -3))
    NLITable(**ok)
    for change, msg in [(dict(cutpoints=(0xBC00, 0x8000, 0x3C00)), "-0"),
                        (dict(cutpoints=(0xBC00, 0x7E00, 0x3C00)), "NaN or infinite"),
                        (dict(cutpoints=(0x3C00, 0, 0xBC00)), "increasing"),
                        (dict(exponents=(-3,)), "block exponents"),
                        (dict(exponents=(-3, 99)), "outside"),
                        (dict(clamp_lo=0x7E00), "non-NaN"),
                        (dict(tail_lo="linear:1", clamp_lo=0xFC00), "offset .left. must be finite")]:
        with pytest.raises(TableError, match=msg):
            NLITable(**{**ok, **change})
    with pytest.raises(TableError, match="multiple of"):
        NLITable(**{**ok, "layout": TableLayout(f16, f16, 3, 1, x_frac_bits=4),
                    "cutpoints": (0xBC00, 0x0001, 0x3C00)})


def test_float_table_json_round_trip():
    table = random_fp8_table(random.Random(1), K=2, tails=("zero", "identity"))
    again = NLITable.from_dict(__import__("json").loads(table.to_json()), require_hash=True)
    assert again == table and again.exponents == table.exponents
    assert again.layout.to_dict()["value_bits"] == table.layout.value_bits


def test_ulp_at_known_values():
    from nlihw.luts.table_errors import ulp_at
    f16 = FP(5, 10)
    got = ulp_at(f16, np.array([1.0, 0.75, -1.5, 1e-6, 0.0, 65504.0, 2.0 ** -14]))
    assert list(got) == [2.0 ** -10, 2.0 ** -11, 2.0 ** -10, 2.0 ** -24, 2.0 ** -24, 32.0, 2.0 ** -24]
    assert list(ulp_at(Q(4, 12), np.array([3.0, 0.0]))) == [2.0 ** -12] * 2


def test_float_table_errors_against_direct_float64():
    """table_errors of an fp8 table: every finite domain code, errors from plain float64 math."""
    import math

    from nlihw.luts.table_errors import table_errors
    table = random_fp8_table(random.Random(5), K=2, tails=("zero", "identity"))
    err = table_errors(table, rel_floor=2.0 ** -14)
    lo, hi = table.domain
    xs = [c for c in range(256) if decode(c, *E4M3)[0] in ("num", "negzero")
          and lo <= float(decode(c, *E4M3)[1]) <= hi]
    silu = lambda v: v / (1 + math.exp(-v))          # noqa: E731
    ys = [float(decode(int(y), *E4M3)[1]) for y in nli_eval(table, np.array(xs))]
    fs = [silu(float(decode(c, *E4M3)[1])) for c in xs]
    d = [abs(y - f) for y, f in zip(ys, fs)]
    assert err["eval_codes"] == len(xs)
    assert err["max_abs"] == pytest.approx(max(d), rel=1e-12)
    assert err["mean_rel"] == pytest.approx(sum(a / max(abs(f), 2.0 ** -14) for a, f in zip(d, fs))
                                            / len(xs), rel=1e-12)


def test_fp16_linear_tails_match_fractions():
    """fp16 -> fp16 linear tails on both sides, every code outside [-1, 1): exact sums rounded once,
    far-apart operands (b tiny against 2^S x, and the reverse), cancellation to +-0, Inf."""
    f16, spec = FP(5, 10), (5, 10, False)
    lay = TableLayout(f16, f16, 3, 2)
    cut = tuple(int(f16.quantize(v)) for v in (-1.0, 0.0, 1.0))
    s = 1 << (lay.value_bits - 2)
    for shift_lo, b_lo, shift_hi, b_hi in [(0, 0x8000, 0, 0x0001), (-3, 0x3555, 4, 0xC123),
                                           (16, 0x0001, -16, 0x7BFF), (-1, 0x8001, 2, 0xFBFF)]:
        t = NLITable(lay, "silu", cut, (-s, -s // 2, 0, 0, s // 2, s), b_lo, b_hi,
                     (-1.0, 1.0 - 2 ** -10), f"linear:{shift_lo}", f"linear:{shift_hi}",
                     exponents=(-(lay.value_bits - 2),) * 2)
        xs = np.array([c for c in range(1 << 16) if decode(c, *spec)[0] in ("num", "inf")
                       and not -1 <= decode(c, *spec)[1] < 1], dtype=np.int64)[::7]
        xs = np.concatenate([xs, [0x7C00, 0xFC00, 0x3C00, 0xBC01, 0x7BFF, 0xFBFF]])
        got = nli_eval(t, xs)
        want = [reference_eval(t, int(x), spec) for x in xs]
        bad = [(hex(x), hex(w), hex(int(g))) for x, w, g in zip(xs, want, got) if w != g]
        assert not bad, f"shifts {shift_lo}/{shift_hi}: {len(bad)} codes differ, first {bad[:5]}"


@pytest.mark.parametrize("shift", [-3, 0, 2])
def test_mixed_format_linear_tails_match_fractions(shift):
    """fixed -> fp8 (exact sum, one rounding) and fp8 -> fixed (round(2^S x) to nearest even, then
    + b, saturating) on every input code."""
    # fixed input -> E4M3 output: y = RNE(2^S x + b), saturating to 448
    lay = TableLayout(Q(4, 2), FP8, 3, 1)
    for b in (0x00, 0x80, 0x31, 0xB9, 0x7E):
        t = NLITable(lay, "silu", (-8, 0, 8), (0, 1, 1, 2), b, b, (-2.0, 2.0), f"linear:{shift}",
                     f"linear:{shift}", exponents=(-3, -3))
        xs = np.arange(-32, 32)
        got = nli_eval(t, xs)
        bv = decode(b, *E4M3)[1]
        for x, g in zip(xs, got):
            if -8 <= x < 8:
                continue
            val = Fraction(int(x), 4) * Fraction(2) ** shift + bv
            want = encoder(*E4M3)(val) if val != 0 else 0
            assert int(g) == want, (hex(int(x)), hex(b), hex(want), hex(int(g)))
    # E4M3 input -> s4.4 output: y = sat(RNE(2^S x 2^4) + b)
    out = Q(4, 4)
    lay = TableLayout(FP8, out, 3, 1)
    cut = tuple(int(FP8.quantize(v)) for v in (-1.0, 0.0, 1.0))
    for b in (0, 1, -3, 100, -128, 127):
        t = NLITable(lay, "silu", cut, (0, 1, 2), b, b, (-1.0, 1.0), f"linear:{shift}",
                     f"linear:{shift}")
        xs = np.arange(256)
        got = nli_eval(t, xs)
        for x, g in zip(xs, got):
            kind, v = decode(int(x), *E4M3)
            if kind == "nan":
                assert int(g) == 0
                continue
            if -1 <= v < 1:
                continue
            r = v * Fraction(2) ** (shift + 4)
            q = round(r)                                  # Python rounds fractions half to even
            want = max(-128, min(127, q + b))
            assert int(g) == want, (hex(int(x)), b, want, int(g))


def test_linear_tail_sum_is_rounded_once():
    """fp16 -> bf16: 2^S x sits on a tie of bf16 and b is far below it, so the float64 sum drops b
    and lands on the tie; the exact sum is off the tie and must round away from it."""
    f16, b16 = FP(5, 10), FP(8, 7)
    lay = TableLayout(f16, b16, 3, 1)
    cut = tuple(int(f16.quantize(v)) for v in (-0.5, 0.0, 0.5))
    tie = int(f16.quantize(1 + 2 ** -8))              # halfway between bf16 1.0 and 1 + 2^-7
    for b_val, want in ((2.0 ** -60, 1 + 2 ** -7), (-(2.0 ** -60), 1.0)):
        b = int(b16.quantize(b_val))
        t = NLITable(lay, "silu", cut, (0,) * 4, b, b, (-0.5, 0.5), "linear", "linear",
                     exponents=(0, 0))
        got = nli_eval(t, np.array([tie, tie | 0x8000]))
        assert list(b16.to_real(got)) == [want, -(2 + 2 ** -7 - want) if b_val > 0 else -(1 + 2 ** -7)]
