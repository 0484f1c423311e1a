"""``nlihw tables build``: parameters checked before any work, all tables written or none, and the
comparison with the shipped copies split into hardware identity and statistics drift."""
import dataclasses
import json

import pytest

from nlihw.atomic import OutputError
from nlihw.cli import main
from nlihw.errors import FunctionError, ParamsError
from nlihw.luts.default_tables import (TableSpec, build_defaults, compare_with_shipped,
                                       comparison_report, shipped_dir)
from nlihw.luts.fitter import fit
from nlihw.luts.layout import TableLayout
from nlihw.luts.table import NLITable

CHEAP = TableSpec("silu", "s3.5", "s3.5", 5, 4)                      # fits in well under a second
FAILS = TableSpec("rsqrt", "s4.4", "s4.4", 3, 1, domain=(-1.0, 1.0))  # undefined at x <= 0


@pytest.mark.parametrize("jobs", ["-1", "0"])
def test_bad_jobs_is_refused_before_anything_is_done(tmp_path, capsys, jobs):
    out = tmp_path / "out"
    assert main(["tables", "build", "--jobs", jobs, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: --jobs must be >= 1, got {jobs}"
    assert not out.exists()
    with pytest.raises(ParamsError, match="--jobs must be >= 1"):
        build_defaults(out, [CHEAP], jobs=0)
    assert not out.exists()


def test_out_that_is_a_file_is_refused_before_fitting(tmp_path, capsys):
    out = tmp_path / "out"
    out.write_text("keep me")
    assert main(["tables", "build", "--only", "reciprocal_M17_K1", "--out", str(out)]) == 2
    assert "is a file" in capsys.readouterr().err
    with pytest.raises(ParamsError, match="not a directory"):
        build_defaults(out, [FAILS], jobs=1)          # refused before the (failing) fit
    assert out.read_text() == "keep me"


def test_all_tables_are_written_or_none(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(FunctionError):               # the second fit fails after the first succeeded
        build_defaults(out, [CHEAP, FAILS], jobs=1)
    assert not out.exists()
    # a destination that cannot be written is found before the (failing) fit is even started
    (out / FAILS.filename).mkdir(parents=True)
    with pytest.raises(OutputError, match="is a directory"):
        build_defaults(out, [CHEAP, FAILS], jobs=1)
    assert sorted(p.name for p in out.iterdir()) == [FAILS.filename]
    paths = build_defaults(tmp_path / "good", [CHEAP], jobs=1)
    assert [p.name for p in paths] == [CHEAP.filename]
    assert NLITable.load(paths[0]) == CHEAP.fit()


@pytest.fixture(scope="module")
def small():
    return fit("silu", TableLayout("s3.5", "s3.5", 5, 4)).table


def test_comparison_separates_hardware_from_statistics(small, tmp_path):
    fitted, shipped = tmp_path / "fitted", tmp_path / "shipped"
    fitted.mkdir(), shipped.mkdir()
    meta = {"errors": {"max_abs": 0.25, "rms": 0.125}, "metric": "max-abs"}
    base = dataclasses.replace(small, meta=meta)
    values = list(small.values)
    values[2] += 1
    cases = {   # name: (fitted table, shipped table or None)
        "same": (base, base),
        "drift": (dataclasses.replace(small, meta={**meta, "errors": {"max_abs": 0.25, "rms": 0.126}}), base),
        "hw": (dataclasses.replace(base, values=tuple(values)), base),
        "new": (base, None),
    }
    for name, (new, old) in cases.items():
        new.save(fitted / f"{name}.json")
        if old is not None:
            old.save(shipped / f"{name}.json")
    cmp = {c.name: c for c in compare_with_shipped(sorted(fitted.iterdir()), shipped)}
    assert {n: (c.same_hardware, c.same_file) for n, c in cmp.items()} == {
        "same": (True, True), "drift": (True, False), "hw": (False, False), "new": (False, False)}
    assert cmp["drift"].detail == "statistics differ: meta.errors.rms"
    assert cmp["hw"].detail == "differs in values"
    report = comparison_report(list(cmp.values()), shipped).splitlines()
    assert report[0] == f"2/4 identical hardware; 1/4 identical files (shipped tables in {shipped})"
    assert sorted(report[1:]) == ["  drift: statistics differ: meta.errors.rms",
                                  "  hardware differs: hw: differs in values",
                                  "  hardware differs: new: no shipped copy"]


def test_build_command_reports_hardware_and_file_identity(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["tables", "build", "--only", "reciprocal_M17_K1", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    fitted = out / "reciprocal_M17_K1.json"
    ref = shipped_dir() / fitted.name
    same_file = fitted.read_bytes() == ref.read_bytes()
    a, b = json.loads(fitted.read_text()), json.loads(ref.read_text())
    same_hw = all(a[k] == b[k] for k in a if k not in ("meta", "sha256")) and set(a) == set(b)
    assert f"{int(same_hw)}/1 identical hardware; {int(same_file)}/1 identical files" in text
    assert ("hardware differs: reciprocal_M17_K1" in text) == (not same_hw)
    assert "byte-identical" not in text
    assert json.loads(fitted.read_text())["function"] == "reciprocal"


def test_build_into_the_shipped_dir_compares_with_the_copies_before_the_build(tmp_path, monkeypatch, capsys):
    """Regenerating the shipped tables in place must report against what was there before."""
    import nlihw.commands.tables as cmd
    from nlihw.luts.table import _digest
    name = "reciprocal_M17_K1.json"
    d = json.loads((shipped_dir() / name).read_text())
    d["values"][1] += 1                                    # a different (still valid) hardware
    d["sha256"] = _digest({k: v for k, v in d.items() if k != "sha256"})
    fake = tmp_path / "shipped"
    fake.mkdir()
    (fake / name).write_text(json.dumps(d))
    monkeypatch.setattr(cmd, "shipped_dir", lambda: fake)
    assert main(["tables", "build", "--only", "reciprocal_M17_K1", "--jobs", "1", "--out", str(fake)]) == 0
    text = capsys.readouterr().out
    assert f"0/1 identical hardware; 0/1 identical files (shipped tables in {fake})" in text
    line = next(ln for ln in text.splitlines() if "hardware differs: reciprocal_M17_K1: differs in" in ln)
    assert "values" in line.split(": differs in ")[1].split(", ")
    assert json.loads((fake / name).read_text())["values"][1] != d["values"][1]    # rewritten


def test_build_float_set_and_list(tmp_path, capsys):
    """--set float builds the fp16/bf16 tables (here the cheapest, every code a candidate): identical
    hardware and file to the shipped copy; a fixed-point name is not in that set; ``tables list``
    shows both sets, the float ones with their ulp error."""
    out = tmp_path / "out"
    assert main(["tables", "build", "--set", "fixed", "--only", "rsqrt_bf16_M17_K1", "--out", str(out)]) == 2
    assert "unknown table(s) rsqrt_bf16_M17_K1" in capsys.readouterr().err
    assert main(["tables", "build", "--set", "float", "--only", "rsqrt_bf16_M17_K1", "--jobs", "1",
                 "--out", str(out)]) == 0
    assert "1/1 identical hardware; 1/1 identical files" in capsys.readouterr().out
    assert (out / "rsqrt_bf16_M17_K1.json").read_bytes() == \
        (shipped_dir() / "rsqrt_bf16_M17_K1.json").read_bytes()
    assert main(["tables", "list"]) == 0
    text = capsys.readouterr().out
    row = next(ln for ln in text.splitlines() if "silu_fp16_M11_K32" in ln)
    ulp = NLITable.load(shipped_dir() / "silu_fp16_M11_K32.json").meta["errors"]["max_ulp"]
    assert "fp16 -> fp16" in row and f"{ulp:.3f}" in row
    assert any("silu_M11_K32" in ln and "s4.12 -> s4.12" in ln for ln in text.splitlines())
