"""``select``: a value chosen from a Python list of Values by a run-time index, with every index
code covered (the RTL of the engine's per-interval and per-function constants)."""
from __future__ import annotations

from amaranth.hdl import Array


def select(values, index):
    """Mux ``values`` by ``index``; the table is padded to 2**len(index) with its last entry, so every
    index code is covered (an index past the end selects the last entry)."""
    if len(values) == 1:
        return values[0]
    values = list(values) + [values[-1]] * ((1 << len(index)) - len(values))
    return Array(values)[index]
