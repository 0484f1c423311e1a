"""The float64 selective-scan reference and its stimulus: hand-derived values, closed forms,
state carry-over, Mamba-2 as broadcast Mamba-1, argument validation."""
import itertools
import math

import numpy as np
import pytest

from nlihw.errors import NlihwError
from nlihw.sim.scan.reference import inverse_softplus, selective_scan_ref, silu, softplus
from nlihw.sim.scan.stimulus import mamba_inputs

LN2, LN3 = math.log(2.0), math.log(3.0)


# ---------------------------------------------------------------- independent scalar statement

def scalar_softplus(x):
    return math.log1p(math.exp(x)) if x <= 0 else x + math.log1p(math.exp(-x))


def scalar_silu(x):
    sig = 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))
    return x * sig


def scalar_scan(u, delta, A, B, C, D, z, bias, use_softplus, h0, headdim=None):
    """The scan from its written formulas, one channel, state and token at a time (nested lists).

    headdim=None: A[d][n], delta[d][l], bias[d]. Otherwise channel d is in head d // headdim and
    A[head], delta[head][l], bias[head]; D is indexed by channel if it has one entry per channel.
    """
    n_ch, length, n_state = len(u), len(u[0]), len(B)
    out = [[0.0] * length for _ in range(n_ch)]
    last = []
    for d in range(n_ch):
        g = d if headdim is None else d // headdim
        h = [0.0 if h0 is None else h0[d][n] for n in range(n_state)]
        for l in range(length):
            x = delta[g][l] + (0.0 if bias is None else bias[g])
            dt = scalar_softplus(x) if use_softplus else x
            acc = 0.0
            for n in range(n_state):
                a = A[d][n] if headdim is None else A[g]
                h[n] = math.exp(dt * a) * h[n] + dt * B[n][l] * u[d][l]
                acc += C[n][l] * h[n]
            if D is not None:
                acc += D[d if len(D) == n_ch else g] * u[d][l]
            if z is not None:
                acc *= scalar_silu(z[d][l])
            out[d][l] = acc
        last.append(h)
    return out, last


# ---------------------------------------------------------------- literal, hand-derived cases

def test_literal_softplus_bias_d_z_two_tokens():
    """delta + bias = 0 gives dt = ln 2; A = -1 gives dA = 1/2. u = (1, 2), B = 1, C = (1, 3):
    h1 = ln2, h2 = ln2/2 + 2 ln2 = 2.5 ln2; y = (ln2, 7.5 ln2). D = 0.5 adds (0.5, 1).
    silu(ln 3) = ln3 * 3/4, silu(-ln 3) = -ln3 / 4."""
    out, last = selective_scan_ref(
        u=[[1.0, 2.0]], delta=[[0.25, -0.5]], A=[[-1.0]], B=[[1.0, 1.0]], C=[[1.0, 3.0]],
        D=[0.5], z=[[LN3, -LN3]], delta_bias=[-0.25], delta_softplus=True,
        return_last_state=True)
    # delta + bias = (0, -0.75) on purpose for token 2: dt2 = softplus(-0.75).
    dt2 = math.log1p(math.exp(-0.75))
    h1 = LN2
    h2 = math.exp(-dt2) * h1 + dt2 * 2.0
    expect = [(h1 + 0.5) * 0.75 * LN3, (3.0 * h2 + 1.0) * (-0.25 * LN3)]
    np.testing.assert_allclose(out, [expect], rtol=1e-15)
    np.testing.assert_allclose(last, [[h2]], rtol=1e-15)


def test_literal_no_softplus_initial_state():
    """dt = 0.25 + 0.25 = 0.5 raw; A = -2 ln2 gives dA = exp(-ln2) = 1/2 for both states.
    h0 = (4, -8); u = 2, B = (1, 3): dBu = (1, 3). h1 = (3, -1), h2 = (2.5, 2.5).
    C = (1, 1) then (2, -1): y = (2, 2.5). No D, no z."""
    out, last = selective_scan_ref(
        u=[[2.0, 2.0]], delta=[[0.25, 0.25]], A=[[-2 * LN2, -2 * LN2]],
        B=[[1.0, 1.0], [3.0, 3.0]], C=[[1.0, 2.0], [1.0, -1.0]], delta_bias=[0.25],
        delta_softplus=False, initial_state=[[4.0, -8.0]], return_last_state=True)
    np.testing.assert_allclose(out, [[2.0, 2.5]], rtol=1e-14)
    np.testing.assert_allclose(last, [[2.5, 2.5]], rtol=1e-14)


def _hand_inputs(mode, length, seed=5):
    """Small inputs as nested lists: D_inner 4, N 3; Mamba-2 has 2 heads of 2 channels."""
    rng = np.random.default_rng(seed)
    d_inner, n_state = 4, 3
    groups = d_inner if mode == "mamba1" else 2
    r = lambda *shape: rng.standard_normal(shape).tolist()  # noqa: E731
    return dict(
        u=r(d_inner, length), z=r(d_inner, length), B=r(n_state, length), C=r(n_state, length),
        delta=rng.uniform(0.05, 0.6, (groups, length)).tolist(),
        A=(-rng.uniform(0.2, 3.0, (d_inner, n_state))).tolist() if mode == "mamba1"
        else (-rng.uniform(0.2, 3.0, groups)).tolist(),
        D=rng.uniform(0.5, 1.5, d_inner).tolist(), bias=rng.uniform(-0.3, 0.3, groups).tolist(),
        h0=r(d_inner, n_state), headdim=None if mode == "mamba1" else 2)


OPTION_NAMES = ("z", "D", "delta_bias", "delta_softplus", "initial_state", "return_last_state")


@pytest.mark.parametrize("mode", ["mamba1", "mamba2"])
@pytest.mark.parametrize("length", [1, 2])
def test_every_option_against_scalar_loops(mode, length):
    """All 64 on/off combinations of the options (one loop, so the suite stays fast)."""
    p = _hand_inputs(mode, length)
    for flags in itertools.product([False, True], repeat=6):
        use_z, use_d, use_bias, use_softplus, use_h0, want_last = flags
        what = f"{mode} L={length} " + ", ".join(
            f"{n}={'on' if f else 'off'}" for n, f in zip(OPTION_NAMES, flags))
        D = p["D"] if use_d else None
        z = p["z"] if use_z else None
        bias = p["bias"] if use_bias else None
        h0 = p["h0"] if use_h0 else None
        exp_out, exp_last = scalar_scan(p["u"], p["delta"], p["A"], p["B"], p["C"], D, z, bias,
                                        use_softplus, h0, headdim=p["headdim"])
        got = selective_scan_ref(p["u"], p["delta"], p["A"], p["B"], p["C"], D, z, bias,
                                 delta_softplus=use_softplus, initial_state=h0,
                                 return_last_state=want_last, headdim=p["headdim"])
        if want_last:
            out, last = got
            np.testing.assert_allclose(last, exp_last, rtol=1e-13, atol=1e-15, err_msg=what)
        else:
            assert isinstance(got, np.ndarray), what
            out = got
        assert out.dtype == np.float64 and out.shape == (4, length), what
        np.testing.assert_allclose(out, exp_out, rtol=1e-13, atol=1e-15, err_msg=what)


def test_mamba2_d_per_head_against_scalar_loops():
    p = _hand_inputs("mamba2", 2)
    d_head = [0.7, 1.9]
    exp_out, _ = scalar_scan(p["u"], p["delta"], p["A"], p["B"], p["C"], d_head, p["z"],
                             p["bias"], True, None, headdim=2)
    got = selective_scan_ref(p["u"], p["delta"], p["A"], p["B"], p["C"], d_head, p["z"],
                             p["bias"], headdim=2)
    np.testing.assert_allclose(got, exp_out, rtol=1e-13, atol=1e-15)


# ---------------------------------------------------------------- closed forms

def test_constant_inputs_geometric_series():
    """Constant dt, u, B, C per channel: h_L = dA^L h0 + dBu (1 - dA^L) / (1 - dA), and
    out_L = (sum_n C_n h_L,n + D u) silu(z)."""
    d_inner, n_state, length = 3, 4, 1000
    dt = [0.01, 0.05, 0.2]                  # raw dt (delta_softplus off), via delta + bias
    u = [0.7, -1.3, 2.0]
    Bn, Cn = [1.0, -0.5, 0.25, 2.0], [0.3, 1.1, -0.8, 0.6]
    A = [[-(n + 1) * (0.5 + d) for n in range(n_state)] for d in range(d_inner)]
    h0 = [[0.1 * (d - n) for n in range(n_state)] for d in range(d_inner)]
    D, zc = [1.0, 0.5, 2.0], 0.4
    out = selective_scan_ref(
        u=np.repeat(np.array(u)[:, None], length, 1),
        delta=np.full((d_inner, length), 0.005),
        A=A, B=np.repeat(np.array(Bn)[:, None], length, 1),
        C=np.repeat(np.array(Cn)[:, None], length, 1), D=D, z=np.full((d_inner, length), zc),
        delta_bias=[t - 0.005 for t in dt], delta_softplus=False, initial_state=h0)
    gate = zc / (1.0 + math.exp(-zc))
    for steps in (1, 2, 7, 100, 1000):
        for d in range(d_inner):
            y = 0.0
            for n in range(n_state):
                da = math.exp(dt[d] * A[d][n])
                dbu = dt[d] * Bn[n] * u[d]
                h = math.exp(steps * dt[d] * A[d][n]) * h0[d][n] \
                    + dbu * -math.expm1(steps * dt[d] * A[d][n]) / (1.0 - da)
                y += Cn[n] * h
            expect = (y + D[d] * u[d]) * gate
            assert math.isclose(out[d, steps - 1], expect, rel_tol=1e-12), (steps, d)


def test_zero_a_accumulates_linearly():
    """A = 0 means dA = 1: h_L = L dt u B (the geometric series' limit), y_L = L dt u sum(B C)."""
    length, dt = 64, softplus(0.3)
    out = selective_scan_ref(np.full((2, length), 1.5), np.full((2, length), 0.3), np.zeros((2, 3)),
                             np.full((3, length), 2.0), np.full((3, length), -0.5))
    steps = np.arange(1, length + 1)
    np.testing.assert_allclose(out, np.tile(steps * dt * 1.5 * 3 * (2.0 * -0.5), (2, 1)),
                               rtol=1e-13)


# ---------------------------------------------------------------- properties

@pytest.mark.parametrize("mode,headdim", [("mamba1", None), ("mamba2", 4)])
@pytest.mark.parametrize("n_sequences", [None, 3])
def test_split_sequence_carries_state(mode, headdim, n_sequences):
    length = 40
    s = mamba_inputs(8, 5, length, np.random.default_rng(11), mode=mode, headdim=headdim,
                     n_sequences=n_sequences)
    kw = s.kwargs()
    h0 = np.random.default_rng(12).standard_normal(s.u.shape[:-1] + (5,))
    whole, whole_last = selective_scan_ref(**kw, initial_state=h0, return_last_state=True)
    for cut in (0, 1, 17, length - 1, length):
        first = {k: v[..., :cut] if k in ("u", "delta", "z", "B", "C") else v for k, v in kw.items()}
        second = {k: v[..., cut:] if k in ("u", "delta", "z", "B", "C") else v
                  for k, v in kw.items()}
        out1, mid = selective_scan_ref(**first, initial_state=h0, return_last_state=True)
        out2, last = selective_scan_ref(**second, initial_state=mid, return_last_state=True)
        np.testing.assert_allclose(np.concatenate([out1, out2], axis=-1), whole, rtol=1e-12,
                                   atol=1e-14)
        np.testing.assert_allclose(last, whole_last, rtol=1e-12, atol=1e-14)


def test_batch_equals_each_sequence():
    s = mamba_inputs(6, 4, 9, np.random.default_rng(3), n_sequences=3)
    out, last = selective_scan_ref(**s.kwargs(), return_last_state=True)
    for b in range(3):
        kw = {k: v[b] if k in ("u", "delta", "z", "B", "C") else v for k, v in s.kwargs().items()}
        o, h = selective_scan_ref(**kw, return_last_state=True)
        np.testing.assert_array_equal(out[b], o)
        np.testing.assert_array_equal(last[b], h)


@pytest.mark.parametrize("d_per_head", [False, True])
def test_mamba2_equals_broadcast_mamba1(d_per_head):
    d_inner, n_state, headdim, length = 12, 5, 4, 30
    s = mamba_inputs(d_inner, n_state, length, np.random.default_rng(21), mode="mamba2",
                     headdim=headdim, n_sequences=2)
    n_heads = d_inner // headdim
    assert s.A.shape == (n_heads,)
    D = np.array([0.5, 1.0, 2.0]) if d_per_head else np.linspace(0.5, 2.0, d_inner)
    h0 = np.random.default_rng(22).standard_normal((2, d_inner, n_state))
    m2 = selective_scan_ref(s.u, s.delta, s.A, s.B, s.C, D, s.z, s.delta_bias, headdim=headdim,
                            initial_state=h0, return_last_state=True)
    # Mamba-1 inputs: every channel of head k gets head k's A (for every state), delta and bias.
    head_of = [c // headdim for c in range(d_inner)]
    A1 = np.array([[s.A[head_of[c]]] * n_state for c in range(d_inner)])
    delta1 = s.delta[:, head_of, :]
    bias1 = s.delta_bias[head_of]
    D1 = D[head_of] if d_per_head else D
    m1 = selective_scan_ref(s.u, delta1, A1, s.B, s.C, D1, s.z, bias1, initial_state=h0,
                            return_last_state=True)
    for a, b in zip(m2, m1):
        np.testing.assert_allclose(a, b, rtol=1e-14, atol=1e-16)
    # headdim inferred from A's length gives the same result.
    inferred = selective_scan_ref(s.u, s.delta, s.A, s.B, s.C, D, s.z, s.delta_bias,
                                  initial_state=h0)
    np.testing.assert_array_equal(inferred, m2[0])


def test_realistic_inputs_raise_no_float_warnings():
    s = mamba_inputs(16, 16, 50, np.random.default_rng(0))
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out = selective_scan_ref(**s.kwargs())
    assert np.all(np.isfinite(out))


# ---------------------------------------------------------------- helpers

@pytest.mark.parametrize("x", [-700.0, -30.0, -1.0, 0.0, 0.5, 30.0, 800.0])
def test_softplus(x):
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        got = float(softplus(x))
    assert math.isclose(got, scalar_softplus(x), rel_tol=2e-16)


@pytest.mark.parametrize("y", [1e-10, 1e-3, 0.1, math.log(2.0), 1.0, 30.0, 800.0])
def test_inverse_softplus(y):
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        x = float(inverse_softplus(y))
        # x is near ln(y) for tiny y, so x's rounding (|x| ulps) shows up relative in y.
        assert math.isclose(float(softplus(x)), y, rel_tol=1e-14)
    if y < 700:
        assert math.isclose(x, math.log(math.expm1(y)), rel_tol=1e-14, abs_tol=1e-16)


@pytest.mark.parametrize("y", [0.0, -1.0, math.inf, math.nan])
def test_inverse_softplus_rejects(y):
    with pytest.raises(ValueError, match="inverse_softplus"):
        inverse_softplus(y)


def test_silu():
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        got = silu([LN3, -LN3, 0.0, -800.0, 800.0, 2.5, -2.5])
    want = [0.75 * LN3, -0.25 * LN3, 0.0, 0.0, 800.0, 2.5 / (1 + math.exp(-2.5)),
            -2.5 * math.exp(-2.5) / (1 + math.exp(-2.5))]
    np.testing.assert_allclose(got, want, rtol=1e-15, atol=1e-300)


# ---------------------------------------------------------------- validation

def _valid(mode="mamba1", batched=False):
    s = mamba_inputs(4, 3, 5, np.random.default_rng(1), mode=mode,
                     headdim=2 if mode == "mamba2" else None, n_sequences=2 if batched else None)
    kw = {k: np.array(v) for k, v in s.kwargs().items() if isinstance(v, np.ndarray)}
    kw["delta_softplus"] = True
    if mode == "mamba2":
        kw["headdim"] = 2
    return kw


BAD = [
    ("u", "mamba1", dict(u=np.zeros(5))),
    ("u", "mamba1", dict(u=np.zeros((4, 5), dtype=complex))),
    ("u", "mamba1", dict(u=np.array([["a"] * 5] * 4))),
    ("delta", "mamba1", dict(delta=np.zeros((4, 6)))),
    ("A", "mamba1", dict(A=np.zeros((5, 3)))),
    ("A", "mamba1", dict(A=np.zeros((4, 3, 1)))),
    ("B", "mamba1", dict(B=np.zeros((4, 5)))),
    ("B", "mamba1", dict(B=np.full((3, 5), np.nan))),
    ("C", "mamba1", dict(C=np.zeros((3, 4)))),
    ("C", "mamba1", dict(C=np.full((3, 5), np.inf))),
    ("D", "mamba1", dict(D=np.ones(5))),
    ("z", "mamba1", dict(z=np.zeros((4, 4)))),
    ("delta_bias", "mamba1", dict(delta_bias=np.zeros(5))),
    ("initial_state", "mamba1", dict(initial_state=np.zeros((4, 4)))),
    ("headdim", "mamba1", dict(headdim=2)),
    ("delta_softplus", "mamba1", dict(delta_softplus="yes")),
    ("return_last_state", "mamba1", dict(return_last_state=1)),
    ("headdim", "mamba2", dict(headdim=3)),
    ("headdim", "mamba2", dict(headdim=2.0)),
    ("A", "mamba2", dict(A=np.full(3, -1.0), headdim=None)),
    ("A", "mamba2", dict(A=np.zeros(0), headdim=None)),
    ("delta", "mamba2", dict(delta=np.zeros((4, 5)))),
    ("delta_bias", "mamba2", dict(delta_bias=np.zeros(4))),
    ("D", "mamba2", dict(D=np.ones(3))),
    ("B", "batched", dict(B=np.zeros((3, 5)))),
    ("initial_state", "batched", dict(initial_state=np.zeros((4, 3)))),
    ("delta", "batched", dict(delta=np.zeros((3, 4, 5)))),
]


@pytest.mark.parametrize("name,mode,change", BAD, ids=[f"{n}-{m}-{i}" for i, (n, m, _) in
                                                       enumerate(BAD)])
def test_bad_arguments_name_the_argument(name, mode, change):
    kw = _valid("mamba1" if mode == "batched" else mode, batched=mode == "batched")
    kw.update(change)
    with pytest.raises(ValueError, match=rf"^{name}\b") as info:
        selective_scan_ref(**kw)
    assert isinstance(info.value, NlihwError)


def test_valid_baselines_pass():
    """The unmodified argument sets of the validation cases are accepted."""
    for mode, batched in (("mamba1", False), ("mamba2", False), ("mamba1", True)):
        selective_scan_ref(**_valid(mode, batched))


def test_empty_sequence_returns_initial_state():
    kw = _valid()
    kw.update({k: kw[k][..., :0] for k in ("u", "delta", "z", "B", "C")})
    h0 = np.arange(12.0).reshape(4, 3)
    out, last = selective_scan_ref(**kw, initial_state=h0, return_last_state=True)
    assert out.shape == (4, 0)
    np.testing.assert_array_equal(last, h0)
    last[0, 0] = 99.0
    assert h0[0, 0] == 0.0  # the returned state is not the caller's array


# ---------------------------------------------------------------- stimulus

@pytest.mark.parametrize("n_sequences", [None, 2])
def test_stimulus_shapes_mamba1(n_sequences):
    s = mamba_inputs(6, 16, 7, np.random.default_rng(0), n_sequences=n_sequences)
    b = () if n_sequences is None else (2,)
    shapes = dict(u=b + (6, 7), z=b + (6, 7), delta=b + (6, 7), B=b + (16, 7), C=b + (16, 7),
                  A=(6, 16), D=(6,), delta_bias=(6,))
    for name, shape in shapes.items():
        arr = getattr(s, name)
        assert arr.shape == shape and arr.dtype == np.float64, name
        assert not arr.flags.writeable, name
    assert s.headdim is None and "headdim" not in s.kwargs() and s.kwargs()["z"] is s.z
    assert s.kwargs(z=False)["z"] is None
    for row in s.A:
        np.testing.assert_allclose(row, [-float(n) for n in range(1, 17)], rtol=1e-15)
    np.testing.assert_array_equal(s.D, np.ones(6))


def test_stimulus_shapes_mamba2():
    s = mamba_inputs(512, 8, 3, np.random.default_rng(0), mode="mamba2", headdim=1)
    assert s.A.shape == (512,) and s.delta.shape == (512, 3) and s.delta_bias.shape == (512,)
    assert s.kwargs()["headdim"] == 1 and s.D.shape == (512,)
    assert np.all((s.A >= -16.0) & (s.A <= -1.0))
    assert s.A.min() < -15.0 and s.A.max() > -2.0
    s = mamba_inputs(12, 8, 3, np.random.default_rng(0), mode="mamba2", headdim=4)
    assert s.A.shape == (3,) and s.delta.shape == (3, 3) and s.u.shape == (12, 3)


def test_stimulus_dt_distribution():
    """softplus(delta_bias) is log-uniform in [0.001, 0.1] (median near 0.01, not 0.05);
    dt = softplus(delta + bias) stays mostly in that range."""
    s = mamba_inputs(4096, 1, 64, np.random.default_rng(7))
    dt0 = softplus(s.delta_bias)
    assert np.all((dt0 >= 0.001 * (1 - 1e-12)) & (dt0 <= 0.1 * (1 + 1e-12)))
    assert 0.008 < np.median(dt0) < 0.0125
    assert dt0.min() < 0.0012 and dt0.max() > 0.085
    assert 0.09 < s.delta.std() < 0.11
    dt = softplus(s.delta + s.delta_bias[:, None])
    assert np.mean((dt >= 0.001) & (dt <= 0.1)) > 0.95
    assert np.all((dt > 0.0004) & (dt < 0.25))
    s = mamba_inputs(64, 64, 64, np.random.default_rng(8))
    for name in ("u", "z", "B", "C"):      # 4096 samples each: standard error 0.016
        x = getattr(s, name)
        assert abs(x.mean()) < 0.08 and abs(x.std() - 1.0) < 0.08, name


def test_stimulus_is_seeded():
    a = mamba_inputs(4, 3, 5, np.random.default_rng(9), mode="mamba2", headdim=2)
    b = mamba_inputs(4, 3, 5, np.random.default_rng(9), mode="mamba2", headdim=2)
    c = mamba_inputs(4, 3, 5, np.random.default_rng(10), mode="mamba2", headdim=2)
    for name in ("u", "delta", "A", "B", "C", "z", "delta_bias"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        assert not np.array_equal(getattr(a, name), getattr(c, name)), name


@pytest.mark.parametrize("args,kwargs,word", [
    ((4, 3, 5), dict(mode="mamba3"), "mode"),
    ((4, 3, 5), dict(mode="mamba2"), "headdim"),
    ((4, 3, 5), dict(mode="mamba2", headdim=3), "headdim"),
    ((4, 3, 5), dict(headdim=2), "headdim"),
    ((0, 3, 5), {}, "d_inner"),
    ((4, 3, -1), {}, "^L must"),
    ((4, 3, 5), dict(n_sequences=0), "n_sequences"),
    ((4, 3, 5), dict(dt_min=0.2), "dt_min"),
])
def test_stimulus_rejects(args, kwargs, word):
    with pytest.raises(ValueError, match=word):
        mamba_inputs(*args, np.random.default_rng(0), **kwargs)
    with pytest.raises(ValueError, match="rng"):
        mamba_inputs(4, 3, 5, 1234)
