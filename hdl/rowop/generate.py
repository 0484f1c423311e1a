"""Write a row unit's deliverables (softmax, RMSNorm or LayerNorm): Verilog and its SystemVerilog
twin, manifest, filelist, Verilator lint waivers and a FuseSoC core, as the engine and scan
generators do; deterministic bytes (``emit_src=False``, sorted JSON, no paths or times), all files
or none (``deliverables.write_all``).

The manifest records the params (``to_dict``, with its digest), the ports and each stream's payload
fields, and the cycle counts of the RTL (``row_cycles``/``first_out_latency`` of the component, the
figures its tests check): softmax 3 n + L_exp + L_rec + 6 clocks per row, norm 2 n + L_rec +
L_rsqrt + 8 (with the shipped tables' engines: 3 n + 20 and 2 n + 22).
"""
from __future__ import annotations

import json
from pathlib import Path

from nlihw.errors import ParamsError
from nlihw.hdl.common import deliverables
from nlihw.hdl.common.deliverables import GENERATOR_VERSION
from . import norm as norm_rtl, softmax as softmax_rtl
from .params import NormParams, SoftmaxParams


def component(params: "SoftmaxParams | NormParams"):
    """The unit's Amaranth component (``Softmax`` or ``Norm``), elaborated by ``emit_hdl``."""
    if isinstance(params, SoftmaxParams):
        return softmax_rtl.Softmax(params)
    if isinstance(params, NormParams):
        return norm_rtl.Norm(params)
    raise ParamsError(f"params: expected SoftmaxParams or NormParams, got {type(params).__name__}")


def design(params) -> str:
    """``softmax``, ``rmsnorm`` or ``layernorm``."""
    return "softmax" if isinstance(params, SoftmaxParams) else f"{params.kind}norm"


def _fields(layout) -> dict:
    """{field: {lsb, width}} of a payload layout (fields packed from the LSB in order)."""
    return {name: {"lsb": f.offset, "width": f.width} for name, f in layout}


def layouts(params) -> dict:
    """{stream: payload layout}: ``i``, ``o`` and (a normalized norm) ``cfg``."""
    if isinstance(params, SoftmaxParams):
        return {"i": softmax_rtl.input_layout(params), "o": softmax_rtl.output_layout(params)}
    out = {"i": norm_rtl.input_layout(params), "o": norm_rtl.output_layout(params)}
    if params.output_mode == "normalized":
        out["cfg"] = norm_rtl.config_layout(params)
    return out


def port_list(params) -> list[dict]:
    """Verilog ports with direction and width, as ``verilog.convert`` names them."""
    ports = [("clk", "input", 1), ("rst", "input", 1)]
    for name, layout in sorted(layouts(params).items()):
        d = "output" if name == "o" else "input"
        back = "input" if d == "output" else "output"
        ports += [(f"{name}__valid", d, 1), (f"{name}__ready", back, 1),
                  (f"{name}__payload", d, layout.size)]
    return [{"name": n, "direction": d, "width": w} for n, d, w in ports]


def _linear(a: int, b: int) -> str:
    """a n + b as text: ``3*n+20``, ``n+21``, ``23``."""
    return f"{'' if a == 1 else f'{a}*'}n+{b}" if a else str(b)


def cycles(params) -> dict:
    """The RTL's cycle counts (no input gaps, ``o`` always ready) as formulas in n, with the
    constants of these params' engines (read from a component that is never elaborated)."""
    dut = component(params)
    dut._MustUse__silence = True            # only its cycle methods are used
    a, b = dut.row_cycles(0), dut.first_out_latency(0)
    per_n = dut.row_cycles(1) - a
    slope = dut.first_out_latency(1) - b
    return {"row_cycles": _linear(per_n, a), "row_cycles_const": a,
            "row_cycles_per_element": per_n, "first_out_latency": _linear(slope, b),
            "first_out_latency_const": b, "first_out_latency_per_element": slope,
            "engine_latency": dut.engine_latency}


def _formats(p) -> dict:
    names = (("in_fmt", "out_fmt", "d_fmt", "e_fmt", "s_fmt", "r_fmt", "acc_fmt")
             if isinstance(p, SoftmaxParams) else
             ("in_fmt", "out_fmt", "w_fmt", "b_fmt", "scale_fmt", "s_fmt", "rs_fmt", "rn_fmt",
              "mean_fmt", "v_fmt", "sumsq_fmt"))
    return {k: str(getattr(p, k)) for k in names if getattr(p, k) is not None}


def manifest(p) -> dict:
    tables = ("exp", "reciprocal") if isinstance(p, SoftmaxParams) else ("reciprocal", "rsqrt")
    return {
        "generator": "nlihw", "generator_version": GENERATOR_VERSION, "design": design(p),
        "top": p.top_name, "n_max": p.n_max, "lanes": p.lanes, "output_mode": p.output_mode,
        "cycles": cycles(p), "params": p.to_dict(), "params_digest": p.digest(),
        "ports": port_list(p),
        "payload": {k: _fields(v) for k, v in layouts(p).items()},
        "formats": _formats(p),
        "tables": {k: p.engine_table(k).sha256 for k in tables},       # the tables that run
        "files": sorted(output_names(p).values()),
    }


def output_names(p) -> dict[str, str]:
    top = p.top_name
    return {"verilog": f"{top}.v", "systemverilog": f"{top}.sv", "manifest": f"{top}.manifest.json",
            "filelist": f"{top}.f", "lint_waivers": f"{top}.vlt", "core": f"{top}.core"}


def _core(p, names: dict[str, str]) -> str:
    c = cycles(p)
    desc = (f"{design(p)} unit (n_max {p.n_max}, {p.output_mode}), {c['row_cycles']} clocks per "
            f"row of n, generated by nlihw (params sha256 {p.digest()})")
    return deliverables.core_text("rowop", p.top_name, desc, names,
                                  vlnv=deliverables.default_vlnv("rowop", p.top_name, p.digest()))


def waivers_text(top: str) -> str:
    """The waivers every design ships, plus CASEINCOMPLETE: Amaranth prints the unit's FSM as a
    ``casez`` over its state register without a default, and the state codes beyond the last
    state (6 states in 3 bits) are unreachable; scoped to the generated files like the others."""
    extra = [f'lint_off -rule CASEINCOMPLETE -file "{d}{top}.{ext}"'
             for ext in ("sv", "v") for d in ("", "*/")]
    return deliverables.waivers_text(top) + "// The row units' FSM (see hdl/rowop/generate.py).\n" \
        + "\n".join(extra) + "\n"


def emit_hdl(params) -> tuple[str, str]:
    """(Verilog-2005 text, SystemVerilog text) of one elaboration of the unit."""
    return deliverables.emit_hdl(component(params), params.top_name)


def generate(params: "SoftmaxParams | NormParams", outdir: "str | Path") -> dict[str, Path]:
    """Write all outputs for ``params`` into ``outdir`` (all or none); returns {kind: path}."""
    outdir = Path(outdir)
    names = output_names(params)
    v, sv = emit_hdl(params)
    text = {"verilog": v, "systemverilog": sv,
            "manifest": json.dumps(manifest(params), indent=1, sort_keys=True) + "\n",
            "filelist": names["verilog"] + "\n",
            "lint_waivers": waivers_text(params.top_name),
            "core": _core(params, names)}
    return deliverables.write_all(outdir, names, text)
