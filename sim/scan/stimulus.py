"""Selective-scan inputs drawn like a freshly initialised Mamba layer (mamba_simple / mamba2_simple).

A = -exp(A_log) with A_log = log(1..N) per channel (Mamba-2: one A per head, uniform in
[1, 16]); delta_bias = inverse softplus of dt drawn log-uniform in [dt_min, dt_max]; D = 1;
u, z, B, C standard normal; delta = delta_scale * standard normal, so that
dt = softplus(delta + delta_bias) stays mostly within [dt_min, dt_max].
"""
from dataclasses import dataclass, fields
import math
import numbers

import numpy as np

from nlihw.errors import ParamsError
from nlihw.sim.scan.reference import inverse_softplus

__all__ = ["ScanInputs", "mamba_inputs"]


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
