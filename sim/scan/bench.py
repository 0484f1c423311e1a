"""Host side of the selective-scan bench: generate and verilate the unit (cached), draw Mamba-like
inputs, compute every expected output with the golden model, run the cocotb tests on Verilator.

Payloads are packed with the RTL's own layouts (``hdl/scan/unit.py``), so no width is restated.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nlihw.hdl.scan.generate import generate
from nlihw.hdl.scan.params import ScanParams
from nlihw.hdl.scan.unit import bc_layout, cfg_layout, hazard_free, input_layout, latency, output_layout
from nlihw.sim.common import runner
from .accuracy import quantize_inputs
from .golden import ScanConfig, ScanInputsRaw, ScanResult, scan_eval
from .stimulus import mamba_inputs, saturating_inputs

TEST_MODULE = "nlihw.sim.scan.bench_cocotb"


def pack(layout, **values) -> int:
    """Pack raw field values (ints, or sequences for array fields) LSB-first as the layout does."""
    word = 0
    for name, f in layout:
        v = values[name]
        shape = f.shape
        if hasattr(shape, "elem_shape"):                       # ArrayLayout field
            w = shape.size // shape.length
            elems = [int(e) & ((1 << w) - 1) for e in v]
            v = sum(e << (k * w) for k, e in enumerate(elems))
        word |= (int(v) & ((1 << f.width) - 1)) << f.offset
    return word


def unpack(layout, word: int) -> dict:
    out = {}
    for name, f in layout:
        v = (word >> f.offset) & ((1 << f.width) - 1)
        if getattr(f.shape, "signed", False) and v >> (f.width - 1):
            v -= 1 << f.width
        out[name] = v
    return out


def config_writes(p: ScanParams, cfg: ScanConfig) -> list[tuple[int, int]]:
    """(addr, data) writes that load A, D and delta_bias."""
    regions = p.config_regions()
    writes = []
    for name, arr, fmt in (("A", cfg.A, p.a_fmt), ("D", cfg.D, p.d_fmt), ("bias", cfg.bias, p.delta_fmt)):
        base = regions[name][0]
        writes += [(base + k, int(fmt.to_bits(v))) for k, v in enumerate(np.asarray(arr).reshape(-1))]
    return writes


def state_writes(p: ScanParams, state) -> list[tuple[int, int]]:
    base = p.config_regions()["state"][0]
    return [(base + k, int(p.state_fmt.to_bits(v))) for k, v in enumerate(np.asarray(state).reshape(-1))]


@dataclass
class Stimulus:
    params: ScanParams
    cfg: ScanConfig
    run: ScanInputsRaw
    result: ScanResult


def draw(p: ScanParams, tokens: int, seed: int = 0, starts=(0,), *, saturating: bool = False) -> Stimulus:
    """Mamba-like inputs (A = -exp(A_log), dt log-uniform, ...) quantized, with golden outputs;
    ``saturating``: inputs that drive the state and the output to both ends of their ranges, with
    u, B, C and z up to u_fmt's maximum (``stimulus.saturating_inputs``)."""
    kw = dict(mode=p.mode, headdim=p.headdim if p.mode == "mamba2" else None)
    rng = np.random.default_rng(seed)
    if saturating:
        x = saturating_inputs(p.d_inner, p.d_state, tokens, rng, amplitude=float(p.u_fmt.max), **kw)
    else:
        x = mamba_inputs(p.d_inner, p.d_state, tokens, rng, **kw)
    cfg, run = quantize_inputs(p, x, starts)
    return Stimulus(p, cfg, run, scan_eval(p, cfg, run))


def beats(p: ScanParams, run: ScanInputsRaw, tokens=None) -> tuple[list[int], list[int]]:
    """(bc payloads per token, i payloads per (token, channel)) for the token range."""
    lay_i, lay_bc = input_layout(p), bc_layout(p)
    rows = range(run.u.shape[0]) if tokens is None else tokens
    bc = [pack(lay_bc, B=run.B[l], C=run.C[l]) for l in rows]
    ib = [pack(lay_i, u=run.u[l, d], delta=run.delta[l, d], z=run.z[l, d], first=int(run.first[l, d]))
          for l in rows for d in range(p.d_inner)]
    return bc, ib


def outputs(p: ScanParams, res: ScanResult, tokens=None) -> list[int]:
    lay = output_layout(p)
    rows = range(res.out.shape[0]) if tokens is None else tokens
    return [pack(lay, out=res.out[l, d], overflow=int(res.overflow[l, d]), clamped=int(res.clamped[l, d]))
            for l in rows for d in range(p.d_inner)]


def bench_config(s: Stimulus, *, stall: float = 0.0, seed: int = 1, corrupt_beat=None,
                 latency_offset: int = 0, sink_stall: float | None = None) -> dict:
    """Inputs and expectations for ``test_stream``; ``stall``: the chance of a pause each cycle on
    every stream, ``sink_stall`` (default ``stall``) on the output alone (so that inputs come at
    full rate into a stalled unit); ``corrupt_beat`` / ``latency_offset`` break the
    expectation on purpose (to prove the bench fails). Unstalled, every beat's latency and the
    input rate are exact; where the state loop can wait for its own update (``hazard_free`` false)
    only the first beat's latency is, and later beats may take longer."""
    p = s.params
    bc, ib = beats(p, s.run)
    expected = outputs(p, s.result)
    if corrupt_beat is not None:
        expected[corrupt_beat] ^= 1 << output_layout(p)["out"].offset
    return {
        "d_inner": p.d_inner, "steps": p.steps, "latency": latency(p) + latency_offset,
        "cfg_writes": config_writes(p, s.cfg), "bc": bc, "i": ib, "expected": expected,
        "stall": stall, "sink_stall": stall if sink_stall is None else sink_stall, "seed": seed,
        "check_latency": stall == 0 and not sink_stall, "exact_rate": hazard_free(p),
        "cfg_addr_lsb": cfg_layout(p)["addr"].offset, "cfg_data_lsb": cfg_layout(p)["data"].offset,
        "cfg_write_lsb": cfg_layout(p)["write"].offset,
        "out_width": output_layout(p).size, "in_width": input_layout(p).size,
    }


def chunked_config(s: Stimulus, split: int, *, stall: float = 0.0, seed: int = 1) -> dict:
    """Run tokens [0, split), save the state through the config port, scramble it, restore it, run
    the rest: outputs must equal the unchunked run, the saved state the golden state at ``split``."""
    p = s.params
    cfg = bench_config(s, stall=stall, seed=seed)
    base = p.config_regions()["state"][0]
    n = p.d_inner * p.d_state
    at_split = s.result.stages["h"][split - 1].reshape(-1)
    cfg.update(
        split_i=split * p.d_inner, split_bc=split,
        state_addrs=[base + k for k in range(n)],
        state_expected=[int(p.state_fmt.to_bits(v)) for v in at_split],
        scramble=[(base + k, (0x5A5A5A5A + 77 * k) & ((1 << p.state_fmt.width) - 1)) for k in range(n)],
        check_latency=False)
    return cfg


def readback_config(s: Stimulus) -> dict:
    p = s.params
    writes = config_writes(p, s.cfg) + state_writes(p, s.result.state)
    cfg = bench_config(s)
    cfg.update(cfg_writes=writes, reads=[a for a, _ in writes], read_expected=[d for _, d in writes])
    return cfg


def build_scan(p: ScanParams, outdir: "str | Path", waves: bool = False, *,
               build_root: "Path | None" = None, edit=None, extra_args: tuple[str, ...] = ()) -> runner.BuiltSim:
    """Generate the unit into ``outdir`` and verilate it under ``build_root`` (default
    ``runner.BUILD_ROOT``); ``waves`` (or WAVES=1) dumps FST. ``edit`` (text -> text) rewrites the
    .v before it is built; ``extra_args`` go to verilator."""
    waves = waves or os.environ.get("WAVES") == "1"
    path = generate(p, outdir)["verilog"]
    if edit is not None:
        path.write_text(edit(path.read_text()))
    return runner.build(path, p.top_name, waves=waves, build_root=build_root, extra_args=extra_args)


def run_bench(sim: runner.BuiltSim, cfg: dict, workdir: "str | Path", test: str = "test_stream", *,
              plusargs: tuple[str, ...] = (), timeout: float = runner.RUN_TIMEOUT_S) -> runner.BenchResult:
    return runner.run_bench_test(sim, TEST_MODULE, cfg, workdir, test, plusargs=plusargs, timeout=timeout)
