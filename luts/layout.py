"""The NLI table layout: formats, M, K, micro-step mode and every datapath width derived from them.

One frozen object read by the fitter, the golden model, the RTL, the benches and synthesis, so that
no width is ever written twice.
"""
from __future__ import annotations

from dataclasses import dataclass, asdict
from enum import Enum

from nlihw.errors import ParamsError
import numpy as np

from nlihw.formats import FP, Q, NumberFormat, Rounding, parse_format, parse_rounding


class MicroStep(str, Enum):
    """How the micro-bin index is derived from dx."""
    MUL = "mul"      # u = (dx * mul[I]) >> shift[I]: any interval length (the paper's multiplier)
    POW2 = "pow2"    # u = (dx << t_bits) >> shift[I]: interval lengths are K * 2**s codes


def clog2(n: int) -> int:
    """Bits needed to index n items (0 for n <= 1)."""
    return max(0, (int(n) - 1).bit_length())


MAX_DX_BITS = 40           # float inputs: dx = X - C[i] in internal fixed point, at most 40 bits
MAX_POSITION = 1 << 52     # |C| of a float cutpoint in internal units: exact in float64 and int64
DEFAULT_X_FRAC_BITS = 24   # float inputs: internal quantum 2^-24 (fp16's smallest subnormal)
GUARD_VALUE_BITS = 6       # float outputs: stored mantissa = out significand + sign + 4 guard bits


def default_x_frac_bits(fmt: FP) -> int:
    """Exact for the format's smallest subnormal 2^(2 - 2^(e-1) - m), capped at 2^-24."""
    return min(fmt.bias + fmt.man_bits - 1, DEFAULT_X_FRAC_BITS)


@dataclass(frozen=True)
class TableLayout:
    """Shape of one NLI table and of the datapath that reads it.

    Float input (``in_fmt`` an :class:`FP`): the comparators order codes by ``key`` (order key,
    -0 as +0) and dx is formed on ``position`` = floor(x 2^x_frac_bits), a fixed-point value of
    ``dx_width`` bits (taken modulo 2^dx_width in hardware: only interval lengths must fit).
    Float output: the table stores per macro interval K+1 signed ``value_bits`` mantissas and one
    exponent (block floating point), and the interpolated value is rounded once (nearest even,
    saturating) into the output format. For fixed-point sides these fields are fixed by the format.
    """
    in_fmt: NumberFormat
    out_fmt: NumberFormat
    M: int                         # macro cutpoints; M - 1 macro intervals
    K: int                         # uniform micro bins per macro interval
    micro_step: MicroStep = MicroStep.MUL
    t_bits: int = 12               # fraction bits of the interpolation weight t
    mul_bits: int = 18             # width of the per-interval multiplier mantissa (mul mode)
    rounding: Rounding = Rounding.NEAREST_EVEN
    x_frac_bits: "int | None" = None   # float input: internal quantum 2^-x_frac_bits of dx
    dx_width: "int | None" = None      # float input: width of the internal position and dx
    value_bits: "int | None" = None    # float output: width of the stored signed mantissas

    def __post_init__(self):
        set_ = object.__setattr__
        try:
            set_(self, "in_fmt", parse_format(self.in_fmt))
            set_(self, "out_fmt", parse_format(self.out_fmt))
            set_(self, "rounding", parse_rounding(self.rounding))
        except ValueError as e:
            raise ParamsError(str(e)) from None
        self._resolve_float_fields()
        try:
            set_(self, "micro_step", MicroStep(self.micro_step))
        except ValueError:
            raise ParamsError(f"micro_step must be 'mul' or 'pow2', got {self.micro_step!r}") from None
        for name in ("M", "K", "t_bits", "mul_bits"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool):
                raise ParamsError(f"{name} must be an integer, got {v!r}")
        n_codes = 1 << self.in_fmt.width
        if not 2 <= self.M <= n_codes:
            raise ParamsError(f"M must be 2..{n_codes} (input codes of {self.in_fmt}), got {self.M}")
        if not 1 <= self.K <= 4096:
            raise ParamsError(f"K must be 1..4096, got {self.K}")
        if self.micro_step is MicroStep.POW2 and self.K & (self.K - 1):
            raise ParamsError(f"K must be a power of two with micro_step=pow2, got {self.K}")
        if not 1 <= self.t_bits <= 24:
            raise ParamsError(f"t_bits must be 1..24, got {self.t_bits}")
        if self.micro_step is MicroStep.MUL and not (
                self.t_bits + clog2(self.K) < self.mul_bits <= 32):
            raise ParamsError(f"mul_bits must be in ({self.t_bits + clog2(self.K)}, 32] "
                              f"(t_bits + log2 K < mul_bits), got {self.mul_bits}")
        if self.out_float and self.rounding is not Rounding.NEAREST_EVEN:
            raise ParamsError(f"a floating-point output ({self.out_fmt}) rounds to nearest even; "
                              f"got rounding {self.rounding.value}")

    def _resolve_float_fields(self):
        """Defaults of the float-only fields; for a fixed-point side they follow from the format
        and may be given only with exactly that value."""
        set_ = object.__setattr__
        fin, fout = self.in_fmt, self.out_fmt
        for name in ("x_frac_bits", "dx_width", "value_bits"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, (int, np.integer)) or isinstance(v, bool)):
                raise ParamsError(f"{name} must be an integer, got {v!r}")
        if fin.is_float:
            F = default_x_frac_bits(fin) if self.x_frac_bits is None else int(self.x_frac_bits)
            W = F + 8 if self.dx_width is None else int(self.dx_width)
            if not 0 <= F <= 32:
                raise ParamsError(f"x_frac_bits must be 0..32, got {F}")
            if not 2 <= W <= MAX_DX_BITS:
                raise ParamsError(f"dx_width must be 2..{MAX_DX_BITS}, got {W}")
        else:
            F, W = fin.frac_bits, fin.width
            for name, want in (("x_frac_bits", F), ("dx_width", W)):
                if getattr(self, name) not in (None, want):
                    raise ParamsError(f"{name} is set by the fixed-point input {fin} ({want}); "
                                      f"got {getattr(self, name)}")
        set_(self, "x_frac_bits", F)
        set_(self, "dx_width", W)
        if fout.is_float:
            B = fout.man_bits + GUARD_VALUE_BITS if self.value_bits is None else int(self.value_bits)
            if not fout.man_bits + 2 <= B <= 24:
                raise ParamsError(f"value_bits must be {fout.man_bits + 2}..24 for {fout}, got {B}")
        else:
            B = fout.width
            if self.value_bits not in (None, B):
                raise ParamsError(f"value_bits is set by the fixed-point output {fout} ({B}); "
                                  f"got {self.value_bits}")
        set_(self, "value_bits", B)

    # --- the float sides ----------------------------------------------------------------------
    @property
    def in_float(self) -> bool:
        return bool(self.in_fmt.is_float)

    @property
    def out_float(self) -> bool:
        return bool(self.out_fmt.is_float)

    @property
    def block_values(self) -> bool:
        """Float output: K+1 mantissas and one exponent per macro interval (not shared edges)."""
        return self.out_float

    def key(self, raw) -> np.ndarray:
        """What the comparators compare: the raw value (fixed point) or the order key of the float
        code with -0 taken as +0 (so -0 and +0 fall in the same interval)."""
        r = np.asarray(raw, dtype=np.int64)
        if not self.in_float:
            return r
        fin = self.in_fmt
        r = np.where(r == np.int64(1 << (fin.width - 1)), np.int64(0), r)     # -0 -> +0
        return fin.order_key(r)

    def position(self, raw) -> np.ndarray:
        """floor(x 2^x_frac_bits) as int64, the value dx is formed on (the raw value itself for
        fixed point). Float codes must be finite and |x| 2^x_frac_bits < 2^52 (exact in float64)."""
        r = np.asarray(raw, dtype=np.int64)
        if not self.in_float:
            return r
        v = np.ldexp(self.in_fmt.to_real(r), self.x_frac_bits)
        if not np.all(np.abs(v) < MAX_POSITION):
            raise ParamsError(f"a {self.in_fmt} input code is not finite or |x| 2^x_frac_bits "
                              f"reaches 2^52 (x_frac_bits {self.x_frac_bits}); pass a narrower "
                              f"--domain")
        return np.floor(v).astype(np.int64)

    @property
    def exp_range(self) -> tuple[int, int]:
        """Float output: the least and greatest block exponent E (values m 2^E, |m| < 2^(B-1)).

        Least: two bits below the smallest subnormal (finer is never needed). Greatest: one above
        the exponent at which the largest finite value needs the full mantissa."""
        fout = self.out_fmt
        if not self.out_float:
            return (-fout.frac_bits, -fout.frac_bits)
        e_sub = 1 - fout.bias - fout.man_bits
        e_top = int(np.frexp(fout.max)[1])           # max < 2^e_top
        return e_sub - 2, e_top - (self.value_bits - 1) + 1

    @property
    def exp_bits(self) -> int:
        """Width of a stored block exponent (two's complement); 0 for a fixed-point output."""
        if not self.out_float:
            return 0
        lo, hi = self.exp_range
        return max((-lo - 1).bit_length(), hi.bit_length()) + 1

    # --- derived widths (the README datapath table lists these) ----------------------------
    @property
    def intervals(self) -> int:
        return self.M - 1

    @property
    def n_values(self) -> int:
        """Stored values: (M-1)K + 1 shared edges, or (M-1)(K+1) with block values."""
        if self.block_values:
            return (self.M - 1) * (self.K + 1)
        return (self.M - 1) * self.K + 1

    @property
    def values_per_interval(self) -> int:
        """Address stride of a macro interval: K (shared edges) or K+1 (block values)."""
        return self.K + 1 if self.block_values else self.K

    @property
    def index_bits(self) -> int:
        """Macro index I in 0..M (0: left clamp, M: right clamp)."""
        return clog2(self.M + 1)

    @property
    def dx_bits(self) -> int:
        """dx = x - c[I] is unsigned and below the longest possible interval, 2**W - 1 (W the input
        width, or ``dx_width`` for a float input)."""
        return self.dx_width

    @property
    def k_bits(self) -> int:
        return clog2(self.K)

    @property
    def mul_width(self) -> int:
        """Width of the stored per-interval multiplier (0 in pow2 mode: it is a constant shift)."""
        return self.mul_bits if self.micro_step is MicroStep.MUL else 0

    @property
    def product_bits(self) -> int:
        return self.dx_bits + (self.mul_bits if self.micro_step is MicroStep.MUL else self.t_bits)

    @property
    def max_shift(self) -> int:
        return interval_scale(self, (1 << self.dx_bits) - 1)[1] if self.micro_step is MicroStep.MUL \
            else self.dx_bits - self.k_bits

    @property
    def shift_bits(self) -> int:
        return max(1, self.max_shift.bit_length())

    @property
    def u_bits(self) -> int:
        """u = micro index (k_bits) . t (t_bits)."""
        return self.k_bits + self.t_bits

    @property
    def addr_bits(self) -> int:
        return clog2(self.n_values)

    @property
    def diff_bits(self) -> int:
        return self.value_bits + 1

    @property
    def acc_bits(self) -> int:
        """(y0 << t_bits) + t * (y1 - y0), exactly, signed."""
        return self.value_bits + self.t_bits + 2

    # --- serialization ---------------------------------------------------------------------
    def to_dict(self) -> dict:
        """Plain JSON form; the float-only fields appear only for a float side (so fixed-point
        tables keep their bytes and hashes)."""
        d = asdict(self)
        d.update(in_fmt=str(self.in_fmt), out_fmt=str(self.out_fmt),
                 micro_step=self.micro_step.value, rounding=self.rounding.value)
        if not self.in_float:
            del d["x_frac_bits"], d["dx_width"]
        if not self.out_float:
            del d["value_bits"]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TableLayout":
        return cls(**d)


def interval_scale(layout: TableLayout, length: int) -> tuple[int, int]:
    """(mul, shift) for a macro interval of ``length`` codes: u = (dx * mul) >> shift ~ dx*K/length*2^t.

    mul mode: mul = floor(K * 2**(t_bits + shift) / length), with the largest shift that keeps mul
    below 2**mul_bits; flooring guarantees the micro index never reaches K.
    pow2 mode: length must be K * 2**s; mul = 2**t_bits (a wire shift), shift = s.
    """
    K, tb = layout.K, layout.t_bits
    if length < 1:
        raise ParamsError(f"macro interval length must be >= 1 code, got {length}")
    if layout.micro_step is MicroStep.POW2:
        s = (length // K).bit_length() - 1
        if length % K or length != K << s:
            raise ParamsError(f"with micro_step=pow2 every interval must be K*2^s codes, got {length}")
        return 1 << tb, s
    return mul_mode_scale(K, tb, layout.mul_bits, length)


def mul_mode_scale(K: int, t_bits: int, mul_bits: int, length: int) -> tuple[int, int]:
    """Closed form of the mul-mode scale (mirrored by the fitter's compiled kernel).

    The largest shift with floor(K 2^(t+shift) / L) < 2^mul_bits is the largest e = t + shift with
    K 2^e <= 2^mul_bits L - 1.
    """
    e = ((((1 << mul_bits) * length) - 1) // K).bit_length() - 1
    shift = max(0, e - t_bits)
    return (K << (t_bits + shift)) // length, shift
