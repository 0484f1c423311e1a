"""The row units' emitted Verilog (softmax, RMSNorm, LayerNorm) on Verilator through the cocotb
bench ``nlihw.sim.rowop.bench``, beat by beat against the golden models: random rows of random
lengths with the edge cases, random input gaps and output back-pressure, weight reloads between
rows, resets in the middle of a row, the exact cycle counts of ``first_out_latency`` /
``row_cycles``, lint with the shipped waivers, and faults the bench must catch.

Verilator builds dominate the time (one per configuration, shared through ``build_once``), so the
default set is four builds; the others are ``slow``.
"""
import os
import subprocess

import pytest

from nlihw.hdl.rowop.params import SoftmaxParams, norm_preset, softmax_preset
from nlihw.sim.common.runner import first_failure
from nlihw.sim.rowop import bench as rb
from nlihw.toolchain import setup_verilator_env

pytestmark = pytest.mark.timeout(600)

SEED = 20261208
POINTS = {
    "softmax-int8": lambda: softmax_preset("int8", n_max=16),
    "softmax-int16": lambda: softmax_preset("int16", n_max=32),
    "rms-int8": lambda: norm_preset("int8", "rms", n_max=16, top_name="rmsnorm_unit"),
    "layer-int16": lambda: norm_preset("int16", "layer", n_max=32, top_name="layernorm_unit"),
    "softmax-int8-deferred": lambda: softmax_preset("int8", n_max=16, output_mode="deferred"),
    "rms-int16": lambda: norm_preset("int16", "rms", n_max=32, top_name="rmsnorm_unit"),
    "layer-int8": lambda: norm_preset("int8", "layer", n_max=16, top_name="layernorm_unit"),
    "layer-int8-deferred": lambda: norm_preset("int8", "layer", n_max=16, output_mode="deferred",
                                               top_name="layernorm_unit"),
}
FAST = ("softmax-int8", "layer-int16")          # the others in make test-all (slow)
NAMES = [n if n in FAST else pytest.param(n, marks=pytest.mark.slow) for n in POINTS]


def built(name, build_once):
    """A configuration generated and verilated once per session: (params, simulator, its dir)."""
    def make(out):
        p = POINTS[name]()
        return p, rb.build_unit(p, out), out
    return build_once(f"rowop-{name}", make)


def check(sim, cfg, tmp_path, test="test_stream"):
    r = rb.run_bench(sim, cfg, tmp_path, test, timeout=300)
    assert r.tests == 1, f"the cocotb test did not run (see {r.log})"
    assert r.failures == 0, f"bench failed: {first_failure(r.log)} (log {r.log})"
    return r


@pytest.mark.parametrize("name", NAMES)
def test_exact_cycles_unstalled(name, build_once, tmp_path):
    """No gaps, no back-pressure: every beat exact, every row's first output and next row exactly
    when ``first_out_latency`` / ``row_cycles`` say."""
    p, sim, _ = built(name, build_once)
    check(sim, rb.bench_config(rb.draw(p, SEED, 12)), tmp_path)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("stall, sink_stall", [(0.3, 0.5), (0.05, 0.85)])
def test_random_gaps_and_backpressure(name, stall, sink_stall, build_once, tmp_path):
    p, sim, _ = built(name, build_once)
    s = rb.draw(p, SEED + int(100 * sink_stall), 24)
    cfg = rb.bench_config(s, stall=stall, sink_stall=sink_stall, seed=SEED)
    h = rb.hits(cfg)                    # the edge cases really reach the flags
    if isinstance(p, SoftmaxParams):
        assert h["empty_rows"] >= 2
    if p.output_mode == "normalized" and getattr(p, "kind", "layer") == "layer":
        assert h["sat_rows"] >= 1 and h["sat_carried"] >= 1, h     # rms: |y| <= sqrt(n) max|w|
    check(sim, cfg, tmp_path)


@pytest.mark.parametrize("name", NAMES)
def test_reset_in_the_middle_of_a_row(name, build_once, tmp_path):
    p, sim, _ = built(name, build_once)
    cfg = rb.reset_config(rb.draw(p, SEED + 1, 8), stall=0.2, sink_stall=0.4, seed=SEED + 1)
    check(sim, cfg, tmp_path, "test_reset_midrow")


@pytest.mark.parametrize("fault", ["value", "latency"])
def test_the_bench_catches_faults(fault, build_once, tmp_path):
    """A corrupted expected output or a latency off by one must fail, naming the beat in hex."""
    p, sim, _ = built("softmax-int8", build_once)
    s = rb.draw(p, SEED, 4)
    cfg = rb.bench_config(s, corrupt_beat=5) if fault == "value" else \
        rb.bench_config(s, latency_offset=1)
    r = rb.run_bench(sim, cfg, tmp_path, timeout=300)
    assert r.tests == 1 and r.failures == 1
    msg = first_failure(r.log)
    if fault == "value":
        assert msg.startswith("beat 5 (row 1, element 4): input 0x"), msg
        assert " expected 0x" in msg and " got 0x" in msg and "fields p:" in msg, msg
    else:
        assert msg.startswith("row 0 (n=1): last input in cycle"), msg
        assert "expected first_out_latency" in msg, msg


def _lint(path, top, vlt):
    env = setup_verilator_env(dict(os.environ))
    lang = ["+1364-2005ext+v"] if path.suffix == ".v" else []
    return subprocess.run(["verilator", "--lint-only", "-Wall", *lang, "--top-module", top,
                           str(vlt), str(path)], env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("name", NAMES)
def test_sv_lints_clean_with_the_shipped_waivers(name, build_once):
    """The .sv is -Wall clean with the .vlt generated beside it (the CLI's test lints the int8
    softmax and LayerNorm only)."""
    p, _, out = built(name, build_once)
    r = _lint(out / f"{p.top_name}.sv", p.top_name, out / f"{p.top_name}.vlt")
    assert r.returncode == 0 and "%Warning" not in r.stderr, r.stderr[:2000]


# The .v must lint clean too: an engine input bit driven only by a constant in no FSM state was
# once printed as an always @* block with nothing to trigger it (ALWNEVER, UNDRIVEN; X under
# Icarus -g2005); the row units now drive the engines' whole inputs outside their FSMs.
@pytest.mark.parametrize("name", FAST)
def test_v_lints_clean_with_the_shipped_waivers(name, build_once):
    p, _, out = built(name, build_once)
    r = _lint(out / f"{p.top_name}.v", p.top_name, out / f"{p.top_name}.vlt")
    assert r.returncode == 0 and "%Warning" not in r.stderr, r.stderr[:2000]
