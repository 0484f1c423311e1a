"""Fixed-point formats of the scan unit chosen from a model's own activations.

For each of the unit's formats (``FORMAT_FIELDS``: u, B, C, A, D, dt*u, state, y, out) the width
stays at the preset's; the integer bits are the fewest for which the fraction of beats whose value
leaves the format is at most ``max_saturation``, plus ``headroom`` bits for data not seen here (A
and D, the model's constants: no value may clip, no headroom). The values are the float64
datapath's (exact softplus, exp and SiLU): per beat (token, channel), the largest value of that
step on either side (over the N states for dBu and h). out_fmt holds the full output and the scan
path alone (D = 0); y_fmt holds C.h and C.h + D*u.

Tables: z must fit the SiLU table's input, delta + delta_bias the softplus table's (same rule, at
the shipped table's widths). The shipped table is kept when its input format holds the data
(without headroom: a refit is slow); otherwise (``refit``) it is refitted by the project's fitter
with the shipped layout and metric on the wider input (plus headroom), its output widened to the
function's range: about 30-150 s for a 16-bit input, under a second for 8 bits. The exp table is
always the shipped one (dt*A below its range rounds to e^x = 0 anyway). ``Calibration.clipped``
says how often inputs still clip (``refit=False``). Finally the bit-exact golden model runs on the
data (full output and D = 0); a format whose saturation still fires on more than
``max_saturation`` of beats gets one more integer bit, up to ``MAX_ROUNDS`` times.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from nlihw.errors import ParamsError
from nlihw.formats import Q
from nlihw.hdl.scan.params import FORMAT_FIELDS, PRESETS, ScanParams, preset
from nlihw.luts.scan_tables import SPECS, scan_table
from .accuracy import clipped_inputs, scan_error, scan_path, sequences
from .reference import silu, softplus
from .stimulus import ScanInputs

MAX_ROUNDS = 4
# golden-model saturation step -> the format that widens it
EVENT_FIELD = {"dtu": "dtu_fmt", "dBu": "state_fmt", "h": "state_fmt", "y": "y_fmt",
               "yd": "y_fmt", "out": "out_fmt"}


@dataclass(frozen=True)
class Calibration:
    params: ScanParams
    magnitude: dict        # field -> largest |value| seen
    clipped: dict          # input -> fraction of its values clipped by its format
    rounds: int            # golden-model checks run (1: the first choice held)
    widened: tuple         # fields widened after a golden-model check
    refitted: tuple        # tables refitted for wider inputs ("silu", "softplus")
    unmet: tuple           # fields that saturate on more than max_saturation even at 0 frac bits


def _signed(a: np.ndarray) -> np.ndarray:
    """(2, ...) array: the largest positive value and the largest negative magnitude (>= 0)."""
    return np.stack([np.maximum(a, 0.0), np.maximum(-a, 0.0)])


def _seq_extremes(x: ScanInputs, gate: bool) -> dict:
    """field -> ``_signed`` per-beat extremes (2, L, D_inner) of one unbatched sequence."""
    u, B, C, A = x.u, x.B, x.C, x.A
    dt = softplus(x.delta + x.delta_bias[:, None])                       # (D or H, L)
    hd = u.shape[0] // dt.shape[0]
    dt = np.repeat(dt, hd, axis=0)
    A = A if A.ndim == 2 else np.repeat(A, hd)[:, None]
    dtu = dt * u
    L, Dn = u.shape[1], u.shape[0]
    state, y = np.zeros((2, L, Dn)), np.empty((Dn, L))
    h = np.zeros((Dn, B.shape[0]))
    for l in range(L):
        dBu = dtu[:, l, None] * B[None, :, l]
        h = np.exp(dt[:, l, None] * A) * h + dBu
        state[:, l] = np.maximum(_signed(dBu).max(-1), _signed(h).max(-1))
        y[:, l] = h @ C[:, l]
    yd = y + x.D[:, None] * u
    g = silu(x.z) if gate else 1.0
    beat = lambda *a: np.max([_signed(v.T) for v in a], axis=0)                # noqa: E731
    tok = lambda a: np.broadcast_to(_signed(a).max(1)[:, :, None], (2, L, Dn))  # noqa: E731
    return {"u_fmt": beat(u), "b_fmt": tok(B), "c_fmt": tok(C), "dtu_fmt": beat(dtu),
            "state_fmt": state, "y_fmt": beat(y, yd), "out_fmt": beat(yd * g, y * g)}


def beat_extremes(x: ScanInputs, gate: bool) -> dict:
    """field -> ``_signed`` per-beat extremes over every sequence (beats along axis 1, joined);
    A and D: all their values."""
    per = [_seq_extremes(s, gate) for s in sequences(x)]
    out = {k: np.concatenate([m[k] for m in per], axis=1) for k in per[0]}
    out["a_fmt"], out["d_fmt"] = _signed(x.A.ravel()), _signed(x.D.ravel())
    return out


def int_bits(ext: np.ndarray, width: int, rate: float, field: str, signed: bool = True) -> int:
    """Fewest integer bits (a signed format's include the sign) of a ``width``-bit format that
    round-to-nearest leaves at most ``rate`` of the beats outside (``ext``: ``_signed`` extremes
    per beat)."""
    n = ext[0].size
    for i in range(1 if signed else 0, width + 1):
        top, half = 2.0 ** (i - 1 if signed else i), 2.0 ** -(width - i) / 2
        over = ext[0] >= top - half
        if signed:
            over |= ext[1] > top + half
        if n == 0 or np.mean(over) <= rate:
            return i
    raise ParamsError(f"{field}: values reach {float(ext.max()):.4g}, beyond any "
                      f"{'signed ' if signed else 'unsigned '}{width}-bit format")


def _table_inputs(x: ScanInputs, gate: bool) -> dict:
    """func -> (float64 function, per-beat extremes of its input; per head in Mamba-2)."""
    seqs = sequences(x)
    out = {"softplus": (softplus, _signed(np.concatenate([(s.delta + s.delta_bias[:, None]).T
                                                          for s in seqs])))}
    if gate:
        out["silu"] = (silu, _signed(np.concatenate([s.z.T for s in seqs])))
    return out


def _fit_table(preset_name: str, func: str, tin: Q, tout: Q, progress):
    spec = next(t for t in SPECS if t.preset == preset_name and t.func == func)
    spec = replace(spec, in_fmt=str(tin), out_fmt=str(tout))
    if progress:
        progress(f"refitting the {func} table for {tin} -> {tout} (M={spec.M}, K={spec.K}) ...")
    return spec.fit()


def _tables(x, preset_name, gate, rate, headroom, refit, progress) -> dict:
    """func -> NLITable: the shipped one if its input format holds the data, else refitted."""
    tables = {}
    for func, (fn, ein) in _table_inputs(x, gate).items():
        t = scan_table(preset_name, func)
        fin, fout = t.layout.in_fmt, t.layout.out_fmt
        i = int_bits(ein, fin.width, rate, f"the {func} table's input")
        if i <= fin.int_bits or not refit:
            continue
        tin = Q(min(i + headroom, fin.width), fin.width - min(i + headroom, fin.width))
        # the output holds f on the whole input format (the fitter's domain): f(min), f(max)
        ends = _signed(fn(np.array([tin.min, tin.max])))
        j = max(fout.int_bits, int_bits(ends, fout.width, 0.0, f"the {func} table's output",
                                        fout.signed))
        tables[func] = _fit_table(preset_name, func, tin, Q(j, fout.width - j, fout.signed),
                                  progress)
    return tables


def _formats(mags: dict, widths: dict, rate: float, headroom: int) -> dict:
    out = {}
    for f in FORMAT_FIELDS:
        const = f in ("a_fmt", "d_fmt")           # the model's constants: all known, none may clip
        try:
            i = int_bits(mags[f], widths[f], 0.0 if const else rate, f)
        except ParamsError:
            i = widths[f]                           # the widest range; ``unmet`` reports it
        i = min(i + (0 if const else headroom), widths[f])
        out[f] = Q(i, widths[f] - i)
    return out


def calibrate(x: ScanInputs, preset_name: str, *, max_saturation: float = 1e-5,
              headroom: int = 1, lanes: int | None = None, refit: bool = True,
              progress=None) -> Calibration:
    """Formats (and, if ``refit``, tables) for the activations ``x`` at the word sizes of preset
    ``preset_name``; ``progress(str)`` hears about slow steps."""
    if preset_name not in PRESETS:
        raise ParamsError(f"unknown scan preset {preset_name!r}; choose one of {', '.join(PRESETS)}")
    if not 0 <= max_saturation < 1:
        raise ParamsError(f"max_saturation must be in [0, 1), got {max_saturation}")
    if isinstance(headroom, bool) or not isinstance(headroom, int) or not 0 <= headroom <= 8:
        raise ParamsError(f"headroom must be an integer 0..8, got {headroom!r}")
    gate = x.z is not None
    widths = {f: Q.parse(PRESETS[preset_name][f]).width for f in FORMAT_FIELDS}
    mags = beat_extremes(x, gate)
    fmts = _formats(mags, widths, max_saturation, headroom)
    mode = "mamba2" if x.A.ndim == 1 else "mamba1"
    d_inner, d_state = x.u.shape[-2], x.B.shape[-2]
    tables = _tables(x, preset_name, gate, max_saturation, headroom, refit, progress)
    make = lambda f: preset(preset_name, d_inner=d_inner, d_state=d_state, lanes=lanes,  # noqa: E731
                            mode=mode, headdim=x.headdim or 1, gate=gate, **f, **tables)
    p, widened = make(fmts), []
    for rounds in range(1, MAX_ROUNDS + 1):
        grow = set()
        for xi in (x, scan_path(x)):
            e = scan_error(p, xi)
            beats = max(e["beats"], 1)
            grow |= {EVENT_FIELD[k] for k, n in e["events"].items()
                     if k in EVENT_FIELD and n / beats > max_saturation}
        unmet = {f for f in grow if fmts[f].frac_bits == 0 or rounds == MAX_ROUNDS}
        grow -= unmet
        if not grow:
            break
        fmts.update({f: Q(fmts[f].int_bits + 1, fmts[f].frac_bits - 1) for f in grow})
        widened += sorted(grow)
        p = make(fmts)
    table_in = {"delta + delta_bias": (p.delta_fmt, [s.delta + s.delta_bias[:, None]
                                                     for s in sequences(x)])}
    clipped = clipped_inputs(p, x)
    for name, (fmt, vals) in table_in.items():
        v = np.concatenate([a.ravel() for a in vals])
        clipped[name] = float(np.mean((v >= fmt.max + fmt.lsb / 2) | (v < fmt.min - fmt.lsb / 2)))
    return Calibration(params=p, rounds=rounds, widened=tuple(widened), clipped=clipped,
                       refitted=tuple(sorted(tables)), unmet=tuple(sorted(unmet)),
                       magnitude={f: float(m.max()) if m.size else 0.0 for f, m in mags.items()})
