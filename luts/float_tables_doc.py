"""docs/float_tables.md: the error table of the shipped fp16/bf16 tables (from their meta) with the
fit seconds measured when they were built (a JSON-lines file of {name, wall, cpu}).

``python -m nlihw.luts.float_tables_doc TIMES.jsonl > docs/float_tables.md``
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from .default_tables import FLOAT_SPECS, shipped_dir
from .table import NLITable

HEADER = """# Shipped floating-point tables (fp16 -> fp16, bf16 -> bf16)

Fitted by `nlihw tables build --set float` (luts/default_tables.py, `FLOAT_SPECS`) with the exact DP
of luts/float_fit.py: the objective is the paper's mean relative error (floor 2^-14) of the
hardware's own rounded output over **every finite code of the input format inside the domain**
(both zeros); candidate cutpoints are the valid cutpoint codes of the domain (multiples of 2^-24,
never -0), an evenly spaced grid of 1,024 in code order when there are more than 4,096 (log-spaced
in value). Layout defaults: x_frac_bits 24, dx_width 32 (every macro interval shorter than 256),
value_bits = mantissa + 6 (16 for fp16, 13 for bf16), t_bits 12, mul_bits 18.

Domains (chosen so that the default tails are exact, or nearly, beyond them):

| function | fp16 | bf16 | tails (left, right) | why |
| --- | --- | --- | --- | --- |
| silu, gelu, softplus | [-150, 150] | [-150, 150] | zero, identity | the paper's SiLU range; f rounds to 0 on the left and equals x on the right |
| exp | [-17.5, 0] | [-93, 0] | zero, clamp (1) | softmax inputs <= 0; e^x rounds to 0 below -17.33 (fp16), -92.9 (bf16) |
| sigmoid | [-17.5, 17.5] | [-93, 93] | clamp, clamp | rounds to 0 / 1 beyond |
| tanh | [-5, 5] | [-5, 5] | clamp, clamp | rounds to -1 / 1 beyond 4.5 (fp16), 3.5 (bf16) |
| rsqrt | [1/16, 16] | [1/16, 16] | clamp, clamp | a positive range (RMSNorm's 1/sqrt of a mean square) |

Columns: errors over the domain's codes (mean-rel with floor 2^-14; max-ulp = max |y - f| / ulp of
the output format at f; max-abs), mean-rel and max-ulp over every finite input code where f is
finite and inside the output range (`errors_all_codes`: the tails included), and the fit time of
the build (wall and CPU seconds of one process; the machine was shared, 2 cores under a load of
4-6, so wall time is 3-6x the CPU time). max-ulp is large wherever f is far below 2^-14 (the
relative floor): near x = 0 for silu/gelu (f ~ x/2 at every tiny bf16 code, which all sit at
internal position 0 or -1) and in exp's and sigmoid's far left, where the table interpolates
values of order 2^-14 and the output format's ulp is as small as 2^-133.

Fit time target (issue [F] item 2): fp16 SiLU, M=11, K=32, [-150, 150], mean-rel, 1,024
candidates, every one of the 45,410 domain codes evaluated: **40.2 s wall, 20.0 s CPU on one core**
(NUMBA_NUM_THREADS=1, the machine under a load of about 5 on 2 cores), against the 60 s target and
the paper's 610 s on an RTX 4090; mean-rel 2.1075e-4. `make bench` prints it (fitter section,
"Float fit time" table).

Observations: with bf16's 13-bit block mantissas (7 + 6 guard bits) a macro interval that spans
several decades of f (softplus and exp towards their zero tails) cannot hold its small values, so
bf16 softplus stays near 2.3e-3 at K=8 and K=32 alike (a wider `value_bits` would help); bf16 tanh
is marginally better at (11, 8) than at (11, 32) (1.07e-4 against 1.23e-4): both are the optimum
of their own candidate grid, and bf16 output rounding dominates both.

"""

# The derived default domains (luts/float_domains.py) and their measured errors: figures of
# tests/luts/test_float_default_domain.py's slow run, kept by hand after the shipped tables' rows.
FOOTER = """
## Fits without `--domain` (derived default domains)

`nlihw fit` with a float input, a built-in function and no `--domain` fits on a domain derived per
(function, input format, output format) by one rule (`luts/float_domains.py`): **on each side the
domain ends at the first finite input code from which on, to the end of the format, the side's
default tail outputs f(x) rounded to nearest (saturating) into the output format, checked on every
such code** (at most 65,536 codes: about 0.1 s). A clamp side stores that limit (f rounded at the
format's extreme code) wherever the fitter puts its end cutpoint, so every code beyond the domain
is exact; the end code itself stays in the domain, and f is fitted saturated to the output's range
(e^x past fp16's 65504 as 65504). reciprocal and rsqrt keep their mantissa ranges ([1, 2), [1, 4));
user functions and fixed-point inputs keep the old default (the whole input format). The command
prints the chosen domain and tails in one line. A given `--domain` is used as before.

Derived domains (output format = input format; float64 f as registered, so e.g. silu and sigmoid
reach 0 at -38 in bf16, where 1 + tanh(x/2) cancels to 0 in float64):

| function | fp16 | bf16 | fp8e4m3 | fp8e5m2 | tails (left, right) |
| --- | --- | --- | --- | --- | --- |
| silu | [-20.3438, 8.00781] | [-38, 5.96875] | [-10, 3.25] | [-16, 2.5] | zero, identity |
| gelu | [-5.72656, 3.44727] | [-8.375, 2.78125] | [-3.5, 1.875] | [-5, 1.5] | zero, identity |
| gelu_tanh | [-5.28906, 3.38086] | [-7.21875, 2.75] | [-3.5, 1.875] | [-5, 1.5] | zero, identity |
| exp | [-17.3438, 11.0938] | [-93, 89] | [-7, 6.5] | [-12, 12] | zero, clamp (the largest value) |
| sigmoid | [-17.3438, 8.32031] | [-38, 6.25] | [-7, 3.5] | [-12, 3] | clamp (0), clamp (1) |
| tanh | [-4.50781, 4.50781] | [-3.46875, 3.46875] | [-2.25, 2.25] | [-1.75, 1.75] | clamp (-1), clamp (1) |
| softplus | [-17.3438, 6.23828] | [-93, 4.15625] | [-7, 2.25] | [-12, 2] | zero, identity |

Worst error in output ulps over EVERY finite input code (the golden model against scalar float64
f, f beyond the output range taken as the largest value), M = 11, K = 32, mean-rel, without
`--domain` against the shipped table (gelu_tanh: against a fit on [-150, 150]); the bf16 figure
over all codes is 255-256 for both (tiny x, f ~ x/2 below the 2^-24 internal quantum), so the
bf16 column is over the codes where |f| >= 2^-14. Fit wall time on the shared 2-core machine
(load 6-9), one numba thread. `tests/luts/test_float_default_domain.py` (slow) checks each within 1.5x.

| function | fp16: default | fp16: shipped | fit (s) | bf16 (abs f >= 2^-14): default | bf16: shipped | fit (s) |
| --- | ---: | ---: | ---: | ---: | ---: | ---: |
| silu | 3.853 | 4.264 | 73 | 1.247 | 0.8805 | 60 |
| gelu | 5.156 | 6.079 | 90 | 0.815 | 0.8034 | 46 |
| gelu_tanh | 4.469 | 3.565 | 206 | 0.7566 | 0.8034 | 31 |
| exp | 6.973 | 2047 | 101 | 254 | 255 | 145 |
| sigmoid | 1.346 | 1.469 | 149 | 0.5454 | 0.5672 | 139 |
| tanh | 0.6846 | 0.73 | 82 | 0.5061 | 0.5052 | 78 |
| softplus | 1.365 | 1.578 | 521 | 0.5621 | 0.5469 | 64 |

exp: the shipped tables are softmax tables (x <= 0, a clamp at 1 beyond 0), so their worst error
over all codes is at the overflow end; the derived domain reaches where e^x saturates (fp16 11.09,
bf16 89). In bf16 that range is too wide for 10 intervals of 13-bit block mantissas (an interval
spanning many decades of e^x loses its small values: 254 ulp at x = 70, mean-rel 2.3e-3 on the
domain against 1.3e-4 for the shipped [-93, 0] table): for softmax pass `--domain -93:0`.
"""


def render(times: dict) -> str:
    rows = ["| table | domain | mean-rel | max-ulp | max-abs | all codes: mean-rel | all codes: max-ulp "
            "| fit wall (s) | fit cpu (s) |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for s in FLOAT_SPECS:
        name = s.filename[:-5]
        path = shipped_dir() / s.filename
        if not path.exists():
            rows.append(f"| {name} | not built | | | | | | | |")
            continue
        t = NLITable.load(path)
        e, a = t.meta["errors"], t.meta["errors_all_codes"]
        tm = times.get(name, {})
        wall = f"{tm['wall']:.0f}" if "wall" in tm else "-"
        cpu = f"{tm['cpu']:.1f}" if "cpu" in tm else "-"
        rows.append(f"| {name} | [{t.domain[0]:g}, {t.domain[1]:g}] | {e['mean_rel']:.3e} | "
                    f"{e['max_ulp']:.4g} | {e['max_abs']:.3g} | {a['mean_rel']:.3e} | "
                    f"{a['max_ulp']:.4g} | {wall} | {cpu} |")
    return HEADER + "\n".join(rows) + "\n" + FOOTER


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    times = {}
    if argv:
        for line in Path(argv[0]).read_text().splitlines():
            if line.strip():
                d = json.loads(line)
                times[d["name"]] = d
    sys.stdout.write(render(times))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
