"""The README's result tables come from `make bench` output: every marker names a bench section and
a table it declares, the markers are balanced, and the rewrite of a small README from fake bench
outputs gives the hand-written text; the writer's stamp (commit, -dirty, unknown) and the CLI's
one-line errors that leave the README as it was."""
from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

from nlihw import bench
from nlihw.benchmarks import readme_tables as rt, section_output as so

README = Path(__file__).resolve().parents[2] / "README.md"


# --- the repository's README -------------------------------------------------------------------

def _markers(text):
    """An independent reading of the markers: (line, 'open', section, table) or (line, 'close')."""
    out = []
    for i, line in enumerate(text.splitlines(), 1):
        if "bench" in line and "<!--" in line:
            m = re.fullmatch(r"<!-- bench:(\w[\w-]*)/([\w.-]+) -->", line.strip())
            out.append((i, "open", m.group(1), m.group(2)) if m else (i, line.strip()))
    return out


def test_readme_markers_name_declared_bench_tables():
    marks = _markers(README.read_text())
    assert marks, "README.md has no bench markers"
    sections = {name for name, _ in bench.SECTIONS}
    for k, mark in enumerate(marks):                     # open, close, open, close, ...
        if k % 2 == 0:
            assert mark[1] == "open", f"README.md:{mark[0]}: expected an opening marker, got {mark}"
            _, _, section, table = mark
            assert section in sections, f"README.md:{mark[0]}: no bench section {section}"
            module = importlib.import_module(dict(bench.SECTIONS)[section])
            assert table in module.TABLES, f"README.md:{mark[0]}: {section} has no table {table}"
        else:
            assert mark[1] == "<!-- /bench -->", f"README.md:{mark[0]}: expected <!-- /bench -->, got {mark}"
    assert len(marks) % 2 == 0, "the last bench block is not closed"
    rt.check_blocks(rt.find_blocks(README.read_text()), rt.declared_tables())    # the CLI's check


def test_declared_tables_read_from_source_match_the_modules():
    for name, module in bench.SECTIONS:
        assert rt.module_tables(module) == importlib.import_module(module).TABLES, name


# --- rewrite of a fixture ----------------------------------------------------------------------

FIXTURE = """# demo

<!-- bench:fitter/layouts -->

| old | table |
| --- | --- |
| 1 | 2 |

<!-- /bench -->

text between
<!-- bench:timing/depths -->
<!-- /bench -->
end
"""

OUTPUTS = {
    "fitter": {"commit": "abc1234", "date": "2026-12-07",
               "tables": {"layouts": "| a | b |\n| --- | --- |\n| 3 | 4 |\n"}},
    "timing": {"commit": "0123456-dirty", "date": "2026-12-06",
               "tables": {"depths": "| d |\n| --- |\n| 0 |\n", "goals": "| g |\n"}},
}

EXPECTED = """# demo

<!-- bench:fitter/layouts -->

measured on commit abc1234, 2026-12-07, `make bench` section fitter

| a | b |
| --- | --- |
| 3 | 4 |

<!-- /bench -->

text between
<!-- bench:timing/depths -->

measured on commit 0123456-dirty, 2026-12-06, `make bench` section timing

| d |
| --- |
| 0 |

<!-- /bench -->
end
"""


def test_rewrite_gives_the_hand_written_text():
    assert rt.rewrite(FIXTURE, OUTPUTS) == EXPECTED
    assert rt.rewrite(EXPECTED, OUTPUTS) == EXPECTED                 # a second run changes nothing


def test_rewrite_of_one_section_leaves_the_others():
    got = rt.rewrite(FIXTURE, {"timing": OUTPUTS["timing"]}, sections={"timing"})
    assert got == FIXTURE[:FIXTURE.index("text between")] + EXPECTED[EXPECTED.index("text between"):]


@pytest.mark.parametrize("text, message", [
    ("<!-- bench:fitter/layouts -->\n", "is never closed"),
    ("<!-- /bench -->\n", "without an opening marker"),
    ("<!-- bench:fitter/layouts -->\n<!-- bench:fitter/dp -->\n<!-- /bench -->\n", "marker inside the block"),
    ("<!-- bench: fitter/layouts -->\n<!-- /bench -->\n", "malformed marker"),
    ("<!--bench:fitter/layouts-->\n<!-- /bench -->\n", "malformed marker"),
])
def test_unbalanced_or_malformed_markers_are_refused(text, message):
    with pytest.raises(rt.ReadmeTablesError, match=message):
        rt.find_blocks(text)


# --- the command line --------------------------------------------------------------------------

def _write_outputs(results: Path):
    for section, doc in OUTPUTS.items():
        so.write_section(section, doc["tables"], {"x": 1}, commit=doc["commit"], date=doc["date"],
                         results_dir=results)


def _run(tmp_path, text, *args, outputs=True):
    readme, results = tmp_path / "README.md", tmp_path / "bench"
    readme.write_text(text)
    if outputs:
        _write_outputs(results)
    code = rt.main(["--readme", str(readme), "--results", str(results), *args])
    return code, readme.read_text()


def test_cli_rewrites_from_the_written_bench_outputs(tmp_path, capsys):
    code, text = _run(tmp_path, FIXTURE)
    assert (code, text) == (0, EXPECTED)
    assert "2 tables rewritten" in capsys.readouterr().out


@pytest.mark.parametrize("text, args, outputs, message", [
    (FIXTURE.replace("timing/depths", "timing/nosuch"), (), True, "section timing has no table 'nosuch'"),
    (FIXTURE.replace("timing/depths", "nosuch/depths"), (), True, "no bench section 'nosuch'"),
    (FIXTURE.replace("timing/depths", "timing/validation"), (), True, "has no table 'validation'"),
    (FIXTURE, (), False, "no bench output for section fitter"),
    (FIXTURE, ("--section", "nosuch"), True, "--section nosuch: no bench section"),
    (FIXTURE + "<!-- /bench -->\n", (), True, "without an opening marker"),
    (FIXTURE.replace("timing/depths", "timing/nosuch"), ("--check",), False, "has no table 'nosuch'"),
])
def test_cli_errors_are_one_line_and_leave_the_readme(tmp_path, capsys, text, args, outputs, message):
    code, after = _run(tmp_path, text, *args, outputs=outputs)
    err = capsys.readouterr().err
    assert code == 2 and after == text
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err, err
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []    # no temp file


def test_cli_leaves_an_up_to_date_readme_untouched(tmp_path, capsys):
    code, text = _run(tmp_path, EXPECTED)
    inode = (tmp_path / "README.md").stat().st_ino
    code, text = _run(tmp_path, EXPECTED)
    assert (code, text) == (0, EXPECTED)
    assert (tmp_path / "README.md").stat().st_ino == inode          # an atomic write replaces the inode
    assert "already up to date" in capsys.readouterr().out


def test_cli_check_needs_no_bench_output_and_writes_nothing(tmp_path, capsys):
    code, after = _run(tmp_path, FIXTURE, "--check", outputs=False)
    assert (code, after) == (0, FIXTURE)
    assert "2 marked tables" in capsys.readouterr().out


def test_cli_one_section_needs_only_its_output(tmp_path):
    results = tmp_path / "bench"
    so.write_section("timing", OUTPUTS["timing"]["tables"], {}, commit="0123456-dirty",
                     date="2026-12-06", results_dir=results)
    readme = tmp_path / "README.md"
    readme.write_text(FIXTURE)
    assert rt.main(["--readme", str(readme), "--results", str(results), "--section", "timing"]) == 0
    assert readme.read_text() == FIXTURE[:FIXTURE.index("text between")] + EXPECTED[EXPECTED.index("text between"):]


# --- the writer: stamp, tables, JSON -----------------------------------------------------------

def _git(d, *args):
    return subprocess.run(["git", "-C", str(d), *args], check=True, capture_output=True, text=True).stdout


def test_measured_commit_short_hash_dirty_and_unknown(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "f.txt").write_text("one\n")
    _git(repo, "add", "f.txt")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "c")
    short = _git(repo, "log", "-1", "--format=%h").strip()
    assert so.measured_commit(repo) == short
    (repo / "new.txt").write_text("untracked\n")                       # untracked: still clean
    assert so.measured_commit(repo) == short
    (repo / "f.txt").write_text("two\n")
    assert so.measured_commit(repo) == short + "-dirty"
    outside = tmp_path / "plain"
    outside.mkdir()
    assert so.measured_commit(outside) == "unknown"


def test_publish_collects_only_inside_collect():
    so.publish("t", "| a |")                                           # no collection: ignored
    with so.collect() as tables:
        so.publish("t", "| a |\n| --- |\n")
        with pytest.raises(ValueError, match="twice"):
            so.publish("t", "| b |")
    assert tables == {"t": "| a |\n| --- |\n"}


def test_markdown_tables_plain_and_from_rich():
    from rich.table import Table
    assert so.markdown_table(["a", "b"], [["x|y", "[bold]z"]]) == "| a | b |\n| --- | --- |\n| x\\|y | [bold]z |\n"
    t = Table(title="ignored")
    t.add_column("col")
    t.add_column("MHz")
    t.add_row("[bold]1[/bold]", "93.6 [90.5..95.7]")
    assert so.rich_markdown(t) == "| col | MHz |\n| --- | --- |\n| 1 | 93.6 [90.5..95.7] |\n"


def test_bench_writes_a_stamped_section(tmp_path, monkeypatch):
    mod = types.ModuleType("fake_bench_section")
    mod.TABLES = ("one",)

    def run(console):
        so.publish("one", "| a |\n| --- |\n| 1 |\n")
        return {"figure": 2.5, "pair": (1, 2)}
    mod.run = run
    monkeypatch.setitem(sys.modules, "fake_bench_section", mod)
    monkeypatch.setattr(bench, "SECTIONS", [("fake", "fake_bench_section")])
    monkeypatch.setattr(so, "measured_commit", lambda where=None: "feed123-dirty")
    monkeypatch.setattr(so, "today", lambda: "2026-12-07")
    monkeypatch.chdir(tmp_path)
    assert bench.main(["fake"]) == 0
    doc = json.loads((tmp_path / "build/bench/fake.json").read_text())
    assert doc["commit"] == "feed123-dirty" and doc["date"] == "2026-12-07"
    assert doc["tables"] == {"one": "| a |\n| --- |\n| 1 |\n"}
    assert doc["figures"] == {"figure": 2.5, "pair": [1, 2]}
    assert (tmp_path / "build/bench/fake.md").read_text() == (
        "# `make bench` section fake\n\nmeasured on commit feed123-dirty, 2026-12-07, `make bench` "
        "section fake\n\n## one\n\n| a |\n| --- |\n| 1 |\n")
    mod.TABLES = ()                                                     # published but not declared
    with pytest.raises(RuntimeError, match="not in its TABLES"):
        bench.main(["fake"])


# --- README-shaped tables built by the sections ------------------------------------------------

def test_fitter_layouts_table_from_fake_fits():
    from nlihw.benchmarks import fitter
    fits = {}
    for i, func in enumerate(("silu", "gelu", "exp")):
        for (M, K), err in zip(fitter.LAYOUTS, (23.0, 2.08, 0.92)):
            fits[(func, M, K, "max-abs")] = (err * (i + 1), 2.0 + i)
            fits[(func, M, K, "mean-rel")] = (99.0, 10.0 + 2 * i)
    assert fitter.layouts_markdown(fits) == (
        "| layout | silu max err | gelu max err | exp max err | fit time (max-abs) | fit time (mean-rel) |\n"
        "| --- | --- | --- | --- | --- | --- |\n"
        "| M=17, K=1 (17 values) | 23.0 LSB | 46.0 LSB | 69.0 LSB | 2.0-4.0 s | 10.0-14.0 s |\n"
        "| M=11, K=8 (81 values) | 2.08 LSB | 4.16 LSB | 6.24 LSB | 2.0-4.0 s | 10.0-14.0 s |\n"
        "| M=11, K=32 (321 values, the paper's layout) | 0.920 LSB | 1.84 LSB | 2.76 LSB | 2.0-4.0 s | 10.0-14.0 s |\n")


def test_synthesis_designs_row_in_the_readme_shape():
    from nlihw.benchmarks import synthesis
    def rep(**f):
        return {"figures": f}
    reps = {"generic": rep(gate_equivalents=6239.4), "xcup": rep(lut=411, ff=243, dsp48e2=2),
            "ecp5": rep(lut4=430, ebr=2, fmax_mhz=94.5, fmax_min_mhz=89.8, fmax_max_mhz=95.2),
            "ecp5-speed8": rep(fmax_mhz=121.7), "ice40": None}
    assert synthesis.designs_row("silu M11 K32", 7, reps) == [
        "silu M11 K32", "7", "6,239", "411 / 243 / 2", "430 / 2 / 94.5 [89.8..95.2] MHz (grade 8: 121.7)",
        "- / -"]


def test_scan_accuracy_table_from_fake_budgets():
    from nlihw.benchmarks import scan_unit
    budgets = {"int16": [{"max_abs": 1.4e-3, "rel_rms": 2.6e-4}, {"max_abs": 9.0, "rel_rms": 2.5e-4}],
               "int8": [{"max_abs": 0.24, "rel_rms": 0.0937}, {"max_abs": 9.0, "rel_rms": 0.0636}]}
    assert scan_unit.accuracy_markdown(budgets) == (
        "| preset | max abs error | relative RMS error | target | I/O quantization alone (the floor) |\n"
        "| --- | --- | --- | --- | --- |\n"
        "| int16 | 0.0014 | 0.026 % | < 0.25 % (met) | 0.025 % |\n"
        "| int8 | 0.24 | 9.37 % | < 8 % (MISSED) | 6.36 % |\n")
