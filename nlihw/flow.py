"""The default end-to-end flow, the main job of ``make`` (``nlihw flow``): fit the default tables,
generate the NLI engine (silu, exp, softplus; 16-bit) and the int16 selective-scan unit, each
unpipelined and pipelined for speed (the engine for a clock goal, the scan unit with every register
point), verify all four on Verilator against the golden models, synthesize them, run a small
sweep with its report, and print one summary with the paths of everything under the output
directory, the pipelined designs' latency and ECP5 Fmax beside the unpipelined ones'.

Every step is cached (fits by file, Verilator builds and synthesis by content, sweep points by
hash), so a second run takes seconds.
"""
from __future__ import annotations

import json
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Callable

from rich.console import Console
from rich.table import Table

from nlihw.errors import NlihwError
from nlihw.explore.report import build_report
from nlihw.explore.results_io import load_results
from nlihw.explore.spec import load_spec
from nlihw.explore.sweep import run_sweep
from nlihw.hdl.nli.params import NLIEngineParams
from nlihw.hdl.scan.params import preset
from nlihw.luts.default_tables import DEFAULT_SPECS, build_defaults
from nlihw.luts.fitter import fit
from nlihw.luts.layout import TableLayout
from nlihw.luts.table import NLITable
from nlihw.sim.nli import bench as eb
from nlihw.sim.scan import bench as sb
from nlihw.synth.driver import run_synth
from nlihw.synth.timing_closure import apply_timing
from .host_tools import require_host_tools

ENGINE_LAYOUT = dict(in_fmt="s4.12", out_fmt="s4.12", M=11, K=32)
# func -> domain: exp stays where e^x fits s4.12 (its right tail clamps at e^2)
# softplus stops short of 8 (softplus(8) > s4.12's max) and continues as its identity tail
ENGINE_FUNCS = {"silu": None, "exp": (-8.0, 2.0), "softplus": (-8.0, 7.99)}
# the int16 preset at a size that builds fast; one state lane fits the ECP5-25F's 28 multipliers
SCAN = dict(d_inner=16, d_state=16, lanes=1)
SCAN_TOKENS = 24
ENGINE_TARGETS = ("generic", "ecp5")
SCAN_TARGETS = ("generic-sram", "ecp5")
# the pipelined variants, synthesized on ECP5 (grade 6) only: the engine's register points chosen
# by the delay model for a clock goal (as ``nlihw gen --target-mhz``), the scan unit's fastest at
# P = 1 (every scan and engine point, README "Ports and timing")
ENGINE_GOAL_MHZ = 150.0
SCAN_FASTEST = dict(pipeline="all", engine_pipeline="all")
CLOCK_TARGET = "ecp5"


@dataclass(frozen=True)
class Design:
    """One generated and verified design: ``unit`` (engine | scan), ``variant`` (unpipelined |
    pipelined) and how the pipelined one was chosen (``how``), for the clock summary."""
    unit: str
    variant: str
    how: str
    verilog: Path
    top: str
    latency: int


@dataclass
class Step:
    name: str
    status: str = "ok"                    # ok | FAILED
    seconds: float = 0.0
    figures: str = ""
    paths: list[str] = field(default_factory=list)
    data: dict = field(default_factory=dict)     # the figures as numbers, for flow.json


class FlowError(RuntimeError):
    pass


def _timed(steps: list[Step], name: str, say: Callable[[str], None]):
    class _Ctx:
        def __enter__(self):
            self.step = Step(name)
            self.t0 = time.perf_counter()
            say(f"{name} ...")
            return self.step

        def __exit__(self, et, ev, tb):
            self.step.seconds = time.perf_counter() - self.t0
            if ev is not None and not isinstance(ev, KeyboardInterrupt):
                self.step.status = "FAILED"
                self.step.figures = str(ev).splitlines()[0][:200]
            steps.append(self.step)
            if ev is not None and isinstance(ev, KeyboardInterrupt):
                return False
            if ev is not None:
                say(f"{name}: FAILED: {self.step.figures}")
            return ev is not None and isinstance(ev, (FlowError, NlihwError))
    return _Ctx()


def _tables(out: Path, jobs: int | None, step: Step) -> None:
    """The default table set; a file from an earlier run with the same hardware spec is kept."""
    todo = []
    for s in DEFAULT_SPECS:
        f = out / s.filename
        try:
            t = NLITable.load(f)
            lay = t.layout
            if (t.function, str(lay.in_fmt), str(lay.out_fmt), lay.M, lay.K) == \
                    (s.func, s.in_fmt, s.out_fmt, s.M, s.K):
                continue
        except Exception:           # missing or unusable: fit it again
            pass
        todo.append(s)
    if todo:
        build_defaults(out, todo, jobs)
    step.figures = f"{len(DEFAULT_SPECS)} tables ({len(todo)} fitted now)"
    step.paths.append(str(out))


def _engine_tables(out: Path):
    out.mkdir(parents=True, exist_ok=True)
    layout = TableLayout(**ENGINE_LAYOUT)
    tables = []
    for func, domain in ENGINE_FUNCS.items():
        f = out / f"{func}_M{ENGINE_LAYOUT['M']}_K{ENGINE_LAYOUT['K']}.json"
        try:
            t = NLITable.load(f)
            # an earlier run's table is kept only if it answers the same question
            if t.function == func and t.layout == layout and (domain is None or t.domain == domain):
                tables.append(t)
                continue
        except Exception:
            pass
        t = fit(func, layout, domain=domain).table
        t.save(f)
        tables.append(t)
    return tuple(tables)


def _engine(out: Path, step: Step) -> list[Design]:
    """Generate and verify the 3-function engine unpipelined and with the register points the
    ECP5 delay model chooses for ``ENGINE_GOAL_MHZ``: every 16-bit code with random stalls."""
    tables = _engine_tables(out / "tables")
    p = NLIEngineParams(tables, top_name="nli_engine")
    q, note, _ = apply_timing(p, False, ENGINE_GOAL_MHZ, None, CLOCK_TARGET, None)
    how = f"target {ENGINE_GOAL_MHZ:g} MHz"
    designs, beats = [], 0
    for params, sub, variant in ((p, out, "unpipelined"), (q, out / "pipelined", "pipelined")):
        v, log, beats = _verify_engine(params, sub)
        designs.append(Design("engine", variant, how, v, params.top_name, params.latency))
        step.paths += [str(v), str(log)]
    errs = ", ".join(f"{t.function} {t.meta['errors']['max_abs_lsb']:.2f}" for t in tables)
    step.figures = (f"verified: {beats:,} beats (every code) with 30 % stalls, latency "
                    f"{p.latency} unpipelined, {q.latency} for {how} ({note}); max error (LSB) {errs}")
    return designs


def _verify_engine(p, out: Path):
    """(Verilog, log, beats) of one engine verified on every input code."""
    sim = eb.build_engine(p, out / "rtl")
    x, func = eb.exhaustive_inputs(p, seed=1)
    r = eb.run_bench(sim, eb.bench_config(p, x, func, in_stall=0.3, out_stall=0.3), out / "sim")
    if r.tests != 1 or r.failures:
        raise FlowError(f"engine verification FAILED (latency {p.latency}): "
                        f"{eb.first_failure(r.log)} (log {r.log})")
    return out / "rtl" / f"{p.top_name}.v", r.log, r.beats


def _scan(out: Path, step: Step) -> list[Design]:
    """Generate and verify the int16 scan unit unpipelined and with ``SCAN_FASTEST``: several
    sequences, 50 % stalls on every stream, bit-exact."""
    designs = []
    for extra, sub, variant in (({}, out, "unpipelined"), (SCAN_FASTEST, out / "pipelined", "pipelined")):
        p = preset("int16", **SCAN, **extra, top_name="selective_scan")
        v, log, lat = _verify_scan(p, sub)
        designs.append(Design("scan", variant, "every register point", v, p.top_name, lat))
        step.paths += [str(v), str(log)]
    step.figures = (f"verified: D_inner={p.d_inner}, N={p.d_state}, P={p.lanes}, {SCAN_TOKENS} "
                    f"tokens in 2 sequences, 50 % stalls, bit-exact; latency "
                    f"{designs[0].latency} unpipelined, {designs[1].latency} with every register point")
    return designs


def _verify_scan(p, out: Path):
    """(Verilog, log, latency from the generated manifest) of one verified scan unit."""
    sim = sb.build_scan(p, out / "rtl")
    stim = sb.draw(p, SCAN_TOKENS, seed=3, starts=(0, SCAN_TOKENS // 2))
    r = sb.run_bench(sim, sb.bench_config(stim, stall=0.5), out / "sim")
    if r.failures or r.tests != 1:
        raise FlowError(f"scan verification FAILED (log {r.log})")
    manifest = json.loads((out / "rtl" / f"{p.top_name}.manifest.json").read_text())
    return out / "rtl" / f"{p.top_name}.v", r.log, manifest["latency"]


def _synth_all(jobs, say) -> Callable:

    def one(args):
        verilog, top, target, label = args
        return run_synth(verilog, top, target, progress=lambda m: say(f"  {label} {m}"))
    return one


def _synthesize(designs, jobs, say) -> list[dict]:
    """Synthesize ``designs`` on ``jobs`` threads, each waiting for its tool process. Only the main
    thread sees Ctrl-C: then the queued runs are cancelled and the running tools killed, so the
    step ends at once instead of when they would finish."""
    pool = ThreadPoolExecutor(max_workers=max(1, jobs or 2))
    futures = [pool.submit(_synth_all(jobs, say), d) for d in designs]
    try:
        return [f.result() for f in futures]
    except KeyboardInterrupt:
        pool.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline and not all(f.done() for f in futures):
            _kill_tool_sessions()
            wait(futures, timeout=0.1)
        raise
    finally:
        pool.shutdown(wait=True)


def _kill_tool_sessions() -> None:
    """SIGKILL the process group of every child of this process that leads its own session: the
    tools ``synth.tools.run`` starts (Linux: read from /proc; elsewhere nothing is found)."""
    me = os.getpid()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue                        # ended meanwhile
        pid = int(stat.parent.name)
        if int(fields[1]) == me and int(fields[3]) == pid:     # parent, session
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass


def _area(rep: dict) -> str:
    f, t = rep["figures"], rep["target"]
    if t.startswith("generic"):
        mem = f", {f['memory_bits']:,} bits in SRAM macros" if f.get("sram_macros") else ""
        return f"{rep['top']} {t}: {f['gate_equivalents']:,.0f} GE{mem}"
    fmax = f.get("fmax_mhz")
    return (f"{rep['top']} {t}: {f['lut4']:,} LUT4, {f['ff']:,} FF, {f['mult18']} MULT18, "
            f"{f['ebr']} EBR, " + (f"{fmax:.1f} MHz" if fmax else "Fmax n/a (does not fit)"))


def _synth_jobs(designs: list[Design], scan_gates: bool) -> list[tuple]:
    """(verilog, top, target, label) of every synthesis run, the longest first (they share
    ``jobs`` threads): each design on ``CLOCK_TARGET``, the unpipelined ones also on the gate
    targets."""
    runs = []
    for d in sorted(designs, key=lambda d: (d.unit != "scan", d.variant != "pipelined")):
        targets = (CLOCK_TARGET,)
        if d.variant == "unpipelined":
            gates = ENGINE_TARGETS if d.unit == "engine" else SCAN_TARGETS if scan_gates else ()
            targets += tuple(t for t in gates if t != CLOCK_TARGET)
        label = d.top + (" (pipelined)" if d.variant == "pipelined" else "")
        runs += [(d.verilog, d.top, t, label) for t in targets]
    return runs


def _fmax(rep: dict) -> "float | None":
    return rep["figures"].get("fmax_mhz")


def clock_summary(designs: list[Design], reports: dict, step: Step) -> None:
    """Per unit, latency and ``CLOCK_TARGET`` Fmax unpipelined | pipelined, into ``step``;
    ``reports``: {verilog path: its report on ``CLOCK_TARGET``}."""
    lines = []
    for unit, name in (("engine", "engine " + "/".join(ENGINE_FUNCS)),
                       ("scan", f"scan int16 P={SCAN['lanes']}")):
        got = {d.variant: d for d in designs if d.unit == unit}
        if set(got) != {"unpipelined", "pipelined"}:
            continue
        missing = [v for v, d in got.items() if str(d.verilog) not in reports]
        if missing:
            raise FlowError(f"{name}: no {CLOCK_TARGET} synthesis report for the {missing[0]} design")
        figs = {v: {"latency": d.latency, "fmax_mhz": _fmax(reports[str(d.verilog)])}
                for v, d in got.items()}
        step.data[unit] = {"pipelined_how": got["pipelined"].how, **figs}
        u, p = figs["unpipelined"], figs["pipelined"]
        goal = ""
        if unit == "engine" and p["fmax_mhz"] is not None:
            goal = " (met)" if p["fmax_mhz"] >= ENGINE_GOAL_MHZ else " (MISSED)"
        lines.append(f"{name}: unpipelined {u['latency']} cycles {_mhz(u['fmax_mhz'])} | "
                     f"{got['pipelined'].how}: {p['latency']} cycles {_mhz(p['fmax_mhz'])}{goal}")
    if not lines:
        raise FlowError("no unit has both variants verified and synthesized")
    step.figures = "\n".join(lines)


def _mhz(fmax: "float | None") -> str:
    return f"{fmax:.1f} MHz" if fmax is not None else "Fmax n/a"


def run_flow(out: "str | Path", jobs: int | None = None, console=None,
             scan_gates: bool = False) -> list[Step]:
    """Run the flow into ``out``; returns the steps (a failed step does not stop the others
    unless they need its output). ``scan_gates`` adds the scan unit's generic-sram synthesis,
    which alone takes about 9 minutes on 2 cores (left out of ``make`` to keep it under 10)."""
    require_host_tools("nlihw flow")         # Verilator builds: before any step starts
    console = console or Console(stderr=True)
    out = Path(out)
    steps: list[Step] = []

    def say(msg):
        console.print(f"[flow] {msg}", markup=False, highlight=False)

    with _timed(steps, "tables", say) as st:
        _tables(out / "tables", jobs, st)
    designs: list[Design] = []
    with _timed(steps, "NLI engine: generate + verify", say) as st:
        designs += _engine(out / "nli", st)
    with _timed(steps, "scan unit: generate + verify", say) as st:
        designs += _scan(out / "scan", st)
    on_clock = {}
    with _timed(steps, "synthesis", say) as st:
        runs = _synth_jobs(designs, scan_gates)
        reports = _synthesize(runs, jobs, say)
        piped = {str(d.verilog) for d in designs if d.variant == "pipelined"}
        st.figures = "; ".join(("pipelined " if str(v) in piped else "") + _area(r)
                               for (v, *_), r in zip(runs, reports))
        st.paths += sorted({r["run"]["report"] for r in reports})
        on_clock = {str(v): r for (v, _, t, _), r in zip(runs, reports) if t == CLOCK_TARGET}
    with _timed(steps, f"latency and {CLOCK_TARGET} Fmax: unpipelined | pipelined", say) as st:
        clock_summary(designs, on_clock, st)
    with _timed(steps, "sweep + report", say) as st:
        _sweep(out / "sweep", jobs, st, console)
    (out / "flow.json").write_text(json.dumps([s.__dict__ for s in steps], indent=1) + "\n")
    return steps


def _sweep(out: Path, jobs, step: Step, console) -> None:
    spec_path = Path(str(resources.files("nlihw.explore") / "examples" / "small.toml"))
    s = run_sweep(load_spec(spec_path), out, jobs=jobs, console=console, quiet=True)
    source, rows = load_results(out)
    rep = build_report(rows, source, out)
    rep.outputs.commit()
    step.figures = (f"{s.total} points ({s.cached} cached, {s.failed} failed); "
                    f"{len(rep.images)} plots")
    if s.failed:
        step.status = "FAILED"
    step.paths += [str(p) for p in s.tables] + [str(rep.markdown)]


def summary(steps: list[Step]) -> Table:
    t = Table(title="nlihw flow")
    for c in ("step", "status", "time", "result", "outputs"):
        t.add_column(c, overflow="fold")
    for s in steps:
        t.add_row(s.name, s.status, f"{s.seconds:.0f} s", s.figures, "\n".join(s.paths))
    return t
