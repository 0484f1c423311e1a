"""``make bench``: every benchmark table (fitter, simulation, synthesis, timing, scan unit, sweeps,
float), one section after another; ``python -m nlihw.bench sweep`` runs one section."""
from __future__ import annotations

import importlib
import os
import sys
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")      # the targets are stated for one core

from rich.console import Console

SECTIONS = [  # (name, module with run(console) -> dict)
    ("fitter", "nlihw.benchmarks.fitter"),
    ("simulation", "nlihw.benchmarks.simulation"),
    ("synthesis", "nlihw.benchmarks.synthesis"),
    ("timing", "nlihw.benchmarks.timing"),
    ("scan", "nlihw.benchmarks.scan_unit"),
    ("sweep", "nlihw.benchmarks.sweep"),
    ("float", "nlihw.benchmarks.float_formats"),
]


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    console = Console(width=220)
    for name, module in SECTIONS:
        if argv and name not in argv:
            continue
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name == module:
                console.print(f"[yellow]{name}: no benchmark yet[/yellow]")
                continue
            raise
        console.rule(f"{name} benchmark")
        t0 = time.perf_counter()
        mod.run(console)
        console.print(f"{name}: {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
