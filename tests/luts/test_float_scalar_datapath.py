"""The float datapath (README "The floating-point datapath", ``luts/golden.py``) restated one
code at a time: codes decoded with ``struct`` into exact ``Fraction``s, the interval found by
comparing values, dx on floor(x 2^F), the interpolation in exact fractions, one rounding to nearest
even into the output code by integer arithmetic. Nothing from ``nlihw.formats``, ``luts.tails`` or
the golden model; it must equal the golden model bit for bit on shipped fp16 and bf16 tables, and
the tables' stored statistics must recompute from it.

Every one of the 65,536 codes (zeros, infinities, NaNs and subnormals included) of each table
checked, a few seconds a table: two tables in the fast suite, two more with ``-m slow``.
"""
import bisect
import json
import math
import struct
from fractions import Fraction

import numpy as np
import pytest

from nlihw.luts.default_tables import shipped_dir
from nlihw.luts.golden import nli_eval
from nlihw.luts.table import NLITable
from tests.support.scalar_golden import ref_scale  # (mul, shift) from their definition, plain integers

# (exponent bits, mantissa bits, canonical NaN) of the two formats, stated here
FORMATS = {"fp16": (5, 10, 0x7E00), "bf16": (8, 7, 0x7FC0)}
FAST = ["silu_fp16_M11_K32", "exp_bf16_M11_K8"]      # zero/identity and zero/clamp tails
SLOW = ["tanh_fp16_M17_K1", "gelu_bf16_M11_K32"]


def decode(fmt: str, code: int):
    """Code -> exact Fraction, or a float for +-inf / nan (via struct: IEEE half, or bf16 as the
    top half of a float32); -0 decodes to Fraction(0) and is told apart by its sign bit."""
    if fmt == "fp16":
        v = struct.unpack("<e", code.to_bytes(2, "little"))[0]
    else:
        v = struct.unpack("<f", (code << 16).to_bytes(4, "little"))[0]
    return v if math.isinf(v) or math.isnan(v) else Fraction(v)


def sign_bit(code: int) -> int:
    return code >> 15


def encode(fmt: str, v: Fraction, negative_zero: bool = False) -> int:
    """Exact value -> code, rounded once to nearest even, saturating at the largest finite value;
    0 gives +0, or -0 when ``negative_zero`` (a negative that rounded to 0)."""
    e_bits, m_bits, _ = FORMATS[fmt]
    bias = (1 << (e_bits - 1)) - 1
    emin = 1 - bias
    max_code = ((1 << e_bits) - 2) << m_bits | ((1 << m_bits) - 1)
    sign = 1 if v < 0 else 0
    a = abs(v)
    if a == 0:
        return (1 << 15) if negative_zero else 0
    e = a.numerator.bit_length() - a.denominator.bit_length()      # floor(log2 a), maybe one high
    if Fraction(2) ** e > a:
        e -= 1
    e = max(e, emin)
    q = a / Fraction(2) ** (e - m_bits)                               # in [2^m, 2^(m+1)) if normal
    n = q.numerator // q.denominator
    rem = q - n
    n += 1 if rem > Fraction(1, 2) or (rem == Fraction(1, 2) and n % 2) else 0
    mag = min(((e - emin) << m_bits) + n, max_code)
    if mag == 0:
        return (1 << 15) if sign else 0
    return (sign << 15) | mag


class FloatHardware:
    """The float->float datapath of one table, from its JSON, one code at a time."""

    def __init__(self, d: dict):
        lay = d["layout"]
        self.fin, self.fout = lay["in_fmt"], lay["out_fmt"]
        self.K, self.T, self.F = lay["K"], lay["t_bits"], lay["x_frac_bits"]
        self.c, self.v, self.E = d["cutpoints"], d["values"], d["exponents"]
        self.clamp_lo, self.clamp_hi = d["clamp"]
        self.tails = d.get("tails", ["clamp", "clamp"])
        self.cval = [decode(self.fin, c) for c in self.c]              # finite, increasing
        self.pos = [math.floor(x * 2 ** self.F) for x in self.cval]
        self.scales = [ref_scale(self.K, self.T, lay["mul_bits"], b - a, lay["micro_step"] == "pow2")
                       for a, b in zip(self.pos, self.pos[1:])]

    def tail(self, side: int, x: int, xv) -> int:
        """clamp: the stored code; zero: +0; identity: x rounded into the output format (+-inf
        stay infinite). The shipped float tables use no linear tail, so none is modelled."""
        mode = self.tails[side]
        if mode == "clamp":
            return (self.clamp_lo, self.clamp_hi)[side]
        if mode == "zero":
            return 0
        assert mode == "identity", f"tail {mode} is not modelled here"
        if isinstance(xv, float):                                      # +-inf (nan never here)
            e_bits, m_bits, _ = FORMATS[self.fout]
            return (sign_bit(x) << 15) | (((1 << e_bits) - 1) << m_bits)
        return encode(self.fout, xv, negative_zero=sign_bit(x) == 1)

    def __call__(self, x: int) -> int:
        xv = decode(self.fin, x)
        if isinstance(xv, float) and math.isnan(xv):
            return FORMATS[self.fout][2]
        n = bisect.bisect_right(self.cval, xv)                          # #{j : c[j] <= x}, -0 = +0
        if n == 0:
            return self.tail(0, x, xv)
        if n == len(self.c):
            return self.tail(1, x, xv)
        i = n - 1
        dx = math.floor(xv * 2 ** self.F) - self.pos[i]
        mul, shift = self.scales[i]
        u = (dx * mul) >> shift
        j, t = u >> self.T, u & ((1 << self.T) - 1)
        assert 0 <= j < self.K
        base = i * (self.K + 1) + j
        y0, y1 = self.v[base], self.v[base + 1]
        acc = (y0 << self.T) + t * (y1 - y0)
        value = Fraction(acc) * Fraction(2) ** (self.E[i] - self.T)
        return encode(self.fout, value, negative_zero=acc < 0)


def load(name: str):
    path = shipped_dir() / f"{name}.json"
    return NLITable.load(path), json.loads(path.read_text())


def check_equal(name: str) -> int:
    t, d = load(name)
    hw = FloatHardware(d)
    codes = np.arange(1 << 16, dtype=np.int64)
    golden = nli_eval(t, codes).tolist()
    bad = [(x, g, y) for x, g in enumerate(golden) if g != (y := hw(x))]
    assert not bad, f"{name}: {len(bad)} codes differ, first (code, golden, scalar) {bad[:5]}"
    return len(golden)


@pytest.mark.parametrize("name", FAST + [pytest.param(n, marks=pytest.mark.slow) for n in SLOW])
def test_scalar_model_equals_golden_on_every_code(name):
    assert check_equal(name) == 1 << 16


F = {   # float64 math
    "silu": lambda x: x / (1.0 + math.exp(-x)) if x > -700 else 0.0,
    "tanh": math.tanh,
}


def ulp(fmt: str, v: float) -> float:
    """Spacing of the format's codes in the binade of |v|, the subnormal spacing below normal."""
    e_bits, m_bits, _ = FORMATS[fmt]
    emin = 2 - (1 << (e_bits - 1))
    e = math.frexp(abs(v))[1] - 1 if v else emin
    return 2.0 ** (max(e, emin) - m_bits)


@pytest.mark.parametrize("name", ["silu_fp16_M11_K8",
                                  pytest.param("tanh_fp16_M17_K1", marks=pytest.mark.slow)])
def test_stored_statistics_recompute_from_the_scalar_model(name):
    """meta["errors"] over every finite domain code, from the scalar outputs and math f. For a
    float output max_abs_lsb and rms_lsb are in ulps of the output format at f(worst input), the
    input with the largest absolute error; max_ulp is the largest per-code error in ulps at f."""
    t, d = load(name)
    fmt, floor = d["layout"]["in_fmt"], float(t.meta["rel_floor"])
    hw, f = FloatHardware(d), F[d["function"]]
    lo, hi = (Fraction(v) for v in d["domain"])
    errs, rels, ulps, xs = [], [], [], []
    for code in range(1 << 16):
        xv = decode(fmt, code)
        if isinstance(xv, float) or not lo <= xv <= hi:
            continue
        fx = f(float(xv))
        y = float(decode(d["layout"]["out_fmt"], hw(code)))
        e = abs(y - fx)
        errs.append(e)
        rels.append(e / max(abs(fx), floor))
        ulps.append(e / ulp(fmt, fx))
        xs.append((code, float(xv), fx))
    stored = t.meta["errors"]
    n = len(errs)
    worst = max(range(n), key=lambda k: errs[k])                 # first of the largest
    mse = sum(e * e for e in errs) / n
    unit = ulp(fmt, xs[worst][2])
    approx = lambda v: pytest.approx(v, rel=1e-5, abs=1e-12)     # noqa: E731
    assert stored["eval_codes"] == n
    assert stored["max_abs"] == approx(errs[worst])
    assert stored["max_abs_lsb"] == approx(errs[worst] / unit)
    assert stored["rms"] == approx(math.sqrt(mse))
    assert stored["rms_lsb"] == approx(math.sqrt(mse) / unit)
    assert stored["mse"] == approx(mse)
    assert stored["mean_rel"] == approx(sum(rels) / n)
    assert stored["max_rel"] == approx(max(rels))
    assert stored["max_ulp"] == approx(max(ulps))
    assert stored["worst_input_raw"] == xs[worst][0]
    assert stored["worst_input"] == approx(xs[worst][1])
