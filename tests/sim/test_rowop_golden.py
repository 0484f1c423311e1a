"""The row-operation golden models (softmax, RMSNorm, LayerNorm) against an independent scalar
model (plain Python integers and fractions, one element at a time, written from the docstring
tables), against float64 within bounds derived from the formats and the tables' own errors, on
every edge case, and the parameter validation."""
import math
from fractions import Fraction
from functools import lru_cache

import numpy as np
import pytest

from nlihw.errors import ParamsError
from nlihw.hdl.rowop.params import NormParams, norm_preset, softmax_preset
from nlihw.luts.functions import get_function
from nlihw.luts.golden import nli_eval
from nlihw.luts.rowop_tables import rowop_table
from nlihw.sim.rowop.accuracy import (attention_rows, emulate_norm, emulate_softmax,
                                      hidden_rows)
from nlihw.sim.rowop.golden import norm_eval, softmax_eval
from nlihw.sim.rowop.reference import layernorm_ref, rmsnorm_ref, softmax_ref

SEED = 20261207
PRESETS = ("int16", "int8")


# --- the independent scalar model ------------------------------------------------------------
def rnd(num: int, shift: int) -> int:
    """num / 2**shift rounded to nearest even, from the definition (exact rationals)."""
    q = Fraction(num, 2 ** shift) if shift >= 0 else Fraction(num * 2 ** -shift)
    fl = math.floor(q)
    rem = q - fl
    if rem != Fraction(1, 2):
        return fl + (rem > Fraction(1, 2))
    return fl + (fl % 2)


def trunc(num: int, shift: int) -> int:
    return num >> shift if shift >= 0 else num << -shift


def sat(v: int, fmt) -> int:
    return min(max(v, fmt.min_raw), fmt.max_raw)


def nli1(table, code: int) -> int:
    return int(nli_eval(table, np.array([code], dtype=np.int64))[0])


def scalar_softmax(p, row, mask):
    """(outputs, r, k, sat, empty) of one row, element by element."""
    live = [i for i in range(len(row)) if not mask[i]]
    if not live:
        return [0] * len(row), 0, 0, False, True
    m = row[live[0]]
    for i in live:
        if row[i] > m:
            m = row[i]
    e = [0] * len(row)
    for i in live:
        d = sat(row[i] - m, p.d_fmt)
        e[i] = nli1(p.exp, d)
    S = 0
    for v in e:
        S += v
    Fe, Fs, Fr, Fo = p.e_fmt.frac_bits, p.s_fmt.frac_bits, p.r_fmt.frac_bits, p.out_fmt.frac_bits
    k = S.bit_length() - 1 - Fe
    s = trunc(S, Fe + k - Fs)
    assert 1 << Fs <= s < 2 << Fs
    r = nli1(p.reciprocal, s)
    if p.output_mode == "deferred":
        return e, r, k, False, False
    out, flag = [0] * len(row), False
    for i in live:
        raw = rnd(e[i] * r, Fe + Fr + k - Fo)
        out[i] = sat(raw, p.out_fmt)
        flag |= out[i] != raw
    return out, r, k, flag, False


def scalar_norm(p, row, w, b):
    """(outputs, rs, k, mean, sat) of one row, element by element."""
    n = len(row)
    Q = X = 0
    for v in row:
        Q += v * v
        X += v
    Fx, Fv, Fs = p.in_fmt.frac_bits, p.v_frac_bits, p.s_fmt.frac_bits
    Fn, Frn, Frs = p.reciprocal.layout.in_fmt.frac_bits, p.rn_fmt.frac_bits, p.rs_fmt.frac_bits
    Fg, Fw, Fo = p.scale_fmt.frac_bits, p.w_fmt.frac_bits, p.out_fmt.frac_bits
    j = n.bit_length() - 1
    rn = nli1(p.reciprocal, trunc(n, j - Fn))
    eps = rnd(int(Fraction(p.eps) * 2 ** 60), 60 - Fv)        # eps rounded once into v
    if p.kind == "rms":
        v = rnd(Q * rn, 2 * Fx + Frn + j - Fv) + eps
    else:
        N = n * Q - X * X
        G = p.guard_bits
        v = rnd(trunc(N, 2 * j - G) * rnd(rn * rn, Frn), 2 * Fx + G + Frn - Fv) + eps
    e = v.bit_length() - 1 - Fv
    k = e // 2
    s = trunc(v, Fv + 2 * k - Fs)
    assert 1 << Fs <= s < 4 << Fs
    rs = nli1(p.rsqrt, s)
    mean = 0
    if p.kind == "layer":
        mean = sat(rnd(X * rn, Frn + j - p.mean_extra_bits), p.mean_fmt)
    if p.output_mode == "deferred":
        return [0] * n, rs, k, mean, False
    out, flag = [], False
    for i, xv in enumerate(row):
        if p.kind == "rms":
            num, g, z, add = xv, rs, 0, 0
        else:
            num, g, z = n * xv - X, sat(rnd(rs * rn, Frs + Frn - Fg), p.scale_fmt), j
            add = b[i] * 2 ** (Fo - p.b_fmt.frac_bits)
        sh = Fx + Fg + Fw - Fo + k + z
        raw = rnd(num * g * w[i] + add * 2 ** sh, sh)
        out.append(sat(raw, p.out_fmt))
        flag |= out[-1] != raw
    return out, rs, k, mean, flag


# --- stimulus -------------------------------------------------------------------------------
def random_rows(rng, fmt, rows, cols, spread):
    x = rng.normal(0.0, spread, (rows, cols))
    x[rng.random((rows, cols)) < 0.02] *= 8                      # a few large entries
    return fmt.quantize(x)


def softmax_params(name, mode="normalized"):
    return softmax_preset(name, n_max=4096, output_mode=mode)


def norm_params(name, kind, mode="normalized"):
    return norm_preset(name, kind, n_max=4096, output_mode=mode)


# --- golden vs scalar -----------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["normalized", "deferred"])
@pytest.mark.parametrize("name", PRESETS)
def test_softmax_matches_scalar_model(name, mode):
    p = softmax_params(name, mode)
    rng = np.random.default_rng(SEED)
    cols = 70
    x = random_rows(rng, p.in_fmt, 24, cols, spread=3.0)
    lengths = rng.integers(0, cols + 1, 24)
    lengths[:3] = (1, cols, 0)
    mask = rng.random(x.shape) < 0.2
    mask[3] = True                                                  # fully masked row
    res = softmax_eval(p, x, mask=mask, lengths=lengths)
    for i in range(len(x)):
        n = int(lengths[i])
        out, r, k, flag, empty = scalar_softmax(p, [int(v) for v in x[i, :n]],
                                                [bool(v) for v in mask[i, :n]])
        assert res.out[i, :n].tolist() == out, f"row {i} (seed {SEED})"
        assert not res.out[i, n:].any()
        assert (int(res.r[i]), int(res.k[i]), bool(res.sat[i]), bool(res.empty[i])) == \
            (r, k, flag, empty), f"row {i}"


@pytest.mark.parametrize("mode", ["normalized", "deferred"])
@pytest.mark.parametrize("kind", ["rms", "layer"])
@pytest.mark.parametrize("name", PRESETS)
def test_norm_matches_scalar_model(name, kind, mode):
    p = norm_params(name, kind, mode)
    rng = np.random.default_rng(SEED + 1)
    cols = 60
    x = random_rows(rng, p.in_fmt, 20, cols, spread=p.in_fmt.max / 16)
    x[0] = 0
    x[1] = x[1, 0]
    lengths = rng.integers(1, cols + 1, 20)
    lengths[2] = 1
    w = p.w_fmt.quantize(1 + 0.3 * rng.normal(size=cols))
    b = p.b_fmt.quantize(0.5 * rng.normal(size=cols)) if kind == "layer" else None
    res = norm_eval(p, x, w, b, lengths=lengths)
    for i in range(len(x)):
        n = int(lengths[i])
        out, rs, k, mean, flag = scalar_norm(p, [int(v) for v in x[i, :n]],
                                             [int(v) for v in w[:n]],
                                             None if b is None else [int(v) for v in b[:n]])
        assert res.out[i, :n].tolist() == out, f"row {i} (seed {SEED + 1})"
        assert not res.out[i, n:].any()
        assert (int(res.scale[i]), int(res.k[i]), int(res.mean[i]), bool(res.sat[i])) == \
            (rs, k, mean, flag), f"row {i}"


def test_norm_saturation_flag_matches_scalar_model():
    """Rows that overflow the output: the flag and the clamped codes (int8, large weights)."""
    p = norm_params("int8", "rms")
    x = np.zeros((2, 256), dtype=np.int64)
    x[0, 0] = p.in_fmt.max_raw                       # a lone element: sqrt(256) w = 30 > 15.9
    x[1, :] = 3
    w = p.w_fmt.quantize(np.full(256, 1.9))
    res = norm_eval(p, x, w)
    for i in range(2):
        out, *_, flag = scalar_norm(p, [int(v) for v in x[i]], [int(v) for v in w], None)
        assert res.out[i].tolist() == out
        assert bool(res.sat[i]) == flag
    assert res.sat.tolist() == [True, False]
    assert res.out[0, 0] == p.out_fmt.max_raw


# --- float64 bounds derived from the formats and the tables' own errors -----------------------
@lru_cache(maxsize=None)
def table_error(name: str, func: str) -> float:
    """max |NLI(c) - f(c)| over every input code of the table's input format (the engine's
    accuracy, from the table alone)."""
    t = rowop_table(name, func)
    lay = t.layout
    codes = lay.in_fmt.codes()
    if func != "exp":
        codes = codes[lay.in_fmt.to_real(codes) >= 1.0]
    f = get_function(func)(lay.in_fmt.to_real(codes))
    err = float(np.max(np.abs(lay.out_fmt.to_real(nli_eval(t, codes)) - f)))
    if func == "exp":       # d below the format saturates: e^d < e^min there, the table gives 0
        err = max(err, math.exp(lay.in_fmt.min))
    return err


@lru_cache(maxsize=None)
def exp_error_by_code(name: str) -> np.ndarray:
    """|NLI_exp(d) - e^d| for every code d of the exp input format, indexed by d - min (the
    table's own error at each input, from the table alone)."""
    t = rowop_table(name, "exp")
    fin, fout = t.layout.in_fmt, t.layout.out_fmt
    codes = fin.codes()
    return np.abs(fout.to_real(nli_eval(t, codes)) - np.exp(fin.to_real(codes)))


def softmax_bound(p, name, x, mask, ref):
    """|p_hw - p_ref| <= 1 output LSB (the rounding, or p ~ 1 saturating)
    + err_i / S_lo + p dS / S_lo (e_i's own table error; S's error dS = sum of the row's e errors,
      S_hw >= S_lo = max(1, S - dS) as the row's max gives e = 1)
    + (p + err_i / S_lo + p dS / S_lo) (2^-F_s / (1 - 2^-F_s) + 2 eps_r) (s truncated; r's
      error relative to r >= 1/2).
    Entries whose d saturates (x - max below the exp input) have error e^d < e^min instead."""
    xr = p.in_fmt.to_real(x)
    valid = ~mask
    dr = xr - np.where(valid, xr, -np.inf).max(axis=1, keepdims=True)
    dcode = p.d_fmt.saturate(np.rint(dr / p.d_fmt.lsb).astype(np.int64))
    err = exp_error_by_code(name)[dcode - p.d_fmt.min_raw]
    err = np.where(dr < p.d_fmt.min, np.exp(p.d_fmt.min), err) * valid
    S = np.where(valid, np.exp(dr), 0.0).sum(axis=1, keepdims=True)
    dS = err.sum(axis=1, keepdims=True)
    S_lo = np.maximum(1.0, S - dS)
    delta = 2.0 ** -p.s_fmt.frac_bits / (1 - 2.0 ** -p.s_fmt.frac_bits) \
        + 2 * table_error(name, "reciprocal")
    first = err / S_lo + ref * dS / S_lo
    return p.out_fmt.lsb + first + (ref + first) * delta * 1.01 + 1e-15


@pytest.mark.parametrize("name", PRESETS)
def test_softmax_within_derived_bound_of_float64(name):
    p = softmax_params(name)
    rng = np.random.default_rng(SEED + 2)
    for cols in (1, 7, 300, 4096):
        x = random_rows(rng, p.in_fmt, 6, cols, spread=2.5)
        mask = rng.random(x.shape) < 0.1
        mask[:, 0] = False
        res = softmax_eval(p, x, mask=mask)
        ref = softmax_ref(p.in_fmt.to_real(x), mask=mask)
        err = np.abs(p.out_fmt.to_real(res.out) - ref)
        bound = softmax_bound(p, name, x, mask, ref)
        assert np.all(err <= bound), f"cols {cols}: worst excess {np.max(err - bound):.3g}"


def norm_bound(p, name, ref, w_real):
    """|y_hw - y_ref| <= 1/2 LSB (the one rounding) + |y_ref| delta, delta the relative error of
    the row's scale: half that of v (eps and the v rounding: 2^-F_v / v; 1/n: 2 eps_n, twice for
    layer's 1/n^2 plus rn2's rounding; layer's N truncation: 2^-(2F_x+G) / v) and of s's
    truncation (2^-F_s), plus rsqrt's 2 eps_rs; for layer also 1/n on c (2 eps_n) and the scale
    rounding (2^-F_g / (1/4)). Plus 1/2 LSB of b's alignment (none: exact)."""
    en, ers = table_error(name, "reciprocal"), table_error(name, "rsqrt")
    Fv, Fs = p.v_frac_bits, p.s_fmt.frac_bits
    lsb = p.out_fmt.lsb
    return lambda v: _norm_bound(p, v, ref, en, ers, Fv, Fs, lsb)


def _norm_bound(p, v, ref, en, ers, Fv, Fs, lsb):
    dv = 2.0 ** -Fv / v + (2 * en if p.kind == "rms" else 4 * en + 2.0 ** (1 - p.rn_fmt.frac_bits)
                           + 2.0 ** -(2 * p.in_fmt.frac_bits + p.guard_bits) / v)
    delta = 0.5 * (dv + 2.0 ** -Fs) + 2 * ers
    if p.kind == "layer":
        delta += 2 * en + 2.0 ** (2 - p.scale_fmt.frac_bits)
    return 0.5 * lsb + np.abs(ref) * delta * 1.05 + 1e-12


@pytest.mark.parametrize("kind", ["rms", "layer"])
@pytest.mark.parametrize("name", PRESETS)
def test_norm_within_derived_bound_of_float64(name, kind):
    p = norm_params(name, kind)
    rng = np.random.default_rng(SEED + 3)
    for cols in (1, 5, 333, 4096):
        x = random_rows(rng, p.in_fmt, 5, cols, spread=p.in_fmt.max / 12)
        w = p.w_fmt.quantize(1 + 0.2 * rng.normal(size=cols))
        b = p.b_fmt.quantize(0.3 * rng.normal(size=cols)) if kind == "layer" else None
        res = norm_eval(p, x, w, b)
        xr, wr = p.in_fmt.to_real(x), p.w_fmt.to_real(w)
        if kind == "rms":
            ref = rmsnorm_ref(xr, wr, p.eps)
            v = (xr * xr).mean(axis=1) + p.eps
        else:
            ref = layernorm_ref(xr, wr, p.b_fmt.to_real(b), p.eps)
            v = xr.var(axis=1) + p.eps
        ok = (ref > p.out_fmt.min) & (ref < p.out_fmt.max)          # unsaturated outputs
        err = np.abs(p.out_fmt.to_real(res.out) - ref)
        bound = _norm_bound(p, v[:, None], ref, table_error(name, "reciprocal"),
                            table_error(name, "rsqrt"), p.v_frac_bits, p.s_fmt.frac_bits,
                            p.out_fmt.lsb)
        assert np.all(err[ok] <= bound[ok]), \
            f"cols {cols}: worst excess {np.max((err - bound)[ok]):.3g}"
        clipped = np.where(ref >= p.out_fmt.max, p.out_fmt.max_raw, p.out_fmt.min_raw)
        assert np.all(res.out[~ok] == clipped[~ok])


# --- edge cases -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", PRESETS)
def test_softmax_edge_cases(name):
    p = softmax_params(name)
    lsb = p.out_fmt.lsb
    x = np.zeros((5, 16), dtype=np.int64)
    x[0] = p.in_fmt.quantize(1.5)                         # equal values: 1/16 each
    x[1] = p.in_fmt.quantize(-2.0)
    x[1, 5] = p.in_fmt.max_raw                            # one huge element: one-hot, saturated
    x[2] = p.in_fmt.quantize(np.linspace(-3, 3, 16))
    mask = np.zeros(x.shape, dtype=bool)
    mask[2, ::2] = True                                   # masked entries contribute 0
    mask[3] = True                                        # fully masked row: zeros, empty
    lengths = np.array([16, 16, 16, 16, 1])               # a row of length 1: p = 1 (saturated)
    res = softmax_eval(p, x, mask=mask, lengths=lengths)
    p_real = p.out_fmt.to_real(res.out)
    assert np.all(np.abs(p_real[0] - 1 / 16) <= lsb) and len(set(res.out[0].tolist())) == 1
    assert res.out[1, 5] == p.out_fmt.max_raw and res.sat[1]
    assert not np.delete(res.out[1], 5).any()
    assert not res.out[2, ::2].any()
    ref2 = softmax_ref(p.in_fmt.to_real(x[2:3, 1::2]))[0]
    assert np.all(np.abs(p_real[2, 1::2] - ref2) <= 3 * lsb)
    assert not res.out[3].any() and res.empty.tolist() == [False, False, False, True, False]
    assert (res.r[3], res.k[3]) == (0, 0)
    assert res.out[4, 0] == p.out_fmt.max_raw and res.sat[4] and not res.out[4, 1:].any()
    assert not res.sat[0] and not res.sat[2]
    # torch gives NaN on the fully masked row; the unit gives zeros (stated in golden.py)
    assert np.all(np.isnan(softmax_ref(p.in_fmt.to_real(x[3:4]), mask=mask[3:4])))


@pytest.mark.parametrize("name", PRESETS)
def test_softmax_deferred_folds_to_normalized(name):
    """Deferred mode's e and (r, k): e r 2^-k rounded once is exactly the normalized p."""
    pn, pd = softmax_params(name), softmax_params(name, "deferred")
    rng = np.random.default_rng(SEED + 4)
    x = random_rows(rng, pn.in_fmt, 8, 200, 2.0)
    a, d = softmax_eval(pn, x), softmax_eval(pd, x)
    sh = pn.e_fmt.frac_bits + pn.r_fmt.frac_bits + d.k
    folded = pn.out_fmt.quantize(np.ldexp((d.out * d.r[:, None]).astype(float), -sh[:, None]))
    assert np.array_equal(folded, a.out)


@pytest.mark.parametrize("kind", ["rms", "layer"])
@pytest.mark.parametrize("name", PRESETS)
def test_norm_edge_cases(name, kind):
    p = norm_params(name, kind)
    cols = 32
    rng = np.random.default_rng(SEED + 5)
    w = p.w_fmt.quantize(1 + 0.2 * rng.normal(size=cols))
    b = p.b_fmt.quantize(0.5 * rng.normal(size=cols)) if kind == "layer" else None
    x = np.zeros((4, cols), dtype=np.int64)               # row 0: all zeros
    x[1] = p.in_fmt.quantize(1.25)                        # equal values
    x[2] = p.in_fmt.quantize(0.01 * rng.normal(size=cols))
    x[2, 7] = p.in_fmt.max_raw                            # one huge element
    x[3, 0] = p.in_fmt.quantize(-2.5)                     # length 1
    lengths = np.array([cols, cols, cols, 1])
    res = norm_eval(p, x, w, b, lengths=lengths)
    lsb = p.out_fmt.lsb
    y = p.out_fmt.to_real(res.out)
    wr = p.w_fmt.to_real(w)
    if kind == "rms":
        assert not res.out[0].any()                                   # zeros stay 0
        assert np.all(np.abs(y[1] - wr * 1.25 / math.sqrt(1.25 ** 2 + p.eps)) <= lsb)
        assert np.all(np.abs(y[3, 0] - (-wr[0]) * 2.5 / math.sqrt(6.25 + p.eps)) <= lsb)
        ref = rmsnorm_ref(p.in_fmt.to_real(x[2:3]), wr, p.eps)[0]
    else:
        assert np.array_equal(res.out[0], b << (p.out_fmt.frac_bits - p.b_fmt.frac_bits))
        assert np.array_equal(res.out[1], b << (p.out_fmt.frac_bits - p.b_fmt.frac_bits))
        assert res.out[3, 0] == b[0] << (p.out_fmt.frac_bits - p.b_fmt.frac_bits)
        ref = layernorm_ref(p.in_fmt.to_real(x[2:3]), wr, p.b_fmt.to_real(b), p.eps)[0]
    assert abs(y[2, 7] - ref[7]) <= 0.01 * abs(ref[7]) + lsb      # ~sqrt(n) w, unsaturated
    assert not res.out[3, 1:].any()
    assert not res.sat.any()


@pytest.mark.parametrize("kind", ["rms", "layer"])
def test_norm_deferred_gives_scale_and_shift(kind):
    """Deferred mode: (x - mean) rs 2^-k w + b within the rounding of the normalized output."""
    pn, pd = norm_params("int16", kind), norm_params("int16", kind, "deferred")
    rng = np.random.default_rng(SEED + 6)
    x = random_rows(rng, pn.in_fmt, 6, 256, 2.0)
    w = pn.w_fmt.quantize(1 + 0.2 * rng.normal(size=256))
    b = pn.b_fmt.quantize(0.3 * rng.normal(size=256)) if kind == "layer" else None
    a, d = norm_eval(pn, x, w, b), norm_eval(pd, x, w, b)
    assert np.array_equal(a.scale, d.scale) and np.array_equal(a.k, d.k)
    scale = np.ldexp(pd.rs_fmt.to_real(d.scale), -d.k)[:, None]
    shift = pd.mean_fmt.to_real(d.mean)[:, None] if kind == "layer" else 0.0
    y = (pd.in_fmt.to_real(x) - shift) * scale * pd.w_fmt.to_real(w)
    if kind == "layer":
        y = y + pd.b_fmt.to_real(b)
    assert np.max(np.abs(y - pn.out_fmt.to_real(a.out))) <= 4 * pn.out_fmt.lsb


# --- parameters -------------------------------------------------------------------------------
def _one_line(excinfo, *words):
    msg = str(excinfo.value)
    assert "\n" not in msg
    for w in words:
        assert w in msg, msg


BAD_SOFTMAX = [
    (dict(n_max=0), "n_max"),
    (dict(n_max=True), "n_max"),
    (dict(lanes=3), "lanes"),
    (dict(lanes=8192, n_max=4096), "lanes"),
    (dict(output_mode="lazy"), "output_mode"),
    (dict(in_fmt="u6.10"), "in_fmt"),
    (dict(in_fmt="s6.11"), "exp"),                   # d no longer exact in the exp input
    (dict(out_fmt="s1.15"), "out_fmt"),
    (dict(out_fmt="bogus"), "out_fmt"),
    (dict(out_fmt="fp16"), "out_fmt"),
    (dict(top_name="module"), "top_name"),
    (dict(rounding="up"), "rounding"),
]


@pytest.mark.parametrize("change,word", BAD_SOFTMAX)
def test_bad_softmax_params(change, word):
    with pytest.raises(ParamsError) as ei:
        softmax_preset("int16", **change)
    _one_line(ei, word)


def test_softmax_tables_are_checked():
    with pytest.raises(ParamsError) as ei:
        softmax_preset("int16", exp=rowop_table("int16", "rsqrt"))
    _one_line(ei, "exp")
    with pytest.raises(ParamsError) as ei:
        softmax_preset("int16", reciprocal=rowop_table("int16", "exp"))
    _one_line(ei, "reciprocal")
    with pytest.raises(ParamsError) as ei:
        softmax_preset("int16", exp="not a table")
    _one_line(ei, "exp")


def test_softmax_exp_table_must_give_zero_below_its_domain():
    """A table whose left tail clamps to e^-R != 0 would give masked-looking entries weight."""
    from nlihw.luts.rowop_tables import RowopTableSpec
    t = RowopTableSpec("exp", "s5.3", "u1.11", 11, 8, (-4.0, 0.0), preset="x",
                       tails=("clamp", "clamp")).fit()
    assert int(nli_eval(t, np.array([-128]))[0]) != 0
    with pytest.raises(ParamsError) as ei:
        softmax_preset("int8", exp=t)
    _one_line(ei, "exp", "0 below")


BAD_NORM = [
    (dict(kind="batch"), "kind"),
    (dict(n_max=-1), "n_max"),
    (dict(lanes=6), "lanes"),
    (dict(output_mode=""), "output_mode"),
    (dict(eps=0.0), "eps"),
    (dict(eps=float("nan")), "eps"),
    (dict(eps=1e-12), "eps"),                        # rounds to 0 in v
    (dict(in_fmt="u8.8"), "in_fmt"),
    (dict(w_fmt="u3.13"), "w_fmt"),
    (dict(b_fmt="s8.8"), "b_fmt"),                   # rms has no bias
    (dict(scale_fmt="u1.11"), "scale_fmt"),          # rms: must be rsqrt's output
    (dict(v_frac_bits=99), "v_frac_bits"),
    (dict(n_max=1 << 17), "n_max"),                  # beyond the limit
    (dict(top_name="9lives"), "top_name"),
]


@pytest.mark.parametrize("change,word", BAD_NORM)
def test_bad_norm_params(change, word):
    kw = dict(kind="rms")
    kw.update(change)
    kind = kw.pop("kind")
    with pytest.raises(ParamsError) as ei:
        if kind in ("rms", "layer"):
            norm_preset("int16", kind, **kw)
        else:
            NormParams(kind=kind, n_max=64, in_fmt="s8.8", out_fmt="s8.8", w_fmt="s3.13",
                       reciprocal=rowop_table("int16", "reciprocal"),
                       rsqrt=rowop_table("int16", "rsqrt"))
    _one_line(ei, word)


def test_bad_layer_params():
    with pytest.raises(ParamsError) as ei:
        norm_preset("int8", "layer", n_max=8192)         # n not exact in the reciprocal's u1.11
    _one_line(ei, "n_max", "u1.11")
    with pytest.raises(ParamsError) as ei:
        norm_preset("int16", "layer", b_fmt="s4.12")     # finer than the output: not exact
    _one_line(ei, "b_fmt")
    with pytest.raises(ParamsError) as ei:
        norm_preset("int16", "layer", b_fmt=None)
    _one_line(ei, "b_fmt")
    with pytest.raises(ParamsError) as ei:
        norm_preset("int16", "layer", w_fmt="s16.16")    # product beyond 63 bits
    _one_line(ei, "product")
    with pytest.raises(ParamsError) as ei:
        norm_preset("int16", "rms", rsqrt=rowop_table("int16", "reciprocal"))
    _one_line(ei, "rsqrt")


def test_presets_and_widths():
    for name in PRESETS:
        s = softmax_preset(name)
        assert s.n_max == 4096 and s.acc_fmt.int_bits == 13
        assert s.p_shift_min >= 1 and s.product_width <= 36
        for kind in ("rms", "layer"):
            q = norm_preset(name, kind)
            assert q.product_width <= 63 and q.y_shift_min >= 1 and q.eps_code >= 1
    with pytest.raises(ParamsError) as ei:
        softmax_preset("int4")
    _one_line(ei, "int4")


def test_golden_input_checks():
    p = softmax_params("int8")
    with pytest.raises(ParamsError):
        softmax_eval(p, np.array([[1000]]))                 # outside s5.3
    with pytest.raises(ParamsError):
        softmax_eval(p, np.zeros((1, 5000), dtype=np.int64))
    q = norm_params("int8", "rms")
    with pytest.raises(ParamsError):
        norm_eval(q, np.zeros((2, 4), dtype=np.int64), np.zeros(4, dtype=np.int64), lengths=[0, 4])


# --- the accuracy module's float emulation -----------------------------------------------------
@pytest.mark.parametrize("name", PRESETS)
def test_emulation_with_every_approximation_is_the_golden_model(name):
    """The error budget's float64 emulation, every approximation applied, is bit-exact with the
    golden model (so its "exact X" rows measure X alone)."""
    rng = np.random.default_rng(SEED + 7)
    p = softmax_params(name)
    x, mask = attention_rows(rng, 6, 512, 64, "causal")
    y = p.out_fmt.to_real(softmax_eval(p, p.in_fmt.quantize(x), mask=mask).out)
    assert np.array_equal(emulate_softmax(p, x, mask), y)
    x, _ = attention_rows(rng, 6, 512, 64, "outliers")
    y = p.out_fmt.to_real(softmax_eval(p, p.in_fmt.quantize(x)).out)
    assert np.array_equal(emulate_softmax(p, x), y)
    for kind in ("rms", "layer"):
        q = norm_params(name, kind)
        x, _ = hidden_rows(rng, 4, 1000, q.in_fmt)
        w = 1 + 0.2 * rng.normal(size=1000)
        b = 0.1 * rng.normal(size=1000) if kind == "layer" else None
        y = q.out_fmt.to_real(norm_eval(q, q.in_fmt.quantize(x), q.w_fmt.quantize(w),
                                        None if b is None else q.b_fmt.quantize(b)).out)
        assert np.array_equal(emulate_norm(q, x, w, b), y)
