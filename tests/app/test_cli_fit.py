"""``nlihw fit`` / ``nlihw table show`` as a user runs them: outputs, one-line errors, exit codes."""
import json

import numpy as np
import pytest

from nlihw.cli import main
from nlihw.luts.table import NLITable


def test_fit_writes_table_hex_and_plot(tmp_path, capsys):
    out = tmp_path / "silu.json"
    rc = main(["fit", "--func", "silu", "--in", "s3.5", "--out", "s3.5", "-M", "5", "-K", "4",
               "--refine", "-o", str(out), "--hex", str(tmp_path / "silu.hex"),
               "--plot", str(tmp_path / "silu.png")])
    assert rc == 0
    t = NLITable.load(out)
    assert (t.layout.M, t.layout.K, t.meta["refined"]) == (5, 4, True)
    assert (tmp_path / "silu.png").read_bytes()[:4] == b"\x89PNG"
    assert len((tmp_path / "silu.hex").read_text().split()) == t.layout.n_values
    text = capsys.readouterr().out
    assert "max-abs" in text and "LSB" in text
    assert main(["table", "show", str(out)]) == 0
    assert t.sha256 in capsys.readouterr().out


def test_fit_with_tails_and_table_show(tmp_path, capsys):
    out = tmp_path / "silu.json"
    assert main(["fit", "--func", "silu", "--in", "s4.4", "--out", "s4.4", "--domain", "-3:3",
                 "--tail-lo", "zero", "--tail-hi", "linear:-1", "-M", "4", "-K", "2", "-o", str(out)]) == 0
    t = NLITable.load(out)
    assert (str(t.tail_lo), str(t.tail_hi)) == ("zero", "linear:-1")
    capsys.readouterr()
    assert main(["table", "show", str(out)]) == 0
    text = capsys.readouterr().out
    assert "x < -3 (raw -48): zero" in text and "linear: y = 2^-1 x + " in text


def test_float_fit_with_linear_tails_and_table_show(tmp_path, capsys):
    """fp8 silu with linear tails: the table stores them, the golden model follows them past the
    cutpoints (y = x + b on the right, b = f(c) - c rounded), table show states the rounding."""
    import numpy as np
    from nlihw.luts.golden import nli_eval
    out = tmp_path / "silu8.json"
    assert main(["fit", "--func", "silu", "--in", "fp8e4m3", "--out", "fp8e4m3", "--domain", "-4:4",
                 "--tail-lo", "linear:-4", "--tail-hi", "linear", "-M", "4", "-K", "2",
                 "-o", str(out)]) == 0
    t = NLITable.load(out)
    assert (str(t.tail_lo), str(t.tail_hi)) == ("linear:-4", "linear")
    fin, fout = t.layout.in_fmt, t.layout.out_fmt
    c = float(fin.to_real(t.cutpoints[-1]))
    b = float(fout.to_real(t.clamp_hi))
    assert b == float(fout.to_real(fout.quantize(float(fout.to_real(fout.quantize(c / (1 + np.exp(-c))))) - c)))
    x = int(fin.quantize(64.0))
    assert float(fout.to_real(nli_eval(t, np.array([x]))[0])) == float(fout.to_real(fout.quantize(64.0 + b)))
    capsys.readouterr()
    assert main(["table", "show", str(out)]) == 0
    text = capsys.readouterr().out
    assert "linear: y = 2^-4 x + b" in text and "linear: y = x + b" in text
    assert "the exact sum rounded once to nearest even into fp8e4m3" in text


@pytest.mark.parametrize("args, msg", [
    (["--func", "nope"], "unknown function 'nope'; known: exp, gelu"),
    (["--func", "silu", "--in", "s40.12"], "format width must be 1..32"),
    (["--func", "silu", "--in", "s0.0"], "format"),
    (["--func", "silu", "-M", "1"], "M must be"),
    (["--func", "silu", "-K", "3", "--micro-step", "pow2"], "K must be a power of two"),
    (["--func", "rsqrt", "--in", "s4.4", "--domain", "-1:2"], "undefined for x <= 0"),
    (["--func", "silu", "--domain", "3"], "--domain must be LO:HI"),
    (["--func", "silu", "--in", "s2.2", "-M", "17"], "M must be"),
    (["--func", "silu", "--tail-hi", "sideways"], "bad tail 'sideways'"),
    (["--func", "silu", "--tail-lo", "linear:40"], "shift must be in"),
    (["--func", "silu", "--metric", "max-ulp"], "max-ulp needs a floating-point side"),
    (["--func", "silu", "--in", "fp16", "--out", "fp16", "--domain", "-1e6:0"], "outside fp16"),
])
def test_bad_input_is_one_line_exit_2_and_no_file(tmp_path, capsys, args, msg):
    out = tmp_path / "t.json"
    assert main(["fit", *args, "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and msg in err and "\n" not in err
    assert list(tmp_path.iterdir()) == []


def test_corrupt_table_file(tmp_path, capsys):
    p = tmp_path / "t.json"
    p.write_text(json.dumps({"schema_version": 1}))
    assert main(["table", "show", str(p)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {p}: function: missing")


def test_help_for_every_command(capsys):
    for cmd in (["--help"], ["fit", "--help"], ["table", "show", "--help"], ["tables", "build", "--help"]):
        assert main(cmd) == 0
    assert "nlihw fit --func silu --in s4.12" in capsys.readouterr().out


def test_fit_rel_floor_is_used_and_recorded(tmp_path, capsys):
    out = tmp_path / "t.json"
    assert main(["fit", "--func", "tanh", "--in", "s3.5", "--out", "s1.7", "-M", "5", "-K", "2",
                 "--metric", "mean-rel", "--rel-floor", "0.25", "-o", str(out)]) == 0
    t = NLITable.load(out)
    assert t.meta["rel_floor"] == "0.25"
    import numpy as np
    from nlihw.luts.golden import nli_eval
    xs = np.arange(-128, 128)
    f = np.tanh(xs / 32)
    d = np.abs(nli_eval(t, xs) / 128 - f)
    # (the file keeps 6 significant digits of the figures)
    assert t.meta["errors"]["mean_rel"] == pytest.approx(float(np.mean(d / np.maximum(np.abs(f), 0.25))), rel=1e-5)
    assert "mean-rel floor 0.25" in capsys.readouterr().out


def test_fit_fp16_to_fp16_and_show(tmp_path, capsys):
    """The float fit from the command line: the default mean-rel metric, --metric max-ulp, the
    tails and the domain; ``table show`` prints cutpoints as values, exponents and the tails."""
    out = tmp_path / "silu16.json"
    assert main(["fit", "--in", "fp16", "--out", "fp16", "--func", "silu", "-M", "5", "-K", "4",
                 "--domain", "-8:8", "--grid", "64", "-o", str(out)]) == 0
    t = NLITable.load(out)
    assert (str(t.layout.in_fmt), str(t.layout.out_fmt), t.meta["metric"]) == ("fp16", "fp16", "mean-rel")
    assert len(t.exponents) == 4 and t.domain == (-8.0, 8.0)
    assert (str(t.tail_lo), str(t.tail_hi)) == ("zero", "identity")
    capsys.readouterr()
    assert main(["table", "show", str(out)]) == 0
    text = capsys.readouterr().out
    import numpy as np
    first = float(t.layout.in_fmt.to_real(np.int64(t.cutpoints[0])))
    assert f"cutpoints {first:g} (0x{t.cutpoints[0]:04x})" in text
    assert "block exponents " + ", ".join(map(str, t.exponents)) in text
    assert "NaN: the canonical NaN nan (0x7e00)" in text and "zero (+0)" in text
    assert "ulp" in text and "all codes:" in text

    out2 = tmp_path / "tanh16.json"
    assert main(["fit", "--in", "fp16", "--out", "fp16", "--func", "tanh", "-M", "4", "-K", "2",
                 "--domain", "-3:3", "--grid", "32", "--metric", "max-ulp", "--tail-lo", "zero",
                 "-o", str(out2)]) == 0
    t2 = NLITable.load(out2)
    assert t2.meta["metric"] == "max-ulp" and str(t2.tail_lo) == "zero" and str(t2.tail_hi) == "clamp"
    assert t2.meta["placement"]["max_ulp"] == pytest.approx(t2.meta["errors"]["max_ulp"], rel=1e-5)
    assert "least mse among the max-ulp optima" in capsys.readouterr().out


def test_fit_mixed_fixed_and_float(tmp_path):
    out = tmp_path / "e.json"
    assert main(["fit", "--in", "s3.5", "--out", "fp16", "--func", "exp", "-M", "4", "-K", "2",
                 "--domain", "-4:0", "-o", str(out)]) == 0
    assert NLITable.load(out).layout.value_bits == 16
    assert main(["fit", "--in", "fp8e4m3", "--out", "s4.12", "--func", "silu", "-M", "4", "-K", "2",
                 "--domain", "-6:6", "-o", str(out)]) == 0
    assert str(NLITable.load(out).layout.in_fmt) == "fp8e4m3"


QUITTER = '''
import sys
import numpy as np
def quits(x): raise SystemExit(0)
def exits(x): sys.exit(3)
def interrupts(x): raise KeyboardInterrupt
def good(x): return np.tanh(x)
'''


@pytest.fixture
def quitter(tmp_path, monkeypatch):
    mod = tmp_path / "mods"
    mod.mkdir()
    name = f"quitter_{id(tmp_path)}"
    (mod / f"{name}.py").write_text(QUITTER)
    (mod / f"{name}_atimport.py").write_text("raise SystemExit(0)\n")
    monkeypatch.syspath_prepend(str(mod))
    return name


@pytest.mark.parametrize("attr, text", [("quits", "SystemExit: 0"), ("exits", "SystemExit: 3")])
def test_user_function_system_exit_is_an_error(tmp_path, capsys, quitter, attr, text):
    """A SystemExit from user code is an error naming the function (exit 2, one line, no file),
    not the tool's own exit."""
    out = tmp_path / "t.json"
    assert main(["fit", "--func", f"{quitter}:{attr}", "--in", "s3.5", "--out", "s3.5", "-M", "4",
                 "-K", "2", "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: user function '{quitter}:{attr}' raised {text}")
    assert "\n" not in err and not out.exists()


def test_user_module_exiting_at_import_is_an_error(tmp_path, capsys, quitter):
    out = tmp_path / "t.json"
    assert main(["fit", "--func", f"{quitter}_atimport:f", "--in", "s3.5", "--out", "s3.5",
                 "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: cannot load user function '{quitter}_atimport:f': SystemExit")
    assert not out.exists()


def test_ctrl_c_in_a_user_function_still_interrupts(tmp_path, capsys, quitter):
    from nlihw.luts.functions import get_function
    with pytest.raises(KeyboardInterrupt):
        get_function(f"{quitter}:interrupts")(np.zeros(3))
    out = tmp_path / "t.json"
    assert main(["fit", "--func", f"{quitter}:interrupts", "--in", "s3.5", "--out", "s3.5",
                 "-o", str(out)]) == 130
    assert "interrupted" in capsys.readouterr().err and not out.exists()


def test_fit_help_states_the_user_module_trust_boundary(capsys):
    assert main(["fit", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "module:function IMPORTS AND RUNS that module" in text
    assert "name only code you trust" in text


def test_float_fit_without_domain_prints_the_domain_and_tails(tmp_path, capsys):
    """No --domain with a float input: the derived domain and tails in one line, as stored."""
    out = tmp_path / "t.json"
    assert main(["fit", "--func", "silu", "--in", "fp8e4m3", "--out", "fp8e4m3", "-M", "5",
                 "-K", "2", "-o", str(out)]) == 0
    t = NLITable.load(out)
    lines = [ln for ln in capsys.readouterr().out.splitlines() if "default domain [" in ln]
    assert len(lines) == 1
    assert f"domain [{t.domain[0]:g}, {t.domain[1]:g}]" in lines[0]
    assert lines[0].endswith("tails zero, identity")
    # fixed point: the whole format as before, and no such line
    assert main(["fit", "--func", "silu", "--in", "s3.5", "--out", "s3.5", "-M", "4", "-K", "2",
                 "-o", str(out)]) == 0
    assert "default domain" not in capsys.readouterr().out
    assert NLITable.load(out).domain == (-4.0, 4.0 - 2 ** -5)
