"""What every fit resolves before it runs (mean-relative floor, tails) and what it returns
(``FitResult``, stamped with ``FITTER_VERSION``), for the fixed-point and the float fitter alike."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nlihw.errors import ParamsError
from nlihw.luts.table_errors import TAU
from .table import NLITable
from .tails import Tail, default_tails

FITTER_VERSION = 2      # 2: least-squares tie-break among max-abs optima, rel_floor, exact ties

ALL_CODES_CANDIDATES = 4096  # every code is a candidate up to 4,096 (12-bit domains) ...
DEFAULT_GRID = 1024          # ... else this many, evenly spaced
# Target wall time of one compiled error-matrix call (a row block), so that Ctrl-C and progress
# get through. A float block also builds its intervals' stored values in numpy first, a cost per
# block; its 0.25 s is the value the float fit times (docs/float_tables.md) were measured with.
FIXED_BLOCK_SECONDS = 0.2
FLOAT_BLOCK_SECONDS = 0.25


def default_rel_floor(out_fmt) -> float:
    """Mean-relative floor: the paper's 2^-14, or one output LSB of a fixed-point output when that
    is coarser (a relative error below one LSB of |f| is not meaningful in the output format)."""
    return TAU if out_fmt.is_float else max(TAU, out_fmt.lsb)


def resolve_rel_floor(rel_floor, out_fmt) -> float:
    """The given mean-relative floor (finite and > 0), or the output format's default."""
    if rel_floor is None:
        return default_rel_floor(out_fmt)
    if not (np.isfinite(rel_floor) and rel_floor > 0):
        raise ParamsError(f"--rel-floor must be finite and > 0, got {rel_floor}")
    return float(rel_floor)


def resolve_tails(func: str, tails, covers_lo: bool, covers_hi: bool) -> tuple[Tail, Tail]:
    """The given tails, or the function's defaults on each side where the domain stops short of
    the input format (a side the domain covers keeps a clamp: its tail only meets codes the fit
    sees, and a clamp at the last code is exact). A side given as None takes its default."""
    given = (None, None) if tails is None else tuple(tails)
    if len(given) != 2:
        raise ParamsError(f"tails: expected (left, right), got {tails!r}")
    lo, hi = default_tails(func)
    lo, hi = (Tail() if covers_lo else lo), (Tail() if covers_hi else hi)
    return (lo if given[0] is None else Tail.parse(given[0]),
            hi if given[1] is None else Tail.parse(given[1]))


@dataclass
class FitResult:
    table: NLITable
    objective: float                 # DP optimum in metric units (sum or max over codes)
    grid: int                        # candidate cutpoints used
    seconds: float
    stats: dict = field(default_factory=dict)
