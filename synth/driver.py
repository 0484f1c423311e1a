"""Synthesize a Verilog design for one target and report its figures, cached by content.

``run_synth`` runs yosys (and nextpnr for the FPGA targets with place and route), writes a
deterministic JSON report to ``<design dir>/synth/<target>.json`` (sorted keys, no timestamps, no
absolute paths) with copies of the tool logs in ``synth/logs/``, and returns the report plus a
``run`` section (cached or not, wall time, absolute paths) that is never written to the file.

Fmax is the median of several nextpnr seeds (default 1, 2, 3), with the minimum and maximum; the
yosys result (with the timing harness netlist) and every seed's run are cache entries of their
own, so another seed or speed grade reruns only nextpnr. ``figures.fmax_mhz`` is the median.

Hostile input: ``top`` must be a Verilog identifier (as ``nlihw gen --top``) and every value put
into a yosys script is a plain token (yosys has no quoting for a newline or a quote; see
``_token``); the design and liberty are read only if they are regular files; every output (the
report and the log copies) is checked before any tool runs and written together through
``nlihw.atomic.OutputSet`` (a symlink there is replaced, never written through).
"""
from __future__ import annotations

import gzip
import hashlib
import json
import re
import shutil
import statistics
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

from nlihw.atomic import OutputSet, check_destination
from nlihw.errors import ParamsError, ToolError
from nlihw.hdl.common.verilog_names import is_keyword
from nlihw.atomic import read_regular
from . import cache, module_dedupe, sta, tools
from .liberty import Library, parse as parse_liberty, read_bytes as read_liberty
from .harness import HARNESS_TOP, HARNESS_VERSION, HarnessError, harness_verilog, ports_of
from .report_table import format_table
from .targets import DEDUPE_VERSION, PREP_SCRIPT, TARGETS, Target, internal_ffs

__all__ = ["run_synth", "format_table", "report_name", "output_paths", "check_outputs", "check_top",
           "SHIPPED_LIBERTY", "REPORT_SCHEMA"]

REPORT_SCHEMA = 2          # the report file's layout (2: Fmax of several seeds, speed grade)
CACHE_SCHEMA = 1           # part of the cache keys: bump when a cached result's layout changes
SHIPPED_LIBERTY = Path(__file__).with_name("nand2_ge.lib")
GE_UNIT = "GE (NAND2 equivalents, nand2_ge.lib)"
LIBERTY_UNIT = "liberty area units (um^2 in most libraries)"


class _Failed(Exception):
    """A tool failed inside a run directory; the driver moves the directory, then reports."""

    def __init__(self, failure: tools.Failure, log: Path, what: str):
        super().__init__(what)
        self.failure, self.log, self.what = failure, log, what


MAX_SEEDS = 9
# generic targets: "keep" maps each unique module once and sums over instances; "flat" maps the
# flattened design; "auto" keeps the hierarchy when a module has two or more instances
HIERARCHY_MODES = ("auto", "keep", "flat")
MAX_DESIGN_BYTES = 1 << 30           # a generated design's Verilog is at most tens of MB
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# a token yosys takes as it is: no space, quote, newline, glob character, option dash, "+/"
# (share directory), "~/" (home) or "<<" (here document); yosys has no escape for the others
_TOKEN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def check_top(top, what: str = "top") -> str:
    """``top`` if it is a Verilog identifier that is not a keyword (the rule of ``nlihw gen
    --top``), else a one-line ``ParamsError`` naming ``what`` (e.g. the manifest field)."""
    if not isinstance(top, str) or not _IDENT.fullmatch(top) or is_keyword(top):
        shown = repr(top) if len(repr(top)) <= 80 else repr(top)[:77] + "..."
        raise ParamsError(f"{what} must be a Verilog identifier (a letter or _, then letters, digits "
                          f"or _; not a keyword), got {shown}")
    return top


def report_name(target: str, speed: int | None = None) -> str:
    """File stem of a report and its logs: the target, plus ``-speed<N>`` off the default grade."""
    t = TARGETS[target]
    grade = t.speed(speed)
    return target if grade == (t.pnr.default_speed if t.pnr else None) else f"{target}-speed{grade}"


def output_paths(verilog: "str | Path", target: str, *, report_dir: "str | Path | None" = None,
                 speed: int | None = None, seeds: "tuple[int, ...] | None" = None) -> list[Path]:
    """Every file ``run_synth`` may write for these arguments: the report, then the log copies."""
    t = TARGETS[target]
    stem = report_name(target, speed)
    out = Path(report_dir) if report_dir is not None else Path(verilog).parent / "synth"
    logs = ["yosys.log"] + (["prep.yosys.log"] if t.hier_script else [])
    if t.pnr is not None:
        logs += ["harness.log"] + [f"nextpnr.seed{s}.{x}" for s in _check_seeds(t, seeds)
                                   for x in ("log", "report.json")]
    return [out / f"{stem}.json"] + [out / "logs" / f"{stem}.{f}" for f in logs]


def check_outputs(verilog: "str | Path", target: str, **kw) -> None:
    """Refuse (``OutputError``, one line) before any tool runs when an output of ``run_synth``
    exists but is not a regular file (a directory, a FIFO, a device) or has a file as parent."""
    for path in output_paths(verilog, target, **kw):
        check_destination(path)


def _check_seeds(t: Target, seeds) -> tuple[int, ...]:
    if seeds is None:
        return t.pnr.seeds if t.pnr else ()
    if t.pnr is None:
        raise ParamsError(f"seeds apply to the place-and-route targets only, not {t.name!r}")
    seeds = tuple(seeds)
    if (not seeds or len(seeds) > MAX_SEEDS or len(seeds) % 2 == 0 or len(set(seeds)) != len(seeds)
            or any(isinstance(x, bool) or not isinstance(x, int) or x < 1 for x in seeds)):
        raise ParamsError(f"seeds must be an odd number (1 to {MAX_SEEDS}) of distinct positive "
                          f"integers (the median is one run), got {list(seeds)}")
    return seeds


def run_synth(verilog: "str | Path", top: str, target: str, *, liberty: "str | Path | None" = None,
              cache_dir: "str | Path | None" = None, params: dict | None = None,
              progress: Callable[[str], None] | None = None,
              report_dir: "str | Path | None" = None, speed: int | None = None,
              seeds: "tuple[int, ...] | None" = None, hierarchy: str = "auto") -> dict:
    """Synthesize module ``top`` of ``verilog`` for ``target`` and return its report.

    ``liberty`` (generic target only) replaces the shipped gate library; areas are then in that
    library's units. ``params`` is copied into the report. ``progress`` receives one-line status
    messages. The report goes to ``report_dir`` (default: ``synth/`` beside the Verilog file) as
    ``<target>.json``, or ``<target>-speed<N>.json`` for a ``speed`` grade other than the
    target's default. ``seeds``: the nextpnr seeds whose median is the Fmax (default 1, 2, 3).
    ``hierarchy`` (generic targets): one of ``HIERARCHY_MODES``; the report's ``flow.hierarchical``
    says which flow ran, ``flow.modules`` the instances, cells and own area of each module.
    """
    t, grade, seeds, verilog = _check_args(verilog, top, target, liberty, report_dir, speed, seeds,
                                           hierarchy)
    design, lib, lib_bytes = _read_inputs(t, verilog, liberty, params)

    script = with_kept_registers(t.script_text(), design) if t.pnr else t.script_text()
    versions = {tool: tools.version(tool) for tool in ["yosys"] + ([t.pnr.tool] if t.pnr else [])}
    design_sha = hashlib.sha256(design).hexdigest()
    lib_sha = hashlib.sha256(lib_bytes).hexdigest() if lib is not None else None
    key = _yosys_key(t, top, design_sha, script, lib_sha, versions["yosys"], hierarchy)
    root = Path(cache_dir) if cache_dir is not None else cache.default_root()

    t0 = time.perf_counter()
    hit = cache.lookup(root, key)
    if hit is not None:
        result, entry = hit
    else:
        result, entry = _yosys_stage(t, root, key, (verilog.name, design, top),
                                     (lib, lib_bytes), script, progress, hierarchy)
    runs, runs_cached = _pnr_seeds(t, root, entry, result, seeds, grade,
                                   versions[t.pnr.tool] if t.pnr else None, progress)
    cached = hit is not None and runs_cached
    seconds = time.perf_counter() - t0

    stem = report_name(target, grade)
    out = Path(report_dir) if report_dir is not None else verilog.parent / "synth"
    outputs = OutputSet()
    logs = _keep_logs(outputs, out, stem, result, entry, runs)
    shipped = lib is not None and lib_bytes == SHIPPED_LIBERTY.read_bytes()
    figures, pnr = _figures(t, grade, seeds, result, runs, shipped)
    report = {
        "schema": REPORT_SCHEMA, "target": target, "top": top,
        "device": (t.device_name(grade) if not t.uses_liberty or shipped
                   else f"gate library {lib.name} (user liberty)"),
        "speed_grade": grade,
        "params": params,
        "design": {"file": verilog.name, "sha256": design_sha},
        "liberty": {"file": lib.name, "sha256": lib_sha, "shipped": shipped} if lib is not None else None,
        "tools": {**versions, **result["builds"]},
        "flow": {"script": t.script, "script_sha256": hashlib.sha256(script.encode()).hexdigest(),
                 "pnr": pnr, **(_hierarchy_summary(t, hierarchy, result) if t.hier_script else {}),
                 **({"mapper_note": result["mapper_note"]} if result.get("mapper_note") else {}),
                 **({"netlist_pass": {"name": t.netlist_pass.name, **result["netlist_pass"]}}
                    if result.get("netlist_pass") else {})},
        "figures": figures,
        "cells": result["cells"],
        "logs": logs,
    }
    path = out / f"{stem}.json"
    outputs.add_text(path, json.dumps(report, sort_keys=True, indent=1) + "\n")
    outputs.commit()                     # the report and its logs together, or none of them
    report["run"] = {"cached": cached, "seconds": round(seconds, 3), "report": str(path),
                     "cache_entry": str(entry), "pnr_entries": [str(e) for _, _, e in runs],
                     "logs": {k: str(out / v) for k, v in logs.items()}}
    return report


def _check_args(verilog, top, target, liberty, report_dir, speed, seeds, hierarchy):
    """(target, speed grade, seeds, verilog path) of ``run_synth``'s arguments; refuses (one
    line) a bad argument or an output that is not a regular file before anything is read or run."""
    if target not in TARGETS:
        raise ParamsError(f"unknown synthesis target {target!r}; choose from {', '.join(TARGETS)}")
    t = TARGETS[target]
    grade = t.speed(speed)
    seeds = _check_seeds(t, seeds)
    check_top(top)
    _check_hierarchy(t, hierarchy)
    verilog = Path(verilog)
    if liberty is not None and not t.uses_liberty:
        raise ParamsError(f"--liberty applies to the generic targets only, not {target!r}")
    check_outputs(verilog, target, report_dir=report_dir, speed=grade, seeds=seeds)
    return t, grade, seeds, verilog


# Registers the RTL marks keep (fan-out copies, e.g. the scan unit's ``state_copy``) stay copies
# on the place-and-route targets: yosys's opt_merge spares a cell marked keep, and Amaranth puts
# the mark on the register's wire, so the step copies it onto the flip-flop cell. Only designs
# that use the mark get the step, so every other design's cache key stays as it was.
KEEP_STEP = "proc\nsetattr -set keep 1 a:keep %ci1:+[Q] t:$dff %i\n"
_HIERARCHY_LINE = "hierarchy -check -top {top}\n"


def with_kept_registers(script: str, design: bytes) -> str:
    """``script`` with ``KEEP_STEP`` after its hierarchy line when ``design`` marks a signal keep."""
    if b"(* keep" not in design or _HIERARCHY_LINE not in script:
        return script
    return script.replace(_HIERARCHY_LINE, _HIERARCHY_LINE + KEEP_STEP, 1)


def _yosys_key(t: Target, top: str, design_sha: str, script: str, lib_sha, yosys_version,
               hierarchy: str) -> str:
    """Cache key of the yosys stage: for the place-and-route targets it also keeps the timing
    harness netlist, which each seed's nextpnr run (an entry of its own) reads."""
    return cache.key_of({
        "schema": CACHE_SCHEMA, "target": t.name, "top": top, "design": design_sha,
        "script": script, "liberty": lib_sha, "tools": {"yosys": yosys_version},
        "pnr": None, "harness": HARNESS_VERSION if t.pnr else None,
        **({"netlist_pass": t.netlist_pass.version} if t.netlist_pass else {}),
        **({"hierarchy": hierarchy, "hier_scripts": list(t.hier_texts()) if hierarchy != "flat" else None,
            "dedupe": DEDUPE_VERSION if hierarchy != "flat" else None} if t.hier_script else {}),
    })


def _pnr_seeds(t: Target, root: Path, entry: Path, result: dict, seeds, grade, pnr_version,
               progress) -> tuple[list, bool]:
    """The nextpnr run of each seed (place-and-route targets, when the yosys stage built the
    harness): ([(seed, result, cache entry)], every run cached)."""
    runs, cached = [], True
    if t.pnr is None or result["harness"]["note"] is not None:
        return runs, cached
    for seed in seeds:
        run_result, run_entry, run_cached = _pnr_seed(t, root, entry, result["harness"], seed, grade,
                                                      pnr_version, progress)
        runs.append((seed, run_result, run_entry))
        cached = cached and run_cached
        if run_result["note"] and _DOES_NOT_FIT in run_result["note"]:
            break            # packing does not depend on the seed: the others would not fit either
    return runs, cached


def _figures(t: Target, grade, seeds, result: dict, runs, shipped: bool) -> tuple[dict, dict | None]:
    """The report's ``figures`` (the area unit; the median Fmax of the seeds) and ``flow.pnr``."""
    figures = dict(result["figures"])
    if t.uses_liberty:
        figures["area_unit"] = GE_UNIT if shipped else LIBERTY_UNIT
        if shipped:
            figures["gate_equivalents"] = figures["area"]
    pnr = None
    if t.pnr is not None:
        pnr = _pnr_summary(t, grade, seeds, result["harness"], [r for _, r, _ in runs])
        figures.update({k: pnr[k] for k in ("fmax_mhz", "fmax_min_mhz", "fmax_max_mhz")})
    return figures, pnr

def _read_inputs(t: Target, verilog: Path, liberty, params) -> tuple[bytes, Path | None, bytes]:
    """(design bytes, liberty path or None, liberty bytes): regular files only, size-limited;
    ``params`` must be JSON data (it is copied into the report)."""
    design = read_regular(verilog, "design", MAX_DESIGN_BYTES)
    lib = Path(liberty) if liberty is not None else (SHIPPED_LIBERTY if t.uses_liberty else None)
    lib_bytes = read_liberty(lib) if lib is not None else b""
    try:
        json.dumps(params)
    except (TypeError, ValueError) as e:
        raise ParamsError(f"params must be JSON data: {e}") from None
    return design, lib, lib_bytes


def _yosys_stage(t: Target, root: Path, key: str, design: tuple, lib: tuple, script: str,
                 progress, hierarchy: str = "flat") -> tuple[dict, Path]:
    """Run yosys in a fresh work directory of the cache and commit it as entry ``key``;
    ``design``: (file name, bytes, top), ``lib``: (path or None, bytes). A tool failure keeps
    the directory as ``<key>.failed`` and becomes a one-line ``ToolError`` naming its log."""
    work = cache.new_workdir(root, key)
    with _run_in(root, key, work, t.name):
        result = _synthesize(t, script, *design, *lib, work, progress, hierarchy)
    for big in ("design.json", "design.il", "design.dedup.il"):      # large; the scripts remake them
        (work / big).unlink(missing_ok=True)
    return result, cache.commit(root, key, work, result)


def _keep_logs(outputs: OutputSet, out: Path, stem: str, result: dict, entry: Path, runs) -> dict:
    """Add the copies of the cached tool logs to ``outputs`` as ``out/logs/<stem>.<file>``;
    returns {name: path relative to ``out``}. Only plain file names of regular files are taken
    from a cache entry (never a link, never a path)."""
    logs = {}

    def keep(name, src_entry, file, as_file):
        data = cache.entry_file(src_entry, file) if _TOKEN.fullmatch(str(file)) else None
        if data is not None and _TOKEN.fullmatch(as_file):
            logs[name] = f"logs/{stem}.{as_file}"
            outputs.add_bytes(out / logs[name], data)
    for name, file in sorted(result["logs"].items()):
        keep(name, entry, file, file)
    for seed, r, run_entry in runs:
        for name, file in sorted(r["logs"].items()):
            keep(f"{name}_seed{seed}", run_entry, file, file.replace("nextpnr.", f"nextpnr.seed{seed}.", 1))
    return logs


def _pnr_summary(t: Target, grade, seeds, harness: dict, runs: list[dict]) -> dict:
    """The report's ``flow.pnr``: per-seed runs, and the median, minimum and maximum Fmax."""
    info = {"method": f"timing harness v{HARNESS_VERSION} (inputs from a shift register, outputs "
                      "into a registered XOR tree; 3 pins); Fmax: median of the seeds",
            "clock": "clk", "constraint_mhz": t.pnr.freq_mhz, "speed_grade": grade,
            "seeds": list(seeds), "args": [*t.pnr.device_args, *t.pnr.speed_args(grade)],
            "runs": [{"seed": r["seed"], "fmax_mhz": r["fmax_mhz"], "note": r["note"]} for r in runs],
            "fmax_mhz": None, "fmax_min_mhz": None, "fmax_max_mhz": None,
            "note": harness["note"], "utilization": None}
    if not runs:
        return info
    got = [r for r in runs if r["fmax_mhz"] is not None]
    if len(got) < len(runs):
        bad = next(r for r in runs if r["fmax_mhz"] is None)
        info["note"] = (bad["note"] if not got else
                        f"{bad['note']} (seed {bad['seed']}; median of the {len(got)} other seeds)")
    if got:
        values = [r["fmax_mhz"] for r in got]
        med = statistics.median_low(values)
        info.update(fmax_mhz=med, fmax_min_mhz=min(values), fmax_max_mhz=max(values))
        info["utilization"] = next(r for r in got if r["fmax_mhz"] == med)["utilization"]
    else:
        info["utilization"] = runs[0]["utilization"]
    return info


def _printable(text: str, limit: int = 200) -> str:
    """``text`` on one line of printable characters (a log echoes the design's bytes)."""
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return text if len(text) <= limit else text[:limit - 3] + "..."


@contextmanager
def _run_in(root: Path, key: str, work: Path, target: str):
    """Around tool runs in the cache work directory ``work``: a tool failure keeps it as
    ``<key>.failed`` and becomes a one-line ``ToolError`` naming its log; any other exit removes it."""
    try:
        yield
    except _Failed as f:
        where = cache.keep_failed(root, key, work)
        raise _tool_error(f, target, where / f.log.relative_to(work)) from None
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def _tool_error(f: _Failed, target: str, log: Path) -> ToolError:
    """One line: the tool, the target, the step, the first ERROR line of the log and its path."""
    data = cache.entry_file(log.parent, log.name)
    first = tools.first_error(data.decode(errors="replace")) if data is not None else ""
    rc = f", exit {f.failure.returncode}" if f.failure.returncode else ""
    head = f"{f.failure.tool} failed for target {target} ({_printable(f.what)}{rc})"
    head += f": {_printable(first)}" if first else ""
    return ToolError(f"{head}; full log: {log}")


def _say(progress, msg: str, tool: str) -> None:
    if progress is not None:
        if not tools.wasm_compiled(tool):
            msg += f" (first run of {tool}: compiling its WebAssembly, ~1 min)"
        progress(msg)


def _token(value: str) -> str:
    """``value`` if yosys reads it as one token, unchanged (see ``_TOKEN``); else a ParamsError.

    Quoting cannot help: the script tokenizer ends a quoted token at a quote followed by a space,
    a newline always ends the command, and only frontends and backends strip the quotes."""
    if not isinstance(value, str) or not _TOKEN.fullmatch(value):
        raise ParamsError(f"refusing to put {_printable(repr(value), 80)} into a yosys script "
                          f"(only letters, digits, '_', '.', '-' are safe there)")
    return value


def _subst(script: str, **names: "str | tuple[str, ...]") -> str:
    """Replace the ``{name}`` placeholders of a target script (a tuple: several tokens); each
    value must be a safe token (``_token``); an unknown placeholder is an error."""
    for k, v in names.items():
        script = script.replace("{" + k + "}", " ".join(map(_token, (v,) if isinstance(v, str) else v)))
    left = sorted(set(re.findall(r"\{(\w+)\}", script)))
    if left:
        raise ParamsError(f"yosys script uses unknown placeholders: {', '.join(left)}")
    return script


def _yosys(work: Path, tag: str, script: str, what: str, progress, target: str) -> None:
    (work / f"{tag}.ys").write_text(script)
    _say(progress, f"{target}: yosys, {what}", "yosys")
    fail = tools.run("yosys", ["-q", "-l", f"{tag}.log", "-s", f"{tag}.ys"], work, work / f"{tag}.console.log")
    log = work / f"{tag}.log"
    if fail is not None and abc9_crashed(log) and _ABC9_FLOW.search(script):
        # a yosys bug (an assertion while abc9's mapping is read back) on some netlists: map
        # with abc instead, and say so beside the figures (``<tag>.noabc9``)
        log.rename(work / f"{tag}.abc9.log")
        _say(progress, f"{target}: yosys's abc9 crashed (log {tag}.abc9.log); {what} again with abc", "yosys")
        (work / f"{tag}.ys").write_text(_ABC9_FLOW.sub(_with_abc, script))
        fail = tools.run("yosys", ["-q", "-l", f"{tag}.log", "-s", f"{tag}.ys"], work,
                         work / f"{tag}.console.log")
        if fail is None:
            (work / f"{tag}.noabc9").write_text("abc9 crashed; LUTs mapped with abc\n")
    if fail is not None:
        raise _Failed(fail, log if log.is_file() else fail.log, what)


_ABC9_FLOW = re.compile(r"^(\s*synth_ecp5\b)(.*)$", re.M)


def _with_abc(m: re.Match) -> str:
    """``synth_ecp5 ARGS`` as its steps with abc for abc9's LUT mapping (synth_lattice's
    ``map_luts`` step; yosys 0.70 has no ``-noabc9`` for ECP5)."""
    cmd, args = m.group(1), m.group(2)
    return (f"{cmd}{args} -run :map_luts\ntechmap -map +/lattice/latches_map.v\nabc -lut 4\nclean\n"
            f"{cmd}{args} -run map_cells:")


def abc9_crashed(log: Path) -> bool:
    """The yosys run stopped at an internal assertion inside abc9's passes."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return False
    steps = re.findall(r"^[\d.]+ Executing (\S+)", text, re.M)
    return bool(steps) and "ABC" in steps[-1].upper() and re.search(r"^ERROR: Assert", text, re.M) is not None


def _stat(path: Path) -> dict:
    return json.loads(path.read_text())["design"]


def _yosys_build(log: Path) -> str:
    m = re.search(r"^(Yosys \S+) \((git sha1 \w+)", log.read_text(errors="replace"), re.M)
    return f"{m.group(1)} ({m.group(2)})" if m else "unknown"


def _synthesize(t: Target, script: str, vname: str, design: bytes, top: str, lib: Path | None,
                lib_bytes: bytes, work: Path, progress, hierarchy: str = "flat") -> dict:
    """Run the tools in ``work``; returns the cacheable result (figures, cells, builds, logs, pnr)."""
    if not _TOKEN.fullmatch(vname) or not vname.endswith(".v") or vname == "harness.v":
        vname = "design.v"            # keep the yosys command line simple and the harness apart
    (work / vname).write_bytes(design)
    names = {"verilog": vname, "top": top, "stat": "design.stat.json", "json": "design.json"}
    timing_lib = None
    if lib is not None:
        (work / "cells.lib").write_bytes(lib_bytes)
        names.update(liberty="cells.lib", memstat="design.memstat.json", prestat="design.prestat.json",
                     netlist="design.mapped.json")
        timing_lib = parse_liberty(lib_bytes.decode(errors="replace"), str(lib))   # errors before yosys
    hier = _prepare_hierarchy(t, names, work, progress, hierarchy) if lib is not None else None
    if hier is not None:
        _yosys(work, "yosys", _subst(t.hier_texts()[1], **hier["names"]),
               f"synthesizing {top}: mapping each of {hier['unique']} modules once", progress, t.name)
    else:
        flat = ": mapping the flattened design" if (work / "prep.yosys.log").is_file() else ""
        _yosys(work, "yosys", _subst(script, **names), f"synthesizing {top}{flat}", progress, t.name)
    stat = _stat(work / "design.stat.json")
    cells = {c: n for c, n in sorted(stat["num_cells_by_type"].items()) if c != "$scopeinfo"}
    logs = {"yosys": "yosys.log"}
    if (work / "prep.yosys.log").is_file():
        logs["yosys_prep"] = "prep.yosys.log"
    result = {"cells": cells, "builds": {"yosys_build": _yosys_build(work / "yosys.log")}, "logs": logs}
    if t.uses_liberty:
        result["figures"] = _generic_figures(stat, cells, work, t.sram_macros, top, timing_lib)
        result["hierarchy"] = (_module_table(json.loads((work / "design.modstat.json").read_text()), top,
                                             hier["merged"]) if hier is not None else None)
    else:
        if t.netlist_pass is not None:
            # the pass (e.g. ECP5 DSP register packing) changes the cell counts: apply it to the
            # design's netlist as nextpnr will see it inside the harness
            design_json = json.loads((work / "design.json").read_text())
            done = t.netlist_pass.apply(design_json, top)
            cells = _recount(design_json, top, cells)
            result["cells"] = cells
            result["netlist_pass"] = done
        result["figures"] = t.figures(cells)
        unmapped = sum(n for c, n in cells.items() if c.startswith("$"))
        if unmapped:
            result["figures"]["unmapped_cells"] = unmapped
    if t.pnr is not None:
        result["harness"] = _harness(t, script, vname, top, work, progress)
        result["logs"].update({"harness_yosys": "harness.log"} if (work / "harness.log").is_file() else {})
    fallback = sorted(f.stem for f in work.glob("*.noabc9"))
    if fallback:
        result["mapper_note"] = (f"yosys's abc9 crashed ({', '.join(fallback)} run; a yosys bug), so LUTs "
                                 f"were mapped with abc, which is not timing-driven")
    return result


def _check_hierarchy(t: Target, hierarchy) -> None:
    if hierarchy not in HIERARCHY_MODES:
        raise ParamsError(f"hierarchy must be one of {', '.join(HIERARCHY_MODES)}, "
                          f"got {_printable(repr(hierarchy), 40)}")
    if hierarchy != "auto" and not t.hier_script:
        raise ParamsError(f"hierarchy applies to the generic targets only, not {t.name!r}")


def _prepare_hierarchy(t: Target, names: dict, work: Path, progress, hierarchy: str) -> dict | None:
    """Step 1 of the hierarchical flow: elaborate, dump RTLIL, merge identical modules. None: map
    the flattened design instead ("flat", or "auto" when no module has two instances)."""
    if hierarchy == "flat" or not t.hier_script:
        return None
    _yosys(work, "prep.yosys", _subst(t.hier_texts()[0], verilog=names["verilog"], top=names["top"],
                                liberty=names["liberty"], memstat=names["memstat"], rtlil="design.il"),
           f"synthesizing {names['top']}", progress, t.name)
    text, merged = module_dedupe.dedupe((work / "design.il").read_text())
    children = module_dedupe.children_of(text)
    counts = module_dedupe.instance_counts(children, "\\" + names["top"])
    if hierarchy == "auto" and max(counts.values()) < 2:
        return None
    (work / "design.dedup.il").write_text(text)
    keep = {k: v for k, v in names.items() if k in ("top", "liberty", "prestat", "stat", "netlist")}
    return {"names": {**keep, "rtlil": "design.dedup.il", "modstat": "design.modstat.json"},
            "unique": len(counts), "merged": {k.removeprefix("\\"): len(v) for k, v in merged.items()}}


def _module_table(modstat: dict, top: str, merged: dict) -> dict:
    """{module: instances, own cells (submodule instances not counted), own area, copies merged
    into it}: the mapped hierarchy of the report's ``flow.modules``."""
    mods = {m.removeprefix("\\"): v for m, v in modstat["modules"].items()}
    children = {m: {c: n for c, n in v["num_cells_by_type"].items() if c in mods} for m, v in mods.items()}
    counts = module_dedupe.instance_counts(children, top)
    table = {}
    for m, n in sorted(counts.items()):
        v = mods[m]
        sub = sum(k * float(mods[c].get("area", 0.0)) for c, k in children[m].items())
        table[m] = {"instances": n, "cells": v["num_cells"] - sum(children[m].values()),
                    "area": round(float(v.get("area", 0.0)) - sub, 3), "merged": merged.get(m, 0)}
    return table


def _hierarchy_summary(t: Target, hierarchy: str, result: dict) -> dict:
    """The report's ``flow`` entries of the hierarchical flow."""
    modules = result.get("hierarchy")
    return {"hierarchy": hierarchy, "hierarchical": modules is not None, "modules": modules,
            **({"script": t.hier_script, "prep_script": PREP_SCRIPT,
                "script_sha256": hashlib.sha256(t.hier_texts()[1].encode()).hexdigest()}
               if modules is not None else {})}


def _recount(netlist: dict, top: str, cells: dict) -> dict:
    """``cells`` (yosys stat counts by type) with the mapped cells of ``top`` counted anew."""
    counts: dict = {}
    for c in netlist["modules"][top]["cells"].values():
        counts[c["type"]] = counts.get(c["type"], 0) + 1
    return {c: counts.get(c, 0) for c in cells if counts.get(c, 0)} | \
        {c: n for c, n in counts.items() if c not in cells and c != "$scopeinfo"}


def _generic_figures(stat: dict, cells: dict, work: Path, sram_macros: bool = False,
                     top: str | None = None, timing_lib: Library | None = None) -> dict:
    """Area, flip-flops, memories, ltp's logic depth and the static timing estimate (``timing``:
    per-stage delays in ns with a liberty that has timing, else logic depth in cells)."""
    macros = cells.get("$mem_v2", 0) if sram_macros else 0
    unmapped = {c: n for c, n in cells.items() if c.startswith("$") and not (sram_macros and c == "$mem_v2")}
    if unmapped:
        log = work / "yosys.log"
        raise _Failed(tools.Failure("yosys", 0, log), log,
                      "cells left unmapped by the liberty file: "
                      + ", ".join(f"{c} x{n}" for c, n in unmapped.items()))
    ffs, latches = internal_ffs(_stat(work / "design.prestat.json")["num_cells_by_type"])
    mem = _stat(work / "design.memstat.json")
    m = re.findall(r"Longest topological path in \S+ \(length=(\d+)\)",
                   (work / "yosys.log").read_text(errors="replace"))
    timing = None
    netlist = work / "design.mapped.json"
    if timing_lib is not None and netlist.is_file():
        timing = sta.analyse(json.loads(netlist.read_text()), top, timing_lib)
        netlist.unlink()                         # large; the script can remake it
    return {"area": round(float(stat.get("area", 0.0)), 3),
            "sequential_area": round(float(stat.get("sequential_area", 0.0)), 3),
            "flip_flops": ffs, "latches": latches, "cells": sum(cells.values()),
            # memories (RAM and ROM): built from FFs and logic (generic), or kept as SRAM macros
            # whose area is not in "area" (generic-sram)
            "memories": mem.get("num_memories", 0), "memory_bits": mem.get("num_memory_bits", 0),
            **({"sram_macros": macros} if sram_macros else {}),
            "logic_depth": int(m[-1]) if m else 0,
            **({"timing": timing} if timing is not None else {})}


_DOES_NOT_FIT = "the design does not fit"
_UTIL = re.compile(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+\d+%", re.M)


def _harness(t: Target, script: str, vname: str, top: str, work: Path, progress) -> dict:
    """Synthesize the design inside the timing harness; keeps ``harness.json.gz`` for nextpnr."""
    try:
        hv = harness_verilog(top, ports_of(json.loads((work / "design.json").read_text()), top))
    except HarnessError as e:
        return {"file": None, "sha256": None, "note": f"Fmax unavailable: {e}"}
    (work / "harness.v").write_text(hv)
    _yosys(work, "harness", _subst(script, verilog=(vname, "harness.v"), top=HARNESS_TOP,
                                   stat="harness.stat.json", json="harness.json"),
           "synthesizing the timing harness", progress, t.name)
    if t.netlist_pass is not None:
        harness = json.loads((work / "harness.json").read_text())
        t.netlist_pass.apply(harness, HARNESS_TOP)
        (work / "harness.json").write_text(json.dumps(harness))
    netlist = (work / "harness.json").read_bytes()
    (work / "harness.json.gz").write_bytes(gzip.compress(netlist, mtime=0))
    (work / "harness.json").unlink()
    return {"file": "harness.json.gz", "sha256": hashlib.sha256(netlist).hexdigest(), "note": None}


def _pnr_seed(t: Target, root: Path, entry: Path, harness: dict, seed: int, grade, version: str,
              progress) -> tuple[dict, Path, bool]:
    """(result, cache entry, cached) of one nextpnr seed on the harness netlist."""
    key = cache.key_of({"schema": CACHE_SCHEMA, "stage": "pnr", "netlist": harness["sha256"],
                        "tools": {t.pnr.tool: version}, "pnr": t.pnr.run_key(seed, grade)})
    hit = cache.lookup(root, key)
    if hit is not None:
        return hit[0], hit[1], True
    work = cache.new_workdir(root, key)
    with _run_in(root, key, work, t.name):
        packed = cache.entry_file(entry, harness["file"]) if _TOKEN.fullmatch(str(harness["file"])) else None
        if packed is None:
            raise ParamsError(f"{entry}: the cached harness netlist is missing or damaged; delete "
                              f"this cache entry and run again")
        (work / "harness.json").write_bytes(gzip.decompress(packed))
        result = _place_and_route(t, work, seed, grade, progress)
    (work / "harness.json").unlink(missing_ok=True)
    return result, cache.commit(root, key, work, result), False


def _place_and_route(t: Target, work: Path, seed: int, grade, progress) -> dict:
    """Fmax of the ``clk`` domain for one seed: the harness netlist placed and routed."""
    p = t.pnr
    info = {"seed": seed, "fmax_mhz": None, "note": None, "utilization": None, "logs": {}}
    what = f"seed {seed}" + (f", speed grade {grade}" if grade is not None else "")
    _say(progress, f"{t.name}: {p.tool}, placing and routing ({what})", p.tool)
    fail = tools.run(p.tool, p.args("harness.json", "nextpnr.report.json", "nextpnr.log", seed, grade),
                     work, work / "nextpnr.console.log")
    info["logs"] = {k: v for k, v in (("nextpnr", "nextpnr.log"), ("nextpnr_report", "nextpnr.report.json"))
                    if (work / v).is_file()}
    log = (work / "nextpnr.log").read_text(errors="replace") if (work / "nextpnr.log").is_file() else ""
    util = {bel: (int(u), int(a)) for bel, u, a in _UTIL.findall(log)}
    info["utilization"] = {bel: f"{u}/{a}" for bel, (u, a) in sorted(util.items()) if u}
    if fail is not None:
        over = [f"{bel} {u}/{a}" for bel, (u, a) in sorted(util.items()) if u > a]
        if not over:
            raise _Failed(fail, work / "nextpnr.log" if log else fail.log, f"place and route, {what}")
        info["note"] = f"Fmax unavailable: {_DOES_NOT_FIT} {t.device_name(grade)} ({', '.join(over)})"
        return info
    rep = json.loads((work / "nextpnr.report.json").read_text())
    info["utilization"] = {bel: f"{u['used']}/{u['available']}"
                           for bel, u in sorted(rep["utilization"].items()) if u["used"]}
    fmax = rep.get("fmax", {})
    clocks = {net: v for net, v in fmax.items() if "clk" in net} or fmax
    if not clocks:
        info["note"] = "Fmax unavailable: nextpnr found no clocked path"
        return info
    info["fmax_mhz"] = round(min(v["achieved"] for v in clocks.values()), 2)
    return info
