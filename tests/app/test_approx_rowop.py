"""nlihw.approx.softmax / rmsnorm / layernorm: the row units' golden models as float functions over
the last axis: equal to ``softmax_eval`` / ``norm_eval`` on the quantized inputs (exactly), and
within a few output LSBs of the float64 torch-semantics references (independently)."""
import numpy as np
import pytest

from nlihw.approx import layernorm, rmsnorm, softmax
from nlihw.errors import ParamsError
from nlihw.hdl.rowop.params import norm_preset, softmax_preset
from nlihw.sim.rowop.golden import norm_eval, softmax_eval
from nlihw.sim.rowop.reference import layernorm_ref, rmsnorm_ref, softmax_ref

SEED = 20261207


def logits(shape, seed=SEED, scale=2.0):
    return np.random.default_rng(seed).normal(0.0, scale, shape)


@pytest.mark.parametrize("preset", ["int16", "int8"])
def test_softmax_is_the_golden_model_dequantized(preset):
    x = logits((2, 3, 40))
    mask = np.random.default_rng(1).random(x.shape) < 0.2
    y = softmax(x, preset, mask=mask)
    p = softmax_preset(preset)
    ref = softmax_eval(p, p.in_fmt.quantize(x).reshape(-1, 40), mask=mask.reshape(-1, 40))
    assert y.shape == x.shape and y.dtype == np.float64
    assert np.array_equal(y, (ref.out * p.out_fmt.lsb).reshape(x.shape))


def dq(fmt, v):
    """``v`` rounded into ``fmt`` as a real number (what the unit's input port holds)."""
    return fmt.to_real(fmt.quantize(v))


@pytest.mark.parametrize("preset,lsbs,raw_lsbs", [("int16", 4, 16), ("int8", 1, 8)])
def test_softmax_is_close_to_float64(preset, lsbs, raw_lsbs):
    """Independent check: torch-semantics float64 softmax of the quantized inputs is within
    ``lsbs`` output LSBs (the NLI tables and the output rounding); of the raw inputs within
    ``raw_lsbs`` (the input rounding as well); the rows sum to about 1."""
    x = logits((64, 50))
    y = softmax(x, preset)
    p = softmax_preset(preset)
    lsb = p.out_fmt.lsb
    assert np.max(np.abs(y - softmax_ref(dq(p.in_fmt, x)))) <= lsbs * lsb
    assert np.max(np.abs(y - softmax_ref(x))) <= raw_lsbs * lsb
    assert np.allclose(y.sum(axis=-1), 1.0, atol=50 * lsb)


def test_softmax_masks_like_torch():
    """-inf and mask exclude entries (output 0, the rest renormalized); a row with nothing left is
    zeros (the unit's empty flag; torch gives NaN); a broadcast mask applies to every row."""
    x = logits((4, 8))
    m = np.zeros(8, bool)
    m[[1, 5]] = True
    a = softmax(x, "int16", mask=m)
    xi = x.copy()
    xi[:, [1, 5]] = -np.inf
    assert np.array_equal(a, softmax(xi, "int16"))
    ref = softmax_ref(dq(softmax_preset("int16").in_fmt, x), np.broadcast_to(m, x.shape))
    assert np.all(a[:, [1, 5]] == 0) and np.max(np.abs(a - ref)) <= 4 * 2.0 ** -16
    assert np.array_equal(softmax(np.full((2, 3), -np.inf)), np.zeros((2, 3)))


def test_rows_are_independent_and_shapes_kept():
    x = logits((5, 16))
    y = softmax(x, "int8")
    for i in range(5):
        assert np.array_equal(softmax(x[i], "int8"), y[i])
    assert softmax(x[None, :, None, :], "int8").shape == (1, 5, 1, 16)


@pytest.mark.parametrize("preset", ["int16", "int8"])
def test_norms_are_the_golden_model_dequantized(preset):
    rng = np.random.default_rng(SEED)
    n = 48
    x = rng.normal(0.0, 1.5, (3, 2, n))
    w = 1 + 0.2 * rng.normal(size=n)
    b = 0.1 * rng.normal(size=n)
    for kind in ("rms", "layer"):
        p = norm_preset(preset, kind)
        ref = norm_eval(p, p.in_fmt.quantize(x).reshape(-1, n), p.w_fmt.quantize(w),
                        p.b_fmt.quantize(b) if kind == "layer" else None)
        y = rmsnorm(x, w, preset) if kind == "rms" else layernorm(x, w, b, preset)
        assert y.shape == x.shape
        assert np.array_equal(y, (ref.out * p.out_fmt.lsb).reshape(x.shape)), kind


@pytest.mark.parametrize("preset", ["int16", "int8"])
def test_norms_are_close_to_float64(preset):
    """Independent check against the float64 references (torch semantics, biased variance) of
    the quantized x, w and b: within one output LSB (the output rounding and the tables)."""
    rng = np.random.default_rng(SEED + 1)
    n = 64
    x = rng.normal(0.0, 1.0, (32, n))
    w = 1 + 0.2 * rng.normal(size=n)
    b = 0.1 * rng.normal(size=n)
    p = norm_preset(preset, "layer")
    xq, wq, bq, lsb = dq(p.in_fmt, x), dq(p.w_fmt, w), dq(p.b_fmt, b), p.out_fmt.lsb
    assert np.max(np.abs(rmsnorm(x, w, preset) - rmsnorm_ref(xq, wq, p.eps))) <= lsb
    assert np.max(np.abs(layernorm(x, w, b, preset) - layernorm_ref(xq, wq, bq, p.eps))) <= lsb


def test_params_objects_eps_and_long_rows():
    """A params object is used as given (in normalized mode); eps replaces the preset's; rows
    longer than the presets' 4096 get a unit of their length."""
    x = logits((2, 32), scale=0.01)
    w = np.ones(32)
    p = norm_preset("int16", "rms", n_max=32)
    assert np.array_equal(rmsnorm(x, w, p), rmsnorm(x, w, "int16"))
    assert not np.array_equal(rmsnorm(x, w, eps=1e-2), rmsnorm(x, w))
    deferred = softmax_preset("int8", n_max=32, output_mode="deferred")
    assert np.array_equal(softmax(x, deferred), softmax(x, "int8"))
    long = logits((1, 5000))
    assert softmax(long).shape == (1, 5000)


@pytest.mark.parametrize("call,exc,message", [
    (lambda: softmax(1.0), ValueError, "at least one axis"),
    (lambda: softmax([1.0, np.nan]), ValueError, "NaN or \\+inf"),
    (lambda: softmax([1.0, np.inf]), ValueError, "NaN or \\+inf"),
    (lambda: softmax([1.0, 2.0], mask=[0, 1]), TypeError, "bool"),
    (lambda: softmax(np.zeros((2, 3)), mask=np.zeros(2, bool)), ValueError, "does not broadcast"),
    (lambda: softmax([1.0], "int9"), ParamsError, "unknown softmax preset"),
    (lambda: softmax([1.0], 16), TypeError, "preset"),
    (lambda: softmax(np.zeros(40), softmax_preset("int8", n_max=32)), ParamsError, "n_max=32"),
    (lambda: softmax(["a"]), TypeError, "real numbers"),
    (lambda: rmsnorm(np.zeros(4), np.ones(3)), ValueError, "w must have shape \\(4,\\)"),
    (lambda: layernorm(np.zeros(4), np.ones(4), np.ones(5)), ValueError, "b must have shape"),
    (lambda: rmsnorm(np.zeros(4), np.ones(4), norm_preset("int8", "layer")), ParamsError,
     "kind='layer'"),
    (lambda: rmsnorm([np.nan, 1.0], np.ones(2)), ValueError, "non-finite"),
    (lambda: rmsnorm(np.zeros(4), np.ones(4), eps=0.0), ParamsError, "eps"),
])
def test_bad_inputs_are_refused(call, exc, message):
    with pytest.raises(exc, match=message):
        call()
