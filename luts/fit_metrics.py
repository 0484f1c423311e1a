"""The error metrics a table is fitted to: their names (``--metric``), the integer codes the
compiled kernels take, and where each is found in the error figures of ``table_errors``."""
from __future__ import annotations

from nlihw.errors import ParamsError

FIXED_METRICS = ("max-abs", "mean-rel", "mse")      # the fixed-point fitter's
METRICS = (*FIXED_METRICS, "max-ulp")               # the float fitter's: max-ulp for a float side
MINMAX = ("max-abs", "max-ulp")                     # the metrics that are a max (the others sums)

METRIC_CODE = {m: i for i, m in enumerate(METRICS)}     # numba takes plain ints
MAX_ABS, MEAN_REL, MSE, MAX_ULP = (METRIC_CODE[m] for m in METRICS)

# the key of each metric in the figures of sim.nli.reference.table_errors / table.meta["errors"]
METRIC_KEY = {"max-abs": "max_abs", "mean-rel": "mean_rel", "mse": "mse", "max-ulp": "max_ulp"}


def check_metric(metric, allowed: "tuple[str, ...]" = METRICS) -> str:
    """``metric`` if it is one of ``allowed``, else a one-line ``ParamsError`` listing them."""
    if metric not in allowed:
        raise ParamsError(f"unknown metric {metric!r}; choose one of {', '.join(allowed)}")
    return metric
