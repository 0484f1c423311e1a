"""Accuracy of the selective-scan unit against the float64 reference, and where the error comes from.

``quantize_inputs`` turns float inputs into the unit's raw codes (round to nearest even, saturate);
``scan_error`` runs the bit-exact golden model and compares with ``selective_scan_ref``.
``error_budget`` re-runs the datapath in float64 with each approximation replaced by exact math in
turn (an emulation, not bit-exact: products are rounded to their formats in float64), so a report
shows how much each of I/O quantization, the three tables and the internal precision costs.
``path_rows`` sets the full output beside the scan path alone (D = 0: without the D*u skip, which
dominates the full output's figure), each with its own floor and its saturated-beat fractions.
Batched inputs (a leading batch dimension) are run as separate sequences and joined along tokens.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from rich.table import Table

from nlihw.formats import Q
from nlihw.hdl.scan.params import ScanParams
from nlihw.luts.functions import get_function
from nlihw.luts.golden import nli_eval
from .golden import ScanConfig, ScanInputsRaw, scan_eval
from .reference import selective_scan_ref
from .stimulus import ScanInputs

APPROXIMATIONS = ("io", "softplus", "exp", "silu", "internal")
LABELS = {"io": "I/O quantization (u, delta, z, B, C, A, D, bias, out)",
          "softplus": "softplus table", "exp": "exp table", "silu": "SiLU table",
          "internal": "internal precision (dt*A, dt*u, dBu, state, y)"}


def first_flags(T: int, d_inner: int, starts=(0,)) -> np.ndarray:
    """``first`` for every channel of the tokens in ``starts`` (sequence starts)."""
    f = np.zeros((T, d_inner), dtype=bool)
    f[list(starts)] = True
    return f


def quantize_inputs(p: ScanParams, x: ScanInputs, starts=(0,)) -> tuple[ScanConfig, ScanInputsRaw]:
    """Raw codes of float inputs shaped as ``selective_scan_ref`` takes them (channels first)."""
    q = lambda fmt, a: fmt.quantize(np.asarray(a, dtype=np.float64))          # noqa: E731
    L = x.u.shape[1]
    delta = x.delta if p.mode == "mamba1" else np.repeat(x.delta, p.headdim, axis=0)
    z = np.zeros_like(x.u) if x.z is None else x.z          # no z: a unit without a gate
    cfg = ScanConfig(A=q(p.a_fmt, x.A), D=q(p.d_fmt, x.D), bias=q(p.delta_fmt, x.delta_bias))
    run = ScanInputsRaw(u=q(p.u_fmt, x.u.T), delta=q(p.delta_fmt, delta.T), z=q(p.z_fmt, z.T),
                        first=first_flags(L, p.d_inner, starts), B=q(p.b_fmt, x.B.T),
                        C=q(p.c_fmt, x.C.T))
    return cfg, run


def reference_out(p: ScanParams, x: ScanInputs) -> np.ndarray:
    """float64 ``selective_scan_ref`` output, (L, d_inner)."""
    out = selective_scan_ref(**x.kwargs(z=p.gate))
    return np.asarray(out).T


def error_figures(y: np.ndarray, ref: np.ndarray) -> dict:
    d = y - ref
    return {"max_abs": float(np.max(np.abs(d))),
            "rel_rms": float(np.sqrt(np.mean(d * d)) / np.sqrt(np.mean(ref * ref))),
            "rms": float(np.sqrt(np.mean(d * d)))}


def sequences(x: ScanInputs) -> list[ScanInputs]:
    """The unbatched sequences of ``x`` (itself when it has no batch dimension)."""
    if x.u.ndim == 2:
        return [x]
    keys = ("u", "delta", "B", "C") + (() if x.z is None else ("z",))
    return [replace(x, **{k: getattr(x, k)[b] for k in keys}) for b in range(x.u.shape[0])]


def _joined(fn, p: ScanParams, x: ScanInputs) -> np.ndarray:
    """``fn(p, sequence)`` of every sequence, joined along tokens (axis 0)."""
    return np.concatenate([fn(p, s) for s in sequences(x)], axis=0)


def scan_path(x: ScanInputs) -> ScanInputs:
    """The same inputs with D = 0: the output is the scan path alone (no D*u skip)."""
    return replace(x, D=np.zeros_like(x.D))


OUTPUT_EVENTS = ("y", "yd", "out")     # golden-model saturation steps that are the output's
STATE_EVENTS = ("dBu", "h")            # ... and the state's


def clipped_inputs(p: ScanParams, x: ScanInputs) -> dict:
    """Fraction of each input's values that quantizing to its format clips (host side; no flag)."""
    fmts = dict(u=p.u_fmt, delta=p.delta_fmt, B=p.b_fmt, C=p.c_fmt, A=p.a_fmt, D=p.d_fmt,
                delta_bias=p.delta_fmt, **({"z": p.z_fmt} if p.gate and x.z is not None else {}))
    out = {}
    for name, fmt in fmts.items():
        v = np.asarray(getattr(x, name), dtype=np.float64)
        raw = np.rint(np.ldexp(np.clip(v, fmt.min - 2.0, fmt.max + 2.0), fmt.frac_bits))
        out[name] = float(np.mean(~fmt.contains(raw))) if v.size else 0.0
    return out


def scan_error(p: ScanParams, x: ScanInputs) -> dict:
    """Error of the bit-exact golden model's output against the float64 reference, the fractions
    of beats whose output (y, y + D*u, out) or state (dBu, h) saturated, and the beats whose
    delta + bias was clamped into the softplus table's left tail (the ``clamped`` flag)."""
    outs, flags, clamps, ev = [], [], [], {}
    for s in sequences(x):
        cfg, run = quantize_inputs(p, s)
        res = scan_eval(p, cfg, run)
        outs.append(res.out)
        flags.append(res.stages["flag"])
        clamps.append(res.stages["clamped"])
        for k, v in res.stages["events"].items():
            ev.setdefault(k, []).append(v)
    ev = {k: np.concatenate(v) for k, v in ev.items()}
    flag = np.concatenate(flags)
    figs = error_figures(p.out_fmt.to_real(np.concatenate(outs)), _joined(reference_out, p, x))
    figs["overflow"] = bool(flag.any())
    figs["saturated_beats"] = int(flag.sum())
    figs["beats"] = int(flag.size)
    figs["clamped_beats"] = int(np.concatenate(clamps).sum())
    figs["sat_output"] = _beat_fraction(ev, OUTPUT_EVENTS, flag.shape)
    figs["sat_state"] = _beat_fraction(ev, STATE_EVENTS, flag.shape)
    figs["sat_any"] = float(flag.mean()) if flag.size else 0.0
    figs["events"] = {k: int(v.sum()) for k, v in ev.items()}
    return figs


def _beat_fraction(events: dict, names, shape) -> float:
    """Fraction of beats on which any of the saturation steps ``names`` fired."""
    hit = np.zeros(shape, dtype=bool)
    for k in names:
        if k in events:
            hit |= events[k]
    return float(hit.mean()) if hit.size else 0.0


def path_rows(p: ScanParams, x: ScanInputs) -> list[dict]:
    """The full output and the scan path alone (D = 0): golden-model error, its own I/O
    quantization floor (``floor_rel_rms``), their ratio, saturated-beat fractions."""
    rows = []
    for name, xi in (("full output (y + D*u)", x), ("scan path alone (D = 0)", scan_path(x))):
        g = scan_error(p, xi)
        ref = _joined(reference_out, p, xi)
        floor = error_figures(_joined(lambda q, s: emulate(q, s, ("io",)), p, xi), ref)
        ratio = g["rel_rms"] / floor["rel_rms"] if floor["rel_rms"] > 0 else float("inf")
        rows.append({"path": name, **g, "floor_rel_rms": floor["rel_rms"],
                     "floor_max_abs": floor["max_abs"], "ratio": ratio})
    return rows


def path_table(rows: list[dict], title: str):
    """``path_rows`` as a rich table."""
    t = Table(title=title)
    for col in ("output", "relative RMS error", "floor (I/O only)", "ratio", "max abs error",
                "saturated beats: output", "state", "any"):
        t.add_column(col, justify="left" if col == "output" else "right")
    for r in rows:
        t.add_row(r["path"], f"{100 * r['rel_rms']:.4f} %", f"{100 * r['floor_rel_rms']:.4f} %",
                  f"{r['ratio']:.3f}", f"{r['max_abs']:.3e}", _pct(r["sat_output"]),
                  _pct(r["sat_state"]), _pct(r["sat_any"]))
    return t


def _pct(f: float) -> str:
    return "0" if f == 0 else f"{100 * f:.4f} %"


# --- float64 emulation with switchable approximations -------------------------------------------
@dataclass(frozen=True)
class _Ops:
    p: ScanParams
    approx: frozenset

    def io(self, fmt: Q, a):
        return fmt.to_real(fmt.quantize(a)) if "io" in self.approx else np.asarray(a, dtype=np.float64)

    def internal(self, fmt: Q, a):
        if "internal" not in self.approx:
            return a
        return fmt.to_real(fmt.quantize(a, self.p.rounding))

    def table(self, name: str, a):
        t = getattr(self.p, name)
        if name in self.approx:
            lay = t.layout
            return lay.out_fmt.to_real(nli_eval(t, lay.in_fmt.quantize(a)))
        return get_function(t.function)(a)


def emulate(p: ScanParams, x: ScanInputs, approx=APPROXIMATIONS) -> np.ndarray:
    """float64 run of the unit's datapath; ``approx`` names the approximations that are applied."""
    o = _Ops(p, frozenset(approx))
    u, z = o.io(p.u_fmt, x.u), (o.io(p.z_fmt, x.z) if p.gate else None)
    B, C = o.io(p.b_fmt, x.B), o.io(p.c_fmt, x.C)
    A, D = o.io(p.a_fmt, x.A), o.io(p.d_fmt, x.D)
    delta, bias = o.io(p.delta_fmt, x.delta), o.io(p.delta_fmt, x.delta_bias)
    dt = o.table("softplus", delta + bias[:, None])          # (D or H, L)
    if p.mode == "mamba2":
        w = o.internal(p.w_fmt, dt * A[:, None])               # (H, L)
        dA = np.repeat(o.internal(p.dam_fmt, o.table("exp", w)), p.headdim, axis=0)[:, None, :]
        dt = np.repeat(dt, p.headdim, axis=0)
    else:
        w = o.internal(p.w_fmt, dt[:, None, :] * A[:, :, None])  # (D, N, L)
        dA = o.internal(p.dam_fmt, o.table("exp", w))          # the dA * h operand's rounding
    dtu = o.internal(p.dtu_fmt, dt * u)
    dBu = o.internal(p.state_fmt, dtu[:, None, :] * B[None, :, :])
    h = np.zeros((p.d_inner, p.d_state))
    ys = np.empty((p.d_inner, u.shape[1]))
    for l in range(u.shape[1]):
        h = o.internal(p.state_fmt, o.internal(p.state_fmt, dA[:, :, l] * h) + dBu[:, :, l])
        ys[:, l] = h @ C[:, l]
    y = o.internal(p.y_fmt, ys)
    yd = o.internal(p.y_fmt, y + o.internal(p.y_fmt, D[:, None] * u))
    out = yd * o.table("silu", z) if p.gate else yd
    return o.io(p.out_fmt, out).T


def error_budget(p: ScanParams, x: ScanInputs) -> list[dict]:
    """Rows: the golden model; the emulation with everything applied; then with each approximation
    replaced by exact float64 in turn; and the I/O quantization floor alone."""
    ref = _joined(reference_out, p, x)
    em = lambda approx: _joined(lambda q, s: emulate(q, s, approx), p, x)       # noqa: E731
    rows = [{"run": "bit-exact golden model (the RTL)", **scan_error(p, x)}]
    rows.append({"run": "float emulation, every approximation", **error_figures(em(APPROXIMATIONS), ref)})
    for a in APPROXIMATIONS:
        rest = tuple(b for b in APPROXIMATIONS if b != a)
        rows.append({"run": f"exact {LABELS[a]}", **error_figures(em(rest), ref)})
    rows.append({"run": "I/O quantization only (the floor)", **error_figures(em(("io",)), ref)})
    return rows


def budget_table(rows: list[dict], title: str):
    """The error budget as a rich table: run, max abs error, relative RMS error."""
    t = Table(title=title)
    for col in ("run", "max abs error", "relative RMS error"):
        t.add_column(col, justify="left" if col == "run" else "right")
    for r in rows:
        t.add_row(r["run"], f"{r['max_abs']:.3e}", f"{100 * r['rel_rms']:.4f} %")
    return t
