"""The shipped default tables: every one present and valid, its recorded errors true (recomputed by
an independent scalar statement of the datapath and float64 math), and reproduced by a refit with
identical hardware.

Refitting takes seconds per table: the fast suite refits two, ``-m slow`` the other 22;
every table gets the structural and error checks in the fast suite. The scan presets' tables'
statistics are recomputed over every code of their domains (a million for int16 exp).
"""
import bisect
import json
import math
import re
from fractions import Fraction

import numpy as np
import pytest

from nlihw.luts.default_tables import DEFAULT_SPECS, FLOAT_SPECS, SHIPPED_SPECS, shipped_dir
from nlihw.luts.golden import nli_eval
from nlihw.luts.scan_tables import SPECS as SCAN_SPECS, scan_tables_dir
from nlihw.luts.table import NLITable
from nlihw.luts.table_errors import table_errors
from tests.support.scalar_golden import ref_scale  # (mul, shift) from their definition, plain integers

# refitted in the fast suite (each a few seconds); all 24 in make test-all
CHEAPEST = {"reciprocal_M11_K8", "rsqrt_M11_K32"}
TAU = 2.0 ** -14                   # the paper's relative-error floor, when meta records none


def fmt(text):
    """(signed, int_bits, frac_bits) of a format written s4.12 / u1.15."""
    m = re.fullmatch(r"([su])(\d+)\.(\d+)", text)
    return m.group(1) == "s", int(m.group(2)), int(m.group(3))


def fmt_range(text):
    signed, ib, fb = fmt(text)
    w = ib + fb
    return (-(1 << (w - 1)), (1 << (w - 1)) - 1) if signed else (0, (1 << w) - 1)


def ref_round_shift(acc, T, mode):
    """acc / 2^T rounded to an integer by ``mode`` (plain integers)."""
    fl = acc >> T
    rem = acc - (fl << T)
    half = 1 << (T - 1)
    if mode == "floor":
        return fl
    if mode == "toward-zero":
        return fl + (1 if acc < 0 and rem else 0)
    if mode == "nearest-away":
        return fl + (1 if rem > half or (rem == half and acc >= 0) else 0)
    assert mode == "nearest-even"
    return fl + (1 if rem > half or (rem == half and fl % 2 == 1) else 0)


class Hardware:
    """The README datapath, one input code at a time, in plain integers, from the file's JSON."""

    def __init__(self, d):
        lay = d["layout"]
        self.K, self.T, self.mode = lay["K"], lay["t_bits"], lay["rounding"]
        self.pow2 = lay["micro_step"] == "pow2"
        self.c, self.v = d["cutpoints"], d["values"]
        self.clamp_lo, self.clamp_hi = d["clamp"]
        self.out_min, self.out_max = fmt_range(lay["out_fmt"])
        self.scales = [ref_scale(self.K, self.T, lay["mul_bits"], b - a, self.pow2)
                       for a, b in zip(self.c, self.c[1:])]

    def __call__(self, x):
        M, K, T = len(self.c), self.K, self.T
        n = bisect.bisect_right(self.c, x)            # comparator count: #{j : c[j] <= x}
        if n == 0:
            return self.clamp_lo
        if n == M:
            return self.clamp_hi
        i = n - 1
        dx = x - self.c[i]
        mul, shift = self.scales[i]
        u = ((dx << T) if self.pow2 else dx * mul) >> shift
        j, t = u >> T, u & ((1 << T) - 1)
        assert 0 <= j < K
        y0, y1 = self.v[i * K + j], self.v[i * K + j + 1]
        y = ref_round_shift((y0 << T) + t * (y1 - y0), T, self.mode)
        return min(max(y, self.out_min), self.out_max)


F = {   # float64 math, written independently of luts/functions.py
    "silu": lambda x: x / (1.0 + math.exp(-x)),
    "gelu": lambda x: 0.5 * x * (1.0 + math.erf(x / math.sqrt(2.0))),
    "exp": math.exp,
    "sigmoid": lambda x: 1.0 / (1.0 + math.exp(-x)),
    "tanh": math.tanh,
    "softplus": lambda x: math.log1p(math.exp(x)),
    "reciprocal": lambda x: 1.0 / x,
    "rsqrt": lambda x: 1.0 / math.sqrt(x),
}


def domain_codes(domain, in_fmt):
    fb = fmt(in_fmt)[2]
    return math.ceil(Fraction(domain[0]) * 2 ** fb), math.floor(Fraction(domain[1]) * 2 ** fb)


def read(spec):
    path = shipped_dir() / spec.filename
    return NLITable.load(path), json.loads(path.read_text())


SPECS = pytest.mark.parametrize("spec", DEFAULT_SPECS, ids=lambda s: s.filename[:-5])


def test_every_default_table_is_shipped():
    assert sorted(p.name for p in shipped_dir().glob("*.json")) == sorted(s.filename for s in SHIPPED_SPECS)
    assert len(DEFAULT_SPECS) == 24 and len(FLOAT_SPECS) == 42
    assert len({s.filename for s in SHIPPED_SPECS}) == 66


@SPECS
def test_shipped_table_matches_its_spec(spec):
    t, d = read(spec)            # load validates hash, ranges, counts, domain and mul/shift
    lay = d["layout"]
    assert (d["function"], lay["in_fmt"], lay["out_fmt"], lay["M"], lay["K"]) == \
        (spec.func, spec.in_fmt, spec.out_fmt, spec.M, spec.K)
    assert (lay["micro_step"], lay["rounding"], t.meta["metric"]) == ("mul", "nearest-even", spec.metric)
    # the domain: the spec's (or the whole input format), clipped to the format's codes
    lo_raw, hi_raw = fmt_range(spec.in_fmt)
    fb = fmt(spec.in_fmt)[2]
    want = {"reciprocal": (1.0, 2.0), "rsqrt": (1.0, 4.0)}.get(spec.func, spec.domain)
    lo, hi = (lo_raw, hi_raw) if want is None else domain_codes(want, spec.in_fmt)
    lo, hi = max(lo, lo_raw), min(hi, hi_raw)
    assert d["domain"] == [lo / 2 ** fb, hi / 2 ** fb]
    hw = Hardware(d)
    assert [m for m, _ in hw.scales] == d["mul"] and [s for _, s in hw.scales] == d["shift"]
    assert len(d["values"]) == (spec.M - 1) * spec.K + 1 and len(d["cutpoints"]) == spec.M


@SPECS
def test_shipped_errors_are_true(spec):
    """Every statistic in meta["errors"], recomputed over every code of the domain with the scalar
    datapath above and float64 math (the stored figures have 6 significant digits)."""
    t, d = read(spec)
    e, lay = t.meta["errors"], d["layout"]
    fin, fout = fmt(lay["in_fmt"])[2], fmt(lay["out_fmt"])[2]
    lo, hi = domain_codes(d["domain"], lay["in_fmt"])
    assert hi - lo + 1 <= 1 << 16 and not t.meta["sampled_eval"]     # every code was evaluated
    assert e["eval_codes"] == hi - lo + 1
    hw, f = Hardware(d), F[d["function"]]
    floor = float(t.meta.get("rel_floor", TAU))
    errs, rels = [], []
    for x in range(lo, hi + 1):
        fx = f(x / 2 ** fin)
        err = abs(hw(x) / 2 ** fout - fx)
        errs.append(err)
        rels.append(err / max(abs(fx), floor))
    n, max_abs = len(errs), max(errs)
    mse = sum(a * a for a in errs) / n
    approx = lambda v: pytest.approx(v, rel=1e-5, abs=1e-12)     # noqa: E731
    assert e["max_abs"] == approx(max_abs)
    assert e["max_abs_lsb"] == approx(max_abs * 2 ** fout)
    assert e["mean_rel"] == approx(sum(rels) / n)
    assert e["max_rel"] == approx(max(rels))
    assert e["mse"] == approx(mse)
    assert e["rms"] == approx(math.sqrt(mse))
    assert e["rms_lsb"] == approx(math.sqrt(mse) * 2 ** fout)
    worst = e["worst_input_raw"]
    assert errs[worst - lo] == approx(max_abs)
    assert e["worst_input"] == approx(worst / 2 ** fin)


def test_accuracy_improves_with_the_paper_layout():
    """(11, 32) stores 321 values against 17 for (17, 1): it must be far more accurate."""
    for func in ("silu", "gelu", "tanh", "sigmoid"):
        coarse = NLITable.load(shipped_dir() / f"{func}_M17_K1.json").meta["errors"]["max_abs_lsb"]
        fine = NLITable.load(shipped_dir() / f"{func}_M11_K32.json").meta["errors"]["max_abs_lsb"]
        assert fine < 2.0 and fine < coarse / 8


@pytest.mark.parametrize("spec", [
    pytest.param(s, marks=() if s.filename[:-5] in CHEAPEST else pytest.mark.slow) for s in DEFAULT_SPECS
], ids=lambda s: s.filename[:-5])
def test_refit_gives_identical_hardware(spec, tmp_path):
    """Statistics may drift in their last digits between CPUs; the hardware never may."""
    refit = json.loads(spec.fit().save(tmp_path / spec.filename).read_text())
    shipped = json.loads((shipped_dir() / spec.filename).read_text())
    for key in ("function", "domain", "layout", "cutpoints", "mul", "shift", "values", "clamp"):
        assert refit[key] == shipped[key], key
    assert set(refit) == set(shipped)


# --- the float tables (fp16 -> fp16, bf16 -> bf16) ----------------------------------------------
FLOAT = pytest.mark.parametrize("spec", FLOAT_SPECS, ids=lambda s: s.filename[:-5])
# cheapest float refit (every one of its 1,025 codes a candidate, seconds); the others are slow
FLOAT_CHEAPEST = {"rsqrt_bf16_M17_K1"}


def decode_np(fmt_name, codes):
    """Code -> float64 with numpy's own types: fp16 via float16, bf16 as the top half of a float32
    (independent of nlihw.formats)."""
    codes = np.asarray(codes, dtype=np.int64)
    if fmt_name == "fp16":
        return codes.astype(np.uint16).view(np.float16).astype(np.float64)
    assert fmt_name == "bf16"
    return (codes.astype(np.uint32) << 16).view(np.float32).astype(np.float64)


def finite_codes_np(fmt_name):
    """Every finite code of the 16-bit format, by decoding all 65,536."""
    c = np.arange(1 << 16, dtype=np.int64)
    return c[np.isfinite(decode_np(fmt_name, c))]


def ulp_np(fmt_name, v):
    """Spacing of the format's codes in the binade of |v| (2^(e - stored mantissa bits), e the
    float64 exponent floor(log2 |v|), at least the least normal exponent: -14 fp16, -126 bf16)."""
    emin, man = {"fp16": (-14, 10), "bf16": (-126, 7)}[fmt_name]
    v = np.abs(np.asarray(v, dtype=np.float64))
    e = np.frexp(np.where(v > 0, v, 1.0))[1] - 1
    e = np.where(v > 0, np.maximum(e, emin), emin)
    return np.ldexp(1.0, (e - man).astype(np.int32))


# f over every finite code, float64 math (limits where math.exp overflows; nan where undefined)
F_ALL = {
    "silu": lambda x: x / (1.0 + math.exp(-x)) if x > -700 else 0.0,
    "gelu": F["gelu"],
    "exp": lambda x: math.exp(x) if x < 709 else math.inf,
    "sigmoid": lambda x: 1.0 / (1.0 + math.exp(-x)) if x > -700 else 0.0,
    "tanh": math.tanh,
    "softplus": lambda x: math.log1p(math.exp(x)) if x < 700 else x,
    "rsqrt": lambda x: 1.0 / math.sqrt(x) if x > 0 else math.nan,
}


def float_errors(t, codes, fmt_name, floor):
    x = decode_np(fmt_name, codes)
    fx = np.array([F_ALL[t.function](float(v)) for v in x])
    big = 65504.0 if fmt_name == "fp16" else 3.3895313892515355e38
    keep = np.isfinite(fx) & (np.abs(fx) <= big)       # f finite and inside the output's range
    codes, fx = codes[keep], fx[keep]
    y = decode_np(fmt_name, nli_eval(t, codes))
    d = np.abs(y - fx)
    return {"eval_codes": int(codes.shape[0]), "max_abs": float(d.max()),
            "mean_rel": float(np.mean(d / np.maximum(np.abs(fx), floor))),
            "max_ulp": float(np.max(d / ulp_np(fmt_name, np.clip(fx, -big, big))))}


@FLOAT
def test_shipped_float_table_matches_its_spec(spec):
    t, d = read(spec)
    lay = d["layout"]
    assert (d["function"], lay["in_fmt"], lay["out_fmt"], lay["M"], lay["K"], t.meta["metric"]) == \
        (spec.func, spec.in_fmt, spec.out_fmt, spec.M, spec.K, "mean-rel")
    assert tuple(d["domain"]) == spec.domain and spec.filename == f"{spec.func}_{spec.in_fmt}_M{spec.M}_K{spec.K}.json"
    assert len(d["values"]) == (spec.M - 1) * (spec.K + 1) and len(d["exponents"]) == spec.M - 1
    cut = decode_np(spec.in_fmt, d["cutpoints"])
    assert np.all(np.diff(cut) > 0) and cut[0] >= spec.domain[0] and cut[-1] <= spec.domain[1]


@FLOAT
def test_shipped_float_errors_are_true(spec):
    """meta errors over the domain and over every finite code (where f is finite), recomputed with
    numpy's float16/float32 decoding and math f; outputs from the golden model."""
    t, _ = read(spec)
    floor = float(t.meta["rel_floor"])
    assert floor == 2.0 ** -14
    allc = finite_codes_np(spec.in_fmt)
    x = decode_np(spec.in_fmt, allc)
    dom = allc[(x >= spec.domain[0]) & (x <= spec.domain[1])]
    for key, codes in (("errors", dom), ("errors_all_codes", allc)):
        want, got = float_errors(t, codes, spec.in_fmt, floor), t.meta[key]
        assert got["eval_codes"] == want["eval_codes"], key
        for k in ("max_abs", "mean_rel", "max_ulp"):
            assert got[k] == pytest.approx(want[k], rel=1e-5, abs=1e-12), (key, k)


def test_float_accuracy_improves_with_the_paper_layout():
    for fmt_name in ("fp16", "bf16"):
        for func in ("silu", "gelu", "tanh", "sigmoid"):
            e = {MK: NLITable.load(shipped_dir() / f"{func}_{fmt_name}_{MK}.json").meta["errors"]["mean_rel"]
                 for MK in ("M17_K1", "M11_K32")}
            assert e["M11_K32"] < e["M17_K1"] / 3, (fmt_name, func)


@pytest.mark.parametrize("spec", [
    pytest.param(s, marks=() if s.filename[:-5] in FLOAT_CHEAPEST else pytest.mark.slow)
    for s in FLOAT_SPECS], ids=lambda s: s.filename[:-5])
def test_refit_float_gives_identical_hardware(spec, tmp_path):
    refit = json.loads(spec.fit().save(tmp_path / spec.filename).read_text())
    shipped = json.loads((shipped_dir() / spec.filename).read_text())
    for key in ("function", "domain", "layout", "cutpoints", "mul", "shift", "values", "exponents",
                "clamp", "tails"):
        assert refit.get(key) == shipped.get(key), key


# --- the scan presets' tables (luts/tables/scan) --------------------------------------------------
F_NP = {   # numpy float64 math, written independently of luts/functions.py
    "exp": np.exp,
    "softplus": lambda x: np.log1p(np.exp(x)),
    "silu": lambda x: x / (1.0 + np.exp(-x)),
}


@pytest.mark.parametrize("spec", SCAN_SPECS, ids=lambda s: s.filename[:-5])
def test_scan_table_statistics_cover_every_code(spec):
    """meta["errors"] of each scan table equals the figures recomputed here over every code of its
    domain (1,048,576 for int16 exp): outputs from the golden model, f and the statistics in numpy."""
    t = NLITable.load(scan_tables_dir() / spec.filename)
    e, lay = t.meta["errors"], t.layout
    fin, fout = fmt(str(lay.in_fmt))[2], fmt(str(lay.out_fmt))[2]
    lo, hi = domain_codes(t.domain, str(lay.in_fmt))
    xs = np.arange(lo, hi + 1, dtype=np.int64)
    fx = F_NP[t.function](xs / 2.0 ** fin)
    y = np.concatenate([nli_eval(t, xs[k:k + (1 << 18)]) for k in range(0, xs.size, 1 << 18)])
    d = np.abs(y / 2.0 ** fout - fx)
    rel = d / np.maximum(np.abs(fx), float(t.meta.get("rel_floor", TAU)))
    worst = int(np.argmax(d))
    mse = float(np.mean(d * d))
    approx = lambda v: pytest.approx(v, rel=1e-5, abs=1e-12)     # noqa: E731
    assert t.meta["sampled_eval"] is False and e["eval_codes"] == hi - lo + 1
    assert e["max_abs"] == approx(d[worst]) and e["max_abs_lsb"] == approx(d[worst] * 2 ** fout)
    assert e["mean_rel"] == approx(rel.mean()) and e["max_rel"] == approx(rel.max())
    assert e["mse"] == approx(mse) and e["rms"] == approx(math.sqrt(mse))
    assert e["rms_lsb"] == approx(math.sqrt(mse) * 2 ** fout)
    assert d[e["worst_input_raw"] - lo] == approx(d[worst])
    again = table_errors(t)                       # the project's own statistics: every code again
    assert again["eval_codes"] == hi - lo + 1
    assert {k: approx(v) for k, v in e.items()} == again
