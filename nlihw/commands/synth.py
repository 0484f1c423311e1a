"""``nlihw synth``: area and timing of a generated design with yosys and nextpnr (PyPI wheels)."""
from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console

from nlihw.errors import ParamsError
from nlihw.synth.driver import MAX_SEEDS, format_table, run_synth
from nlihw.synth.targets import TARGETS


def find_design(directory: Path, top: str | None) -> tuple[Path, str, dict | None]:
    """(Verilog file, top module, params or None) of an ``nlihw gen`` output directory.

    With a ``<top>.manifest.json`` the manifest names the top and gives the params; without one
    the directory must hold a single ``*.v`` file (or ``--top`` picks ``<top>.v``).
    """
    if not directory.is_dir():
        raise ParamsError(f"{directory}: no such directory (give an output directory of 'nlihw gen')")
    manifests = sorted(directory.glob("*.manifest.json"))
    if top is not None:
        chosen = [m for m in manifests if m.name == f"{top}.manifest.json"]
    elif len(manifests) > 1:
        names = ", ".join(m.name.removesuffix(".manifest.json") for m in manifests)
        raise ParamsError(f"{directory}: several designs ({names}); choose one with --top")
    else:
        chosen = manifests
    params = None
    if chosen:
        try:
            man = json.loads(chosen[0].read_text())
            top, params = man["top"], man.get("params")
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ParamsError(f"{chosen[0]}: not a usable manifest ({type(e).__name__}: {e})") from None
    if top is None:
        vs = sorted(directory.glob("*.v"))
        if len(vs) != 1:
            found = ", ".join(v.name for v in vs) or "none"
            raise ParamsError(f"{directory}: expected one Verilog file (found {found}); choose with --top")
        return vs[0], vs[0].stem, None
    verilog = directory / f"{top}.v"
    if not verilog.is_file():
        raise ParamsError(f"{verilog}: missing (the Verilog of top module {top!r})")
    return verilog, top, params


@click.command("synth")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("-t", "--target", "targets", multiple=True, type=click.Choice(list(TARGETS)),
              help="Target (repeatable; default generic). generic: gate equivalents and logic "
                   "depth on the shipped NAND2-equivalent library (memories become flip-flops "
                   "and gates; their bits are reported); generic-sram: the same with each memory "
                   "kept as an SRAM macro (bits reported, area not counted: for designs with "
                   "large state memories such as the scan unit); xcup: Xilinx UltraScale+ "
                   "LUT/FF/CARRY/DSP48E2/BRAM/LUTRAM; ecp5: Lattice ECP5-25F LUT4/FF/MULT18/EBR and "
                   "nextpnr Fmax; ice40: iCE40UP5K LUT4/FF/MAC16/RAM4K and nextpnr Fmax.")
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
def command(directory: Path, targets: tuple[str, ...], liberty: Path | None, top: str | None,
            speed: int | None, seeds: int):
    """Synthesize the design in DIRECTORY (an 'nlihw gen' output) and print its figures.

    Each target writes DIRECTORY/synth/<target>.json (deterministic: sorted keys, no
    timestamps, no absolute paths) and copies the tool logs to DIRECTORY/synth/logs/. Fmax
    (ecp5, ice40) is measured with the design inside a small timing harness, so any design
    fits the package pins; resource counts come from the design alone. Fmax is the median of
    --seeds nextpnr runs, shown as "median MHz [min..max]"; every report records the speed grade.

    Results are cached by content (design, yosys script, liberty file, tool versions, place
    and route options) in $NLIHW_CACHE/synth (default ~/.cache/nlihw/synth): a repeated run
    starts no tool. The first run of each YoWASP tool compiles its WebAssembly (about a minute).

    \b
    Examples:
      nlihw synth build/nli
      nlihw synth build/nli -t generic -t xcup -t ecp5 -t ice40
      nlihw synth build/nli -t ecp5 --speed 8
      nlihw synth build/nli --liberty my_stdcells.lib      (a clock estimate from its delays)
      nlihw synth build/scan -t generic-sram
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
    if not 1 <= seeds <= MAX_SEEDS or seeds % 2 == 0:
        raise ParamsError(f"--seeds must be odd, 1 to {MAX_SEEDS} (the median is one run), got {seeds}")
    verilog, top, params = find_design(directory, top)
    err = Console(stderr=True)
    reports = []
    for target in targets:
        pnr = TARGETS[target].pnr
        with err.status(f"{target}: starting") as status:
            rep = run_synth(verilog, top, target, liberty=liberty if target.startswith("generic") else None,
                            params=params, progress=status.update,
                            speed=speed if pnr and pnr.speeds else None,
                            seeds=tuple(range(1, seeds + 1)) if pnr else None)
        run = rep["run"]
        how = "cached" if run["cached"] else f"{run['seconds']:.1f} s"
        click.echo(f"{target}: {how}; report {run['report']}", err=True)
        reports.append(rep)
    click.echo(format_table(reports, title=f"synthesis of {verilog.name}"), nl=False)
    for rep in reports:
        for line in sta_lines(rep):
            click.echo(line)
    for line in timing_lines(directory, top, reports):
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
    return [head] + [f"  {s['register']:<{width}}  "
                     + (f"{s['delay']:7.3f} ns" if ns else f"{s['delay']:4d} cells")
                     + f"  from {s['from']}" for s in regs]


def timing_lines(directory: Path, top: str, reports: list[dict]) -> list[str]:
    """Achieved Fmax at the design's latency for each place-and-route report, and against the
    clock goal ``nlihw gen --target-mhz`` recorded in the manifest (same target and grade)."""
    try:
        man = json.loads((directory / f"{top}.manifest.json").read_text())
        latency, goal = int(man["latency"]), man.get("timing_goal")
    except (OSError, ValueError, KeyError, TypeError):
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
