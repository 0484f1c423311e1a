"""Baseline tables in the NLI table form (so the one golden model and bench verify them too), and the
search for each architecture's cheapest configuration that meets a max-error bound.

- uniform PWL: 2^p-code segments aligned to the input format (the segment is the input's top
  bits), values at the segment edges, K = 1, interpolated by the same MAC;
- full LUT: one stored value per input code of the domain (t is always 0).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import mpmath
import numpy as np

from nlihw.errors import ParamsError
from nlihw.formats import parse_format
from nlihw.luts.table_errors import table_errors
from .fit_settings import default_rel_floor
from .fitter import make_problem, smallest_m
from .functions import get_function
from .layout import TableLayout
from .stored_values import stored_codes
from .table import NLITable


def _edge_values(func, fmt_in, fmt_out, edges) -> list[int]:
    """f at the edge codes, stored by the fitter's machine-independent rule (``stored_codes``)."""
    fn = get_function(func)
    with np.errstate(all="ignore"):
        f = fn(np.asarray(edges, dtype=np.float64) * fmt_in.lsb)
    if not np.all(np.isfinite(f)):
        raise ParamsError(f"{func} is not finite at a segment edge; narrow the domain")
    exact = lambda i: mpmath.mpf(int(edges[i])) * mpmath.mpf(2) ** -fmt_in.frac_bits   # noqa: E731
    return [int(v) for v in stored_codes(fn, f, fmt_out, exact)]


def uniform_table(func: str, in_fmt, out_fmt, seg_log2: int, domain=None) -> NLITable:
    """Uniform PWL with segments of 2^seg_log2 codes aligned to the format, covering the domain."""
    p = make_problem(func, TableLayout(in_fmt, out_fmt, 2, 1), domain)
    fin = p.layout.in_fmt
    L = 1 << seg_log2
    if not 0 <= seg_log2 <= fin.width:
        raise ParamsError(f"segment size 2^{seg_log2} does not fit {fin}")
    first = fin.min_raw + ((p.lo - fin.min_raw) // L) * L
    last = fin.min_raw + -(-(p.hi + 1 - fin.min_raw) // L) * L          # one past the domain, aligned
    cut = list(range(first, last + 1, L))
    if len(cut) < 2:
        cut = [first, first + L]
    t_bits = max(1, min(seg_log2, 24))
    lay = TableLayout(fin, p.layout.out_fmt, len(cut), 1, "pow2", t_bits=t_bits, mul_bits=t_bits + 1)
    vals = _edge_values(func, fin, lay.out_fmt, cut)
    t = NLITable(lay, p.function.name, cut, vals, vals[0], vals[-1], (p.lo * fin.lsb, p.hi * fin.lsb))
    return _with_errors(t, {"baseline": "uniform_pwl", "segment_log2": seg_log2})


def full_lut_table(func: str, in_fmt, out_fmt, domain=None) -> NLITable:
    """A stored value for every input code of the domain."""
    p = make_problem(func, TableLayout(in_fmt, out_fmt, 2, 1), domain)
    fin = p.layout.in_fmt
    cut = list(range(p.lo, p.hi + 1))
    lay = TableLayout(fin, p.layout.out_fmt, len(cut), 1, "mul", t_bits=1, mul_bits=2)
    vals = _edge_values(func, fin, lay.out_fmt, cut)
    t = NLITable(lay, p.function.name, cut, vals, vals[0], vals[-1], (p.lo * fin.lsb, p.hi * fin.lsb))
    return _with_errors(t, {"baseline": "full_lut"})


def _with_errors(t: NLITable, meta: dict) -> NLITable:
    floor = default_rel_floor(t.layout.out_fmt)
    return dataclasses.replace(t, meta={**meta, "rel_floor": repr(floor),
                                        "errors": table_errors(t, rel_floor=floor)})


@dataclass(frozen=True)
class Choice:
    """The cheapest configuration of one architecture found for an error bound."""
    architecture: str
    table: NLITable
    max_err_lsb: float
    stored_values: int


def _err(t: NLITable) -> float:
    return t.meta["errors"]["max_abs_lsb"]


def smallest_nli_m(func, in_fmt, out_fmt, max_err_lsb: float, K: int, micro_step: str = "mul",
                   domain=None, grid=None, m_max: int = 1024, progress=None) -> int | None:
    """Fewest macro cutpoints M (for this K and micro step) whose optimal table meets the bound,
    or None up to ``m_max``."""
    lay = TableLayout(in_fmt, out_fmt, 2, K, micro_step)
    if progress:
        progress(f"NLI K={K} {micro_step}: smallest M for {max_err_lsb} LSB")
    return smallest_m(make_problem(func, lay, domain), max_err_lsb * lay.out_fmt.lsb, grid, m_max)


def smallest_uniform(func, in_fmt, out_fmt, max_err_lsb: float, domain=None) -> Choice | None:
    """Largest segment (fewest segments) that meets the bound."""
    w = parse_format(in_fmt).width
    for s in range(w, -1, -1):
        t = uniform_table(func, in_fmt, out_fmt, s, domain)
        if _err(t) <= max_err_lsb:
            return Choice("uniform_pwl", t, _err(t), t.layout.n_values)
    return None


def smallest_full_lut(func, in_fmt, out_fmt, max_err_lsb: float, domain=None) -> Choice | None:
    t = full_lut_table(func, in_fmt, out_fmt, domain)
    return Choice("full_lut", t, _err(t), t.layout.n_values) if _err(t) <= max_err_lsb else None
