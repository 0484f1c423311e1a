"""Bit-exact golden model of the selective-scan unit: integer-only numpy, the specification of the RTL.

Per (token l, channel d), with r_s(v) = shift_round(v, s, rounding) (one rounding per product) and
sat_F() saturating into format F; every saturation marked (*) raises the beat's overflow flag, and
delta + bias below delta_fmt raises its clamped flag instead (**): x is clamped to the lowest code,
so dt is off by at most softplus(lowest) (3.4e-4 for both presets), a bounded error:

=====  =================================================  ===========================================
step   operation                                          format
=====  =================================================  ===========================================
1      x = sat(delta + bias)  (* above, ** below)         delta_fmt (softplus input)
2      dt = NLI_softplus(x)                               dt_fmt
3      w_n = sat(r(dt * A_n))  (* above only)             w_fmt (exp input; below its range exp ~ 0)
4      dA_n = sat(r(NLI_exp(w_n)))                        dam_fmt (da_mult_fmt, else da_fmt)
5      dtu = sat(r(dt * u))  (*)                          dtu_fmt
6      dBu_n = sat(r(dtu * B_n))  (*)                     state_fmt
7      h_n = sat(r(dA_n * h_n) + dBu_n)  (*)              state_fmt; h = 0 first when ``first``
8      y = sat(r(sum_n C_n * h_n))  (*)                   y_fmt (the sum is exact)
9      yd = sat(y + r(D * u))  (*)                        y_fmt
10     g = NLI_silu(z); out = sat(r(yd * g))  (*)         out_fmt (no gate: out = sat(r(yd)))
=====  =================================================  ===========================================

Mamba-2: A, bias, dt and dA are per head; delta is read on each head's first channel. Both flag
outputs are sticky: the OR of every beat's flag since reset, in output (token-major) order.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nlihw.errors import ParamsError
from nlihw.formats import shift_round
from nlihw.hdl.scan.datapath import ScanDatapath
from nlihw.hdl.scan.params import ScanParams
from nlihw.luts.golden import nli_eval


@dataclass(frozen=True)
class ScanConfig:
    """What the configuration port loads: raw codes of A, D and delta_bias."""
    A: np.ndarray          # (d_inner, d_state) Mamba-1, (n_heads,) Mamba-2; a_fmt
    D: np.ndarray          # (d_inner,); d_fmt
    bias: np.ndarray       # (d_inner,) Mamba-1, (n_heads,) Mamba-2; delta_fmt

    def check(self, p: ScanParams) -> None:
        a_shape = (p.d_inner, p.d_state) if p.mode == "mamba1" else (p.n_heads,)
        for name, arr, shape, fmt in (("A", self.A, a_shape, p.a_fmt), ("D", self.D, (p.d_inner,), p.d_fmt),
                                      ("bias", self.bias, (p.bias_count,), p.delta_fmt)):
            arr = np.asarray(arr)
            if arr.shape != shape:
                raise ParamsError(f"config {name}: expected shape {shape}, got {arr.shape}")
            if not np.all(fmt.contains(arr)):
                raise ParamsError(f"config {name}: raw codes outside {fmt}")


@dataclass(frozen=True)
class ScanInputsRaw:
    """One run of the unit's input streams as raw codes, token-major: T tokens of d_inner beats."""
    u: np.ndarray          # (T, d_inner) u_fmt
    delta: np.ndarray      # (T, d_inner) delta_fmt (Mamba-2: only each head's first channel is read)
    z: np.ndarray          # (T, d_inner) z_fmt (ignored without a gate)
    first: np.ndarray      # (T, d_inner) bool: this beat starts a new sequence for its channel
    B: np.ndarray          # (T, d_state) b_fmt
    C: np.ndarray          # (T, d_state) c_fmt

    def check(self, p: ScanParams) -> None:
        T = np.asarray(self.u).shape[0]
        for name, fmt, cols in (("u", p.u_fmt, p.d_inner), ("delta", p.delta_fmt, p.d_inner),
                                ("z", p.z_fmt, p.d_inner), ("B", p.b_fmt, p.d_state),
                                ("C", p.c_fmt, p.d_state)):
            arr = np.asarray(getattr(self, name))
            if arr.shape != (T, cols):
                raise ParamsError(f"input {name}: expected shape ({T}, {cols}), got {arr.shape}")
            if not np.all(fmt.contains(arr)):
                raise ParamsError(f"input {name}: raw codes outside {fmt}")
        if np.asarray(self.first).shape != (T, p.d_inner):
            raise ParamsError(f"input first: expected shape ({T}, {p.d_inner})")


@dataclass
class ScanResult:
    out: np.ndarray                 # (T, d_inner) raw out_fmt
    overflow: np.ndarray            # (T, d_inner) bool, sticky in output order
    clamped: np.ndarray             # (T, d_inner) bool, sticky in output order
    state: np.ndarray               # (d_inner, d_state) raw state_fmt after the last token
    stages: dict = field(default_factory=dict)   # every intermediate, for benches and debugging


def scan_eval(p: ScanParams, cfg: ScanConfig, run: ScanInputsRaw, *,
              initial_state: np.ndarray | None = None, sticky: bool = False,
              sticky_clamped: bool = False) -> ScanResult:
    """Outputs, sticky flags and final state of the unit for one run of its streams.

    ``initial_state`` is the state memory's content at the start (zeros by default; it matters for
    channels whose first beat does not set ``first``); ``sticky`` and ``sticky_clamped`` are the
    flags' values at the start.
    """
    cfg.check(p)
    run.check(p)
    rnd = p.rounding
    dp = ScanDatapath(p)                                         # every rounding shift
    r = lambda v, s: shift_round(v, s, rnd)                      # noqa: E731
    u, delta, z, B, C = (_i64(getattr(run, k)) for k in ("u", "delta", "z", "B", "C"))
    first = np.asarray(run.first, dtype=bool)
    T, Dn = u.shape[0], p.d_inner
    ev = _Events((T, Dn))
    A, Dp, bias = _i64(cfg.A), _i64(cfg.D), _i64(cfg.bias)

    # 1-4: dt and dA (per head in Mamba-2, computed from each head's first channel)
    step = _dt_mamba1 if p.mode == "mamba1" else _dt_mamba2
    x, dt, w, dA, clamped = step(p, dp, r, ev, delta, A, bias)

    # 5-6: dt*u once per (token, channel), then dt*u*B per state
    dtu_raw = r(dt * u, dp.dtu_shift)
    dtu = p.dtu_fmt.saturate(dtu_raw)
    ev.mark("dtu", dtu != dtu_raw)
    dBu_raw = r(dtu[:, :, None] * B[:, None, :], dp.dbu_shift)
    dBu = p.state_fmt.saturate(dBu_raw)
    ev.mark("dBu", (dBu != dBu_raw).any(-1))

    hs, h = _recurrence(p, dp, r, ev, dA, dBu, first, initial_state)

    # 8-10: output
    acc = np.einsum("ldn,ln->ld", hs, C)                                       # exact
    y_raw = r(acc, dp.y_shift)
    y = p.y_fmt.saturate(y_raw)
    ev.mark("y", y != y_raw)
    du = r(Dp[None, :] * u, dp.du_shift)
    yd_raw = y + du
    yd = p.y_fmt.saturate(yd_raw)
    ev.mark("yd", yd != yd_raw)
    if p.gate:
        g = nli_eval(p.silu, z)
        out_raw = r(yd * g, dp.out_shift)
    else:
        g = np.zeros_like(z)
        out_raw = r(yd, dp.out_shift)
    out = p.out_fmt.saturate(out_raw)
    ev.mark("out", out != out_raw)
    def sticky_of(f, start):
        return np.logical_or.accumulate(f.reshape(-1)).reshape(T, Dn) | bool(start)
    stages = dict(x=x, dt=dt, w=w, dA=dA, dtu=dtu, dBu=dBu, h=hs, acc=acc, y=y, yd=yd, g=g,
                  flag=ev.flag, clamped=clamped, events=ev.events)
    return ScanResult(out=out, overflow=sticky_of(ev.flag, sticky),
                      clamped=sticky_of(clamped, sticky_clamped), state=h, stages=stages)


def _i64(a):
    return np.asarray(a, dtype=np.int64)


class _Events:
    """Saturation events by step, per beat, and their OR (the overflow flag before stickiness)."""

    def __init__(self, shape):
        self.shape = shape
        self.flag = np.zeros(shape, dtype=bool)
        self.events: dict[str, np.ndarray] = {}

    def mark(self, name, hit):
        self.events[name] = self.events.get(name, np.zeros(self.shape, dtype=bool)) | hit
        self.flag = self.flag | hit


def _dt_mamba1(p, dp, r, ev, delta, A, bias):
    """Steps 1-4 per channel: (x, dt, w, dA, clamped); dt, clamped (T, D), w, dA (T, D, N)."""
    x_raw = delta + bias[None, :]
    x = p.delta_fmt.saturate(x_raw)
    ev.mark("x", x_raw > p.delta_fmt.max_raw)
    clamped = x_raw < p.delta_fmt.min_raw
    dt = nli_eval(p.softplus, x)                                           # (T, D)
    w_raw = r(dt[:, :, None] * A[None, :, :], dp.w_shift)
    w = p.w_fmt.saturate(w_raw)
    ev.mark("w", (w_raw > p.w_fmt.max_raw).any(-1))
    dA = p.dam_fmt.saturate(r(nli_eval(p.exp, w), dp.da_shift))             # (T, D, N)
    return x, dt, w, dA, clamped


def _dt_mamba2(p, dp, r, ev, delta, A, bias):
    """Steps 1-4 per head, from each head's first channel: (x, dt, w, dA, clamped); x, w (T, H),
    dt, clamped (T, D), dA (T, D, N) repeated over each head's channels and the states."""
    hd = p.headdim
    T, Dn, N = delta.shape[0], p.d_inner, p.d_state
    x_raw = delta[:, ::hd] + bias[None, :]                                 # (T, H)
    x = p.delta_fmt.saturate(x_raw)
    ev.mark("x", np.repeat(x_raw > p.delta_fmt.max_raw, hd, axis=1))
    clamped = np.repeat(x_raw < p.delta_fmt.min_raw, hd, axis=1)
    dt_h = nli_eval(p.softplus, x)
    w_raw = r(dt_h * A[None, :], dp.w_shift)
    w = p.w_fmt.saturate(w_raw)
    ev.mark("w", np.repeat(w_raw > p.w_fmt.max_raw, hd, axis=1))
    dA_h = p.dam_fmt.saturate(r(nli_eval(p.exp, w), dp.da_shift))           # (T, H)
    dt = np.repeat(dt_h, hd, axis=1)
    dA = np.broadcast_to(np.repeat(dA_h, hd, axis=1)[:, :, None], (T, Dn, N))
    return x, dt, w, dA, clamped


def _recurrence(p, dp, r, ev, dA, dBu, first, initial_state):
    """Step 7, the only loop (over tokens; vectorized over channels and states): every token's
    state (T, D, N) and the last one."""
    T, Dn, N = dBu.shape
    h = np.zeros((Dn, N), dtype=np.int64) if initial_state is None else _i64(initial_state).copy()
    if h.shape != (Dn, N) or not np.all(p.state_fmt.contains(h)):
        raise ParamsError(f"initial_state: expected ({Dn}, {N}) raw codes of {p.state_fmt}")
    hs = np.empty((T, Dn, N), dtype=np.int64)
    h_sat = np.zeros((T, Dn), dtype=bool)
    for l in range(T):
        h = np.where(first[l][:, None], 0, h)
        h_raw = r(dA[l] * h, dp.dah_shift) + dBu[l]
        h = p.state_fmt.saturate(h_raw)
        h_sat[l] = (h != h_raw).any(-1)
        hs[l] = h
    ev.mark("h", h_sat)
    return hs, h
