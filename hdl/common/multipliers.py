"""Multipliers: how the RTL builds a product, as a params field: ``infer`` (``a * b``, the synthesis
tool maps it) or the signed operand widths of the target's DSP multiplier, so that every product
takes one DSP block however wide its formats are (``hdl/common/product.py`` builds it)."""
from __future__ import annotations

import re
from dataclasses import dataclass

from nlihw.errors import ParamsError

# named targets: the signed operand widths of their DSP multiplier
DSP_BLOCKS = {"ecp5": (18, 18), "xcup": (27, 18), "ice40": (16, 16)}


@dataclass(frozen=True)
class Multipliers:
    """``dsp``: the target's signed multiplier operand widths (None: ``infer``, plain ``a * b``).
    With a block, a product whose operands fit it is one multiply; a wider one multiplies the low
    (A-1) x (B-1) bits in the block and adds the high parts' products built in the fabric; a
    product with an operand of at most ``fabric_bits`` bits (signed) is built in the fabric alone.
    Spec strings: ``infer``, ``AxB``, ``AxB/F``, or a target name (``ecp5`` = ``18x18``)."""
    dsp: tuple[int, int] | None = None
    fabric_bits: int = 0

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
            dsp = DSP_BLOCKS[name]
        elif mt := re.fullmatch(r"(\d+)x(\d+)", name):
            dsp = (int(mt[1]), int(mt[2]))
        else:
            raise ParamsError(f"multipliers: expected infer, AxB, AxB/F or one of "
                              f"{', '.join(DSP_BLOCKS)}, got {spec!r}")
        if slash and not fabric.isdigit():
            raise ParamsError(f"multipliers: the fabric width after '/' must be an integer, got {spec!r}")
        return cls(dsp, int(fabric) if fabric else 0)

    def __str__(self) -> str:
        if self.dsp is None:
            return "infer"
        return f"{self.dsp[0]}x{self.dsp[1]}" + (f"/{self.fabric_bits}" if self.fabric_bits else "")
