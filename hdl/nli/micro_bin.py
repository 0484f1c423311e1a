"""Micro-bin addressing: p = dx * mul[i] (pow2: dx << T), u = p >> shift[i], j = u >> T, t = u mod 2^T,
table address a = func * n_values + i * S + j (S = values_per_interval: K, or K+1 with block
values for a float output), for one lane.

Stage 1 registers the product; stage 2 computes the address combinationally (it feeds the table
memories' address register) and registers t and the class beside it (inside, low tail, high tail,
NaN input), and for a float output the block exponent of the interval, selected like the shift.

Pipeline points (``NLIEngineParams.pipeline``): ``mul_in`` registers dx and the interval's mul (the
multiplier's input register) before the product; ``table_addr`` registers the address (then the
memories' own address register) and delays t, the class, func and exponent to meet it.
"""
from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from nlihw.hdl.common.data_register import data_register
from nlihw.hdl.common.mux_table import select
from nlihw.hdl.common.product import multiply
from nlihw.luts.layout import MicroStep, clog2
from .exponent_search import segments

CLS_INSIDE, CLS_LOW, CLS_HIGH, CLS_NAN = 0, 1, 2, 3


class MicroBin(wiring.Component):
    """One lane's micro-bin address and fraction (the module docstring gives the arithmetic).

    Parameters: ``params`` (``NLIEngineParams``); ``mul``, ``shift``: per function, per interval,
    the micro-bin multiplier and shift (Values); ``exponents``: likewise the block exponent of a
    float output's interval (else None).

    Members: ``en``: In(1), advance the registers. ``index``: In, the macro interval (0: below the
    first cutpoint, M: beyond the last). ``dx``: In, the offset in the interval. ``func``: In, the
    function selected. ``nan``: In(1), a NaN input (float input only). ``addr``: Out, the address of
    y0, combinational (it feeds the memories' address register). ``t``: Out, the interpolation
    fraction; ``cls``: Out(2), inside / low tail / high tail / NaN; ``func_out``: Out; ``exp``: Out,
    the interval's block exponent (float output only): all four registered with the address.
    """

    def __init__(self, params, mul, shift, exponents=None):
        self.params = params
        self._mul, self._shift = mul, shift          # [func][interval] Values
        self._exp = exponents                        # [func][interval] Values (float output)
        lay = params.layout
        self._addr_bits = max(1, clog2(params.total_values))
        ports = {
            "en": In(1),
            "index": In(lay.index_bits),
            "dx": In(lay.dx_bits),
            "func": In(params.func_bits),
            "addr": Out(self._addr_bits),             # combinational, for the memories
            "t": Out(lay.t_bits),                    # registered with the memories' address
            "cls": Out(2),
            "func_out": Out(params.func_bits),
        }
        if lay.in_float:
            ports["nan"] = In(1)                     # beside index: a NaN input
        if lay.out_float:
            ports["exp"] = Out(signed(lay.exp_bits))  # registered with t
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        p, lay = self.params, self.params.layout
        M, K, T = lay.M, lay.K, lay.t_bits
        n_int = M - 1
        i = Signal(range(max(2, n_int)), name="interval")
        m.d.comb += i.eq(Mux((self.index == 0) | (self.index >= M), 0, self.index - 1))

        def per_interval(table, sel_func, sel_i):
            return select([select([tab[k] for tab in table], sel_func) for k in range(n_int)], sel_i)

        # stage 1: product
        prod = Signal(lay.product_bits, reset_less=True)
        i_r = Signal.like(i, name="interval_r", reset_less=True)
        cls_r = Signal(2, name="cls_r", reset_less=True)
        f_r = Signal(p.func_bits, name="func_r", reset_less=True)
        # exponent-indexed PWL: dx is already the offset in ulps of a 2^r-ulp segment, so
        # t = dx 2^T >> r with a constant shift (the golden model's mul and shift give the same)
        exp_pwl = p.arch == "uniform" and lay.in_float
        use_mul = lay.micro_step is MicroStep.MUL and not exp_pwl
        cls_next = Mux(self.index == 0, CLS_LOW, Mux(self.index >= M, CLS_HIGH, CLS_INSIDE))
        if lay.in_float:
            cls_next = Mux(self.nan, CLS_NAN, cls_next)
        dx, i_next, func = self.dx, i, self.func
        if "mul_in" in p.pipeline:
            # the multiplier's input register: dx and the interval's mul, with the side band
            dx_a = Signal.like(self.dx, name="dx_a", reset_less=True)
            i_a = Signal.like(i, name="interval_a", reset_less=True)
            cls_a = Signal(2, name="cls_a", reset_less=True)
            f_a = Signal(p.func_bits, name="func_a", reset_less=True)
            with m.If(self.en):
                m.d.sync += [dx_a.eq(dx), i_a.eq(i), cls_a.eq(cls_next), f_a.eq(func)]
            if use_mul:
                # with a reset (unlike the other data registers): without one yosys reads the
                # select as a ROM whose read register resets to a constant per bit, which an
                # ECP5 MULT18X18D input register cannot absorb (it only clears)
                mul_a = Signal(lay.mul_bits, name="mul_a")
                with m.If(self.en):
                    # selected by the index itself (no subtract and clamp in front of the mux):
                    # index 0 and M pick any entry, dx is 0 there
                    by_index = [[tab[min(max(k - 1, 0), n_int - 1)] for tab in self._mul]
                                for k in range(1 << len(self.index))]
                    m.d.sync += mul_a.eq(select([select(row, func) for row in by_index], self.index))
            dx, i_next, cls_next, func = dx_a, i_a, cls_a, f_a
            prod_next = multiply(m, dx, mul_a, p.multipliers) if use_mul else dx << T
        elif use_mul:
            prod_next = multiply(m, dx, per_interval(self._mul, func, i), p.multipliers)
        else:
            prod_next = dx << T
        with m.If(self.en):
            m.d.sync += [prod.eq(prod_next), i_r.eq(i_next), cls_r.eq(cls_next), f_r.eq(func)]

        # stage 2: shift, split, address
        u = Signal(lay.u_bits)
        if exp_pwl:
            m.d.comb += u.eq(prod >> segments(p.tables[0]).r)
        else:
            m.d.comb += u.eq(prod >> per_interval(self._shift, f_r, i_r))
        j = u[T:] if K > 1 else Const(0, 1)
        fbase = f_r * lay.n_values if p.n_funcs > 1 else 0
        addr = fbase + i_r * lay.values_per_interval + j
        side = [(self.t, u[:T]), (self.cls, cls_r), (self.func_out, f_r)]
        if lay.out_float:
            side.append((self.exp, per_interval(self._exp, f_r, i_r)))
        if "table_addr" in p.pipeline:
            # the address register before the memories' own; the side band waits one more cycle
            addr_r = Signal.like(self.addr, name="addr_r", reset_less=True)
            with m.If(self.en):
                m.d.sync += addr_r.eq(addr)
            addr = addr_r
            regs = [Signal.like(o, name=f"{o.name}_a", reset_less=True) for o, _ in side]
            with m.If(self.en):
                m.d.sync += [r.eq(v) for r, (_, v) in zip(regs, side)]
            side = [(o, r) for r, (o, _) in zip(regs, side)]
        m.d.comb += self.addr.eq(addr)
        side = [(data_register(m, o), v) for o, v in side]
        with m.If(self.en):
            m.d.sync += [o.eq(v) for o, v in side]
        return m
