"""Fit plot: f, the hardware approximation, the error curve (in output LSBs) and the cutpoints.

Returns the PNG bytes; the caller writes them (with the command's other outputs, see OutputSet).
"""
from __future__ import annotations

import io

import numpy as np

from nlihw.luts.golden import nli_eval
from nlihw.luts.table_errors import evaluation_codes
from .functions import get_function
from .table import NLITable


def plot_png(table: NLITable) -> bytes:
    # imported here, not at the top: matplotlib comes with the optional 'plot' extra
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lay = table.layout
    xs = evaluation_codes(table)
    xr = xs * lay.in_fmt.lsb
    f = get_function(table.function)(xr)
    y = lay.out_fmt.to_real(nli_eval(table, xs))
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(9, 6.5), sharex=True,
                                   gridspec_kw={"height_ratios": [2, 1]})
    ax1.plot(xr, f, lw=2.5, color="0.75", label=f"{table.function} (float64)")
    ax1.plot(xr, y, lw=1, color="C0", label="NLI hardware output")
    cut = np.array(table.cutpoints) * lay.in_fmt.lsb
    for c in cut:
        ax1.axvline(c, color="C3", lw=0.6, alpha=0.6)
        ax2.axvline(c, color="C3", lw=0.6, alpha=0.6)
    e = table.meta.get("errors", {})
    ax1.set_title(f"{table.function}: {lay.in_fmt} -> {lay.out_fmt}, M={lay.M}, K={lay.K}, "
                  f"{lay.micro_step.value}; max {e.get('max_abs_lsb', float('nan')):.3g} LSB, "
                  f"mean rel {e.get('mean_rel', float('nan')):.3g}")
    ax1.legend(loc="best")
    ax2.plot(xr, (y - f) / lay.out_fmt.lsb, lw=0.7, color="C1")
    ax2.set_ylabel("error (output LSB)")
    ax2.set_xlabel("x (red: macro cutpoints)")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()
