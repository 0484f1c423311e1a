"""Rows and per-channel weights for the row units' Verilator bench (``sim/rowop/bench.py``): the
edge cases each unit's golden model names (length 1 and n_max, equal values, one huge element,
masked and fully masked softmax rows, all-zero norm rows, extreme codes), then random rows of
random lengths 1..n_max at several scales. Raw integer codes of the params' formats."""
from __future__ import annotations

import numpy as np

from nlihw.hdl.rowop.params import NormParams, SoftmaxParams

SCALES = (0.01, 0.1, 1.0, 4.0, 30.0)        # row spreads, in units of the input's 1.0


def _rand_x(p, rng, size: int, scale: float) -> np.ndarray:
    f = p.in_fmt
    v = rng.normal(0, scale * (1 << f.frac_bits), size)
    return np.clip(np.rint(v), f.min_raw, f.max_raw).astype(np.int64)


def softmax_rows(p: SoftmaxParams, rng, n_random: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """[(x, mask)]: the edge cases, cut to n_max, then ``n_random`` random rows (some masked)."""
    n, lo, hi = p.n_max, p.in_fmt.min_raw, p.in_fmt.max_raw
    none = lambda k: np.zeros(k, bool)          # noqa: E731
    rows = [
        (_rand_x(p, rng, 1, 2), none(1)),                                   # length 1
        (_rand_x(p, rng, n, 2), none(n)),                                   # length n_max
        (_rand_x(p, rng, n, 2), rng.random(n) < 0.3),                       # masked entries
        (_rand_x(p, rng, 5, 2), np.ones(5, bool)),                          # fully masked
        (np.array([hi]), np.ones(1, bool)),                                 # masked, length 1
        (np.full(n, int(rng.integers(lo, hi))), none(n)),                   # all equal
        (np.full(7, lo), none(7)),                                          # equal, at the min
        (np.r_[np.full(6, lo), [hi], np.full(3, lo)], none(10)),            # one huge element
        (np.r_[_rand_x(p, rng, 4, 0.5), [hi]], none(5)),                    # one-hot-ish
        (np.array([hi, lo, hi, lo]), np.array([1, 0, 0, 0], bool)),         # the max masked
    ]
    rows = [(x[:n], mk[:n]) for x, mk in rows]
    for _ in range(n_random):
        ln = int(rng.integers(1, n + 1))
        mask = rng.random(ln) < float(rng.choice([0.0, 0.2, 0.9]))
        rows.append((_rand_x(p, rng, ln, float(rng.choice(SCALES))), mask))
    return rows


def norm_rows(p: NormParams, rng, n_random: int) -> list[np.ndarray]:
    """x rows: the edge cases, cut to n_max, then ``n_random`` random rows."""
    n, lo, hi = p.n_max, p.in_fmt.min_raw, p.in_fmt.max_raw
    outliers = _rand_x(p, rng, n, 0.5)
    outliers[rng.choice(n, min(3, n), replace=False)] = [hi, lo, hi // 2][:min(3, n)]
    rows = [
        _rand_x(p, rng, 1, 2),                          # length 1
        np.array([lo]),                                 # length 1, the largest x^2
        _rand_x(p, rng, n, 2),                          # length n_max
        np.zeros(n, np.int64),                          # all zero, n_max
        np.zeros(1, np.int64),                          # all zero, length 1
        np.zeros(3, np.int64),                          # all zero, short
        np.full(n, int(rng.integers(lo, hi))),          # all equal
        np.full(5, hi),                                 # equal, at the max
        outliers,                                       # outlier channels
        np.array([hi, lo] * max(1, n // 2))[:n],        # extremes alternating
        np.r_[np.full(6, 1), [hi]],                     # one huge element among tiny ones
        np.array([1, -1, 0, 1]),                        # v near eps
    ]
    rows = [x[:n] for x in rows]
    for _ in range(n_random):
        ln = int(rng.integers(1, n + 1))
        rows.append(_rand_x(p, rng, ln, float(rng.choice(SCALES))))
    return rows


def norm_weights(p: NormParams, rng) -> tuple[np.ndarray, np.ndarray]:
    """(w, b) per channel (b zeros for rms): around 1 and 0, with some extreme codes so that
    LayerNorm outputs saturate."""
    fw = p.w_fmt
    w = np.clip(np.rint(rng.normal(1.0, 0.5, p.n_max) * (1 << fw.frac_bits)),
                fw.min_raw, fw.max_raw).astype(np.int64)
    w[rng.random(p.n_max) < 0.1] = fw.min_raw
    w[rng.random(p.n_max) < 0.1] = fw.max_raw
    if p.kind != "layer":
        return w, np.zeros(p.n_max, np.int64)
    fb = p.b_fmt
    b = rng.integers(fb.min_raw, fb.max_raw + 1, p.n_max)
    b[rng.random(p.n_max) < 0.5] //= 64
    b[:2], w[:2] = [fb.max_raw, fb.min_raw][:p.n_max], fw.max_raw  # x_0 > mean, x_1 < mean: sat
    return w, b
