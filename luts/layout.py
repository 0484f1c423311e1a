"""The NLI table layout: formats, M, K, micro-step mode and every datapath width derived from them.

One frozen object read by the fitter, the golden model, the RTL, the benches and synthesis, so that
no width is ever written twice.
"""
from __future__ import annotations

from dataclasses import dataclass, asdict
from enum import Enum

from nlihw.errors import ParamsError
from nlihw.formats import Q, Rounding, parse_format, parse_rounding, require_fixed


class MicroStep(str, Enum):
    """How the micro-bin index is derived from dx."""
    MUL = "mul"      # u = (dx * mul[I]) >> shift[I]: any interval length (the paper's multiplier)
    POW2 = "pow2"    # u = (dx << t_bits) >> shift[I]: interval lengths are K * 2**s codes


def clog2(n: int) -> int:
    """Bits needed to index n items (0 for n <= 1)."""
    return max(0, (int(n) - 1).bit_length())


@dataclass(frozen=True)
class TableLayout:
    """Shape of one NLI table and of the datapath that reads it."""
    in_fmt: Q
    out_fmt: Q
    M: int                         # macro cutpoints; M - 1 macro intervals
    K: int                         # uniform micro bins per macro interval
    micro_step: MicroStep = MicroStep.MUL
    t_bits: int = 12               # fraction bits of the interpolation weight t
    mul_bits: int = 18             # width of the per-interval multiplier mantissa (mul mode)
    rounding: Rounding = Rounding.NEAREST_EVEN

    def __post_init__(self):
        set_ = object.__setattr__
        try:
            # the float datapath ([F]) is not built yet: floats are refused here, in one line
            set_(self, "in_fmt", require_fixed(parse_format(self.in_fmt), "the NLI table input"))
            set_(self, "out_fmt", require_fixed(parse_format(self.out_fmt), "the NLI table output"))
            set_(self, "rounding", parse_rounding(self.rounding))
        except ValueError as e:
            raise ParamsError(str(e)) from None
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

    # --- derived widths (the README datapath table lists these) ----------------------------
    @property
    def intervals(self) -> int:
        return self.M - 1

    @property
    def n_values(self) -> int:
        return (self.M - 1) * self.K + 1

    @property
    def index_bits(self) -> int:
        """Macro index I in 0..M (0: left clamp, M: right clamp)."""
        return clog2(self.M + 1)

    @property
    def dx_bits(self) -> int:
        """dx = x - c[I] is unsigned and below the longest possible interval, 2**W - 1."""
        return self.in_fmt.width

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
        return interval_scale(self, (1 << self.in_fmt.width) - 1)[1] if self.micro_step is MicroStep.MUL \
            else self.in_fmt.width - self.k_bits

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
        return self.out_fmt.width + 1

    @property
    def acc_bits(self) -> int:
        """(y0 << t_bits) + t * (y1 - y0), exactly, signed."""
        return self.out_fmt.width + self.t_bits + 2

    # --- serialization ---------------------------------------------------------------------
    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(in_fmt=str(self.in_fmt), out_fmt=str(self.out_fmt),
                 micro_step=self.micro_step.value, rounding=self.rounding.value)
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
