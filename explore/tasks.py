"""The task of one design point: run its stages (fit, gen, verify, synth) and return its record
(the results row, the serialized params, the raw synthesis reports). The scan unit and the row
units (softmax, norm) have no table to fit: their "fit" stage measures their error.

The task is a plain function of its arguments (importable by pool and Dask workers alike). A
failure in any stage is caught and recorded (status "failed", one-line error), so one bad point
never stops a sweep; only an interrupt propagates. Fitted tables are cached by content under
``work/fit`` and synthesis results by ``run_synth``'s own content cache, so a stage that was
already computed costs nothing and reports 0 seconds.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from nlihw.atomic import atomic_write_text
from nlihw.errors import ParamsError
from nlihw.hdl.nli.generate import generate as generate_engine
from nlihw.hdl.nli.params import NLIEngineParams
from nlihw.hdl.rowop.generate import generate as generate_rowop
from nlihw.hdl.scan.generate import generate as generate_scan
from nlihw.hdl.scan.params import preset
from nlihw.hdl.scan.unit import latency
from nlihw.luts import baselines
from nlihw.luts.fitter import FITTER_VERSION, fit, make_problem
from nlihw.luts.functions import get_function
from nlihw.luts.golden import nli_eval
from nlihw.luts.layout import TableLayout
from nlihw.luts.table import NLITable
from nlihw.luts.table_errors import evaluation_codes, ulp_at
from nlihw.sim.common import runner
from nlihw.sim.nli import bench as eb
from nlihw.sim.rowop import bench as rb
from nlihw.sim.scan import bench as sb
from nlihw.sim.scan.accuracy import quantize_inputs, reference_out
from nlihw.sim.scan.golden import scan_eval
from nlihw.sim.scan.stimulus import mamba_inputs
from nlihw.synth.driver import run_synth
from .points import ROWOP_DESIGNS, Point, _dist
from .results import COLUMNS, row_template
from .rowop_task import rowop_cycles, rowop_errors, rowop_params

TOP = {"nli": "nli_engine", "scan": "selective_scan"}
VERIFY_SAMPLE = 1 << 16          # random beats above 16-bit inputs
SCAN_SEED = 0
ROWOP_SEED = 0                   # the row units' Verilator bench rows


def run_point(point: dict, work: str, synth_cache: str | None = None) -> dict:
    """Run one point's stages; never raises for a failing point (the record says why)."""
    p = Point.from_dict(point)
    row = row_template(p)
    record = {"params": None, "reports": {}}
    tmp = None
    try:
        Path(work).mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f"{p.point_id}-", dir=work))
        if p.design == "nli":
            _nli(p, row, record, Path(work), tmp, synth_cache)
        elif p.design in ROWOP_DESIGNS:
            _rowop(p, row, record, Path(work), tmp, synth_cache)
        else:
            _scan(p, row, record, Path(work), tmp, synth_cache)
        row["status"] = "ok"
    except Exception as e:          # a failing point is a result, not a crash
        row["status"] = "failed"
        row["error"] = one_line(e)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return {**{c: row[c] for c in COLUMNS}, **record}


def one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    msg = text[0] if text else ""
    return f"{type(e).__name__}: {msg}" if msg else type(e).__name__


# --- NLI engines and baselines ------------------------------------------------------------------
def _nli(p: Point, row: dict, record: dict, work: Path, tmp: Path, synth_cache):
    t0 = time.perf_counter()
    table, cached = _table(p, work / "fit")
    row["fit_s"] = 0.0 if cached else time.perf_counter() - t0
    row.update(nli_errors(table))
    row["table_bits"] = table_bits(table, p.arch)
    params = NLIEngineParams((table,), arch=p.arch, lanes=p.lanes, storage=p.storage,
                             top_name=TOP["nli"], pipeline=p.pipeline or None)
    record["params"] = params.to_dict()
    row["latency"] = params.latency
    if "gen" not in p.stages:
        return
    t0 = time.perf_counter()
    paths = generate_engine(params, tmp / "rtl")
    row["gen_s"] = time.perf_counter() - t0
    if "verify" in p.stages:
        t0 = time.perf_counter()
        row["verified"] = _verify_nli(params, paths["verilog"], tmp / "run", work)
        row["verify_s"] = time.perf_counter() - t0
    if "synth" in p.stages:
        _synth(p, row, record, paths["verilog"], TOP["nli"], tmp, synth_cache)


def _table(p: Point, cache: Path):
    """The point's table, from the fit cache when an intact copy is there."""
    rule = p.key_dict()["point"].get("default_domain")        # a float input's derived domain
    key = hashlib.sha256(json.dumps(
        [p.func, p.in_fmt, p.out_fmt, p.M, p.K, p.micro_step, p.arch in ("uniform", "direct") and p.arch,
         p.metric, p.grid, FITTER_VERSION, _dist("nlihw")] + ([p.domain] if p.domain else [rule] if rule else []),
        sort_keys=True).encode()).hexdigest()[:24]
    path = cache / f"{key}.json"
    if path.is_file():
        try:
            return NLITable.load(path), True
        except Exception:           # corrupt or truncated: refit and replace it
            pass
    table = make_table(p)
    cache.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, table.to_json())
    return table, False


def make_table(p: Point):
    """Fit (parallel, binary) or build (uniform PWL with at most M cutpoints, full LUT) the table."""
    dom = p.domain_range()
    if p.arch == "direct":
        return baselines.full_lut_table(p.func, p.in_fmt, p.out_fmt, dom)
    if p.arch == "uniform":
        return baselines.uniform_table(p.func, p.in_fmt, p.out_fmt, uniform_segment_log2(p), dom)
    return fit(p.func, TableLayout(p.in_fmt, p.out_fmt, p.M, p.K, p.micro_step),
               metric=p.metric, grid=p.grid, domain=dom).table


def uniform_segment_log2(p: Point) -> int:
    """The smallest 2^s-code segments whose aligned uniform PWL table has at most M cutpoints."""
    prob = make_problem(p.func, TableLayout(p.in_fmt, p.out_fmt, 2, 1), p.domain_range())
    fin = prob.layout.in_fmt
    for s in range(0, fin.width + 1):
        L = 1 << s
        first = fin.min_raw + ((prob.lo - fin.min_raw) // L) * L
        last = fin.min_raw + -(-(prob.hi + 1 - fin.min_raw) // L) * L
        if max(2, (last - first) // L + 1) <= p.M:
            return s
    raise ParamsError(f"no uniform PWL table of {fin} has at most M={p.M} cutpoints")


def nli_errors(table) -> dict:
    """Errors of the bit-exact output against float64 f over every code of the table's domain
    (a 65,536-code sample above that), in output LSBs and real units."""
    lay = table.layout
    xs = evaluation_codes(table)
    with np.errstate(all="ignore"):
        f = np.asarray(get_function(table.function)(lay.in_fmt.to_real(xs)), dtype=np.float64)
    y = lay.out_fmt.to_real(nli_eval(table, xs))
    d = np.abs(y - f)
    # a float output's "LSB" is the ulp of the output format at f (errors in ulps)
    lsb = ulp_at(lay.out_fmt, np.clip(f, lay.out_fmt.min, lay.out_fmt.max))
    return {"max_err_lsb": float(np.max(d / lsb)), "mean_err_lsb": float(np.mean(d / lsb)),
            "max_err": float(d.max()), "rms_err": float(np.sqrt(np.mean(d * d)))}


def table_bits(table, arch: str) -> int:
    """Bits of table storage: the values, plus cutpoints and per-interval scales where the
    architecture stores them (parallel, binary); uniform and direct address by input bits."""
    lay = table.layout
    bits = lay.n_values * lay.value_bits + (lay.M - 1) * lay.exp_bits
    if arch in ("parallel", "binary"):
        bits += lay.M * lay.in_fmt.width + (lay.M - 1) * (lay.mul_width + lay.shift_bits)
    return bits


def sim_build_root(work: Path) -> "Path | None":
    """Verilator builds go to $NLIHW_SIM_BUILD when set, else beside the sweep's other caches."""
    return None if os.environ.get("NLIHW_SIM_BUILD") else Path(work) / "sim"


def _verify_nli(params, verilog: Path, run: Path, work: Path) -> str:
    """Every input code (a random sample above 16 bits) through the emitted Verilog on
    Verilator, compared beat by beat with the golden model."""
    sim = runner.build(verilog, params.top_name, build_root=sim_build_root(work))
    if params.in_width <= 16:
        x, func = eb.exhaustive_inputs(params)
    else:
        x, func = eb.random_inputs(params, VERIFY_SAMPLE)
    r = eb.run_bench(sim, eb.bench_config(params, x, func), run)
    return "passed" if r.tests == 1 and r.failures == 0 else "failed"


# --- synthesis (every design) ------------------------------------------------------------------
AREA_KEY = {"generic": "gate_equivalents", "generic-sram": "gate_equivalents", "xcup": "lut",
            "ecp5": "lut4", "ice40": "lut4"}
FPGA_KEYS = {  # column -> report figure(s) per target
    "xcup": {"lut": ("lut",), "ff": ("ff",), "dsp": ("dsp48e2",), "bram": ("ramb18", "ramb36", "ramb36")},
    "ecp5": {"lut": ("lut4",), "ff": ("ff",), "dsp": ("mult18",), "bram": ("ebr",)},
    "ice40": {"lut": ("lut4",), "ff": ("ff",), "dsp": ("mac16",), "bram": ("ram4k",)},
}


def synth_figures(target: str, figures: dict) -> dict:
    """The table's columns from a synthesis report's figures (bram = ramb18 + 2 ramb36 on xcup)."""
    out = {"area": figures.get(AREA_KEY[target])}
    if target.startswith("generic"):
        out["gate_equivalents"] = figures.get("gate_equivalents")
        out["ff"] = figures.get("flip_flops")
    else:
        for col, keys in FPGA_KEYS[target].items():
            vals = [figures.get(k) for k in keys]
            out[col] = None if any(v is None for v in vals) else int(sum(vals))
        if "fmax_mhz" in figures:
            out["fmax_mhz"] = figures["fmax_mhz"]
    return out


def _synth(p: Point, row, record, verilog: Path, top: str, tmp: Path, synth_cache):
    t0 = time.perf_counter()
    rep = run_synth(verilog, top, p.target, cache_dir=synth_cache, report_dir=tmp / "synth")
    run = rep.pop("run", {})
    row["synth_s"] = 0.0 if run.get("cached") else time.perf_counter() - t0
    row.update(synth_figures(p.target, rep["figures"]))
    record["reports"][p.target] = rep


# --- selective-scan unit ------------------------------------------------------------------------
def scan_params(p: Point):
    return preset(p.preset, d_inner=p.d_inner, d_state=p.d_state, lanes=p.lanes, top_name=TOP["scan"],
                  pipeline=p.pipeline or None, engine_pipeline=p.engine_pipeline or None)


def scan_errors(params, tokens: int) -> dict:
    """Bit-exact golden output against float64 selective_scan_ref on Mamba-like inputs (the first
    row of ``error_budget``): max error in LSBs and real units, relative RMS error."""
    x = mamba_inputs(params.d_inner, params.d_state, tokens, np.random.default_rng(SCAN_SEED))
    cfg, run = quantize_inputs(params, x)
    y = params.out_fmt.to_real(scan_eval(params, cfg, run).out)
    ref = reference_out(params, x)
    d = np.abs(y - ref)
    lsb = params.out_fmt.lsb
    return {"max_err_lsb": float(d.max() / lsb), "mean_err_lsb": float(d.mean() / lsb),
            "max_err": float(d.max()),
            "rms_err": float(np.sqrt(np.mean(d * d)) / np.sqrt(np.mean(ref * ref)))}


def _scan(p: Point, row, record, work: Path, tmp: Path, synth_cache):
    t0 = time.perf_counter()
    params = scan_params(p)
    record["params"] = params.to_dict()
    row.update(scan_errors(params, p.tokens))
    row["table_bits"] = sum(table_bits(getattr(params, f), "parallel")
                            for f in ("softplus", "exp", "silu"))
    row["fit_s"] = time.perf_counter() - t0
    row["latency"] = latency(params)

    def verify(paths):
        built = runner.build(paths["verilog"], params.top_name, build_root=sim_build_root(work))
        s = sb.draw(params, min(p.tokens, 16), seed=SCAN_SEED)
        return sb.run_bench(built, sb.bench_config(s), tmp / "run")
    _unit_stages(p, row, record, tmp, synth_cache, lambda d: generate_scan(params, d), TOP["scan"], verify)


def _unit_stages(p: Point, row, record, tmp: Path, synth_cache, gen, top: str, verify):
    """A unit point's gen, verify and synth stages: ``gen(dir)`` writes its RTL (the paths),
    ``verify(paths)`` runs its bench (a BenchResult)."""
    if "gen" not in p.stages:
        return
    t0 = time.perf_counter()
    paths = gen(tmp / "rtl")
    row["gen_s"] = time.perf_counter() - t0
    if "verify" in p.stages:
        t0 = time.perf_counter()
        r = verify(paths)
        row["verified"] = "passed" if r.tests == 1 and r.failures == 0 else "failed"
        row["verify_s"] = time.perf_counter() - t0
    if "synth" in p.stages:
        _synth(p, row, record, paths["verilog"], top, tmp, synth_cache)


# --- row units (softmax, RMSNorm, LayerNorm) -----------------------------------------------------
def _rowop(p: Point, row, record, work: Path, tmp: Path, synth_cache):
    t0 = time.perf_counter()
    params = rowop_params(p)
    record["params"] = params.to_dict()
    row.update(rowop_errors(params))
    row["table_bits"] = sum(table_bits(getattr(params, f), "parallel") for f in params.nli_steps)
    row["fit_s"] = time.perf_counter() - t0
    row.update(rowop_cycles(params))

    def verify(paths):
        built = runner.build(paths["verilog"], params.top_name, build_root=sim_build_root(work))
        return rb.run_bench(built, rb.bench_config(rb.draw(params, seed=ROWOP_SEED)), tmp / "run")
    _unit_stages(p, row, record, tmp, synth_cache, lambda d: generate_rowop(params, d), params.top_name, verify)
