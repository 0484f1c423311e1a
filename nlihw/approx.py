"""The hardware's exact behaviour as a float function, for model-level accuracy checks.

``Approx(table)(x)`` quantizes a float64 array into the table's input format (nearest even,
saturating as the hardware's input would), evaluates the bit-exact golden model (tails included)
and returns the output codes' real values, so a numpy or PyTorch model can use the engine in place
of an activation. Unlike ``nli_eval``, which refuses codes outside the format, this saturates.

Float input formats: x rounds to nearest even into the format (a finite x beyond its largest
finite value saturates to it, as ``FP.quantize``); NaN becomes the canonical NaN code and +-inf the
Inf codes (the largest finite codes of a format without Inf), which the hardware sends through its
NaN path and its tails. A float output's NaN code comes back as NaN.
"""
from __future__ import annotations

import numbers
from pathlib import Path

import numpy as np

from nlihw.luts.default_tables import shipped_table
from nlihw.luts.golden import nli_eval
from nlihw.luts.table import NLITable


class Approx:
    """A table as a vectorized float64 function with the hardware's exact outputs."""

    def __init__(self, table: NLITable):
        if not isinstance(table, NLITable):
            raise TypeError(f"expected an NLITable, got {type(table).__name__}")
        self.table = table

    @classmethod
    def load(cls, path: "str | Path", verify: bool = True) -> "Approx":
        """From a table file (``nlihw fit -o``)."""
        return cls(NLITable.load(path, verify=verify))

    @classmethod
    def shipped(cls, name: str) -> "Approx":
        """From a shipped table by name, e.g. ``silu_M11_K32``."""
        return cls(shipped_table(name))

    def codes(self, x) -> np.ndarray:
        """Raw input codes for ``x``: a float format's own rounding (NaN -> canonical NaN, +-inf ->
        Inf codes); fixed point saturates (NaN excluded: see ``__call__``)."""
        fin = self.table.layout.in_fmt
        x = _real_array(x)
        if fin.is_float:
            return fin.quantize(x)
        return fin.quantize(np.clip(np.nan_to_num(x, nan=0.0), fin.min - 1, fin.max + 1))

    def __call__(self, x) -> np.ndarray:
        """f(x) as the hardware computes it; NaN in gives NaN out (a float output: the hardware's
        canonical NaN; a fixed output, whose hardware gives 0 for a NaN code: forced to NaN here),
        +-inf go through the input format (saturating a fixed one) and on through the tails.
        Keeps the shape of ``x``."""
        x = _real_array(x)
        y = self.table.layout.out_fmt.to_real(nli_eval(self.table, self.codes(x).ravel()))
        y = y.reshape(x.shape)
        return np.where(np.isnan(x), np.nan, y)

    def __repr__(self) -> str:
        lay = self.table.layout
        return f"Approx({self.table.function}: {lay.in_fmt} -> {lay.out_fmt}, M={lay.M}, K={lay.K})"


def _real_array(x) -> np.ndarray:
    """``x`` as a float64 array; anything but real numbers (None, strings, complex, bool,
    objects) is refused, not turned into NaN or parsed."""
    a = np.asarray(x)
    if a.dtype.kind == "O" and all(isinstance(v, numbers.Real) and not isinstance(v, bool)
                                   for v in a.ravel()):
        a = a.astype(np.float64)           # Python integers beyond int64
    if a.dtype.kind not in "iuf":
        what = f" of {a.dtype}" if a.dtype.kind != "O" else " with non-numbers" if a.ndim else ""
        raise TypeError(f"expected real numbers (an array, a sequence or a number), got "
                        f"{type(x).__name__}{what}")
    return a.astype(np.float64)


def approx(table: "NLITable | str | Path") -> Approx:
    """``Approx`` of a table object, a table file path, or a shipped table name."""
    if isinstance(table, NLITable):
        return Approx(table)
    if not isinstance(table, (str, Path)):
        raise TypeError(f"expected an NLITable, a table file path or a shipped table name, got "
                        f"{type(table).__name__}")
    p = Path(table)
    if p.suffix == ".json" or p.exists():
        return Approx.load(p)
    return Approx.shipped(str(table))
