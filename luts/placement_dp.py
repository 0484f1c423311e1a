"""The dynamic program that places M cutpoints over a candidate grid, optimal for a precomputed
matrix of interval errors: shared by the fixed-point fitter (``fitter``) and the float fitter
(``float_fit``), which supply their own error kernels."""
from __future__ import annotations

import time

import numpy as np

from nlihw.errors import ParamsError

# The DP holds N x N float64 matrices (the errors and one DP level): 8,192 candidates is 0.5 GiB
# each, and the measured fit time grows as N^2 (3,070 candidates already take about a minute).
MAX_GRID = 8192


def check_grid(grid: int | None, option: str = "--grid") -> None:
    if grid is not None and not (2 <= grid <= MAX_GRID):
        raise ParamsError(f"{option} must be 2..{MAX_GRID:,} candidate cutpoints, got {grid} (the "
                          f"DP keeps {option}^2 float64 matrices in memory)")


def bellman(E: np.ndarray, left: np.ndarray, right: np.ndarray, M: int,
            minmax: bool) -> tuple[float, list[int]]:
    """Optimal M-cutpoint path over candidates (indices) for a precomputed interval-error matrix."""
    N = E.shape[0]
    comb = np.maximum if minmax else np.add
    D = left.copy()
    back = np.zeros((M, N), dtype=np.int64)
    for level in range(1, M):
        tot = comb(D[:, None], E)                   # tot[i, k]: path ending i, then interval i->k
        arg = np.argmin(tot, axis=0)
        D = tot[arg, np.arange(N)]
        back[level] = arg
    final = comb(D, right)
    k = int(np.argmin(final))
    best = float(final[k])
    if not np.isfinite(best):
        raise ParamsError(f"no feasible placement of M={M} cutpoints on this candidate grid")
    path = [k]
    for level in range(M - 1, 0, -1):
        k = int(back[level, k])
        path.append(k)
    return best, path[::-1]


def dp_optimum(p, cand: np.ndarray, metric: str, minmax: bool, bound: float, matrix, tails,
               progress=None) -> tuple[list[int], float, dict]:
    """The DP over a candidate grid, shared by the fixed-point and the float fitter.

    ``matrix(p, cand, metric, bound, gate=, gate_limit=, progress=, label=)`` gives the interval
    errors (pruned exactly above an achievable ``bound``, and only where ``gate <= gate_limit``),
    ``tails(p, cand, metric)`` the errors below and from each candidate. For a max metric
    (``minmax``) the placement is, among every placement reaching the optimum, the one with the
    least total squared error: a second, exact DP over the intervals and tails within the
    optimum (stats: the metric's optimum, "sse" and "mse"). Returns (path, optimum, stats).
    """
    M = p.layout.M
    t0 = time.perf_counter()
    E = matrix(p, cand, metric, bound, progress=progress)
    stats = {"matrix_seconds": time.perf_counter() - t0}
    left, right = tails(p, cand, metric)
    best, path = bellman(E, left, right, M, minmax)
    if minmax:
        lS, rS = tails(p, cand, "mse")
        lS[left > best] = np.inf
        rS[right > best] = np.inf
        # the min-max path's own squared error is achievable: it prunes the second matrix
        on_path = np.full(E.shape, np.inf)
        for a, b in zip(path[:-1], path[1:]):
            on_path[a, b] = 0.0
        S_path = matrix(p, cand, "mse", np.inf, gate=on_path, gate_limit=0.0)
        achievable = lS[path[0]] + rS[path[-1]] + sum(S_path[a, b] for a, b in zip(path[:-1], path[1:]))
        S = matrix(p, cand, "mse", achievable, gate=E, gate_limit=best, progress=progress,
                   label="least-squares tie-break: ")
        sse, path = bellman(S, lS, rS, M, minmax=False)
        stats.update({metric.replace("-", "_"): best, "sse": sse, "mse": sse / p.xs.shape[0]})
    return path, best, stats


def dp_smallest_m(p, cand: np.ndarray, metric: str, minmax: bool, total: float, matrix, tails,
                  m_max: int = 1024) -> int | None:
    """Fewest cutpoints (over ``cand``) whose optimal objective is <= ``total`` (a max, or a sum
    over the codes), or None up to ``m_max``. Intervals above ``total`` cannot appear in any
    placement that meets it, for any M, so one matrix pruned at it serves every M (the gate is
    all-pass so that no pruning assumes the problem's own M); level l of the DP is the optimum
    for l+1 cutpoints, so one pass finds the first M that meets it."""
    n = cand.shape[0]
    E = matrix(p, cand, metric, total, gate=np.zeros((n, n)), gate_limit=1.0)
    left, right = tails(p, cand, metric)
    comb = np.maximum if minmax else np.add
    D = left.copy()
    for level in range(1, min(m_max, n)):
        D = np.min(comb(D[:, None], E), axis=0)
        if np.min(comb(D, right)) <= total:
            return level + 1
    return None
