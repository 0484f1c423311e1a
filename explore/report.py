"""Sweep report: per (function, formats, target) group a Pareto plot of error against area (PNG and
SVG, the same bytes on every run) and a Markdown report with every point and the Pareto-optimal
ones. Scan points are grouped by preset and target, row units (softmax, RMSNorm, LayerNorm) by
unit, preset and target.

Everything is rendered in memory and handed to an ``OutputSet`` by the caller, so a failure
leaves no file half-written.
"""
from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from nlihw.atomic import OutputSet

from .pareto import pareto_rows, usable
from .points import ROWOP_DESIGNS

# headline area per target (results schema)
AREA_LABEL = {"generic": "gate equivalents", "generic-sram": "gate equivalents, logic only", "xcup": "LUTs", "ecp5": "LUT4s", "ice40": "LUT4s"}
ERR_LABEL = {"max_err_lsb": "max |error| (output LSB)", "mean_err_lsb": "mean |error| (output LSB)",
             "max_err": "max |error|", "rms_err": "relative RMS error"}
# plot style per architecture class (colour) and search architecture (marker)
CLASS_COLOUR = {"NLI K>1": "C0", "NLI K=1 (PWL)": "C1", "uniform PWL": "C2", "full LUT": "C3",
                "scan": "C4", "softmax": "C5", "rmsnorm": "C6", "layernorm": "C9"}
SCAN_COLOURS = ["C4", "C5", "C6", "C8", "C9"]     # scan points: one colour per state-lane count P
ARCH_MARKER = {"parallel": "o", "binary": "s", "uniform": "^", "direct": "D",
               "normalized": "o", "deferred": "s"}        # row units: their output mode
SVG_SALT = "nlihw-report"
DECADES_FOR_LOG = 2


def arch_class(row: dict) -> str:
    """The architecture family a point belongs to: "NLI K>1", "NLI K=1 (PWL)", "uniform PWL",
    "full LUT", "scan", or a row unit's ("softmax", "rmsnorm", "layernorm")."""
    if row.get("design") == "scan":
        return "scan"
    if row.get("design") in ROWOP_DESIGNS:
        return row.get("func") or row["design"]
    arch = row.get("arch") or ""
    if arch in ("parallel", "binary"):
        return "NLI K=1 (PWL)" if row.get("K") == 1 else "NLI K>1"
    return {"uniform": "uniform PWL", "direct": "full LUT"}.get(arch, arch or "?")


def arch_label(row: dict) -> str:
    """Legend label: the family, with the macro-interval search for NLI (parallel or binary)."""
    cls = arch_class(row)
    if cls.startswith("NLI"):
        return f"{cls}, {row.get('arch')}"
    if cls == "scan":
        return f"scan P={row.get('lanes')}" if row.get("lanes") is not None else "scan"
    if row.get("design") in ROWOP_DESIGNS:
        return f"{cls}, {row.get('output_mode') or '?'}"
    return cls


@dataclass
class Group:
    """The points of one plot: one function and formats (or scan preset) on one target."""
    key: tuple
    title: str
    name: str                  # file name stem of the plot
    rows: list[dict] = field(default_factory=list)

    @property
    def design(self) -> str:
        return self.key[0]

    @property
    def target(self) -> str:
        return self.key[-1]

    def err_key(self) -> str:
        """The error figure of the plot: max |error| in LSB for NLI; for scan and the row units
        the relative RMS error (their headline accuracy) when the group has one, else max |error|
        in LSB."""
        if self.design in ("scan",) + ROWOP_DESIGNS \
                and any(usable(r.get("rms_err")) for r in self.rows):
            return "rms_err"
        return "max_err_lsb"


def group_key(row: dict) -> tuple:
    if row.get("design") == "scan":
        return ("scan", row.get("preset") or "", row.get("target") or "")
    if row.get("design") in ROWOP_DESIGNS:
        return (row["design"], row.get("func") or "", row.get("preset") or "",
                row.get("target") or "")
    return (row.get("design") or "", row.get("func") or "", row.get("in_fmt") or "",
            row.get("out_fmt") or "", row.get("target") or "")


def group_title(key: tuple) -> str:
    target = key[-1] or "no synthesis"
    if key[0] == "scan":
        return f"scan {key[1] or '?'} on {target}"
    if key[0] in ROWOP_DESIGNS:
        return f"{key[1] or key[0]} {key[2] or '?'} on {target}"
    return f"{key[1] or '?'} {key[2]} -> {key[3]} on {target}"


def _stem(key: tuple) -> str:
    parts = [p for p in key[1:] if p] if key[0] != "scan" else ["scan"] + [p for p in key[1:] if p]
    return re.sub(r"[^A-Za-z0-9.+-]+", "_", "_".join(parts)) or "points"


def group_rows(rows: list[dict]) -> list[Group]:
    """Rows grouped per plot, groups in sorted key order, file stems made unique."""
    groups: dict[tuple, Group] = {}
    for r in rows:
        k = group_key(r)
        if k not in groups:
            groups[k] = Group(k, group_title(k), "")
        groups[k].rows.append(r)
    out, used = [], set()
    for k in sorted(groups):
        g = groups[k]
        stem, n = _stem(k), 2
        name = stem
        while name.lower() in used:
            name, n = f"{stem}_{n}", n + 1
        used.add(name.lower())
        g.name = name
        out.append(g)
    return out


def _area_order(err_key: str):
    def key(r):
        a, e = r.get("area"), r.get(err_key)
        return (0 if r.get("status") == "ok" else 1, a if usable(a) else math.inf,
                e if usable(e) else math.inf, r.get("point_id") or "")
    return key


# ------------------------------------------------------------------------------------ plots

def _log_worthy(values: list[float]) -> bool:
    return bool(values) and min(values) > 0 and max(values) / min(values) > 10 ** DECADES_FOR_LOG


RC = {"svg.hashsalt": SVG_SALT, "svg.fonttype": "path"}     # fixed SVG ids, glyphs as paths


def plot_group(group: Group, front: list[dict]) -> tuple[bytes, bytes]:
    """(PNG, SVG) bytes of the group's plot (see ``figure``), the same bytes on every run."""
    # imported here, not at the top: matplotlib comes with the optional 'plot' extra
    import matplotlib
    with matplotlib.rc_context(RC):
        fig = figure(group, front)
        png, svg = io.BytesIO(), io.BytesIO()
        fig.savefig(png, format="png", dpi=110, metadata={"Software": None})
        fig.savefig(svg, format="svg", metadata={"Date": None, "Creator": None})
    return png.getvalue(), svg.getvalue()


def figure(group: Group, front: list[dict]):
    """Error against area: one colour per architecture family, one marker per search
    architecture, the front as a step line with its points outlined (a matplotlib Figure)."""
    # imported here, not at the top: matplotlib comes with the optional 'plot' extra
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, NullFormatter

    ek = group.err_key()
    pts = [r for r in group.rows if r.get("status") == "ok"
           and usable(r.get("area")) and usable(r.get(ek))]
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(7.5, 5))          # fixed margins: a layout engine doubles the time
        fig.subplots_adjust(left=0.12, right=0.97, bottom=0.11, top=0.92)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        by_label: dict[str, list[dict]] = {}
        for r in sorted(pts, key=lambda r: (arch_class(r), r.get("arch") or "", r.get("lanes") or 0)):
            by_label.setdefault(arch_label(r), []).append(r)
        scan_colours = iter(SCAN_COLOURS * len(by_label))
        for label, rs in by_label.items():
            cls = arch_class(rs[0])
            ax.scatter([r["area"] for r in rs], [r[ek] for r in rs], s=28, alpha=0.8,
                       color=next(scan_colours) if cls == "scan" else CLASS_COLOUR.get(cls, "C7"),
                       marker=ARCH_MARKER.get(rs[0].get("arch") or rs[0].get("output_mode"), "v"),
                       label=label, zorder=2)
        if front:
            ax.step([r["area"] for r in front], [r[ek] for r in front], where="post",
                    color="black", lw=1, zorder=1, label="Pareto front", gid="pareto-front")
            ax.scatter([r["area"] for r in front], [r[ek] for r in front], s=90,
                       facecolors="none", edgecolors="black", linewidths=1.2, zorder=3,
                       gid="pareto-points")
        # plain-text tick labels: mathtext (10^{-2}) costs more than drawing everything else
        for axis, values in ((ax.yaxis, [r[ek] for r in pts]), (ax.xaxis, [r["area"] for r in pts])):
            if _log_worthy(values):
                getattr(ax, f"set_{axis.axis_name}scale")("log")
                axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
                axis.set_minor_formatter(NullFormatter())
            else:                       # short tick labels: 2.5 with a 1e-4 offset, not 0.00025
                ax.ticklabel_format(axis=axis.axis_name, style="sci", scilimits=(-3, 5))
        ax.set_xlabel(f"area ({AREA_LABEL.get(group.target, 'headline area')})")
        ax.set_ylabel(ERR_LABEL.get(ek, ek))
        ax.set_title(f"{group.title}: {len(pts)} points, {len(front)} Pareto-optimal")
        ax.grid(True, which="major", lw=0.3, alpha=0.5)
        if pts:
            ax.legend(loc="best", fontsize="small")
    return fig


# ------------------------------------------------------------------------------------ Markdown

def fmt(v) -> str:
    """A cell: "-" for a missing figure, integers plainly, other numbers to 4 significant digits."""
    if v is None or v == "":
        return "-"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float):
        if math.isfinite(v) and (v.is_integer() or 1e3 <= abs(v)) and abs(v) < 1e12:
            return f"{v:.0f}"            # an area of 20955.3 reads better than 2.096e+04
        return f"{v:.4g}"
    return cell(str(v))


def cell(text: str) -> str:
    """Text safe inside a Markdown table cell (one line, pipes escaped)."""
    return " ".join(str(text).split()).replace("\\", "\\\\").replace("|", "\\|")


NLI_COLUMNS = [("point", "point_id"), ("architecture", None), ("M", "M"), ("K", "K"),
               ("step", "micro_step"), ("lanes", "lanes"), ("storage", "storage"),
               ("max err (LSB)", "max_err_lsb"), ("mean err (LSB)", "mean_err_lsb"),
               ("area", "area"), ("LUT", "lut"), ("FF", "ff"), ("DSP", "dsp"), ("BRAM", "bram"),
               ("Fmax (MHz)", "fmax_mhz"), ("latency", "latency"), ("table bits", "table_bits"),
               ("verified", "verified"), ("status", "status")]
SCAN_COLUMNS = [("point", "point_id"), ("N", "d_state"), ("lanes", "lanes"),
                ("storage", "storage"), ("rel. RMS err", "rms_err"), ("max err (LSB)", "max_err_lsb"),
                ("area", "area"), ("LUT", "lut"), ("FF", "ff"), ("DSP", "dsp"), ("BRAM", "bram"),
                ("Fmax (MHz)", "fmax_mhz"), ("latency", "latency"), ("table bits", "table_bits"),
                ("verified", "verified"), ("status", "status")]
ROWOP_COLUMNS = [("point", "point_id"), ("unit", None), ("n_max", "n_max"),
                 ("rel. RMS err", "rms_err"), ("max err (LSB)", "max_err_lsb"),
                 ("mean err (LSB)", "mean_err_lsb"), ("area", "area"), ("LUT", "lut"),
                 ("FF", "ff"), ("DSP", "dsp"), ("BRAM", "bram"), ("Fmax (MHz)", "fmax_mhz"),
                 ("latency", "latency"), ("clocks per row", "row_cycles"),
                 ("table bits", "table_bits"), ("verified", "verified"), ("status", "status")]
ALWAYS = {"point_id", None, "area", "max_err_lsb", "rms_err", "status"}


def table_columns(design: str) -> list[tuple]:
    """The Markdown table's (heading, column) pairs for a group of ``design``."""
    if design == "scan":
        return SCAN_COLUMNS
    return ROWOP_COLUMNS if design in ROWOP_DESIGNS else NLI_COLUMNS


def markdown_table(rows: list[dict], scan: "bool | str", front_ids: set | None = None) -> list[str]:
    """A group's rows as a Markdown table; ``scan``: the group's design (True: "scan", False:
    "nli", as older callers pass it)."""
    design = scan if isinstance(scan, str) else "scan" if scan else "nli"
    cols = table_columns(design)
    cols = [(h, k) for h, k in cols
            if k in ALWAYS or any(r.get(k) not in (None, "") for r in rows)]
    head = [h for h, _ in cols] + (["Pareto"] if front_ids is not None else [])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        vals = [cell(arch_label(r)) if k is None else fmt(r.get(k)) for _, k in cols]
        if front_ids is not None:
            vals.append("yes" if r.get("point_id") in front_ids else "")
        lines.append("| " + " | ".join(vals) + " |")
    return lines


@dataclass
class Report:
    """What ``build_report`` produced: the outputs to commit and a summary for the CLI."""
    outputs: OutputSet
    markdown: Path
    images: list[Path]
    groups: int
    points: int
    ok: int
    failed: int


def build_report(rows: list[dict], source: Path, out_dir: Path) -> Report:
    """Render the plots and report.md of ``rows`` (read from ``source``) for ``out_dir``; nothing
    is written until the caller commits ``Report.outputs``."""
    outs = OutputSet()
    groups = group_rows(rows)
    ok = [r for r in rows if r["status"] == "ok"]
    failed = [r for r in rows if r["status"] != "ok"]
    md = [f"# Sweep report: {cell(source)}", "",
          (f"{len(rows)} points: {len(ok)} ok, {len(failed)} failed; {len(groups)} group{'s' if len(groups) != 1 else ''} "
          f"(function, formats and target; scan: preset and target; row units: unit, preset and "
          f"target)."), ""]
    if failed:
        md += ["## Failed points", "", "| point | group | error |", "|---|---|---|"]
        for r in sorted(failed, key=lambda r: (group_key(r), r.get("point_id") or "")):
            md.append(f"| {fmt(r.get('point_id'))} | {cell(group_title(group_key(r)))} "
                      f"| {cell(r.get('error') or '(no message)')} |")
        md.append("")
    images = []
    for g in groups:
        ek = g.err_key()
        front, missing = pareto_rows(g.rows, ek)
        n_ok = sum(r["status"] == "ok" for r in g.rows)
        md += [f"## {cell(g.title)}", "",
               (f"{len(g.rows)} points ({n_ok} ok, {len(g.rows) - n_ok} failed); "
               f"{len(front)} Pareto-optimal in {ERR_LABEL.get(ek, ek)} and area."), ""]
        if missing:
            md += [(f"{missing} ok point{'s' if missing > 1 else ''} without both an error and an "
                   f"area figure {'are' if missing > 1 else 'is'} not plotted and not on the front."), ""]
        if n_ok - missing > 0:
            png, svg = plot_group(g, front)
            for ext, data in (("png", png), ("svg", svg)):
                images.append(outs.add_bytes(out_dir / "plots" / f"{g.name}.{ext}", data, g.name))
            md += [f"![{cell(g.title)}](plots/{g.name}.svg)", "",
                   f"[PNG](plots/{g.name}.png) · [SVG](plots/{g.name}.svg)", ""]
        else:
            md += ["No ok point has both figures: no plot.", ""]
        scan = g.design
        if front:
            md += ["### Pareto-optimal points", ""] + markdown_table(front, scan) + [""]
        md += ["### All points, by area", ""]
        md += markdown_table(sorted(g.rows, key=_area_order(ek)), scan,
                             {r["point_id"] for r in front}) + [""]
    mpath = outs.add_text(out_dir / "report.md", "\n".join(md).rstrip("\n") + "\n", "report.md")
    return Report(outs, mpath, images, len(groups), len(rows), len(ok), len(failed))
