"""The linear tail with a float side in the Amaranth simulator: TailUnit (FloatSum + FloatRound,
or FloatToFixed + add) against the golden ``luts.tails.linear_output``, itself checked against
fractions in tests/luts/test_float_golden.py. Every code of the fp8 formats, random codes and the special
ones of the 16-bit formats, offsets of every kind (zero, subnormal, largest, both signs)."""
from __future__ import annotations

import numpy as np
import pytest
from amaranth.hdl import Const

from nlihw.formats import FP, Q, parse_format
from nlihw.hdl.nli.params import NLIEngineParams
from nlihw.hdl.nli.tail_unit import TailUnit
from nlihw.luts.tails import linear_output
from nlihw.sim.nli.random_tables import random_table
from tests.support.float_units import comb_run, test_codes


def offsets(fmt, rng, n=2):
    """Offset codes: +-0, the smallest and largest magnitudes, and random finite ones."""
    if not fmt.is_float:
        edges = [v for v in (0, 1, -1, fmt.max_raw, fmt.min_raw) if fmt.min_raw <= v <= fmt.max_raw]
        return edges + [int(v) for v in rng.integers(fmt.min_raw, fmt.max_raw, n)]
    sb = 1 << (fmt.width - 1)
    special = [0, sb, 1, sb | 1, fmt.max_finite_raw, fmt.max_finite_raw | sb]
    return special + [int(v) for v in rng.choice(fmt.finite_codes(), n)]


@pytest.mark.parametrize("fin, fout, shifts", [
    ("fp8e4m3", "fp8e4m3", (-3, 0)), ("fp8e5m2", "fp8e4m3", (2, -16)), ("fp16", "fp16", (-5, 16)),
    ("bf16", "bf16", (1, -2)), ("fp16", "bf16", (0, -16)), ("s4.12", "fp16", (-2, 3)),
    ("fp16", "s4.12", (0, -4)), ("fp8e4m3", "u4.4", (1, -1)), ("bf16", "s8.8", (3, 0)),
])
def test_tail_unit_linear_matches_golden(fin, fout, shifts):
    rng = np.random.default_rng(7)
    tails = tuple(f"linear:{s}" for s in shifts)
    table = random_table(rng, fin, fout, 4, 2, tails=tails)
    p = NLIEngineParams(table)
    lay = p.layout
    fi, fo = lay.in_fmt, lay.out_fmt
    xs = test_codes(fi, 400, 3) if fi.is_float else np.unique(np.concatenate(
        [rng.integers(fi.min_raw, fi.max_raw + 1, 600), [fi.min_raw, fi.max_raw, 0, -1, 1]]))
    for b in offsets(fo, rng):
        b_bits = int(fo.to_bits(b))
        dut = TailUnit(p, [Const(b_bits, fo.width)], [Const(b_bits, fo.width)])
        x_bits = [int(fi.to_bits(x)) for x in xs]
        got = comb_run(dut, [dict(x=x, func=0) for x in x_bits], ["lo", "hi"])
        for side, tail in ((0, table.tail_lo), (1, table.tail_hi)):
            want = fo.to_bits(linear_output(tail, lay, xs, b))
            bad = [(hex(xb), hex(int(w)), hex(g[side])) for xb, w, g in zip(x_bits, want, got)
                   if int(w) != g[side] and not (fi.is_float and fi.is_nan(fi.from_bits(xb)))]
            assert not bad, (f"{fin}->{fout} {tail} b={hex(b_bits)}: {len(bad)} differ, first "
                             f"(x, want, got): {bad[:4]}")


def test_tail_unit_selects_each_functions_offset():
    """Two functions with the same slope share one adder; func picks the offset."""
    rng = np.random.default_rng(3)
    t0, t1 = (random_table(rng, "fp8e4m3", "fp8e4m3", 4, 2, tails=("linear:-1", "zero"))
              for _ in range(2))
    p = NLIEngineParams((t0, t1))
    b = [0x31, 0xC5]
    dut = TailUnit(p, [Const(v, 8) for v in b], [Const(0, 8)] * 2)
    xs = np.arange(256)
    got = comb_run(dut, [dict(x=int(x), func=f) for f in (0, 1) for x in xs], ["lo"])
    fo = p.layout.out_fmt
    for f, t in enumerate((t0, t1)):
        want = linear_output(t.tail_lo, p.layout, xs, b[f])
        ok = ~fo.is_nan(xs)
        assert [g[0] for g in got[f * 256:(f + 1) * 256]] == [int(w) if o else g[0] for w, o, g in
                                                               zip(want, ok, got[f * 256:(f + 1) * 256])]
