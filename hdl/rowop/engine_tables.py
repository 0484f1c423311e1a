"""The tables a row unit's engines run, chosen by the params' ``engine_arch``: the NLI tables as
shipped (``parallel``, the engine's non-uniform search), or a baseline for the same function,
input / output formats and domain whose max error (in output LSBs) is no larger than the NLI
table's: a full LUT (``direct``, one stored value per input code) or the coarsest uniform PWL
(``uniform``, 2^p-code segments, the largest p that meets the bound).

This is the one place the baseline tables are made: ``SoftmaxParams.engine_table`` and
``NormParams.engine_table`` read it, and the RTL (``engine_params``), the golden model and the
bench read those. Tables are cached per (NLI table hash, arch), so a params object, its
``replace`` copies and the golden model share one build (the int16 uniform searches take ~3 s).

exp (softmax): the NLI table clamps to exactly 1 from d = 0 on (tails zero, clamp). A uniform
PWL's last segment edge lies past d = 0, where e^d > 1; its values there are capped at 1, which
changes no output on the domain (d = 0 is itself an edge, t = 0) and keeps every output <= 1.
Below the domain both baselines clamp to their first value, e^-R rounded, which is 0.
"""
from __future__ import annotations

import dataclasses

from nlihw.errors import ParamsError
from nlihw.luts.baselines import full_lut_table, uniform_table
from nlihw.luts.table import NLITable
from nlihw.luts.table_errors import table_errors

ENGINE_ARCHS = ("parallel", "uniform", "direct")
BASELINE_LABELS = {"uniform": "uniform-PWL baseline", "direct": "full-LUT baseline"}
BASELINE_MAX_VALUES = 1 << 18       # stored values per baseline table (int16 rsqrt: 196,608)
ERR_TOL_LSB = 1e-9                  # float noise only: equal errors meet the bound
_CACHE: dict = {}


def check_engine_arch(arch) -> str:
    """``arch`` if it is one of ENGINE_ARCHS, else a ParamsError."""
    if arch not in ENGINE_ARCHS:
        raise ParamsError(f"engine_arch must be one of {', '.join(ENGINE_ARCHS)}, got {arch!r}")
    return arch


def max_error_lsb(t: NLITable) -> float:
    """The table's max abs error in output LSBs, recomputed (the stored meta is rounded)."""
    return float(table_errors(t)["max_abs_lsb"])


def engine_table(t: NLITable, arch: str) -> NLITable:
    """The table an engine of ``arch`` runs for the NLI table ``t`` (``t`` itself for parallel)."""
    check_engine_arch(arch)
    if arch == "parallel":
        return t
    key = (t.sha256, arch)
    if key not in _CACHE:
        _CACHE[key] = _full_lut(t) if arch == "direct" else _uniform(t)
    return _CACHE[key]


def _codes(t: NLITable) -> int:
    """Input codes of the table's domain."""
    lsb = t.layout.in_fmt.lsb
    return round((t.domain[1] - t.domain[0]) / lsb) + 1


def _too_big(t: NLITable, n: int, what: str) -> ParamsError:
    return ParamsError(f"engine_arch: a {what} of {t.function} on {t.layout.in_fmt} over "
                       f"{list(t.domain)} needs {n:,} stored values (more than "
                       f"{BASELINE_MAX_VALUES:,}); use engine_arch 'parallel' or a narrower input")


def _full_lut(t: NLITable) -> NLITable:
    """One value per domain code; a ParamsError if too large or (never expected) less exact."""
    n = _codes(t)
    if n > BASELINE_MAX_VALUES:
        raise _too_big(t, n, "full LUT")
    lay = t.layout
    b = full_lut_table(t.function, lay.in_fmt, lay.out_fmt, t.domain)
    bound = max_error_lsb(t)
    if max_error_lsb(b) > bound + ERR_TOL_LSB:
        raise ParamsError(f"engine_arch 'direct': the full LUT of {t.function} errs "
                          f"{max_error_lsb(b):.4f} LSB, above the NLI table's {bound:.4f}")
    return b


def _uniform(t: NLITable) -> NLITable:
    """The uniform PWL with the largest 2^p-code segments that meets the NLI table's max error.
    Segment sizes whose edges reach a pole (1/x at 0) are skipped."""
    lay = t.layout
    bound = max_error_lsb(t) + ERR_TOL_LSB
    for s in range(lay.in_fmt.width, -1, -1):
        if (_codes(t) >> s) + 2 > BASELINE_MAX_VALUES:
            raise _too_big(t, (_codes(t) >> s) + 2, "uniform PWL")
        try:
            b = uniform_table(t.function, lay.in_fmt, lay.out_fmt, s, t.domain)
        except ParamsError:
            continue
        if b.function == "exp":
            b = _cap_at_one(b)
        if max_error_lsb(b) <= bound:
            return b
    raise ParamsError(f"engine_arch 'uniform': no uniform PWL of {t.function} meets the NLI "
                      f"table's {bound:.4f} LSB")


def _cap_at_one(b: NLITable) -> NLITable:
    """exp's values past d = 0 capped at 1 (see the module docstring)."""
    one = 1 << b.layout.out_fmt.frac_bits
    return dataclasses.replace(b, values=tuple(min(v, one) for v in b.values),
                               clamp_hi=min(b.clamp_hi, one))
