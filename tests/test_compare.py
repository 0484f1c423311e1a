"""``nlihw compare`` as a user runs it: four architectures, each meeting the bound, synthesized."""
import json

from nlihw.cli import main


def test_compare_small_format(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NLIHW_CACHE", str(tmp_path / "cache"))
    rc = main(["compare", "--func", "tanh", "--in", "s3.5", "--out", "s1.7", "--max-err", "1.5",
               "--target", "generic", "-o", str(tmp_path)])
    assert rc == 0
    out = capsys.readouterr().out
    for name in ("NLI K=1 (PWL)", "NLI (K>1)", "uniform PWL", "full LUT"):
        assert name in out
    res = json.loads((tmp_path / "tanh" / "compare.json").read_text())
    rows = {r[0]: r for r in res["rows"]}
    col = res["header"].index("max err (LSB)")
    assert all(float(r[col]) <= 1.5 for r in rows.values())
    # each ratio is the row's own gate equivalents over NLI's, recomputed here from the columns
    ratio = res["header"].index("generic x NLI")
    area = res["header"].index("generic gate_equivalents")
    ge = {name: float(r[area].replace(",", "")) for name, r in rows.items()}
    assert all(v > 0 for v in ge.values())
    assert len(set(ge.values())) > 1, "the architectures differ in area"
    for name, r in rows.items():
        assert r[ratio] == f"{ge[name] / ge['NLI (K>1)']:.2f}", name


def test_compare_errors(tmp_path, capsys):
    assert main(["compare", "--func", "silu", "--max-err", "0", "-o", str(tmp_path)]) == 2
    assert "--max-err must be finite and > 0" in capsys.readouterr().err
