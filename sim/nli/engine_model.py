"""Engine-level golden model: lanes and per-beat function selection on top of ``nli_eval``, plus the
bit packing of the stream payloads (lane 0 in the LSBs; struct fields from the LSB: x, then func)."""
from __future__ import annotations

import numpy as np

from nlihw.luts.golden import nli_eval


def engine_eval(params, x, func) -> np.ndarray:
    """Raw outputs [beats, lanes] for raw inputs ``x`` [beats, lanes] and ``func`` [beats]."""
    x = np.asarray(x, dtype=np.int64).reshape(-1, params.lanes)
    func = np.minimum(np.asarray(func, dtype=np.int64).reshape(-1), params.n_funcs - 1)
    y = np.empty_like(x)
    for f, table in enumerate(params.tables):
        sel = func == f
        if sel.any():
            y[sel] = nli_eval(table, x[sel].ravel()).reshape(-1, params.lanes)
    return y


def pack_input(params, x_row, func: int) -> int:
    fmt, w = params.layout.in_fmt, params.in_width
    if not 0 <= int(func) < (1 << params.func_bits):
        raise ValueError(f"func {func} does not fit the {params.func_bits}-bit func field")
    if not np.all(fmt.contains(np.asarray(x_row))):
        raise ValueError(f"inputs {x_row} are not raw codes of {fmt}")
    word = 0
    for lane, v in enumerate(x_row):
        word |= int(fmt.to_bits(v)) << (lane * w)
    return word | (int(func) << (w * params.lanes))


def unpack_output(params, payload: int) -> list[int]:
    fmt, w = params.layout.out_fmt, params.out_width
    return [int(fmt.from_bits((payload >> (lane * w)) & ((1 << w) - 1))) for lane in range(params.lanes)]


def pack_output(params, y_row) -> int:
    fmt, w = params.layout.out_fmt, params.out_width
    return sum(int(fmt.to_bits(v)) << (lane * w) for lane, v in enumerate(y_row))
