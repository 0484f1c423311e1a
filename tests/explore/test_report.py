"""``nlihw report`` and ``nlihw best`` on small synthetic sweep results (CSV and Parquet, written
here per the results schema): fronts and answers worked out by hand or by brute force."""
import csv
import json
import re
import xml.etree.ElementTree as ET

import pytest

from nlihw.explore.results import SCHEMA as RESULTS_SCHEMA
from tests.support.cli import run_cli
from tests.support.pareto import brute_front

# the results schema (explore/results.py): name -> type, in order
SCHEMA = [(name, {"str": str, "int": int, "float": float}[kind])
          for name, kind in RESULTS_SCHEMA.items()]
# types that reports and queries rely on (README, "Design-space exploration")
KEY_TYPES = {"point_id": str, "design": str, "status": str, "func": str, "M": int, "K": int,
             "lanes": int, "d_state": int, "max_err_lsb": float, "rms_err": float, "area": float,
             "latency": int, "table_bits": int}


def point(pid, *, func="silu", target="ecp5", arch="parallel", M=9, K=8, area=None, err=None,
          bits=None, latency=None, status="ok", error="", **kw):
    r = {name: ("" if t is str else None) for name, t in SCHEMA}
    r.update(point_id=pid, design="nli", status=status, error=error, func=func, in_fmt="s4.12",
             out_fmt="s4.12", M=M, K=K, micro_step="mul", arch=arch, lanes=1, storage="rom",
             target=target, max_err_lsb=err, mean_err_lsb=None if err is None else err / 4,
             max_err=None if err is None else err / 4096, area=area, latency=latency,
             table_bits=bits, verified="passed" if status == "ok" else "skipped")
    r.update(kw)
    return r


def silu_ecp5():
    """silu on ecp5; with a bound of 1 LSB the order is p3 (area 100, fewest table bits), p1 (same
    area and bits as p2, lower latency), p2, p9, p10."""
    return [
        point("p01", area=100.0, err=0.9, bits=600, latency=4),
        point("p02", arch="binary", area=100.0, err=0.8, bits=600, latency=6),
        point("p03", M=5, K=16, area=100.0, err=1.0, bits=500, latency=7),
        point("p04", M=3, K=4, area=50.0, err=1.5, bits=100, latency=3),
        point("p05", status="failed", error="yosys: out of memory | retry", area=10.0, err=0.1),
        point("p06", M=4, K=1, area=40.0, err=None, bits=40, latency=3),
        point("p09", arch="uniform", M=65, K=1, area=300.0, err=0.7, bits=1040, latency=3),
        point("p10", arch="direct", M=4096, K=1, area=2000.0, err=0.5, bits=65536, latency=2),
        point("p11", M=40, K=1, area=120.0, err=1.2, bits=640, latency=4),
    ]


def other_groups():
    return [
        point("g01", target="generic", area=5.0, err=0.5, bits=10, latency=1),
        point("g02", target="generic", area=900.0, err=0.004, bits=9000, latency=5),  # 2+ decades
        point("g03", target="generic", K=1, area=60.0, err=40.0, bits=90, latency=2),
        point("e01", func="gelu", area=1.0, err=0.1, bits=10, latency=1),
        point("e02", func="gelu", status="failed", error="fit: no convergence"),
        scan("s01", lanes=1, rms=2.6e-4, area=2942.0),
        scan("s02", lanes=4, rms=2.6e-4, area=6206.0),        # same error, more area: dominated
        scan("s03", lanes=16, rms=2.5e-4, area=20955.3),
    ]


def scan(pid, *, lanes, rms, area):
    return point(pid, design="scan", func="", M=None, K=None, micro_step="", arch="", target="xcup",
                 preset="int16", d_state=16, lanes=lanes, rms_err=rms, area=area, bits=3000, latency=30,
                 in_fmt="", out_fmt="")


def all_rows():
    return sorted(silu_ecp5() + other_groups(), key=lambda r: r["point_id"])


def write_csv(path, rows, columns=None):
    columns = columns or [n for n, _ in SCHEMA]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(columns)
        for r in rows:
            w.writerow(["" if r[c] is None else r[c] for c in columns])


def write_parquet(path, rows):
    import pyarrow as pa
    import pyarrow.parquet as pq
    types = {str: pa.string(), int: pa.int64(), float: pa.float64()}
    schema = pa.schema([(n, types[t]) for n, t in SCHEMA])
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)


@pytest.fixture
def results(tmp_path):
    d = tmp_path / "sweep"
    d.mkdir()
    write_parquet(d / "results.parquet", all_rows())
    write_csv(d / "results.csv", all_rows())
    return d


def sections(md):
    """{group heading: {sub-heading: [first-column cells of its table]}} of report.md."""
    groups, group, sub = {}, None, None
    for line in md.splitlines():
        if line.startswith("## "):
            group, sub = line[3:], None
            groups[group] = {}
        elif line.startswith("### ") and group is not None:
            sub = line[4:]
            groups[group][sub] = []
        elif line.startswith("| ") and sub is not None and not line.startswith("| point "):
            groups[group][sub].append(line.split(" | ")[0][2:])
            if line.endswith("| yes |"):
                groups[group].setdefault("Pareto column yes", []).append(line.split(" | ")[0][2:])
    return groups


# ------------------------------------------------------------------------------------ loading

@pytest.mark.parametrize("name", ["results.parquet", "results.csv"])
def test_loaders_read_the_schema(results, name):
    from nlihw.explore.results_io import load_results
    (results / "results.parquet").unlink() if name == "results.csv" else None
    file, rows = load_results(results)                  # the directory: finds the file
    assert file.name == name
    assert len(rows) == len(all_rows())
    assert {col: kind for col, kind in SCHEMA if col in KEY_TYPES} == KEY_TYPES
    for got, want in zip(rows, all_rows()):
        for col, kind in SCHEMA:
            assert got[col] == want[col], (name, want["point_id"], col)
            assert got[col] is None or type(got[col]) is kind, (name, col, got[col])
    for col, kind in KEY_TYPES.items():
        assert any(type(r[col]) is kind for r in rows), (name, col)


# ------------------------------------------------------------------------------------ report

def expected_fronts():
    """Brute-force fronts per plot group: ok points with both figures, (area, error)."""
    groups = {}
    for r in all_rows():
        key = ("scan", r["target"]) if r["design"] == "scan" else (r["func"], r["target"])
        groups.setdefault(key, []).append(r)
    fronts = {}
    for key, rs in groups.items():
        ek = "rms_err" if key[0] == "scan" else "max_err_lsb"
        ok = [r for r in rs if r["status"] == "ok"]
        idx, _ = brute_front([(r["area"], r[ek]) for r in ok])
        fronts[key] = sorted(ok[i]["point_id"] for i in idx)
    return fronts


def find_group(secs, func, target):
    hits = [h for h in secs if h.split()[0] == func and h.endswith(f"on {target}")]
    assert len(hits) == 1, (func, target, list(secs))
    return secs[hits[0]]


def test_report_fronts_match_brute_force(results, tmp_path, capsys, monkeypatch):
    # the tables only: skip drawing (the plots have their own test)
    monkeypatch.setattr("nlihw.explore.report.plot_group", lambda group, front: (b"png", b"svg"))
    rc, _out, err = run_cli(["report", results, "--out", tmp_path / "rep"])
    assert rc == 0, err
    secs = sections((tmp_path / "rep" / "report.md").read_text())
    fronts = expected_fronts()
    assert fronts[("silu", "ecp5")] == ["p02", "p04", "p09", "p10"]      # by hand, too
    assert fronts[("scan", "xcup")] == ["s01", "s03"]
    for (func, target), front in fronts.items():
        sec = find_group(secs, func, target)
        assert sorted(sec["Pareto-optimal points"]) == front, (func, target)
        every = sec["All points, by area"]
        assert sorted(every) == sorted(r["point_id"] for r in all_rows()
                                       if (r["func"] or "scan") == func and r["target"] == target)
        assert sorted(sec["Pareto column yes"]) == front, (func, target)
    md = (tmp_path / "rep" / "report.md").read_text()
    assert re.search(r"^\| s03 \|.*\| 20955 \|", md, re.MULTILINE)    # an area in full, not 2.096e+04
    assert re.search(r"^\| g02 \|.*\| 0\.004 \|", md, re.MULTILINE)
    # all points by area: ok points by increasing area (failed ones last)
    assert find_group(secs, "silu", "ecp5")["All points, by area"] == [
        "p06", "p04", "p02", "p01", "p03", "p11", "p09", "p10", "p05"]


def test_report_plots_and_failed_points(results, tmp_path, capsys, monkeypatch):
    out = tmp_path / "rep"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1000000000")
    assert run_cli(["report", results, "--out", out])[0] == 0
    md = (out / "report.md").read_text()
    links = sorted(set(re.findall(r"\(plots/([^)]+)\)", md)))
    stems = ["gelu_s4.12_s4.12_ecp5", "scan_int16_xcup", "silu_s4.12_s4.12_ecp5",
             "silu_s4.12_s4.12_generic"]
    assert links == sorted(f"{s}.{e}" for s in stems for e in ("png", "svg"))
    assert sorted(p.name for p in (out / "plots").iterdir()) == links
    for s in stems:
        assert (out / "plots" / f"{s}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        ET.fromstring((out / "plots" / f"{s}.svg").read_bytes())          # well-formed
    # legend: architecture families and search architectures told apart, the front drawn
    svg = (out / "plots" / "silu_s4.12_s4.12_ecp5.svg").read_text()
    for label in ("NLI K&gt;1, parallel", "NLI K&gt;1, binary", "NLI K=1 (PWL), parallel",
                  "uniform PWL", "full LUT", "Pareto front"):
        assert f"<!-- {label} -->" in svg, label
    def ticks(svg):
        return set(re.findall(r"<!-- ([0-9.]+) -->", svg))
    # 0.5..1.5 LSB, 50..2000 LUT4s: linear axes
    assert ticks(svg) == {"0.6", "0.8", "1.0", "1.2", "1.4"} | {str(250 * i) for i in range(9)}
    gen = (out / "plots" / "silu_s4.12_s4.12_generic.svg").read_text()
    # 0.004..40 LSB and 5..900 GE: decades on both axes
    assert ticks(gen) == {"0.01", "0.1", "1", "10", "100", "1000"}
    # summary and failed points with their (escaped) messages
    assert "17 points: 15 ok, 2 failed" in md
    failed = md.split("## Failed points")[1].split("\n## ")[0]
    assert "| p05 | silu s4.12 -> s4.12 on ecp5 | yosys: out of memory \\| retry |" in failed
    assert "| e02 |" in failed and "fit: no convergence" in failed
    assert "1 ok point without both an error and an area figure" in md     # p06
    # a re-run (another date) gives the same bytes
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1500000000")
    assert run_cli(["report", results, "--out", tmp_path / "again"])[0] == 0
    for p in sorted((out / "plots").iterdir()) + [out / "report.md"]:
        q = tmp_path / "again" / p.relative_to(out)
        assert q.read_bytes() == p.read_bytes(), p.name


def test_plot_marks_the_front():
    """The front is a post-step line through the front points, each outlined; every other point
    is drawn once, in its architecture's series."""
    from nlihw.explore.report import figure, group_rows
    g = next(g for g in group_rows(all_rows()) if g.name == "silu_s4.12_s4.12_ecp5")
    by_id = {r["point_id"]: r for r in g.rows}
    front = [by_id[p] for p in ("p04", "p02", "p09", "p10")]   # by hand, ordered by area
    ax = figure(g, front).axes[0]
    line = next(a for a in ax.lines if a.get_gid() == "pareto-front")
    assert line.get_drawstyle() == "steps-post"
    assert list(line.get_xdata()) == [50, 100, 300, 2000]
    assert list(line.get_ydata()) == [1.5, 0.8, 0.7, 0.5]
    outline = next(c for c in ax.collections if c.get_gid() == "pareto-points")
    assert [tuple(o) for o in outline.get_offsets()] == [(50, 1.5), (100, 0.8), (300, 0.7), (2000, 0.5)]
    assert outline.get_facecolors().size == 0 or all(outline.get_facecolors()[:, 3] == 0)
    series = {c.get_label(): sorted(tuple(o) for o in c.get_offsets())
              for c in ax.collections if c.get_gid() != "pareto-points"}
    assert series == {"NLI K>1, parallel": [(50, 1.5), (100, 0.9), (100, 1.0)],
                      "NLI K>1, binary": [(100, 0.8)],
                      "NLI K=1 (PWL), parallel": [(120, 1.2)],
                      "uniform PWL": [(300, 0.7)], "full LUT": [(2000, 0.5)]}


# ------------------------------------------------------------------------------------ best

def shown(out):
    """Point ids in the order of the printed table."""
    return re.findall(r"│ (?:best|#\d+)\s+│ (\w+)", out)


@pytest.mark.parametrize("args,order", [
    # area 100 three ways: fewest table bits (p03), then lower latency (p01 before p02)
    (["--max-err", "1"], ["p03", "p01", "p02", "p09", "p10"]),
    (["--max-err", "1.5"], ["p04", "p03", "p01", "p02", "p11"]),     # p10 beyond the runners-up
    (["--max-err", "0.75"], ["p09", "p10"]),
    (["--max-err", "0.7"], ["p09", "p10"]),                           # the bound itself qualifies
    (["--max-err", str(0.95 / 4096), "--metric", "max_err"], ["p01", "p02", "p09", "p10"]),
    (["--max-err", "0.2", "--metric", "mean_err_lsb"], ["p02", "p09", "p10"]),
])
@pytest.mark.parametrize("fmt", ["results.parquet", "results.csv"])
def test_best_picks_the_cheapest(tmp_path, capsys, args, order, fmt):
    rows = list(reversed(all_rows()))                    # the answer must not follow row order
    (write_parquet if fmt.endswith("parquet") else write_csv)(tmp_path / fmt, rows)
    rc, out, err = run_cli(["best", "--func", "silu", "--target", "ecp5", "--results",
                            tmp_path / fmt] + args)
    assert rc == 0, err
    assert shown(out) == order
    assert f"best: point {order[0]} " in out


def test_best_prints_the_commands(results, capsys):
    # the fit settings the table lacks come from the point's record (as nlihw sweep writes it)
    (results / "points").mkdir()
    (results / "points" / "p03.json").write_text(json.dumps(
        {"point": {"metric": "max-abs", "grid": 256, "M": 5, "K": 16}}))
    rc, out, _ = run_cli(["best", "--func", "silu", "--max-err", "1", "--target", "ecp5",
                          "--results", results])
    assert rc == 0
    assert ("nlihw fit --func silu --in s4.12 --out s4.12 -M 5 -K 16 --micro-step mul "
            "--metric max-abs --grid 256 -o build/best/p03/silu.json") in out
    assert "--arch parallel --lanes 1 --storage rom" in out
    assert "nlihw synth build/best/p03 -t ecp5" in out


def test_best_scan_points(results, capsys):
    rc, out, err = run_cli(["best", "--design", "scan", "--metric", "rms_err", "--max-err", "2.55e-4",
                            "--target", "xcup", "--results", results])
    assert rc == 0, err
    assert shown(out) == ["s03"]
    assert "nlihw scan gen --preset int16 --d-state 16 --lanes 16" in out


@pytest.mark.parametrize("args,needle", [
    # p05 (failed, 0.1) and p06 (no error figure) are not candidates: the least error is p10's
    (["--func", "silu", "--max-err", "0.4", "--target", "ecp5"],
     "meets max_err_lsb <= 0.4 LSB; the least reached is 0.5 LSB (point p10"),
    (["--func", "silu", "--max-err", "1", "--target", "xcup"], "--target xcup"),
    (["--func", "tanh", "--max-err", "1", "--target", "ecp5"], "--func tanh"),
    (["--func", "silu", "--max-err", "nan", "--target", "ecp5"], "--max-err must be finite"),
    (["--max-err", "1", "--target", "ecp5"], "--func is required"),
])
def test_best_errors_are_one_line(results, capsys, args, needle):
    rc, _out, err = run_cli(["best", "--results", results] + args)
    lines = err.strip().splitlines()
    not_met = needle.startswith("meets ")               # no design meets the bound: exit 3
    assert rc == (3 if not_met else 2) and len(lines) == 1 and lines[0].startswith("error: "), err
    assert needle in lines[0]


# ------------------------------------------------------------------------------------ bad input

def _truncated_csv(d):
    write_csv(d / "results.csv", all_rows())
    data = (d / "results.csv").read_bytes()
    (d / "results.csv").write_bytes(data[:data.rindex(b"\n", 0, len(data) - 1) + 30])


def _truncated_parquet(d):
    write_parquet(d / "results.parquet", all_rows())
    data = (d / "results.parquet").read_bytes()
    (d / "results.parquet").write_bytes(data[:len(data) // 2])


def _missing_column(d):
    write_csv(d / "results.csv", all_rows(), [n for n, _ in SCHEMA if n != "area"])


def _bad_value(d):
    rows = all_rows()
    rows[3]["M"] = "nine"
    write_csv(d / "results.csv", rows)


def _bad_status(d):
    rows = all_rows()
    rows[0]["status"] = "maybe"
    write_csv(d / "results.csv", rows)


def _empty_csv(d):
    (d / "results.csv").write_text("")


@pytest.mark.parametrize("make,needle", [
    (None, "no such file or directory"),
    (lambda d: None, "no results.parquet or results.csv"),
    (_truncated_csv, "fields where the header has"),
    (_truncated_parquet, "not a readable Parquet file"),
    (_missing_column, "missing column area"),
    (_bad_value, "column M: expected an integer, got 'nine'"),
    (_bad_status, "status must be 'ok' or 'failed'"),
    (_empty_csv, "empty file"),
])
def test_bad_results_are_one_line_and_write_nothing(tmp_path, capsys, make, needle):
    d = tmp_path / "sweep"
    if make is not None:
        d.mkdir()
        make(d)
    before = sorted(d.iterdir()) if d.exists() else None
    for argv in (["report", d], ["report", d, "--out", tmp_path / "rep"],
                 ["best", "--func", "silu", "--max-err", "1", "--target", "ecp5", "--results", d]):
        rc, _out, err = run_cli(argv)
        lines = err.strip().splitlines()
        assert rc == 2 and len(lines) == 1 and lines[0].startswith("error: "), (argv, err)
        assert needle in lines[0], (argv, lines[0])
        assert not (tmp_path / "rep").exists()
        assert (sorted(d.iterdir()) if d.exists() else None) == before


def test_blocked_output_writes_nothing(results, tmp_path, capsys):
    out = tmp_path / "rep"
    out.mkdir()
    (out / "plots").write_text("not a directory")
    rc, _, err = run_cli(["report", results, "--out", out])
    assert rc == 2 and err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in out.iterdir()) == ["plots"]            # no report.md


def test_help_examples_run(tmp_path, capsys, monkeypatch):
    """The first example of each command's help, verbatim, from a directory holding build/sweep."""
    import shlex

    from nlihw.commands import best, report
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("nlihw.explore.report.plot_group", lambda group, front: (b"png", b"svg"))
    (tmp_path / "build" / "sweep").mkdir(parents=True)
    write_csv(tmp_path / "build" / "sweep" / "results.csv", all_rows())
    for cmd in (report.command, best.command):
        example = cmd.help.split("Examples:")[1].strip().splitlines()[0].strip()
        rc, out, err = run_cli(shlex.split(example)[1:])
        assert rc == 0, (example, err)
    assert (tmp_path / "build" / "sweep" / "report.md").is_file()
    assert "best: point p03 " in out                     # silu, 1 LSB, ecp5


def test_an_older_table_with_column_P_reads_it_as_the_scan_lanes(tmp_path):
    """Tables written before the scan unit's state lanes became ``lanes`` had a column P."""
    from nlihw.explore.results_io import load_results
    rows = all_rows()
    for r in rows:
        if r["design"] == "scan":
            r["P"], r["lanes"] = r["lanes"], None
        else:
            r["P"] = None
    columns = [name for name, _ in SCHEMA] + ["P"]
    write_csv(tmp_path / "results.csv", rows, columns)
    _, got = load_results(tmp_path / "results.csv")
    assert sorted(r["lanes"] for r in got if r["design"] == "scan") == [1, 4, 16]
    assert {r["lanes"] for r in got if r["design"] == "nli"} == {1}
    assert all("P" not in r for r in got)
