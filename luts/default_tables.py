"""The tables shipped with nlihw (luts/tables/): 8 functions x 3 layouts at 16-bit in and out."""
from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .fitter import DEFAULT_GRID, fit
from .layout import TableLayout
from .table import NLITable


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

    @property
    def filename(self) -> str:
        return f"{self.func}_M{self.M}_K{self.K}.json"

    def fit(self) -> NLITable:
        return fit(self.func, TableLayout(self.in_fmt, self.out_fmt, self.M, self.K),
                   metric=self.metric, grid=self.grid, domain=self.domain).table


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


def shipped_dir() -> Path:
    return Path(str(resources.files("nlihw.luts") / "tables"))


def shipped_table(name: str) -> NLITable:
    """Load a shipped table by file stem, e.g. ``silu_M11_K32``."""
    return NLITable.load(shipped_dir() / f"{name}.json")


def _fit_and_save(spec: TableSpec, outdir: str) -> tuple[str, str]:
    table = spec.fit()
    path = Path(outdir) / spec.filename
    table.save(path)
    return spec.filename, table.to_json()


def build_defaults(outdir: Path, specs=None, jobs: int | None = None, on_done=None) -> list[Path]:
    """Fit ``specs`` (default: all shipped ones) into ``outdir`` in parallel processes."""
    specs = DEFAULT_SPECS if specs is None else specs
    jobs = jobs or min(len(specs), os.cpu_count() or 1)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = []
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(_fit_and_save, s, str(outdir)) for s in specs]
        for fut in futures:
            name, _ = fut.result()
            paths.append(outdir / name)
            if on_done:
                on_done(outdir / name)
    return paths
