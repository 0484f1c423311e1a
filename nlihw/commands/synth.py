"""``nlihw synth``: area and timing of a generated design with yosys and nextpnr (PyPI wheels)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import click
from rich.console import Console

from nlihw import verbosity
from nlihw.errors import ParamsError
from nlihw.atomic import read_regular
from nlihw.synth.driver import MAX_SEEDS, check_outputs, check_top, format_table, run_synth
from nlihw.synth.targets import TARGETS

MAX_MANIFEST_BYTES = 8 * 2**20        # a generated manifest is a few kB


def load_manifest(path: Path) -> dict:
    """The JSON object of a manifest: a regular file of at most ``MAX_MANIFEST_BYTES`` (a FIFO,
    a device or a huge file is refused before it is read to the end); else a one-line error."""
    data = read_regular(path, "manifest", MAX_MANIFEST_BYTES)
    try:
        man = json.loads(data)
    except ValueError as e:
        raise ParamsError(f"{path}: not a usable manifest (not JSON: {e})") from None
    except RecursionError:
        raise ParamsError(f"{path}: not a usable manifest (JSON nested too deeply)") from None
    if not isinstance(man, dict):
        raise ParamsError(f"{path}: not a usable manifest (a JSON {type(man).__name__}, not an object)")
    return man


def _bad(path: Path, field: str, must: str, got) -> ParamsError:
    shown = repr(got) if len(repr(got)) <= 60 else repr(got)[:57] + "..."
    return ParamsError(f"{path}: manifest field {field!r} must be {must}, got {shown}")


def _shown(name: str) -> str:
    """A file name for a one-line message: as it is when printable, else its Python repr."""
    return name if name.isprintable() else repr(name)


def _number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def manifest_timing(path: Path, man: dict) -> tuple[int | None, dict | None]:
    """(latency, timing_goal) of a manifest, each checked for what ``timing_lines`` does with it
    (numbers are compared and formatted, names are printed): a wrong type is a one-line error."""
    latency = man.get("latency")
    if latency is not None and not (isinstance(latency, int) and not isinstance(latency, bool)
                                    and latency >= 0):
        raise _bad(path, "latency", "a whole number of cycles", latency)
    goal = man.get("timing_goal")
    if goal is None:
        return latency, None
    if not isinstance(goal, dict):
        raise _bad(path, "timing_goal", "an object", goal)
    checks = {"target": (lambda v: isinstance(v, str), "a synthesis target name"),
              "speed": (lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool)),
                        "a speed grade or null"),
              "goal_mhz": (lambda v: v is None or (_number(v) and v > 0), "a clock in MHz or null"),
              "predicted_mhz": (lambda v: v is None or _number(v), "a clock in MHz"),
              "liberty": (lambda v: v is None or (isinstance(v, dict) and isinstance(v.get("sha256"), str)
                                                  and isinstance(v.get("file"), str)
                                                  and v["file"].isprintable() and len(v["file"]) <= 255),
                          "null or {file, sha256} (a printable file name)")}
    for key, (ok, must) in checks.items():
        if not ok(goal.get(key)):
            raise _bad(path, f"timing_goal.{key}", must, goal.get(key))
    if goal.get("goal_mhz") is not None and goal.get("predicted_mhz") is None:
        raise _bad(path, "timing_goal.predicted_mhz", "a clock in MHz", None)
    return latency, goal


def find_design(directory: Path, top: str | None) -> tuple[Path, str, dict | None]:
    """(Verilog file, top module, manifest or None) of an ``nlihw gen`` output directory.

    With a ``<top>.manifest.json`` the manifest names the top and gives the params; without one
    the directory must hold a single ``*.v`` file (or ``--top`` picks ``<top>.v``). Every name
    is a Verilog identifier (the rule of ``nlihw gen --top``) and every manifest field used is
    checked here, before any tool runs: a bad one is a one-line error naming the field.
    """
    if not directory.is_dir():
        raise ParamsError(f"{directory}: no such directory (give an output directory of 'nlihw gen')")
    if top is not None:
        check_top(top, "--top")
    manifests = sorted(directory.glob("*.manifest.json"))
    if top is not None:
        chosen = [m for m in manifests if m.name == f"{top}.manifest.json"]
    elif len(manifests) > 1:
        names = ", ".join(_shown(m.name.removesuffix(".manifest.json")) for m in manifests)
        raise ParamsError(f"{directory}: several designs ({names}); choose one with --top")
    else:
        chosen = manifests
    man = None
    if chosen:
        man = load_manifest(chosen[0])
        if "top" not in man:
            raise ParamsError(f"{chosen[0]}: manifest field 'top' is missing")
        top = check_top(man["top"], f"{chosen[0]}: manifest field 'top'")
        if man.get("params") is not None and not isinstance(man["params"], dict):
            raise _bad(chosen[0], "params", "an object or null", man["params"])
        manifest_timing(chosen[0], man)
    if top is None:
        vs = sorted(directory.glob("*.v"))
        if len(vs) != 1:
            found = ", ".join(_shown(v.name) for v in vs) or "none"
            raise ParamsError(f"{directory}: expected one Verilog file (found {found}); choose with --top")
        check_top(vs[0].stem, f"{vs[0]}: the module name taken from the file name")
        return vs[0], vs[0].stem, None
    verilog = directory / f"{top}.v"
    if not verilog.is_file():
        raise ParamsError(f"{verilog}: missing (the Verilog of top module {top!r})")
    return verilog, top, man


@click.command("synth")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("-t", "--target", "targets", multiple=True, type=click.Choice(list(TARGETS)),
              help="Target (repeatable; default generic). generic: gate equivalents and logic "
                   "depth on the shipped NAND2-equivalent library (memories become flip-flops "
                   "and gates; their bits are reported); generic-sram: the same with each memory "
                   "kept as an SRAM macro (bits reported, area not counted: for designs with "
                   "large state memories such as the scan unit); xcup: Xilinx UltraScale+ "
                   "LUT/FF/CARRY/DSP48E2/BRAM/LUTRAM; ecp5: Lattice ECP5-25F LUT4/FF/MULT18/EBR and "
                   "nextpnr Fmax; ecp5-85k: the same on the LFE5UM-85F (CABGA381); ice40: iCE40UP5K "
                   "LUT4/FF/MAC16/RAM4K and nextpnr Fmax.")
@click.option("--liberty", type=click.Path(dir_okay=False, path_type=Path),
              help="Map the generic target to this liberty file instead; area is then in the "
                   "library's units (um^2 for a real standard-cell library). With NLDM delay "
                   "tables, a static timing estimate per stage and a clock estimate (no wires); "
                   "without, the depth per stage in cells.")
@click.option("--top", help="Top module (default: from the manifest, or the single .v file).")
@click.option("--speed", type=int, default=None,
              help="Speed grade for ecp5 (6, 7 or 8; default 6, the slowest). A grade other than "
                   "the default writes <target>-speed<N>.json.")
@click.option("--seeds", type=int, default=3, show_default=True,
              help="nextpnr runs (seeds 1..N, N odd) whose median is the reported Fmax, with the "
                   "minimum and maximum.")
@click.option("--hierarchy", type=click.Choice(["auto", "keep", "flat"]), default="auto",
              show_default=True,
              help="generic targets: keep maps each unique module once (identical lanes merged) "
                   "and sums the area over instances; flat maps the flattened design; auto keeps "
                   "the hierarchy when a module has two or more instances.")
def command(directory: Path, targets: tuple[str, ...], liberty: Path | None, top: str | None,
            speed: int | None, seeds: int, hierarchy: str):
    """Synthesize the design in DIRECTORY (an 'nlihw gen' output) and print its figures.

    Each target writes DIRECTORY/synth/<target>.json (deterministic: sorted keys, no
    timestamps, no absolute paths) and copies the tool logs to DIRECTORY/synth/logs/. Fmax
    (ecp5, ice40) is measured with the design inside a small timing harness, so any design
    fits the package pins; resource counts come from the design alone. Fmax is the median of
    --seeds nextpnr runs, shown as "median MHz [min..max]"; every report records the speed grade.

    Hostile input is refused in one line before any tool runs: a top (manifest field or --top)
    that is not a Verilog identifier, a manifest that is not a regular JSON file of at most
    8 MiB, an output path that is a directory, FIFO or device. A symlink at an output path is
    replaced by the new file, never written through.

    Results are cached by content (design, yosys script, liberty file, tool versions, place
    and route options) in $NLIHW_CACHE/synth (default ~/.cache/nlihw/synth): a repeated run
    starts no tool. The first run of each YoWASP tool compiles its WebAssembly (about a minute).

    \b
    Examples:
      nlihw synth build/nli
      nlihw synth build/nli -t generic -t xcup -t ecp5 -t ice40
      nlihw synth build/nli -t ecp5 --speed 8
      nlihw synth build/nli --liberty my_stdcells.lib      (a clock estimate from its delays)
      nlihw synth build/scan -t generic-sram      (lanes mapped once: --hierarchy auto)
    """
    targets = targets or ("generic",)
    if liberty is not None and not any(t.startswith("generic") for t in targets):
        raise ParamsError("--liberty applies to the generic targets; add --target generic")
    if speed is not None:
        graded = [t for t in targets if TARGETS[t].pnr and TARGETS[t].pnr.speeds]
        if not graded:
            raise ParamsError("--speed applies to targets with speed grades (ecp5); add --target ecp5")
        for target in graded:
            TARGETS[target].speed(speed)           # a grade the device lacks: one line, before any run
    if hierarchy != "auto" and not any(t.startswith("generic") for t in targets):
        raise ParamsError("--hierarchy applies to the generic targets; add --target generic")
    if not 1 <= seeds <= MAX_SEEDS or seeds % 2 == 0:
        raise ParamsError(f"--seeds must be odd, 1 to {MAX_SEEDS} (the median is one run), got {seeds}")
    verilog, top, man = find_design(directory, top)
    params = man.get("params") if man is not None else None
    runs = []
    for target in targets:                 # every target's outputs checked before any tool runs
        pnr = TARGETS[target].pnr
        runs.append((target, dict(speed=speed if pnr and pnr.speeds else None,
                                  seeds=tuple(range(1, seeds + 1)) if pnr else None)))
        check_outputs(verilog, target, **runs[-1][1])
    err = Console(stderr=True)
    reports = []
    for target, kw in runs:
        # a spinner on a terminal; in a log a line per stage (and nlihw.cli's heartbeat)
        with verbosity.status(err, f"{target}: starting", prefix="synth ", announce=False) as update:
            generic = target.startswith("generic")
            rep = run_synth(verilog, top, target, liberty=liberty if generic else None,
                            params=params, progress=update,
                            hierarchy=hierarchy if generic else "auto", **kw)
        run = rep["run"]
        how = "cached" if run["cached"] else f"{run['seconds']:.1f} s"
        verbosity.progress(f"{target}: {how}; report {run['report']}")
        reports.append(rep)
    click.echo(format_table(reports, title=f"synthesis of {verilog.name}"), nl=False)
    for rep in reports:
        for line in sta_lines(rep):
            click.echo(line)
    for line in timing_lines(directory, top, reports, man):
        click.echo(line)


def sta_lines(rep: dict, slowest: int = 5) -> list[str]:
    """A generic report's static timing estimate: the clock estimate (a liberty with timing) or
    the logic depth in cells, then the ``slowest`` endpoint registers with their start."""
    t = rep["figures"].get("timing")
    if not t or not t["critical"]:
        return []
    ns = t["unit"] == "ns"
    lib = rep["liberty"]["file"] if rep.get("liberty") else "the library"
    head = (f"{rep['target']}: clock estimate {t['clock_estimate_mhz']:g} MHz (critical path "
            f"{t['critical']['delay']:.3f} ns, {t['critical']['from']} -> {t['critical']['to']}; "
            f"static estimate from {lib}: no wires, ideal clock, buffer trees over fanout "
            f"{(t.get('fanout_model') or {}).get('max_fanout', '-')})" if ns else
            f"{rep['target']}: logic depth per stage in cells ({lib} has no timing data; give "
            f"--liberty with NLDM tables for a clock estimate)")
    regs = [s for s in t["stages"] if s.get("kind", "register") == "register"][:slowest]
    width = max(len(s["register"]) for s in regs) if regs else 0
    return ([head] + [f"  {s['register']:<{width}}  "
                      + (f"{s['delay']:7.3f} ns" if ns else f"{s['delay']:4d} cells")
                      + f"  from {s['from']}" for s in regs]
            + (fanout_lines(t) if ns else []))


def fanout_lines(t: dict, shown: int = 3) -> list[str]:
    """The unbuffered high-fanout nets that make the netlist as written slower than the estimate
    (which assumes an ideal buffer tree on each, as placement would insert)."""
    aw, hf = t.get("critical_as_written"), t.get("high_fanout") or []
    if not aw or not hf or aw["delay"] <= t["critical"]["delay"]:
        return []
    n = (t.get("fanout_model") or {}).get("max_fanout", 8)
    out = [f"  as written (no buffers): {aw['delay']:.3f} ns, {aw['from']} -> {aw['to']}; "
           f"{len(hf)} nets drive more than {n} pins, the estimate assumes a buffer tree on each:"]
    for h in hf[:shown]:
        est = f"{h['estimate']:.3f} ns" if h["estimate"] is not None else "-"
        out.append(f"    {h['net']} ({h['cell']} {h['driver']}): {h['fanout']} loads, "
                   f"{h['as_written']:.3f} ns as written (from {h['from']}), {est} with the tree")
    return out


def timing_lines(directory: Path, top: str, reports: list[dict], manifest: dict | None = None) -> list[str]:
    """Achieved Fmax at the design's latency for each place-and-route report, and against the
    clock goal ``nlihw gen --target-mhz`` recorded in the manifest (same target and grade).
    ``manifest``: the one ``find_design`` checked (default: read ``<top>.manifest.json``)."""
    path = directory / f"{top}.manifest.json"
    try:
        latency, goal = manifest_timing(path, manifest if manifest is not None else load_manifest(path))
    except ParamsError:
        return []
    if latency is None:
        return []
    out = []
    for rep in reports:
        fmax = rep["figures"].get("fmax_mhz")
        estimate = fmax is None and rep["target"] == "generic"
        if estimate:                             # shown with its goal only (sta_lines has it)
            fmax = (rep["figures"].get("timing") or {}).get("clock_estimate_mhz")
            if not goal or goal.get("target") != "generic":
                continue
        if fmax is None:
            continue
        line = f"{rep['target']}{'' if rep.get('speed_grade') is None else ' -' + str(rep['speed_grade'])}: " \
               f"{fmax:.1f} MHz{' (static estimate)' if estimate else ''} at latency {latency} cycles"
        if goal and goal.get("goal_mhz") and goal.get("target") == rep["target"] \
                and goal.get("speed") == rep.get("speed_grade"):
            g = goal["goal_mhz"]
            verdict = "met" if fmax >= g else f"missed by {100 * (1 - fmax / g):.1f}%"
            lib = goal.get("liberty")
            if lib and lib.get("sha256") != (rep.get("liberty") or {}).get("sha256"):
                verdict = f"not comparable (the goal was set with liberty {lib.get('file')})"
            line += f"; goal {g:g} MHz ({'estimate at gen' if lib else 'model'} " \
                    f"{goal['predicted_mhz']:g}): {verdict}"
        out.append(line)
    return out
