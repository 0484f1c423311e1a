"""What every generated design ships with: its HDL in two dialects, lint waivers and a FuseSoC core.

``emit_hdl`` prints one elaboration as Verilog-2005 and as SystemVerilog (see
``hdl/nli/generate.py`` for which file to compile how); ``core_text`` writes a CAPI2 core in which
every value that comes from params is a quoted YAML scalar, so no table or name can inject keys.
"""
from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

from amaranth.back import rtlil
from amaranth.back.verilog import _convert_rtlil_text   # the converter verilog.convert() uses

GENERATOR_VERSION = 1


def emit_hdl(component, name: str) -> tuple[str, str]:
    """(Verilog-2005 text, SystemVerilog text) of one elaboration of ``component``.

    ``_convert_rtlil_text`` is the step of ``verilog.convert`` (Amaranth 0.5.10, pinned) that runs
    yosys; calling it twice on one RTLIL text gives both dialects of the same netlist.
    """
    text = rtlil.convert(component, name=name, emit_src=False)
    return _convert_rtlil_text(text), _convert_rtlil_text(text, write_verilog_opts=("-sv",))


def waivers_text() -> str:
    """The Verilator lint waivers every design ships as ``<top>.vlt``."""
    from nlihw.sim.common.lint import WAIVERS
    return Path(WAIVERS).read_text()


def core_version() -> str:
    """FuseSoC VLNV version: the release part of the nlihw package version (e.g. 0.1.0)."""
    try:
        v = importlib.metadata.version("nlihw")
    except importlib.metadata.PackageNotFoundError:
        v = ""
    m = re.match(r"\d+(\.\d+)*", v)
    return m.group(0) if m else f"0.0.{GENERATOR_VERSION}"


def yaml_str(s: str) -> str:
    """``s`` as a YAML double-quoted scalar in plain ASCII (valid YAML 1.1 and 1.2): no content can
    end the scalar or start a key. Everything but printable ASCII is an escape."""
    out = []
    for ch in str(s):
        c = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 0x20 <= c < 0x7f:
            out.append(ch)
        elif c < 0x100:
            out.append(f"\\x{c:02x}")
        elif c < 0x10000:
            out.append(f"\\u{c:04x}")
        else:
            out.append(f"\\U{c:08x}")
    return '"' + "".join(out) + '"'


def core_text(library: str, top: str, description: str, names: dict[str, str],
              data_files: tuple[str, ...] = ()) -> str:
    """FuseSoC CAPI2 core ``nlihw:<library>:<top>:<version>``: the SystemVerilog, the waivers for
    the ``lint`` target, and ``data_files`` (e.g. ``$readmemh`` images) copied beside the build."""
    q = yaml_str
    data = "".join(f"      - {q(f)}: {{file_type: user, copyto: {q(f)}}}\n" for f in data_files)
    return (
        "CAPI=2:\n"
        f"name: {q(f'nlihw:{library}:{top}:{core_version()}')}\n"
        f"description: {q(description)}\n"
        "filesets:\n"
        "  rtl:\n"
        "    files:\n"
        f"      - {q(names['systemverilog'])}\n"
        "    file_type: systemVerilogSource\n"
        "  waivers:\n"
        "    files:\n"
        f"      - {q(names['lint_waivers'])}\n"
        "    file_type: vlt\n"
        + ("  tables:\n    files:\n" + data if data else "")
        + "targets:\n"
        "  default:\n"
        f"    filesets: [rtl{', tables' if data else ''}]\n"
        f"    toplevel: {q(top)}\n"
        "  lint:\n"
        "    default_tool: verilator\n"
        "    filesets: [rtl, waivers]\n"
        "    tools:\n"
        "      verilator:\n"
        "        mode: lint-only\n"
        "        verilator_options: [-Wall]\n"
        f"    toplevel: {q(top)}\n"
    )
