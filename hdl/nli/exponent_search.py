"""Exponent-indexed addressing (float baseline, ``arch="uniform"`` with a float input): the segment is
the top bits of the code (sign, exponent, leading mantissa bits), so I comes from bit fields and
two small adders, no cutpoint comparators, and t is the code's low mantissa bits, no multiplier.

The table is an exponent-indexed PWL (``luts/float_baselines.py``): K = 1 and cutpoints at the
aligned codes (low r mantissa bits zero) of a contiguous range of magnitudes on each side. For a key
k of magnitude q (see ``FloatInput``):

- x >= 0: I = n_neg + #{aligned p in [pa, pb] : p <= q}; dx (in ulps) = q mod 2^r
- x < 0:  I = #{aligned m in [na, nb] : m >= q};          dx = 2^r - 1 - ((q - 1) mod 2^r)

(a negative interval is [-(a + w), -a): magnitudes a < q <= a + w). The micro-bin stage then forms
t = dx 2^(T - r) with a constant shift, which is what the golden model's u = dx mul >> shift gives
for these power-of-two intervals.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from nlihw.errors import ParamsError
from nlihw.hdl.common.mux_table import select
from nlihw.hdl.common.data_register import data_register


@dataclass(frozen=True)
class Segments:
    """The bit-field form of an exponent-indexed table: low bits r, the aligned magnitude ranges of
    its negative cutpoints [na, nb] (n_neg of them) and positive ones [pa, pb] (n_pos)."""
    r: int
    na: int
    nb: int
    n_neg: int
    pa: int
    pb: int
    n_pos: int


def segments(table) -> Segments:
    """The table's segments, or a ParamsError saying why it is not an exponent-indexed PWL."""
    lay, fin = table.layout, table.layout.in_fmt
    name = table.function
    if not lay.in_float or lay.K != 1:
        raise ParamsError(f"arch 'uniform' with a float input needs an exponent-indexed PWL table "
                          f"(K=1, aligned cutpoints); {name} has K={lay.K}")
    c = np.array(table.cutpoints, dtype=np.int64)
    sign = 1 << (fin.width - 1)
    mag = c & (sign - 1)
    neg = (c & sign) != 0
    steps = set(np.abs(np.diff(mag[neg])).tolist()) | set(np.diff(mag[~neg]).tolist())
    if len(steps) != 1:
        raise ParamsError(f"arch 'uniform' with a float input needs cutpoints at every aligned "
                          f"code of a contiguous range ({name}: not equally spaced codes)")
    step = steps.pop()
    r = step.bit_length() - 1
    if step != 1 << r or np.any(mag % step):
        raise ParamsError(f"arch 'uniform' with a float input needs cutpoints aligned to 2^r codes "
                          f"({name}: step {step})")
    nm, pm = mag[neg], mag[~neg]
    return Segments(r, int(nm.min()) if nm.size else 0, int(nm.max()) if nm.size else 0, int(nm.size),
                    int(pm.min()) if pm.size else 0, int(pm.max()) if pm.size else 0, int(pm.size))


class ExponentSearch(wiring.Component):
    """Registered (index, dx in ulps of the segment) of the order key ``x``; advances on ``en``."""

    def __init__(self, params):
        self.params = params
        self._seg = [segments(t) for t in params.tables]
        if len({s.r for s in self._seg}) != 1:
            raise ParamsError("arch 'uniform' with a float input: every function's table needs the "
                              "same number of leading bits")
        lay = params.layout
        w = lay.in_fmt.width
        super().__init__({
            "en": In(1), "x": In(w), "pos": In(lay.dx_bits), "func": In(params.func_bits),
            "index": Out(lay.index_bits), "dx": Out(lay.dx_bits), "func_out": Out(params.func_bits),
        })

    @property
    def low_bits(self) -> int:
        return self._seg[0].r

    def elaborate(self, platform):
        m = Module()
        lay = self.params.layout
        w, r = lay.in_fmt.width, self.low_bits
        top = 1 << (w - 1)
        k = self.x
        pos = k[w - 1]                                        # key >= 2^(w-1): x >= 0 (or -0)
        q = Signal(w - 1)
        m.d.comb += q.eq(Mux(pos, k[:w - 1], (top - 1) - k[:w - 1]))

        def per_func(field):
            vals = [getattr(s, field) for s in self._seg]
            return select(vals, self.func) if len(vals) > 1 else vals[0]

        mask = (1 << r) - 1
        # x >= 0: #{aligned p in [pa, pb]: p <= q} = clip((q >> r) - (pa >> r) + 1, 0, n_pos)
        cnt_pos = Signal(range(-(1 << w), 1 << w))
        m.d.comb += cnt_pos.eq((q >> r) - (per_func("pa") >> r) + 1)
        c_pos = Mux(cnt_pos < 0, 0, Mux(cnt_pos > per_func("n_pos"), per_func("n_pos"), cnt_pos))
        # x < 0: #{aligned m in [na, nb]: m >= q} = clip((nb >> r) - ceil(q / 2^r) + 1, 0, n_neg)
        cnt_neg = Signal(range(-(1 << w), 1 << w))
        m.d.comb += cnt_neg.eq((per_func("nb") >> r) - ((q + mask) >> r) + 1)
        c_neg = Mux(cnt_neg < 0, 0, Mux(cnt_neg > per_func("n_neg"), per_func("n_neg"), cnt_neg))
        index = Signal(lay.index_bits + 1)
        m.d.comb += index.eq(Mux(pos, per_func("n_neg") + c_pos, c_neg))
        dx = Signal(max(1, r))
        if r:
            m.d.comb += dx.eq(Mux(pos, q[:r], mask - ((q - 1) & mask)))
        index_r, dx_r, func_r = (data_register(m, s) for s in (self.index, self.dx, self.func_out))
        with m.If(self.en):
            m.d.sync += [index_r.eq(index), dx_r.eq(dx), func_r.eq(self.func)]
        return m
