"""The sweep spec (TOML, or the same ranges as CLI options) and its validation: the whole spec is
checked, and its design points built, before any work starts; a mistake gives one error naming
the key (``nli.M``, ``nli[2].K``, ``sweep.stages``).

```toml
[sweep]
stages = ["fit", "gen", "synth"]      # fit, gen, verify (every input code <= 16 bits), synth

[[nli]]                               # one block is a product of its ranges; add more blocks
func = ["silu", "gelu"]
in_fmt = "s4.12"                      # strings parsed by nlihw.formats.parse_format
out_fmt = "s4.12"
M = [5, 9, 17]                        # uniform: at most M cutpoints; not used by direct
K = [1, 8]
micro_step = ["mul"]                  # mul | pow2
arch = ["parallel"]                   # parallel | binary | uniform (PWL) | direct (full LUT)
lanes = [1]
storage = ["rom"]                     # rom | ram
pipeline = ["none", "all"]            # register points: none | all | a depth N | "a,b" or "a+b"
target = ["generic"]                  # generic | generic-sram | xcup | ecp5 | ice40 (synth stage)
domain = ["-8:8"]                     # fit domains "LO:HI" (default: the function's)
metric = "max-abs"                    # fitter objective
grid = 256                            # fitter candidate cutpoints (default: the fitter's)

[[scan]]
preset = ["int16"]
d_state = [16]                        # N
lanes = [4, 16]                       # state lanes P (default: d_state, one result a clock)
pipeline = "none"                     # the scan unit's register points, as for nli
engine_pipeline = "none"              # those of its three NLI engines (the nli points)
d_inner = [8]
tokens = 64                           # sequence length of the error measurement
target = ["xcup"]

[[softmax]]                           # the row units (explore/rowop_task.py measures them)
preset = ["int8", "int16"]            # I/O formats and shipped NLI tables
n_max = [1024]                        # longest row the unit takes (its row buffers' depth)
output_mode = ["normalized"]          # normalized | deferred (e and the row's scale)
target = ["generic-sram"]             # generic-sram | xcup | ecp5

[[norm]]
preset = "int16"
kind = ["rms", "layer"]               # RMSNorm | LayerNorm
n_max = [1024, 4096]
output_mode = "normalized"
target = ["generic-sram"]
```

A value may be one item or a list. Unknown keys, empty ranges, bad values and impossible
combinations (K > 1 or storage "ram" with a baseline arch, a target without the synth stage, a
full LUT too large for the target, a row unit's n_max beyond what its preset's formats hold) are
refused. A row unit's "fit" stage measures its error (it has no table to fit).
"""
from __future__ import annotations

import functools
import itertools
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

from nlihw.errors import NlihwError, ParamsError
from nlihw.formats import parse_format
from nlihw.hdl.nli.params import ENGINE_PIPELINE
from nlihw.hdl.rowop.params import (N_MAX_LIMIT, NORM_KINDS, OUTPUT_MODES, PRESET_NAMES,
                                    norm_preset, softmax_preset)
from nlihw.hdl.scan.params import PIPELINE, PRESETS
from nlihw.luts.fit_metrics import METRICS
from nlihw.luts.fitter import MAX_GRID
from nlihw.luts.functions import get_function
from nlihw.luts.layout import TableLayout
from nlihw.synth.targets import TARGETS
from .input_files import MAX_SPEC_BYTES, InputFileError, read_input_text
from .points import STAGES, Point

MAX_POINTS = 100_000
FULL_LUT_SYNTH_LIMIT = 1 << 14      # larger full LUTs are synthesized for xcup only (block RAM)


class SpecError(NlihwError, ValueError):
    """The sweep spec is invalid; the message names the key."""


# key -> (default or REQUIRED, list allowed)
REQUIRED = object()
SWEEP_KEYS = {"stages": ["fit", "gen"]}
NLI_KEYS = {"func": REQUIRED, "in_fmt": ["s4.12"], "out_fmt": ["s4.12"], "M": None, "K": [1],
            "micro_step": ["mul"], "arch": ["parallel"], "lanes": [1], "storage": ["rom"],
            "target": [], "metric": ["max-abs"], "grid": [None], "domain": [""],
            "pipeline": ["none"]}
SCAN_KEYS = {"preset": REQUIRED, "d_state": [16], "lanes": None, "d_inner": [8], "tokens": [64],
             "target": [], "pipeline": ["none"], "engine_pipeline": ["none"]}
ROWOP_KEYS = {"preset": REQUIRED, "n_max": [4096], "output_mode": ["normalized"], "target": []}
NORM_KEYS = {"preset": REQUIRED, "kind": ["rms"], "n_max": [4096], "output_mode": ["normalized"],
             "target": []}
BLOCK_KEYS = {"nli": NLI_KEYS, "scan": SCAN_KEYS, "softmax": ROWOP_KEYS, "norm": NORM_KEYS}
# the row units are synthesized where their row buffers are memories (generic maps them to gates)
ROWOP_TARGETS = ("generic-sram", "xcup", "ecp5")
SCALAR_ONLY = {"tokens"}
ARCHS = ("parallel", "binary", "uniform", "direct")
BASELINES = ("uniform", "direct")


@dataclass(frozen=True)
class Spec:
    """A validated sweep: its stages, its blocks (key -> tuple of values) and its design points."""
    stages: tuple[str, ...]
    nli: tuple[dict, ...]
    scan: tuple[dict, ...]
    points: tuple[Point, ...]
    softmax: tuple[dict, ...] = ()
    norm: tuple[dict, ...] = ()

    def blocks(self) -> tuple[tuple[str, tuple[dict, ...]], ...]:
        """(kind, blocks) of every block kind, in BLOCK_KEYS order."""
        return tuple((kind, getattr(self, kind)) for kind in BLOCK_KEYS)

    def to_dict(self) -> dict:
        out = {"sweep": {"stages": list(self.stages)}}
        for kind, blocks in self.blocks():
            if blocks or kind in ("nli", "scan"):
                out[kind] = [{k: list(v) for k, v in b.items() if v is not None} for b in blocks]
        return out

    def to_toml(self) -> str:
        """The normalized spec as TOML (what a sweep writes to RESULTS/spec.toml)."""
        out = ["[sweep]", f"stages = {_toml(list(self.stages))}"]
        for kind, blocks in self.blocks():
            for b in blocks:
                out += ["", f"[[{kind}]]"]
                out += [f"{k} = {_toml(list(v) if k not in SCALAR_ONLY else v[0])}"
                        for k, v in b.items() if v and None not in v]
        return "\n".join(out) + "\n"


def _toml(v) -> str:
    if isinstance(v, list):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(v)


def load_spec(path: "str | Path", overrides: dict | None = None) -> Spec:
    """Read and validate a TOML spec file; ``overrides`` ({"nli": {key: [...]}, "scan": {...},
    "all": {...} (keys of every block), "sweep": {...}}) replace keys of every block (the CLI's
    range options)."""
    return load_spec_text(path, overrides)[0]


def load_spec_text(path: "str | Path", overrides: dict | None = None) -> tuple[Spec, str]:
    """``load_spec`` and the text it read (a regular file of at most MAX_SPEC_BYTES)."""
    path = Path(path)
    try:
        text = read_input_text(path, MAX_SPEC_BYTES, "spec (TOML)")
    except InputFileError as e:
        raise SpecError(str(e)) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise SpecError(f"{path}: not valid TOML ({e})") from None
    except RecursionError:
        raise SpecError(f"{path}: not a sweep spec (nested too deeply)") from None
    return parse_spec(data, overrides, where=f"{path}: "), text


def parse_spec(data: dict, overrides: dict | None = None, where: str = "") -> Spec:
    """Validate a spec given as data (TOML tables as dicts) and build its points."""
    try:
        return _parse(data, overrides or {})
    except SpecError as e:
        raise SpecError(where + str(e)) from None


def _parse(data: dict, overrides: dict) -> Spec:
    if not isinstance(data, dict):
        raise SpecError("spec: expected a table")
    for k in data:
        if k != "sweep" and k not in BLOCK_KEYS:
            raise SpecError(f"{k}: unknown key (a spec has [sweep], [[nli]], [[scan]], "
                            f"[[softmax]] and [[norm]])")
    sweep = data.get("sweep", {})
    if not isinstance(sweep, dict):
        raise SpecError("sweep: expected a table ([sweep])")
    sweep = {**sweep, **overrides.get("sweep", {})}
    for k in sweep:
        if k not in SWEEP_KEYS:
            raise SpecError(f"sweep.{k}: unknown key (known: {', '.join(SWEEP_KEYS)})")
    stages = _stages(sweep.get("stages", SWEEP_KEYS["stages"]))

    blocks = {}
    for kind, keys in BLOCK_KEYS.items():
        raw = data.get(kind, [])
        if isinstance(raw, dict):
            raw, single = [raw], True
        elif isinstance(raw, list) and all(isinstance(b, dict) for b in raw):
            single = len(raw) == 1
        else:
            raise SpecError(f"{kind}: expected a table ([{kind}]) or tables ([[{kind}]])")
        own, shared = overrides.get(kind, {}), overrides.get("all", {})
        shared = {k: v for k, v in shared.items() if k in keys}      # a row unit has no lanes
        if own or (shared and raw):
            # keys for every kind (the target) apply to blocks that exist or are being made
            raw = [{**b, **shared, **own} for b in raw] or [{**shared, **own}]
            single = len(raw) == 1
        blocks[kind] = [_block(kind if single else f"{kind}[{i}]", b, keys)
                        for i, b in enumerate(raw)]
    if not any(blocks.values()):
        raise SpecError("spec: no [[nli]] or [[scan]] block (nor [[softmax]] or [[norm]]): "
                        "nothing to sweep")

    points: dict[str, Point] = {}
    checks = {"nli": _nli_points, "scan": _scan_points,
              "softmax": functools.partial(_rowop_points, "softmax"),
              "norm": functools.partial(_rowop_points, "norm")}
    for kind, check in checks.items():
        n = len(blocks[kind])
        for i, b in enumerate(blocks[kind]):
            name = kind if n == 1 else f"{kind}[{i}]"
            for p in check(name, b, stages):
                points.setdefault(p.point_id, p)
                if len(points) > MAX_POINTS:
                    raise SpecError(f"spec: more than {MAX_POINTS:,} design points; split the sweep")
    return Spec(stages, tuple(blocks["nli"]), tuple(blocks["scan"]),
                tuple(points[k] for k in sorted(points)), tuple(blocks["softmax"]),
                tuple(blocks["norm"]))


def _stages(v) -> tuple[str, ...]:
    items = v if isinstance(v, list) else [v]
    if not items:
        raise SpecError("sweep.stages: empty range (give at least \"fit\")")
    for s in items:
        if s not in STAGES:
            raise SpecError(f"sweep.stages: unknown stage {s!r} (choose from {', '.join(STAGES)})")
    st = set(items)
    if "fit" not in st:
        raise SpecError("sweep.stages: every sweep starts with \"fit\"")
    for s in ("verify", "synth"):
        if s in st and "gen" not in st:
            raise SpecError(f"sweep.stages: \"{s}\" needs \"gen\" (the Verilog it reads)")
    return tuple(s for s in STAGES if s in st)


def _block(name: str, b: dict, keys: dict) -> dict:
    out = {}
    for k in b:
        if k == "P" and "lanes" in keys:
            raise SpecError(f"{name}.P: the state lanes are now called lanes (lanes = [...])")
        if k not in keys:
            raise SpecError(f"{name}.{k}: unknown key (known: {', '.join(keys)})")
    for k, default in keys.items():
        if k not in b:
            if default is REQUIRED:
                raise SpecError(f"{name}.{k}: missing (required)")
            out[k] = None if default is None else tuple(default)
            continue
        v = b[k]
        if isinstance(v, dict):
            raise SpecError(f"{name}.{k}: expected a value or a list of values, got a table")
        if isinstance(v, list):
            if k in SCALAR_ONLY:
                raise SpecError(f"{name}.{k}: expected one value, got a list")
            if not v:
                raise SpecError(f"{name}.{k}: empty range")
            vals = v
        else:
            vals = [v]
        uniq = []
        for x in vals:
            if isinstance(x, (list, dict)):
                raise SpecError(f"{name}.{k}: nested lists or tables are not values")
            if x not in uniq:
                uniq.append(x)
        out[k] = tuple(uniq)
    return out


def _check_str(name, k, vals, choices=None):
    for x in vals:
        if not isinstance(x, str):
            raise SpecError(f"{name}.{k}: expected a string, got {x!r}")
        if choices is not None and x not in choices:
            raise SpecError(f"{name}.{k}: unknown value {x!r} (choose from {', '.join(choices)})")


def _pipelines(name, vals, datapath, key="pipeline") -> list[str]:
    """Each pipeline spec (none, all, a depth, names) as its enabled points ("" for none), so
    equal pipelines written differently are one point."""
    out = []
    for x in vals:
        if not isinstance(x, (str, int)) or isinstance(x, bool):
            raise SpecError(f"{name}.{key}: expected a string or a depth, got {x!r}")
        try:
            pipe = datapath.parse(x.replace("+", ",") if isinstance(x, str) else x)
        except ParamsError as e:
            raise SpecError(f"{name}.{key}: {e}") from None
        out.append(",".join(pipe.enabled))
    return list(dict.fromkeys(out))


def _check_int(name, k, vals, lo, hi, none_ok=False):
    for x in vals:
        if x is None and none_ok:
            continue
        if not isinstance(x, int) or isinstance(x, bool):
            raise SpecError(f"{name}.{k}: expected an integer, got {x!r}")
        if not lo <= x <= hi:
            raise SpecError(f"{name}.{k}: {x} is out of range {lo}..{hi}")


def _check_formats(name, k, vals):
    for x in vals:
        _check_str(name, k, [x])
        try:
            parse_format(x)
        except ValueError as e:
            raise SpecError(f"{name}.{k}: {e}") from None


def _check_targets(name, b, stages):
    _check_str(name, "target", b["target"], tuple(TARGETS))
    if "synth" in stages and not b["target"]:
        raise SpecError(f"{name}.target: missing (the synth stage needs a target: "
                        f"{', '.join(TARGETS)})")
    if b["target"] and "synth" not in stages:
        raise SpecError(f"{name}.target: targets given but sweep.stages has no \"synth\"")


def _check_size(name, b):
    n = 1
    for v in b.values():
        n *= len(v) if v else 1
    if n > MAX_POINTS:
        raise SpecError(f"{name}: {n:,} combinations, more than {MAX_POINTS:,} design points; "
                        f"split the sweep")


def _nli_points(name: str, b: dict, stages) -> list[Point]:

    _check_str(name, "func", b["func"])
    for f in b["func"]:
        try:
            get_function(f)
        except (NlihwError, ValueError, ImportError) as e:
            raise SpecError(f"{name}.func: {e}") from None
    _check_formats(name, "in_fmt", b["in_fmt"])
    _check_formats(name, "out_fmt", b["out_fmt"])
    _check_str(name, "arch", b["arch"], ARCHS)
    if b["M"] is None and any(a != "direct" for a in b["arch"]):
        raise SpecError(f"{name}.M: missing (required unless arch is \"direct\" only)")
    _check_int(name, "M", b["M"] or (), 2, 1 << 24)
    _check_int(name, "K", b["K"], 1, 4096)
    _check_str(name, "micro_step", b["micro_step"], ("mul", "pow2"))
    _check_int(name, "lanes", b["lanes"], 1, 64)
    _check_str(name, "storage", b["storage"], ("rom", "ram"))
    _check_str(name, "metric", b["metric"], METRICS)
    _check_int(name, "grid", b["grid"], 2, MAX_GRID, none_ok=True)
    _check_str(name, "domain", b["domain"])
    domains = [_check_domain(name, d) for d in b["domain"]]
    _check_targets(name, b, stages)
    _check_size(name, b)
    targets = b["target"] or ("",)
    pipes = _pipelines(name, b["pipeline"], ENGINE_PIPELINE)

    out = []
    for arch, func, fi, fo, M, K, step, lanes, storage, target, metric, grid, domain, pipe in itertools.product(
            b["arch"], b["func"], b["in_fmt"], b["out_fmt"], b["M"] or (None,), b["K"],
            b["micro_step"], b["lanes"], b["storage"], targets, b["metric"], b["grid"], domains, pipes):
        if arch in BASELINES and pipe:
            raise SpecError(f"{name}.pipeline: register points apply to arch parallel and binary, "
                            f"not {arch!r}; put baselines in their own [[nli]] block")
        if arch in BASELINES:
            if K != 1:
                raise SpecError(f"{name}.K: K={K} is impossible with arch {arch!r} (a baseline has "
                                f"no micro bins); put baselines in their own [[nli]] block with K = 1")
            if storage != "rom":
                raise SpecError(f"{name}.storage: storage {storage!r} is impossible with arch "
                                f"{arch!r} (baselines are rom only)")
            step = "pow2" if arch == "uniform" else "mul"      # the baseline table's own
            metric, grid = "", None                            # not fitted
            if arch == "direct":
                M = None
                codes = 1 << parse_format(fi).width
                if target and target != "xcup" and codes > FULL_LUT_SYNTH_LIMIT:
                    raise SpecError(f"{name}.target: a full LUT of up to {codes:,} entries "
                                    f"({fi}) is synthesized for xcup only (block RAM), not "
                                    f"{target!r}")
        else:
            try:
                TableLayout(fi, fo, M, K, step)
            except ParamsError as e:
                msg = str(e)
                key = msg.split()[0] if msg.split()[0] in ("M", "K", "mul_bits") else "M"
                raise SpecError(f"{name}.{key}: {msg} (in_fmt {fi}, micro_step {step})") from None
        out.append(Point("nli", stages, target=target, func=func, in_fmt=fi, out_fmt=fo, M=M, K=K,
                         micro_step=step, arch=arch, lanes=lanes, storage=storage, metric=metric,
                         grid=grid, domain=domain, pipeline=pipe))
    return out


def _check_domain(name: str, text: str) -> str:
    """"" or "LO:HI" with finite LO < HI, normalized to the exact reprs of the two floats."""
    if text == "":
        return ""
    try:
        lo, hi = (float(v) for v in text.split(":"))
    except ValueError:
        raise SpecError(f"{name}.domain: expected \"LO:HI\" (e.g. \"-8:0\"), got {text!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise SpecError(f"{name}.domain: expected finite LO < HI, got {text!r}")
    return f"{lo!r}:{hi!r}"


def _scan_points(name: str, b: dict, stages) -> list[Point]:
    _check_str(name, "preset", b["preset"], tuple(PRESETS))
    _check_int(name, "d_state", b["d_state"], 1, 256)
    for n in b["d_state"]:
        if n & (n - 1):
            raise SpecError(f"{name}.d_state: {n} is not a power of two")
    if b["lanes"] is not None:
        _check_int(name, "lanes", b["lanes"], 1, 256)
    _check_int(name, "d_inner", b["d_inner"], 1, 4096)
    _check_int(name, "tokens", b["tokens"], 1, 1 << 16)
    _check_targets(name, b, stages)
    _check_size(name, b)
    pipes = _pipelines(name, b["pipeline"], PIPELINE)
    epipes = _pipelines(name, b["engine_pipeline"], ENGINE_PIPELINE, "engine_pipeline")
    out = []
    for preset, N, P, D, T, target, pipe, epipe in itertools.product(
            b["preset"], b["d_state"], b["lanes"] or (None,), b["d_inner"], b["tokens"],
            b["target"] or ("",), pipes, epipes):
        P = N if P is None else P
        if P & (P - 1) or N % P:
            raise SpecError(f"{name}.lanes: {P} must be a power of two dividing d_state={N}")
        out.append(Point("scan", stages, target=target, preset=preset, d_inner=D, d_state=N, lanes=P,
                         tokens=T, pipeline=pipe, engine_pipeline=epipe))
    return out


def _rowop_points(design: str, name: str, b: dict, stages) -> list[Point]:
    """The points of a [[softmax]] or [[norm]] block (``design``: the block's kind); each preset,
    kind and n_max is checked by building the unit's params once."""
    _check_str(name, "preset", b["preset"], PRESET_NAMES)
    kinds = b.get("kind") or ("",)
    if design == "norm":
        _check_str(name, "kind", kinds, NORM_KINDS)
    _check_int(name, "n_max", b["n_max"], 1, N_MAX_LIMIT)
    _check_str(name, "output_mode", b["output_mode"], OUTPUT_MODES)
    _check_targets(name, b, stages)
    for t in b["target"]:
        if t not in ROWOP_TARGETS:
            raise SpecError(f"{name}.target: row units are synthesized on "
                            f"{', '.join(ROWOP_TARGETS)}, not {t!r} (generic maps their row "
                            f"buffers to gates, which takes hours)")
    _check_size(name, b)
    out = []
    for preset, kind, n_max in itertools.product(b["preset"], kinds, b["n_max"]):
        try:
            if design == "norm":
                norm_preset(preset, kind, n_max=n_max)
            else:
                softmax_preset(preset, n_max=n_max)
        except ParamsError as e:
            raise SpecError(f"{name}.n_max: {e} (preset {preset}"
                            + (f", kind {kind})" if kind else ")")) from None
        func = f"{kind}norm" if design == "norm" else "softmax"
        for mode, target in itertools.product(b["output_mode"], b["target"] or ("",)):
            out.append(Point(design, stages, target=target, func=func, preset=preset,
                             n_max=n_max, output_mode=mode))
    return out
