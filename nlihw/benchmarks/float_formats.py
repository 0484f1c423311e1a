"""Float benchmark: NLI against the float designs' baselines at equal accuracy, synthesized (the
NLI paper's >= 4x claim over NN-LUT, measured in its own setting: FP16 SiLU on [-150, 150])."""
from __future__ import annotations

import time
from pathlib import Path

from nlihw.atomic import atomic_write_text
from nlihw.benchmarks.section_output import markdown_table, publish
from nlihw.explore import float_comparison as fc

CASES = [  # func, in, out, domain, metric, storage
    ("silu", "fp16", "fp16", (-150.0, 150.0), "mean-rel", "rom"),
    ("silu", "fp16", "fp16", (-150.0, 150.0), "mean-rel", "ram"),
    ("silu", "fp16", "fp16", (-150.0, 150.0), "max-ulp", "rom"),
]
TARGETS = ("generic", "xcup", "ecp5")
TABLES = ("silu_fp16_mean-rel_rom", "silu_fp16_mean-rel_ram",          # published (section_output):
          "silu_fp16_max-ulp_rom")                                     # f"{func}_{in}_{metric}_{storage}"


def run(console) -> dict:
    out = {}
    for func, fin, fout, dom, metric, storage in CASES:
        t0 = time.perf_counter()
        work = Path("build/bench/float_compare") / f"{func}_{fin}_{metric}"
        with console.status(f"{func} {fin}: sizing and synthesizing ...") as st:
            limit, rows = fc.float_compare(func, fin, fout, metric, None, TARGETS, work, dom,
                                           progress=st.update, storage=storage)
        title = (f"{func} {fin} -> {fout} on [{dom[0]:g}, {dom[1]:g}], every design at least as "
                 f"accurate as NLI M=11 K=32 ({metric} <= {limit:.4g}), tables in {storage}")
        text = fc.markdown(rows, TARGETS, title)
        name = f"{func}_{fin}_{metric}_{storage}"
        atomic_write_text(Path("build/bench") / f"compare_float_{name}.md", text)
        publish(name, markdown_table(*fc.summary(rows, TARGETS)))
        console.print(text)
        console.print(f"({time.perf_counter() - t0:.0f} s)")
        out[name] = fc.summary(rows, TARGETS)
    return out
