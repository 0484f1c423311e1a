"""Macro-interval search: I = #{j : c[j] <= x} (0..M) and dx = x - c[I-1], for one lane.

``parallel``: M comparators, a thermometer-to-index encoder and the dx subtractor in one stage (the
NLI paper's). ``binary``: a pipelined binary search, ceil(log2(M+1)) stages of one comparator each,
building I from its top bit down; dx is formed in the last stage.

Pipeline points (``NLIEngineParams.pipeline``): ``search_compare``, one more register stage between
the comparators (binary: the last stage's) and the encoder / base select; ``search_base``, one
between the encoder / base select (index and the interval's base position) and the dx subtract.
"""
from __future__ import annotations

from amaranth.hdl import Array, Const, Module, Mux, Signal, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from nlihw.hdl.common.fixed_point import shape_of
from nlihw.hdl.common.data_register import data_register
from nlihw.hdl.common.mux_table import select


class ComparatorTree(wiring.Component):
    """Registered (index, dx) of input ``x``; every register advances only when ``en`` is high.

    ``cutpoints[f][j]`` are Values (constants or run-time registers) of the input shape.
    Float input: ``x`` is the order key (unsigned compare; ``cutpoints`` are the cutpoints' keys)
    and dx is formed on the separate ``pos`` input (the position modulo 2^dx_bits) against
    ``positions[f][j]``, the cutpoints' positions; a fixed-point input is its own key and position.

    Members: ``en``: In(1), advance the registers. ``x``: In(in_fmt shape), the input (float: its
    order key). ``pos``: In(dx_bits), float input only: the input's position. ``func``:
    In(func_bits), the function. ``index``: Out(index_bits), I. ``dx``: Out(dx_bits), x - c[I-1].
    ``func_out``: Out(func_bits), ``func`` delayed to match ``index``.
    """

    def __init__(self, params, cutpoints, positions=None):
        self.params = params
        self._cut = cutpoints
        lay = params.layout
        self._float = lay.in_float
        self._pos = positions if self._float else cutpoints
        self._x_shape = shape_of(lay.in_fmt)
        ports = {
            "en": In(1),
            "x": In(self._x_shape),
            "func": In(params.func_bits),
            "index": Out(lay.index_bits),
            "dx": Out(lay.dx_bits),
            "func_out": Out(params.func_bits),
        }
        if self._float:
            ports["pos"] = In(lay.dx_bits)
        super().__init__(ports)

    def _pos_of(self, func, j):
        return select([c[j] for c in self._pos], func)

    @property
    def _pos_shape(self):
        return unsigned(self.params.layout.dx_bits) if self._float else self._x_shape

    def elaborate(self, platform):
        m = Module()
        if self.params.arch == "parallel":
            self._parallel(m)
        else:
            self._binary(m)
        return m

    def _cut_of(self, func, j):
        return select([c[j] for c in self._cut], func)

    def _split(self, m, name, sigs, point="search_compare"):
        """Registers (advancing on ``en``) of ``sigs`` when ``point`` is on, else ``sigs``."""
        if point not in self.params.pipeline:
            return sigs
        regs = [Signal.like(s, name=f"{name}_{k}", reset_less=True) for k, s in enumerate(sigs)]
        with m.If(self.en):
            m.d.sync += [r.eq(s) for r, s in zip(regs, sigs)]
        return regs

    def _parallel(self, m):
        lay = self.params.layout
        M = lay.M
        ge = [Signal(name=f"ge{j}") for j in range(M)]
        for j in range(M):
            m.d.comb += ge[j].eq(self.x >= self._cut_of(self.func, j))
        pos = self.pos if self._float else self.x
        func = self.func
        if "search_compare" in self.params.pipeline:
            *ge, pos, func = self._split(m, "cmp_r", [*ge, pos, func])
        index = Signal(lay.index_bits)
        base = Signal(self._pos_shape)           # position of c[I-1], or 0 when clamped
        # ge is a thermometer code (cutpoints increase): exactly one boundary k has ge[k-1] & ~ge[k].
        idx_terms, base_terms = [], []
        for k in range(1, M + 1):
            hot = ge[k - 1] & (~ge[k] if k < M else Const(1))
            idx_terms.append(Mux(hot, k, 0))
            if k < M:
                base_terms.append(Mux(hot, self._pos_of(func, k - 1).as_unsigned(), 0))
        m.d.comb += index.eq(_or_tree(idx_terms))
        m.d.comb += base.eq(_or_tree(base_terms) if base_terms else 0)
        index, base, pos, func = self._split(m, "base_r", [index, base, pos, func], "search_base")
        index_r, dx_r, func_r = (data_register(m, s) for s in (self.index, self.dx, self.func_out))
        with m.If(self.en):
            m.d.sync += [
                index_r.eq(index),
                dx_r.eq(Mux((index == 0) | (index == M), 0, (pos - base)[:lay.dx_bits])),
                func_r.eq(func),
            ]

    def _binary(self, m):
        lay = self.params.layout
        M, D = lay.M, self.params.search_stages
        x, func, part = self.x, self.func, Const(0, D)
        pos = self.pos if self._float else None
        for d in range(D):
            b = D - 1 - d
            # Candidate count cand = part | 2^b; test x >= c[cand - 1] (false past the last cutpoint).
            n_prefix = 1 << d
            thresholds, valid = [], []
            for pre in range(n_prefix):
                k = (pre << (b + 1)) + (1 << b) - 1
                valid.append(Const(int(k < M), 1))
                thresholds.append([c[k] if k < M else c[M - 1] for c in self._cut])
            sel = part[b + 1:] if d > 0 else Const(0, 1)
            thr = Array([select(t, func) for t in thresholds])[sel] if n_prefix > 1 \
                else select(thresholds[0], func)
            ok = Array(valid)[sel] if n_prefix > 1 else valid[0]
            ge = Signal(name=f"ge_s{d}")
            m.d.comb += ge.eq(ok & (x >= thr))
            nxt = Signal(D, name=f"part_s{d}")
            m.d.comb += nxt.eq(part | (ge << b))
            if d == D - 1:
                if "search_compare" in self.params.pipeline:
                    x_pos = x if pos is None else pos
                    nxt, x_pos, func = self._split(m, "cmp_r", [nxt, x_pos, func])
                    x, pos = (x_pos, None) if pos is None else (x, x_pos)
                base = Signal(self._pos_shape, name="base")
                m.d.comb += base.eq(select([self._pos_of(func, min(max(k - 1, 0), M - 1))
                                             for k in range(1 << D)], nxt))
                x_pos = x if pos is None else pos
                nxt, base, x_pos, func = self._split(m, "base_r", [nxt, base, x_pos, func], "search_base")
                x, pos = (x_pos, None) if pos is None else (x, x_pos)
                index_r, dx_r, func_r = (data_register(m, s) for s in (self.index, self.dx, self.func_out))
                with m.If(self.en):
                    m.d.sync += [
                        index_r.eq(nxt),
                        dx_r.eq(Mux((nxt == 0) | (nxt >= M), 0,
                                       ((x if pos is None else pos) - base)[:lay.dx_bits])),
                        func_r.eq(func),
                    ]
            else:
                x_r = Signal(self._x_shape, name=f"x_s{d}", reset_less=True)
                f_r = Signal(self.params.func_bits, name=f"func_s{d}", reset_less=True)
                p_r = Signal(D, name=f"part_r{d}", reset_less=True)
                with m.If(self.en):
                    m.d.sync += [x_r.eq(x), f_r.eq(func), p_r.eq(nxt)]
                if pos is not None:
                    pos_r = Signal(self._pos_shape, name=f"pos_s{d}", reset_less=True)
                    with m.If(self.en):
                        m.d.sync += pos_r.eq(pos)
                    pos = pos_r
                x, func, part = x_r, f_r, p_r


def _or_tree(terms):
    while len(terms) > 1:
        terms = [terms[i] | terms[i + 1] if i + 1 < len(terms) else terms[i]
                 for i in range(0, len(terms), 2)]
    return terms[0]
