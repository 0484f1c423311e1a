"""Semantics the README states, pinned against expectations computed here: what the error figures
of a float output mean, how a fixed-point linear tail rounds, what a zero tail outputs, and when a
table's statistics come from a sample of its codes."""
import math

import numpy as np
import pytest

from nlihw.cli import main
from nlihw.errors import TableError
from nlihw.luts.default_tables import shipped_dir
from nlihw.luts.fitter import fit
from nlihw.luts.layout import TableLayout
from nlihw.luts.table import NLITable
from nlihw.luts import table_errors as reference
from nlihw.luts.golden import nli_eval
from nlihw.luts.table_errors import table_errors


# --- max_abs_lsb and rms_lsb of a float output ----------------------------------------------------
def fp16(codes):
    return np.asarray(codes, dtype=np.uint16).view(np.float16).astype(np.float64)


def fp16_code(v: float) -> int:
    return int(np.array([v], dtype=np.float16).view(np.uint16)[0])


def test_float_output_lsb_figures_are_in_ulps_at_the_worst_inputs_f():
    """For a float output the "LSB" of max_abs_lsb and rms_lsb is one ulp of the output format at
    f(worst input), the input with the largest absolute error: max_abs_lsb = max|err| / that ulp,
    rms_lsb = rms(err) / the same ulp. max_ulp is the per-code figure (each error in ulps at its
    own f). Recomputed by hand on six codes of a shipped fp16 table (all f normal in fp16)."""
    t = NLITable.load(shipped_dir() / "silu_fp16_M11_K8.json")
    codes = np.array([fp16_code(v) for v in (0.01, 0.3, 2.5, 4.91797, 40.0, -11.4921875)], dtype=np.int64)
    x = fp16(codes)
    f = np.array([v / (1.0 + math.exp(-v)) for v in x])
    d = np.abs(fp16(nli_eval(t, codes)) - f)
    ulp = lambda v: 2.0 ** (math.floor(math.log2(abs(v))) - 10)         # noqa: E731  (normal fp16)
    w = int(np.argmax(d))
    assert x[w] == pytest.approx(4.91797, abs=1e-3)                     # the binade [4, 8): ulp 2^-8
    assert ulp(f[w]) == 2.0 ** -8
    e = table_errors(t, codes)
    rms = math.sqrt(sum(v * v for v in d) / len(d))
    assert e["max_abs_lsb"] == pytest.approx(d[w] / 2.0 ** -8, rel=1e-12)
    assert e["rms_lsb"] == pytest.approx(rms / 2.0 ** -8, rel=1e-12)
    assert e["max_ulp"] == pytest.approx(max(d[k] / ulp(f[k]) for k in range(len(d))), rel=1e-8)
    assert e["max_ulp"] > e["max_abs_lsb"]           # the worst in ulps: x = -11.49, f ~ -1.2e-4


# --- fixed-point linear tails round by the layout's rounding ------------------------------------
def own_round(n: int, e: int, mode: str) -> int:
    """n 2^e, e < 0, rounded by ``mode`` in plain integers."""
    d = 1 << -e
    fl, rem = n // d, n % d
    return {"floor": fl, "toward-zero": fl + (n < 0 and rem != 0),
            "nearest-away": fl + (2 * rem > d or (2 * rem == d and n >= 0)),
            "nearest-even": fl + (2 * rem > d or (2 * rem == d and fl % 2 == 1))}[mode]


@pytest.mark.parametrize("mode", ["nearest-even", "floor", "toward-zero", "nearest-away"])
def test_fixed_linear_tail_rounds_like_the_layout(mode):
    """y = saturate(round(x 2^e) + b) with round() the layout's rounding (here e = 0 + 6 - 8 = -2,
    so a quarter of the codes round up or down by the mode)."""
    lay = TableLayout(in_fmt="s4.8", out_fmt="s3.6", M=5, K=2, rounding=mode)
    t = fit("silu", lay, domain=(-2.0, 2.0), tails=("linear", "linear")).table
    xs = list(range(-2048, t.cutpoints[0])) + list(range(t.cutpoints[-1], 2048))
    got = nli_eval(t, xs).tolist()
    want = [min(max(own_round(x, -2, mode) + (t.clamp_lo if x < t.cutpoints[0] else t.clamp_hi),
                    -256), 255) for x in xs]
    assert got == want
    if mode != "nearest-even":                       # the mode matters on these codes
        ne = [min(max(own_round(x, -2, "nearest-even") + (t.clamp_lo if x < t.cutpoints[0] else
                                                          t.clamp_hi), -256), 255) for x in xs]
        assert got != ne


# --- zero tails ----------------------------------------------------------------------------------
def test_fixed_zero_tail_outputs_zero_and_stores_zero():
    """A zero tail outputs the code 0 for every input on its side (its stored offset is 0; a file
    with any other offset for a zero side is refused, so saturate(b) is always 0)."""
    lay = TableLayout(in_fmt="s4.8", out_fmt="s3.6", M=5, K=2)
    t = fit("silu", lay, domain=(-2.0, 2.0), tails=("zero", "zero")).table
    assert (t.clamp_lo, t.clamp_hi) == (0, 0)
    xs = list(range(-2048, t.cutpoints[0])) + list(range(t.cutpoints[-1], 2048))
    assert set(nli_eval(t, xs).tolist()) == {0}
    d = t.content()
    d["clamp"] = [-3, 0]
    with pytest.raises(TableError, match="zero tail has offset 0"):
        NLITable.from_dict(d, verify=False)


def test_float_zero_tail_is_plus_zero():
    """fp16 silu below its domain (x < -150, -Inf included): +0 (0x0000), not -0, though f < 0."""
    t = NLITable.load(shipped_dir() / "silu_fp16_M11_K8.json")
    xs = [fp16_code(v) for v in (-150.5, -1000.0, -65504.0)] + [0xFC00]
    assert nli_eval(t, xs).tolist() == [0, 0, 0, 0]


# --- statistics from a sample ---------------------------------------------------------------------
def test_statistics_cover_every_code_up_to_a_20_bit_domain():
    assert reference.MAX_EVAL_CODES >= 1 << 20
    assert reference.MAX_FIT_CODES == 1 << 16          # the fit's own sample is unchanged


def test_sampled_statistics_are_flagged_and_shown(tmp_path, monkeypatch, capsys):
    """With fewer evaluation codes than domain codes, the table says so and ``table show`` prints
    "statistics from a sample of N of M codes"; with every code, neither."""
    lay = TableLayout(in_fmt="s4.8", out_fmt="s3.6", M=5, K=2)
    full = fit("silu", lay, domain=(-2.0, 2.0)).table
    assert full.meta["sampled_eval"] is False and full.meta["errors"]["eval_codes"] == 1025
    monkeypatch.setattr(reference, "MAX_EVAL_CODES", 100)
    t = fit("silu", lay, domain=(-2.0, 2.0)).table
    assert t.meta["sampled_eval"] is True and t.meta["errors"]["eval_codes"] == 100
    assert t.cutpoints == full.cutpoints                # the fit itself is unchanged
    for table, shown in ((t, True), (full, False)):
        path = table.save(tmp_path / f"t{shown}.json")
        assert main(["table", "show", str(path)]) == 0
        out = capsys.readouterr().out
        assert ("statistics from a sample of 100 of 1,025 codes" in out) is shown
