"""A fixed-point table's tails meet f at their end cutpoints, checked against f(c) computed here in
mpmath and quantized with plain integer arithmetic (not ``nlihw.formats``, not ``luts.tails``).

The fitter, the golden model and the brute force share one offset computation, so they agree with
each other even when it is off by an LSB; this file is the outside reference. A tail's outputs
are pinned too: y = saturate(round(x 2^e) + b), rounded by the layout's rounding, with
e = S + out frac bits - in frac bits.
"""
from pathlib import Path

import mpmath
import numpy as np
import pytest

from nlihw.luts.fitter import fit
from nlihw.luts.golden import nli_eval
from nlihw.luts.layout import TableLayout
from nlihw.luts.table import NLITable

TABLES = Path(__file__).resolve().parents[2] / "luts" / "tables"
mpmath.mp.dps = 60

MP = {  # the functions in mpmath, written out here
    "silu": lambda x: x / (1 + mpmath.exp(-x)),
    "softplus": lambda x: mpmath.log(1 + mpmath.exp(x)),
    "exp": mpmath.exp,
    "sigmoid": lambda x: 1 / (1 + mpmath.exp(-x)),
    "tanh": mpmath.tanh,
    "gelu": lambda x: x / 2 * (1 + mpmath.erf(x / mpmath.sqrt(2))),
    "reciprocal": lambda x: 1 / x,
    "rsqrt": lambda x: 1 / mpmath.sqrt(x),
}


def fmt_bits(text: str) -> tuple[bool, int, int]:
    """'s4.12' -> (signed, int bits, frac bits), parsed here."""
    return text[0] == "s", int(text[1:].split(".")[0]), int(text.split(".")[1])


def code_range(text: str) -> tuple[int, int]:
    signed, ib, fb = fmt_bits(text)
    w = ib + fb
    return (-(1 << (w - 1)), (1 << (w - 1)) - 1) if signed else (0, (1 << w) - 1)


def f_quantized(func: str, c: int, in_fmt: str, out_fmt: str) -> int:
    """f at input code c, to the nearest output code, ties to even (the stored values' rule),
    saturated."""
    x = mpmath.mpf(c) / 2 ** fmt_bits(in_fmt)[2]
    v = MP[func](x) * 2 ** fmt_bits(out_fmt)[2]
    fl = int(mpmath.floor(v))
    rem = v - fl
    q = fl + (1 if rem > 0.5 or (rem == 0.5 and fl % 2) else 0)
    lo, hi = code_range(out_fmt)
    return min(max(q, lo), hi)


def round_shift(n: int, e: int, mode: str) -> int:
    """n 2^e for integers, e < 0 rounded by ``mode`` (Python's // floors)."""
    if e >= 0:
        return n << e
    d = 1 << -e
    fl, rem = n // d, n % d
    if mode == "floor":
        return fl
    if mode == "toward-zero":
        return fl + (n < 0 and rem != 0)
    if 2 * rem != d:
        return fl + (2 * rem > d)
    return fl + (n >= 0) if mode == "nearest-away" else fl + (fl % 2)


def tail_exponent(table: NLITable, shift: int) -> int:
    lay = table.layout
    return shift + fmt_bits(str(lay.out_fmt))[2] - fmt_bits(str(lay.in_fmt))[2]


def expected_tail(table: NLITable, side: str, xs) -> list[int]:
    """Outputs of one tail at codes xs from its stored offset b: saturate(round(x 2^e) + b)."""
    tail = table.tail_lo if side == "lo" else table.tail_hi
    b = table.clamp_lo if side == "lo" else table.clamp_hi
    lo, hi = code_range(str(table.layout.out_fmt))
    mode = tail.mode.value
    if mode in ("clamp", "zero"):
        return [min(max(b, lo), hi)] * len(xs)
    e = tail_exponent(table, tail.shift)
    return [min(max(round_shift(int(x), e, table.layout.rounding.value) + b, lo), hi) for x in xs]


def check_cutpoints(table: NLITable) -> int:
    """Each side's tail at its end cutpoint c equals f(c) quantized here; returns the number of
    sides checked. For a gain tail the offset is checked through the tail's formula at c (the left
    tail's own code, since the engine reads the interpolator at c_0 itself)."""
    fin, fout = str(table.layout.in_fmt), str(table.layout.out_fmt)
    checked = 0
    for side, c in (("lo", table.cutpoints[0]), ("hi", table.cutpoints[-1])):
        tail = table.tail_lo if side == "lo" else table.tail_hi
        if tail.mode.value in ("zero", "identity"):
            continue                                  # b = 0 by definition, not f(c)
        want = f_quantized(table.function, c, fin, fout)
        got = expected_tail(table, side, [c])[0]
        assert got == want, (f"{table.function} {side} {tail} tail at its cutpoint {c}: "
                             f"{got}, f(c) quantized is {want}")
        if side == "hi":                              # the golden model's own output there
            assert int(nli_eval(table, [c])[0]) == want
        checked += 1
    # and every code the tails serve follows their formula
    lo_in, hi_in = code_range(fin)
    below = np.arange(max(lo_in, table.cutpoints[0] - 300), table.cutpoints[0])
    above = np.arange(table.cutpoints[-1], min(hi_in, table.cutpoints[-1] + 300) + 1)
    assert nli_eval(table, below).tolist() == expected_tail(table, "lo", below)
    assert nli_eval(table, above).tolist() == expected_tail(table, "hi", above)
    return checked


def shipped_fixed_tables() -> list[Path]:
    out = []
    for path in sorted(TABLES.glob("*.json")) + sorted((TABLES / "scan").glob("*.json")):
        t = NLITable.load(path)
        if not (t.layout.in_float or t.layout.out_float) and not t.meta.get("refined"):
            out.append(path)
    return out


def test_shipped_fixed_point_tables_meet_f_at_their_cutpoints():
    """Every shipped fixed-point table (clamp tails today: b = f(c) quantized; a linear tail, if
    one is ever shipped, through the same check)."""
    paths = shipped_fixed_tables()
    assert len(paths) >= 24 + 6
    linear = 0
    for path in paths:
        t = NLITable.load(path)
        assert check_cutpoints(t) >= 1, path.name
        linear += "linear" in (t.tail_lo.mode.value, t.tail_hi.mode.value)
    print(f"{len(paths)} shipped fixed-point tables, {linear} with a linear tail")


# Fresh fits with linear tails: e < 0 (the gain rounds) and e > 0, every rounding mode.
FITS = [
    ("silu", "s4.8", "s3.6", (-3.0, 3.0), ("linear:-4", "linear"), "nearest-even"),
    ("silu", "s4.8", "s3.6", (-3.0, 3.0), ("linear:-4", "linear"), "floor"),
    ("softplus", "s4.8", "u3.7", (-2.5, 2.5), ("linear:-3", "linear"), "nearest-away"),
    ("softplus", "s4.8", "u3.7", (-2.5, 2.5), ("linear:-3", "linear"), "toward-zero"),
    ("exp", "s4.6", "u3.10", (-3.0, 1.0), ("linear:-5", "linear:1"), "nearest-even"),
    ("gelu", "s3.5", "s3.9", (-2.0, 2.0), ("linear:-2", "linear:0"), "floor"),
]


@pytest.mark.parametrize("func,fin,fout,domain,tails,rounding", FITS)
def test_fresh_fits_meet_f_at_their_cutpoints(func, fin, fout, domain, tails, rounding):
    lay = TableLayout(in_fmt=fin, out_fmt=fout, M=6, K=4, rounding=rounding)
    t = fit(func, lay, domain=domain, tails=tails).table
    assert t.tail_lo.mode.value == t.tail_hi.mode.value == "linear"
    lo, hi = code_range(fout)
    assert lo < t.clamp_lo < hi and lo < t.clamp_hi < hi     # offsets not saturated: exact meet
    assert check_cutpoints(t) == 2
