"""Accuracy of the row-operation units against float64 on realistic rows, and where the error
comes from.

Rows (``attention_rows``, ``hidden_rows``, seeded):

- attention logits: q . k / sqrt(d) for random q, k with unit-variance entries (d = 64, 128):
  logits ~ N(0, 1); ``sharp`` scales them by 4 (a confident head); ``outliers`` adds +6..+12 to
  1-4 entries per row (attention sinks / a few large logits); ``causal`` masks the future.
- hidden states: N(0, sigma^2) with a fixed set of outlier channels (6 of them) at 20-100 sigma
  (random sign per channel, as in LLM activations, with a 0.1 relative jitter per row), sigma
  set so that the largest outlier stays within 90 % of the input format; weights
  1 + 0.2 N(0, 1); LayerNorm biases 0.1 N(0, 1).

Figures (``error_figures``): the element relative error |y - ref| / |ref| over the elements whose
reference is at least ``REL_FLOOR_LSB`` output LSBs (below that the output format cannot resolve a
relative error), its max and mean; the max absolute error in output LSBs; the per-row relative
L2 error ||y - ref|| / ||ref|| (mean and max; covers every element); the fraction of saturated rows.

``error_budget`` re-runs the datapath in float64 with each approximation replaced by exact math in
turn (``emulate``): with every approximation applied the emulation is bit-exact with the golden
model (asserted per run: ``emulation_matches``), so each "exact X" row shows what X costs; the step
whose removal lowers the mean relative error most is the ``dominant`` one.
"""
from __future__ import annotations

import numpy as np

from nlihw.hdl.rowop.params import NormParams, SoftmaxParams, norm_preset, softmax_preset
from nlihw.luts.golden import nli_eval
from .golden import norm_eval, softmax_eval
from .reference import layernorm_ref, rmsnorm_ref, softmax_ref

SOFTMAX_APPROX = ("in", "exp", "reciprocal", "internal", "out")
NORM_APPROX = ("in", "reciprocal", "rsqrt", "internal", "out")
LABELS = {"in": "input quantization (x, w, b)", "out": "output rounding (p, y)", "exp": "exp table",
          "reciprocal": "reciprocal table (1/S, 1/n)", "rsqrt": "rsqrt table",
          "internal": "internal precision (saturation, truncations, v/scale roundings)"}
REL_FLOOR_LSB = 16
SEED = 20261207


# --- realistic rows ---------------------------------------------------------------------------
def attention_rows(rng, rows: int, n: int, d: int, kind: str = "plain"):
    """(logits (rows, n), mask or None) of one attention head."""
    q = rng.normal(size=(rows, d))
    k = rng.normal(size=(n, d))
    x = q @ k.T / np.sqrt(d)
    mask = None
    if kind == "sharp":
        x *= 4.0
    elif kind == "outliers":
        for i in range(rows):
            idx = rng.choice(n, size=rng.integers(1, 5), replace=False)
            x[i, idx] += rng.uniform(6.0, 12.0, idx.size)
    elif kind == "causal":
        pos = np.linspace(0, n - 1, rows).astype(int)
        mask = np.arange(n)[None, :] > pos[:, None]
    return x, mask


def hidden_rows(rng, rows: int, n: int, fmt, n_outliers: int = 6):
    """Hidden states with outlier channels; returns (x, outlier channel indices)."""
    ch = rng.choice(n, size=n_outliers, replace=False)
    mags = rng.uniform(20.0, 100.0, n_outliers) * rng.choice([-1.0, 1.0], n_outliers)
    sigma = 0.9 * fmt.max / 130.0
    x = rng.normal(0.0, sigma, (rows, n))
    jitter = np.clip(1 + 0.1 * rng.normal(size=(rows, n_outliers)), 0.7, 1.3)
    x[:, ch] = sigma * mags[None, :] * jitter
    return x, ch


# --- figures ----------------------------------------------------------------------------------
def error_figures(y, ref, lsb: float, sat=None) -> dict:
    y, ref = np.asarray(y, float), np.asarray(ref, float)
    d = np.abs(y - ref)
    big = np.abs(ref) >= REL_FLOOR_LSB * lsb
    rel = d[big] / np.abs(ref[big])
    nrm = np.sqrt((ref * ref).sum(axis=1))
    row = np.sqrt((d * d).sum(axis=1))[nrm > 0] / nrm[nrm > 0]
    return {"max_rel": float(rel.max()) if rel.size else 0.0,
            "mean_rel": float(rel.mean()) if rel.size else 0.0,
            "max_abs_lsb": float(d.max() / lsb),
            "row_rel_l2_mean": float(row.mean()), "row_rel_l2_max": float(row.max()),
            "rel_elements": int(big.sum()),
            "sat_rows": float(np.mean(sat)) if sat is not None else 0.0}


# --- float64 emulation with switchable approximations -----------------------------------------
def _io(fmt, a, on):
    return fmt.to_real(fmt.quantize(a)) if on else np.asarray(a, dtype=np.float64)


def _table(t, a, on, exact, floor_in=False):
    if not on:
        return exact(a)
    fin = t.layout.in_fmt
    return t.layout.out_fmt.to_real(nli_eval(t, fin.quantize(a, "floor" if floor_in else
                                                               "nearest-even")))


def _log2_floor(v):
    return np.frexp(v)[1].astype(np.int64) - 1


def emulate_softmax(p: SoftmaxParams, x, mask=None, approx=SOFTMAX_APPROX) -> np.ndarray:
    a = frozenset(approx)
    valid = np.ones(np.shape(x), dtype=bool) if mask is None else ~np.asarray(mask)
    xq = _io(p.in_fmt, x, "in" in a)
    m = np.where(valid, xq, -np.inf).max(axis=1, keepdims=True)
    d = xq - m
    if "internal" in a:
        d = np.maximum(d, p.d_fmt.min)
    e = _table(p.engine_table("exp"), d, "exp" in a, np.exp)
    e = np.where(valid, e, 0.0)
    S = e.sum(axis=1, keepdims=True)
    k = _log2_floor(S)
    s = np.ldexp(S, -k)
    if "internal" in a:
        s = np.floor(np.ldexp(s, p.s_fmt.frac_bits)) * p.s_fmt.lsb
    r = _table(p.engine_table("reciprocal"), s, "reciprocal" in a, lambda v: 1.0 / v)
    out = e * np.ldexp(r, -k)
    return _io(p.out_fmt, out, "out" in a)


def emulate_norm(p: NormParams, x, w, b=None, approx=NORM_APPROX) -> np.ndarray:
    a = frozenset(approx)
    io = "in" in a
    internal = "internal" in a
    xq, wq = _io(p.in_fmt, x, io), _io(p.w_fmt, w, io)
    bq = _io(p.b_fmt, b, io) if p.kind == "layer" else 0.0
    n = xq.shape[1]
    j = int(n).bit_length() - 1
    rn = float(_table(p.engine_table("reciprocal"), np.array([n / 2.0 ** j]), "reciprocal" in a,
                      lambda v: 1.0 / v)[0])
    Fx, Fv = p.in_fmt.frac_bits, p.v_frac_bits
    eps = p.eps_code * 2.0 ** -Fv if internal else p.eps
    qv = lambda v: np.round(np.ldexp(v, Fv)) * 2.0 ** -Fv if internal else v    # noqa: E731
    if io:                               # exact integer sums on the codes
        xi = p.in_fmt.quantize(x).astype(object)
        Q = np.array([sum(int(t) ** 2 for t in row) for row in xi], dtype=object)
        X = np.array([sum(int(t) for t in row) for row in xi], dtype=object)
    else:
        Q, X = (xq * xq).sum(axis=1), xq.sum(axis=1)
    if p.kind == "rms":
        ms = np.array([float(q) for q in Q]) * (2.0 ** -(2 * Fx) if io else 1.0) * rn * 2.0 ** -j
        v = qv(ms) + eps
    else:
        N = n * Q - X * X                                       # exact on codes when io
        unit = 2.0 ** -(2 * Fx) if io else 1.0
        rn2 = np.round(rn * rn * 2.0 ** p.rn_fmt.frac_bits) * p.rn_fmt.lsb if internal else rn * rn
        if internal and io:
            G = p.guard_bits
            Nr = np.array([int(t) >> (2 * j - G) if 2 * j >= G else int(t) << (G - 2 * j)
                           for t in N], dtype=float)
            var = Nr * 2.0 ** -G * unit * rn2
        else:
            var = np.array([float(t) for t in N]) * unit * 2.0 ** (-2 * j) * rn2
        v = qv(var) + eps
    k = _log2_floor(v) >> 1
    s = np.ldexp(v, -2 * k)
    if internal:
        s = np.floor(np.ldexp(s, p.s_fmt.frac_bits)) * p.s_fmt.lsb
    rs = _table(p.engine_table("rsqrt"), s, "rsqrt" in a, lambda t: 1.0 / np.sqrt(t))
    if p.kind == "rms":
        y = xq * np.ldexp(rs, -k)[:, None] * wq[None, :]
    else:
        Xf = np.array([float(t) for t in X]) * (p.in_fmt.lsb if io else 1.0)
        g = rs * rn
        if internal:
            g = np.round(np.ldexp(g, p.scale_fmt.frac_bits)) * p.scale_fmt.lsb
        y = (n * xq - Xf[:, None]) * np.ldexp(g, -(k + j))[:, None] * wq[None, :] + bq
    return _io(p.out_fmt, y, "out" in a)


# --- runs -------------------------------------------------------------------------------------
def softmax_case(p: SoftmaxParams, x, mask=None) -> dict:
    """Golden-model figures, the budget (exact X rows) and the dominant step for one row set."""
    codes = p.in_fmt.quantize(x)
    res = softmax_eval(p, codes, mask=mask)
    ref = softmax_ref(x, mask=mask)
    y = p.out_fmt.to_real(res.out)
    lsb = p.out_fmt.lsb
    em_all = emulate_softmax(p, x, mask)
    budget = {"all": error_figures(em_all, ref, lsb)}
    for s in SOFTMAX_APPROX:
        rest = tuple(t for t in SOFTMAX_APPROX if t != s)
        budget[f"exact {s}"] = error_figures(emulate_softmax(p, x, mask, rest), ref, lsb)
    budget["in+out only"] = error_figures(emulate_softmax(p, x, mask, ("in", "out")), ref, lsb)
    return _case(error_figures(y, ref, lsb, res.sat), budget, SOFTMAX_APPROX,
                 bool(np.array_equal(em_all, y)))


def norm_case(p: NormParams, x, w, b=None) -> dict:
    codes = p.in_fmt.quantize(x)
    wc = p.w_fmt.quantize(w)
    bc = p.b_fmt.quantize(b) if p.kind == "layer" else None
    res = norm_eval(p, codes, wc, bc)
    ref = rmsnorm_ref(x, w, p.eps) if p.kind == "rms" else layernorm_ref(x, w, b, p.eps)
    y = p.out_fmt.to_real(res.out)
    lsb = p.out_fmt.lsb
    em_all = emulate_norm(p, x, w, b)
    budget = {"all": error_figures(em_all, ref, lsb)}
    for s in NORM_APPROX:
        rest = tuple(t for t in NORM_APPROX if t != s)
        budget[f"exact {s}"] = error_figures(emulate_norm(p, x, w, b, rest), ref, lsb)
    budget["in+out only"] = error_figures(emulate_norm(p, x, w, b, ("in", "out")), ref, lsb)
    return _case(error_figures(y, ref, lsb, res.sat), budget, NORM_APPROX,
                 bool(np.array_equal(em_all, y)))


def _case(golden, budget, steps, match) -> dict:
    """``dominant``: the step whose exact replacement lowers the mean relative error most;
    ``dominant_max_abs``: the same for the max absolute error."""
    gain = {s: budget["all"]["mean_rel"] - budget[f"exact {s}"]["mean_rel"] for s in steps}
    gain_abs = {s: budget["all"]["max_abs_lsb"] - budget[f"exact {s}"]["max_abs_lsb"]
                for s in steps}
    return {"golden": golden, "budget": budget, "gain": gain,
            "dominant": max(gain, key=gain.get),
            "dominant_max_abs": max(gain_abs, key=gain_abs.get), "emulation_matches": match}


def softmax_cases(preset: str, seed: int = SEED, rows: int = 64) -> dict:
    rng = np.random.default_rng(seed)
    p = softmax_preset(preset)
    out = {}
    for d in (64, 128):
        for kind in ("plain", "sharp", "outliers", "causal"):
            n = 1024 if kind != "outliers" else 4096
            x, mask = attention_rows(rng, rows, n, d, kind)
            out[f"attn d={d} {kind} n={n}"] = softmax_case(p, x, mask)
    return out


def norm_cases(preset: str, kind: str, seed: int = SEED, rows: int = 32) -> dict:
    rng = np.random.default_rng(seed + 1)
    p = norm_preset(preset, kind)
    out = {}
    for n in (1024, 4096):
        x, _ = hidden_rows(rng, rows, n, p.in_fmt)
        w = 1 + 0.2 * rng.normal(size=n)
        b = 0.1 * rng.normal(size=n) if kind == "layer" else None
        out[f"hidden n={n} outliers 20-100x"] = norm_case(p, x, w, b)
    return out


def report(preset: str) -> str:
    lines = []
    cases = {("softmax", k): v for k, v in softmax_cases(preset).items()}
    for kind in ("rms", "layer"):
        cases.update({(f"{kind}norm", k): v for k, v in norm_cases(preset, kind).items()})
    for (op, name), c in cases.items():
        g = c["golden"]
        lines.append(f"{preset} {op:9s} {name:30s} max_rel {g['max_rel']:.2e} mean_rel "
                     f"{g['mean_rel']:.2e} max_abs {g['max_abs_lsb']:.2f} LSB rowL2 mean "
                     f"{g['row_rel_l2_mean']:.2e} max {g['row_rel_l2_max']:.2e} sat_rows "
                     f"{g['sat_rows']:.2f} | dominant: {c['dominant']} "
                     f"(max abs: {c['dominant_max_abs']}) "
                     f"(emulation bit-exact: {c['emulation_matches']})")
        for r, f in c["budget"].items():
            lines.append(f"    {r:18s} max_rel {f['max_rel']:.2e} mean_rel {f['mean_rel']:.2e} "
                         f"max_abs {f['max_abs_lsb']:.2f} LSB rowL2 {f['row_rel_l2_mean']:.2e}")
    return "\n".join(lines)


if __name__ == "__main__":                  # python -m nlihw.sim.rowop.accuracy [int16|int8]
    import sys
    for name in sys.argv[1:] or ("int16", "int8"):
        print(report(name))
