"""The selective-scan golden model against an independent scalar model (plain Python integers and
fractions, one beat at a time), plus its chunking, sticky-flag and validation properties."""
import math
from fractions import Fraction

import numpy as np
import pytest

from nlihw.errors import ParamsError
from nlihw.hdl.scan.params import preset
from nlihw.luts.golden import nli_eval
from nlihw.sim.scan.golden import ScanConfig, ScanInputsRaw, scan_eval


def rnd(num: int, shift: int, mode: str) -> int:
    """num / 2**shift rounded by ``mode``, from the definitions (exact rationals)."""
    q = Fraction(num, 2 ** shift) if shift >= 0 else Fraction(num * 2 ** -shift)
    fl = math.floor(q)
    rem = q - fl
    if mode == "floor":
        return fl
    if mode == "toward-zero":
        return fl if q >= 0 or rem == 0 else fl + 1
    if rem != Fraction(1, 2):
        return fl + (rem > Fraction(1, 2))
    if mode == "nearest-away":
        return fl + (q > 0)
    return fl + (fl % 2)                                        # nearest-even


def rng_of(fmt):
    w = fmt.int_bits + fmt.frac_bits
    return (-(1 << (w - 1)), (1 << (w - 1)) - 1) if fmt.signed else (0, (1 << w) - 1)


def sat(v, fmt):
    lo, hi = rng_of(fmt)
    return min(max(v, lo), hi), not lo <= v <= hi


def scalar_model(p, cfg, run):
    """One beat at a time, in token-major order, exactly as the datapath table describes it."""
    mode = p.rounding.value
    fb = lambda f: f.frac_bits                                  # noqa: E731
    T, Dn, N = run.u.shape[0], p.d_inner, p.d_state
    h = [[0] * N for _ in range(Dn)]
    outs, flags, clamps, sticky, sticky_c = [], [], [], False, False
    events = {k: np.zeros((T, Dn), dtype=bool) for k in ("x", "w", "dtu", "dBu", "h", "y", "yd", "out", "clamped")}

    def ev(name, hit):
        events[name][l, d] |= bool(hit)
        return bool(hit)
    nli = lambda t, x: int(nli_eval(t, [x])[0])                  # noqa: E731  (the engine's spec)
    for l in range(T):
        for d in range(Dn):
            flag = False
            hd = d // p.headdim
            src = d if p.mode == "mamba1" else hd * p.headdim
            bias = int(cfg.bias[d if p.mode == "mamba1" else hd])
            x_raw = int(run.delta[l, src]) + bias
            x, f = sat(x_raw, p.delta_fmt)
            flag |= ev("x", f and x_raw > 0)          # above: overflow; below: clamped
            sticky_c |= ev("clamped", f and x_raw < 0)
            dt = nli(p.softplus, x)
            dtu, f = sat(rnd(dt * int(run.u[l, d]), fb(p.dt_fmt) + fb(p.u_fmt) - fb(p.dtu_fmt), mode), p.dtu_fmt)
            flag |= ev("dtu", f)
            acc = 0
            if run.first[l, d]:
                h[d] = [0] * N
            for n in range(N):
                a = int(cfg.A[d, n]) if p.mode == "mamba1" else int(cfg.A[hd])
                w_raw = rnd(dt * a, fb(p.dt_fmt) + fb(p.a_fmt) - fb(p.w_fmt), mode)
                w, _ = sat(w_raw, p.w_fmt)
                flag |= ev("w", w_raw > rng_of(p.w_fmt)[1])
                dA, _ = sat(rnd(nli(p.exp, w), fb(p.da_fmt) - fb(p.dam_fmt), mode), p.dam_fmt)
                dbu, f = sat(rnd(dtu * int(run.B[l, n]), fb(p.dtu_fmt) + fb(p.b_fmt) - fb(p.state_fmt), mode),
                             p.state_fmt)
                flag |= ev("dBu", f)
                h[d][n], f = sat(rnd(dA * h[d][n], fb(p.dam_fmt), mode) + dbu, p.state_fmt)
                flag |= ev("h", f)
                acc += int(run.C[l, n]) * h[d][n]
            y, f = sat(rnd(acc, fb(p.c_fmt) + fb(p.state_fmt) - fb(p.y_fmt), mode), p.y_fmt)
            flag |= ev("y", f)
            du = rnd(int(cfg.D[d]) * int(run.u[l, d]), fb(p.d_fmt) + fb(p.u_fmt) - fb(p.y_fmt), mode)
            yd, f = sat(y + du, p.y_fmt)
            flag |= ev("yd", f)
            if p.gate:
                g = nli(p.silu, int(run.z[l, d]))
                o = rnd(yd * g, fb(p.y_fmt) + fb(p.g_fmt) - fb(p.out_fmt), mode)
            else:
                o = rnd(yd, fb(p.y_fmt) - fb(p.out_fmt), mode)
            o, f = sat(o, p.out_fmt)
            sticky |= flag | ev("out", f)
            outs.append(o)
            flags.append(sticky)
            clamps.append(sticky_c)
    return outs, flags, clamps, h, events


def random_case(p, T, seed, wide=False):
    """Raw inputs: Mamba-like magnitudes, or (``wide``) anywhere in the formats to hit saturation."""
    rng = np.random.default_rng(seed)

    def draw(fmt, shape, scale):
        lo, hi = rng_of(fmt)
        if wide:
            return rng.integers(lo, hi + 1, shape)
        return np.clip(np.round(rng.standard_normal(shape) * scale / fmt.lsb), lo, hi).astype(np.int64)

    a_shape = (p.d_inner, p.d_state) if p.mode == "mamba1" else (p.n_heads,)
    A = -np.clip(np.round(rng.uniform(0.5, 16, a_shape) / p.a_fmt.lsb), 1, None).astype(np.int64)
    if wide:                        # A > 0 is not Mamba, but the hardware must flag what it does
        A = draw(p.a_fmt, a_shape, 0)
    cfg = ScanConfig(A=A, D=draw(p.d_fmt, (p.d_inner,), 1.0),
                     bias=draw(p.delta_fmt, (p.bias_count,), 2.0) - int(3 / p.delta_fmt.lsb) * (not wide))
    run = ScanInputsRaw(u=draw(p.u_fmt, (T, p.d_inner), 1.0), delta=draw(p.delta_fmt, (T, p.d_inner), 0.5),
                        z=draw(p.z_fmt, (T, p.d_inner), 1.0), first=rng.random((T, p.d_inner)) < 0.15,
                        B=draw(p.b_fmt, (T, p.d_state), 1.0), C=draw(p.c_fmt, (T, p.d_state), 1.0))
    # Mamba-2: delta is per head; the other channels carry values the unit must ignore
    return cfg, run


CASES = [
    ("int8", dict(d_inner=3, d_state=4), "nearest-even", True),
    ("int8", dict(d_inner=4, d_state=4, mode="mamba2", headdim=2), "floor", True),
    ("int8", dict(d_inner=2, d_state=2), "toward-zero", False),
    ("int16", dict(d_inner=2, d_state=4), "nearest-away", True),
    ("int16", dict(d_inner=4, d_state=2, mode="mamba2", headdim=4), "nearest-even", False),
]


@pytest.mark.parametrize("name,kw,rounding,gate", CASES)
@pytest.mark.parametrize("wide", [False, True])
def test_matches_scalar_model(name, kw, rounding, gate, wide):
    p = preset(name, **kw, rounding=rounding, gate=gate)
    cfg, run = random_case(p, 7, seed=len(name) + 3 * wide, wide=wide)
    res = scan_eval(p, cfg, run)
    outs, flags, clamps, h, events = scalar_model(p, cfg, run)
    assert res.out.reshape(-1).tolist() == outs
    assert res.overflow.reshape(-1).tolist() == flags
    assert res.clamped.reshape(-1).tolist() == clamps
    assert res.state.tolist() == h
    assert np.array_equal(res.stages["clamped"], events.pop("clamped"))
    for name, hits in events.items():
        assert np.array_equal(res.stages["events"].get(name, np.zeros_like(hits)), hits), name
    if wide:
        assert any(flags)                   # the wide case really exercises saturation


def test_every_saturation_is_exercised():
    """Across the wide cases, each saturation point fires somewhere (so the checks above bite)."""
    seen = set()
    for name, kw, rounding, gate in CASES:
        p = preset(name, **kw, rounding=rounding, gate=gate)
        for seed in range(3):
            cfg, run = random_case(p, 7, seed=seed, wide=True)
            res = scan_eval(p, cfg, run)
            seen |= {k for k, v in res.stages["events"].items() if v.any()}
            seen |= {"clamped"} if res.stages["clamped"].any() else set()
    assert seen == {"x", "w", "dtu", "dBu", "h", "y", "yd", "out", "clamped"}


def test_chunks_equal_the_whole():
    p = preset("int16", d_inner=3, d_state=4)
    cfg, run = random_case(p, 10, seed=1)
    whole = scan_eval(p, cfg, run)
    cut = 6
    part = lambda sl: ScanInputsRaw(**{k: v[sl] for k, v in run.__dict__.items()})  # noqa: E731
    a = scan_eval(p, cfg, part(slice(0, cut)))
    b = scan_eval(p, cfg, part(slice(cut, None)), initial_state=a.state, sticky=a.overflow[-1, -1],
                  sticky_clamped=a.clamped[-1, -1])
    assert np.array_equal(np.concatenate([a.out, b.out]), whole.out)
    assert np.array_equal(np.concatenate([a.overflow, b.overflow]), whole.overflow)
    assert np.array_equal(np.concatenate([a.clamped, b.clamped]), whole.clamped)
    assert np.array_equal(b.state, whole.state)


def test_first_clears_the_state():
    p = preset("int8", d_inner=2, d_state=2)
    cfg, run = random_case(p, 6, seed=2)
    first = np.zeros_like(run.first)
    first[0] = first[3] = True
    full = scan_eval(p, cfg, ScanInputsRaw(**{**run.__dict__, "first": first}))
    tail = scan_eval(p, cfg, ScanInputsRaw(**{k: v[3:] for k, v in {**run.__dict__, "first": first}.items()}))
    assert np.array_equal(full.out[3:], tail.out)


def test_bad_inputs_are_refused():
    p = preset("int8", d_inner=2, d_state=2)
    cfg, run = random_case(p, 3, seed=0)
    with pytest.raises(ParamsError, match="input u"):
        scan_eval(p, cfg, ScanInputsRaw(**{**run.__dict__, "u": run.u[:, :1]}))
    with pytest.raises(ParamsError, match="config A"):
        scan_eval(p, ScanConfig(A=cfg.A[:1], D=cfg.D, bias=cfg.bias), run)
    with pytest.raises(ParamsError, match="input B"):
        scan_eval(p, cfg, ScanInputsRaw(**{**run.__dict__, "B": run.B + 10_000}))


@pytest.mark.parametrize("name", ["int16", "int8"])
def test_clamped_dt_error_is_bounded(name):
    """What the clamped flag promises: delta + bias below delta_fmt changes dt by at most
    softplus(lowest code) (plus the table's error), however far below it is (not an overflow)."""
    p = preset(name, d_inner=1, d_state=2)
    lo = p.delta_fmt.min_raw
    x = np.array([-4.0, -20.0, -500.0]) + lo * p.delta_fmt.lsb           # reals below the format
    cfg = ScanConfig(A=-np.ones((1, 2), dtype=np.int64), D=np.zeros(1, dtype=np.int64),
                     bias=np.array([lo]))
    z = np.zeros((3, 1), dtype=np.int64)
    run = ScanInputsRaw(u=z, delta=np.full((3, 1), -1), z=z, first=np.ones((3, 1), bool),
                        B=np.zeros((3, 2), dtype=np.int64), C=np.zeros((3, 2), dtype=np.int64))
    res = scan_eval(p, cfg, run)
    assert res.stages["clamped"].all() and not res.overflow.any()
    dt = p.dt_fmt.to_real(res.stages["dt"][:, 0])
    bound = np.log1p(np.exp(lo * p.delta_fmt.lsb)) + 2 * p.dt_fmt.lsb
    assert np.all(np.abs(dt - np.log1p(np.exp(x))) <= bound)
