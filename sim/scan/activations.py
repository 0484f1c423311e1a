"""A model's recorded scan activations from an ``.npz`` file, as ``ScanInputs``.

Array names and shapes mirror mamba's ``selective_scan_ref`` (an optional leading batch dimension
``b`` on u, delta, z, B and C, all or none of them):

- ``u`` (D_inner, L), ``delta`` (D_inner, L), ``B`` (N, L), ``C`` (N, L): required.
- ``A`` (D_inner, N): required (Mamba-1). A of shape (n_heads,) selects Mamba-2 (one A per head of
  D_inner / n_heads channels); delta and delta_bias are then (n_heads, L) and (n_heads,).
- ``z`` (D_inner, L): optional (absent: no gate). ``D`` (D_inner,), ``delta_bias`` (D_inner,):
  optional (absent: zeros). delta is the pre-softplus value: dt = softplus(delta + delta_bias).

Any other name, a wrong shape, a non-real dtype, a non-finite value or a file over the size
limit is a one-line ``ParamsError``; arrays are checked from their headers before they are read.
"""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

from nlihw.errors import ParamsError
from nlihw.atomic import read_regular
from .reference import selective_scan_ref
from .stimulus import ScanInputs

REQUIRED = ("u", "delta", "A", "B", "C")
OPTIONAL = ("z", "D", "delta_bias")
MAX_FILE_BYTES = 1 << 30          # the file, and the arrays once decompressed


def _headers(zf: zipfile.ZipFile, path: Path) -> dict[str, tuple[tuple, np.dtype]]:
    """name -> (shape, dtype) of every member, from the .npy headers alone."""
    out, total = {}, 0
    for info in zf.infolist():
        name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
        if name not in REQUIRED + OPTIONAL:
            raise ParamsError(f"{path}: unexpected array {name!r} (expected {', '.join(REQUIRED)} "
                              f"and optionally {', '.join(OPTIONAL)})")
        with zf.open(info) as f:
            try:
                version = np.lib.format.read_magic(f)
                shape, _, dtype = (np.lib.format.read_array_header_1_0(f) if version == (1, 0)
                                   else np.lib.format.read_array_header_2_0(f))
            except ValueError as e:
                raise ParamsError(f"{path}: array {name!r} is not a .npy array ({e})") from None
        if dtype.kind not in "fiu":
            raise ParamsError(f"{path}: array {name!r} must be real numbers, got dtype {dtype}")
        total += int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if total > MAX_FILE_BYTES:
            raise ParamsError(f"{path}: the arrays are larger than {MAX_FILE_BYTES >> 20} MiB")
        out[name] = (shape, dtype)
    missing = [n for n in REQUIRED if n not in out]
    if missing:
        raise ParamsError(f"{path}: missing array(s) {', '.join(missing)}")
    return out


def load_activations(path: "str | Path") -> ScanInputs:
    """The activations in ``path`` (see the module docstring), validated by ``selective_scan_ref``'s
    own shape rules; read-only float64 arrays."""
    path = Path(path)
    data = read_regular(path, "activations file", MAX_FILE_BYTES)
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise ParamsError(f"{path}: not an .npz file (numpy.savez)") from None
    with zf:
        _headers(zf, path)
        try:
            arrays = dict(np.load(io.BytesIO(data), allow_pickle=False))
        except (ValueError, OSError, zipfile.BadZipFile) as e:
            raise ParamsError(f"{path}: cannot read the arrays ({e})") from None
    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()}
    for k, v in arrays.items():
        if not np.all(np.isfinite(v)):
            raise ParamsError(f"{path}: array {k!r} has non-finite values")
    u, A = arrays["u"], arrays["A"]
    if u.ndim not in (2, 3) or u.shape[-1] == 0:
        raise ParamsError(f"{path}: u must have shape (D_inner, L) or (batch, D_inner, L) with "
                          f"L >= 1, got {u.shape}")
    for k in ("delta", "B", "C", "z"):
        if k in arrays and (arrays[k].ndim != u.ndim or arrays[k].shape[-1] != u.shape[-1]):
            raise ParamsError(f"{path}: {k} must have shape (.., {u.shape[-1]}) with u's "
                              f"{u.ndim} dimensions (u is {u.shape}), got {arrays[k].shape}")
    d_inner, n_groups = u.shape[-2], (A.shape[0] if A.ndim == 1 else u.shape[-2])
    arrays.setdefault("D", np.zeros(d_inner))
    arrays.setdefault("delta_bias", np.zeros(n_groups))
    headdim = d_inner // n_groups if A.ndim == 1 and n_groups and d_inner % n_groups == 0 else None
    x = ScanInputs(z=arrays.get("z"), headdim=headdim,
                   **{k: arrays[k] for k in ("u", "delta", "A", "B", "C", "D", "delta_bias")})
    try:                      # the reference's shape rules, on the first token only (fast)
        selective_scan_ref(**{**x.kwargs(), "u": u[..., :1], "delta": x.delta[..., :1],
                              "B": x.B[..., :1], "C": x.C[..., :1],
                              "z": None if x.z is None else x.z[..., :1]})
    except ParamsError as e:
        raise ParamsError(f"{path}: {e}") from None
    if A.ndim == 1 and np.shape(x.D) != (d_inner,):
        raise ParamsError(f"{path}: D must have shape ({d_inner},), got {np.shape(x.D)}")
    for v in (x.u, x.delta, x.A, x.B, x.C, x.D, x.delta_bias, *(() if x.z is None else (x.z,))):
        v.flags.writeable = False
    return x
