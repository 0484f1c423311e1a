"""Pareto front of (error, area) against brute force: a point is on the front iff no other point
is <= in both figures and < in one; points without both finite figures are left out and counted."""
import math
import random

from nlihw.explore.pareto import pareto_indices, pareto_rows
from tests.support.pareto import brute_front


def random_points(rng, n):
    pts = []
    for _ in range(n):
        x, y = rng.randint(0, 6), rng.randint(0, 6)       # a small range: many ties and duplicates
        if rng.random() < 0.1:
            x = rng.choice([None, math.nan, math.inf])
        if rng.random() < 0.1:
            y = rng.choice([None, math.nan, -math.inf])
        if rng.random() < 0.3:
            x = float(x) if isinstance(x, int) else x    # ints and floats mixed
        pts.append((x, y))
    return pts


def test_front_matches_brute_force():
    for seed in range(400):
        rng = random.Random(seed)
        pts = random_points(rng, rng.randint(0, 14))
        front, missing = pareto_indices(pts)
        expect, expect_missing = brute_front(pts)
        assert sorted(front) == expect, (seed, pts)
        assert missing == expect_missing, (seed, pts)
        xs = [(pts[i][0], pts[i][1]) for i in front]
        assert xs == sorted(xs), (seed, pts)              # ordered by area, then error


def test_hand_worked_ties():
    #        0       1       2       3        4       5             6
    pts = [(1, 5), (1, 5), (1, 6), (2, 5), (3, 2), (3, 2.0), (None, 0), (4, math.nan)]
    front, missing = pareto_indices(pts)
    # (1, 5) twice (duplicates dominate neither), (1, 6) and (2, 5) dominated, (3, 2) twice
    assert sorted(front) == [0, 1, 4, 5]
    assert missing == 2


def test_rows_exclude_failed_points():
    rows = [{"point_id": "a", "status": "ok", "area": 10.0, "max_err_lsb": 3.0},
            {"point_id": "b", "status": "failed", "area": 1.0, "max_err_lsb": 0.5},
            {"point_id": "c", "status": "ok", "area": 20.0, "max_err_lsb": 1.0},
            {"point_id": "d", "status": "ok", "area": 30.0, "max_err_lsb": 1.0},
            {"point_id": "e", "status": "ok", "area": None, "max_err_lsb": 0.1}]
    front, missing = pareto_rows(rows, "max_err_lsb")
    assert [r["point_id"] for r in front] == ["a", "c"]   # b failed, d dominated by c, e no area
    assert missing == 1
