"""Bit-exact golden model of the NLI datapath: integer-only numpy, the specification of the RTL and
of what the fitter optimizes (hence in ``luts/``, below the fitter, the RTL and the benches).

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

Floating-point formats (``layout.in_float`` / ``layout.out_float``) change three steps, nothing
else (the stated choice: compare codes, interpolate in an internal fixed point, round once):

- Float input: step 1 compares ``layout.key(x)`` (the order key of the code, -0 as +0) with the
  cutpoints' keys, and dx = P(x) - P(c[i]) with P(x) = floor(x 2^F), F = ``x_frac_bits``: exact
  for every code that is a multiple of 2^-F (all fp16 codes at the default F = 24), the one
  rounding (floor) otherwise. dx < 2^``dx_width``; hardware may form P modulo 2^``dx_width``.
  NaN in gives the canonical NaN (float output) or 0 (fixed output); +-Inf order below/above
  every cutpoint and so follow the tails.
- Float output: step 3 reads y0 = m[i(K+1) + j], y1 = the next, both ``value_bits``-bit signed
  mantissas of interval i, whose block exponent is E = exponents[i]; step 4's exact acc is the
  value acc 2^(E-T), rounded once to nearest even into the output format; beyond its largest
  finite value it saturates to it; an exact 0 gives +0, a negative that rounds to 0 gives -0.
- Tails with a float side: clamp gives the stored code (the fitter stores f(c) rounded to
  nearest even: -0 when a negative f(c) rounds to 0, as the interpolation), zero gives +0,
  identity gives x converted to the output format (nearest even, saturating; +-Inf stay +-Inf where the output
  has them). Linear tails: into a float output y = 2^S x + b (b the stored code) as one
  rounding of the exact sum (nearest even, saturating; +-Inf stay +-Inf); into a fixed output
  (float input) y = saturate(round(2^S x) + b), 2^S x rounded to nearest even as identity does.

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
    fin, fout = lay.in_fmt, lay.out_fmt
    x = np.asarray(x, dtype=np.int64)
    if not np.all(fin.contains(x)):
        raise ValueError(f"inputs must be raw codes of {fin}")
    nan = fin.is_nan(x) if lay.in_float else np.zeros(x.shape, dtype=bool)
    c = np.array(table.cutpoints, dtype=np.int64)
    index = np.searchsorted(lay.key(c), lay.key(x), side="right").astype(np.int64)
    inside = (index > 0) & (index < lay.M) & ~nan
    i = np.clip(index - 1, 0, lay.M - 2)
    pos = lay.position(np.where(inside, x, c[i]))
    dx = pos - lay.position(c)[i]
    mul = np.array(table.mul, dtype=np.int64)[i]
    shift = np.array(table.shift, dtype=np.int64)[i]
    u = (dx * mul) >> shift
    j = u >> lay.t_bits
    t = u & ((1 << lay.t_bits) - 1)
    addr = i * lay.values_per_interval + j
    v = np.array(table.values, dtype=np.int64)
    y0, y1 = v[addr], v[addr + 1]
    acc = (y0 << lay.t_bits) + t * (y1 - y0)
    if lay.out_float:
        e = np.array(table.exponents, dtype=np.int64)[i]
        # |acc| < 2^50 and the scale is a power of two: the float64 value is exact, and
        # FP.quantize rounds it once, exactly (nearest even, saturating)
        y_int = fout.quantize(np.ldexp(acc.astype(np.float64), (e - lay.t_bits).astype(np.int32)))
    else:
        y_int = fout.saturate(shift_round(acc, lay.t_bits, lay.rounding))
    y_lo = tail_output(table.tail_lo, lay, x, table.clamp_lo)
    y_hi = tail_output(table.tail_hi, lay, x, table.clamp_hi)
    y = np.where(index == 0, y_lo, np.where(index == lay.M, y_hi, y_int))
    if lay.in_float:
        y = np.where(nan, np.int64(fout.canonical_nan if lay.out_float else 0), y)
    return dict(index=index, dx=dx, u=u, j=j, t=t, addr=addr, y0=y0, y1=y1, acc=acc, y=y)


def nli_eval(table: NLITable, x) -> np.ndarray:
    """Raw output codes the hardware produces for raw input codes ``x``."""
    return nli_stages(table, x)["y"]
