"""The heavy-tailed input family, and the error report's scan path (D = 0), floors and saturated-beat
fractions, checked against independent computations on the float64 reference."""
import math

import numpy as np
import pytest

from nlihw.cli import main
from nlihw.hdl.scan.params import preset
from nlihw.sim.scan.accuracy import path_rows, scan_error, scan_path
from nlihw.sim.scan.reference import selective_scan_ref, softplus
from nlihw.sim.scan.stimulus import heavy_tailed_inputs, mamba_inputs


def test_heavy_tailed_family_is_what_it_says():
    x = heavy_tailed_inputs(32, 8, 2000, np.random.default_rng(5))
    assert x.u.shape == x.z.shape == (32, 2000) and x.B.shape == (8, 2000) and x.headdim is None
    assert np.array_equal(x.A, -np.tile(np.arange(1.0, 9.0), (32, 1)))     # S4D-real
    assert np.array_equal(x.D, np.ones(32))
    dt = softplus(x.delta + x.delta_bias[:, None])
    assert dt.min() >= 1e-3 * (1 - 1e-9) and dt.max() <= 0.1 * (1 + 1e-9)
    # log-uniform: each decade of [1e-3, 1e-1] holds half of the draws
    assert abs(np.mean(dt < 1e-2) - 0.5) < 0.01
    # Student-t(3): P(|t| > 5) = 2 * (1 - F(5)) = 0.01537 (normal: 6e-7); P(|t| > 1) = 0.3910
    t_tail = 2 * (0.5 - (math.atan(5 / math.sqrt(3)) + 5 * math.sqrt(3) / (3 + 25)) / math.pi)
    t_one = 2 * (0.5 - (math.atan(1 / math.sqrt(3)) + math.sqrt(3) / 4) / math.pi)
    for a in (x.u, x.z):
        assert abs(np.mean(np.abs(a) > 5) - t_tail) < 0.003
        assert abs(np.mean(np.abs(a) > 1) - t_one) < 0.01
    assert not x.u.flags.writeable and not x.delta.flags.writeable
    again = heavy_tailed_inputs(32, 8, 2000, np.random.default_rng(5))
    assert all(np.array_equal(getattr(x, k), getattr(again, k)) for k in ("u", "delta", "z", "B"))


def test_heavy_tailed_mamba2_has_four_heads():
    x = heavy_tailed_inputs(16, 4, 64, np.random.default_rng(1), mode="mamba2", headdim=4)
    assert np.array_equal(x.A, [-1.0, -2.0, -3.0, -4.0]) and x.delta.shape == (4, 64)
    assert x.headdim == 4 and selective_scan_ref(**x.kwargs()).shape == (16, 64)


def test_bench_family_is_unchanged():
    """mamba_inputs draws what it drew before the second family was added (seed 0)."""
    x = mamba_inputs(2, 2, 3, np.random.default_rng(0))
    rng = np.random.default_rng(0)
    dt0 = np.exp(rng.uniform(math.log(0.001), math.log(0.1), 2))
    assert np.allclose(x.delta_bias, dt0 + np.log(-np.expm1(-dt0)))
    assert np.array_equal(x.u, rng.standard_normal((2, 3)))


def _q(fmt, a):
    """Round half to even and clip, by hand."""
    return np.clip(np.round(np.asarray(a) * 2.0 ** fmt.frac_bits), fmt.min_raw,
                   fmt.max_raw) / 2.0 ** fmt.frac_bits


def _quantized_kwargs(p, x):
    """selective_scan_ref's arguments with every input rounded to its format by hand."""
    return dict(x.kwargs(), u=_q(p.u_fmt, x.u), delta=_q(p.delta_fmt, x.delta), A=_q(p.a_fmt, x.A),
                B=_q(p.b_fmt, x.B), C=_q(p.c_fmt, x.C), D=_q(p.d_fmt, x.D), z=_q(p.z_fmt, x.z),
                delta_bias=_q(p.delta_fmt, x.delta_bias))


def _floor_by_hand(p, x):
    """Relative RMS of the float64 reference run on hand-quantized inputs, its output rounded to
    out_fmt: an independent I/O quantization floor."""
    ref = selective_scan_ref(**x.kwargs())
    out = _q(p.out_fmt, selective_scan_ref(**_quantized_kwargs(p, x)))
    return np.sqrt(np.mean((out - ref) ** 2) / np.mean(ref ** 2))


@pytest.mark.parametrize("name", ["int16", "int8"])
def test_scan_path_and_floors_match_independent_runs(name):
    x = heavy_tailed_inputs(8, 8, 256, np.random.default_rng(2))
    p = preset(name, d_inner=8, d_state=8)
    full, path = path_rows(p, x)
    x0 = scan_path(x)
    assert np.array_equal(x0.D, np.zeros(8))
    ref0 = selective_scan_ref(**dict(x.kwargs(), D=None))     # no skip at all
    assert np.array_equal(selective_scan_ref(**x0.kwargs()), ref0)
    for row, xi in ((full, x), (path, x0)):
        assert row["floor_rel_rms"] == pytest.approx(_floor_by_hand(p, xi), rel=1e-6)
        assert row["ratio"] == pytest.approx(row["rel_rms"] / row["floor_rel_rms"])
    assert full["floor_rel_rms"] != pytest.approx(path["floor_rel_rms"], rel=1e-3)


def test_saturated_beat_fractions_follow_the_reference():
    """Beats whose float64 output (on the inputs as quantized, u and z clipped at 8) is well beyond
    out_fmt saturate; beats well inside do not."""
    x = heavy_tailed_inputs(16, 8, 400, np.random.default_rng(4))
    p = preset("int16", d_inner=16, d_state=8)
    top = p.out_fmt.max
    ref = np.abs(selective_scan_ref(**_quantized_kwargs(p, x)))
    lo, hi = np.mean(ref > top * 1.01), np.mean(ref > top * 0.99)
    assert lo > 0
    e = scan_error(p, x)
    assert lo <= e["sat_output"] <= hi and e["sat_state"] == 0
    assert e["saturated_beats"] == round(e["sat_any"] * e["beats"]) >= lo * e["beats"]


def test_state_saturation_is_counted_apart_from_the_output():
    """A state format whose range is under the last state's float64 peak saturates the state; the
    output (scan path alone, far inside out_fmt) does not."""
    x = heavy_tailed_inputs(8, 8, 256, np.random.default_rng(6))
    p = preset("int16", d_inner=8, d_state=8)
    peak = max(np.abs(selective_scan_ref(**x.kwargs(), return_last_state=True)[1]).max(), 0.3)
    narrow = p.replace(state_fmt=f"s{max(1, math.floor(math.log2(peak)))}.26")
    e = scan_error(narrow, scan_path(x))
    assert e["sat_state"] > 0 and e["sat_output"] == 0
    assert scan_error(p, scan_path(x))["sat_state"] == 0


def test_error_cli_reports_both_paths(capsys):
    assert main(["scan", "error", "--preset", "int8", "--d-inner", "4", "--d-state", "4",
                 "--tokens", "64", "--inputs", "heavy-tailed"]) == 0
    out = capsys.readouterr().out
    for text in ("full output (y + D*u)", "scan path alone (D = 0)", "floor (I/O only)",
                 "saturated beats", "heavy-tailed", "I/O quantization only"):
        assert text in out


def test_batched_inputs_run_as_separate_sequences():
    """A batch of 2 scores like one run of the unit with ``first`` at each sequence start, against
    the reference's own batched output."""
    from nlihw.sim.scan.accuracy import quantize_inputs
    from nlihw.sim.scan.golden import scan_eval
    p = preset("int16", d_inner=4, d_state=4)
    x = mamba_inputs(4, 4, 32, np.random.default_rng(8), n_sequences=2)
    ref = selective_scan_ref(**x.kwargs())                                  # (2, 4, 32)
    joined = type(x)(**{**{k: getattr(x, k) for k in ("A", "D", "delta_bias")},
                        **{k: np.concatenate(list(getattr(x, k)), axis=1)
                           for k in ("u", "delta", "z", "B", "C")}}, headdim=None)
    cfg, run = quantize_inputs(p, joined, starts=(0, 32))
    out = p.out_fmt.to_real(scan_eval(p, cfg, run).out)                     # (64, 4)
    want = np.concatenate(list(ref), axis=1).T
    rel = np.sqrt(np.mean((out - want) ** 2) / np.mean(want ** 2))
    assert scan_error(p, x)["rel_rms"] == pytest.approx(rel, rel=1e-12)
    assert scan_error(p, x)["beats"] == 64 * 4
