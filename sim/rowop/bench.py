"""Host side of the row units' Verilator bench (softmax, RMSNorm, LayerNorm): generate and verilate
the unit (cached), draw rows (``stimulus``), compute every expected output beat with the golden
model, run the cocotb tests of ``bench_cocotb`` on Verilator.

Payloads are packed with the RTL's own layouts (``hdl/rowop/softmax.py``, ``norm.py``), so no width
is restated. Every output field is compared on every beat: the row fields the RTL holds on each
beat (softmax ``empty``, ``r``, ``k``; norm ``scale``, ``k``, ``mean``) and the running ``sat``
flag (the row's flag so far, the row's flag on the ``last`` beat), as the RTL's docstrings define.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from amaranth.hdl import Shape

from nlihw.hdl.rowop import norm as norm_rtl, softmax as softmax_rtl
from nlihw.hdl.rowop.generate import component, generate, layouts
from nlihw.hdl.rowop.params import NormParams, SoftmaxParams
from nlihw.sim.common import runner
from .golden import norm_eval, softmax_eval
from .stimulus import norm_rows, norm_weights, softmax_rows

TEST_MODULE = "nlihw.sim.rowop.bench_cocotb"
VALUE_FIELD = {"softmax": {"normalized": "p", "deferred": "e"},
               "norm": {"normalized": "y", "deferred": "x"}}


def pack(layout, **values) -> int:
    """Pack raw field values LSB-first as the layout does (two's complement where signed)."""
    word = 0
    for name, f in layout:
        word |= (int(values[name]) & ((1 << f.width) - 1)) << f.offset
    return word


def field_table(layout) -> dict:
    """{field: [lsb, width, signed]}: what the cocotb side needs to decode a payload."""
    return {name: [f.offset, f.width, Shape.cast(f.shape).signed] for name, f in layout}


@dataclass
class Group:
    """Rows sent back to back under one set of weights; ``chans``: the channels written through
    ``cfg`` just before them (normalized norms; empty otherwise)."""
    rows: list
    w: "np.ndarray | None" = None
    b: "np.ndarray | None" = None
    chans: tuple = ()


@dataclass
class Scenario:
    params: "SoftmaxParams | NormParams"
    groups: list
    seed: int


def draw(p, seed: int = 0, n_random: int = 24) -> Scenario:
    """The edge-case rows and ``n_random`` random ones; a normalized norm loads every channel's
    weights first and reloads half of them (w and b) between the two halves of the rows."""
    rng = np.random.default_rng(seed)
    if isinstance(p, SoftmaxParams):
        return Scenario(p, [Group(softmax_rows(p, rng, n_random))], seed)
    rows = norm_rows(p, rng, n_random)
    w1, b1 = norm_weights(p, rng)
    w2, b2 = norm_weights(p, rng)
    chans = np.sort(rng.permutation(p.n_max)[:max(1, p.n_max // 2)])
    w2m, b2m = w1.copy(), b1.copy()
    w2m[chans], b2m[chans] = w2[chans], b2[chans]
    cut = len(rows) // 2
    cfg = p.output_mode == "normalized"
    return Scenario(p, [Group(rows[:cut], w1, b1, tuple(range(p.n_max)) if cfg else ()),
                        Group(rows[cut:], w2m, b2m, tuple(int(c) for c in chans) if cfg else ())],
                    seed)


def _running(flags: np.ndarray) -> np.ndarray:
    """The sticky per-row flag so far, element by element."""
    return np.logical_or.accumulate(flags, axis=1)


def softmax_beats(p: SoftmaxParams, rows) -> tuple[list[int], list[int]]:
    """(input payloads, expected output payloads), one per element, rows in order."""
    lengths = np.array([len(x) for x, _ in rows])
    x = np.zeros((len(rows), p.n_max), np.int64)
    mask = np.ones((len(rows), p.n_max), bool)
    for k, (xr, mr) in enumerate(rows):
        x[k, :len(xr)], mask[k, :len(xr)] = xr, mr
    ref = softmax_eval(p, x, mask=mask, lengths=lengths)
    li, lo = softmax_rtl.input_layout(p), softmax_rtl.output_layout(p)
    sat = _running(ref.stages["p_raw"] != ref.out) if p.output_mode == "normalized" else None
    ins, outs = [], []
    for k, (xr, mr) in enumerate(rows):
        for j in range(len(xr)):
            last = int(j == len(xr) - 1)
            ins.append(pack(li, x=xr[j], mask=mr[j], last=last))
            if p.output_mode == "normalized":
                outs.append(pack(lo, p=ref.out[k, j], last=last, empty=ref.empty[k],
                                 sat=sat[k, j]))
            else:
                outs.append(pack(lo, e=ref.out[k, j], last=last, r=ref.r[k], k=ref.k[k],
                                 empty=ref.empty[k]))
    return ins, outs


def norm_beats(p: NormParams, g: Group) -> tuple[list[int], list[int]]:
    """(input payloads, expected output payloads) of one group, under its weights."""
    lengths = np.array([len(x) for x in g.rows])
    x = np.zeros((len(g.rows), p.n_max), np.int64)
    for k, xr in enumerate(g.rows):
        x[k, :len(xr)] = xr
    ref = norm_eval(p, x, g.w, g.b if p.kind == "layer" else None, lengths=lengths)
    li, lo = norm_rtl.input_layout(p), norm_rtl.output_layout(p)
    sat = _running(ref.stages["y_raw"] != ref.out) if p.output_mode == "normalized" else None
    ins, outs = [], []
    for k, xr in enumerate(g.rows):
        for j in range(len(xr)):
            last = int(j == len(xr) - 1)
            ins.append(pack(li, x=xr[j], last=last))
            if p.output_mode == "normalized":
                outs.append(pack(lo, y=ref.out[k, j], last=last, sat=sat[k, j]))
            else:
                outs.append(pack(lo, x=xr[j], last=last, scale=ref.scale[k], k=ref.k[k],
                                 mean=ref.mean[k] if p.kind == "layer" else 0))
    return ins, outs


def cfg_words(p: NormParams, g: Group) -> list[int]:
    lay = norm_rtl.config_layout(p)
    return [pack(lay, addr=a, w=g.w[a], **({"b": g.b[a]} if p.kind == "layer" else {}))
            for a in g.chans]


def unit_kind(p) -> str:
    return "softmax" if isinstance(p, SoftmaxParams) else "norm"


def streams(s: Scenario) -> tuple[list, list[int]]:
    """(items, expected): items = [[port, payloads]] sent in order, each once the one before has
    been taken in full; expected = every output payload in order."""
    p, items, expected = s.params, [], []
    for g in s.groups:
        if g.chans:
            items.append(["cfg", cfg_words(p, g)])
        ins, outs = softmax_beats(p, g.rows) if unit_kind(p) == "softmax" else norm_beats(p, g)
        items.append(["i", ins])
        expected += outs
    return items, expected


def _unit(p):
    """The component, for its cycle methods only (never elaborated)."""
    dut = component(p)
    dut._MustUse__silence = True
    return dut


def bench_config(s: Scenario, *, stall: float = 0.0, sink_stall: "float | None" = None,
                 seed: int = 1, corrupt_beat: "int | None" = None,
                 latency_offset: int = 0) -> dict:
    """Inputs and expectations for ``test_stream``: ``stall`` is the chance of an idle cycle on
    the input streams, ``sink_stall`` (default ``stall``) of back-pressure on ``o``; with neither,
    the per-row cycle counts are checked exactly. ``corrupt_beat`` (+1 on that beat's value field)
    and ``latency_offset`` break the expectation on purpose, to prove the bench fails."""
    p, dut = s.params, _unit(s.params)
    items, expected = streams(s)
    lay = layouts(p)
    if corrupt_beat is not None:
        off, width, _ = field_table(lay["o"])[VALUE_FIELD[unit_kind(p)][p.output_mode]]
        old = (expected[corrupt_beat] >> off) & ((1 << width) - 1)
        expected[corrupt_beat] ^= (old ^ ((old + 1) & ((1 << width) - 1))) << off
    lengths = [len(r[0]) if isinstance(r, tuple) else len(r) for g in s.groups for r in g.rows]
    sink = stall if sink_stall is None else sink_stall
    return {
        "unit": unit_kind(p), "mode": p.output_mode, "n_max": p.n_max, "has_cfg": "cfg" in lay,
        "items": items, "expected": expected, "lengths": lengths,
        "group": [k for k, g in enumerate(s.groups) for _ in g.rows],
        "first_out": [dut.first_out_latency(n) + latency_offset for n in lengths],
        "row_cycles": [dut.row_cycles(n) for n in lengths],
        "drain": dut.row_cycles(p.n_max) + 10,
        "stall": stall, "sink_stall": sink, "seed": seed,
        "check_timing": stall == 0 and sink == 0, "resets": [],
        "fields": {k: field_table(v) for k, v in lay.items()},
    }


def hits(cfg: dict) -> dict:
    """How often the expected beats exercise the flags: ``sat`` set before a row's last beat
    (the sticky flag carried), ``sat`` on a last beat, ``empty`` rows (softmax)."""
    f = cfg["fields"]["o"]
    bit = lambda w, name: (w >> f[name][0]) & 1 if name in f else 0      # noqa: E731
    last = [bit(w, "last") for w in cfg["expected"]]
    return {"sat_carried": sum(bit(w, "sat") and not lw for w, lw in zip(cfg["expected"], last)),
            "sat_rows": sum(bit(w, "sat") and lw for w, lw in zip(cfg["expected"], last)),
            "empty_rows": sum(bit(w, "empty") and lw for w, lw in zip(cfg["expected"], last))}


def _prefix(items: list, n_inputs: int) -> list:
    """The items up to and including the ``n_inputs``-th ``i`` payload."""
    out, left = [], n_inputs
    for port, words in items:
        if port == "i":
            out.append([port, words[:left]])
            left -= len(out[-1][1])
            if left == 0:
                return out
        else:
            out.append([port, words])
    raise ValueError(f"the scenario has fewer than {n_inputs} input beats")


def reset_config(s: Scenario, **kw) -> dict:
    """``bench_config`` plus two resets before the full run: one in the middle of a row's input
    (part of a row taken in, no ``last`` yet), one in the middle of a row's output. Each phase
    starts from reset with the scenario's own prefix, so its outputs are checked too."""
    cfg = bench_config(s, **kw)
    lengths = cfg["lengths"]
    start = np.cumsum([0] + lengths)
    r_in = next(k for k in range(1, len(lengths)) if lengths[k] >= 2)
    r_out = next(k for k in range(1, len(lengths)) if lengths[k] >= 4 and k != r_in)
    cfg["resets"] = [
        {"items": _prefix(cfg["items"], int(start[r_in] + lengths[r_in] // 2)),
         "wait_out": int(start[r_in])},
        {"items": _prefix(cfg["items"], int(start[r_out + 1])),
         "wait_out": int(start[r_out] + lengths[r_out] // 2)},
    ]
    cfg["check_timing"] = False
    return cfg


def build_unit(p, outdir: "str | Path", waves: bool = False, *,
               build_root: "Path | None" = None) -> runner.BuiltSim:
    """Generate the unit into ``outdir`` and verilate its Verilog under ``build_root`` (default
    ``runner.BUILD_ROOT``); ``waves`` (or WAVES=1) traces: FST where the toolchain can, else VCD."""
    paths = generate(p, outdir)
    return runner.build(paths["verilog"], p.top_name, waves=waves, build_root=build_root)


def run_bench(sim: runner.BuiltSim, cfg: dict, workdir: "str | Path", test: str = "test_stream",
              *, timeout: float = runner.RUN_TIMEOUT_S) -> runner.BenchResult:
    return runner.run_bench_test(sim, TEST_MODULE, cfg, workdir, test, timeout=timeout)
