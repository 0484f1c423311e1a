"""Baselines of floating-point designs, in the NLI table form (so the one golden model, RTL and
benches serve them too):

- exponent-indexed PWL: the segment is the top bits of the float code (sign, exponent and the
  ``lead_bits`` leading mantissa bits), so segments are log-spaced, 2^(man_bits - lead_bits) codes
  each; values at the segment edges, K = 1. As an NLI table its cutpoints are the aligned codes
  (low mantissa bits zero) of both signs: a segment of magnitudes [a, a + w) is the interval
  [a, a + w) for positive codes and [-(a + w), -a) for negative ones. Cutpoints off the internal
  grid 2^-x_frac_bits (tiny bf16 codes) are dropped, merging the segments around zero.
- NN-LUT style non-uniform PWL is an NLI fit with K = 1 (``float_fit.fit``): no builder here.
- full LUT: one stored output code per input code (its error is each code's least possible one:
  f correctly rounded); ``full_lut_figures`` gives its error and storage without building a table,
  ``code_lut_table`` the table itself. A full LUT does not care what the bits mean: it is a ROM
  indexed by the input bit pattern holding output bit patterns, so it is stated as a fixed-point
  table over the raw codes (unsigned integers in, unsigned integers out) and built by the engine's
  ``direct`` architecture.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from nlihw.errors import ParamsError
from nlihw.formats import Q, parse_format
from nlihw.luts.table_errors import error_summary, evaluation_codes, table_errors
from .fit_settings import default_rel_floor
from .float_fit import build_table, make_problem
from .functions import get_function
from .layout import MAX_POSITION, TableLayout
from .table import NLITable


def exponent_pwl_cutpoints(layout: TableLayout, domain: tuple[float, float],
                           lead_bits: int) -> np.ndarray:
    """The aligned codes from the last one at or below the domain's low end to the first one above
    its high end, in increasing order (key order), on the internal grid."""
    fin = layout.in_fmt
    if not fin.is_float:
        raise ParamsError(f"an exponent-indexed PWL needs a float input, got {fin}")
    if not 0 <= lead_bits <= fin.man_bits:
        raise ParamsError(f"lead_bits must be 0..{fin.man_bits} for {fin}, got {lead_bits}")
    r = fin.man_bits - lead_bits
    mags = np.arange(0, fin.max_finite_raw + 1, 1 << r, dtype=np.int64)
    codes = np.concatenate([(mags[mags > 0] | np.int64(1 << (fin.width - 1)))[::-1], mags])
    v = fin.to_real(codes)
    grid = np.ldexp(v, layout.x_frac_bits)
    codes, v = codes[(grid == np.floor(grid)) & (np.abs(grid) < MAX_POSITION)], \
        v[(grid == np.floor(grid)) & (np.abs(grid) < MAX_POSITION)]
    lo, hi = domain
    below, above = np.nonzero(v <= lo)[0], np.nonzero(v > hi)[0]
    first = int(below[-1]) if below.size else 0
    last = int(above[0]) if above.size else codes.shape[0] - 1
    return codes[first:last + 1]


def exponent_pwl_table(func: str, in_fmt, out_fmt, lead_bits: int,
                       domain: tuple[float, float] | None = None) -> NLITable:
    """The exponent-indexed PWL of ``func`` on ``domain`` (default: the function's) as an NLI
    table (K = 1, tails as the fitter's defaults), with its errors in meta."""
    probe = make_problem(func, TableLayout(in_fmt, out_fmt, 2, 1), domain)
    cut = exponent_pwl_cutpoints(probe.layout, probe.domain, lead_bits)
    if cut.shape[0] < 2:
        raise ParamsError(f"no two aligned codes around the domain {probe.domain}")
    lay = TableLayout(in_fmt, out_fmt, int(cut.shape[0]), 1)
    p = dataclasses.replace(probe, layout=lay)     # same codes and f: only M differs
    t = build_table(p, cut)
    floor = default_rel_floor(lay.out_fmt)
    return dataclasses.replace(t, meta={"baseline": "exponent_pwl", "lead_bits": lead_bits,
                                        "rel_floor": repr(floor),
                                        "errors": table_errors(t, p.xs, rel_floor=floor)})


def full_lut_figures(func: str, in_fmt, out_fmt, domain: tuple[float, float] | None = None) -> dict:
    """A full LUT's errors (f correctly rounded at every domain code) and storage bits (every
    input code addressed: 2^in_width entries of the output width)."""
    p = make_problem(func, TableLayout(in_fmt, out_fmt, 2, 1), domain)
    fin, fout = p.layout.in_fmt, p.layout.out_fmt
    xs = evaluation_codes(fin, *p.domain) if fin.is_float else p.xs
    x = fin.to_real(xs)
    f = get_function(func)(x)
    y = fout.to_real(fout.quantize(np.clip(f, fout.min, fout.max) if not fout.is_float else f))
    err = error_summary(y, f, xs, 1.0, 1.0 if fout.is_float else fout.lsb,
                        default_rel_floor(fout), x_real=x, out_fmt=fout)
    return {"errors": err, "entries": 1 << fin.width, "bits": (1 << fin.width) * fout.width}


def code_lut_table(func: str, in_fmt, out_fmt) -> NLITable:
    """The full LUT of ``func`` as a table over raw codes: entry x holds the output code of f at
    input code x, rounded to nearest even (saturating); NaN codes hold the canonical NaN (0 for a
    fixed output), +-Inf hold f at the largest finite value of that sign."""
    fin, fout = parse_format(in_fmt), parse_format(out_fmt)
    if fin.width > 16:
        raise ParamsError(f"a full LUT of {fin} would hold 2^{fin.width} entries; 16 bits at most")
    codes = np.arange(1 << fin.width, dtype=np.int64)
    x = fin.to_real(codes)
    x = np.clip(np.nan_to_num(x, nan=0.0), fin.min, fin.max)
    with np.errstate(all="ignore"):
        f = get_function(func)(x)
    if not fout.is_float:
        f = np.clip(f, fout.min - 1.0, fout.max + 1.0)
    y = fout.to_bits(fout.quantize(f))
    if fin.is_float:
        y = np.where(fin.is_nan(codes), np.int64(fout.canonical_nan if fout.is_float else 0), y)
    lay = TableLayout(Q(fin.width, 0, False), Q(fout.width, 0, False), 1 << fin.width, 1, "mul",
                      t_bits=1, mul_bits=2)
    vals = tuple(int(v) for v in y)
    return NLITable(lay, func, tuple(range(1 << fin.width)), vals, vals[0], vals[-1],
                    (0.0, float((1 << fin.width) - 1)),
                    meta={"baseline": "full_lut", "codes_of": [str(fin), str(fout)]})
