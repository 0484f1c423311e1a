"""Floating-point formats (FP) against Python's own float16/float32 (`struct`) and exact fractions."""
import functools
import math
import struct
from fractions import Fraction

import numpy as np
import pytest

from nlihw.errors import FormatError
from nlihw.formats import FP, NumberFormat, Q, Rounding, bf16, fp8e4m3, fp8e5m2, fp16, parse_format
from tests.support.rounding import ref_round

MODES = [r.value for r in Rounding]
NAN = "nan"


# --- independent references, written from the definitions with Python ints and fractions -------
def spec(fmt):
    """(exp_bits, man_bits, finite_only, bias) read from the dataclass fields only."""
    return fmt.exp_bits, fmt.man_bits, fmt.finite_only, 2 ** (fmt.exp_bits - 1) - 1


def ref_decode(fmt, code):
    """Code -> (sign, Fraction | 'inf' | 'nan')."""
    e, m, fn, bias = spec(fmt)
    sign = code >> (e + m)
    ef = (code >> m) % 2 ** e
    mf = code % 2 ** m
    if ef == 2 ** e - 1:
        if fn and mf == 2 ** m - 1:
            return sign, NAN
        if not fn:
            return sign, ("inf" if mf == 0 else NAN)
    if ef == 0:
        return sign, Fraction(mf, 2 ** m) * Fraction(2) ** (1 - bias)
    return sign, (1 + Fraction(mf, 2 ** m)) * Fraction(2) ** (ef - bias)


@functools.lru_cache(maxsize=None)
def ref_max(fmt) -> Fraction:
    e, m, fn, bias = spec(fmt)
    if fn:
        return (2 - Fraction(2, 2 ** m)) * Fraction(2) ** (2 ** e - 1 - bias)
    return (2 - Fraction(1, 2 ** m)) * Fraction(2) ** (2 ** e - 2 - bias)


def binade(a: Fraction) -> int:
    """floor(log2(a)) for a > 0."""
    p, q = a.numerator, a.denominator
    b = p.bit_length() - q.bit_length()
    return b - 1 if (q << b if b >= 0 else q) > (p if b >= 0 else p << -b) else b


def ref_encode(fmt, sign, a: Fraction) -> int:
    """Exactly representable magnitude a >= 0 -> code."""
    e, m, fn, bias = spec(fmt)
    emin = 1 - bias
    if a < Fraction(2) ** emin:
        mag = a / Fraction(2) ** (emin - m)
        assert mag.denominator == 1
        mag = int(mag)
    else:
        b = binade(a)
        frac = a / Fraction(2) ** (b - m) - 2 ** m
        assert frac.denominator == 1 and 0 <= frac < 2 ** m
        mag = (b + bias) * 2 ** m + int(frac)
    return sign * 2 ** (e + m) + mag


def ref_quantize(fmt, x: float, mode: str = "nearest-even"):
    """float -> (code, overflowed) by rounding the exact rational once, then saturating."""
    e, m, fn, bias = spec(fmt)
    sign = 1 if math.copysign(1.0, x) < 0 else 0
    if math.isnan(x):
        return fmt.canonical_nan, False           # canonical NaN pinned by test_canonical_nan
    if math.isinf(x):
        if fn:
            return ref_encode(fmt, sign, ref_max(fmt)), False
        return sign * 2 ** (e + m) + (2 ** e - 1) * 2 ** m, False
    fr = Fraction(x)
    if fr == 0:
        return ref_encode(fmt, sign, Fraction(0)), False
    quantum = Fraction(2) ** (max(binade(abs(fr)), 1 - bias) - m)
    value = abs(ref_round(fr / quantum, mode)) * quantum
    if value > ref_max(fmt):
        return ref_encode(fmt, sign, ref_max(fmt)), True
    return ref_encode(fmt, sign, value), False


def struct16(x: float) -> int:
    """Python's binary16 packing (round to nearest even); its OverflowError means saturate."""
    if math.isnan(x):
        return 0x7E00
    try:
        return struct.unpack("<H", struct.pack("<e", x))[0]
    except OverflowError:
        return 0xFBFF if x < 0 else 0x7BFF


def struct16_decode(codes) -> np.ndarray:
    codes = np.asarray(codes)
    return np.array(struct.unpack(f"<{codes.size}e", codes.astype("<u2").tobytes()))


def same_reals(a, b):
    """Equal as floats, NaN equal to NaN, and zeros with the same sign."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return bool(np.all((np.isnan(a) == np.isnan(b))
                       & (((a == b) & (np.signbit(a) == np.signbit(b))) | np.isnan(a))))


def probe_values(fmt, rng, n_random=2000):
    """Random doubles over the whole range (subnormals to overflow), midpoints of neighbouring
    codes (exact ties) and the doubles just beside them, the overflow threshold, extremes."""
    e, m, fn, bias = spec(fmt)
    pos = np.array([float(ref_decode(fmt, c)[1]) for c in range(2 ** (e + m))
                    if ref_decode(fmt, c)[1] not in (NAN, "inf")])
    mids = (pos[:-1] + pos[1:]) / 2                       # exact: one more bit than the format
    top = float(ref_max(fmt) + Fraction(2) ** (2 ** e - (1 if fn else 2) - bias - m - 1))
    exps = rng.integers(-bias - m - 3, 2 ** e - bias + 2, n_random)
    rand = np.ldexp(rng.integers(2 ** 52, 2 ** 53, n_random).astype(np.float64), exps - 52)
    special = [0.0, 5e-324, 2.0 ** -1022, 1e300, np.finfo(np.float64).max, top,
               float(ref_max(fmt)) * 4, np.inf]
    xs = np.concatenate([mids, np.nextafter(mids, 0), np.nextafter(mids, np.inf), rand, special,
                         [np.nextafter(top, 0), np.nextafter(top, np.inf)]])
    return np.concatenate([xs, -xs, [np.nan, -np.nan]])


# --- fp16 against Python's struct 'e' ----------------------------------------------------------
def test_fp16_decodes_every_code_like_struct():
    codes = np.arange(2 ** 16)
    assert same_reals(fp16.to_real(codes), struct16_decode(codes))


def test_fp16_every_code_round_trips():
    codes = np.arange(2 ** 16)
    ok = ~np.isnan(struct16_decode(codes))
    for mode in MODES:                                    # exact values round to themselves
        assert np.array_equal(fp16.quantize(fp16.to_real(codes[ok]), mode), codes[ok])
    assert np.all(fp16.quantize(fp16.to_real(codes[~ok])) == 0x7E00)


def test_fp16_quantize_matches_struct():
    xs = probe_values(fp16, np.random.default_rng(1), 20000)
    expect = np.array([struct16(float(x)) for x in xs])
    got = fp16.quantize(xs)
    bad = np.flatnonzero(got != expect)
    assert bad.size == 0, [(float(xs[i]), hex(got[i]), hex(expect[i])) for i in bad[:5]]


def test_fp16_known_edges():
    cases = [(65504.0, 0x7BFF), (65520.0, 0x7BFF), (-65520.0, 0xFBFF), (1e300, 0x7BFF),
             (np.inf, 0x7C00), (-np.inf, 0xFC00), (np.nan, 0x7E00), (-0.0, 0x8000), (0.0, 0),
             (2.0 ** -25, 0), (np.nextafter(2.0 ** -25, 1), 1), (-2.0 ** -26, 0x8000),
             (1.5 * 2.0 ** -24, 2), (2.0 ** -14 - 2.0 ** -25, 0x400), (2049.0, 0x6800),
             (2051.0, 0x6802), (1 + 2.0 ** -11, 0x3C00), (1 + 3 * 2.0 ** -11, 0x3C02)]
    assert fp16.quantize([x for x, _ in cases]).tolist() == [c for _, c in cases]
    with pytest.raises(FormatError, match="overflows"):
        fp16.quantize([1.0, 65520.0], overflow="error")
    with pytest.raises(FormatError, match="overflows"):
        fp16.quantize(-1e300, overflow="error")
    below = np.nextafter(65520.0, 0)
    assert fp16.quantize([below, -below, np.inf, np.nan], overflow="error").tolist() == \
        [0x7BFF, 0xFBFF, 0x7C00, 0x7E00]


def test_directed_modes_near_zero_and_sign():
    tiny = 2.0 ** -40
    assert fp16.quantize([tiny, -tiny], "floor").tolist() == [0, 0x8001]
    assert fp16.quantize([tiny, -tiny], "toward-zero").tolist() == [0, 0x8000]
    assert fp16.quantize([2.0 ** -25, -2.0 ** -25], "nearest-away").tolist() == [1, 0x8001]
    assert fp16.quantize([1e9, -1e9], "toward-zero").tolist() == [0x7BFF, 0xFBFF]


# --- float32 (fp_e8m23) against struct 'f', bf16 against its float32 bits and fractions ---------
def test_fp32_shape_matches_struct_f():
    f32 = FP(8, 23)
    rng = np.random.default_rng(2)
    codes = np.concatenate([rng.integers(0, 2 ** 32, 20000), [0, 1, 0x7F7FFFFF, 0x7F800000,
                                                              0x807FFFFF, 0x00800000]])
    expect = np.array(struct.unpack(f"<{codes.size}f", codes.astype("<u4").tobytes()))
    assert same_reals(f32.to_real(codes), expect)
    xs = np.concatenate([rng.normal(0, 1, 3000) * np.ldexp(1.0, rng.integers(-160, 130, 3000)),
                         expect[~np.isnan(expect)] * (1 + 2.0 ** -24)])   # ties and near ties

    def pack(x):
        try:
            return struct.unpack("<I", struct.pack("<f", x))[0]
        except OverflowError:
            return 0x7F7FFFFF | (0x80000000 if x < 0 else 0)
    assert f32.quantize(xs).tolist() == [pack(float(x)) for x in xs]


def test_bf16_decodes_every_code_as_top_half_of_float32():
    codes = np.arange(2 ** 16)
    expect = np.array(struct.unpack("<65536f", (codes << 16).astype("<u4").tobytes()))
    assert same_reals(bf16.to_real(codes), expect)


def check_against_fractions(fmt, xs, modes):
    for mode in modes:
        got = fmt.quantize(xs, mode)
        for x, g in zip(xs.tolist(), got.tolist()):
            code, _ = ref_quantize(fmt, x, mode)
            assert g == code, (fmt, mode, x, hex(g), hex(code))


def test_bf16_ties_match_fractions():
    pos = np.arange(1, 0x7F80)
    lo = np.array(struct.unpack(f"<{pos.size}f", ((pos - 1) << 16).astype("<u4").tobytes()))
    hi = np.array(struct.unpack(f"<{pos.size}f", (pos << 16).astype("<u4").tobytes()))
    mids = (lo + hi) / 2                     # every positive tie; a sample of the negative ones
    xs = np.concatenate([mids, -np.random.default_rng(6).choice(mids, 3000)])
    check_against_fractions(bf16, xs, ["nearest-even"])


def test_bf16_random_values_match_fractions():
    rng = np.random.default_rng(3)
    exps = rng.integers(-140, 130, 1500)
    xs = np.ldexp(rng.integers(2 ** 52, 2 ** 53, 1500).astype(np.float64), exps - 52)
    xs = np.concatenate([xs, -xs, [np.inf, -np.inf, np.nan, 0.0, -0.0, 1e300]])
    check_against_fractions(bf16, xs, MODES)


# --- OCP FP8 and small generic formats ---------------------------------------------------------
E4M3_KNOWN = {0x00: 0.0, 0x80: -0.0, 0x01: 2.0 ** -9, 0x07: 7 * 2.0 ** -9, 0x08: 2.0 ** -6,
              0x38: 1.0, 0x40: 2.0, 0x77: 240.0, 0x78: 256.0, 0x7E: 448.0, 0xFE: -448.0,
              0x7F: np.nan, 0xFF: np.nan, 0xC4: -3.0}
E5M2_KNOWN = {0x00: 0.0, 0x80: -0.0, 0x01: 2.0 ** -16, 0x03: 3 * 2.0 ** -16, 0x04: 2.0 ** -14,
              0x3C: 1.0, 0x7B: 57344.0, 0xFB: -57344.0, 0x7C: np.inf, 0xFC: -np.inf,
              0x7D: np.nan, 0x7E: np.nan, 0x7F: np.nan, 0xFD: np.nan, 0xC2: -3.0}


def ref_floats(fmt, codes) -> np.ndarray:
    """Decoded codes: Python's struct for fp16 and bf16 (fast), else the fraction reference."""
    codes = np.asarray(codes)
    if fmt == fp16:
        return struct16_decode(codes)
    if fmt == bf16:
        return np.array(struct.unpack(f"<{codes.size}f", (codes << 16).astype("<u4").tobytes()))
    return np.array([ref_float(fmt, c) for c in codes.tolist()])


def ref_float(fmt, code):
    s, v = ref_decode(fmt, code)
    if v == NAN:
        return math.nan
    return -float(v) if s else float(v)


@pytest.mark.parametrize("fmt, known, n_nan", [(fp8e4m3, E4M3_KNOWN, 2), (fp8e5m2, E5M2_KNOWN, 6)])
def test_fp8_decoding(fmt, known, n_nan):
    codes = np.arange(256)
    got = fmt.to_real(codes)
    assert same_reals(got[list(known)], list(known.values()))
    assert same_reals(got, [ref_float(fmt, c) for c in range(256)])
    assert int(np.isnan(got).sum()) == n_nan == int(fmt.is_nan(codes).sum())
    assert np.array_equal(fmt.is_inf(codes), np.isinf(got))
    assert (fmt.max, fmt.min) == (known[fmt.max_finite_raw], -known[fmt.max_finite_raw])


GENERIC = [fp8e4m3, fp8e5m2, FP(2, 1), FP(2, 1, True), FP(3, 2), FP(4, 3), FP(6, 2, True)]


@pytest.mark.parametrize("fmt", GENERIC, ids=str)
def test_small_formats_match_fractions(fmt):
    codes = np.arange(2 ** fmt.width)
    ok = ~np.array([ref_decode(fmt, c)[1] == NAN for c in codes])
    for mode in MODES:
        assert np.array_equal(fmt.quantize(fmt.to_real(codes[ok]), mode), codes[ok])
    xs = probe_values(fmt, np.random.default_rng(4), 300)
    check_against_fractions(fmt, xs, MODES)


@pytest.mark.parametrize("fmt", GENERIC, ids=str)
def test_overflow_error_exactly_when_rounding_leaves_the_range(fmt):
    xs = probe_values(fmt, np.random.default_rng(5), 200)
    for mode in ("nearest-even", "toward-zero"):
        over = np.array([ref_quantize(fmt, float(x), mode)[1] for x in xs])
        fmt.quantize(xs[~over], mode, overflow="error")          # raises on any overflow
        for x in xs[over][::7]:
            with pytest.raises(FormatError, match="overflows"):
                fmt.quantize(x, mode, overflow="error")


def test_fp8_saturation_edges():
    # e4m3: 464 is the tie between 448 (mantissa 110, even) and 480 (would be 111 = NaN)
    assert fp8e4m3.quantize([464.0, np.nextafter(464.0, 1e9), 1e6, -464.0, np.inf, -np.inf,
                             np.nan]).tolist() == [0x7E, 0x7E, 0x7E, 0xFE, 0x7E, 0xFE, 0x7F]
    assert int(fp8e4m3.quantize(464.0, overflow="error")) == 0x7E
    with pytest.raises(FormatError):
        fp8e4m3.quantize(np.nextafter(464.0, 1e9), overflow="error")
    # e5m2: 61440 is the tie between 57344 (mantissa 11, odd) and 65536: rounds up, overflows
    assert fp8e5m2.quantize([61440.0, np.nextafter(61440.0, 0), np.inf]).tolist() == \
        [0x7B, 0x7B, 0x7C]
    with pytest.raises(FormatError):
        fp8e5m2.quantize(61440.0, overflow="error")


def test_canonical_nan():
    expect = {fp16: 0x7E00, bf16: 0x7FC0, fp8e4m3: 0x7F, fp8e5m2: 0x7E}
    for fmt, nan in expect.items():
        assert fmt.canonical_nan == nan
        assert fmt.quantize([np.nan, -np.nan, np.float64("nan")]).tolist() == [nan] * 3
        assert bool(fmt.is_nan(nan)) and not bool(fmt.is_inf(nan))


# --- code order, classification, text form -----------------------------------------------------
@pytest.mark.parametrize("fmt", [fp16, bf16, fp8e4m3, fp8e5m2, FP(2, 1, True), FP(3, 2)], ids=str)
def test_codes_in_numeric_order(fmt):
    codes = fmt.codes()
    vals = ref_floats(fmt, codes)
    n_nan = int(np.isnan(ref_floats(fmt, np.arange(2 ** fmt.width))).sum())
    assert len(codes) == len(set(codes.tolist())) == 2 ** fmt.width - n_nan
    assert not np.isnan(vals).any()
    d = np.diff(vals)
    z = int(np.flatnonzero(codes == 2 ** (fmt.width - 1))[0])    # -0, then +0 right after
    assert codes[z + 1] == 0 and np.all(np.delete(d, z) > 0) and d[z] == 0
    assert np.all(np.diff(fmt.order_key(codes)) > 0) and np.all(fmt.order_key(codes) >= 0)
    has_inf = int(not fmt.finite_only)
    assert (np.isinf(vals[0]), np.isinf(vals[-1])) == (bool(has_inf), bool(has_inf))
    fin = fmt.finite_codes()
    assert np.array_equal(fin, codes[1:-1] if has_inf else codes)
    assert (ref_float(fmt, fmt.max_finite_raw), ref_float(fmt, fmt.min_finite_raw)) == \
        (vals[-1 - has_inf], vals[has_inf]) == (fmt.max, fmt.min)


def test_ulp_and_bits():
    assert fp16.ulp([0, 0x8000, 1, 0x3C00, 0xBC00, 0x7BFF]).tolist() == \
        [2.0 ** -24, 2.0 ** -24, 2.0 ** -24, 2.0 ** -10, 2.0 ** -10, 32.0]
    assert np.isnan(fp16.ulp([0x7C00, 0x7E00])).all()
    assert fp8e4m3.ulp([0x7E, 0x08, 0x07]).tolist() == [32.0, 2.0 ** -9, 2.0 ** -9]
    codes = np.arange(2 ** 16)
    assert np.array_equal(fp16.to_bits(codes), codes) and np.array_equal(fp16.from_bits(codes), codes)
    assert fp16.is_float and not Q(4, 12).is_float
    assert isinstance(fp16, NumberFormat) and isinstance(Q(4, 12), NumberFormat)
    assert (fp16.width, bf16.width, fp8e4m3.width, FP(8, 23).width) == (16, 16, 8, 32)


@pytest.mark.parametrize("text, fmt", [
    ("fp16", FP(5, 10)), ("bf16", FP(8, 7)), ("fp8e4m3", FP(4, 3, True)), ("fp8e5m2", FP(5, 2)),
    ("fp_e6m9", FP(6, 9)), ("fp_e4m3", FP(4, 3)), ("fp_e4m3fn", FP(4, 3, True)),
    ("fp_e8m23", FP(8, 23)), (" fp_e2m1fn ", FP(2, 1, True))])
def test_parse_and_print(text, fmt):
    assert parse_format(text) == fmt == FP.parse(text) == parse_format(fmt)
    assert parse_format(str(fmt)) == fmt and fmt.to_json() == str(fmt)
    assert str(parse_format("fp_e5m10")) == "fp16" and str(FP(5, 2, True)) == "fp_e5m2fn"
    assert parse_format("s4.12") == Q(4, 12)


@pytest.mark.parametrize("text", ["fp_e9m2", "fp_e1m3", "fp_e5m0", "fp_e8m24", "fp_e5m2x",
                                  "fp17", "bf8", "fp8e4m3x", "fp_e5", "FP16", "", "float16"])
def test_bad_specs_raise(text):
    with pytest.raises(FormatError):
        parse_format(text)


@pytest.mark.parametrize("args", [(9, 2), (1, 3), (5, 0), (8, 24), (5.0, 2), (True, 3), (5, 2, 1)])
def test_bad_fields_raise(args):
    with pytest.raises(FormatError):
        FP(*args)


def test_require_fixed_refuses_floats():
    from nlihw.formats import require_fixed
    assert require_fixed(parse_format("s4.12"), "fit") == Q(4, 12)
    with pytest.raises(FormatError, match="fit supports fixed-point formats .* got bf16"):
        require_fixed(parse_format("bf16"), "fit")
