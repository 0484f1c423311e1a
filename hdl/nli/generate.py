"""Write an engine's deliverables: Verilog (and a SystemVerilog twin), manifest, $readmemh bank
images, filelist, Verilator lint waivers and a FuseSoC core.

Everything is deterministic (``emit_src=False``, sorted JSON, no timestamps or absolute paths):
the same params give the same bytes. All files of one ``generate()`` call are written together
(``OutputSet``): if one cannot be written, none is.

Which HDL file to compile how:

- ``<top>.v`` (Verilog-2005): for flows that read the file as Verilog-2001/2005 (``iverilog`` /
  ``iverilog -g2005``, yosys ``read_verilog``, synthesis tools reading ``.v`` as Verilog).
- ``<top>.sv`` (SystemVerilog): for every flow that compiles its sources as SystemVerilog
  (``iverilog -g2012``, Verilator, Vivado/xsim, Questa, VCS ``-sverilog``; the FuseSoC core lists it).

Why two files: yosys' ``write_verilog`` prints Amaranth's combinational processes as ``always @*``
blocks and makes them run once at time zero with a dummy register initializer
(``reg \\$auto$verilog_backend... = 0`` read in every block). That is a Verilog-2005 time-zero event,
but under SystemVerilog semantics declaration initializers run before any process starts, so the
event never fires: blocks whose inputs do not change after time zero (constant per-function muxes,
binary-search thresholds, the ram engine's table registers) stay X (Icarus 11 ``-g2012``: the ram
engine's outputs are X forever from the ``.v``, right from the ``.sv``). ``write_verilog -sv`` prints the
same netlist with ``always_comb`` (which IEEE 1800 runs once at time zero) and ``always_ff``. This is
yosys' own SystemVerilog printer, so the two files are one netlist in two dialects, with no text
rewriting of ours; flattening the processes into muxes instead would also need every multi-way
mux rebuilt (Icarus 11 cannot call the functions yosys prints for them).
"""
from __future__ import annotations

import json
from pathlib import Path

from nlihw.hdl.common import deliverables
from nlihw.hdl.common.deliverables import GENERATOR_VERSION, core_version, yaml_str  # noqa: F401
from .engine import NLIEngine
from .params import NLIEngineParams
from .table_storage import bank_images

def emit_hdl(params: NLIEngineParams) -> tuple[str, str]:
    """(Verilog-2005 text, SystemVerilog text) of one elaboration of the engine."""
    return deliverables.emit_hdl(NLIEngine(params), params.top_name)


def emit_verilog(params: NLIEngineParams) -> str:
    return emit_hdl(params)[0]


def port_list(params: NLIEngineParams) -> list[dict]:
    """Verilog ports with direction and width, as ``verilog.convert`` names them."""
    p = params
    in_w = p.in_width * p.lanes + p.func_bits
    ports = [("clk", "input", 1), ("rst", "input", 1),
             ("i__valid", "input", 1), ("i__ready", "output", 1), ("i__payload", "input", in_w),
             ("o__valid", "output", 1), ("o__ready", "input", 1),
             ("o__payload", "output", p.out_width * p.lanes)]
    if p.storage == "ram":
        ports += [("w__valid", "input", 1), ("w__ready", "output", 1),
                  ("w__payload", "input", p.config_addr_bits + p.config_data_bits)]
    return [{"name": n, "direction": d, "width": w} for n, d, w in ports]


def manifest(params: NLIEngineParams, timing: dict | None = None) -> dict:
    """The manifest; ``timing`` (the clock goal --target-mhz chose the pipeline for) is recorded
    only when given, so other manifests keep their bytes."""
    p, lay = params, params.layout
    out = {
        "generator": "nlihw", "generator_version": GENERATOR_VERSION,
        "top": p.top_name, "latency": p.latency, "initiation_interval": 1,
        "params": p.to_dict(), "params_digest": p.digest(),
        "ports": port_list(p),
        "payload": {
            "i": {"x": {"lanes": p.lanes, "width": p.in_width, "format": str(lay.in_fmt), "lsb": 0},
                  "func": {"width": p.func_bits, "lsb": p.in_width * p.lanes}},
            "o": {"y": {"lanes": p.lanes, "width": p.out_width, "format": str(lay.out_fmt), "lsb": 0}},
        },
        "functions": [{"index": k, "function": t.function, "table_sha256": t.sha256}
                      for k, t in enumerate(p.tables)],
        "files": sorted(output_names(p).values()),
    }
    if timing is not None:
        out["timing_goal"] = timing
    return out


def output_names(params: NLIEngineParams) -> dict[str, str]:
    top = params.top_name
    names = {"verilog": f"{top}.v", "systemverilog": f"{top}.sv", "manifest": f"{top}.manifest.json",
             "filelist": f"{top}.f", "lint_waivers": f"{top}.vlt", "core": f"{top}.core"}
    if params.storage == "ram":
        names.update(hex_even=f"{top}_even.hex", hex_odd=f"{top}_odd.hex")
    return names


def _hex(words: list[int], width: int) -> str:
    digits = (width + 3) // 4
    return "".join(f"{w:0{digits}x}\n" for w in words)


def _core(params: NLIEngineParams, names: dict[str, str], vlnv, testbench) -> str:
    funcs = ", ".join(t.function for t in params.tables)
    desc = (f"NLI engine ({funcs}), latency {params.latency}, generated by nlihw "
            f"(params sha256 {params.digest()})")
    data = tuple(names[k] for k in ("hex_even", "hex_odd") if k in names)
    vlnv = vlnv or deliverables.default_vlnv("nli", params.top_name, params.digest())
    return deliverables.core_text("nli", params.top_name, desc, names, data, vlnv=vlnv,
                                  testbench=testbench)


def generate(params: NLIEngineParams, outdir: "str | Path", timing: dict | None = None, *,
             vlnv: "str | None" = None, testbench: "deliverables.Testbench | None" = None) -> dict[str, Path]:
    """Write all outputs for ``params`` into ``outdir`` (all or none); returns {kind: path}.
    ``timing``: the clock goal recorded in the manifest (``nlihw gen --target-mhz``); ``vlnv``
    the FuseSoC core's name (default from the params digest); ``testbench`` (built by
    ``sim/nli/verilog_testbench``) is written beside the design with the core's ``sim`` target."""
    outdir = Path(outdir)
    names = output_names(params)
    v, sv = emit_hdl(params)
    text = {"verilog": v, "systemverilog": sv,
            "manifest": json.dumps(manifest(params, timing), indent=1, sort_keys=True) + "\n",
            "filelist": names["verilog"] + "\n",
            "lint_waivers": deliverables.waivers_text(params.top_name),
            "core": _core(params, names, vlnv, testbench)}
    if params.storage == "ram":
        even, odd = bank_images(params)
        text["hex_even"] = _hex(even, params.layout.value_bits)
        text["hex_odd"] = _hex(odd, params.layout.value_bits)
    return deliverables.write_all(outdir, names, text, testbench)
