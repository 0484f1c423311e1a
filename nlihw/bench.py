"""``make bench``: every benchmark table (fitter, simulation, synthesis, timing, scan unit, sweeps,
float), one section after another; ``python -m nlihw.bench sweep`` runs one section. Each section
also writes its tables and figures to ``build/bench/<section>.json`` and ``.md``, stamped with the
commit and date (``nlihw.benchmarks.readme_tables`` puts them into the README)."""
from __future__ import annotations

import importlib
import os
import sys
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")      # the targets are stated for one core

from rich.console import Console

from nlihw.benchmarks import section_output

SECTIONS = [  # (name, module with run(console) -> dict and TABLES, the names of its tables)
    ("fitter", "nlihw.benchmarks.fitter"),
    ("simulation", "nlihw.benchmarks.simulation"),
    ("synthesis", "nlihw.benchmarks.synthesis"),
    ("timing", "nlihw.benchmarks.timing"),
    ("scan", "nlihw.benchmarks.scan_unit"),
    ("sweep", "nlihw.benchmarks.sweep"),
    ("float", "nlihw.benchmarks.float_formats"),
    ("rowop", "nlihw.benchmarks.rowop"),
]


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    console = Console(width=220)
    for name, module in SECTIONS:
        if argv and name not in argv:
            continue
        mod = importlib.import_module(module)
        console.rule(f"{name} benchmark")
        commit, t0 = section_output.measured_commit(), time.perf_counter()
        with section_output.collect() as tables:
            figures = mod.run(console)
        seconds = time.perf_counter() - t0
        undeclared = sorted(set(tables) - set(mod.TABLES))
        if undeclared:
            raise RuntimeError(f"{module} published tables not in its TABLES: {undeclared}")
        paths = section_output.write_section(name, tables, figures, commit=commit,
                                             date=section_output.today(), seconds=seconds)
        console.print(f"{name}: {seconds:.0f} s; {len(tables)} tables in {paths[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
