"""Random but valid NLI tables (bench stimulus): random cutpoint codes, values, block exponents,
clamp codes and tail modes, for any input/output format pair, fixed point or float.

Such tables approximate nothing; they drive every datapath corner a fitted table rarely reaches:
intervals of every length (one internal unit to 2^dx_width - 1), cutpoints across binades and
around zero, block exponents at both ends of ``layout.exp_range`` (outputs that saturate, that
are subnormal, that round to +-0), equal neighbouring mantissas (exact zeros), clamp codes that
are +-Inf, +-0 or subnormal, and every tail mode (clamp, zero, identity drawn at random; linear
with a finite offset when asked for).
"""
from __future__ import annotations

import numpy as np

from nlihw.formats import parse_format
from nlihw.luts.layout import MicroStep, TableLayout
from nlihw.luts.table import NLITable

TAIL_MODES = ("clamp", "zero", "identity")


def random_table(rng: np.random.Generator, in_fmt, out_fmt, M: int, K: int, *, tails=None,
                 micro_step: str = "mul", function: str = "random", **layout_kw) -> NLITable:
    """One random table of the given formats and shape. ``tails`` (left, right) defaults to a
    random pair of clamp/zero/identity; ``layout_kw`` go to TableLayout (t_bits, mul_bits,
    x_frac_bits, dx_width, value_bits)."""
    lay = TableLayout(parse_format(in_fmt), parse_format(out_fmt), M, K, micro_step, **layout_kw)
    if tails is None:
        tails = tuple(TAIL_MODES[k] for k in rng.integers(0, len(TAIL_MODES), 2))
    cut = _cutpoints(rng, lay)
    fin, fout = lay.in_fmt, lay.out_fmt
    if lay.out_float:
        B = lay.value_bits
        vals = rng.integers(-(1 << (B - 1)), 1 << (B - 1), lay.n_values)
        special = rng.random(lay.n_values)
        vals = np.where(special < 0.08, 0, vals)                             # exact zeros
        vals = np.where((special >= 0.08) & (special < 0.14), rng.integers(-3, 4, lay.n_values), vals)
        same = rng.random(lay.n_values) < 0.08                               # flat micro bins
        vals[1:] = np.where(same[1:], vals[:-1], vals[1:])
        lo, hi = lay.exp_range
        pick = rng.random(M - 1)
        exps = np.where(pick < 0.2, lo, np.where(pick < 0.4, hi, rng.integers(lo, hi + 1, M - 1)))
        # the two intervals holding the most input codes: one at the least exponent (subnormals,
        # +-0 from rounding), one at the greatest (saturation)
        order = np.argsort(-_codes_per_interval(lay, cut) - rng.random(M - 1) / 2, kind="stable")
        S = lay.values_per_interval
        exps[order[0]] = lo
        # its first micro bins: acc = 0 exactly (+0), then from 0 down to -1 (-0 by rounding)
        ladder = [0, 0, -1] if S > 2 else [0, -1]
        small = 1 << min(fout.man_bits + 3, B - 1)        # the rest: around the subnormal range
        vals[order[0] * S:order[0] * S + S] = rng.integers(-small, small, S)
        vals[order[0] * S:order[0] * S + len(ladder)] = ladder
        if M > 2:
            exps[order[1]] = hi
        non_nan = fout.codes()
        clamps = [int(rng.choice(non_nan if str(t) == "clamp" else fout.finite_codes())) for t in tails]
    else:
        vals = rng.integers(fout.min_raw, fout.max_raw + 1, lay.n_values)
        exps = ()
        clamps = [int(v) for v in rng.integers(fout.min_raw, fout.max_raw + 1, 2)]
    clamps = [c if str(t) == "clamp" or str(t).startswith("linear") else 0 for c, t in zip(clamps, tails)]
    if lay.in_float:
        cv = fin.to_real(np.array(cut, dtype=np.int64))
        domain = (float(cv[0]), float(cv[-1]))
    else:
        domain = (cut[0] * fin.lsb, cut[-1] * fin.lsb)
    return NLITable(lay, function, tuple(int(c) for c in cut), tuple(int(v) for v in vals),
                    clamps[0], clamps[1], domain, tails[0], tails[1],
                    exponents=tuple(int(e) for e in exps))


def _cutpoints(rng, lay: TableLayout) -> list[int]:
    M, fin = lay.M, lay.in_fmt
    pow2 = lay.micro_step is MicroStep.POW2
    if not lay.in_float:
        if pow2:
            # lengths K 2^s, starting low enough that they fit
            n = fin.max_raw - fin.min_raw
            smax = max(0, (n // (lay.K * (M - 1))).bit_length() - 1)
            lengths = lay.K << rng.integers(0, smax + 1, M - 1)
            start = fin.min_raw + int(rng.integers(0, max(1, n - int(lengths.sum()))))
            return [start] + [start + int(v) for v in np.cumsum(lengths)]
        codes = rng.choice(fin.max_raw - fin.min_raw + 1, M, replace=False) + fin.min_raw
        return sorted(int(c) for c in codes)
    W, F = lay.dx_bits, lay.x_frac_bits
    if pow2:
        # 0 and +-a 2^k: every interval is a (K 2^s units) or a power-of-two multiple of it
        a_lo = max(0, (lay.K - 1).bit_length())
        n_neg = int(rng.integers(0, M))
        for _ in range(100):
            a = int(rng.integers(a_lo, W - 1))              # log2 of the first length in units
            mags = [2.0 ** (a + k - F) for k in range(max(n_neg, M - 1 - n_neg))]
            vals = sorted([-v for v in mags[:n_neg]] + [0.0] + mags[:M - 1 - n_neg])
            codes = fin.quantize(np.array(vals))
            if np.all(fin.to_real(codes) == vals) and _valid_positions(lay, codes):
                return [int(c) for c in codes]
        raise ValueError(f"no pow2 cutpoints for {lay.in_fmt} M={M} K={lay.K}")
    # candidates: finite codes (not -0) on the 2^-F grid, in increasing order
    c = fin.finite_codes()
    c = c[c != (1 << (fin.width - 1))]
    v = np.ldexp(fin.to_real(c), F)
    ok = (np.abs(v) < 2.0 ** 52) & (v == np.floor(v))
    c, pos = c[ok], v[ok].astype(np.int64)
    span = 1 << W
    n = len(pos)
    for _ in range(200):
        # M - 1 random lengths below 2^W units with a log-uniform total, placed across zero half
        # of the time, each cutpoint the first candidate at or after its target position
        total = np.exp(rng.uniform(np.log(M), np.log((M - 1) * (span - 1))))
        gaps = np.minimum(rng.dirichlet(np.ones(M - 1)) * total, 0.9 * span)
        width = float(gaps.sum())
        if rng.random() < 0.5:
            start = -rng.uniform(0, 1) * width
        else:
            start = rng.uniform(pos[0], max(pos[0], pos[-1] - width))
        targets = start + np.concatenate([[0.0], np.cumsum(gaps)])
        idx = np.minimum(np.searchsorted(pos, targets), n - 1)
        if len(np.unique(idx)) == M and np.all(np.diff(pos[idx]) > 0) \
                and np.all(np.diff(pos[idx]) < span):
            return [int(x) for x in c[idx]]
    raise ValueError(f"no cutpoints found for {lay.in_fmt} M={M} (dx_width {W})")


def _valid_positions(lay, codes) -> bool:
    fin = lay.in_fmt
    v = np.ldexp(fin.to_real(codes), lay.x_frac_bits)
    return bool(np.all(np.abs(v) < 2.0 ** 52) and np.all(np.diff(v) > 0)
                and np.all(np.diff(v) < 2.0 ** lay.dx_bits) and np.all(v == np.floor(v)))


def _codes_per_interval(lay, cut) -> np.ndarray:
    """How many input codes fall into each macro interval (the comparators' keys)."""
    fin = lay.in_fmt
    keys = np.sort(lay.key(fin.codes()))
    return np.diff(np.searchsorted(keys, lay.key(np.array(cut, dtype=np.int64))))
