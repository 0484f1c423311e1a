"""Float64 reference of the Mamba selective scan (Mamba-1 and Mamba-2 forms).

The accuracy yardstick for the fixed-point scan unit: the semantics of state-spaces/mamba's
`selective_scan_ref`, computed in float64, plus Mamba-2's scalar-A-per-head form.
"""
import numbers

import numpy as np

from nlihw.errors import ParamsError

__all__ = ["selective_scan_ref", "softplus", "inverse_softplus", "silu"]


def softplus(x):
    """log(1 + exp(x)), stable for any float64 x (no overflow, exact for large x)."""
    return np.logaddexp(0.0, np.asarray(x, dtype=np.float64))


def inverse_softplus(y):
    """The x with softplus(x) == y, for y > 0: y + log(-expm1(-y)) (stable for tiny and huge y)."""
    y = np.asarray(y, dtype=np.float64)
    if not np.all(np.isfinite(y)) or np.any(y <= 0):
        raise ParamsError("inverse_softplus needs finite y > 0")
    return y + np.log(-np.expm1(-y))


def silu(x):
    """x * sigmoid(x), with the sigmoid formed from exp(-|x|) so nothing overflows."""
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(-np.abs(x))
    sigmoid = np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return x * sigmoid


def _f64(name, value):
    """The argument as a float64 array; complex, non-numeric or non-finite input is an error."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":  # complex, strings, objects
        raise ParamsError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ParamsError(f"{name} must be finite")
    return arr


def _check_shape(name, arr, allowed):
    """Raise unless arr.shape is one of the allowed shapes (the message names the argument)."""
    if arr.shape not in allowed:
        want = " or ".join(str(s) for s in dict.fromkeys(allowed))
        raise ParamsError(f"{name} must have shape {want}, got {arr.shape}")


def selective_scan_ref(u, delta, A, B, C, D=None, z=None, delta_bias=None, *,
                       delta_softplus=True, initial_state=None, return_last_state=False,
                       headdim=None):
    """Run the selective scan over L tokens in float64; return out (and the last state if asked).

    Shapes (an optional leading batch dimension ``b`` applies to u, delta, z, B, C, initial_state
    and the results, all or none of them):

    - u, z: (D_inner, L). B, C: (N, L), per token, shared by all channels.
    - Mamba-1 (A.ndim == 2): A (D_inner, N); delta (D_inner, L); delta_bias (D_inner,).
    - Mamba-2 (A.ndim == 1): A (n_heads,), one scalar per head of ``headdim`` consecutive
      channels (D_inner == n_heads * headdim; headdim is inferred when None); delta
      (n_heads, L); delta_bias (n_heads,); D may be (D_inner,) or (n_heads,).
    - D: (D_inner,). initial_state: (D_inner, N). Results: out (D_inner, L), last state (D_inner, N).

    dt = softplus(delta + delta_bias) (softplus only if delta_softplus, bias only if given);
    per token l: h = exp(dt_l * A) * h + dt_l * u_l * B_l, y_l = h @ C_l, starting from
    initial_state (zeros if None); out = y + D * u if D is given; out *= silu(z) if z is given.
    Note: upstream's selective_scan_ref defaults delta_softplus to False; here it is True, as a
    Mamba layer calls it. A is meant to be negative (a decay) but its sign is not checked.
    Bad shapes or values raise ParamsError (a ValueError) naming the argument.
    """
    u, delta, A, B, C, D, z, delta_bias, h, per_group = _checked(
        u, delta, A, B, C, D, z, delta_bias, initial_state, headdim,
        delta_softplus=delta_softplus, return_last_state=return_last_state)
    length = u.shape[-1]

    dt = delta if delta_bias is None else delta + delta_bias[:, None]     # (b, G, L)
    if delta_softplus:
        dt = softplus(dt)
    if A.ndim == 1:
        # One exp per (token, head); the head's dt and decay are then shared by its channels.
        decay = np.repeat(np.exp(dt * A[:, None]), per_group, axis=-2)[..., None]  # (.., D, L, 1)
        dt = np.repeat(dt, per_group, axis=-2)                          # (b, D, L)
    dtu = dt * u                                                        # (b, D, L)
    y = np.empty(u.shape)
    for l in range(length):
        d_a = decay[..., l, :] if A.ndim == 1 else np.exp(dt[..., :, l, None] * A)  # (b, D, N|1)
        h = d_a * h + dtu[..., :, l, None] * B[..., None, :, l]         # (b, D, N)
        y[..., l] = (h * C[..., None, :, l]).sum(axis=-1)               # (b, D)
    out = y if D is None else y + D[:, None] * u
    if z is not None:
        out = out * silu(z)
    return (out, h) if return_last_state else out


def _heads(A, d_inner, headdim):
    """(groups, channels per group) of A: (D_inner, 1) for Mamba-1, (n_heads, headdim) for Mamba-2."""
    if A.ndim == 2:
        if headdim is not None:
            raise ParamsError("headdim is only for Mamba-2 mode (A of shape (n_heads,))")
        _check_shape("A", A, [(d_inner, A.shape[1])])
        return d_inner, 1
    if A.ndim != 1:
        raise ParamsError(f"A must have shape (D_inner, N) or (n_heads,), got {A.shape}")
    n_groups = A.shape[0]
    if n_groups == 0:
        raise ParamsError("A must have at least one head")
    if headdim is None:
        if d_inner % n_groups:
            raise ParamsError(f"A has {n_groups} heads, which do not divide D_inner = {d_inner}")
        headdim = d_inner // n_groups
    if (isinstance(headdim, bool) or not isinstance(headdim, numbers.Integral)
            or headdim < 1 or n_groups * headdim != d_inner):
        raise ParamsError(f"headdim = {headdim!r} with {n_groups} heads in A does not give "
                          f"D_inner = {d_inner}")
    return n_groups, int(headdim)


def _checked(u, delta, A, B, C, D, z, delta_bias, initial_state, headdim, **flags):
    """The arguments of ``selective_scan_ref`` as float64 arrays of checked shapes, D per
    channel and the initial state (zeros if None), plus the channels per group of A."""
    u = _f64("u", u)
    if u.ndim not in (2, 3):
        raise ParamsError(f"u must have shape (D_inner, L) or (batch, D_inner, L), got {u.shape}")
    batch = u.shape[:-2]
    d_inner, length = u.shape[-2:]
    A = _f64("A", A)
    n_groups, per_group = _heads(A, d_inner, headdim)

    B = _f64("B", B)
    if B.ndim != u.ndim:
        raise ParamsError(f"B must have shape {batch + ('N', length)}, got {B.shape}")
    n_state = A.shape[1] if A.ndim == 2 else B.shape[-2]
    _check_shape("B", B, [batch + (n_state, length)])
    C = _f64("C", C)
    _check_shape("C", C, [batch + (n_state, length)])
    delta = _f64("delta", delta)
    _check_shape("delta", delta, [batch + (n_groups, length)])
    if delta_bias is not None:
        delta_bias = _f64("delta_bias", delta_bias)
        _check_shape("delta_bias", delta_bias, [(n_groups,)])
    if D is not None:
        D = _f64("D", D)
        _check_shape("D", D, [(d_inner,), (n_groups,)])
        if D.shape[0] != d_inner:
            D = np.repeat(D, per_group)
    if z is not None:
        z = _f64("z", z)
        _check_shape("z", z, [u.shape])
    if initial_state is None:
        h = np.zeros(batch + (d_inner, n_state))
    else:
        h = _f64("initial_state", initial_state)
        _check_shape("initial_state", h, [batch + (d_inner, n_state)])
    for name, flag in flags.items():
        if not isinstance(flag, (bool, np.bool_)):
            raise ParamsError(f"{name} must be a bool, got {flag!r}")
    return u, delta, A, B, C, D, z, delta_bias, h, per_group
