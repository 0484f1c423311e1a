"""Float64 references: the real approximation error of a table's hardware output."""
from __future__ import annotations

import numpy as np

from nlihw.luts.functions import get_function
from nlihw.luts.table import NLITable
from .golden import nli_eval

TAU = 2.0 ** -14              # the NLI paper's relative-error floor (tables without meta["rel_floor"])
MAX_EVAL_CODES = 1 << 16      # every code of the domain up to this many, else a uniform sample


def evaluation_codes(table_or_fmt, lo: int | None = None, hi: int | None = None) -> np.ndarray:
    """Raw codes errors are measured on: every domain code, or 65,536 evenly spaced ones above."""
    if isinstance(table_or_fmt, NLITable):
        fmt = table_or_fmt.layout.in_fmt
        lo = int(np.ceil(table_or_fmt.domain[0] / fmt.lsb - 1e-9))
        hi = int(np.floor(table_or_fmt.domain[1] / fmt.lsb + 1e-9))
    if hi - lo + 1 <= MAX_EVAL_CODES:
        return np.arange(lo, hi + 1, dtype=np.int64)
    return np.unique(np.round(np.linspace(lo, hi, MAX_EVAL_CODES)).astype(np.int64))


def error_summary(y_real: np.ndarray, f_real: np.ndarray, xs: np.ndarray, in_lsb: float,
                  out_lsb: float, rel_floor: float = TAU) -> dict:
    """Error figures of outputs ``y_real`` against exact ``f_real`` at raw inputs ``xs``; relative
    errors divide by max(|f|, rel_floor)."""
    d = np.abs(y_real - f_real)
    worst = int(np.argmax(d))
    rel = d / np.maximum(np.abs(f_real), rel_floor)
    return {
        "max_abs": float(d[worst]),
        "max_abs_lsb": float(d[worst] / out_lsb),
        "mean_rel": float(np.mean(rel)),
        "max_rel": float(np.max(rel)),
        "mse": float(np.mean(d * d)),
        "rms": float(np.sqrt(np.mean(d * d))),
        "rms_lsb": float(np.sqrt(np.mean(d * d)) / out_lsb),
        "worst_input": float(xs[worst] * in_lsb),
        "worst_input_raw": int(xs[worst]),
        "eval_codes": int(xs.shape[0]),
    }


def table_rel_floor(table: NLITable) -> float:
    """The mean-rel floor a table was fitted with (meta["rel_floor"], stored as the exact decimal
    string of the float, since meta numbers are rounded to 6 digits), else the paper's 2^-14."""
    v = table.meta.get("rel_floor") if isinstance(table.meta, dict) else None
    try:
        v = float(v) if isinstance(v, (str, int, float)) and not isinstance(v, bool) else None
    except ValueError:
        v = None
    return v if v is not None and np.isfinite(v) and v > 0 else TAU


def table_errors(table: NLITable, xs: np.ndarray | None = None,
                 rel_floor: float | None = None) -> dict:
    """Real error of the table's bit-exact hardware output against float64 f over its domain.

    ``rel_floor`` (default: the table's own, see ``table_rel_floor``) bounds |f| below in the
    relative errors.
    """
    lay = table.layout
    rel_floor = table_rel_floor(table) if rel_floor is None else rel_floor
    xs = evaluation_codes(table) if xs is None else np.asarray(xs, dtype=np.int64)
    f = get_function(table.function)(xs * lay.in_fmt.lsb)
    y = lay.out_fmt.to_real(nli_eval(table, xs))
    return error_summary(y, f, xs, lay.in_fmt.lsb, lay.out_fmt.lsb, rel_floor)


METRIC_KEY = {"max-abs": "max_abs", "mean-rel": "mean_rel", "mse": "mse"}
