"""Shipped tables by name (``--table silu_M11_K32``, ``tables path NAME``, ``table show NAME``) and
the ``tables list`` number columns."""
import os
from pathlib import Path

import pytest

from nlihw.cli import main
from nlihw.commands.table_names import resolve_table, resolve_tables, shipped_names
from nlihw.commands.tables import _num
from nlihw.errors import ParamsError

ROOT = Path(__file__).resolve().parents[2]
CHECKOUT = ROOT / "luts" / "tables"           # the checkout's copies (the install is editable)


def test_a_bare_name_is_the_shipped_table(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for ref in ("silu_M11_K32", "silu_M11_K32.json", "gelu_bf16_M11_K8"):
        path = Path(resolve_table(ref))
        stem = ref.removesuffix(".json")
        assert path.name == f"{stem}.json"
        assert path.read_bytes() == (CHECKOUT / f"{stem}.json").read_bytes()
    assert set(shipped_names()) == {p.stem for p in CHECKOUT.glob("*.json")}


def test_a_file_wins_over_a_shipped_name_and_paths_are_left_alone(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("silu_M11_K32").write_text("{}")            # an existing file of that name
    assert resolve_table("silu_M11_K32") == "silu_M11_K32"
    assert resolve_table("./silu_M11_K32") == "./silu_M11_K32"
    # a path with a directory part is the user's file, even when missing (the loader says so)
    assert resolve_table("nowhere/silu_M11_K32.json") == "nowhere/silu_M11_K32.json"
    assert resolve_tables(["gelu_M11_K32", "nowhere/x.json"])[1] == "nowhere/x.json"
    # so is a missing NAME.json that is no shipped table: it reads as a file name
    assert resolve_table("silu_M11_K3.json") == "silu_M11_K3.json"


def test_an_unknown_name_is_one_line_with_close_names(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ParamsError) as e:
        resolve_table("silu_M11_K3")
    msg = str(e.value)
    assert msg.startswith("--table silu_M11_K3: no such file and no shipped table of that name")
    assert "\n" not in msg and "silu_M11_K32" in msg and "'nlihw tables list'" in msg
    listed = msg.split("did you mean ")[1].split("?")[0].split(", ")
    assert set(listed) <= {p.stem for p in CHECKOUT.glob("*.json")} and len(listed) <= 4
    with pytest.raises(ParamsError, match=r"no shipped table of that name; see 'nlihw tables list'"):
        resolve_table("zzzz")


def test_gen_takes_a_shipped_name_like_its_file(tmp_path, monkeypatch, capsys):
    """The same bytes whether the table is named or given by its checkout path."""
    monkeypatch.chdir(tmp_path)
    assert main(["gen", "--table", "silu_M11_K32", "--table", "gelu_M11_K32", "-o", "by_name"]) == 0
    assert main(["gen", "--table", str(CHECKOUT / "silu_M11_K32.json"), "--table",
                 str(CHECKOUT / "gelu_M11_K32.json"), "-o", "by_path"]) == 0
    names = sorted(os.listdir("by_name"))
    assert names == sorted(os.listdir("by_path")) and "nli_engine.v" in names
    for n in names:
        assert (tmp_path / "by_name" / n).read_bytes() == (tmp_path / "by_path" / n).read_bytes(), n
    capsys.readouterr()
    assert main(["gen", "--table", "silu_M11_K", "-o", "bad"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --table silu_M11_K: no such file") and err.count("\n") == 1
    assert not (tmp_path / "bad").exists()


def test_tables_path_prints_the_installed_file(capsys):
    assert main(["tables", "path", "exp_M11_K32"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert Path(out.strip()).read_bytes() == (CHECKOUT / "exp_M11_K32.json").read_bytes()
    assert main(["tables", "path", "exp_M11"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no shipped table 'exp_M11'; did you mean ") and err.count("\n") == 1
    assert main(["tables", "path", "../tables/exp_M11_K32"]) == 2      # names only, no paths


def test_table_show_takes_a_name(capsys):
    assert main(["table", "show", "silu_M11_K32"]) == 0
    by_name = capsys.readouterr().out
    assert main(["table", "show", str(CHECKOUT / "silu_M11_K32.json")]) == 0
    assert capsys.readouterr().out == by_name and by_name.startswith("silu: s4.12 -> s4.12")


def test_large_numbers_in_fixed_columns_use_exponents(capsys):
    """A float table's max ulp reaches about 3.8e30: shown as 3.803e+30, not 31 digits."""
    assert _num({"v": 3.80295e30}, "v", ".3f") == "3.803e+30"
    assert _num({"v": 999999.4}, "v", ".3f") == "999999.400"
    assert _num({"v": 1e6}, "v", ".3f") == "1.000e+06"
    assert _num({"v": 1.5}, "v", ".3f") == "1.500" and _num({"v": 2.5e-4}, "v", ".2e") == "2.50e-04"
    assert _num({"v": True}, "v", ".3f") == "-" and _num({}, "v", ".3f") == "-"
    assert main(["tables", "list"]) == 0
    out = capsys.readouterr().out
    assert "e+30" in out and not any(len(tok) > 12 for tok in out.replace("│", " ").split()
                                     if tok.replace(".", "").isdigit())
