"""nlihw sweep, running: the tidy tables and their figures, the per-point cache (re-runs, corrupt
entries, a killed sweep), failing points, a killed worker, the Dask path, and one synthesis."""
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nlihw.cli import main
from nlihw.explore import executor, sweep as sw
from nlihw.explore.results import COLUMNS
from nlihw.explore.results_io import read_table
from nlihw.explore.spec import parse_spec
from nlihw.luts.table import NLITable
from tests.support.scalar_golden import scalar_reference

ROOT = Path(__file__).resolve().parents[2]

TIMES = ("fit_s", "gen_s", "verify_s", "synth_s")
# columns of the README's results schema ("Design-space exploration") that reports and queries
# rely on; the tables hold exactly explore/results.py's COLUMNS, in order
KEY_COLUMNS = ("point_id", "design", "status", "error", "func", "in_fmt", "out_fmt", "M", "K",
               "micro_step", "arch", "max_err_lsb", "mean_err_lsb", "max_err", "rms_err", "area",
               "latency", "table_bits", "verified") + TIMES
FUNCS = {"silu": lambda x: x / (1 + math.exp(-x)),
         "gelu": lambda x: 0.5 * x * (1 + math.erf(x / math.sqrt(2)))}


def fit_spec(stages=("fit",), **kw):
    block = {"func": ["silu", "gelu"], "in_fmt": "s2.6", "out_fmt": "s2.6", "M": [3, 5], "K": [1, 2]}
    block.update(kw)
    return parse_spec({"sweep": {"stages": list(stages)}, "nli": block})


def run(spec, results, **kw):
    kw.setdefault("quiet", True)
    return sw.run_sweep(spec, results, **kw)


def points_state(results: Path) -> dict:
    return {f.name: (f.stat().st_mtime_ns, f.read_bytes()) for f in (results / "points").glob("*.json")}


@pytest.fixture(scope="module")
def pool_run(tmp_path_factory):
    """The 8-point fit-only sweep on the local pool (2 workers)."""
    d = tmp_path_factory.mktemp("pool")
    s = run(fit_spec(), d, jobs=2)
    return d, s


def test_tables_follow_the_contract(pool_run):
    d, s = pool_run
    assert (s.total, s.computed, s.cached, s.failed) == (8, 8, 0, 0)
    csv_rows, pq_rows = read_table(d / "results.csv"), read_table(d / "results.parquet")
    assert list(csv_rows[0]) == list(COLUMNS) and list(pq_rows[0]) == list(COLUMNS)
    assert COLUMNS[0] == "point_id" and set(KEY_COLUMNS) <= set(COLUMNS)
    assert csv_rows == pq_rows
    assert [r["point_id"] for r in csv_rows] == sorted(r["point_id"] for r in csv_rows)
    assert {(r["func"], r["M"], r["K"]) for r in csv_rows} == {
        (f, M, K) for f in ("silu", "gelu") for M in (3, 5) for K in (1, 2)}
    for r in csv_rows:
        assert r["status"] == "ok" and r["error"] == "" and r["verified"] == "skipped"
        assert r["target"] == "" and r["area"] is None and r["gen_s"] is None and r["fit_s"] > 0
        assert (d / "points" / f"{r['point_id']}.json").is_file()
    header = (d / "results.csv").read_text().splitlines()[0]
    assert header == ",".join(COLUMNS)
    assert (d / "spec.toml").is_file()


def test_error_figures_are_true(pool_run):
    """Errors recomputed with the scalar datapath of tests/support/scalar_golden.py and float64
    math, every code."""
    d, _ = pool_run
    for r in read_table(d / "results.csv"):
        rec = json.loads((d / "points" / f"{r['point_id']}.json").read_text())
        table = NLITable.from_dict(rec["params"]["tables"][0])
        assert table.function == r["func"] and table.layout.M == r["M"] and table.layout.K == r["K"]
        lo, hi = round(table.domain[0] * 64), round(table.domain[1] * 64)
        errs = [abs(scalar_reference(table, x) / 64 - FUNCS[r["func"]](x / 64)) for x in range(lo, hi + 1)]
        assert r["max_err"] == pytest.approx(max(errs), rel=1e-12)
        assert r["max_err_lsb"] == pytest.approx(max(errs) * 64, rel=1e-12)
        assert r["mean_err_lsb"] == pytest.approx(sum(errs) / len(errs) * 64, rel=1e-9)
        assert r["rms_err"] == pytest.approx(math.sqrt(sum(e * e for e in errs) / len(errs)), rel=1e-9)
        n, M = r["K"] * (r["M"] - 1) + 1, r["M"]
        assert len(table.values) == n
        shift_bits = max(1, max(table.shift).bit_length())
        assert r["table_bits"] == n * 8 + M * 8 + (M - 1) * (18 + max(shift_bits, table.layout.shift_bits))
        assert r["latency"] == 7


def test_rerun_computes_nothing(pool_run, monkeypatch):
    d, _ = pool_run
    before = points_state(d)
    csv_before = (d / "results.csv").read_bytes()
    submitted = []
    real = sw.run_tasks

    def counting(fn, items, **kw):
        items = list(items)
        submitted.extend(items)
        return real(fn, items, **kw)

    monkeypatch.setattr(sw, "run_tasks", counting)
    s = run(fit_spec(), d, jobs=2)
    assert (s.computed, s.cached) == (0, 8) and submitted == []
    assert points_state(d) == before
    assert (d / "results.csv").read_bytes() == csv_before


def test_corrupt_points_are_recomputed(tmp_path, pool_run):
    src, _ = pool_run
    d = tmp_path / "r"
    (d / "points").mkdir(parents=True)
    for f in (src / "points").iterdir():
        (d / "points" / f.name).write_bytes(f.read_bytes())
    files = sorted((d / "points").glob("*.json"))
    truth = {f.name: json.loads(f.read_text()) for f in files}
    files[0].write_bytes(files[0].read_bytes()[:200])                    # truncated (power loss)
    files[1].write_text("garbage")                                       # not JSON
    rec = json.loads(files[2].read_text())
    rec["max_err_lsb"] = 0.001                                           # edited: checksum fails
    files[2].write_text(json.dumps(rec))
    files[3].write_bytes(files[4].read_bytes())                          # another point's record
    files[5].unlink()                                                    # missing
    (d / "points" / f".{files[6].name}.abc123.tmp").write_text("{")      # a killed writer's temporary
    s = run(fit_spec(), d, jobs=2)
    assert (s.computed, s.cached) == (5, 3)
    for f in files:
        rec = json.loads(f.read_text())
        assert rec["point_id"] == f.stem
        assert rec["max_err_lsb"] == truth[f.name]["max_err_lsb"]
    assert not list((d / "points").glob("*.tmp"))
    assert len(read_table(d / "results.parquet")) == 8


def test_failing_point_is_recorded_and_the_others_finish(tmp_path):
    # silu reaches 1.76 on [-2, 2): an s1.3 output cannot hold it, so that fit fails
    spec = parse_spec({"nli": [{"func": "silu", "in_fmt": "s2.6", "out_fmt": ["s2.6", "s1.3"],
                                "M": [3, 5]}]})
    s = run(spec, tmp_path, jobs=2)
    assert (s.total, s.failed) == (4, 2)
    rows = read_table(tmp_path / "results.csv")
    bad = [r for r in rows if r["out_fmt"] == "s1.3"]
    good = [r for r in rows if r["out_fmt"] == "s2.6"]
    assert [r["status"] for r in bad] == ["failed"] * 2 and [r["status"] for r in good] == ["ok"] * 2
    for r in bad:
        assert r["error"].startswith("ParamsError: ") and "outside s1.3" in r["error"]
        assert "\n" not in r["error"] and r["max_err_lsb"] is None
    assert all(r["max_err_lsb"] > 0 for r in good)
    again = run(spec, tmp_path, jobs=2)
    assert again.computed == 0 and again.failed == 2
    retried = run(spec, tmp_path, jobs=2, retry_failed=True)
    assert retried.computed == 2 and retried.failed == 2


def test_strict_exit_code_when_a_point_failed(tmp_path, capsys):
    """A failed point is a result (exit 0); --strict makes it a CI failure (exit 1)."""
    args = ["sweep", "--func", "silu", "--in", "s2.6", "--out", "s2.6,s1.3", "-M", "3", "--quiet",
            "-j", "1", "-o", str(tmp_path / "r")]
    assert main(args) == 0
    assert main(args + ["--strict"]) == 1
    assert main(["sweep", "--func", "silu", "--in", "s2.6", "--out", "s2.6", "-M", "3", "--quiet",
                 "-j", "1", "--strict", "-o", str(tmp_path / "ok")]) == 0
    assert "1 failed" in capsys.readouterr().out


def test_dask_local_cluster_gives_the_same_table(tmp_path, pool_run):
    from distributed import LocalCluster
    d, _ = pool_run
    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as c:
        s = run(fit_spec(), tmp_path, scheduler=c.scheduler_address)
        ran = c.scheduler.task_prefixes.get("nlihw-point")       # the cluster ran the points
        assert ran is not None and ran.state_counts["memory"] == 8
    assert (s.computed, s.failed) == (8, 0)
    strip = lambda rows: [{k: v for k, v in r.items() if k not in TIMES} for r in rows]   # noqa: E731
    assert strip(read_table(tmp_path / "results.parquet")) == strip(read_table(d / "results.parquet"))


def die_once(marker: str) -> str:
    """A task that kills its own worker the first time it runs (a worker lost mid-task)."""
    if not os.path.exists(marker):
        Path(marker).write_text("")
        os.kill(os.getpid(), signal.SIGKILL)
    return "done"


def test_scan_points_measure_the_golden_model(tmp_path):
    """A scan point's error is the bit-exact golden model against float64 selective_scan_ref
    (the project's own scan_error on the same inputs)."""
    import numpy as np

    from nlihw.hdl.scan.params import preset
    from nlihw.sim.scan.accuracy import scan_error
    from nlihw.sim.scan.stimulus import mamba_inputs
    spec = parse_spec({"scan": {"preset": "int8", "d_state": 4, "lanes": [2, 4], "d_inner": 2, "tokens": 8}})
    s = run(spec, tmp_path, jobs=1)
    rows = read_table(tmp_path / "results.csv")
    assert s.failed == 0 and sorted(r["lanes"] for r in rows) == [2, 4]
    p = preset("int8", d_inner=2, d_state=4, lanes=2)
    ref = scan_error(p, mamba_inputs(2, 4, 8, np.random.default_rng(0)))
    for r in rows:
        assert r["design"] == "scan" and r["preset"] == "int8" and r["d_state"] == 4
        assert r["max_err"] == pytest.approx(ref["max_abs"], rel=1e-12)
        assert r["max_err_lsb"] == pytest.approx(ref["max_abs"] * 8, rel=1e-12)     # out s5.3
        assert r["rms_err"] == pytest.approx(ref["rel_rms"], rel=1e-12)
        assert r["func"] == "" and r["M"] is None and r["latency"] > 0


def test_pipeline_axis_reaches_the_designs(tmp_path):
    """Each point's latency is the base latency plus its enabled register points (engine: 7 for
    the parallel 16-bit-style datapath here; scan: its own base), and the row names them."""
    from nlihw.hdl.nli.params import ENGINE_PIPELINE
    from nlihw.hdl.scan.params import PIPELINE
    spec = parse_spec({"sweep": {"stages": ["fit", "gen"]},
                       "nli": {"func": "silu", "in_fmt": "s2.6", "out_fmt": "s2.6", "M": 4, "K": 2,
                               "pipeline": ["none", "all", "mul_in,round_split"]},
                       "scan": {"preset": "int8", "d_state": 4, "lanes": 4, "d_inner": 2, "tokens": 4,
                                "pipeline": ["none", 2], "engine_pipeline": ["none", "mul_in"]}})
    s = run(spec, tmp_path, jobs=1)
    rows = read_table(tmp_path / "results.csv")
    assert s.failed == 0
    nli = {r["pipeline"]: r["latency"] for r in rows if r["design"] == "nli"}
    assert nli == {"none": 7, ",".join(ENGINE_PIPELINE.points): 7 + len(ENGINE_PIPELINE.points),
                   "mul_in,round_split": 9}
    scan = {r["pipeline"]: r["latency"] for r in rows if r["design"] == "scan"}
    two = ",".join(p for p in PIPELINE.points if p in PIPELINE.prefer[:2])
    assert scan["none"] > 0 and scan[two] == scan["none"] + 2
    # the softplus, exp and SiLU engines each add their one point
    assert scan["none; engines mul_in"] == scan["none"] + 3 and scan[f"{two}; engines mul_in"] == scan[two] + 3


def test_pool_survives_a_killed_worker(tmp_path):
    items = [(f"k{i}", (str(tmp_path / f"m{i}"),)) for i in range(3)]
    got = dict(executor.run_tasks(die_once, items, jobs=2))
    assert got == {"k0": "done", "k1": "done", "k2": "done"}


def test_killed_sweep_resumes(tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text('[sweep]\nstages = ["fit", "gen"]\n[[nli]]\nfunc = "silu"\nin_fmt = "s2.6"\n'
                    'out_fmt = "s2.6"\nM = [3, 4, 5]\n')
    d = tmp_path / "r"
    proc = subprocess.Popen([sys.executable, "-m", "nlihw", "sweep", str(spec), "-o", str(d), "-j", "1",
                             "--quiet"], cwd=ROOT, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not list((d / "points").glob("*.json")) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)     # the sweep and its workers: a power cut
        proc.wait()
    finished = points_state(d)
    assert 1 <= len(finished) < 3, "the sweep was not stopped mid-way"
    assert not (d / "results.csv").exists()
    s = run(parse_spec({"sweep": {"stages": ["fit", "gen"]},
                        "nli": {"func": "silu", "in_fmt": "s2.6", "out_fmt": "s2.6", "M": [3, 4, 5]}}),
            d, jobs=2)
    assert s.cached == len(finished) and s.computed == 3 - len(finished)
    after = points_state(d)
    assert {k: after[k] for k in finished} == finished          # untouched
    rows = read_table(d / "results.csv")
    assert len(rows) == 3 and all(r["status"] == "ok" and r["gen_s"] is not None for r in rows)


def test_generic_synthesis_of_a_tiny_point(tmp_path):
    spec = parse_spec({"sweep": {"stages": ["fit", "gen", "synth"]},
                       "nli": {"func": "silu", "in_fmt": "s2.6", "out_fmt": "s2.6", "M": 3,
                               "target": "generic"}})
    cache = tmp_path / "synth-cache"
    s = run(spec, tmp_path / "a", jobs=1, synth_cache=cache)
    assert s.failed == 0
    (r,) = read_table(tmp_path / "a" / "results.csv")
    rec = json.loads((tmp_path / "a" / "points" / f"{r['point_id']}.json").read_text())
    figs = rec["reports"]["generic"]["figures"]
    assert r["area"] == r["gate_equivalents"] == figs["gate_equivalents"] > 0
    assert r["ff"] == figs["flip_flops"] > 0 and r["lut"] is None and r["synth_s"] > 0
    # a second results directory: the fit is redone, synthesis comes from its content cache
    s2 = run(spec, tmp_path / "b", jobs=1, synth_cache=cache)
    (r2,) = read_table(tmp_path / "b" / "results.csv")
    assert s2.computed == 1 and r2["synth_s"] == 0 and r2["area"] == r["area"]


def test_cli_runs_a_sweep(tmp_path, capsys):
    args = ["sweep", "--func", "silu", "-M", "3,4", "--in", "s2.6", "--out", "s2.6", "--stages", "fit",
            "-o", str(tmp_path), "-j", "1", "--quiet"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.startswith("sweep: 2 points (2 computed, 0 cached, 0 failed)")
    assert main(args + ["--dry-run"]) == 0
    assert capsys.readouterr().out.startswith("sweep: 2 points, stages fit; 2 already in")


@pytest.mark.slow
def test_verify_stage_runs_every_code_on_verilator(tmp_path):
    spec = parse_spec({"sweep": {"stages": ["fit", "gen", "verify"]},
                       "nli": {"func": "silu", "in_fmt": "s2.6", "out_fmt": "s2.6", "M": 3,
                               "arch": ["parallel", "direct"]}})
    s = run(spec, tmp_path, jobs=2)
    rows = read_table(tmp_path / "results.csv")
    assert s.failed == 0 and [r["verified"] for r in rows] == ["passed", "passed"]
    assert all(r["verify_s"] > 0 for r in rows)
