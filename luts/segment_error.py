"""Compiled (numba) error of the hardware's own output over candidate macro intervals.

This re-states the golden model's datapath (luts/golden.py) for speed; tests check the two agree
code for code. An interval's error depends only on its two end cutpoints, which is what makes the
Bellman DP over cutpoints exact.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from nlihw.formats import round_shift_code
from .fit_metrics import MAX_ABS, MEAN_REL, MSE

STRIDE = 16

# The rounding rule of nlihw.formats, compiled. numba's cache watches only the file of each cached
# kernel: after editing that rule or the codes of fit_metrics, delete luts/__pycache__/*.nb[ic].
_round_shift = njit(inline="always")(round_shift_code)


@njit(cache=True, inline="always")
def _code_error(y, fx, lsb, metric, tau):
    d = abs(y * lsb - fx)
    if metric == MEAN_REL:
        return d / max(abs(fx), tau)
    if metric == MSE:
        return d * d
    return d


@njit(cache=True)
def scale(K, t_bits, mul_bits, pow2, length):
    """(mul, shift) for an interval of ``length`` codes; (-1, -1) if pow2 forbids the length."""
    if pow2:
        if length % K != 0:
            return -1, -1
        q = length // K
        if q & (q - 1) != 0:
            return -1, -1
        s = 0
        while (np.int64(1) << (s + 1)) <= q:
            s += 1
        return np.int64(1) << t_bits, s
    r = ((np.int64(1) << mul_bits) * length - 1) // K
    e = -1
    while r > 0:
        r >>= 1
        e += 1
    shift = max(0, e - t_bits)
    return (np.int64(K) << (t_bits + shift)) // length, shift


@njit(cache=True)
def interval_error(a, b, xs, fx, floor, vq, lo, K, t_bits, mul_bits, pow2, mode,
                   out_min, out_max, lsb, metric, tau, start, stop, bound):
    """Aggregate error (max or sum) of interval [a, b) over eval codes xs[start:stop].

    ``vq`` holds quantized f on the 1/K-code fine grid starting at ``lo``. Returns inf as soon as
    the interval cannot be in an optimum (exact pruning): for max-abs when its max exceeds
    ``bound``; for sums when its excess over ``floor`` (each code's own quantization error, which
    no output can beat) exceeds ``bound``, the slack of the best known solution over the floor.
    """
    L = b - a
    mul, shift = scale(K, t_bits, mul_bits, pow2, L)
    if mul < 0:
        return np.inf
    base = (a - lo) * K
    mask = (np.int64(1) << t_bits) - 1
    total = 0.0
    excess = 0.0
    # Visit codes in STRIDE interleaved phases: the first phase samples the whole interval, so an
    # interval that cannot be optimal is abandoned after a few codes (max is order-independent).
    for phase in range(STRIDE):
        for n in range(start + phase, stop, STRIDE):
            dx = xs[n] - a
            u = (dx * mul) >> shift
            j = u >> t_bits
            t = u & mask
            y0 = vq[base + j * L]
            y1 = vq[base + (j + 1) * L]
            y = _round_shift((y0 << t_bits) + t * (y1 - y0), t_bits, mode)
            y = min(max(y, out_min), out_max)
            e = _code_error(y, fx[n], lsb, metric, tau)
            if metric == MAX_ABS:
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
def code_floor(fx, out_min, out_max, lsb, metric, tau):
    """Each code's least possible error: f rounded to the nearest output code (saturated)."""
    out = np.empty(fx.shape[0])
    for n in range(fx.shape[0]):
        y = min(max(np.int64(np.rint(fx[n] / lsb)), out_min), out_max)
        best = _code_error(y, fx[n], lsb, metric, tau)
        for d in (-1, 1):   # rint on a tie or a saturated edge: check the neighbours too
            yy = min(max(y + d, out_min), out_max)
            best = min(best, _code_error(yy, fx[n], lsb, metric, tau))
        out[n] = best
    return out


@njit(cache=True)
def error_rows(E, p0, p1, cand, idx, xs, fx, floor, vq, lo, K, t_bits, mul_bits, pow2, mode,
               out_min, out_max, lsb, metric, tau, bound, gate, gate_limit):
    """Fill rows p0..p1-1 of E: E[p, q] = error of interval [cand[p], cand[q]) for p < q.

    Pruned or invalid intervals are left as they are (inf). With a non-empty ``gate`` matrix only
    the intervals with gate[p, q] <= gate_limit are measured. The caller loops over row blocks
    so that control returns to Python (Ctrl-C, progress) every fraction of a second.
    """
    N = cand.shape[0]
    gated = gate.shape[0] > 1
    for p in range(p0, p1):
        for q in range(p + 1, N):
            if gated and not gate[p, q] <= gate_limit:
                continue
            E[p, q] = interval_error(cand[p], cand[q], xs, fx, floor, vq, lo, K, t_bits, mul_bits,
                                     pow2, mode, out_min, out_max, lsb, metric, tau, idx[p], idx[q],
                                     bound)


@njit(cache=True)
def tail_errors(idx, g_lo, b_lo, g_hi, b_hi, fx, out_min, out_max, lsb, metric, tau):
    """Left[p]: error of codes below cand[p] (index idx[p]) under the left tail, whose output is
    saturate(g_lo[n] + b_lo[p]); Right[p]: codes from cand[p] on under the right tail."""
    N = idx.shape[0]
    left = np.zeros(N)
    right = np.zeros(N)
    n_x = fx.shape[0]
    for p in range(N):
        tl = 0.0
        for n in range(0, idx[p]):
            y = min(max(g_lo[n] + b_lo[p], out_min), out_max)
            e = _code_error(y, fx[n], lsb, metric, tau)
            tl = max(tl, e) if metric == MAX_ABS else tl + e
        tr = 0.0
        for n in range(idx[p], n_x):
            y = min(max(g_hi[n] + b_hi[p], out_min), out_max)
            e = _code_error(y, fx[n], lsb, metric, tau)
            tr = max(tr, e) if metric == MAX_ABS else tr + e
        left[p] = tl
        right[p] = tr
    return left, right


@njit(cache=True)
def clamp_errors(cand, idx, xs, fx, vq, lo, K, lsb, metric, tau):
    """Left[p]: error of codes below cand[p] clamped to f(cand[p]); Right[p]: codes >= cand[p]."""
    N = cand.shape[0]
    left = np.zeros(N)
    right = np.zeros(N)
    n_x = xs.shape[0]
    for p in range(N):
        y = vq[(cand[p] - lo) * K]
        tl = 0.0
        for n in range(0, idx[p]):
            e = _code_error(y, fx[n], lsb, metric, tau)
            tl = max(tl, e) if metric == MAX_ABS else tl + e
        tr = 0.0
        for n in range(idx[p], n_x):
            e = _code_error(y, fx[n], lsb, metric, tau)
            tr = max(tr, e) if metric == MAX_ABS else tr + e
        left[p] = tl
        right[p] = tr
    return left, right
