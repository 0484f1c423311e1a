"""Number formats shared by the fitter, golden models, RTL and benches.

Every format implements :class:`NumberFormat` (width, raw <-> real, quantize, parse/print):
fixed point :class:`Q` and floating point :class:`FP` (fp16, bf16, OCP fp8e4m3/fp8e5m2).
Raw values are always numpy int64. For ``Q`` the raw value is the two's complement value (not the
bit pattern) and ``to_bits``/``from_bits`` convert to and from the unsigned bit pattern used on
wires; for ``FP`` the raw value *is* the unsigned bit pattern (``to_bits``/``from_bits`` only mask).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np

from .errors import FormatError


class Rounding(str, Enum):
    """How a value between two representable codes is resolved."""
    NEAREST_EVEN = "nearest-even"
    NEAREST_AWAY = "nearest-away"
    TOWARD_ZERO = "toward-zero"
    FLOOR = "floor"


class Overflow(str, Enum):
    """What happens to a value outside the representable range."""
    SATURATE = "saturate"
    ERROR = "error"


def parse_rounding(value: "str | Rounding") -> Rounding:
    try:
        return Rounding(value)
    except ValueError:
        raise FormatError(f"unknown rounding {value!r}; choose one of "
                          f"{', '.join(r.value for r in Rounding)}") from None


# Integer codes of the roundings for compiled (numba) kernels, which take plain ints, not the enum.
ROUNDING_CODE: "dict[str, int]" = {Rounding.NEAREST_EVEN.value: 0, Rounding.NEAREST_AWAY.value: 1,
                                   Rounding.TOWARD_ZERO.value: 2, Rounding.FLOOR.value: 3}
NEAREST_EVEN_CODE, NEAREST_AWAY_CODE, TOWARD_ZERO_CODE, FLOOR_CODE = (
    ROUNDING_CODE[r.value] for r in (Rounding.NEAREST_EVEN, Rounding.NEAREST_AWAY,
                                     Rounding.TOWARD_ZERO, Rounding.FLOOR))


def rounding_code(rounding: "Rounding | str") -> int:
    """The integer code of a rounding (``ROUNDING_CODE``), as the compiled kernels take it."""
    return ROUNDING_CODE[parse_rounding(rounding).value]


def round_shift_code(v, s, mode):
    """The one rounding rule: signed integers ``v`` / 2**s (``s >= 1``) rounded by rounding code
    ``mode``. Plain operators only, so numpy (arrays, here) and numba (scalars: luts/segment_error)
    run this same text."""
    fl = v >> s                              # floor division by 2**s
    rem = v - (fl << s)                      # 0 <= rem < 2**s
    half = np.int64(1) << (s - 1)
    if mode == FLOOR_CODE:
        return fl
    if mode == TOWARD_ZERO_CODE:
        return fl + ((v < 0) & (rem != 0))
    if mode == NEAREST_AWAY_CODE:
        return fl + ((rem > half) | ((rem == half) & (v >= 0)))
    return fl + ((rem > half) | ((rem == half) & ((fl & 1) == 1)))     # nearest-even


def shift_round(value, shift: int, rounding: "Rounding | str") -> np.ndarray:
    """Divide integers by 2**shift with one rounding; exact for any int64 input (the hardware rule).

    The rounding used by the golden model, the fitter and ``Q`` (see ``round_shift_code``).
    """
    mode = rounding_code(rounding)
    v = np.asarray(value, dtype=np.int64)
    if shift <= 0:
        return v << np.int64(-shift)
    return round_shift_code(v, np.int64(shift), mode)


@runtime_checkable
class NumberFormat(Protocol):
    """What every number format offers, fixed point (:class:`Q`) or floating point (:class:`FP`).

    ``is_float`` tells the two families apart (True for FP, False for Q)."""
    width: int
    is_float: bool

    def to_real(self, raw) -> np.ndarray: ...
    def quantize(self, x, rounding: "Rounding | str" = Rounding.NEAREST_EVEN,
                 overflow: "Overflow | str" = Overflow.SATURATE) -> np.ndarray: ...
    def to_bits(self, raw) -> np.ndarray: ...
    def from_bits(self, bits) -> np.ndarray: ...
    def codes(self) -> np.ndarray: ...


def _require_ints(fmt, *names: str) -> None:
    """A format's size fields must be integers (bool is not one)."""
    for name in names:
        v = getattr(fmt, name)
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
            raise FormatError(f"{name} must be an integer, got {v!r}")


_Q_RE = re.compile(r"^\s*([su])(\d+)\.(\d+)\s*$")


@dataclass(frozen=True, order=True)
class Q:
    """Fixed-point format: ``int_bits`` integer bits (the sign bit included when signed) and
    ``frac_bits`` fraction bits; written ``s4.12`` / ``u0.16``. Width is ``int_bits + frac_bits``."""
    int_bits: int
    frac_bits: int
    signed: bool = True

    MAX_WIDTH: ClassVar[int] = 32
    is_float: ClassVar[bool] = False

    def __post_init__(self):
        _require_ints(self, "int_bits", "frac_bits")
        if self.int_bits < 0 or self.frac_bits < 0:
            raise FormatError(f"format bits must be >= 0, got int_bits={self.int_bits}, "
                              f"frac_bits={self.frac_bits}")
        if not 1 <= self.width <= self.MAX_WIDTH:
            raise FormatError(f"format width must be 1..{self.MAX_WIDTH} bits, got {self.width} "
                              f"({self})")
        if self.signed and self.int_bits < 1:
            raise FormatError(f"a signed format needs int_bits >= 1 for the sign, got {self}")

    # --- text form -------------------------------------------------------------------------
    @classmethod
    def parse(cls, text: "str | Q") -> "Q":
        """Parse ``s4.12`` (signed, 4 integer bits incl. sign, 12 fraction bits) or ``u0.16``."""
        if isinstance(text, Q):
            return text
        m = _Q_RE.match(str(text))
        if not m:
            raise FormatError(f"bad number format {text!r}; expected e.g. s4.12 or u0.16")
        return cls(int(m.group(2)), int(m.group(3)), m.group(1) == "s")

    def __str__(self) -> str:
        return f"{'s' if self.signed else 'u'}{self.int_bits}.{self.frac_bits}"

    # --- derived quantities ----------------------------------------------------------------
    @property
    def width(self) -> int:
        return self.int_bits + self.frac_bits

    @property
    def lsb(self) -> float:
        return 2.0 ** -self.frac_bits

    @property
    def min_raw(self) -> int:
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def max_raw(self) -> int:
        return (1 << (self.width - 1)) - 1 if self.signed else (1 << self.width) - 1

    @property
    def min(self) -> float:
        return self.min_raw * self.lsb

    @property
    def max(self) -> float:
        return self.max_raw * self.lsb

    # --- conversions -----------------------------------------------------------------------
    def to_real(self, raw) -> np.ndarray:
        return np.asarray(raw, dtype=np.int64).astype(np.float64) * self.lsb

    def codes(self) -> np.ndarray:
        """Every raw code of the format in increasing numeric order."""
        return np.arange(self.min_raw, self.max_raw + 1, dtype=np.int64)

    def contains(self, raw) -> np.ndarray:
        r = np.asarray(raw, dtype=np.int64)
        return (r >= self.min_raw) & (r <= self.max_raw)

    def saturate(self, raw) -> np.ndarray:
        return np.clip(np.asarray(raw, dtype=np.int64), self.min_raw, self.max_raw)

    def quantize(self, x, rounding: "Rounding | str" = Rounding.NEAREST_EVEN,
                 overflow: "Overflow | str" = Overflow.SATURATE) -> np.ndarray:
        """Real values -> raw codes with one rounding; saturate or raise on overflow.

        Exact for float64 inputs: scaling by 2**frac_bits is exact, and so is the remainder
        ``scaled - floor(scaled)``, so ties are detected without error.
        """
        rounding, overflow = parse_rounding(rounding), Overflow(overflow)
        x = np.asarray(x, dtype=np.float64)
        if not np.all(np.isfinite(x)):
            raise FormatError(f"cannot quantize non-finite values to {self}")
        # Clip far outside the range first so the scaled value stays well inside int64.
        scaled = np.ldexp(np.clip(x, self.min - 2.0, self.max + 2.0), self.frac_bits)
        fl = np.floor(scaled)
        rem = scaled - fl
        if rounding is Rounding.FLOOR:
            r = fl
        elif rounding is Rounding.TOWARD_ZERO:
            r = np.trunc(scaled)
        elif rounding is Rounding.NEAREST_EVEN:
            r = np.rint(scaled)
        else:
            r = fl + ((rem > 0.5) | ((rem == 0.5) & (scaled >= 0)))
        raw = r.astype(np.int64)
        if overflow is Overflow.ERROR and not np.all(self.contains(raw)):
            bad = x[~self.contains(raw)].flat[0]
            raise FormatError(f"value {bad!r} overflows {self} (range [{self.min}, {self.max}])")
        return self.saturate(raw)

    def to_bits(self, raw) -> np.ndarray:
        """Raw (two's complement value) -> unsigned bit pattern of ``width`` bits."""
        return np.asarray(raw, dtype=np.int64) & np.int64((1 << self.width) - 1)

    def from_bits(self, bits) -> np.ndarray:
        """Unsigned bit pattern -> raw value (sign-extended for signed formats)."""
        b = np.asarray(bits, dtype=np.int64) & np.int64((1 << self.width) - 1)
        if self.signed:
            b = np.where(b >> (self.width - 1) == 1, b - (np.int64(1) << self.width), b)
        return b

    def to_json(self) -> str:
        return str(self)


_FP_RE = re.compile(r"^\s*fp_e(\d+)m(\d+)(fn)?\s*$")
_F64_MAN = 52                              # float64 stored mantissa bits
_F64_BIAS = 1023


def _round_shift(v: np.ndarray, s: np.ndarray, rounding: Rounding) -> np.ndarray:
    """``shift_round`` with a per-element shift ``s >= 1``: signed ints / 2**s, one rounding.

    Shifts are clamped to 62: for |v| < 2**61 a larger shift gives the same floor and the same
    comparison of the remainder with half, so the result is unchanged (and int64 shifts stay legal).
    """
    return round_shift_code(v, np.minimum(s, 62), rounding_code(rounding))


@dataclass(frozen=True)
class FP:
    """Binary floating-point format: sign, ``exp_bits`` exponent bits (bias 2**(exp_bits-1) - 1),
    ``man_bits`` stored mantissa bits; subnormals when the exponent field is 0.

    ``finite_only=False`` is IEEE 754 style: the all-ones exponent holds +-Inf (mantissa 0) and NaNs.
    ``finite_only=True`` is the OCP FP8 E4M3 ("fn") encoding: no Inf; the all-ones exponent holds
    normal numbers except S.1..1.1..1, the only NaN (so fp8e4m3 reaches 448).

    Raw values are the unsigned bit patterns (int64). Presets: ``fp16`` (IEEE binary16), ``bf16``,
    ``fp8e4m3`` and ``fp8e5m2`` (OCP FP8); other formats are written ``fp_e6m9`` (IEEE style) or
    ``fp_e4m3fn`` (finite only).

    Conversions: NaN in -> canonical NaN out (sign 0, quiet bit set, rest 0); finite values round
    once (nearest-even by default, on an unbounded exponent range) and a result beyond the largest
    finite value saturates to the largest finite value of that sign (or raises with
    ``overflow="error"``); +-Inf becomes +-Inf, or the largest finite value of that sign in a
    finite-only format, and never raises.
    """
    exp_bits: int
    man_bits: int
    finite_only: bool = False

    MAX_WIDTH: ClassVar[int] = 32
    is_float: ClassVar[bool] = True

    def __post_init__(self):
        _require_ints(self, "exp_bits", "man_bits")
        if not isinstance(self.finite_only, (bool, np.bool_)):
            raise FormatError(f"finite_only must be a boolean, got {self.finite_only!r}")
        if not 2 <= self.exp_bits <= 8:
            raise FormatError(f"exp_bits must be 2..8, got {self.exp_bits}")
        if not 1 <= self.man_bits <= 23:
            raise FormatError(f"man_bits must be 1..23, got {self.man_bits}")
        if self.width > self.MAX_WIDTH:
            raise FormatError(f"format width must be <= {self.MAX_WIDTH} bits, got {self.width}")
        # plain ints from here on, so shifts and dict lookups behave
        object.__setattr__(self, "exp_bits", int(self.exp_bits))
        object.__setattr__(self, "man_bits", int(self.man_bits))
        object.__setattr__(self, "finite_only", bool(self.finite_only))

    # --- text form -------------------------------------------------------------------------
    @classmethod
    def parse(cls, text: "str | FP") -> "FP":
        """Parse a preset name (``fp16``, ``bf16``, ``fp8e4m3``, ``fp8e5m2``) or ``fp_eXmY[fn]``."""
        if isinstance(text, FP):
            return text
        t = str(text).strip()
        if t in FP_PRESETS:
            return FP_PRESETS[t]
        m = _FP_RE.match(t)
        if not m:
            raise FormatError(f"bad floating-point format {text!r}; expected one of "
                              f"{', '.join(FP_PRESETS)} or e.g. fp_e6m9 / fp_e4m3fn")
        return cls(int(m.group(1)), int(m.group(2)), m.group(3) is not None)

    def __str__(self) -> str:
        for name, fmt in FP_PRESETS.items():
            if fmt == self:
                return name
        return f"fp_e{self.exp_bits}m{self.man_bits}{'fn' if self.finite_only else ''}"

    def to_json(self) -> str:
        return str(self)

    # --- fields and derived quantities -----------------------------------------------------
    @property
    def width(self) -> int:
        return 1 + self.exp_bits + self.man_bits

    @property
    def bias(self) -> int:
        return (1 << (self.exp_bits - 1)) - 1

    @property
    def has_inf(self) -> bool:
        return not self.finite_only

    @property
    def _mag_mask(self) -> int:
        return (1 << (self.width - 1)) - 1

    @property
    def _sign_bit(self) -> int:
        return 1 << (self.width - 1)

    @property
    def _inf_mag(self) -> int:
        """Magnitude bits of Inf (IEEE style): all-ones exponent, mantissa 0."""
        return ((1 << self.exp_bits) - 1) << self.man_bits

    @property
    def max_finite_raw(self) -> int:
        """Code of the largest finite value (positive)."""
        if self.finite_only:
            return self._mag_mask - 1           # S.1..1.1..10; S.1..1.1..1 is NaN
        return self._inf_mag - 1

    @property
    def min_finite_raw(self) -> int:
        """Code of the most negative finite value (-max); as a bit pattern it has the sign bit set."""
        return self._sign_bit | self.max_finite_raw

    @property
    def max(self) -> float:
        return float(self.to_real(self.max_finite_raw))

    @property
    def min(self) -> float:
        return -self.max

    @property
    def canonical_nan(self) -> int:
        """The NaN that quantize produces: sign 0, all-ones exponent, quiet (top mantissa) bit set,
        rest 0 (0x7E00 fp16, 0x7FC0 bf16, 0x7E fp8e5m2); 0x7F for finite-only formats (only NaN)."""
        if self.finite_only:
            return self._mag_mask
        return self._inf_mag | (1 << (self.man_bits - 1))

    # --- classification --------------------------------------------------------------------
    def is_nan(self, raw) -> np.ndarray:
        mag = np.asarray(raw, dtype=np.int64) & np.int64(self._mag_mask)
        if self.finite_only:
            return mag == self._mag_mask
        return mag > self._inf_mag

    def is_inf(self, raw) -> np.ndarray:
        mag = np.asarray(raw, dtype=np.int64) & np.int64(self._mag_mask)
        if self.finite_only:
            return np.zeros(mag.shape, dtype=bool)
        return mag == self._inf_mag

    def contains(self, raw) -> np.ndarray:
        """Which raw values are bit patterns of this width (any code, NaNs included)."""
        r = np.asarray(raw, dtype=np.int64)
        return (r >= 0) & (r < (1 << self.width))

    def order_key(self, raw) -> np.ndarray:
        """Non-negative int64 key, strictly increasing in numeric value over the non-NaN codes,
        with -0 just below +0 (sign-magnitude -> offset binary: negatives inverted)."""
        r = np.asarray(raw, dtype=np.int64) & np.int64((1 << self.width) - 1)
        neg = (r >> np.int64(self.width - 1)) == 1
        return np.where(neg, np.int64((1 << self.width) - 1) - r, r | np.int64(self._sign_bit))

    # --- conversions -----------------------------------------------------------------------
    def _fields(self, raw):
        r = np.asarray(raw, dtype=np.int64)
        sign = (r >> np.int64(self.width - 1)) & 1
        e = (r >> np.int64(self.man_bits)) & np.int64((1 << self.exp_bits) - 1)
        m = r & np.int64((1 << self.man_bits) - 1)
        return sign, e, m

    def to_real(self, raw) -> np.ndarray:
        """Codes -> float64, exactly (every value of these formats is a float64); NaN codes give
        nan, Inf codes +-inf, -0 gives -0.0."""
        sign, e, m = self._fields(raw)
        sig = np.where(e > 0, m | np.int64(1 << self.man_bits), m)
        exp = np.maximum(e, 1) - self.bias - self.man_bits
        mag = np.ldexp(sig.astype(np.float64), exp.astype(np.int32))
        mag = np.where(self.is_inf(raw), np.inf, mag)
        mag = np.where(self.is_nan(raw), np.nan, mag)
        return np.where(sign == 1, -mag, mag)

    def ulp(self, raw) -> np.ndarray:
        """Spacing of the codes in the binade of ``raw``: 2**(max(E, 1) - bias - man_bits), the
        same for -x and x and for +-0 (the smallest subnormal); nan for Inf and NaN codes."""
        _, e, _ = self._fields(raw)
        u = np.ldexp(1.0, (np.maximum(e, 1) - self.bias - self.man_bits).astype(np.int32))
        return np.where(self.is_nan(raw) | self.is_inf(raw), np.nan, u)

    def quantize(self, x, rounding: "Rounding | str" = Rounding.NEAREST_EVEN,
                 overflow: "Overflow | str" = Overflow.SATURATE) -> np.ndarray:
        """float64 values -> codes with one rounding (see the class docstring for non-finite
        inputs and overflow). The sign of zero is kept: -0.0 and negatives rounding to 0 give -0.

        Exact: integer arithmetic on the float64 bit fields. The value is sig * 2**e2 with a
        53-bit integer sig; the code's quantum 2**k is fixed by the binade (or the subnormal
        range), so the code's significand is sig / 2**(k - e2) rounded once, and
        ``((binade + bias - 1) << man_bits) + significand`` is the code magnitude, a carry into
        the next binade (or from subnormal to normal) included.
        """
        rounding, overflow = parse_rounding(rounding), Overflow(overflow)
        xf = np.asarray(x, dtype=np.float64)
        b = xf.view(np.int64)
        neg = b < 0
        e64 = (b >> np.int64(_F64_MAN)) & np.int64(0x7FF)
        f64 = b & np.int64((1 << _F64_MAN) - 1)
        finite = e64 != 0x7FF
        sig = np.where(e64 > 0, f64 | np.int64(1 << _F64_MAN), f64)
        e2 = np.maximum(e64, 1) - (_F64_BIAS + _F64_MAN)
        binade = np.where(e64 > 0, e64 - _F64_BIAS, -_F64_BIAS)   # float64 subnormals: tiny
        emin = 1 - self.bias
        binade = np.maximum(binade, emin)
        k = binade - self.man_bits
        q = _round_shift(np.where(neg, -sig, sig), k - e2, rounding)
        mag = ((binade + self.bias - 1) << np.int64(self.man_bits)) + np.abs(q)
        over = finite & (mag > self.max_finite_raw)
        if overflow is Overflow.ERROR and np.any(over):
            bad = xf[over].flat[0]
            raise FormatError(f"value {bad!r} overflows {self} (range [{self.min}, {self.max}])")
        mag = np.where(over, self.max_finite_raw, mag)
        if self.has_inf:
            mag = np.where(finite, mag, self._inf_mag)
        else:
            mag = np.where(finite, mag, self.max_finite_raw)
        code = np.where(neg, mag | np.int64(self._sign_bit), mag)
        return np.where(np.isnan(xf), np.int64(self.canonical_nan), code).astype(np.int64)

    def to_bits(self, raw) -> np.ndarray:
        """Raw code -> bit pattern: the same number (masked to ``width`` bits)."""
        return np.asarray(raw, dtype=np.int64) & np.int64((1 << self.width) - 1)

    def from_bits(self, bits) -> np.ndarray:
        """Bit pattern -> raw code: the same number (masked to ``width`` bits)."""
        return np.asarray(bits, dtype=np.int64) & np.int64((1 << self.width) - 1)

    def _codes(self, top: int) -> np.ndarray:
        mags = np.arange(top + 1, dtype=np.int64)
        return np.concatenate([mags[::-1] | np.int64(self._sign_bit), mags])

    def codes(self) -> np.ndarray:
        """Every non-NaN code in increasing numeric order: -Inf (if any), negatives, -0, +0,
        positives, +Inf (if any). -0 comes immediately before +0 (they compare equal)."""
        return self._codes(self._inf_mag if self.has_inf else self.max_finite_raw)

    def finite_codes(self) -> np.ndarray:
        """``codes()`` without the infinities."""
        return self._codes(self.max_finite_raw)


FP_PRESETS: "dict[str, FP]" = {
    "fp16": FP(5, 10),                      # IEEE 754 binary16
    "bf16": FP(8, 7),                       # bfloat16
    "fp8e4m3": FP(4, 3, finite_only=True),  # OCP FP8 E4M3: no Inf, one NaN per sign, max 448
    "fp8e5m2": FP(5, 2),                    # OCP FP8 E5M2: IEEE style, max 57344
}
fp16, bf16, fp8e4m3, fp8e5m2 = (FP_PRESETS[n] for n in ("fp16", "bf16", "fp8e4m3", "fp8e5m2"))


def parse_format(text: "str | NumberFormat") -> NumberFormat:
    """The one entry point for turning a format string into a format object: ``s4.12``,
    ``u0.16`` (fixed point) or ``fp16``, ``bf16``, ``fp8e4m3``, ``fp8e5m2``, ``fp_e6m9`` (float)."""
    if isinstance(text, (Q, FP)):
        return text
    t = str(text).strip()
    if _Q_RE.match(t):
        return Q.parse(t)
    if t in FP_PRESETS or _FP_RE.match(t):
        return FP.parse(t)
    raise FormatError(f"bad number format {text!r}; expected e.g. s4.12, u0.16, "
                      f"{', '.join(FP_PRESETS)} or fp_e6m9")


def require_fixed(fmt: NumberFormat, what: str) -> Q:
    """Refuse a floating-point format where only fixed point is implemented (a clean FormatError
    instead of an AttributeError deep inside); returns ``fmt`` for chaining."""
    if getattr(fmt, "is_float", False) or not isinstance(fmt, Q):
        raise FormatError(f"{what} supports fixed-point formats (e.g. s4.12) only, got {fmt}")
    return fmt
