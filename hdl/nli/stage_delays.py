"""The engine's datapath as a chain of logic elements between registers, each costed in primitive
delays (LUT levels, carry-chain bits, hardware multipliers, block-RAM reads), so that a target's
delay model (``nlihw.synth.delay_model``) can predict every pipeline's clock rate and choose the
least latency that meets a requested one, as FloPoCo operators do with their Target.

``elements(params)`` lists the elements in datapath order; each names the register that follows
it: ``BASE`` (always there), an optional point of ``ENGINE_PIPELINE`` (a register only when the
pipeline enables it) or ``None`` (none: the next element continues the path). The counts follow
the RTL (hdl/nli/*.py) and the widths of the layout; they are estimates of logic depth, not of
area. A stage's delay is its elements' sum plus one register overhead.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

from nlihw.errors import ParamsError
from nlihw.luts.layout import MicroStep, clog2

from .params import ENGINE_PIPELINE, NLIEngineParams

BASE = "base"
PRIMITIVES = ("lut", "carry", "chain", "mult", "mem", "mult_r", "mem_r", "mem_in")
# A hard block whose register the pipeline provides works as registered: with its input register
# (``mul_in``, ``interp_in``) a multiplier costs ``mult_r`` (what is left outside the block's own
# registers), and with its output register (``table_out``) a block-RAM read costs ``mem_r``.
_ABSORBED = {"dx_mul": ("mul_in", "mult", "mult_r"), "interp_mul": ("interp_in", "mult", "mult_r"),
             "table_read": ("table_out", "mem", "mem_r")}


@dataclass(frozen=True)
class Element:
    """One piece of combinational logic: its primitive counts, then the register after it."""
    name: str
    cost: dict = field(default_factory=dict)       # primitive -> count
    then: str | None = None                        # BASE, a pipeline point, or None


def _levels(n: int) -> int:
    """LUT4 levels of an n-input mux or reduction (4 inputs a level, 2 of them data in a mux)."""
    return max(1, math.ceil(math.log(max(2, n), 4)))


def _carry(bits: int, luts: int = 0) -> dict:
    """A carry chain of ``bits`` (an adder, subtractor or comparator) plus ``luts`` levels."""
    return {"chain": 1, "carry": bits, "lut": luts}


def _sum(*costs: dict) -> dict:
    out: dict = {}
    for c in costs:
        for k, v in c.items():
            out[k] = out.get(k, 0) + v
    return out


def _mults(a: int, b: int) -> dict:
    """An a x b product: one hardware multiplier per 18 x 18 tile; several tiles add their partial
    products with a carry chain of the product's width."""
    tiles = math.ceil(a / 18) * math.ceil(b / 18)
    if tiles == 1:
        return {"mult": 1}
    return _sum({"mult": 1}, _carry(a + b, 1))


def elements(p: NLIEngineParams) -> list[Element]:
    """The engine's elements in datapath order (parallel and binary architectures)."""
    if p.arch not in ("parallel", "binary"):
        raise ValueError("stage delays are modelled for the parallel and binary architectures")
    lay = p.layout
    M, T, W = lay.M, lay.t_bits, lay.in_fmt.width
    nf = p.n_funcs
    D = lay.dx_bits
    out: list[Element] = []
    if lay.in_float:
        # order key (a conditional invert) and the position shifter over the exponent range
        out.append(Element("float_input", {"lut": 1 + _levels(1 << lay.in_fmt.exp_bits)}, BASE))
    if p.arch == "parallel":
        out.append(Element("compare", _carry(W, _levels(nf)), "search_compare"))
        out.append(Element("encode", {"lut": _levels(M) + _levels(M * nf)}, "search_base"))
        out.append(Element("dx", _carry(D), BASE))
    else:
        for d in range(p.search_stages - 1):
            out.append(Element(f"bisect{d}", _carry(W, _levels(1 << d) + _levels(nf)), BASE))
        out.append(Element("bisect_last", _carry(W, _levels(1 << (p.search_stages - 1)) + _levels(nf)),
                           "search_compare"))
        out.append(Element("base_select", {"lut": _levels(M * nf)}, "search_base"))
        out.append(Element("dx", _carry(D), BASE))
    if lay.micro_step is MicroStep.MUL:
        out.append(Element("mul_select", {"lut": _levels((M - 1) * nf)}, "mul_in"))
        out.append(Element("dx_mul", _mults(D, lay.mul_bits), BASE))
    else:
        out.append(Element("dx_shift", {"lut": 1}, "mul_in"))
        out.append(Element("dx_reg", {}, BASE))
    # u = prod >> shift[i] (a barrel shifter), then a = f n + i S + j (an adder)
    out.append(Element("shift_address", _carry(max(1, clog2(p.total_values)),
                                               _levels((M - 1) * nf) + math.ceil(lay.shift_bits / 2)),
                       "table_addr"))
    # the memories' own address register: a block RAM's address setup (beyond a flip-flop's)
    out.append(Element("address", {"mem_in": 1}, BASE))
    out.append(Element("table_read", {"mem": 1}, "table_out"))
    out.append(Element("bank_swap", {"lut": 1}, BASE))
    out.append(Element("difference", _carry(p.diff_bits), "interp_in"))
    out.append(Element("interp_mul", _mults(T, p.diff_bits), BASE))
    out.append(Element("accumulate", _carry(lay.acc_bits), BASE))
    if lay.out_float:
        # leading one, binade, shift amount (registered inside FloatRound), then round and pack
        out.append(Element("normalize", _carry(8, _levels(lay.acc_bits) + 1), BASE))
        out.append(Element("round", _carry(lay.out_fmt.width, math.ceil(clog2(lay.acc_bits) / 2)),
                           "round_split"))
        out.append(Element("saturate_class", _carry(lay.out_fmt.width, 2), BASE))
    else:
        out.append(Element("round", _carry(lay.acc_bits - T), "round_split"))
        out.append(Element("saturate_class", _carry(lay.out_fmt.width, 2), BASE))
    return out


@dataclass(frozen=True)
class Stage:
    """A register-to-register segment: its elements and summed primitive counts."""
    elements: tuple[str, ...]
    cost: dict


def stages(p: NLIEngineParams, pipeline=None) -> list[Stage]:
    """The register-to-register stages of ``p`` with ``pipeline`` (default: ``p.pipeline``)."""
    pipe = p.pipeline if pipeline is None else ENGINE_PIPELINE.parse(pipeline)
    out, names, cost = [], [], {}
    for e in elements(p):
        names.append(e.name)
        ecost = dict(e.cost)
        if e.name in _ABSORBED:
            point, plain, registered = _ABSORBED[e.name]
            if point in pipe and plain in ecost:
                ecost[registered] = ecost.pop(plain)
        for k, v in ecost.items():
            cost[k] = cost.get(k, 0) + v
        if e.then == BASE or (e.then is not None and e.then in pipe):
            out.append(Stage(tuple(names), cost))
            names, cost = [], {}
    if names:
        out.append(Stage(tuple(names), cost))
    return out


def candidate_pipelines(p: NLIEngineParams):
    """Every subset of the optional points, fewest first (ties: the ``prefer`` order's earlier)."""
    pts = ENGINE_PIPELINE.points
    rank = {n: k for k, n in enumerate(ENGINE_PIPELINE.prefer)}
    for depth in range(len(pts) + 1):
        combos = sorted(itertools.combinations(pts, depth),
                        key=lambda c: sorted(rank[n] for n in c))
        for c in combos:
            yield ENGINE_PIPELINE.with_enabled(c)


def predict(p: NLIEngineParams, model, pipeline=None) -> tuple[float, Stage]:
    """(predicted Fmax in MHz, slowest stage) of ``p`` with ``pipeline`` on a target's
    ``TargetDelays``."""
    st = stages(p, pipeline)
    mhz, k = model.predict([s.cost for s in st])
    return mhz, st[k]


def check_clock(mhz) -> None:
    """A requested clock rate must be a number of MHz in (0, 10000); else a one-line error."""
    if not (isinstance(mhz, (int, float)) and not isinstance(mhz, bool) and 0 < mhz < 10_000):
        raise ParamsError(f"target clock must be in (0, 10000) MHz, got {mhz!r}")


def choose_pipeline(p: NLIEngineParams, model, mhz: float):
    """(pipeline, predicted MHz, met): the fewest register points whose predicted Fmax reaches
    ``mhz`` (among those, the fastest); if none does, every point, with ``met`` False."""
    check_clock(mhz)
    best_depth, best = None, None
    for pipe in candidate_pipelines(p):
        if best_depth is not None and pipe.depth > best_depth:
            break
        f, _ = predict(p, model, pipe)
        if f >= mhz and (best is None or f > best[1]):
            best_depth, best = pipe.depth, (pipe, f)
    if best is not None:
        return best[0], best[1], True
    full = ENGINE_PIPELINE.with_enabled(ENGINE_PIPELINE.points)
    return full, predict(p, model, full)[0], False


def fastest_of_depth(p: NLIEngineParams, model, depth: int):
    """(pipeline, predicted MHz): the ``depth`` register points the model expects to be fastest."""
    if isinstance(depth, bool) or not isinstance(depth, int) or not 0 <= depth <= len(ENGINE_PIPELINE.points):
        raise ParamsError(f"pipeline depth must be 0..{len(ENGINE_PIPELINE.points)}, got {depth!r}")
    best = None
    for pipe in candidate_pipelines(p):
        if pipe.depth != depth:
            continue
        f, _ = predict(p, model, pipe)
        if best is None or f > best[1]:
            best = (pipe, f)
    return best
