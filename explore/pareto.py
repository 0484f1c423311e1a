"""Pareto front of design points that minimize two figures (error and area).

A point is on the front iff no other point is <= in both figures and < in one; identical points
are therefore all on the front. Points without both figures (missing, NaN or infinite) cannot be
compared and are left out; the caller is told how many.
"""
from __future__ import annotations

import math
from collections.abc import Sequence


def usable(value) -> bool:
    """Whether a figure can be compared: a finite real number (not None, NaN, inf or a bool)."""
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def pareto_indices(points: Sequence[tuple]) -> tuple[list[int], int]:
    """Indices of the Pareto-optimal (x, y) pairs (both minimized), in order of increasing x then
    y, and the number of pairs left out because a figure was missing or not finite."""
    ok = [i for i, (x, y) in enumerate(points) if usable(x) and usable(y)]
    ok.sort(key=lambda i: (points[i][0], points[i][1], i))
    front: list[int] = []
    best_y = math.inf       # least y over the pairs seen so far (all with x no larger)
    best_at = None          # (x, y) of the first pair that reached best_y
    for i in ok:
        x, y = points[i]
        if y < best_y:
            best_y, best_at = y, (x, y)
            front.append(i)
        elif y == best_y and best_at == (x, y):
            front.append(i)  # a duplicate of the pair that set best_y: not dominated
    return front, len(points) - len(ok)


def pareto_rows(rows: Sequence[dict], err_key: str, area_key: str = "area"
                ) -> tuple[list[dict], int]:
    """The Pareto-optimal ok rows among ``rows`` (minimizing ``err_key`` and ``area_key``),
    ordered by area, and how many ok rows were left out for a missing or non-finite figure.
    Failed rows (``status`` other than "ok") never take part."""
    ok = [r for r in rows if r.get("status", "ok") == "ok"]
    front, missing = pareto_indices([(r.get(area_key), r.get(err_key)) for r in ok])
    return [ok[i] for i in front], missing
