"""The Pareto front of (error, area) by its definition (brute force)."""
import math


def brute_front(points):
    """Indices on the front by the definition, and the count of unusable points."""
    def ok(v):
        return v is not None and not isinstance(v, bool) and math.isfinite(v)
    good = [i for i, (x, y) in enumerate(points) if ok(x) and ok(y)]
    front = []
    for i in good:
        xi, yi = points[i]
        if not any(points[j][0] <= xi and points[j][1] <= yi
                   and (points[j][0] < xi or points[j][1] < yi) for j in good if j != i):
            front.append(i)
    return sorted(front), len(points) - len(good)
