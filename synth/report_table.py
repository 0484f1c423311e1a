"""Plain-text tables of synthesis reports (one row per design point and target)."""
from __future__ import annotations

from rich.table import Table

from .targets import TARGETS


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.1f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def synth_table(rows: list[tuple[str, dict]], title: str = "synthesis") -> Table:
    """``rows``: (design label, report) pairs; one column per headline figure of each target."""
    t = Table(title=title)
    for col in ("design", "target", "figures"):
        t.add_column(col)
    for label, rep in rows:
        tgt = TARGETS[rep["target"]]
        fig = rep["figures"]
        keys = list(tgt.headline)
        if rep["target"] == "generic" and "area" in fig:
            keys[0] = "area"
        t.add_row(label, rep["target"], "  ".join(f"{k} {_fmt(fig.get(k))}" for k in keys))
    return t
