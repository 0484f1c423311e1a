"""Sweep accuracy columns for a float output: errors in ulps of the output format at f."""
from __future__ import annotations

import math
import random

import numpy as np
import pytest

from nlihw.explore.tasks import nli_errors, table_bits
from nlihw.luts.golden import nli_eval
from tests.support.float_fractions import E4M3, decode, random_fp8_table


def ulp_e4m3(v: float) -> float:
    """fp8 e4m3 code spacing at |v| (bias 7, 3 mantissa bits, subnormal spacing 2^-9)."""
    v = abs(v)
    e = math.floor(math.log2(v)) if v > 0 else -100
    return 2.0 ** (max(e, -6) - 3)


def test_nli_errors_of_a_float_table_are_in_output_ulps():
    table = random_fp8_table(random.Random(2), K=2, tails=("zero", "identity"))
    lo, hi = table.domain
    xs = [c for c in range(256) if decode(c, *E4M3)[0] in ("num", "negzero")
          and lo <= float(decode(c, *E4M3)[1]) <= hi]
    ys = [float(decode(int(y), *E4M3)[1]) for y in nli_eval(table, np.array(xs))]
    fs = [v / (1 + math.exp(-v)) for v in (float(decode(c, *E4M3)[1]) for c in xs)]
    ulps = [abs(y - f) / ulp_e4m3(min(max(f, -448), 448)) for y, f in zip(ys, fs)]
    got = nli_errors(table)
    assert got["max_err_lsb"] == pytest.approx(max(ulps), rel=1e-12)
    assert got["mean_err_lsb"] == pytest.approx(sum(ulps) / len(ulps), rel=1e-12)
    assert got["max_err"] == pytest.approx(max(abs(y - f) for y, f in zip(ys, fs)), rel=1e-12)


def test_table_bits_counts_block_mantissas_and_exponents():
    table = random_fp8_table(random.Random(2), K=2)
    lay = table.layout        # M = 5, K = 2: 4 intervals x 3 mantissas, 4 exponents
    want = 4 * 3 * lay.value_bits + 4 * lay.exp_bits + 5 * 8 + 4 * (lay.mul_bits + lay.shift_bits)
    assert table_bits(table, "parallel") == want
