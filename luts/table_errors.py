"""A table's real error: its hardware output (the golden model) against float64 math, over every
code of its domain or a sample."""
from __future__ import annotations

import numpy as np

from nlihw.luts.functions import get_function
from nlihw.luts.table import NLITable
from .golden import nli_eval

TAU = 2.0 ** -14              # the NLI paper's relative-error floor (tables without meta["rel_floor"])
MAX_EVAL_CODES = 1 << 20      # statistics: every domain code up to this many (a 20-bit input), else a sample
MAX_FIT_CODES = 1 << 16       # the fitters' codes: every domain code up to this many, else a sample
EVAL_CHUNK = 1 << 18          # codes per golden-model call in table_errors (bounds its memory)


def float_domain_codes(fmt, lo: float, hi: float) -> np.ndarray:
    """Every finite code of a float format with lo <= value <= hi, in increasing order (-0 and
    +0 both, -0 first)."""
    c = fmt.finite_codes()
    v = fmt.to_real(c)
    return c[(v >= lo) & (v <= hi)]


def domain_code_count(table: NLITable) -> int:
    """How many input codes the table's domain holds (finite ones for a float input)."""
    fmt = table.layout.in_fmt
    if fmt.is_float:
        return int(float_domain_codes(fmt, *table.domain).shape[0])
    lo, hi = _fixed_domain(table)
    return hi - lo + 1


def _fixed_domain(table: NLITable) -> tuple[int, int]:
    fmt = table.layout.in_fmt
    return (int(np.ceil(table.domain[0] / fmt.lsb - 1e-9)), int(np.floor(table.domain[1] / fmt.lsb + 1e-9)))


def evaluation_codes(table_or_fmt, lo: int | None = None, hi: int | None = None, *,
                     limit: int = MAX_FIT_CODES) -> np.ndarray:
    """Raw codes to evaluate on: every domain code, or ``limit`` evenly spaced ones above that
    (the default is the fitters' sample; statistics pass ``limit=MAX_EVAL_CODES``).

    Float input: every finite code in the domain, always (a domain of any float format holds at
    most 2^width codes); ``lo``/``hi`` are then real bounds."""
    if isinstance(table_or_fmt, NLITable):
        fmt = table_or_fmt.layout.in_fmt
        if fmt.is_float:
            return float_domain_codes(fmt, *table_or_fmt.domain)
        lo, hi = _fixed_domain(table_or_fmt)
    elif table_or_fmt.is_float:
        return float_domain_codes(table_or_fmt, lo, hi)
    if hi - lo + 1 <= limit:
        return np.arange(lo, hi + 1, dtype=np.int64)
    return np.unique(np.round(np.linspace(lo, hi, limit)).astype(np.int64))


def ulp_at(fmt, v) -> np.ndarray:
    """Spacing of ``fmt``'s codes at real values ``v`` (the output LSB for fixed point): the ulp
    of the binade |v| lies in, the subnormal spacing below the normal range."""
    v = np.abs(np.asarray(v, dtype=np.float64))
    if not fmt.is_float:
        return np.full(v.shape, fmt.lsb)
    e = np.frexp(np.where(v > 0, v, 1.0))[1] - 1           # floor(log2 |v|)
    e = np.maximum(np.where(v > 0, e, -(1 << 20)), 1 - fmt.bias)
    return np.ldexp(1.0, (e - fmt.man_bits).astype(np.int32))


def error_summary(y_real: np.ndarray, f_real: np.ndarray, xs: np.ndarray, in_lsb: float,
                  out_lsb: float, rel_floor: float = TAU, x_real: np.ndarray | None = None,
                  out_fmt=None) -> dict:
    """Error figures of outputs ``y_real`` against exact ``f_real`` at raw inputs ``xs``; relative
    errors divide by max(|f|, rel_floor). With a float output format, also ``max_ulp``: the worst
    error in ulps of the output format at f (``max_abs_lsb`` is then that ulp count too)."""
    d = np.abs(y_real - f_real)
    worst = int(np.argmax(d))
    rel = d / np.maximum(np.abs(f_real), rel_floor)
    extra = {}
    if out_fmt is not None and out_fmt.is_float:
        ulps = d / ulp_at(out_fmt, np.clip(f_real, out_fmt.min, out_fmt.max))
        extra["max_ulp"] = float(np.max(ulps))
        out_lsb = float(ulp_at(out_fmt, f_real[worst]))
    x_worst = float(x_real[worst]) if x_real is not None else float(xs[worst] * in_lsb)
    return {
        **extra,
        "max_abs": float(d[worst]),
        "max_abs_lsb": float(d[worst] / out_lsb),
        "mean_rel": float(np.mean(rel)),
        "max_rel": float(np.max(rel)),
        "mse": float(np.mean(d * d)),
        "rms": float(np.sqrt(np.mean(d * d))),
        "rms_lsb": float(np.sqrt(np.mean(d * d)) / out_lsb),
        "worst_input": x_worst,
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
    """Real error of the table's bit-exact hardware output against float64 f over its domain
    (every code up to MAX_EVAL_CODES, else an even sample), or over the codes ``xs``.

    ``rel_floor`` (default: the table's own, see ``table_rel_floor``) bounds |f| below in the
    relative errors.
    """
    lay = table.layout
    rel_floor = table_rel_floor(table) if rel_floor is None else rel_floor
    if xs is None:
        xs = evaluation_codes(table, limit=MAX_EVAL_CODES)
    xs = np.asarray(xs, dtype=np.int64)
    x_real = lay.in_fmt.to_real(xs)
    f = get_function(table.function)(x_real)
    y = lay.out_fmt.to_real(np.concatenate(
        [nli_eval(table, xs[k:k + EVAL_CHUNK]) for k in range(0, xs.shape[0], EVAL_CHUNK)] or [xs[:0]]))
    if not (lay.in_float or lay.out_float):
        return error_summary(y, f, xs, lay.in_fmt.lsb, lay.out_fmt.lsb, rel_floor)
    out_lsb = 1.0 if lay.out_float else lay.out_fmt.lsb
    return error_summary(y, f, xs, 1.0, out_lsb, rel_floor, x_real=x_real, out_fmt=lay.out_fmt)

