"""Number formats shared by the fitter, golden models, RTL and benches.

Every format implements :class:`NumberFormat` (width, raw <-> real, quantize, parse/print), so a
floating-point format (FP16/BF16) can join later without touching the code that consumes formats.
Raw values are always numpy int64 (two's complement value for signed formats, not the bit pattern);
``to_bits``/``from_bits`` convert to and from the unsigned bit pattern used on wires.
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


def shift_round(value, shift: int, rounding: "Rounding | str") -> np.ndarray:
    """Divide integers by 2**shift with one rounding; exact for any int64 input (the hardware rule).

    This is the single definition of rounding used by the golden model, the fitter and ``Q``.
    """
    rounding = parse_rounding(rounding)
    v = np.asarray(value, dtype=np.int64)
    if shift <= 0:
        return v << np.int64(-shift)
    s = np.int64(shift)
    fl = v >> s                              # floor division by 2**shift
    rem = v - (fl << s)                      # 0 <= rem < 2**shift
    half = np.int64(1) << (s - 1)
    if rounding is Rounding.FLOOR:
        return fl
    if rounding is Rounding.TOWARD_ZERO:
        return fl + ((v < 0) & (rem != 0))
    if rounding is Rounding.NEAREST_AWAY:
        return fl + ((rem > half) | ((rem == half) & (v >= 0)))
    # nearest-even
    return fl + ((rem > half) | ((rem == half) & ((fl & 1) == 1)))


@runtime_checkable
class NumberFormat(Protocol):
    """What every number format offers (fixed point now, floating point later)."""
    width: int

    def to_real(self, raw) -> np.ndarray: ...
    def quantize(self, x, rounding: "Rounding | str" = Rounding.NEAREST_EVEN,
                 overflow: "Overflow | str" = Overflow.SATURATE) -> np.ndarray: ...
    def to_bits(self, raw) -> np.ndarray: ...
    def from_bits(self, bits) -> np.ndarray: ...
    def codes(self) -> np.ndarray: ...


_Q_RE = re.compile(r"^\s*([su])(\d+)\.(\d+)\s*$")


@dataclass(frozen=True, order=True)
class Q:
    """Fixed-point format: ``int_bits`` integer bits (the sign bit included when signed) and
    ``frac_bits`` fraction bits; written ``s4.12`` / ``u0.16``. Width is ``int_bits + frac_bits``."""
    int_bits: int
    frac_bits: int
    signed: bool = True

    MAX_WIDTH: ClassVar[int] = 32

    def __post_init__(self):
        for name in ("int_bits", "frac_bits"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
                raise FormatError(f"{name} must be an integer, got {v!r}")
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


def parse_format(text: "str | NumberFormat") -> NumberFormat:
    """The one entry point for turning a format string into a format object."""
    if isinstance(text, Q):
        return text
    return Q.parse(text)
