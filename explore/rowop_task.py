"""The row units of a sweep (softmax, RMSNorm, LayerNorm): a point's params, and its error against
float64 on a few deterministic rows of the benchmark's input families (``sim/rowop/accuracy.py``:
attention logits plain, sharp, outliers and causal; hidden states with and without outlier
channels), kept small so a point's error stage takes about a second.

A deferred unit outputs unscaled values and each row's scale; its error is that of a consumer that
applies the scale (and, for a norm, w and b) exactly in float64.
"""
from __future__ import annotations

import numpy as np

from nlihw.hdl.rowop.generate import cycles
from nlihw.hdl.rowop.params import SoftmaxParams, norm_preset, softmax_preset
from nlihw.sim.rowop import accuracy
from nlihw.sim.rowop.golden import norm_eval, softmax_eval
from nlihw.sim.rowop.reference import layernorm_ref, rmsnorm_ref, softmax_ref
from .points import Point

TOP = {"softmax": "softmax_unit", "rmsnorm": "rmsnorm_unit", "layernorm": "layernorm_unit"}
ERROR_ROWS = 4                  # rows per input family
ERROR_N = 1024                  # their length (n_max when that is smaller)
HEAD_DIM = 64                   # d of the attention logits q . k / sqrt(d)
SOFTMAX_FAMILIES = ("plain", "sharp", "outliers", "causal")
NORM_OUTLIERS = (6, 0)          # hidden rows with the benchmark's outlier channels, and without
SEED = accuracy.SEED


def rowop_params(p: Point):
    """The unit of a softmax or norm point (its preset's formats and shipped tables)."""
    if p.design == "softmax":
        return softmax_preset(p.preset, n_max=p.n_max, output_mode=p.output_mode,
                              top_name=TOP[p.func])
    return norm_preset(p.preset, p.func.removesuffix("norm"), n_max=p.n_max,
                       output_mode=p.output_mode, top_name=TOP[p.func])


def error_n(params) -> int:
    return min(params.n_max, ERROR_N)


def softmax_rows(params: SoftmaxParams) -> tuple[np.ndarray, np.ndarray]:
    """(logits, mask) of ERROR_ROWS rows of each family (outliers needs n >= 4), stacked."""
    n = error_n(params)
    xs, masks = [], []
    for i, fam in enumerate(SOFTMAX_FAMILIES):
        if fam == "outliers" and n < 4:
            continue
        x, mask = accuracy.attention_rows(np.random.default_rng([SEED, i]), ERROR_ROWS, n,
                                          HEAD_DIM, fam)
        xs.append(x)
        masks.append(np.zeros(x.shape, bool) if mask is None else mask)
    return np.vstack(xs), np.vstack(masks)


def norm_rows(params) -> tuple[np.ndarray, np.ndarray, "np.ndarray | None"]:
    """(x, w, b) of ERROR_ROWS hidden-state rows with outlier channels and as many without;
    b for LayerNorm only."""
    n = error_n(params)
    rng = np.random.default_rng([SEED, 1])
    xs = [accuracy.hidden_rows(rng, ERROR_ROWS, n, params.in_fmt, n_outliers=min(k, n))[0]
          for k in NORM_OUTLIERS]
    w = 1 + 0.2 * rng.normal(size=n)
    b = 0.1 * rng.normal(size=n) if params.kind == "layer" else None
    return np.vstack(xs), w, b


def softmax_outputs(params: SoftmaxParams) -> tuple[np.ndarray, np.ndarray]:
    """(the unit's outputs as reals, float64 softmax) on ``softmax_rows``."""
    x, mask = softmax_rows(params)
    res = softmax_eval(params, params.in_fmt.quantize(x), mask=mask)
    if params.output_mode == "deferred":        # p = e r 2^-(F_r + k)
        scale = np.ldexp(res.r.astype(float), -(params.r_fmt.frac_bits + res.k))
        y = params.e_fmt.to_real(res.out) * scale[:, None]
    else:
        y = params.out_fmt.to_real(res.out)
    return y, softmax_ref(x, mask=mask)


def norm_outputs(params) -> tuple[np.ndarray, np.ndarray]:
    """(the unit's outputs as reals, float64 RMSNorm / LayerNorm) on ``norm_rows``."""
    x, w, b = norm_rows(params)
    layer = params.kind == "layer"
    codes = params.in_fmt.quantize(x)
    res = norm_eval(params, codes, params.w_fmt.quantize(w),
                    params.b_fmt.quantize(b) if layer else None)
    if params.output_mode == "deferred":        # y = (x - mean) rs 2^-(F_rs + k) w + b
        scale = np.ldexp(res.scale.astype(float), -(params.rs_fmt.frac_bits + res.k))
        xq = params.in_fmt.to_real(codes)
        if layer:
            xq = xq - params.mean_fmt.to_real(res.mean)[:, None]
        y = xq * scale[:, None] * w[None, :] + (b[None, :] if layer else 0.0)
    else:
        y = params.out_fmt.to_real(res.out)
    ref = layernorm_ref(x, w, b, params.eps) if layer else rmsnorm_ref(x, w, params.eps)
    return y, ref


def rowop_errors(params) -> dict:
    """Max and mean |error| in output LSBs, max |error| in real units and the relative RMS error
    (over every element) of the unit against float64."""
    y, ref = (softmax_outputs if isinstance(params, SoftmaxParams) else norm_outputs)(params)
    d = np.abs(y - ref)
    lsb = params.out_fmt.lsb
    return {"max_err_lsb": float(d.max() / lsb), "mean_err_lsb": float(d.mean() / lsb),
            "max_err": float(d.max()),
            "rms_err": float(np.sqrt(np.mean(d * d)) / np.sqrt(np.mean(ref * ref)))}


def rowop_cycles(params) -> dict:
    """latency (clocks from a row's last input to its first output) and row_cycles (clocks per
    row, one lane, no stalls), both for a row of n_max elements (the RTL's own formulas)."""
    c, n = cycles(params), params.n_max
    return {"latency": c["first_out_latency_const"] + c["first_out_latency_per_element"] * n,
            "row_cycles": c["row_cycles_const"] + c["row_cycles_per_element"] * n}
