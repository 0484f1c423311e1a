"""``nlihw gen``: write an engine's Verilog, manifest, hex images, filelist and FuseSoC core."""
from __future__ import annotations

import click

from nlihw import verbosity
from nlihw.hdl.common.deliverables import check_vlnv
from nlihw.hdl.nli.generate import generate
from nlihw.sim.nli import verilog_testbench
from .gen_options import gen_outputs
from .engine_options import TIMING_GOAL, TIMING_NOTE, TIMING_OPTIONS, engine_options, params_from_options
from .table import error_line
from .table_names import resolve_tables


@click.command("gen")
@engine_options
@gen_outputs
@click.option("--vlnv", default=None, metavar="V:L:N[:VER]",
              callback=lambda ctx, param, v: v and check_vlnv(v, "0") and v,   # before any write
              help="FuseSoC core name (default nlihw:nli:<top>:<release>.<N>, N the params "
                   "digest's first 8 hex digits in decimal: two designs never share a name).")
def command(tables, arch, lanes, storage, top_name, outdir, testbench, vlnv):
    """Generate deterministic Verilog for an NLI engine (same inputs, same bytes).

    Writes <top>.v (Verilog-2005), <top>.sv (SystemVerilog), manifest, filelist, FuseSoC core and
    Verilator lint waivers, all or none. The tables of one engine must share one layout (formats,
    M, K, datapath options). Tables with floating-point formats (fp16, bf16, fp8e4m3, fp8e5m2,
    on either side) take --arch parallel or binary. --table takes a file or the name of a
    shipped table ('nlihw tables list'). Example (two shipped tables):

    \b
    nlihw gen --table silu_M11_K32 --table gelu_M11_K32 --arch binary --lanes 4 -o build/nli

    For a clock rate: --target-mhz 130 --target ecp5 chooses the register points from the
    target's delay model and records the goal; 'nlihw synth DIR -t ecp5' reports it met or not.
    """
    p = params_from_options(resolve_tables(tables), arch, lanes, storage, top_name)
    meta = click.get_current_context().meta
    paths = generate(p, outdir, meta.get(TIMING_GOAL), vlnv=vlnv,
                     testbench=verilog_testbench.testbench(p) if testbench else None)
    click.echo(f"{p.top_name}: {', '.join(t.function for t in p.tables)}; {p.lanes} lane(s), "
               f"{p.arch} search, {p.storage} tables, pipeline {p.pipeline}, latency {p.latency} "
               f"cycles, II 1")
    if meta.get(TIMING_NOTE):
        goal = meta[TIMING_GOAL]
        lib = meta.get(TIMING_OPTIONS, {}).get("liberty")
        click.echo(f"  {meta[TIMING_NOTE]}; check: nlihw synth {outdir} -t {goal['target']}"
                   + (f" --speed {goal['speed']}" if goal["speed"] not in (None, 6) else "")
                   + (f" --liberty {lib}" if goal["target"] == "generic" and lib else ""))
    for kind, path in paths.items():
        click.echo(f"  {kind:13s} {path}")
    if verbosity.verbose():
        _details(p, paths)


def _details(p, paths: dict) -> None:
    """-v: each table with its layout and errors, the params, every file written with its size."""
    for i, t in enumerate(p.tables):
        lay = t.layout
        verbosity.detail(f"gen: table {i} {t.function}: {lay.in_fmt} -> {lay.out_fmt}, M={lay.M} "
                         f"K={lay.K} {lay.micro_step.value}, domain [{t.domain[0]:g}, "
                         f"{t.domain[1]:g}], {lay.n_values} values, sha256 {t.sha256[:16]}")
        if "errors" in t.meta:
            verbosity.detail(f"gen: table {i} errors: {error_line(t.meta['errors'])}")
    verbosity.detail(f"gen: params digest {p.digest()[:16]}, {p.total_values} stored values, "
                     f"{p.in_width}-bit input, {p.out_width}-bit output, {p.search_stages} "
                     f"search stage(s), pipeline {p.pipeline}")
    for kind, path in paths.items():
        files = [path] if path.is_file() else sorted(f for f in path.rglob("*") if f.is_file())
        size = sum(f.stat().st_size for f in files)
        verbosity.detail(f"gen: wrote {kind} {path}: {size:,} bytes"
                         + (f" in {len(files)} files" if path.is_dir() else ""))
