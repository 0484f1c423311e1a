"""``nlihw softmax`` and ``nlihw norm``: the row units (softmax, RMSNorm, LayerNorm): generate the
RTL's deliverables (``gen``), measure the bit-exact golden model's error against float64 on
realistic rows (``error``, ``nlihw.sim.rowop.accuracy``), and check the RTL against the golden
model in the Amaranth simulator (``sim``). Both groups live here; ``softmax.py`` and ``norm.py``
name them for the CLI's loader."""
from __future__ import annotations

from pathlib import Path

import click
import numpy as np
from amaranth.sim import Simulator
from rich.console import Console
from rich.table import Table

from nlihw.errors import ParamsError
from nlihw.formats import Rounding
from nlihw.hdl.rowop.generate import component as unit_component, cycles, design, generate
from nlihw.hdl.rowop.engine_tables import ENGINE_ARCHS
from nlihw.hdl.rowop.params import NORM_PRESETS, OUTPUT_MODES, SOFTMAX_PRESETS, norm_preset, softmax_preset
from nlihw.sim.rowop import accuracy
from nlihw.sim.rowop.golden import norm_eval, softmax_eval
from .output_dir import check_writable_dir

ROUNDINGS = [r.value for r in Rounding]
MAX_ERROR_ELEMENTS = 1 << 20        # rows x n of one error run (the budget re-runs it 7 times)
SOFTMAX_INPUTS = ("plain", "sharp", "outliers", "causal")
NORM_INPUTS = ("outliers", "plain")
NORM_OUTLIER_CHANNELS = 6           # accuracy.hidden_rows' default


def unit_options(presets, n_max: int = 4096):
    """``--preset`` and ``--n-max``, shared by every command of both groups."""
    def wrap(f):
        f = click.option("--n-max", type=int, default=n_max, show_default=True,
                         help="Longest row the unit takes (1..65536; its row buffers hold "
                              "n_max elements).")(f)
        return click.option("--preset", "preset_name", type=click.Choice(list(presets)),
                            default="int16", show_default=True,
                            help="I/O formats and shipped NLI tables: int16 (16-bit I/O) or int8 "
                                 "(8-bit I/O).")(f)
    return wrap


def gen_options(default_top: str):
    """The options of ``gen``: the top name, the output mode, the rounding and ``-o``."""
    def wrap(f):
        for opt in reversed([
            click.option("--top", "top_name", default=None,
                         help=f"Verilog top module name [default: {default_top}]."),
            click.option("--output-mode", type=click.Choice(OUTPUT_MODES), default="normalized",
                         show_default=True, help="normalized: the finished outputs; deferred: "
                         "the unscaled values and each row's scale, for a consumer that folds "
                         "the scale into its next multiply."),
            click.option("--rounding", type=click.Choice(ROUNDINGS), default="nearest-even",
                         show_default=True, help="The one rounding of each output."),
            click.option("--engine-arch", type=click.Choice(ENGINE_ARCHS), default="parallel",
                         show_default=True, help="How exp / reciprocal / rsqrt are computed: "
                         "parallel (the NLI engines); direct or uniform build a baseline unit whose "
                         "steps are full LUTs or uniform PWL, with a max error no larger than the NLI "
                         "tables' (at int16 the full LUTs hold up to 3.5 Mbit)."),
            click.option("-o", "--outdir", type=click.Path(file_okay=False, path_type=Path),
                         required=True, help="Output directory (created; files are written "
                         "all or none)."),
        ]):
            f = opt(f)
        return f
    return wrap


def error_options(families, default_n: int):
    """The options of ``error``: the rows and how many."""
    def wrap(f):
        for opt in reversed([
            click.option("--inputs", type=click.Choice(families), default=families[0],
                         show_default=True, help="The family of realistic rows (see the "
                         "command's help)."),
            click.option("--n", "n", type=click.IntRange(1), default=default_n, show_default=True,
                         help="Row length (at most --n-max)."),
            click.option("--rows", type=click.IntRange(1), default=64, show_default=True,
                         help=f"Rows (rows x n at most {MAX_ERROR_ELEMENTS:,})."),
            click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
                         help="Random seed."),
        ]):
            f = opt(f)
        return f
    return wrap


def _write(p, outdir: Path) -> None:
    """Generate ``p``'s files into ``outdir`` and print what was written."""
    check_writable_dir(outdir, "--outdir")
    click.echo(f"generating {p.top_name} ...", err=True)
    paths = generate(p, outdir)
    c = cycles(p)
    click.echo(f"{p.top_name}: {design(p)}, n_max {p.n_max}, {p.output_mode}, in {p.in_fmt} -> "
               f"out {p.out_fmt}, {c['row_cycles']} clocks per row of n elements, first output "
               f"{c['first_out_latency']} clocks after a row's last input")
    for kind, path in paths.items():
        click.echo(f"  {kind:13s} {path}")


def _check_size(p, n: int, rows: int) -> None:
    if n > p.n_max:
        raise ParamsError(f"--n {n} exceeds --n-max {p.n_max}")
    if rows * n > MAX_ERROR_ELEMENTS:
        raise ParamsError(f"--rows {rows} x --n {n} = {rows * n:,} elements, at most "
                          f"{MAX_ERROR_ELEMENTS:,} per run")


FIGURES = (("max_rel", "max rel", ".3e"), ("mean_rel", "mean rel", ".3e"),
           ("max_abs_lsb", "max abs (LSB)", ".2f"), ("row_rel_l2_mean", "row L2 mean", ".3e"),
           ("row_rel_l2_max", "row L2 max", ".3e"))


def print_error_table(case: dict, steps: tuple[str, ...], title: str, out_fmt) -> None:
    """The golden model's figures, the I/O floor and each step's share (``accuracy._case``)."""
    t = Table(title=title, title_justify="left")
    t.add_column("", no_wrap=True)
    for _, head, _ in FIGURES:
        t.add_column(head, justify="right")
    t.add_column("sat rows", justify="right")
    rows = [("bit-exact golden model (the RTL)", case["golden"], True),
            ("I/O floor (input and output rounding only)", case["budget"]["in+out only"], False)]
    rows += [(f"with exact {accuracy.LABELS[s]}", case["budget"][f"exact {s}"], False)
             for s in steps]
    for label, f, sat in rows:
        t.add_row(label, *(format(f[k], spec) for k, _, spec in FIGURES),
                  f"{f['sat_rows']:.3f}" if sat else "")
    Console(width=160).print(t)
    click.echo(f"relative errors over the {case['golden']['rel_elements']:,} elements with |ref| >= "
               f"{accuracy.REL_FLOOR_LSB} output LSBs ({out_fmt}: {accuracy.REL_FLOOR_LSB} LSB = "
               f"{accuracy.REL_FLOOR_LSB * out_fmt.lsb:.3g}); row L2 over every element")
    click.echo(f"largest share of the mean relative error: {accuracy.LABELS[case['dominant']]}; "
               f"of the max abs error: {accuracy.LABELS[case['dominant_max_abs']]}")
    if not case["emulation_matches"]:
        click.echo("warning: the float64 emulation is not bit-exact with the golden model here; "
                   "the budget rows are indicative only", err=True)


# --- nlihw softmax ---------------------------------------------------------------------------
@click.group("softmax")
def softmax_group():
    """The softmax unit: exp and reciprocal on NLI engines, one element per clock per pass.

    \b
    nlihw softmax gen --preset int16 --n-max 4096 -o build/softmax
    nlihw softmax error --preset int8 --inputs outliers
    nlihw softmax sim --preset int8
    """


@softmax_group.command("gen")
@unit_options(SOFTMAX_PRESETS)
@gen_options("softmax_unit")
def softmax_gen(preset_name, n_max, top_name, output_mode, rounding, engine_arch, outdir):
    """Generate deterministic Verilog (and SystemVerilog), manifest, filelist, lint waivers and a
    FuseSoC core for the softmax unit (same options, same bytes; all files or none). The manifest
    has the params, the ports, the payload fields and the clocks per row (3 n + 20 with the
    shipped tables).

    Example: nlihw softmax gen --preset int16 --n-max 1024 -o build/softmax
    """
    p = softmax_preset(preset_name, n_max=n_max, output_mode=output_mode, rounding=rounding,
                       engine_arch=engine_arch, top_name=top_name or "softmax_unit")
    _write(p, outdir)


@softmax_group.command("error")
@unit_options(SOFTMAX_PRESETS)
@error_options(SOFTMAX_INPUTS, 1024)
@click.option("--head-dim", type=click.IntRange(1, 4096), default=64, show_default=True,
              help="Head dimension d of the attention logits q . k / sqrt(d).")
def softmax_error(preset_name, n_max, inputs, n, rows, seed, head_dim):
    """Error of the unit (its bit-exact golden model) against float64 softmax on attention
    logits, beside the I/O floor (only x and p rounded) and each approximation's share.

    \b
    --inputs (logits q . k / sqrt(d), unit-variance q and k):
      plain     ~ N(0, 1)
      sharp     4 x plain (a confident head)
      outliers  plain plus +6..+12 on 1-4 entries per row (attention sinks)
      causal    plain with the future masked

    Example: nlihw softmax error --preset int8 --inputs outliers --rows 32 --n 4096
    """
    p = softmax_preset(preset_name, n_max=n_max)
    _check_size(p, n, rows)
    x, mask = accuracy.attention_rows(np.random.default_rng(seed), rows, n, head_dim, inputs)
    case = accuracy.softmax_case(p, x, mask)
    print_error_table(case, accuracy.SOFTMAX_APPROX,
                      f"softmax ({preset_name}): {inputs} attention logits, {rows} rows of "
                      f"{n}, d={head_dim}, seed {seed}: vs float64 softmax", p.out_fmt)


# --- nlihw norm ------------------------------------------------------------------------------
KIND = click.option("--kind", type=click.Choice(["rms", "layer"]), default="rms",
                    show_default=True, help="rms: RMSNorm (x rsqrt(mean x^2 + eps) w); layer: "
                    "LayerNorm ((x - mean) rsqrt(var + eps) w + b).")


@click.group("norm")
def norm_group():
    """The RMSNorm / LayerNorm unit: reciprocal (1/n) and rsqrt on NLI engines.

    \b
    nlihw norm gen --kind layer --preset int16 -o build/layernorm
    nlihw norm error --kind rms --preset int8
    nlihw norm sim --kind layer
    """


@norm_group.command("gen")
@KIND
@unit_options(NORM_PRESETS)
@gen_options("rmsnorm_unit or layernorm_unit")
def norm_gen(kind, preset_name, n_max, top_name, output_mode, rounding, engine_arch, outdir):
    """Generate deterministic Verilog (and SystemVerilog), manifest, filelist, lint waivers and a
    FuseSoC core for the norm unit (same options, same bytes; all files or none). The manifest
    has the params, the ports (with the cfg stream that loads w and b), the payload fields and the
    clocks per row (2 n + 22 with the shipped tables).

    Example: nlihw norm gen --kind rms --preset int16 --n-max 4096 -o build/rmsnorm
    """
    p = norm_preset(preset_name, kind, n_max=n_max, output_mode=output_mode, rounding=rounding,
                    engine_arch=engine_arch, top_name=top_name or f"{kind}norm_unit")
    _write(p, outdir)


@norm_group.command("error")
@KIND
@unit_options(NORM_PRESETS)
@error_options(NORM_INPUTS, 1024)
def norm_error(kind, preset_name, n_max, inputs, n, rows, seed):
    """Error of the unit (its bit-exact golden model) against float64 RMSNorm / LayerNorm (torch
    semantics) on hidden-state rows, beside the I/O floor (only x, w, b and y rounded) and each
    approximation's share.

    \b
    --inputs (hidden states ~ N(0, sigma^2); w = 1 + 0.2 N(0, 1), b = 0.1 N(0, 1)):
      outliers  6 fixed outlier channels at 20-100 sigma (as in LLM activations), sigma such
                that the largest stays within 90 % of the input format
      plain     no outlier channels (same sigma)

    Example: nlihw norm error --kind layer --preset int16 --rows 16 --n 4096
    """
    p = norm_preset(preset_name, kind, n_max=n_max)
    _check_size(p, n, rows)
    rng = np.random.default_rng(seed)
    outl = NORM_OUTLIER_CHANNELS if inputs == "outliers" else 0
    x, _ = accuracy.hidden_rows(rng, rows, n, p.in_fmt, n_outliers=min(outl, n))
    w = 1 + 0.2 * rng.normal(size=n)
    b = 0.1 * rng.normal(size=n) if kind == "layer" else None
    case = accuracy.norm_case(p, x, w, b)
    print_error_table(case, accuracy.NORM_APPROX,
                      f"{kind}norm ({preset_name}): hidden rows ({inputs}), {rows} rows "
                      f"of {n}, seed {seed}: vs float64 {kind}norm", p.out_fmt)


# --- sim: the RTL in the Amaranth simulator against the golden model ----------------------------
# (a bench of its own would sit in nlihw.sim.rowop; it is here while the unit has no other driver)
MAX_SIM_N = 256
MAX_SIM_ELEMENTS = 1 << 14


def sim_options(f):
    for opt in reversed([
        click.option("--rows", type=click.IntRange(1), default=20, show_default=True,
                     help=f"Random rows of random lengths 1..n_max (rows x n_max at most "
                          f"{MAX_SIM_ELEMENTS:,})."),
        click.option("--stall", type=click.FloatRange(0, 1, max_open=True), default=0.3,
                     show_default=True, help="Probability of an idle input cycle and of "
                     "back-pressure on the output, each cycle."),
        click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
                     help="Random seed."),
    ]):
        f = opt(f)
    return f


def _random_rows(p, rng, rows: int, masked: bool):
    """[(x codes, mask)] of random lengths; wide and narrow rows, some masked entries."""
    one, out = 1 << p.in_fmt.frac_bits, []
    for _ in range(rows):
        ln = int(rng.integers(1, p.n_max + 1))
        x = np.rint(rng.normal(0, float(rng.choice([0.3, 2.0, 20.0])) * one, ln))
        x = p.in_fmt.saturate(x.astype(np.int64))
        out.append((x, (rng.random(ln) < 0.2) if masked else np.zeros(ln, bool)))
    return out


def _drive(dut, cfg, beats, n_out, stall, seed, limit):
    """Run ``dut``: ``cfg`` payloads, then ``beats`` (input payloads), random idles and
    back-pressure; the output payloads as dicts (``None`` when ``limit`` cycles pass first)."""
    rng_i, rng_o = np.random.default_rng([seed, 1]), np.random.default_rng([seed, 2])
    got, fields = [], list(dut.o.payload.shape().members)

    async def producer(ctx):
        for port, pay in [(dut.cfg, c) for c in cfg] + [(dut.i, b) for b in beats]:
            while rng_i.random() < stall:
                await ctx.tick()
            ctx.set(port.payload, pay)
            ctx.set(port.valid, 1)
            await ctx.tick().until(port.ready)
            ctx.set(port.valid, 0)

    async def consumer(ctx):
        for _ in range(limit):
            ctx.set(dut.o.ready, int(rng_o.random() >= stall))
            _, _, valid, ready, pay = await ctx.tick().sample(dut.o.valid, dut.o.ready,
                                                             dut.o.payload)
            if valid and ready:
                got.append({f: int(getattr(pay, f)) for f in fields})
                if len(got) == n_out:
                    return

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(producer)
    sim.add_testbench(consumer)
    sim.run()
    return got if len(got) == n_out else None


def _padded(p, rows):
    x = np.zeros((len(rows), p.n_max), np.int64)
    mask = np.ones((len(rows), p.n_max), bool)
    for k, (xr, mr) in enumerate(rows):
        x[k, :len(xr)], mask[k, :len(xr)] = xr, mr
    return x, mask, np.array([len(xr) for xr, _ in rows])


def _compare(p, rows, got, want, key: str, flags: dict) -> "str | None":
    """The first beat of ``got`` that differs from the model (value, ``last``, the row flags on
    the last beat), as one line with the row, element, input, expected and actual in hex."""
    w, wo, pos = p.in_fmt.width, p.out_fmt.width, 0
    hx = lambda v, bits: f"0x{v & ((1 << bits) - 1):0{(bits + 3) // 4}x}"     # noqa: E731
    for k, (xr, _) in enumerate(rows):
        for j in range(len(xr)):
            beat, last = got[pos], j == len(xr) - 1
            pos += 1
            exp = {key: int(want[k, j]), "last": int(last)}
            if last:
                exp.update({f: int(v[k]) for f, v in flags.items()})
            for f, v in exp.items():
                if beat[f] != v:
                    bits = wo if f == key else 1
                    return (f"row {k} element {j}: x={hx(int(xr[j]), w)} {f}: expected "
                            f"{hx(v, bits)}, got {hx(beat[f], bits)}")
    return None


def _report(p, rows, got, want, key, flags, stall) -> None:
    n = sum(len(x) for x, _ in rows)
    what = f"{len(rows)} rows, {n} elements, n_max {p.n_max}, stall {stall:g}"
    bad = "no complete output (timeout)" if got is None else _compare(p, rows, got, want, key, flags)
    if bad is None:
        click.echo(f"PASS: {p.top_name} RTL bit-exact with the golden model ({what})")
        return
    click.echo(f"FAIL: {p.top_name} ({what}): {bad}")
    click.get_current_context().exit(1)


def _check_sim(p, rows: int) -> None:
    if p.n_max > MAX_SIM_N or rows * p.n_max > MAX_SIM_ELEMENTS:
        raise ParamsError(f"sim: --n-max at most {MAX_SIM_N} and --rows x --n-max at most "
                          f"{MAX_SIM_ELEMENTS:,}, got {p.n_max} and {rows * p.n_max:,}")


@softmax_group.command("sim")
@unit_options(SOFTMAX_PRESETS, n_max=16)
@sim_options
def softmax_sim(preset_name, n_max, rows, stall, seed):
    """Run the unit's RTL in the Amaranth simulator on random rows (masked entries, random
    input idles and output back-pressure) against the bit-exact golden model; PASS, or FAIL with
    the first mismatching row and element (exit 1).

    Example: nlihw softmax sim --preset int8 --n-max 16 --rows 20
    """
    p = softmax_preset(preset_name, n_max=n_max, top_name="softmax_unit")
    _check_sim(p, rows)
    data = _random_rows(p, np.random.default_rng(seed), rows, masked=True)
    beats = [{"x": int(x[j]), "mask": int(m[j]), "last": int(j == len(x) - 1)}
             for x, m in data for j in range(len(x))]
    x, mask, lengths = _padded(p, data)
    ref = softmax_eval(p, x, mask=mask, lengths=lengths)
    dut = unit_component(p)
    limit = 4 * sum(dut.row_cycles(len(r)) for r, _ in data) / (1 - stall) ** 2 + 1000
    got = _drive(dut, [], beats, len(beats), stall, seed, int(limit))
    _report(p, data, got, ref.out, "p", {"empty": ref.empty, "sat": ref.sat}, stall)


@norm_group.command("sim")
@KIND
@unit_options(NORM_PRESETS, n_max=16)
@sim_options
def norm_sim(kind, preset_name, n_max, rows, stall, seed):
    """Run the unit's RTL in the Amaranth simulator on random rows (w and b loaded through the
    cfg stream first; random input idles and output back-pressure) against the bit-exact golden
    model; PASS, or FAIL with the first mismatching row and element (exit 1).

    Example: nlihw norm sim --kind layer --preset int8 --n-max 16 --rows 20
    """
    p = norm_preset(preset_name, kind, n_max=n_max, top_name=f"{kind}norm_unit")
    _check_sim(p, rows)
    rng = np.random.default_rng(seed)
    data = _random_rows(p, rng, rows, masked=False)
    w = rng.integers(p.w_fmt.min_raw, p.w_fmt.max_raw + 1, p.n_max)
    b = rng.integers(p.b_fmt.min_raw, p.b_fmt.max_raw + 1, p.n_max) if kind == "layer" else None
    cfg = [{"addr": a, "w": int(w[a]), **({"b": int(b[a])} if b is not None else {})}
           for a in range(p.n_max)]
    beats = [{"x": int(x[j]), "last": int(j == len(x) - 1)} for x, _ in data for j in range(len(x))]
    x, _, lengths = _padded(p, data)
    ref = norm_eval(p, x, w, b, lengths=lengths)
    dut = unit_component(p)
    limit = 4 * (sum(dut.row_cycles(len(r)) for r, _ in data) + 3 * p.n_max) / (1 - stall) ** 2
    got = _drive(dut, cfg, beats, len(beats), stall, seed, int(limit) + 1000)
    _report(p, data, got, ref.out, "y", {"sat": ref.sat}, stall)
