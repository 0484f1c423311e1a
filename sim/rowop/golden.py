"""Bit-exact golden models of the row-operation units: integer-only numpy, the specification of the
RTL to come. One function per op; each takes raw integer codes (rows x columns, optional per-row
``lengths`` and, for softmax, a ``mask``) and returns raw codes plus per-row flags.

Notation: r_s(v) = v / 2^s rounded once by ``p.rounding`` (nearest-even by default;
``formats.round_shift_code``); fl_s(v) = floor(v / 2^s) (truncation, a plain wire shift; a
negative s is an exact left shift); sat_F saturates into F; msb(v) = floor(log2 v) is the
leading-one detector. F_X is the fraction bits of format X. Every NLI step is ``nli_eval`` of the
table the engine runs (``p.engine_table``: the NLI table, or a full-LUT / uniform-PWL baseline).
Rows: entries at columns >= the row's length are not part of the row and output 0.

Softmax (``softmax_eval``), per row; int16 / int8 preset formats in the last column:

====  ===========================================  ================================================
step  operation                                    format (int16 / int8)
====  ===========================================  ================================================
1     m = max x over unmasked entries              in_fmt (s6.10 / s5.3)
2     d = sat(x - m)  (x - m <= 0, exact)          d_fmt = exp input (s5.10 / s5.3); diff in W+1
3     e = NLI_exp(d); masked entries e = 0         e_fmt = exp output (u1.17 / u1.11); d < -R: 0,
                                                   d = 0: exactly 1
4     S = sum e  (exact)                           acc_fmt (u13.17 / u13.11 at n_max 4096)
5     k = msb(S) - F_e  (S >= 1 so k >= 0)         0..k_max (12), k_width bits
      s = fl_{F_e + k - F_s}(S)   (truncation)     s_fmt = reciprocal input, s in [1, 2) (u1.17 /
                                                   u1.11)
6     r = NLI_reciprocal(s), r in (0.5, 1]         r_fmt (u1.17 / u1.11)
7     p = sat(r_{F_e + F_r + k - F_out}(e * r))    out_fmt (u0.16 / u0.8); e*r exact in
      (one rounding; the row's flag if clipped)    product_width bits
====  ===========================================  ================================================

Output modes: ``normalized`` returns p; ``deferred`` returns e (step 3) and the row's (r, k):
p = e r 2^-(F_r + k) in e's units, for a consumer that folds the scale into the next matmul.
A fully masked (or empty) row has no maximum: its outputs are 0, r = k = 0, and its ``empty``
flag is set (torch would give NaN). A one-hot row (one element beyond R above the rest) has
p = 1, which saturates to out_fmt's largest code (1 - 2^-F_out) and sets ``sat``.

RMSNorm / LayerNorm (``norm_eval``), per row of length n (1..n_max):

====  ===========================================  ================================================
step  operation                                    format (int16 / int8)
====  ===========================================  ================================================
1     Q = sum x^2, X = sum x  (exact)              sumsq_fmt (u28.16 / u22.6), sum_fmt (s21.8)
2     j = msb(n), n_s = n 2^(F_ns - j)  (exact)    reciprocal input (u1.17 / u1.11)
3     rn = NLI_reciprocal(n_s) = 2^j / n           rn_fmt (u1.17 / u1.11); n = 2^j: exactly 1
4r    v = r_{2F_x + F_rn + j - F_v}(Q rn) + eps    v_fmt (u16.24 / u10.12); eps_code = rnd(eps
      (rms: mean(x^2) + eps, one rounding)         2^F_v) >= 1 (int16 1e-5 -> 168, int8 1e-3 -> 4)
4l    N = n Q - X^2  (exact, = n^2 var, >= 0)      var_num_width bits (57 / 41)
      N' = fl_{2j - G}(N)  (truncation)            G = guard_bits (10 / 6): N' <= 2^(2W+G)
      rn2 = r_{F_rn}(rn * rn)                      rn_fmt (1/n_s^2)
      v = r_{2F_x + G + F_rn - F_v}(N' rn2) + eps  v_fmt (layer: var + eps)
5     e = msb(v) - F_v, k = floor(e / 2)           k_min..k_max (-9..7 / -5..4)
      s = fl_{F_v + 2k - F_s}(v), s in [1, 4)      s_fmt = rsqrt input (u2.16 / u2.10)
6     rs = NLI_rsqrt(s); rsqrt(v) = rs 2^-k        rs_fmt (u1.17 / u1.11)
7r    c = x, g = rs, z = 0                         (rms)
7l    c = n x - X  (= n (x - mean), exact)         centered_width bits (29 / 21)
      g = r_{F_rs + F_rn - F_g}(rs * rn)           scale_fmt (u1.17 / u1.11); z = j (the 1/n)
8     y = sat(r_{sh}(c g w + b 2^(F_out - F_b)     out_fmt (s8.8 / s5.3); sh = F_x + F_g + F_w
      2^sh))  (one rounding of the exact sum)      - F_out + k + z >= 1; c g w in product_width
====  ===========================================  ================================================

Output modes: ``normalized`` returns y; ``deferred`` returns per row the scale (rs, k) (rsqrt(v)
= rs 2^-(F_rs + k)) and, for LayerNorm, the shift mean = r_{F_rn + j - E}(X rn) in mean_fmt
(E = mean_extra_bits): y ~ (x - mean) rs 2^-k w + b, w and b folded into the consumer.

1/n: the reciprocal engine (step 2-3) rather than a table of n_max constants: it is one small NLI
table (M=11, K=32: 321 values of 18 bits, ~6 kbit, vs 4096 x 18 bits = 74 kbit for the constant
table at n_max 4096), used once per row (so one engine serves every lane, and a unit that also
does softmax shares it), and exact enough: its relative error (1.4e-5 for int16,
6e-4 for int8; exactly 0 for n a power of two) reaches the output halved through rsqrt for
RMSNorm, below the rsqrt table's own error.
Edge cases: an all-zero row has v = eps and outputs 0 (rms) or b (layer); a row of equal values
has N = 0 exactly and c = 0, so LayerNorm outputs exactly b; a length-1 row: RMSNorm gives
x rsqrt(x^2 + eps) w ~ sign(x) w, LayerNorm b.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nlihw.errors import ParamsError
from nlihw.formats import rounding_code
from nlihw.hdl.rowop.params import NormParams, SoftmaxParams
from nlihw.luts.golden import nli_eval


@dataclass
class SoftmaxResult:
    out: np.ndarray          # (rows, cols): p (normalized) or e (deferred) raw codes
    r: np.ndarray            # (rows,) r_fmt raw codes (0 for an empty row)
    k: np.ndarray            # (rows,) exponents
    sat: np.ndarray          # (rows,) bool: some p saturated (normalized mode)
    empty: np.ndarray        # (rows,) bool: no unmasked entry; outputs 0
    stages: dict = field(default_factory=dict)


@dataclass
class NormResult:
    out: np.ndarray          # (rows, cols): y raw codes (normalized mode), else zeros
    scale: np.ndarray        # (rows,) rs_fmt raw codes: rsqrt(v) = rs 2^-k
    k: np.ndarray            # (rows,)
    mean: np.ndarray         # (rows,) mean_fmt raw codes (layer), else zeros
    sat: np.ndarray          # (rows,) bool: some y saturated (normalized mode)
    stages: dict = field(default_factory=dict)


def msb(v) -> np.ndarray:
    """floor(log2 v) of positive int64 values (the leading-one detector); -1 for v = 0."""
    v = np.asarray(v, dtype=np.int64)
    r = np.zeros(v.shape, dtype=np.int64)
    for sh in (32, 16, 8, 4, 2, 1):
        hit = (v >> (r + sh)) > 0
        r = r + np.where(hit, sh, 0)
    return np.where(v > 0, r, -1)


def floor_shift(v, s) -> np.ndarray:
    """fl_s(v): floor(v / 2^s) per element; a negative s is an exact left shift."""
    v, s = np.asarray(v, dtype=np.int64), np.asarray(s, dtype=np.int64)
    return np.where(s >= 0, v >> np.clip(s, 0, 63), v << np.clip(-s, 0, 63))


def round_shift(v, s, rounding, add=0) -> np.ndarray:
    """r_s(v + add 2^s): the exact sum v + add 2^s divided by 2^s with one rounding, per element
    (s >= 1 where it matters; s <= 0 is exact). ``add`` never has to be shifted up, so nothing
    beyond v's width is formed."""
    mode = rounding_code(rounding)
    v, s = np.asarray(v, dtype=np.int64), np.asarray(s, dtype=np.int64)
    add = np.asarray(add, dtype=np.int64)
    sc = np.clip(s, 1, 62)
    base = v >> sc
    rem = v - (base << sc)
    fl = base + add
    # rounding of (fl 2^s + rem) / 2^s: round_shift_code's rule, on the exact sum
    half = np.int64(1) << (sc - 1)
    if mode == 3:                                     # floor
        up = np.zeros(v.shape, dtype=bool)
    elif mode == 2:                                   # toward zero: the sum < 0 iff fl < 0
        up = (fl < 0) & (rem != 0)
    elif mode == 1:                                   # nearest away
        up = (rem > half) | ((rem == half) & (fl >= 0))
    else:                                             # nearest even
        up = (rem > half) | ((rem == half) & ((fl & 1) == 1))
    out = fl + up
    return np.where(s >= 1, out, (v << np.clip(-s, 0, 62)) + add)


def _rows(x, lengths, lo_len: int, n_max: int, name: str):
    x = np.asarray(x, dtype=np.int64)
    if x.ndim != 2:
        raise ParamsError(f"{name}: x must be 2-D (rows, columns), got shape {x.shape}")
    if x.shape[1] > n_max:
        raise ParamsError(f"{name}: rows of {x.shape[1]} columns exceed n_max={n_max}")
    lengths = np.full(x.shape[0], x.shape[1], dtype=np.int64) if lengths is None \
        else np.asarray(lengths, dtype=np.int64)
    if lengths.shape != (x.shape[0],) or np.any(lengths < lo_len) or np.any(lengths > x.shape[1]):
        raise ParamsError(f"{name}: lengths must be {lo_len}..{x.shape[1]}, one per row")
    valid = np.arange(x.shape[1])[None, :] < lengths[:, None]
    return x, lengths, valid


def softmax_eval(p: SoftmaxParams, x, mask=None, lengths=None) -> SoftmaxResult:
    """The softmax unit on rows of raw ``p.in_fmt`` codes (see the module docstring's table).
    ``mask`` (bool, same shape): True excludes the entry (-inf in torch)."""
    x, lengths, valid = _rows(x, lengths, 0, p.n_max, "softmax")
    if not np.all(p.in_fmt.contains(x)):
        raise ParamsError(f"softmax: x holds codes outside {p.in_fmt}")
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != x.shape:
            raise ParamsError(f"softmax: mask must have the shape of x {x.shape}")
        valid = valid & ~mask
    empty = ~valid.any(axis=1)
    m = np.where(valid, x, p.in_fmt.min_raw).max(axis=1)                       # 1
    d = p.d_fmt.saturate(x - m[:, None])                                       # 2
    e = np.where(valid, nli_eval(p.engine_table("exp"), d), 0)                  # 3
    S = e.sum(axis=1)                                                          # 4
    Fe, Fs, Fr, Fo = (p.e_fmt.frac_bits, p.s_fmt.frac_bits, p.r_fmt.frac_bits,
                      p.out_fmt.frac_bits)
    k = np.where(empty, 0, msb(S) - Fe)                                        # 5
    s = np.where(empty, 1 << Fs, floor_shift(S, Fe + k - Fs))
    r = np.where(empty, 0, nli_eval(p.engine_table("reciprocal"), s))           # 6
    stages = dict(m=m, d=d, e=e, S=S, s=s)
    if p.output_mode == "deferred":
        return SoftmaxResult(out=e, r=r, k=k, sat=np.zeros(len(x), dtype=bool), empty=empty,
                             stages=stages)
    prod = e * r[:, None]                                                      # 7
    p_raw = round_shift(prod, (Fe + Fr - Fo + k)[:, None], p.rounding)
    out = np.where(valid, p.out_fmt.saturate(p_raw), 0)
    sat = (valid & (p_raw != out)).any(axis=1)
    stages.update(prod=prod, p_raw=p_raw)
    return SoftmaxResult(out=out, r=r, k=k, sat=sat, empty=empty, stages=stages)


def norm_eval(p: NormParams, x, w, b=None, lengths=None) -> NormResult:
    """The RMSNorm / LayerNorm unit on rows of raw ``p.in_fmt`` codes; ``w`` (and ``b`` for
    layer) raw per-channel codes of length >= the columns (see the module docstring's table)."""
    x, n, valid = _rows(x, lengths, 1, p.n_max, "norm")
    cols = x.shape[1]
    w = np.asarray(w, dtype=np.int64)
    if w.shape != (cols,) or not np.all(p.w_fmt.contains(w)):
        raise ParamsError(f"norm: w must be {cols} codes of {p.w_fmt}")
    if p.kind == "layer":
        if b is None:
            raise ParamsError("norm: b is required for kind='layer'")
        b = np.asarray(b, dtype=np.int64)
        if b.shape != (cols,) or not np.all(p.b_fmt.contains(b)):
            raise ParamsError(f"norm: b must be {cols} codes of {p.b_fmt}")
    if not np.all(p.in_fmt.contains(x)):
        raise ParamsError(f"norm: x holds codes outside {p.in_fmt}")
    rnd = p.rounding
    Fx, Fv, Fs = p.in_fmt.frac_bits, p.v_frac_bits, p.s_fmt.frac_bits
    Fn, Frn, Frs = p.reciprocal.layout.in_fmt.frac_bits, p.rn_fmt.frac_bits, p.rs_fmt.frac_bits
    Fg, Fw, Fo = p.scale_fmt.frac_bits, p.w_fmt.frac_bits, p.out_fmt.frac_bits
    xv = np.where(valid, x, 0)
    Q = (xv * xv).sum(axis=1)                                                  # 1
    X = xv.sum(axis=1)
    j = msb(n)                                                                 # 2
    n_s = floor_shift(n, j - Fn)                                               # exact
    rn = nli_eval(p.engine_table("reciprocal"), n_s)                            # 3
    if p.kind == "rms":                                                        # 4r
        v = round_shift(Q * rn, 2 * Fx + Frn + j - Fv, rnd) + p.eps_code
        N = Nr = rn2 = np.zeros_like(Q)
    else:                                                                      # 4l
        N = n * Q - X * X
        G = p.guard_bits
        Nr = floor_shift(N, 2 * j - G)
        rn2 = round_shift(rn * rn, np.full_like(rn, Frn), rnd)
        v = round_shift(Nr * rn2, np.full_like(Nr, 2 * Fx + G + Frn - Fv), rnd) + p.eps_code
    k = (msb(v) - Fv) >> 1                                                     # 5
    s = floor_shift(v, Fv + 2 * k - Fs)
    rs = nli_eval(p.engine_table("rsqrt"), s)                                   # 6
    stages = dict(Q=Q, X=X, j=j, n_s=n_s, rn=rn, N=N, Nr=Nr, rn2=rn2, v=v, s=s, rs=rs)
    zeros = np.zeros(x.shape[0], dtype=np.int64)
    if p.kind == "layer":
        mean = round_shift(X * rn, Frn + j - p.mean_extra_bits, rnd)
        mean = p.mean_fmt.saturate(mean)
    else:
        mean = zeros
    if p.output_mode == "deferred":
        return NormResult(out=np.zeros_like(x), scale=rs, k=k, mean=mean,
                          sat=np.zeros(x.shape[0], dtype=bool), stages=stages)
    if p.kind == "rms":                                                        # 7r
        c, g, z = xv, rs, zeros
        b_out = np.zeros(cols, dtype=np.int64)
    else:                                                                      # 7l
        c = np.where(valid, n[:, None] * xv - X[:, None], 0)
        g = p.scale_fmt.saturate(round_shift(rs * rn, np.full_like(rs, Frs + Frn - Fg), rnd))
        z = j
        b_out = b << (Fo - p.b_fmt.frac_bits)
    prod = c * g[:, None] * w[None, :]                                         # 8
    sh = (Fx + Fg + Fw - Fo + k + z)[:, None]
    y_raw = round_shift(prod, sh, rnd, add=np.broadcast_to(b_out[None, :], prod.shape))
    y = np.where(valid, p.out_fmt.saturate(y_raw), 0)
    sat = (valid & (y != y_raw)).any(axis=1)
    stages.update(c=c, g=g, prod=prod, y_raw=y_raw)
    return NormResult(out=y, scale=rs, k=k, mean=mean, sat=sat, stages=stages)
