"""Multipliers: how the RTL builds a product, as a params field: ``infer`` (``a * b``, the synthesis
tool maps it) or the signed operand widths of the target's DSP multiplier, so that every product
takes one DSP block however wide its formats are (``hdl/common/product.py`` builds it). A block
that also multiplies unsigned operands at its full width (ECP5 MULT18X18D, iCE40 SB_MAC16, not
DSP48E2) takes an unsigned x unsigned product one bit wider per operand in one multiply."""
from __future__ import annotations

import re
from dataclasses import dataclass

from nlihw.errors import ParamsError

# named targets: the signed operand widths of their DSP multiplier, and whether it also takes
# unsigned operands of those widths
DSP_BLOCKS = {"ecp5": ((18, 18), True), "xcup": ((27, 18), False), "ice40": ((16, 16), True)}


@dataclass(frozen=True)
class Multipliers:
    """``dsp``: the target's signed multiplier operand widths (None: ``infer``, plain ``a * b``).
    With a block, a product whose operands fit it is one multiply; a wider one multiplies the low
    (A-1) x (B-1) bits in the block and adds the high parts' products built in the fabric; a
    product with an operand of at most ``fabric_bits`` bits (signed) is built in the fabric alone.
    ``unsigned``: the block also multiplies unsigned A x B bits (a suffix ``u``: ``18x18u``).
    Spec strings: ``infer``, ``AxB[u]``, ``AxB[u]/F``, or a target name (``ecp5`` = ``18x18u``)."""
    dsp: tuple[int, int] | None = None
    fabric_bits: int = 0
    unsigned: bool = False

    def __post_init__(self):
        if self.dsp is not None:
            if (not isinstance(self.dsp, tuple) or len(self.dsp) != 2
                    or not all(isinstance(w, int) and not isinstance(w, bool) and 2 <= w <= 64
                               for w in self.dsp)):
                raise ParamsError(f"multipliers: the DSP block's operand widths must be two "
                                  f"integers 2..64, got {self.dsp!r}")
            object.__setattr__(self, "dsp", tuple(sorted(self.dsp, reverse=True)))
        if (not isinstance(self.fabric_bits, int) or isinstance(self.fabric_bits, bool)
                or not 0 <= self.fabric_bits <= 64):
            raise ParamsError(f"multipliers: fabric_bits must be an integer 0..64, got {self.fabric_bits!r}")
        if self.dsp is None and self.fabric_bits:
            raise ParamsError("multipliers: fabric_bits needs a DSP block (AxB/F)")
        if not isinstance(self.unsigned, bool) or (self.unsigned and self.dsp is None):
            raise ParamsError(f"multipliers: unsigned must be a bool and needs a DSP block, got {self.unsigned!r}")

    @classmethod
    def parse(cls, spec) -> "Multipliers":
        """A ``Multipliers``, or its spec string (None: infer)."""
        if spec is None or isinstance(spec, Multipliers):
            return spec or cls()
        if not isinstance(spec, str):
            raise ParamsError(f"multipliers: expected a spec such as infer, 18x18 or 18x18/12, got {spec!r}")
        text = spec.strip().lower()
        if text == "infer":
            return cls()
        name, slash, fabric = text.partition("/")
        if name in DSP_BLOCKS:
            dsp, unsigned = DSP_BLOCKS[name]
        elif mt := re.fullmatch(r"(\d+)x(\d+)(u?)", name):
            dsp, unsigned = (int(mt[1]), int(mt[2])), bool(mt[3])
        else:
            raise ParamsError(f"multipliers: expected infer, AxB, AxBu, AxB/F or one of "
                              f"{', '.join(DSP_BLOCKS)}, got {spec!r}")
        if slash and not fabric.isdigit():
            raise ParamsError(f"multipliers: the fabric width after '/' must be an integer, got {spec!r}")
        return cls(dsp, int(fabric) if fabric else 0, unsigned)

    def __str__(self) -> str:
        if self.dsp is None:
            return "infer"
        return (f"{self.dsp[0]}x{self.dsp[1]}" + ("u" if self.unsigned else "")
                + (f"/{self.fabric_bits}" if self.fabric_bits else ""))
