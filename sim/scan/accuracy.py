"""Accuracy of the selective-scan unit against the float64 reference, and where the error comes from.

``quantize_inputs`` turns float inputs into the unit's raw codes (round to nearest even, saturate);
``scan_error`` runs the bit-exact golden model and compares with ``selective_scan_ref``.
``error_budget`` re-runs the datapath in float64 with each approximation replaced by exact math in
turn (an emulation, not bit-exact: products are rounded to their formats in float64), so a report
shows how much each of I/O quantization, the three tables and the internal precision costs.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nlihw.formats import Q
from nlihw.hdl.scan.params import ScanParams
from nlihw.luts.functions import get_function
from nlihw.sim.nli.golden import nli_eval
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
    A = x.A if p.mode == "mamba1" else x.A
    cfg = ScanConfig(A=q(p.a_fmt, A), D=q(p.d_fmt, x.D), bias=q(p.delta_fmt, x.delta_bias))
    run = ScanInputsRaw(u=q(p.u_fmt, x.u.T), delta=q(p.delta_fmt, delta.T), z=q(p.z_fmt, x.z.T),
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


def scan_error(p: ScanParams, x: ScanInputs) -> dict:
    """Error of the bit-exact golden model's output against the float64 reference."""
    cfg, run = quantize_inputs(p, x)
    res = scan_eval(p, cfg, run)
    ref = reference_out(p, x)
    figs = error_figures(p.out_fmt.to_real(res.out), ref)
    figs["overflow"] = bool(res.overflow[-1, -1])
    figs["saturated_beats"] = int(res.stages["flag"].sum())
    return figs


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
    u, z = o.io(p.u_fmt, x.u), o.io(p.z_fmt, x.z)
    B, C = o.io(p.b_fmt, x.B), o.io(p.c_fmt, x.C)
    A, D = o.io(p.a_fmt, x.A), o.io(p.d_fmt, x.D)
    delta, bias = o.io(p.delta_fmt, x.delta), o.io(p.delta_fmt, x.delta_bias)
    dt = o.table("softplus", delta + bias[:, None])          # (D or H, L)
    if p.mode == "mamba2":
        w = o.internal(p.w_fmt, dt * A[:, None])               # (H, L)
        dA = np.repeat(o.table("exp", w), p.headdim, axis=0)[:, None, :]
        dt = np.repeat(dt, p.headdim, axis=0)
    else:
        w = o.internal(p.w_fmt, dt[:, None, :] * A[:, :, None])  # (D, N, L)
        dA = o.table("exp", w)
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
    ref = reference_out(p, x)
    rows = [{"run": "bit-exact golden model (the RTL)", **scan_error(p, x)}]
    rows.append({"run": "float emulation, every approximation", **error_figures(emulate(p, x), ref)})
    for a in APPROXIMATIONS:
        rest = tuple(b for b in APPROXIMATIONS if b != a)
        rows.append({"run": f"exact {LABELS[a]}", **error_figures(emulate(p, x, rest), ref)})
    rows.append({"run": "I/O quantization only (the floor)", **error_figures(emulate(p, x, ("io",)), ref)})
    return rows


def budget_table(rows: list[dict], title: str):
    """The error budget as a rich table: run, max abs error, relative RMS error."""
    from rich.table import Table
    t = Table(title=title)
    for col in ("run", "max abs error", "relative RMS error"):
        t.add_column(col, justify="left" if col == "run" else "right")
    for r in rows:
        t.add_row(r["run"], f"{r['max_abs']:.3e}", f"{100 * r['rel_rms']:.4f} %")
    return t
