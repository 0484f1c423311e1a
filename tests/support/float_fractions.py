"""An independent model of the small float formats in plain Python fractions (own decoder,
brute-force nearest-even encoder) and random fp8 tables, shared by the float tests."""
from __future__ import annotations

import bisect
import functools
import random
from fractions import Fraction

from nlihw.formats import FP
from nlihw.luts.layout import TableLayout
from nlihw.luts.table import NLITable


def decode(code: int, e_bits: int, m_bits: int, fn: bool):
    """(kind, value): kind 'nan', 'inf' or 'num'; value a Fraction (sign of zero in 'negzero')."""
    s = code >> (e_bits + m_bits) & 1
    e = code >> m_bits & ((1 << e_bits) - 1)
    m = code & ((1 << m_bits) - 1)
    top = (1 << e_bits) - 1
    if fn:
        if e == top and m == (1 << m_bits) - 1:
            return "nan", None
    elif e == top:
        return ("inf", -1 if s else 1) if m == 0 else ("nan", None)
    bias = (1 << (e_bits - 1)) - 1
    mag = Fraction(m, 1 << m_bits) * Fraction(2) ** (1 - bias) if e == 0 else \
        (1 + Fraction(m, 1 << m_bits)) * Fraction(2) ** (e - bias)
    if mag == 0 and s:
        return "negzero", Fraction(0)
    return "num", -mag if s else mag


@functools.lru_cache(maxsize=None)
def encoder(e_bits: int, m_bits: int, fn: bool):
    """Nearest-even encoder by brute force over every finite code; saturates to +-max."""
    width = 1 + e_bits + m_bits
    finite = []
    for c in range(1 << width):
        kind, v = decode(c, e_bits, m_bits, fn)
        if kind == "num" or (kind == "negzero"):
            finite.append((v, c))
    pos = sorted({v for v, c in finite if v >= 0})
    code_of = {v: c for v, c in finite if not (v == 0 and c != 0)}

    def enc(v: Fraction) -> int:
        mag = abs(v)
        if mag >= pos[-1]:
            c = code_of[pos[-1]]
        else:
            k = bisect.bisect_right(pos, mag)
            lo, hi = pos[k - 1], (pos[k - 1] if pos[k - 1] == mag else pos[k])
            if mag - lo < hi - mag:
                c = code_of[lo]
            elif hi - mag < mag - lo:
                c = code_of[hi]
            else:
                c = code_of[lo] if code_of[lo] % 2 == 0 else code_of[hi]
        if v < 0:
            c |= 1 << (width - 1)
        return c
    return enc


E4M3 = (4, 3, True)


FP8 = FP(*E4M3)


def random_fp8_table(rng: random.Random, K: int, tails=("clamp", "clamp")) -> NLITable:
    lay = TableLayout(FP8, FP8, 5, K)
    vals = sorted(rng.sample([-6.0, -3.0, -1.5, -0.25, 0.0, 0.125, 0.5, 1.0, 2.5, 5.0, 12.0], 5))
    cut = [int(FP8.quantize(v)) for v in vals]
    B = lay.value_bits
    lo, hi = lay.exp_range
    mant = [rng.randrange(-(1 << (B - 1)), 1 << (B - 1)) for _ in range(lay.n_values)]
    exps = [rng.randint(lo, hi) for _ in range(4)]
    cl = [int(FP8.quantize(rng.uniform(-100, 100))) for _ in range(2)]
    cl = [c if t == "clamp" or t.startswith("linear") else 0 for c, t in zip(cl, tails)]
    return NLITable(lay, "silu", tuple(cut), tuple(mant), cl[0], cl[1], (vals[0], vals[-1]),
                    tails[0], tails[1], exponents=tuple(exps))
