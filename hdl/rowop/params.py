"""SoftmaxParams and NormParams: the one frozen description of a row-operation unit, read by the
golden models (``nlihw.sim.rowop.golden``) and, later, the RTL.

Formats that cannot be derived are written here; the NLI tables fix the rest (the exp table's
input is the format d = x - max saturates into, its output the format of e; the reciprocal and
rsqrt tables' inputs are the normalized mantissas s, their outputs r). Accumulators and the norms'
variance register are wider than a ``Q`` may be (32 bits), so they are ``Wide`` formats, derived
here and nowhere else.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, fields, replace

import numpy as np

from nlihw.errors import ParamsError
from nlihw.formats import Q, Rounding, parse_format, parse_rounding, require_fixed
from nlihw.hdl.common.verilog_names import check_module_name
from nlihw.luts.golden import nli_eval
from nlihw.luts.layout import clog2
from nlihw.luts.rowop_tables import rowop_table
from nlihw.luts.table import NLITable
from .engine_tables import check_engine_arch, engine_table

OUTPUT_MODES = ("normalized", "deferred")
NORM_KINDS = ("rms", "layer")
N_MAX_LIMIT = 1 << 16
LANES_LIMIT = 64


@dataclass(frozen=True)
class Wide:
    """A fixed-point register wider than ``Q`` allows (accumulators): ``int_bits`` (sign
    included when signed) and ``frac_bits``; written like a Q (``u13.17``)."""
    int_bits: int
    frac_bits: int
    signed: bool = False

    @property
    def width(self) -> int:
        return self.int_bits + self.frac_bits

    def __str__(self) -> str:
        return f"{'s' if self.signed else 'u'}{self.int_bits}.{self.frac_bits}"


def _fmt(obj, field: str) -> Q:
    try:
        f = require_fixed(parse_format(getattr(obj, field)), field)
    except ValueError as e:
        raise ParamsError(f"{field}: {e}") from None
    object.__setattr__(obj, field, f)
    return f


def _pos_int(obj, field: str, lo: int, hi: int) -> int:
    v = getattr(obj, field)
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        raise ParamsError(f"{field} must be an integer in {lo}..{hi}, got {v!r}")
    return v


def _common(obj) -> None:
    """Checks shared by both units: n_max, lanes, mode, rounding, top_name, engine_arch."""
    _pos_int(obj, "n_max", 1, N_MAX_LIMIT)
    check_engine_arch(obj.engine_arch)
    lanes = _pos_int(obj, "lanes", 1, LANES_LIMIT)
    if lanes & (lanes - 1):
        raise ParamsError(f"lanes must be a power of two (1, 2, 4, ...), got {lanes}")
    if lanes > obj.n_max:
        raise ParamsError(f"lanes must be <= n_max={obj.n_max}, got {lanes}")
    if obj.output_mode not in OUTPUT_MODES:
        raise ParamsError(f"output_mode must be one of {', '.join(OUTPUT_MODES)}, got "
                          f"{obj.output_mode!r}")
    try:
        object.__setattr__(obj, "rounding", parse_rounding(obj.rounding))
    except ValueError as e:
        raise ParamsError(f"rounding: {e}") from None
    try:
        check_module_name(obj.top_name)
    except ValueError as e:
        raise ParamsError(f"top_name: {e}") from None


def _table(obj, field: str, func: str, domain: tuple[float, float]) -> NLITable:
    t = getattr(obj, field)
    if not isinstance(t, NLITable):
        raise ParamsError(f"{field}: expected an NLITable, got {type(t).__name__}")
    if t.function != func:
        raise ParamsError(f"{field}: expected a {func} table, got {t.function!r}")
    lay = t.layout
    for side in ("in_fmt", "out_fmt"):
        if getattr(lay, side).is_float:
            raise ParamsError(f"{field}: fixed-point tables only, got {side} {getattr(lay, side)}")
    lsb = lay.in_fmt.lsb
    if func != "exp" and (t.domain[0] > domain[0] or t.domain[1] < domain[1] - lsb):
        raise ParamsError(f"{field}: the {func} table must cover {list(domain)} (the range "
                          f"reduction's mantissa), got {list(t.domain)}")
    return t


def _check_mantissa_table(obj, field: str, lo: int, hi: int, in_int_bits: int) -> None:
    """reciprocal / rsqrt: unsigned u<in_int_bits>.F input, u1.G output with f(1) = 1 exactly
    (so a power-of-two n or v is exact) and every output in (0.5, 1]; checked on the table the
    engine runs (``engine_table``)."""
    t = obj.engine_table(field)
    fin, fout = t.layout.in_fmt, t.layout.out_fmt
    if fin.signed or fin.int_bits != in_int_bits:
        raise ParamsError(f"{field}: input must be u{in_int_bits}.F, got {fin}")
    if fout.signed or fout.int_bits != 1:
        raise ParamsError(f"{field}: output must be u1.G (values in (0.5, 1]), got {fout}")
    codes = np.arange(lo << fin.frac_bits, hi << fin.frac_bits, dtype=np.int64)
    y = nli_eval(t, codes)
    one = 1 << fout.frac_bits
    if int(y[0]) != one or np.any(y > one) or np.any(y < one >> 1):
        raise ParamsError(f"{field}: outputs must lie in [0.5, 1] with f(1) = 1 exactly")


# --- serialization (the generated design's manifest records its params) ------------------------
def _to_dict(obj, tables: tuple[str, ...]) -> dict:
    """Every field as JSON: formats and the rounding as their names, tables as their content;
    ``engine_arch`` only when not ``parallel`` (so the NLI units' digests stay as they were)."""
    d = {}
    for f in fields(obj):
        v = getattr(obj, f.name)
        if f.name == "engine_arch" and v == "parallel":
            continue
        if f.name in tables:
            v = v.content()
        elif isinstance(v, Rounding):
            v = v.value
        elif isinstance(v, Q):
            v = str(v)
        d[f.name] = v
    return d


def _from_dict(cls, d, tables: tuple[str, ...], what: str):
    """``cls`` from ``_to_dict``'s output; every error a ParamsError naming ``what``."""
    if not isinstance(d, dict):
        raise ParamsError(f"{what} params: expected an object")
    d = dict(d)
    try:
        kw = {k: NLITable.from_dict(d.pop(k), source=f"tables.{k}") for k in tables}
        return cls(**d, **kw)
    except (KeyError, TypeError) as e:
        raise ParamsError(f"{what} params: {e}") from None


def _digest(d: dict) -> str:
    return hashlib.sha256(json.dumps(d, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@dataclass(frozen=True)
class SoftmaxParams:
    """A softmax unit over rows of up to ``n_max`` elements, ``lanes`` elements per clock.

    ``in_fmt``: the logits x (signed). ``exp``: the NLI exp table; its input format is where
    d = x - max saturates (same fraction bits as x), its domain [-R, 0] with every code below -R
    giving 0 and d = 0 giving exactly 1; its output is e's format (u1.F). ``reciprocal``: the NLI
    table of 1/s on [1, 2). ``out_fmt``: p (unsigned). ``output_mode``: ``normalized`` (p_i) or
    ``deferred`` (e_i, plus each row's (r, k) for a consumer that folds 2^-k r into the next
    matmul). Every rounding is ``rounding`` (default nearest-even) unless the golden model's
    table says floor. ``engine_arch``: ``parallel`` (the NLI engines) or a baseline for the same
    steps, ``direct`` (full LUTs) or ``uniform`` (uniform PWL), made by ``engine_tables.py``
    from ``exp`` and ``reciprocal`` (``engine_table``).
    """
    n_max: int
    in_fmt: "Q | str"
    out_fmt: "Q | str"
    exp: NLITable
    reciprocal: NLITable
    lanes: int = 1
    output_mode: str = "normalized"
    rounding: "Rounding | str" = Rounding.NEAREST_EVEN
    top_name: str = "softmax_unit"
    engine_arch: str = "parallel"

    def __post_init__(self):
        _common(self)
        fin, fout = _fmt(self, "in_fmt"), _fmt(self, "out_fmt")
        if not fin.signed:
            raise ParamsError(f"in_fmt must be signed, got {fin}")
        if fout.signed:
            raise ParamsError(f"out_fmt must be unsigned (p in [0, 1]), got {fout}")
        exp = _table(self, "exp", "exp", (0.0, 0.0))
        rec = _table(self, "reciprocal", "reciprocal", (1.0, 2.0))
        ein, eout = exp.layout.in_fmt, exp.layout.out_fmt
        if not ein.signed or ein.frac_bits != fin.frac_bits:
            raise ParamsError(f"exp: input must be signed with in_fmt's {fin.frac_bits} fraction "
                              f"bits (d = x - max is exact), got {ein}")
        if exp.domain[1] != 0.0 or exp.domain[0] <= ein.min:
            raise ParamsError(f"exp: domain must be [-R, 0] with -R above {ein.min} (saturated "
                              f"d below the domain), got {list(exp.domain)}")
        if eout.signed or eout.int_bits != 1:
            raise ParamsError(f"exp: output must be u1.F (e in [0, 1]), got {eout}")
        run = self.engine_table("exp")            # the values checks: on the table that runs
        e_at = nli_eval(run, np.array([ein.min_raw, 0], dtype=np.int64))
        if int(e_at[0]) != 0 or int(e_at[1]) != 1 << eout.frac_bits:
            raise ParamsError("exp: the table must give 0 below its domain and exactly 1 at d = 0")
        if not np.all(nli_eval(run, ein.codes()) <= 1 << eout.frac_bits):
            raise ParamsError("exp: every output must be <= 1")
        _check_mantissa_table(self, "reciprocal", 1, 2, 1)
        if self.p_shift_min < 1:
            raise ParamsError(f"out_fmt {fout} has more fraction bits than e * r "
                              f"({eout.frac_bits} + {rec.layout.out_fmt.frac_bits})")

    # --- derived formats and widths (the one place a width is computed) --------------------------
    @property
    def d_fmt(self) -> Q:
        """d = sat(x - max): the exp table's input."""
        return self.exp.layout.in_fmt

    @property
    def e_fmt(self) -> Q:
        return self.exp.layout.out_fmt

    @property
    def s_fmt(self) -> Q:
        """The normalized row sum s in [1, 2): the reciprocal table's input."""
        return self.reciprocal.layout.in_fmt

    @property
    def r_fmt(self) -> Q:
        return self.reciprocal.layout.out_fmt

    @property
    def diff_width(self) -> int:
        """x - max before saturation: exact, one bit wider than x."""
        return self.in_fmt.width + 1

    @property
    def acc_fmt(self) -> Wide:
        """S = sum e: e <= 1, so n_max * 1 needs clog2(n_max + 1) integer bits."""
        return Wide(max(1, clog2(self.n_max + 1)), self.e_fmt.frac_bits)

    @property
    def k_min(self) -> int:
        """S >= 1 for a row with an unmasked element (its max gives e = 1): k >= 0."""
        return 0

    @property
    def k_max(self) -> int:
        return self.acc_fmt.int_bits - 1

    @property
    def k_width(self) -> int:
        return max(1, clog2(self.k_max + 1))

    @property
    def product_width(self) -> int:
        """e * r, unsigned, exact."""
        return self.e_fmt.width + self.r_fmt.width

    @property
    def p_shift_min(self) -> int:
        """p = round(e r / 2^shift), shift = F_e + F_r - F_out + k (>= 1 for k >= 0)."""
        return self.e_fmt.frac_bits + self.r_fmt.frac_bits - self.out_fmt.frac_bits + self.k_min

    @property
    def nli_steps(self) -> dict:
        """step -> (M, K) of its NLI table."""
        return {f: (getattr(self, f).layout.M, getattr(self, f).layout.K)
                for f in ("exp", "reciprocal")}

    def engine_table(self, which: str) -> NLITable:
        """The table the ``which`` engine (exp or reciprocal) runs: ``engine_arch``'s."""
        return engine_table(getattr(self, which), self.engine_arch)

    def to_dict(self) -> dict:
        return _to_dict(self, ("exp", "reciprocal"))

    @classmethod
    def from_dict(cls, d: dict) -> "SoftmaxParams":
        return _from_dict(cls, d, ("exp", "reciprocal"), "softmax")

    def digest(self) -> str:
        """sha256 of the canonical ``to_dict`` JSON."""
        return _digest(self.to_dict())

    def replace(self, **changes) -> "SoftmaxParams":
        return replace(self, **changes)


@dataclass(frozen=True)
class NormParams:
    """An RMSNorm (``kind="rms"``) or LayerNorm (``kind="layer"``) unit over rows of up to
    ``n_max`` elements, ``lanes`` per clock.

    ``in_fmt`` x, ``out_fmt`` y, ``w_fmt`` the per-channel weight, ``b_fmt`` the bias (layer only;
    its fraction bits <= out_fmt's, so it adds exactly before the one rounding). ``eps`` (> 0) is
    rounded once to nearest into the variance register (``v_fmt``, ``v_frac_bits`` fraction bits)
    and must not round to 0. ``reciprocal``: 1/n_s, n = n_s 2^j (exact for n_max <=
    2^(F+1), F its input's fraction bits); ``rsqrt``: 1/sqrt(s) on [1, 4). ``scale_fmt``: the
    per-row scale 2^k-free mantissa (rsqrt's output for rms; round(rsqrt * 1/n_s) for layer).
    ``guard_bits``: fraction bits kept below x^2's in the layer variance's pre-shift.
    ``output_mode``: ``normalized`` (y) or ``deferred`` (per row: scale (c, k) and, for layer,
    the mean as the shift: y = (x - mean) c 2^-k, w and b folded into the consumer).
    ``engine_arch``: as for SoftmaxParams (the baselines replace reciprocal and rsqrt).
    """
    kind: str
    n_max: int
    in_fmt: "Q | str"
    out_fmt: "Q | str"
    w_fmt: "Q | str"
    reciprocal: NLITable
    rsqrt: NLITable
    eps: float = 1e-5
    b_fmt: "Q | str | None" = None
    scale_fmt: "Q | str | None" = None
    v_frac_bits: int = 24
    guard_bits: int = 10
    mean_extra_bits: int = 8
    lanes: int = 1
    output_mode: str = "normalized"
    rounding: "Rounding | str" = Rounding.NEAREST_EVEN
    top_name: str = "norm_unit"
    engine_arch: str = "parallel"

    def __post_init__(self):
        if self.kind not in NORM_KINDS:
            raise ParamsError(f"kind must be one of {', '.join(NORM_KINDS)}, got {self.kind!r}")
        _common(self)
        fin, fout, fw = _fmt(self, "in_fmt"), _fmt(self, "out_fmt"), _fmt(self, "w_fmt")
        for f, v in (("in_fmt", fin), ("out_fmt", fout), ("w_fmt", fw)):
            if not v.signed:
                raise ParamsError(f"{f} must be signed, got {v}")
        if self.kind == "layer":
            if self.b_fmt is None:
                raise ParamsError("b_fmt is required for kind='layer'")
            fb = _fmt(self, "b_fmt")
            if not fb.signed or fb.frac_bits > fout.frac_bits:
                raise ParamsError(f"b_fmt must be signed with at most out_fmt's {fout.frac_bits} "
                                  f"fraction bits, got {fb}")
        elif self.b_fmt is not None:
            raise ParamsError("b_fmt applies to kind='layer' only")
        _table(self, "reciprocal", "reciprocal", (1.0, 2.0))
        _table(self, "rsqrt", "rsqrt", (1.0, 4.0))
        _check_mantissa_table(self, "reciprocal", 1, 2, 1)
        _check_mantissa_table(self, "rsqrt", 1, 4, 2)
        if self.scale_fmt is None:
            object.__setattr__(self, "scale_fmt", self.rsqrt.layout.out_fmt)
        fs = _fmt(self, "scale_fmt")
        if fs.signed or fs.int_bits != 1:
            raise ParamsError(f"scale_fmt must be u1.F, got {fs}")
        if self.kind == "rms" and fs != self.rsqrt.layout.out_fmt:
            raise ParamsError(f"scale_fmt must be the rsqrt output {self.rsqrt.layout.out_fmt} "
                              f"for kind='rms', got {fs}")
        _pos_int(self, "v_frac_bits", 0, 40)
        _pos_int(self, "guard_bits", 0, 20)
        _pos_int(self, "mean_extra_bits", 0, 16)
        if isinstance(self.eps, bool) or not isinstance(self.eps, (int, float)) \
                or not np.isfinite(self.eps) or self.eps <= 0:
            raise ParamsError(f"eps must be a finite number > 0, got {self.eps!r}")
        if self.eps_code < 1:
            raise ParamsError(f"eps={self.eps} rounds to 0 with v_frac_bits={self.v_frac_bits}")
        if self.n_max > 1 << (self.reciprocal.layout.in_fmt.frac_bits + 1):
            raise ParamsError(f"n_max={self.n_max} is not exact in the reciprocal's input "
                              f"{self.reciprocal.layout.in_fmt} (at most "
                              f"{1 << (self.reciprocal.layout.in_fmt.frac_bits + 1)})")
        if self.y_shift_min < 1:
            raise ParamsError(f"out_fmt {fout} has too many fraction bits for the product "
                              f"x * scale * w at the largest scale (shift {self.y_shift_min})")
        if self.product_width > 63:
            raise ParamsError(f"the product (x - mean) * scale * w needs {self.product_width} "
                              f"bits (> 63); narrow in_fmt, w_fmt, scale_fmt or n_max")

    # --- derived formats and widths (the one place a width is computed) --------------------------
    @property
    def n_bits(self) -> int:
        """The row length n (1..n_max)."""
        return clog2(self.n_max + 1)

    @property
    def j_max(self) -> int:
        return self.n_bits - 1

    @property
    def sumsq_fmt(self) -> Wide:
        """sum x^2, exact: x^2 <= 2^(2(W-1)) codes, 2 F_x fraction bits."""
        f = self.in_fmt
        return Wide(2 * f.int_bits - 1 + self.n_bits, 2 * f.frac_bits)

    @property
    def sum_fmt(self) -> Wide:
        """sum x, exact (layer)."""
        f = self.in_fmt
        return Wide(f.int_bits + self.n_bits, f.frac_bits, signed=True)

    @property
    def var_num_width(self) -> int:
        """N = n sum x^2 - (sum x)^2 (layer; n^2 times the biased variance), exact, >= 0."""
        return 2 * (self.in_fmt.width - 1) + 2 * self.n_bits + 1

    @property
    def v_fmt(self) -> Wide:
        """v = mean(x^2) (- mean^2) + eps: variance <= max x^2; eps on top (one more bit)."""
        return Wide(max(1, 2 * (self.in_fmt.int_bits - 1) + 2), self.v_frac_bits)

    @property
    def eps_code(self) -> int:
        return int(np.rint(np.ldexp(float(self.eps), self.v_frac_bits)))

    @property
    def k_min(self) -> int:
        """v >= eps: k = floor(e / 2) with e = floor(log2 v) >= floor(log2 eps_code) - F_v."""
        return (self.eps_code.bit_length() - 1 - self.v_frac_bits) >> 1

    @property
    def k_max(self) -> int:
        return (self.v_fmt.int_bits - 1) >> 1

    @property
    def s_fmt(self) -> Q:
        """The normalized v mantissa s in [1, 4): rsqrt's input."""
        return self.rsqrt.layout.in_fmt

    @property
    def rs_fmt(self) -> Q:
        return self.rsqrt.layout.out_fmt

    @property
    def rn_fmt(self) -> Q:
        """1/n_s: the reciprocal's output."""
        return self.reciprocal.layout.out_fmt

    @property
    def mean_fmt(self) -> Q:
        """The layer mean (deferred mode's shift): x's format, ``mean_extra_bits`` finer."""
        f = self.in_fmt
        return Q(f.int_bits, f.frac_bits + self.mean_extra_bits)

    @property
    def centered_width(self) -> int:
        """c = x (rms) or n x - sum x (layer, = n (x - mean), exact), signed."""
        if self.kind == "rms":
            return self.in_fmt.width
        return self.in_fmt.width + clog2(self.n_max) + 1     # |c| <= n (2^W - 1) < 2^(W+clog2 n)

    @property
    def product_width(self) -> int:
        """c * scale * w, signed, exact (the bias is added without widening it by more than 1)."""
        return self.centered_width + self.scale_fmt.width + self.w_fmt.width

    @property
    def y_shift_min(self) -> int:
        """y = round(c scale w / 2^shift), shift = F_x + F_scale + F_w - F_out + k (+ j)."""
        return (self.in_fmt.frac_bits + self.scale_fmt.frac_bits + self.w_fmt.frac_bits
                - self.out_fmt.frac_bits + self.k_min)

    @property
    def nli_steps(self) -> dict:
        """step -> (M, K) of its NLI table."""
        return {f: (getattr(self, f).layout.M, getattr(self, f).layout.K)
                for f in ("reciprocal", "rsqrt")}

    def engine_table(self, which: str) -> NLITable:
        """The table the ``which`` engine (reciprocal or rsqrt) runs: ``engine_arch``'s."""
        return engine_table(getattr(self, which), self.engine_arch)

    def to_dict(self) -> dict:
        return _to_dict(self, ("reciprocal", "rsqrt"))

    @classmethod
    def from_dict(cls, d: dict) -> "NormParams":
        return _from_dict(cls, d, ("reciprocal", "rsqrt"), "norm")

    def digest(self) -> str:
        """sha256 of the canonical ``to_dict`` JSON."""
        return _digest(self.to_dict())

    def replace(self, **changes) -> "NormParams":
        return replace(self, **changes)


# Presets: fixed-point I/O. Tables from ``nlihw.luts.rowop_tables`` (their formats are the
# internal ones: int16 keeps 17 fraction bits everywhere, int8 11).
#
# NLI tables (M, K): int16 exp (17, 32), reciprocal and rsqrt (11, 32); int8 all (11, 8).
# softmax int16: x s6.10 (|logit| < 32), d saturates into s5.10, e u1.17, S u13.17, s u1.17,
#   r u1.17, p u0.16 (p >= 1 - 2^-17 saturates to 65535/65536: one-hot rows raise the flag).
# softmax int8: x s5.3, d s5.3, e u1.11, S u13.11, s u1.11, r u1.11, p u0.8 (p < 1/512 rounds
#   to 0: a near-uniform row of n >= 512 outputs zeros; use deferred mode there).
# norm int16: x s8.8 (outlier channels up to 128), w s3.13, b s8.8, y s8.8 (a lone element
#   normalizes to sqrt(n) = 64 at n = 4096), eps 1e-5 in v (24 fraction bits), s u2.16, rsqrt
#   and 1/n_s u1.17, scale u1.17.
# norm int8: x s5.3, w s2.6, b s5.3, y s5.3, v 12 fraction bits (eps = 1e-3: 1e-5 rounds to 0),
#   s u2.10, rsqrt and 1/n_s u1.11, scale u1.11. y saturates beyond 16: outlier channels of a
#   hidden state normalize to 20-60 and clip (measured in sim/rowop/accuracy.py); deferred mode
#   (scale and shift per row) avoids it.
SOFTMAX_PRESETS = {
    "int16": dict(in_fmt="s6.10", out_fmt="u0.16"),
    "int8": dict(in_fmt="s5.3", out_fmt="u0.8"),
}
NORM_PRESETS = {
    "int16": dict(in_fmt="s8.8", out_fmt="s8.8", w_fmt="s3.13", b_fmt="s8.8", eps=1e-5,
                  v_frac_bits=24, guard_bits=10, mean_extra_bits=8),
    "int8": dict(in_fmt="s5.3", out_fmt="s5.3", w_fmt="s2.6", b_fmt="s5.3", eps=1e-3,
                 v_frac_bits=12, guard_bits=6, mean_extra_bits=5),
}
PRESET_NAMES = tuple(SOFTMAX_PRESETS)


def softmax_preset(name: str, *, n_max: int = 4096, **overrides) -> SoftmaxParams:
    """SoftmaxParams of a named preset with its shipped tables; ``overrides`` replace fields."""
    if name not in SOFTMAX_PRESETS:
        raise ParamsError(f"unknown softmax preset {name!r}; choose one of "
                          f"{', '.join(SOFTMAX_PRESETS)}")
    kw = {f: rowop_table(name, f) for f in ("exp", "reciprocal") if f not in overrides}
    kw.update(SOFTMAX_PRESETS[name])
    kw.update(overrides)
    return SoftmaxParams(n_max=n_max, **kw)


def norm_preset(name: str, kind: str = "rms", *, n_max: int = 4096, **overrides) -> NormParams:
    """NormParams of a named preset (``kind`` rms or layer) with its shipped tables."""
    if name not in NORM_PRESETS:
        raise ParamsError(f"unknown norm preset {name!r}; choose one of {', '.join(NORM_PRESETS)}")
    kw = {f: rowop_table(name, f) for f in ("reciprocal", "rsqrt") if f not in overrides}
    kw.update(NORM_PRESETS[name])
    if kind != "layer":
        kw.pop("b_fmt")
    kw.update(overrides)
    return NormParams(kind=kind, n_max=n_max, **kw)
