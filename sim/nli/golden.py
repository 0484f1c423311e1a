"""Bit-exact golden model of the NLI datapath: integer-only numpy, the specification of the RTL.

For a raw input code x (a value of ``layout.in_fmt``), with W = in width, T = ``t_bits``:

====  ============================================  =========================================
step  operation                                     width
====  ============================================  =========================================
1     I = #{j : c[j] <= x}, 0..M                    ``index_bits`` = clog2(M+1), unsigned
      I = 0 -> y = tail_lo(x); I = M -> y = tail_hi(x)  (tails below)
      i = I - 1 (macro interval), dx = x - c[i]     ``dx_bits`` = W, unsigned, dx < c[i+1]-c[i]
2     p = dx * mul[i]  (pow2: dx << T)              ``product_bits`` = W + mul_bits (pow2: W + T)
      u = p >> shift[i]                             ``u_bits`` = clog2(K) + T; u < K * 2**T
      j = u >> T, t = u & (2**T - 1)                clog2(K) and T bits, unsigned
      a = i*K + j                                   ``addr_bits`` = clog2((M-1)K + 1)
3     y0 = v[a], y1 = v[a + 1]                      out width each, out signedness
4     acc = (y0 << T) + t * (y1 - y0)               ``acc_bits`` = out width + T + 2, signed
      y = saturate(round(acc / 2**T))               one rounding (layout.rounding), out width
====  ============================================  =========================================

``mul``/``shift`` come from ``interval_scale``: mul = floor(K 2^(T+shift) / L) so j < K always.

Tails (luts/tails.py): a constant tail outputs its clamp value b; identity and linear tails output
saturate(round(x 2^e) + b) with e = slope exponent + out frac bits - in frac bits, rounded like
the interpolation.
"""
from __future__ import annotations

import numpy as np

from nlihw.formats import shift_round
from nlihw.luts.table import NLITable
from nlihw.luts.tails import tail_output


def nli_stages(table: NLITable, x) -> dict[str, np.ndarray]:
    """Every intermediate value of the datapath for raw inputs ``x`` (for debugging and benches)."""
    lay = table.layout
    x = np.asarray(x, dtype=np.int64)
    if not np.all(lay.in_fmt.contains(x)):
        raise ValueError(f"inputs must be raw codes of {lay.in_fmt}")
    c = np.array(table.cutpoints, dtype=np.int64)
    index = np.searchsorted(c, x, side="right").astype(np.int64)     # number of c[j] <= x
    inside = (index > 0) & (index < lay.M)
    i = np.clip(index - 1, 0, lay.M - 2)
    dx = np.where(inside, x - c[i], 0)
    mul = np.array(table.mul, dtype=np.int64)[i]
    shift = np.array(table.shift, dtype=np.int64)[i]
    u = (dx * mul) >> shift
    j = u >> lay.t_bits
    t = u & ((1 << lay.t_bits) - 1)
    addr = i * lay.K + j
    v = np.array(table.values, dtype=np.int64)
    y0, y1 = v[addr], v[addr + 1]
    acc = (y0 << lay.t_bits) + t * (y1 - y0)
    y_int = lay.out_fmt.saturate(shift_round(acc, lay.t_bits, lay.rounding))
    y_lo = tail_output(table.tail_lo, lay, x, table.clamp_lo)
    y_hi = tail_output(table.tail_hi, lay, x, table.clamp_hi)
    y = np.where(index == 0, y_lo, np.where(index == lay.M, y_hi, y_int))
    return dict(index=index, dx=dx, u=u, j=j, t=t, addr=addr, y0=y0, y1=y1, acc=acc, y=y)


def nli_eval(table: NLITable, x) -> np.ndarray:
    """Raw output codes the hardware produces for raw input codes ``x``."""
    return nli_stages(table, x)["y"]
