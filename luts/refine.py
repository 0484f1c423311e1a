"""Value refinement (beyond the paper): move stored values by whole LSBs to lower the metric.

Coordinate descent over the stored values and the two tail constants (clamp values and linear
offsets; zero and identity tails have none). Each candidate change is scored
on the codes it affects only (the two micro bins beside a value), with the exact hardware
arithmetic. For max-abs the score is (max, sum) so the search still progresses where the worst
code is elsewhere. Never worse than the unrefined table.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from nlihw.formats import shift_round
from nlihw.luts.golden import nli_stages
from .table import NLITable
from .tails import tail_output


def _code_errors(y, f, lsb, metric, rel_floor):
    d = np.abs(y * lsb - f)
    if metric == "mean-rel":
        return d / np.maximum(np.abs(f), rel_floor)
    if metric == "mse":
        return d * d
    return d


def refine_values(table: NLITable, problem, metric: str, passes: int = 4) -> NLITable:
    lay = table.layout
    xs, f = problem.xs, problem.fx
    st = nli_stages(table, xs)
    index, addr, t = st["index"], st["addr"], st["t"]
    inside = (index > 0) & (index < lay.M)
    v = np.array(table.values, dtype=np.int64)
    clamps = np.array([table.clamp_lo, table.clamp_hi], dtype=np.int64)
    lsb, T = lay.out_fmt.lsb, lay.t_bits

    def outputs(sel, vals, cl):
        a = addr[sel]
        y0, y1 = vals[a], vals[a + 1]
        y = lay.out_fmt.saturate(shift_round((y0 << T) + t[sel] * (y1 - y0), T, lay.rounding))
        x = xs[sel]
        return np.where(index[sel] == 0, tail_output(table.tail_lo, lay, x, cl[0]),
                        np.where(index[sel] == lay.M, tail_output(table.tail_hi, lay, x, cl[1]), y))

    err = _code_errors(outputs(slice(None), v, clamps), f, lsb, metric, problem.rel_floor)

    def score(e):
        return (float(e.max()), float(e.sum())) if metric == "max-abs" else (float(e.sum()),)

    # codes affected by each stored value / clamp (contiguous, since addr is monotone in x)
    order_addr = np.where(inside, addr, -10)
    groups = {("v", a): np.flatnonzero(inside & ((order_addr == a) | (order_addr == a - 1)))
              for a in range(lay.n_values)}
    if not table.tail_lo.fixed_offset:
        groups[("c", 0)] = np.flatnonzero(index == 0)
    if not table.tail_hi.fixed_offset:
        groups[("c", 1)] = np.flatnonzero(index == lay.M)
    best = score(err)
    for _ in range(passes):
        improved = False
        for (kind, k), sel in groups.items():
            if sel.size == 0:
                continue
            for step in (1, -1):
                while True:
                    vals, cl = v.copy(), clamps.copy()
                    tgt = vals if kind == "v" else cl
                    tgt[k] += step
                    if not lay.out_fmt.contains(tgt[k]):
                        break
                    new = _code_errors(outputs(sel, vals, cl), f[sel], lsb, metric, problem.rel_floor)
                    trial = err.copy()
                    trial[sel] = new
                    s = score(trial)
                    if s < best:
                        best, err, v, clamps, improved = s, trial, vals, cl, True
                    else:
                        break
        if not improved:
            break
    return dataclasses.replace(table, values=tuple(int(a) for a in v),
                               clamp_lo=int(clamps[0]), clamp_hi=int(clamps[1]))
