"""Selective-scan inputs drawn like a freshly initialised Mamba layer (mamba_simple / mamba2_simple).

A = -exp(A_log) with A_log = log(1..N) per channel (Mamba-2: one A per head, uniform in
[1, 16]); delta_bias = inverse softplus of dt drawn log-uniform in [dt_min, dt_max]; D = 1;
u, z, B, C standard normal; delta = delta_scale * standard normal, so that
dt = softplus(delta + delta_bias) stays mostly within [dt_min, dt_max].

``saturating_inputs`` keeps that structure but drives the state and the output out of range: the
decay is slow, u*B keeps one sign per (channel, state) for the first half of the sequence and the
other sign after it, and C and z are large, so h integrates to one end of its range, then the other.

``heavy_tailed_inputs`` is a second family, for accuracy figures on inputs the presets were not
tuned on: Student-t(3) u and z, S4D-real A = -(1..N), every token's dt log-uniform in [1e-3, 1e-1].
"""
from dataclasses import dataclass, fields, replace
import math
import numbers

import numpy as np

from nlihw.errors import ParamsError
from nlihw.sim.scan.reference import inverse_softplus

__all__ = ["ScanInputs", "mamba_inputs", "saturating_inputs", "heavy_tailed_inputs"]


@dataclass(frozen=True)
class ScanInputs:
    """One draw of scan inputs (read-only float64 arrays); shapes as in selective_scan_ref."""

    u: np.ndarray
    delta: np.ndarray
    A: np.ndarray
    B: np.ndarray
    C: np.ndarray
    D: np.ndarray
    z: np.ndarray
    delta_bias: np.ndarray
    headdim: int | None  # None in Mamba-1 mode

    def kwargs(self, *, z=True):
        """Keyword arguments for selective_scan_ref (delta_softplus=True, as a Mamba layer)."""
        args = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "headdim"}
        if not z:
            args["z"] = None
        if self.headdim is not None:
            args["headdim"] = self.headdim
        args["delta_softplus"] = True
        return args


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ParamsError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def mamba_inputs(d_inner, d_state, L, rng, *, mode="mamba1", headdim=None, n_sequences=None,
                 dt_min=0.001, dt_max=0.1, delta_scale=0.1):
    """Draw one set of scan inputs from the numpy Generator ``rng``.

    mode "mamba1": A (d_inner, d_state), delta (.., d_inner, L), delta_bias (d_inner,).
    mode "mamba2": headdim (required) consecutive channels per head; A (n_heads,),
    delta (.., n_heads, L), delta_bias (n_heads,). D is (d_inner,) ones in both modes.
    n_sequences=None gives unbatched arrays; an integer adds that leading batch dimension to
    u, delta, z, B and C. L may be 0.
    """
    d_inner = _positive_int("d_inner", d_inner)
    d_state = _positive_int("d_state", d_state)
    if isinstance(L, bool) or not isinstance(L, numbers.Integral) or L < 0:
        raise ParamsError(f"L must be a non-negative integer, got {L!r}")
    if not isinstance(rng, np.random.Generator):
        raise ParamsError("rng must be a numpy.random.Generator (np.random.default_rng(seed))")
    if not (0 < dt_min <= dt_max and math.isfinite(dt_max)):
        raise ParamsError(f"need 0 < dt_min <= dt_max, got dt_min={dt_min}, dt_max={dt_max}")
    if not (delta_scale >= 0 and math.isfinite(delta_scale)):
        raise ParamsError(f"delta_scale must be finite and >= 0, got {delta_scale}")
    batch = () if n_sequences is None else (_positive_int("n_sequences", n_sequences),)

    if mode == "mamba1":
        if headdim is not None:
            raise ParamsError("headdim is only for mode='mamba2'")
        A = -np.exp(np.tile(np.log(np.arange(1, d_state + 1, dtype=np.float64)), (d_inner, 1)))
        n_groups = d_inner
    elif mode == "mamba2":
        headdim = _positive_int("headdim", headdim) if headdim is not None else None
        if headdim is None or d_inner % headdim:
            raise ParamsError(f"mode='mamba2' needs a headdim that divides d_inner = {d_inner}, "
                              f"got {headdim!r}")
        n_groups = d_inner // headdim
        A = -np.exp(np.log(rng.uniform(1.0, 16.0, n_groups)))  # A_log = log(A), as mamba2_simple
    else:
        raise ParamsError(f"mode must be 'mamba1' or 'mamba2', got {mode!r}")

    dt0 = np.exp(rng.uniform(math.log(dt_min), math.log(dt_max), n_groups))
    arrays = dict(
        A=A,
        delta_bias=inverse_softplus(dt0),
        D=np.ones(d_inner),
        u=rng.standard_normal(batch + (d_inner, L)),
        delta=delta_scale * rng.standard_normal(batch + (n_groups, L)),
        z=rng.standard_normal(batch + (d_inner, L)),
        B=rng.standard_normal(batch + (d_state, L)),
        C=rng.standard_normal(batch + (d_state, L)),
    )
    for arr in arrays.values():
        arr.flags.writeable = False
    return ScanInputs(headdim=headdim, **arrays)


def saturating_inputs(d_inner, d_state, L, rng, *, mode="mamba1", headdim=None, amplitude=8.0):
    """Mamba-shaped inputs (``mamba_inputs``' shapes, unbatched) that saturate the state and the
    output of a unit whose u, B, C and z reach about ``amplitude``: A scaled by 0.01 (decay near 1),
    dt in [0.2, 0.5], |u|, |B|, |C| in [amplitude/2, amplitude], z in [-amplitude/2, amplitude]."""
    if not (amplitude > 0 and math.isfinite(amplitude)):
        raise ParamsError(f"amplitude must be finite and > 0, got {amplitude}")
    x = mamba_inputs(d_inner, d_state, L, rng, mode=mode, headdim=headdim, dt_min=0.2, dt_max=0.5,
                     delta_scale=0.0)
    mag = lambda shape: amplitude * rng.uniform(0.5, 1.0, shape)              # noqa: E731
    sign_u = rng.choice([-1.0, 1.0], (d_inner, 1))
    sign_b = rng.choice([-1.0, 1.0], (d_state, 1))
    phase = np.where(np.arange(L) < L // 2, 1.0, -1.0)[None, :]
    arrays = dict(A=x.A * 0.01, u=sign_u * mag((d_inner, L)), B=sign_b * phase * mag((d_state, L)),
                  C=sign_b * mag((d_state, L)), z=amplitude * rng.uniform(-0.5, 1.0, (d_inner, L)))
    for arr in arrays.values():
        arr.flags.writeable = False
    return replace(x, **arrays)


def heavy_tailed_inputs(d_inner, d_state, L, rng, *, mode="mamba1", headdim=None, df=3.0,
                        dt_min=0.001, dt_max=0.1):
    """Scan inputs the presets were not tuned on (``mamba_inputs``' shapes, unbatched).

    u and z Student-t(``df``) (heavy tails: a few values far beyond the bench's normal draws);
    B, C standard normal; S4D-real A = -(1..N) in every channel (Mamba-2: head h has A = -(h+1));
    D = 1; delta_bias = inverse softplus of a per-channel (or per-head) dt0 log-uniform in
    [dt_min, dt_max]; each token's dt is drawn log-uniform in [dt_min, dt_max] too and realized
    through delta = softplus^-1(dt) - delta_bias, so softplus(delta + delta_bias) is exactly that dt.
    """
    if not (df > 0 and math.isfinite(df)):
        raise ParamsError(f"df must be finite and > 0, got {df}")
    x = mamba_inputs(d_inner, d_state, L, rng, mode=mode, headdim=headdim, dt_min=dt_min,
                     dt_max=dt_max, delta_scale=0.0)
    n_groups = x.delta.shape[0]
    if mode == "mamba1":
        A = -np.tile(np.arange(1, d_state + 1, dtype=np.float64), (d_inner, 1))
    else:
        A = -np.arange(1, n_groups + 1, dtype=np.float64)
    dt = np.exp(rng.uniform(math.log(dt_min), math.log(dt_max), (n_groups, L)))
    arrays = dict(A=A, u=rng.standard_t(df, (d_inner, L)), z=rng.standard_t(df, (d_inner, L)),
                  delta=inverse_softplus(dt) - x.delta_bias[:, None])
    for arr in arrays.values():
        arr.flags.writeable = False
    return replace(x, **arrays)
