"""The selective-scan unit's emitted Verilog on Verilator, cycle by cycle against the golden model.

Three builds cover the structure: D_inner = 1 with P < N (every step reads the state the step
before it wrote: the read-modify-write hazard at its tightest), D_inner greater than the latency
with P = N (one (token, channel) per clock, every product built for an 18 x 18 DSP block), and
Mamba-2 on the int16 preset. Inputs are drawn like
a Mamba layer; several sequences are joined by ``first``; stalls are random on every stream. A
saturating stimulus drives the state and the output past both ends of their ranges.
"""
import pytest

from nlihw.hdl.scan.params import preset
from nlihw.hdl.scan.unit import latency
from nlihw.sim.common.lint import lint
from nlihw.sim.common.runner import first_failure
from nlihw.sim.scan import bench as sb

POINTS = {
    "int8-d1-p1": ("int8", dict(d_inner=1, d_state=4, lanes=1)),
    # every product built for an 18 x 18 DSP: split, fabric alone (an 8-bit operand), or one block
    "int8-d34-p4": ("int8", dict(d_inner=34, d_state=4, lanes=4, multipliers="18x18/8")),
    "int16-mamba2-p2": ("int16", dict(d_inner=4, d_state=4, lanes=2, mode="mamba2", headdim=2)),
}
def built(name, build_once):
    """A configuration generated and verilated once per session: (params, simulator, its dir)."""
    def make(out):
        pre, kw = POINTS[name]
        p = preset(pre, **kw)
        return p, sb.build_scan(p, out), out
    return build_once(name, make)


def stimulus(p, tokens=12, seed=4):
    return sb.draw(p, tokens, seed=seed, starts=(0, tokens // 2 + 1))


def check(sim, cfg, tmp_path, test="test_stream"):
    r = sb.run_bench(sim, cfg, tmp_path, test, timeout=300)
    assert r.tests == 1, f"the cocotb test did not run (see {r.log})"
    assert r.failures == 0, f"bench failed: {first_failure(r.log)} (log {r.log})"
    return r


@pytest.mark.parametrize("name", list(POINTS))
def test_exact_latency_and_rate(name, build_once, tmp_path):
    """Unstalled: every output exactly ``latency`` cycles after its input, a beat every N/P clocks."""
    p, sim, _ = built(name, build_once)
    s = stimulus(p, tokens=40 if p.d_inner == 1 else 6)
    r = check(sim, sb.bench_config(s), tmp_path)
    if p.lanes == p.d_state and p.d_inner > latency(p):
        assert "(1.000 per clock)" in r.log.read_text()           # one (token, channel) per clock


@pytest.mark.parametrize("name", list(POINTS))
def test_random_stalls_on_every_stream(name, build_once, tmp_path):
    p, sim, _ = built(name, build_once)
    check(sim, sb.bench_config(stimulus(p, 10 if p.d_inner > 1 else 60, seed=7), stall=0.5, seed=3),
          tmp_path)


@pytest.mark.parametrize("name", list(POINTS))
def test_chunked_save_restore_equals_unchunked(name, build_once, tmp_path):
    p, sim, _ = built(name, build_once)
    s = stimulus(p, 10, seed=9)
    check(sim, sb.chunked_config(s, 4, stall=0.3), tmp_path, "test_chunked")


@pytest.mark.parametrize("name", list(POINTS))
def test_saturating_state_and_output(name, build_once, tmp_path):
    """Inputs that drive the state to both ends of its range and the output past its own: the
    state written back, the output and the sticky flag must all match the golden model."""
    p, sim, _ = built(name, build_once)
    s = sb.draw(p, 24 if p.d_inner <= 4 else 10, seed=11, saturating=True)
    events, h = s.result.stages["events"], s.result.stages["h"]
    # the stimulus must keep saturating: the state sum itself (not only dBu), at both ends, and out
    assert (events["h"] & ~events["dBu"]).sum() > 0
    assert (h == p.state_fmt.max_raw).any() and (h == p.state_fmt.min_raw).any()
    assert events["out"].sum() > 0 and s.result.overflow[-1, -1]
    check(sim, sb.bench_config(s), tmp_path)


@pytest.mark.parametrize("name", ["int8-d1-p1", "int16-mamba2-p2"])
def test_configuration_reads_back(name, build_once, tmp_path):
    p, sim, _ = built(name, build_once)
    check(sim, sb.readback_config(stimulus(p, 4)), tmp_path, "test_readback")


@pytest.mark.parametrize("name", ["int8-d1-p1", "int8-d34-p4"])
def test_reset_in_the_middle_of_a_run(name, build_once, tmp_path):
    p, sim, _ = built(name, build_once)
    check(sim, sb.bench_config(stimulus(p, 8, seed=5), stall=0.3), tmp_path, "test_reset_midrun")


@pytest.mark.parametrize("fault", ["value", "latency"])
def test_the_bench_catches_faults(fault, build_once, tmp_path):
    """A corrupted expected output or a latency off by one must fail, naming the beat in hex."""
    p, sim, _ = built("int8-d1-p1", build_once)
    s = stimulus(p, 6)
    cfg = sb.bench_config(s, corrupt_beat=3) if fault == "value" else sb.bench_config(s, latency_offset=1)
    r = sb.run_bench(sim, cfg, tmp_path, timeout=300)
    assert r.tests == 1 and r.failures == 1
    msg = first_failure(r.log)
    if fault == "value":
        assert msg.startswith("beat 3 (token 3, channel 0): input 0x") and " expected 0x" in msg and " got 0x" in msg
    else:
        assert msg.startswith("beat 0: input accepted in cycle") and f"expected {latency(p) + 1}" in msg


@pytest.mark.parametrize("name", list(POINTS))
def test_lint_clean(name, build_once):
    p, _, out = built(name, build_once)
    assert lint(out / f"{p.top_name}.v", p.top_name) == []
    assert lint(out / f"{p.top_name}.sv", p.top_name) == []
