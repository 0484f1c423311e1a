"""``nlihw scan calibrate``: formats from a model's activations, the activations file's validation
and the params file that scan gen|sim|error read back."""
import json
import os

import numpy as np
import pytest

from nlihw.cli import main
from nlihw.formats import Q
from nlihw.hdl.scan.params import FORMAT_FIELDS, preset
from nlihw.hdl.scan.params_file import load_params
from nlihw.sim.scan.accuracy import clipped_inputs, path_rows, scan_error, scan_path
from nlihw.sim.scan.calibrate import calibrate
from nlihw.sim.scan.reference import selective_scan_ref
from nlihw.sim.scan.stimulus import ScanInputs, heavy_tailed_inputs

INPUT_FIELDS = {"u_fmt": "u", "b_fmt": "B", "c_fmt": "C", "a_fmt": "A", "d_fmt": "D"}


def controlled(L=64, seed=0):
    """Activations whose input ranges are set by hand: |u| <= 5.5 (reached), |B| < 1.5,
    |C| < 0.9, A = -(1..4), D = 0.5, z in [-2, 2]; dt about 0.05."""
    rng = np.random.default_rng(seed)
    u = rng.uniform(-3, 3, (4, L))
    u[1, 10] = 5.5
    return ScanInputs(u=u, delta=np.zeros((4, L)), A=-np.tile(np.arange(1.0, 5.0), (4, 1)),
                      B=rng.uniform(-1.5, 1.5, (4, L)), C=rng.uniform(-0.9, 0.9, (4, L)),
                      D=np.full(4, 0.5), z=rng.uniform(-2, 2, (4, L)),
                      delta_bias=np.full(4, -2.97), headdim=None)


def test_input_formats_are_the_fewest_bits_by_hand():
    """int16 words: |u| 5.5 needs s4 (range 8), |B| < 1.5 s2, |C| < 0.9 s1, A = -4 fits s3
    exactly, D = 0.5 s1; headroom adds one bit to the activations, not to A and D."""
    want = {"u_fmt": 4, "b_fmt": 2, "c_fmt": 1, "a_fmt": 3, "d_fmt": 1}
    for headroom in (0, 1):
        p = calibrate(controlled(), "int16", max_saturation=0.0, headroom=headroom).params
        for f, i in want.items():
            extra = headroom if f in ("u_fmt", "b_fmt", "c_fmt") else 0
            assert getattr(p, f) == Q(i + extra, 16 - i - extra), f


def cancelling(L=64):
    """dt = 1 and A = -(8..11): the state forgets within a token, so y_t ~ 4 u_t (B = C = 1) and
    D = -4 cancels it: the scan path alone (D = 0) reaches many times the full output's range."""
    rng = np.random.default_rng(1)
    return ScanInputs(u=rng.uniform(-3, 3, (4, L)), delta=np.zeros((4, L)),
                      A=-np.tile(np.arange(8.0, 12.0), (4, 1)), B=np.ones((4, L)),
                      C=np.ones((4, L)), D=np.full(4, -4.0), z=np.full((4, L), 2.0),
                      delta_bias=np.full(4, 0.5413248546129181), headdim=None)


def test_out_format_holds_the_scan_path_alone():
    x = cancelling()
    path = np.abs(selective_scan_ref(**{**x.kwargs(), "D": None})).max()
    full = np.abs(selective_scan_ref(**x.kwargs())).max()
    assert path > 4 * full                                     # the data does what it is for
    p = calibrate(x, "int16", max_saturation=0.0, headroom=0).params
    assert p.out_fmt.max >= path
    assert scan_error(p, scan_path(x))["saturated_beats"] == 0


def test_golden_check_widens_a_format_the_float_ranges_got_wrong(monkeypatch):
    """If the float64 ranges chose out_fmt a bit too narrow, the golden-model check widens it."""
    import nlihw.sim.scan.calibrate as cal
    right = cal._formats

    def narrow(*a):
        f = right(*a)
        return {**f, "out_fmt": Q(f["out_fmt"].int_bits - 1, f["out_fmt"].frac_bits + 1)}
    x = controlled()
    want = calibrate(x, "int16", max_saturation=0.0, headroom=0)
    monkeypatch.setattr(cal, "_formats", narrow)
    c = calibrate(x, "int16", max_saturation=0.0, headroom=0)
    assert c.widened == ("out_fmt",) and c.rounds == 2 and c.params == want.params


def test_a_word_too_narrow_is_reported():
    """int8 words cannot hold out = (y + u) * silu(z) ~ 100 * 100: the format takes its widest
    range (s8.0) and the field is reported as unmet."""
    x = controlled()
    x = ScanInputs(**{**{k: getattr(x, k) for k in ("delta", "delta_bias", "A", "B", "C", "D")},
                      "u": np.full((4, 64), 100.0), "z": np.full((4, 64), 100.0)}, headdim=None)
    c = calibrate(x, "int8")
    assert c.params.out_fmt == Q(8, 0) and "out_fmt" in c.unmet


def _saturation(p, x):
    """Golden-model saturation events of the full output and the scan path alone, and clipping."""
    ev = [scan_error(p, xi)["events"] for xi in (x, scan_path(x))]
    return {k: ev[0].get(k, 0) + ev[1].get(k, 0) for k in ev[0]}, clipped_inputs(p, x)


@pytest.mark.parametrize("name", ["int16", "int8"])
def test_one_bit_narrower_saturates(name):
    """Calibrated formats (no headroom, rate 0) saturate nothing; each one a bit narrower (same
    width) clips its input or fires its saturation step in the golden model."""
    x = controlled()
    p = calibrate(x, name, max_saturation=0.0, headroom=0).params
    ev, clip = _saturation(p, x)
    assert not any(ev.values()) and not any(clip.values())
    steps = {"dtu_fmt": ("dtu",), "state_fmt": ("dBu", "h"), "y_fmt": ("y", "yd"), "out_fmt": ("out",)}
    for f in FORMAT_FIELDS:
        fmt = getattr(p, f)
        if fmt.int_bits == 1:
            continue                            # no narrower signed format
        ev, clip = _saturation(p.replace(**{f: Q(fmt.int_bits - 1, fmt.frac_bits + 1)}), x)
        if f in INPUT_FIELDS:
            assert clip[INPUT_FIELDS[f]] > 0, f
        else:
            assert sum(ev[k] for k in steps[f]) > 0, f


@pytest.mark.parametrize("name,mode,refit", [("int16", "mamba1", False), ("int8", "mamba1", True),
                                             ("int16", "mamba2", False), ("int8", "mamba2", True)])
def test_calibrated_heavy_tailed_has_no_saturation_and_floor_error(name, mode, refit):
    """(A 16-bit table refit takes minutes: int16 keeps the shipped tables here; the slow test
    refits.)"""
    x = heavy_tailed_inputs(16, 16, 512, np.random.default_rng(11), mode=mode,
                            headdim=4 if mode == "mamba2" else None)
    c = calibrate(x, name, refit=refit)
    assert c.refitted == (("silu",) if refit else ())
    assert (c.clipped["z"] == 0) == refit       # Student-t(3) z leaves the shipped s4.x input
    for row in path_rows(c.params, x):
        assert row["saturated_beats"] == 0 and row["sat_state"] == 0, row["path"]
        assert row["rel_rms"] <= 1.1 * row["floor_rel_rms"], row["path"]
    # the preset's own formats saturate the output on the same data (the reviewer's finding)
    assert path_rows(preset(name, d_inner=16, d_state=16, mode=mode,
                            headdim=4 if mode == "mamba2" else 1), x)[0]["sat_output"] > 0


def save(path, x, **changes):
    arrays = dict(u=x.u, delta=x.delta, A=x.A, B=x.B, C=x.C, D=x.D, z=x.z, delta_bias=x.delta_bias)
    arrays.update(changes)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


def test_cli_calibrate_writes_params_that_gen_and_error_accept(tmp_path, capsys):
    x = heavy_tailed_inputs(4, 4, 128, np.random.default_rng(3))
    act = save(tmp_path / "act.npz", x)
    out = tmp_path / "p.json"
    assert main(["scan", "calibrate", "--activations", str(act), "--preset", "int8",
                 "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "scan path alone (D = 0)" in text and "u_fmt" in text and f"wrote {out}" in text
    p = load_params(out)
    assert p == calibrate(x, "int8").params
    assert main(["scan", "error", "--params", str(out), "--inputs", str(act)]) == 0
    assert main(["scan", "gen", "--params", str(out), "--lanes", "2", "-o", str(tmp_path / "g")]) == 0
    man = json.loads((tmp_path / "g" / "selective_scan.manifest.json").read_text())
    assert man["params"] == p.replace(lanes=2).to_dict()
    # a hand edit that keeps valid JSON is refused
    doc = json.loads(out.read_text())
    doc["params"]["out_fmt"] = "s9.0"
    out.write_text(json.dumps(doc))
    assert main(["scan", "gen", "--params", str(out), "-o", str(tmp_path / "h")]) == 2
    assert "digest does not match" in capsys.readouterr().err


def _bad_files(tmp_path):
    x = heavy_tailed_inputs(4, 4, 16, np.random.default_rng(0))
    fifo = tmp_path / "fifo.npz"
    os.mkfifo(fifo)
    (tmp_path / "text.npz").write_text("hello")
    return [
        (save(tmp_path / "a.npz", x, C=None), "missing array(s) C"),
        (save(tmp_path / "b.npz", x, extra=np.zeros(3)), "unexpected array 'extra'"),
        (save(tmp_path / "c.npz", x, B=x.B[:, :8]), "B must have shape"),
        (save(tmp_path / "c2.npz", x, B=x.B[:3]), "B must have shape"),
        (save(tmp_path / "d.npz", x, u=x.u.astype(np.complex128)), "must be real numbers"),
        (save(tmp_path / "e.npz", x, z=np.where(x.z > 1, np.nan, x.z)), "non-finite"),
        (save(tmp_path / "f.npz", x, A=x.A[:, :2]), "must have shape"),
        (fifo, "a FIFO, not a regular file"),
        (tmp_path, "a directory"),
        (tmp_path / "text.npz", "not an .npz file"),
        (tmp_path / "missing.npz", "cannot read"),
    ]


def test_bad_activations_give_one_line_and_no_output(tmp_path, capsys):
    out = tmp_path / "p.json"
    for path, message in _bad_files(tmp_path):
        assert main(["scan", "calibrate", "--activations", str(path), "-o", str(out)]) == 2, message
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1, err
        assert not out.exists()


def test_activations_size_limit(tmp_path, capsys, monkeypatch):
    import nlihw.sim.scan.activations as act
    x = heavy_tailed_inputs(4, 4, 64, np.random.default_rng(0))
    path = save(tmp_path / "a.npz", x)
    monkeypatch.setattr(act, "MAX_FILE_BYTES", path.stat().st_size - 1)
    assert main(["scan", "calibrate", "--activations", str(path), "-o", str(tmp_path / "p.json")]) == 2
    assert "larger than" in capsys.readouterr().err


def test_params_conflicts_and_mismatched_inputs(tmp_path, capsys):
    x = heavy_tailed_inputs(4, 4, 32, np.random.default_rng(0))
    act = save(tmp_path / "act.npz", x)
    out = tmp_path / "p.json"
    assert main(["scan", "calibrate", "--activations", str(act), "-o", str(out)]) == 0
    capsys.readouterr()
    assert main(["scan", "gen", "--params", str(out), "--format", "u_fmt=s4.12",
                 "-o", str(tmp_path / "g")]) == 2
    assert "--format cannot be given with --params" in capsys.readouterr().err
    other = save(tmp_path / "other.npz", heavy_tailed_inputs(8, 4, 32, np.random.default_rng(0)))
    assert main(["scan", "error", "--params", str(out), "--inputs", str(other)]) == 2
    assert "the activations are D_inner 8" in capsys.readouterr().err
    nz = save(tmp_path / "nz.npz", x, z=None)
    assert main(["scan", "error", "--params", str(out), "--inputs", str(nz)]) == 2
    assert "no z; use --no-gate" in capsys.readouterr().err


def test_refitted_silu_table_fits_its_formats():
    """The int8 SiLU table refitted for heavy-tailed z: input wide enough for max |z| (+1 bit of
    headroom), and within 1 output LSB of float64 SiLU on every code (checked against
    reference.silu, not the fitter)."""
    from nlihw.luts.golden import nli_eval
    from nlihw.sim.scan.reference import silu
    x = heavy_tailed_inputs(16, 16, 512, np.random.default_rng(11))
    p = calibrate(x, "int8").params
    zmax = np.abs(x.z).max()
    i = p.z_fmt.int_bits - 1                   # without the headroom bit
    assert 2.0 ** (i - 2) <= zmax < 2.0 ** (i - 1)
    assert p.z_fmt.width == 8 and p.g_fmt.width == 12
    codes = p.z_fmt.codes()
    err = p.g_fmt.to_real(nli_eval(p.silu, codes)) - silu(p.z_fmt.to_real(codes))
    assert np.abs(err).max() <= p.g_fmt.lsb


@pytest.mark.slow
def test_l4096_figures_heavy_tailed(capsys):
    """The reviewer's setting at L = 4096 (D_inner 16): calibrated int16 formats (SiLU refitted)
    saturate no beat and stay within 1.1x their floor; the preset saturates its output."""
    x = heavy_tailed_inputs(16, 16, 4096, np.random.default_rng(0))
    c = calibrate(x, "int16")
    assert c.refitted == ("silu",) and c.clipped["z"] == 0
    for row in path_rows(c.params, x):
        assert row["saturated_beats"] == 0 and row["rel_rms"] <= 1.1 * row["floor_rel_rms"]
    assert path_rows(preset("int16", d_inner=16, d_state=16), x)[0]["sat_output"] > 0
