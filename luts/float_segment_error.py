"""Compiled (numba) interval errors of the hardware's output when a side is floating point.

Re-states the float datapath of the golden model (luts/golden.py) for speed: inputs are taken
at their internal positions P(x) = floor(x 2^F), interval lengths in internal units give mul/shift,
the K+1 stored values of an interval (block-float mantissas and one exponent for a float output,
output codes for a fixed output) come precomputed per candidate interval, and the result is rounded
once as the hardware does. Tests check it against ``nli_eval`` code for code.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import leading_zeros

from nlihw.formats import NEAREST_EVEN_CODE
from .fit_metrics import MAX_ABS, MAX_ULP, MEAN_REL, MSE
from .segment_error import STRIDE, _round_shift, scale


POW2_BASE_MARGIN = 40          # pow2 table starts this far below the smallest subnormal exponent


def pow2_table(out_fmt):
    """2^k for k = kbase .. kbase + 511 (kbase, table): every quantum and block scale of a float
    output (the kernel multiplies instead of calling ldexp)."""
    kbase = 1 - out_fmt.bias - out_fmt.man_bits - POW2_BASE_MARGIN
    return kbase, np.ldexp(1.0, np.arange(kbase, kbase + 512))


@njit(cache=True, inline="always")
def fp_round_acc(acc, e0, man_bits, emin, maxv, kbase, p2):
    """Real value of acc 2^e0 (acc an exact integer) rounded once to nearest even into a float
    format (``man_bits`` stored bits, least normal exponent ``emin``), saturating at +-maxv:
    integer arithmetic on the binade's quantum 2^k, k = max(floor(log2 |v|), emin) - man_bits."""
    if acc == 0:
        return 0.0
    a = acc if acc > 0 else -acc
    nb = 64 - leading_zeros(np.uint64(a))
    k = max(nb - 1 + e0, emin) - man_bits
    s = k - e0
    if s <= 0:
        y = a * p2[e0 - kbase]
    else:
        y = _round_shift(a, s, NEAREST_EVEN_CODE) * p2[k - kbase]
    if y > maxv:
        y = maxv
    return y if acc > 0 else -y


@njit(cache=True, inline="always")
def code_error(y, fx, metric, w):
    """Error of output y at f = fx; ``w`` the code's weight: 1/max(|f|, floor) for mean-rel,
    1/ulp for max-ulp."""
    d = abs(y - fx)
    if metric == MEAN_REL or metric == MAX_ULP:
        return d * w
    if metric == MSE:
        return d * d
    return d


@njit(cache=True, inline="always")
def output(dx, mul, shift, mask, vals, E, t_bits, out_float, man_bits, emin, maxv, kbase, p2,
           out_min, out_max, lsb, mode):
    """Real output of the datapath for offset dx in an interval (steps 2-4 of the golden model)."""
    u = (dx * mul) >> shift
    j = u >> t_bits
    t = u & mask
    y0 = vals[j]
    y1 = vals[j + 1]
    acc = (y0 << t_bits) + t * (y1 - y0)
    if out_float:
        return fp_round_acc(acc, E - t_bits, man_bits, emin, maxv, kbase, p2)
    return min(max(_round_shift(acc, t_bits, mode), out_min), out_max) * lsb


@njit(cache=True)
def interval_outputs(ca, L, vals, E, xpos, K, t_bits, mul_bits, out_float, man_bits, emin, maxv,
                     kbase, p2, out_min, out_max, lsb, mode):
    """Real outputs for positions ``xpos`` inside one interval (the kernel's view, for tests)."""
    mul, shift = scale(K, t_bits, mul_bits, False, L)
    mask = (np.int64(1) << t_bits) - 1
    y = np.empty(xpos.shape[0])
    for n in range(xpos.shape[0]):
        y[n] = output(xpos[n] - ca, mul, shift, mask, vals, E, t_bits, out_float, man_bits, emin,
                      maxv, kbase, p2, out_min, out_max, lsb, mode)
    return y


@njit(cache=True)
def interval_error(ca, L, vals, E, xpos, fx, floor, w, start, stop, K, t_bits, mul_bits,
                   max_len, out_float, man_bits, emin, maxv, kbase, p2, out_min, out_max, lsb, mode, metric,
                   bound):
    """Aggregate error (max or sum) of the interval starting at internal position ``ca`` with
    length ``L`` over eval codes [start, stop), or inf once it cannot be optimal (as in
    segment_error.interval_error) or when L does not fit dx (L >= ``max_len``)."""
    if L >= max_len or L < 1:
        return np.inf
    mul, shift = scale(K, t_bits, mul_bits, False, L)
    mask = (np.int64(1) << t_bits) - 1
    total = 0.0
    excess = 0.0
    minmax = metric == MAX_ABS or metric == MAX_ULP
    for phase in range(STRIDE):
        for n in range(start + phase, stop, STRIDE):
            y = output(xpos[n] - ca, mul, shift, mask, vals, E, t_bits, out_float, man_bits,
                       emin, maxv, kbase, p2, out_min, out_max, lsb, mode)
            e = code_error(y, fx[n], metric, w[n])
            if minmax:
                if e > total:
                    total = e
                    if total > bound:
                        return np.inf
            else:
                total += e
                excess += e - floor[n]
                if excess > bound:
                    return np.inf
    return total


@njit(cache=True)
def error_rows(E, p0, p1, cpos, idx, V, EX, have, xpos, fx, floor, w, K, t_bits, mul_bits,
               max_len, out_float, man_bits, emin, maxv, kbase, p2, out_min, out_max, lsb, mode,
               metric, bound, D, fpre):
    """E[p, q] for rows p0..p1-1 where ``have[p - p0, q]``; V[p - p0, q] / EX[p - p0, q] are the
    interval's K+1 stored values and its exponent. Others stay as they are (inf).

    Prefix pruning (sum metrics, when D has rows): D[l, p] is the least error of the codes
    before candidate p with l intervals (D[0] the left tail), filled here from the rows already
    done (every E[., p] is known before row p). An interval from p can only be in an optimum if
    its excess fits in the slack left after the prefix's own excess min_l D[l, p] - fpre[p]."""
    N = cpos.shape[0]
    levels = D.shape[0]
    for p in range(p0, p1):
        r = p - p0
        row_bound = bound
        if levels > 0:
            dmin = D[0, p]
            for lev in range(1, levels):
                best = np.inf
                for pp in range(p):
                    v = D[lev - 1, pp] + E[pp, p]
                    if v < best:
                        best = v
                D[lev, p] = best
                if best < dmin:
                    dmin = best
            row_bound = bound - max(0.0, dmin - fpre[p])
            if row_bound < 0:
                continue
        for q in range(p + 1, N):
            if not have[r, q]:
                continue
            E[p, q] = interval_error(cpos[p], cpos[q] - cpos[p], V[r, q], EX[r, q], xpos, fx,
                                     floor, w, idx[p], idx[q], K, t_bits, mul_bits, max_len,
                                     out_float, man_bits, emin, maxv, kbase, p2, out_min, out_max,
                                     lsb, mode, metric, row_bound)


TAIL_PER_CODE, TAIL_CONST, TAIL_LINEAR_FLOAT, TAIL_LINEAR_FIXED = 0, 1, 2, 3


@njit(cache=True, inline="always")
def tail_value(mode, yn, cp, man_bits, emin, maxv, kbase, p2, out_min, out_max, lsb):
    """Real output of a tail at one code: ``yn`` (per code) or ``cp`` (per candidate) for the
    constant modes; a linear tail into a float output rounds the exact yn + cp (2^S x and b, real)
    once (TwoSum, round to odd, then ``fp_round_acc``), into a fixed output it saturates the raw
    yn + cp (round(2^S x) and b, raw)."""
    if mode == 0:
        return yn
    if mode == 1:
        return cp
    if mode == 3:
        return min(max(yn + cp, out_min), out_max) * lsb
    if np.isinf(yn):
        return maxv if yn > 0 else -maxv
    s = yn + cp
    bb = s - yn
    err = (yn - (s - bb)) + (cp - bb)
    m, ex = math.frexp(s)
    acc = np.int64(math.ldexp(m, 53))
    if err != 0 and (acc & 1) == 0:
        acc += 1 if err > 0 else -1
    return fp_round_acc(acc, ex - 53, man_bits, emin, maxv, kbase, p2)


@njit(cache=True)
def tail_errors(idx, mode_lo, y_lo, c_lo, mode_hi, y_hi, c_hi, fx, w, metric, man_bits, emin, maxv,
                kbase, p2, out_min, out_max, lsb):
    """left[p]: error of the codes below candidate p (index idx[p]) under the left tail, whose
    output at code n is ``tail_value(mode_lo, y_lo[n], c_lo[p], ...)``; right[p] likewise from
    candidate p on. Max or sum by metric."""
    N = idx.shape[0]
    n_x = fx.shape[0]
    minmax = metric == MAX_ABS or metric == MAX_ULP
    left = np.zeros(N)
    right = np.zeros(N)
    for p in range(N):
        tl = 0.0
        for n in range(0, idx[p]):
            y = tail_value(mode_lo, y_lo[n], c_lo[p], man_bits, emin, maxv, kbase, p2, out_min,
                           out_max, lsb)
            e = code_error(y, fx[n], metric, w[n])
            tl = max(tl, e) if minmax else tl + e
        tr = 0.0
        for n in range(idx[p], n_x):
            y = tail_value(mode_hi, y_hi[n], c_hi[p], man_bits, emin, maxv, kbase, p2, out_min,
                           out_max, lsb)
            e = code_error(y, fx[n], metric, w[n])
            tr = max(tr, e) if minmax else tr + e
        left[p] = tl
        right[p] = tr
    return left, right
