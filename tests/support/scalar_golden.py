"""An independent scalar statement of the fixed-point datapath: the interval scale (mul, shift)
from its definition and one output code at a time with rationals."""
import math
from fractions import Fraction

from nlihw.luts.table import NLITable
from tests.support.rounding import ref_round


def ref_scale(K: int, T: int, mul_bits: int, L: int, pow2: bool) -> tuple[int, int]:
    """(mul, shift) of an interval of L codes, from the definition in plain integers.

    mul mode: mul = floor(K 2^(T+shift) / L) with the largest shift >= 0 that keeps mul below
    2^mul_bits (found by trying shifts upwards; mul grows with shift). pow2 mode: L = K 2^s and
    u = (dx << T) >> s, i.e. mul = 2^T, shift = s.
    """
    if pow2:
        s = 0
        while K << s < L:
            s += 1
        assert K << s == L, f"pow2 interval of {L} codes is not K*2^s"
        return 1 << T, s
    shift = 0
    while (K << (T + shift + 1)) // L < 1 << mul_bits:
        shift += 1
    mul = (K << (T + shift)) // L
    assert mul < 1 << mul_bits
    return mul, shift


def table_scale(table: NLITable, i: int) -> tuple[int, int]:
    lay, c = table.layout, table.cutpoints
    return ref_scale(lay.K, lay.t_bits, lay.mul_bits, c[i + 1] - c[i], lay.micro_step.value == "pow2")


def scalar_reference(table: NLITable, x: int) -> int:
    """One code at a time, from the written spec: find the interval by scanning, scale dx by the
    interval's multiplier (computed here from its definition), look up the two values, interpolate
    with rationals."""
    lay, c = table.layout, table.cutpoints
    if x < c[0]:
        return table.clamp_lo
    if x >= c[-1]:
        return table.clamp_hi
    i = max(k for k in range(lay.M - 1) if c[k] <= x)
    mul, shift = table_scale(table, i)
    u = Fraction((x - c[i]) * mul, 2 ** (shift + lay.t_bits))       # ~ dx * K / L
    u = math.floor(u * 2 ** lay.t_bits) / Fraction(2 ** lay.t_bits)     # u keeps t_bits fraction
    j = math.floor(u)
    t = u - j
    assert 0 <= j < lay.K, "micro index must stay inside the interval"
    y0, y1 = table.values[i * lay.K + j], table.values[i * lay.K + j + 1]
    y = ref_round(y0 + t * (y1 - y0), lay.rounding.value)
    return min(max(y, lay.out_fmt.min_raw), lay.out_fmt.max_raw)
