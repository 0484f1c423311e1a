"""Machine-independent stored values: f rounded to the output format, correctly rounded near ties.

The stored values of a table are f at the micro-bin edges rounded to nearest (ties to even) in the
output format. f comes from numpy's float64 libm, whose last ulp differs between CPUs and library
builds, so a value within an ulp or so of a rounding boundary (k + 1/2 LSB) could round differently
on another machine. The rule that makes every stored value identical everywhere:

- fast path: float64 f, rounded by ``Q.quantize`` (exact rounding of the float64 value);
- a value whose float64 lies within ``MARGIN`` = 2^-40 (relative to max(|f| / LSB, 1), in LSBs)
  of a boundary is re-evaluated with the function's mpmath form at ``DIGITS`` = 60 significant
  digits, at the exact rational input position, and rounded from that value; a value that mpmath
  puts on the boundary itself (within 2^-150 relative: an exact tie such as sigmoid(0) = 1/2) goes
  to the even code.

libm errors are a few ulps (2^-52 relative), far inside the margin, so every value outside the
margin rounds the same on any machine, and every value inside it is decided by mpmath, which is
deterministic. User functions (``module:function``) have no mpmath form: their float64 values are
used as they are, so their tables are only as machine-independent as the user's code.
"""
from __future__ import annotations

from typing import Callable

import mpmath
import numpy as np

from nlihw.formats import Q

MARGIN = 2.0 ** -40
DIGITS = 60
TIE = mpmath.mpf(2) ** -150


def near_boundary(fvals: np.ndarray, fmt: Q) -> np.ndarray:
    """Indices of float64 values within MARGIN of a round-to-nearest boundary of ``fmt``."""
    scaled = np.ldexp(np.asarray(fvals, dtype=np.float64), fmt.frac_bits)
    rem = scaled - np.floor(scaled)
    return np.flatnonzero(np.abs(rem - 0.5) <= MARGIN * np.maximum(np.abs(scaled), 1.0))


def round_exact(mp_fn: Callable, x_exact, fmt: Q) -> int:
    """Raw code of mp_fn(x_exact) rounded to nearest, ties to even, saturated (mpmath at DIGITS)."""
    with mpmath.workdps(DIGITS):
        v = mpmath.ldexp(mp_fn(mpmath.mpf(x_exact) if not isinstance(x_exact, mpmath.mpf)
                               else x_exact), fmt.frac_bits)
        fl = int(mpmath.floor(v))
        d = v - fl - mpmath.mpf(0.5)
        if abs(d) <= TIE * max(abs(v), 1):
            raw = fl + (fl & 1)
        else:
            raw = fl + 1 if d > 0 else fl
    return min(max(raw, fmt.min_raw), fmt.max_raw)


def stored_codes(function, fvals: np.ndarray, fmt: Q,
                 x_exact: Callable[[int], "mpmath.mpf"]) -> np.ndarray:
    """``fmt.quantize(fvals)``, with near-boundary values decided by the function's mpmath form.

    ``x_exact(i)`` gives the exact input position of ``fvals[i]`` as an mpmath number (called only
    for the near-boundary points, inside a 60-digit context).
    """
    raw = fmt.quantize(fvals)
    mp_fn = getattr(function, "mp", None)
    if mp_fn is None:
        return raw
    for i in near_boundary(fvals, fmt):
        with mpmath.workdps(DIGITS):
            raw[i] = round_exact(mp_fn, x_exact(int(i)), fmt)
    return raw
