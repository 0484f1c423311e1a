"""Helpers of the float converter tests: a combinational module driven in the Amaranth simulator,
and the input codes of a float format worth testing."""
from __future__ import annotations

import numpy as np
from amaranth.sim import Simulator

from nlihw.formats import FP


def comb_run(dut, inputs: list[dict], outputs: list[str]) -> list[tuple[int, ...]]:
    """Apply each input dict to the combinational ``dut`` and read ``outputs`` (raw bits)."""
    got = []

    async def tb(ctx):
        for vec in inputs:
            for name, v in vec.items():
                ctx.set(getattr(dut, name), v)
            got.append(tuple(ctx.get(getattr(dut, o)) for o in outputs))

    sim = Simulator(dut)
    sim.add_testbench(tb)
    sim.run()
    return got


def test_codes(fmt: FP, n: int, seed: int) -> np.ndarray:
    """Every code of an 8-bit format; else n random codes plus every special region's edges."""
    if fmt.width <= 8:
        return np.arange(1 << fmt.width, dtype=np.int64)
    rng = np.random.default_rng(seed)
    sb = 1 << (fmt.width - 1)
    edges = [0, 1, 2, (1 << fmt.man_bits) - 1, 1 << fmt.man_bits, fmt.max_finite_raw,
             fmt.max_finite_raw - 1, fmt._inf_mag, fmt.canonical_nan, sb - 1]
    edges += [e | sb for e in edges]
    return np.unique(np.concatenate([rng.integers(0, 1 << fmt.width, n), edges]))


test_codes.__test__ = False
