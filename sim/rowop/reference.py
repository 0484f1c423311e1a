"""Float64 references of the row operations, with torch semantics.

- ``softmax_ref``: exp(x_i - max x) / sum_j exp(x_j - max x) over the last axis; masked entries
  (``mask`` True, -inf in torch) contribute 0 and output 0. A fully masked row gives NaN, as torch
  does (the hardware unit outputs zeros there and raises its ``empty`` flag; see ``golden.py``).
- ``rmsnorm_ref``: x_i * rsqrt(mean(x^2) + eps) * w_i (Llama's RMSNorm).
- ``layernorm_ref``: (x_i - mean) * rsqrt(var + eps) * w_i + b_i, biased variance (torch).

Rows may be shorter than the array (``lengths``); entries beyond a row's length are ignored and
output 0.
"""
from __future__ import annotations

import numpy as np

from nlihw.errors import ParamsError


def _rows(x, lengths):
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ParamsError(f"x must be 2-D (rows, columns), got shape {x.shape}")
    cols = np.arange(x.shape[1])
    lengths = np.full(x.shape[0], x.shape[1]) if lengths is None else np.asarray(lengths)
    return x, cols[None, :] < lengths[:, None], lengths


def softmax_ref(x, mask=None, lengths=None) -> np.ndarray:
    x, valid, _ = _rows(x, lengths)
    if mask is not None:
        valid = valid & ~np.asarray(mask, dtype=bool)
    xm = np.where(valid, x, -np.inf)
    with np.errstate(invalid="ignore"):
        m = xm.max(axis=1, keepdims=True)
        e = np.where(valid, np.exp(xm - m), 0.0)
        s = e.sum(axis=1, keepdims=True)
        p = e / s
    p[~valid.any(axis=1)] = np.nan                 # torch: a fully masked row is NaN
    return np.where(valid | ~valid.any(axis=1, keepdims=True), p, 0.0)


def rmsnorm_ref(x, w, eps: float, lengths=None) -> np.ndarray:
    x, valid, n = _rows(x, lengths)
    xv = np.where(valid, x, 0.0)
    ms = (xv * xv).sum(axis=1, keepdims=True) / n[:, None]
    return np.where(valid, xv / np.sqrt(ms + eps) * np.asarray(w, dtype=np.float64)[None, :], 0.0)


def layernorm_ref(x, w, b, eps: float, lengths=None) -> np.ndarray:
    x, valid, n = _rows(x, lengths)
    xv = np.where(valid, x, 0.0)
    mean = xv.sum(axis=1, keepdims=True) / n[:, None]
    c = np.where(valid, xv - mean, 0.0)
    var = (c * c).sum(axis=1, keepdims=True) / n[:, None]
    y = c / np.sqrt(var + eps) * np.asarray(w, dtype=np.float64)[None, :] \
        + np.asarray(b, dtype=np.float64)[None, :]
    return np.where(valid, y, 0.0)
