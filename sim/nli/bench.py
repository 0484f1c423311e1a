"""Host side of the engine bench: generate Verilog, build it once (cached), compute the expected
outputs with the golden model, run the cocotb tests on Verilator, report (tests, failures)."""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nlihw.hdl.nli.generate import generate
from nlihw.hdl.nli.params import NLIEngineParams
from nlihw.sim.common import runner
from nlihw.sim.common.runner import first_failure  # noqa: F401  (benches and CLI report it)
from .engine_model import engine_eval, pack_input, pack_output

TEST_MODULE = "nlihw.sim.nli.bench_cocotb"


@dataclass
class BenchResult:
    tests: int
    failures: int
    beats: int
    seconds: float
    log: Path


def build_engine(params: NLIEngineParams, outdir: "str | Path", waves: bool = False, *,
                 hdl: str = "verilog", extra_args: tuple[str, ...] = (),
                 build_root: "Path | None" = None) -> runner.BuiltSim:
    """Generate the engine into ``outdir`` and verilate its ``hdl`` file (``verilog`` or
    ``systemverilog``) under ``build_root`` (default ``runner.BUILD_ROOT``)."""
    paths = generate(params, outdir)
    return runner.build(paths[hdl], params.top_name, waves=waves, extra_args=extra_args,
                        build_root=build_root)


def all_input_codes(fmt) -> np.ndarray:
    """Every raw input code: the fixed-point values, or all 2^width float bit patterns (NaNs, both
    infinities and both zeros included; ``FP.codes()`` leaves the NaNs out)."""
    if fmt.is_float:
        return np.arange(1 << fmt.width, dtype=np.int64)
    return fmt.codes()


def exhaustive_inputs(params: NLIEngineParams, seed: int = 0):
    """Every input code (spread over the lanes) with a random function per beat."""
    rng = np.random.default_rng(seed)
    codes = all_input_codes(params.layout.in_fmt)
    n = -(-len(codes) // params.lanes)
    x = np.resize(codes, n * params.lanes).reshape(n, params.lanes)
    func = rng.integers(0, 1 << params.func_bits, n)
    return x, func


def random_inputs(params: NLIEngineParams, beats: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    codes = all_input_codes(params.layout.in_fmt)
    x = rng.integers(int(codes[0]), int(codes[-1]) + 1, (beats, params.lanes))
    return x, rng.integers(0, 1 << params.func_bits, beats)


def bench_config(params, x, func, *, in_stall=0.0, out_stall=0.0, seed=1, reload=None,
                 corrupt_beat=None, latency_offset=0) -> dict:
    """The cocotb test's inputs and golden expectations. ``corrupt_beat`` / ``latency_offset``
    deliberately break the expectation (to prove the bench fails)."""
    y = engine_eval(params, x, func)
    expected = [pack_output(params, row) for row in y]
    if corrupt_beat is not None:
        expected[corrupt_beat] ^= 1
    cfg = {
        "in_width": params.in_width * params.lanes + params.func_bits,
        "lanes": params.lanes, "x_width": params.in_width,
        "out_width": params.out_width * params.lanes,
        "latency": params.latency + latency_offset,
        "check_latency": in_stall == 0 and out_stall == 0,
        "inputs": [pack_input(params, row, f) for row, f in zip(x, func)],
        "expected": expected, "in_stall": in_stall, "out_stall": out_stall, "seed": seed,
    }
    if reload is not None:
        func_index, table = reload
        new = dataclasses.replace(params, tables=tuple(table if k == func_index else t
                                                       for k, t in enumerate(params.tables)))
        fx = np.full(len(func), func_index)
        cfg["reload"] = {
            "writes": params.config_writes(func_index, table), "addr_bits": params.config_addr_bits,
            "inputs": [pack_input(params, row, f) for row, f in zip(x, fx)],
            "expected": [pack_output(params, row) for row in engine_eval(new, x, fx)],
        }
    return cfg


def run_bench(sim: runner.BuiltSim, cfg: dict, workdir: "str | Path", test: str = "test_stream", *,
              plusargs: tuple[str, ...] = (), timeout: float = runner.RUN_TIMEOUT_S) -> BenchResult:
    n, failed, seconds = runner.run_configured(sim, TEST_MODULE, cfg, workdir, test, plusargs=plusargs,
                                               timeout=timeout)
    return BenchResult(n, failed, len(cfg["inputs"]), seconds, Path(workdir) / "sim.log")


def simulated_cycles(log: "str | Path") -> int:
    """Cycles reported by the stream test ("stream: N beats in C cycles"), 0 if absent."""
    try:
        m = re.search(r"stream: \d+ beats in (\d+) cycles", Path(log).read_text())
    except OSError:
        return 0
    return int(m.group(1)) if m else 0
