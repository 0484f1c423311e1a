"""The once-per-row steps of the norm unit (``hdl/rowop/norm.py``), steps 2-7 of
``sim/rowop/golden.py``'s ``norm_eval`` table: the combinational expressions each FSM state
registers. Every variable shift is formed as a left shift by (max - s) followed by one constant
``round_shift`` (as ``softmax.py`` does for its k): the same value with the same single rounding,
since the left shift only appends zero bits below the dropped ones.
"""
from __future__ import annotations

from amaranth.hdl import Shape

from nlihw.hdl.common.fixed_point import round_shift, saturate
from .params import NormParams

__all__ = ["k_shape", "z_max", "y_shift_span", "n_scaled", "var_rms", "var_num", "var_num_cut",
           "rn_squared", "var_layer", "mean_shift", "mantissa", "layer_scale"]


def k_shape(p: NormParams) -> Shape:
    """k in k_min..k_max (signed when k_min < 0)."""
    return Shape.cast(range(p.k_min, p.k_max + 1))


def z_max(p: NormParams) -> int:
    """The largest z of step 8 (z = j for layer, 0 for rms)."""
    return p.j_max if p.kind == "layer" else 0


def y_shift_span(p: NormParams) -> int:
    """sh_max - sh_min of step 8: the range of (k_max - k) + (z_max - z)."""
    return p.k_max - p.k_min + z_max(p)


def n_scaled(p: NormParams, n, j):
    """Step 2: n_s = n 2^(F_ns - j) (exact; j <= F_ns + 1), the reciprocal's input."""
    fns = p.reciprocal.layout.in_fmt
    return ((n << (fns.frac_bits + 1)) >> (j + 1))[:fns.width]


def var_rms(p: NormParams, Q, rn, j):
    """Step 4r: v = r_{2F_x + F_rn + j - F_v}(Q rn) + eps."""
    Fx, Frn, Fv = p.in_fmt.frac_bits, p.rn_fmt.frac_bits, p.v_frac_bits
    q = (Q * rn) << (p.j_max - j).as_unsigned()
    return round_shift(q, 2 * Fx + Frn + p.j_max - Fv, p.rounding) + p.eps_code


def var_num(p: NormParams, n, Q, X):
    """Step 4l: N = n Q - X^2 (exact, >= 0)."""
    return (n * Q - X * X)[:p.var_num_width]


def var_num_cut(p: NormParams, N, j):
    """Step 4l: N' = fl_{2j - G}(N) = floor(N 2^G / 2^(2j)) (N >= 0)."""
    return (N << p.guard_bits) >> (j << 1)


def rn_squared(p: NormParams, rn):
    """Step 4l: rn2 = r_{F_rn}(rn rn), <= 1."""
    return round_shift(rn * rn, p.rn_fmt.frac_bits, p.rounding)[:p.rn_fmt.width]


def var_layer(p: NormParams, Nr, rn2):
    """Step 4l: v = r_{2F_x + G + F_rn - F_v}(N' rn2) + eps."""
    Fx, Frn, Fv = p.in_fmt.frac_bits, p.rn_fmt.frac_bits, p.v_frac_bits
    return round_shift(Nr * rn2, 2 * Fx + p.guard_bits + Frn - Fv, p.rounding) + p.eps_code


def mean_shift(p: NormParams, X, rn, j):
    """Deferred layer: mean = sat(r_{F_rn + j - E}(X rn)) in mean_fmt."""
    q = (X * rn) << (p.j_max - j).as_unsigned()
    v = round_shift(q, p.rn_fmt.frac_bits + p.j_max - p.mean_extra_bits, p.rounding)
    return saturate(v, p.mean_fmt)[0]


def mantissa(p: NormParams, v, pos):
    """Step 5 from pos = msb(v): (k, s) with k = floor((pos - F_v) / 2) and
    s = fl_{F_v + 2k - F_s}(v) in [1, 4). F_v + 2k = pos - par >= -1 (par = the parity of
    pos - F_v), so s = (v 2^(F_s + 1)) >> (pos - par + 1), a plain right shift."""
    Fv, Fs = p.v_frac_bits, p.s_fmt.frac_bits
    par = pos[0] ^ (Fv & 1)
    k = (pos - par - Fv) >> 1                        # pos - par - F_v is even: exact
    s = ((v << (Fs + 1)) >> (pos + 1 - par).as_unsigned())[:p.s_fmt.width]
    return k.as_signed(), s


def layer_scale(p: NormParams, rs, rn):
    """Step 7l: g = sat(r_{F_rs + F_rn - F_g}(rs rn)) in scale_fmt."""
    sh = p.rs_fmt.frac_bits + p.rn_fmt.frac_bits - p.scale_fmt.frac_bits
    return saturate(round_shift(rs * rn, sh, p.rounding), p.scale_fmt)[0]

