"""Per-target delay models (a FloPoCo ``Target``): the delay in ns of each primitive a datapath
stage is built from, calibrated from nextpnr runs and stored in ``delays.json`` beside this file.

A stage costs ``reg`` (clock to Q, setup, the first route) plus, per count, ``lut`` (one LUT level
with its routing), ``carry`` (one bit of a carry chain), ``chain`` (entering and leaving a carry
chain), ``mult`` (a combinational hardware multiplier with its routing), ``mem`` (a block-RAM
read, clock to data), and ``mult_r`` / ``mem_r``: the same blocks when the pipeline gives them
their own input / output register (the flow moves it into the block: ECP5 MULT18X18D and DP16KD
by synth/ecp5_dsp.py, iCE40 SB_MAC16 by yosys), i.e. what is left of them outside it; and
``mem_in``, a block RAM's address setup beyond a flip-flop's. The slowest stage sets the predicted Fmax.

Calibration (``calibrate``): nextpnr reports only the slowest path of a run, so every run gives
one equation: its measured critical delay = the model's slowest stage. Starting from priors
(typical values of the family), the stage the model finds slowest in each run is fitted by
regularized least squares (pulled towards the priors, so a primitive no run exercises keeps its
prior), and the fit is repeated until the slowest stages stop changing.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from importlib import resources

import numpy as np

from nlihw.errors import ParamsError
from .targets import TARGETS

PRIMITIVES = ("reg", "lut", "carry", "chain", "mult", "mem", "mult_r", "mem_r", "mem_in")
DELAYS_FILE = "delays.json"


@dataclass(frozen=True)
class TargetDelays:
    """Primitive delays (ns) of one target at one speed grade, and how they were calibrated."""
    target: str
    speed: int | None
    reg: float
    lut: float
    carry: float
    chain: float
    mult: float
    mem: float
    mult_r: float
    mem_r: float
    mem_in: float
    calibration: dict = field(default_factory=dict, compare=False)

    @property
    def key(self) -> str:
        return model_key(self.target, self.speed)

    def stage_ns(self, cost: dict) -> float:
        """Delay of one register-to-register stage with primitive counts ``cost``."""
        return self.reg + sum(getattr(self, k) * v for k, v in cost.items())

    def predict(self, costs: list[dict]) -> tuple[float, int]:
        """(Fmax in MHz, index of the slowest stage) of stages with primitive counts ``costs``."""
        ns = [self.stage_ns(c) for c in costs]
        k = int(np.argmax(ns))
        return 1000.0 / ns[k], k

    def to_dict(self) -> dict:
        d = asdict(self)
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in d.items()}


def model_key(target: str, speed: int | None) -> str:
    return target if speed is None else f"{target}-{speed}"


def load_all() -> dict[str, TargetDelays]:
    """Every stored model by key (``ecp5-6``, ``ecp5-8``, ``ice40``)."""
    text = (resources.files("nlihw.synth") / DELAYS_FILE).read_text()
    return {k: TargetDelays(**v) for k, v in json.loads(text)["models"].items()}


def load(target: str, speed: int | None = None) -> TargetDelays:
    """The model of ``target`` at ``speed`` (default: the target's default grade)."""
    if target not in TARGETS:
        raise ParamsError(f"unknown target {target!r}")
    t = TARGETS[target]
    if t.pnr is None:
        raise ParamsError(f"--target-mhz needs a place-and-route target (ecp5, ice40), got "
                          f"{target!r}: the gate-library and xcup flows report logic depth, "
                          f"not a clock rate")
    speed = t.speed(speed)
    models = load_all()
    key = model_key(target, speed)
    if key not in models:
        have = ", ".join(sorted(models))
        raise ParamsError(f"no delay model for {target} at speed grade {speed} (calibrated: {have})")
    return models[key]


def _fit_from(start: dict, runs, prior: dict, weight: float, rounds: int) -> tuple[dict, list[int]]:
    """The alternating fit from ``start``: the slowest stage per run, then least squares."""
    t, crit = dict(start), []
    P = len(PRIMITIVES)
    scale = np.array([prior[p] for p in PRIMITIVES])
    for _ in range(rounds):
        model = TargetDelays("fit", None, **t)
        new = [model.predict(costs)[1] for costs, _ in runs]
        if new == crit:
            break
        crit = new
        rows, rhs = [], []
        for (costs, measured), k in zip(runs, crit):
            c = {"reg": 1, **costs[k]}
            rows.append([c.get(p, 0) for p in PRIMITIVES])
            rhs.append(measured)
        reg = np.sqrt(weight) * np.eye(P) / scale * np.sqrt(max(1.0, np.mean(rhs)))
        A = np.vstack([np.array(rows, dtype=float), reg])
        b = np.concatenate([np.array(rhs, dtype=float), reg @ scale])
        sol = np.linalg.lstsq(A, b, rcond=None)[0]
        t = {p: float(max(v, 0.05 * prior[p])) for p, v in zip(PRIMITIVES, sol)}
    return t, crit


def calibrate(runs: list[tuple[list[dict], float]], prior: dict, weight: float = 0.05,
              rounds: int = 30, starts: int = 40) -> tuple[dict, list[int]]:
    """Primitive delays fitted to ``runs`` (each: the stages' primitive counts, the measured
    critical delay in ns); ``prior`` the starting values, ``weight`` how strongly a primitive is
    pulled towards its prior (relative, per primitive). The slowest stage of each run is not
    known in advance, so the fit alternates (slowest stages, least squares) from the prior and
    from ``starts`` deterministic perturbations of it, and keeps the best. Returns (delays,
    slowest stage per run)."""
    rng = np.random.default_rng(0)

    def cost(t):
        model = TargetDelays("fit", None, **t)
        res = [1000.0 / model.predict(c)[0] - d for c, d in runs]
        pen = [(t[p] - prior[p]) / prior[p] for p in PRIMITIVES]
        return float(np.sum(np.square(res)) + weight * max(1.0, np.mean([d for _, d in runs]))
                     * np.sum(np.square(pen)))

    best = None
    for k in range(starts + 1):
        start = prior if k == 0 else {p: prior[p] * float(np.exp(rng.uniform(-0.7, 0.7)))
                                      for p in PRIMITIVES}
        t, crit = _fit_from(start, runs, prior, weight, rounds)
        c = cost(t)
        if best is None or c < best[0]:
            best = (c, t, crit)
    return best[1], best[2]
