"""The golden model against an independent scalar statement of the datapath, and exactness cases."""
import numpy as np
import pytest

from nlihw.luts.golden import nli_eval, nli_stages
from nlihw.luts.layout import TableLayout, interval_scale
from nlihw.luts.table import NLITable
from tests.support.scalar_golden import ref_scale, scalar_reference, table_scale


def random_table(rng, layout: TableLayout) -> NLITable:
    fmt = layout.in_fmt
    if layout.micro_step.value == "pow2":
        lengths = [layout.K << int(rng.integers(0, 3)) for _ in range(layout.M - 1)]
        start = int(rng.integers(fmt.min_raw, fmt.max_raw - sum(lengths)))
        cut = np.concatenate([[start], start + np.cumsum(lengths)])
    else:
        cut = np.sort(rng.choice(np.arange(fmt.min_raw, fmt.max_raw + 1), layout.M, replace=False))
    out = layout.out_fmt
    vals = rng.integers(out.min_raw, out.max_raw + 1, layout.n_values + 2)
    return NLITable(layout, "silu", cut, vals[:-2], vals[-2], vals[-1], (fmt.min, fmt.max))


CASES = [
    TableLayout("s4.4", "s4.4", 5, 4),
    TableLayout("s3.5", "u2.6", 9, 3, rounding="nearest-away", t_bits=5, mul_bits=9),
    TableLayout("u8.0", "s2.6", 4, 8, micro_step="pow2", rounding="floor", t_bits=3),
    TableLayout("s6.4", "s4.4", 7, 1, rounding="toward-zero", t_bits=7),
    TableLayout("s5.5", "s5.5", 3, 32, micro_step="pow2", t_bits=2),
]


@pytest.mark.parametrize("layout", CASES, ids=lambda l: f"{l.in_fmt}-{l.out_fmt}-M{l.M}K{l.K}-{l.micro_step.value}-{l.rounding.value}")
@pytest.mark.parametrize("seed", [0, 1])
def test_golden_matches_scalar_reference(layout, seed):
    rng = np.random.default_rng(seed)
    table = random_table(rng, layout)
    assert [table_scale(table, i) for i in range(layout.M - 1)] == list(table.scales)
    xs = layout.in_fmt.codes()
    got = nli_eval(table, xs)
    expect = [scalar_reference(table, int(x)) for x in xs]
    assert got.tolist() == expect


@pytest.mark.parametrize("K, T, mul_bits", [(1, 12, 18), (32, 12, 18), (3, 5, 9), (8, 6, 12), (4096, 4, 17)])
def test_interval_scale_follows_its_definition(K, T, mul_bits):
    """Every interval length of a 12-bit input, and long ones of 16 and 32 bits."""
    layout = TableLayout("u12.0" if K < 4096 else "u16.0", "u8.0", 2, K, t_bits=T, mul_bits=mul_bits)
    lengths = list(range(1, 1 << 12)) + [(1 << 16) - 1, 1 << 16, 65521, (1 << 32) - 1]
    for L in lengths:
        assert interval_scale(layout, L) == ref_scale(K, T, mul_bits, L, False), L
    pow2 = TableLayout("u16.0", "u8.0", 2, 8, micro_step="pow2", t_bits=T)
    for s in range(14):
        assert interval_scale(pow2, 8 << s) == ref_scale(8, T, 0, 8 << s, True) == (1 << T, s)


def test_intermediate_widths_fit_the_layout():
    rng = np.random.default_rng(3)
    for layout in CASES:
        table = random_table(rng, layout)
        st = nli_stages(table, layout.in_fmt.codes())
        inside = (st["index"] > 0) & (st["index"] < layout.M)
        assert st["index"].max() < 2 ** layout.index_bits
        assert st["dx"].max() < 2 ** layout.dx_bits
        assert st["u"][inside].max() < layout.K * 2 ** layout.t_bits
        assert st["addr"][inside].max() + 1 < layout.n_values + 1
        assert np.abs(st["acc"]).max() < 2 ** (layout.acc_bits - 1)
        assert max(table.shift) <= layout.max_shift


def identity(x):
    return x


def test_linear_function_is_reproduced_exactly():
    """A straight line is interpolated without error (pow2 steps are exact)."""
    layout = TableLayout("s4.8", "s4.8", 5, 4, micro_step="pow2", t_bits=8)
    c = np.array([-1024, -512, 0, 256, 512])
    vals = []
    for a, b in zip(c[:-1], c[1:]):
        vals += [a + j * (b - a) // 4 for j in range(4)]
    vals.append(512)
    table = NLITable(layout, "test_golden:identity", c, vals, -1024, 512, (-4.0, 2.0))
    xs = layout.in_fmt.codes()
    assert nli_eval(table, xs).tolist() == np.clip(xs, -1024, 512).tolist()


def test_inputs_outside_the_format_are_rejected():
    table = random_table(np.random.default_rng(0), CASES[0])
    with pytest.raises(ValueError):
        nli_eval(table, [1 << 12])
