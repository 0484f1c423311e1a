"""The tables shipped with nlihw (luts/tables/): 8 functions x 3 layouts at 16-bit fixed point in
and out (``DEFAULT_SPECS``, the default flow's set) and 7 functions x 3 layouts in fp16 -> fp16 and
bf16 -> bf16 (``FLOAT_SPECS``, mean-rel); ``SHIPPED_SPECS`` is every shipped file."""
from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from nlihw.atomic import OutputSet, check_destination
from nlihw.errors import ParamsError, TableError
from .fitter import DEFAULT_GRID, fit
from .layout import TableLayout
from .table import META_SIG_DIGITS, NLITable


@dataclass(frozen=True)
class TableSpec:
    func: str
    in_fmt: str
    out_fmt: str
    M: int
    K: int
    domain: tuple[float, float] | None = None
    metric: str = "max-abs"
    grid: int = DEFAULT_GRID
    t_bits: int = 12
    mul_bits: int = 18
    micro_step: str = "mul"

    @property
    def filename(self) -> str:
        """``silu_M11_K32.json`` (fixed point, the original set) or ``silu_fp16_M11_K32.json``."""
        if self.in_fmt.startswith(("fp", "bf")):
            return f"{self.func}_{self.in_fmt}_M{self.M}_K{self.K}.json"
        return f"{self.func}_M{self.M}_K{self.K}.json"

    def fit(self) -> NLITable:
        layout = TableLayout(self.in_fmt, self.out_fmt, self.M, self.K, self.micro_step,
                             t_bits=self.t_bits, mul_bits=self.mul_bits)
        return fit(self.func, layout, metric=self.metric, grid=self.grid, domain=self.domain).table


FUNCTIONS = [  # func, input, output, domain (None: the function's default or the whole format)
    ("silu", "s4.12", "s4.12", None),
    ("gelu", "s4.12", "s4.12", None),
    ("exp", "s4.12", "u1.15", (-8.0, 0.0)),
    ("sigmoid", "s4.12", "u0.16", None),
    ("tanh", "s4.12", "s1.15", None),
    ("softplus", "s4.12", "u4.12", None),
    ("reciprocal", "u1.15", "u1.15", (1.0, 2.0)),
    ("rsqrt", "u2.14", "u1.15", (1.0, 4.0)),
]
LAYOUTS = [(17, 1), (11, 8), (11, 32)]
DEFAULT_SPECS = [TableSpec(f, i, o, M, K, d) for f, i, o, d in FUNCTIONS for M, K in LAYOUTS]

# Float domains (fp16, bf16), each chosen so that the default tails are exact beyond it:
# silu/gelu/softplus on the paper's [-150, 150] (zero left: f rounds to -0/+0 there; identity
# right: f(x) = x in the format); exp for softmax inputs <= 0 down to where e^x rounds to 0 (fp16:
# e^x < 2^-25 below -17.33; bf16: < 2^-134 below -92.9), clamp at e^0 = 1 on the right; sigmoid
# likewise on the left and symmetric; tanh on [-5, 5] (tanh rounds to +-1 beyond 4.5 in fp16,
# 3.5 in bf16); rsqrt on [1/16, 16] (a positive range; clamps outside). Every macro interval must
# be shorter than 2^dx_width internal units (256 at the default x_frac_bits 24, dx_width 32).
FLOAT_FUNCTIONS = [  # func, {format: domain}
    ("silu", {"fp16": (-150.0, 150.0), "bf16": (-150.0, 150.0)}),
    ("gelu", {"fp16": (-150.0, 150.0), "bf16": (-150.0, 150.0)}),
    ("exp", {"fp16": (-17.5, 0.0), "bf16": (-93.0, 0.0)}),
    ("sigmoid", {"fp16": (-17.5, 17.5), "bf16": (-93.0, 93.0)}),
    ("tanh", {"fp16": (-5.0, 5.0), "bf16": (-5.0, 5.0)}),
    ("softplus", {"fp16": (-150.0, 150.0), "bf16": (-150.0, 150.0)}),
    ("rsqrt", {"fp16": (0.0625, 16.0), "bf16": (0.0625, 16.0)}),
]
FLOAT_FORMATS = ("fp16", "bf16")
FLOAT_SPECS = [TableSpec(f, fmt, fmt, M, K, doms[fmt], metric="mean-rel")
               for fmt in FLOAT_FORMATS for f, doms in FLOAT_FUNCTIONS for M, K in LAYOUTS]
SHIPPED_SPECS = DEFAULT_SPECS + FLOAT_SPECS


def shipped_dir() -> Path:
    return Path(str(resources.files("nlihw.luts") / "tables"))


def shipped_table(name: str) -> NLITable:
    """Load a shipped table by file stem, e.g. ``silu_M11_K32`` or ``silu_fp16_M11_K32``."""
    return NLITable.load(shipped_dir() / f"{name}.json")


def check_jobs(jobs) -> None:
    """``jobs`` is None (one per core) or a positive number of processes."""
    if jobs is not None and (not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1):
        raise ParamsError(f"--jobs must be >= 1, got {jobs}")


def _fit_json(spec: TableSpec) -> str:
    return spec.fit().to_json()


def fit_defaults(specs=None, jobs: int | None = None, on_done=None) -> dict[str, str]:
    """Fit ``specs`` (default: all shipped ones); file name -> JSON text, in ``specs`` order.

    ``jobs`` processes in parallel (default one per core); ``jobs=1`` fits in this process.
    """
    specs = DEFAULT_SPECS if specs is None else list(specs)
    check_jobs(jobs)
    jobs = jobs or min(len(specs), os.cpu_count() or 1)
    texts: dict[str, str] = {}
    if jobs == 1 or len(specs) <= 1:
        for s in specs:
            texts[s.filename] = _fit_json(s)
            if on_done:
                on_done(s.filename)
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            futures = {pool.submit(_fit_json, s): s for s in specs}
            try:
                for fut in as_completed(futures):
                    texts[futures[fut].filename] = fut.result()
                    if on_done:
                        on_done(futures[fut].filename)
            except BaseException:
                for fut in futures:
                    fut.cancel()
                raise
    return {s.filename: texts[s.filename] for s in specs}


def build_defaults(outdir: Path, specs=None, jobs: int | None = None, on_done=None) -> list[Path]:
    """Fit ``specs`` into ``outdir``: every table is written, or none (one ``OutputSet``).

    Parameters and destinations are checked before any fitting starts.
    """
    outdir = Path(outdir)
    specs = DEFAULT_SPECS if specs is None else list(specs)
    check_jobs(jobs)
    if outdir.exists() and not outdir.is_dir():
        raise ParamsError(f"--out {outdir}: exists and is not a directory")
    for s in specs:
        check_destination(outdir / s.filename)
    texts = fit_defaults(specs, jobs, on_done=(lambda name: on_done(outdir / name)) if on_done else None)
    out = OutputSet()
    for name, text in texts.items():
        out.add_text(outdir / name, text, label=name)
    out.commit()
    return [outdir / name for name in texts]


@dataclass(frozen=True)
class Comparison:
    """How one fitted table compares with its shipped copy."""
    name: str
    same_hardware: bool
    same_file: bool
    detail: str = ""            # which hardware fields or statistics differ, or why no comparison


def _diff_keys(a, b, where: str) -> list[str]:
    """Dotted paths of the leaves where two JSON values differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            out += _diff_keys(a.get(k), b.get(k), f"{where}.{k}" if where else k)
        return out
    return [] if a == b else [where]


def compare_with_shipped(paths, shipped: Path | None = None) -> list[Comparison]:
    """Compare fitted table files with the shipped copies of the same name: identical hardware
    (function, domain, layout, cutpoints, mul/shift, values, clamps) and identical bytes; a file that
    differs only in ``meta`` has statistics drift (their last digits depend on the CPU)."""
    shipped = shipped_dir() if shipped is None else Path(shipped)
    result = []
    for p in map(Path, paths):
        ref = shipped / p.name
        if not ref.exists():
            result.append(Comparison(p.stem, False, False, "no shipped copy"))
            continue
        try:
            new, old = NLITable.load(p), NLITable.load(ref)
        except TableError as e:
            result.append(Comparison(p.stem, False, False, str(e)))
            continue
        hw = _diff_keys(new.hardware(), old.hardware(), "")
        same_file = p.read_bytes() == ref.read_bytes()
        if hw:
            detail = "differs in " + ", ".join(hw)
        elif not same_file:
            stats = _diff_keys(new.content()["meta"], old.content()["meta"], "meta")
            detail = ("statistics differ: " + ", ".join(stats)) if stats else \
                f"same statistics at {META_SIG_DIGITS} significant digits; the bytes differ (extra digits or layout)"
        else:
            detail = ""
        result.append(Comparison(p.stem, not hw, same_file, detail))
    return result


def comparison_report(comparisons: list[Comparison], shipped: Path | None = None) -> str:
    """``24/24 identical hardware; 23/24 identical files`` plus one line per table that differs."""
    n = len(comparisons)
    hw = sum(c.same_hardware for c in comparisons)
    files = sum(c.same_file for c in comparisons)
    lines = [f"{hw}/{n} identical hardware; {files}/{n} identical files "
             f"(shipped tables in {shipped or shipped_dir()})"]
    lines += [f"  hardware differs: {c.name}: {c.detail}" for c in comparisons if not c.same_hardware]
    lines += [f"  {c.name}: {c.detail}" for c in comparisons if c.same_hardware and not c.same_file]
    return "\n".join(lines)
