"""Sweep benchmark: design points per minute (fit, gen and generic synthesis of 16-bit engines) on a
local pool with -j 1 and -j 2 and on a Dask LocalCluster of 2 workers, each from nothing (fresh
results directory and synthesis cache); and a fully cached re-run of 50 points.

Targets: >= 2 points per minute per core with synthesis, 2 workers >= 1.7x one, cached re-run of
50 points < 5 s.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.table import Table

from nlihw.benchmarks.section_output import publish, rich_markdown
from nlihw.explore.results_io import read_table
from nlihw.explore.spec import parse_spec
from nlihw.explore.sweep import run_sweep

PER_CORE_TARGET = 2.0        # points per minute per core
SPEEDUP_TARGET = 1.7
CACHED_TARGET_S = 5.0
TABLES = ("throughput", "cached")          # published (section_output)

SYNTH_SPEC = {"sweep": {"stages": ["fit", "gen", "synth"]},
              "nli": {"func": ["silu", "gelu"], "in_fmt": "s4.12", "out_fmt": "s4.12", "M": [5, 9],
                      "K": [1, 8], "grid": 256, "target": "generic"}}
CACHED_SPEC = {"sweep": {"stages": ["fit"]},
               "nli": {"func": ["silu", "gelu"], "in_fmt": "s2.6", "out_fmt": "s2.6",
                       "M": [3, 4, 5, 6, 7], "K": [1, 2, 3, 4, 5]}}


def run(console, work: Path | None = None) -> dict:
    """Run the benchmark in ``work`` (default: a temporary directory, removed afterwards)."""
    if work is None:
        tmp = Path(tempfile.mkdtemp(prefix="nlihw-bench-sweep-"))
        try:
            return _run(console, tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return _run(console, Path(work))


def _timed(spec, results: Path, **kw) -> tuple[float, object]:
    t0 = time.perf_counter()
    s = run_sweep(spec, results, quiet=True, **kw)
    return time.perf_counter() - t0, s


def _run(console, work: Path) -> dict:
    figures: dict = {}
    _throughput(console, work, figures)
    _cached_rerun(console, work, figures)
    return figures


def _throughput(console, work: Path, figures: dict) -> None:
    """The synthesis sweep from nothing with -j 1, -j 2 and a Dask LocalCluster of 2 workers:
    prints and publishes the throughput table, adds each run's figures to ``figures``."""
    # imported here, not at the top: distributed comes with the optional 'explore' extra
    from distributed import LocalCluster
    spec = parse_spec(SYNTH_SPEC)
    n = len(spec.points)
    t = Table(title=f"Sweep throughput: {n} points (silu, gelu, s4.12, M 5/9, K 1/8, grid 256; fit, "
                    f"gen, generic synthesis), each run from nothing")
    for col in ("executor", "workers", "points", "failed", "wall (s)", "points/min",
                "points/min/worker", "speed-up vs -j 1", "target", "stage s/point", "busy %",
                "load avg"):
        t.add_column(col, justify="left" if col in ("executor", "target") else "right")

    runs = [("pool -j 1", 1, {"jobs": 1}), ("pool -j 2", 2, {"jobs": 2}), ("dask LocalCluster", 2, None)]
    base = None
    for name, workers, kw in runs:
        d = work / name.replace(" ", "_")
        shutil.rmtree(d, ignore_errors=True)
        load = os.getloadavg()[0]
        if kw is None:
            with LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                              dashboard_address=None) as cluster:
                secs, s = _timed(spec, d / "results", scheduler=cluster.scheduler_address,
                                 synth_cache=d / "synth")
        else:
            secs, s = _timed(spec, d / "results", synth_cache=d / "synth", **kw)
        rate, stage = _record(figures, name, workers, secs, s, d / "results", load)
        busy = stage * s.computed / (secs * workers)
        figures[name]["busy"] = busy
        base = base or rate
        speed = rate / base
        figures[name]["speedup"] = speed
        if workers == 1:
            ok = rate >= PER_CORE_TARGET
            target = f">={PER_CORE_TARGET:g}/min: " + ("met" if ok else "MISSED")
        else:
            ok = speed >= SPEEDUP_TARGET
            target = f">={SPEEDUP_TARGET}x: " + ("met" if ok else "MISSED")
        t.add_row(name, str(workers), str(s.computed), str(s.failed), f"{secs:.1f}", f"{rate:.2f}",
                  f"{rate / workers:.2f}", f"{speed:.2f}", target, f"{stage:.1f}",
                  f"{100 * busy:.0f}", f"{load:.1f}")
    console.print(t)
    publish("throughput", rich_markdown(t))
    console.print("stage s/point: mean time a point spent in its stages (fit + gen + synth); busy: "
                  "stage time of all points over wall time x workers (what the executor loses to "
                  "start-up and idle workers). When stage s/point grows with the workers, they "
                  "compete for the cores (the 1-minute load average at the start counts other "
                  "users' processes too).")


def _record(figures: dict, name, workers, seconds, s, results: Path, load) -> tuple[float, float]:
    """Add one run's figures; returns (points per minute, mean stage seconds per point)."""
    rate = s.computed / seconds * 60
    rows = read_table(results / "results.csv")
    stage = sum(sum(r[k] or 0.0 for k in ("fit_s", "gen_s", "verify_s", "synth_s"))
                for r in rows) / max(1, len(rows))
    figures[name] = {"workers": workers, "points": s.computed, "failed": s.failed,
                     "seconds": seconds, "points_per_min": rate,
                     "stage_seconds_per_point": stage, "load_avg_1min": load}
    return rate, stage


def _cached_rerun(console, work: Path, figures: dict) -> None:
    """50 fit-only points computed once, then the whole sweep again, in process and through
    ``nlihw sweep``: prints and publishes the cached table, adds ``figures["cached_rerun"]``."""
    cspec = parse_spec(CACHED_SPEC)
    d = work / "cached"
    shutil.rmtree(d, ignore_errors=True)
    first, s1 = _timed(cspec, d, jobs=2)
    again, s2 = _timed(cspec, d, jobs=2)
    spec_file = d / "spec.toml"
    t0 = time.perf_counter()
    cli = subprocess.run([sys.executable, "-m", "nlihw", "sweep", str(spec_file), "-o", str(d),
                          "--quiet"], capture_output=True, text=True)
    cli_s = time.perf_counter() - t0
    c = Table(title=f"Cached re-run of {len(cspec.points)} points (target < {CACHED_TARGET_S:g} s)")
    for col in ("run", "points", "computed", "wall (s)", "target"):
        c.add_column(col, justify="left" if col in ("run", "target") else "right")
    c.add_row("first run (fit only, -j 2)", str(s1.total), str(s1.computed), f"{first:.1f}", "")
    c.add_row("re-run, in process", str(s2.total), str(s2.computed), f"{again:.2f}",
              "met" if again < CACHED_TARGET_S and s2.computed == 0 else "MISSED")
    ok_cli = cli.returncode == 0 and "(0 computed" in cli.stdout
    c.add_row("re-run, `nlihw sweep` (with interpreter start-up)", str(s2.total),
              "0" if ok_cli else "?", f"{cli_s:.2f}",
              "met" if cli_s < CACHED_TARGET_S and ok_cli else "MISSED")
    console.print(c)
    publish("cached", rich_markdown(c))
    figures["cached_rerun"] = {"points": s2.total, "computed": s2.computed, "seconds": again,
                               "cli_seconds": cli_s, "first_run_seconds": first}


if __name__ == "__main__":
    from rich.console import Console
    run(Console(width=140), Path(sys.argv[1]) if len(sys.argv) > 1 else None)
