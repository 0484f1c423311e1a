"""How the RTL builds a product: ``a * b`` for the synthesis tool to map (``infer``), or, for a target
whose DSP block multiplies signed A x B bits, one such multiply of the operands' low parts plus
the rest as shift-and-add logic in the fabric (``Multipliers``). Every form is the exact
product: only the netlist changes.

``Product`` puts a product in a module of its own, so that hierarchical synthesis maps one
multiplier of a kind once and counts it per instance (the scan unit's per-lane products).
"""
from __future__ import annotations

from amaranth.hdl import Module, Mux, Shape, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .multipliers import Multipliers


def signed_width(shape: Shape) -> int:
    """Bits of ``shape`` as a signed multiplier operand (an unsigned one needs a zero sign bit)."""
    return shape.width + (0 if shape.signed else 1)


def _signed_high(v: Value, lo: int) -> Value:
    """``v``'s bits from ``lo`` up, keeping its signedness (v = high << lo + v[:lo])."""
    high = v[lo:]
    return high.as_signed() if v.shape().signed else high


def fabric_product(small: Value, big: Value) -> Value:
    """small * big as a balanced tree of shifted partial products, one row per bit of ``small``
    (its top row subtracted when signed): no multiplier for a tool to put in a DSP block."""
    n = len(small)
    rows = [Mux(small[i], big, 0) << i for i in range(n)]
    negative = rows.pop() if small.shape().signed else None
    while len(rows) > 1:
        rows = [rows[k] + rows[k + 1] if k + 1 < len(rows) else rows[k]
                for k in range(0, len(rows), 2)]
    total = rows[0] if rows else 0
    return total - negative if negative is not None else total


def multiply(a: Value, b: Value, mult: Multipliers) -> Value:
    """The exact product a * b built as ``mult`` says."""
    a, b = Value.cast(a), Value.cast(b)
    if mult.dsp is None:
        return a * b
    wide, narrow = (a, b) if signed_width(a.shape()) >= signed_width(b.shape()) else (b, a)
    ww, wn = signed_width(wide.shape()), signed_width(narrow.shape())
    if wn <= mult.fabric_bits:
        return fabric_product(narrow, wide)
    port_a, port_b = mult.dsp
    if ww <= port_a and wn <= port_b:
        return wide * narrow
    # wide = wide_hi * 2^la + wide_lo with wide_lo unsigned (A-1 bits: a signed A-bit input);
    # likewise narrow when it exceeds B. The block multiplies the low parts.
    la = port_a - 1 if ww > port_a else None
    lb = port_b - 1 if wn > port_b else None
    wide_lo = wide[:la] if la is not None else wide
    narrow_lo = narrow[:lb] if lb is not None else narrow
    total = wide_lo * narrow_lo
    if la is not None:
        total = total + (fabric_product(_signed_high(wide, la), narrow) << la)
    if lb is not None:
        total = total + (fabric_product(_signed_high(narrow, lb), wide_lo) << lb)
    return total


class Product(wiring.Component):
    """``p`` = ``a`` * ``b``, combinational, built as ``mult`` says; ``p``'s shape is the caller's
    (wide enough: exact)."""

    def __init__(self, a_shape, b_shape, p_shape, mult: Multipliers | None = None):
        a, b, p = Shape.cast(a_shape), Shape.cast(b_shape), Shape.cast(p_shape)
        self._mult = mult or Multipliers()
        super().__init__({"a": In(a), "b": In(b), "p": Out(p)})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.p.eq(multiply(self.a, self.b, self._mult))
        return m


def product(m: Module, name: str, a, b, p_shape, mult: Multipliers | None = None):
    """Instantiate ``Product`` as submodule ``name`` of ``m`` on ``a`` and ``b``; its output."""
    m.submodules[name] = mul = Product(a.shape(), b.shape(), p_shape, mult)
    m.d.comb += [mul.a.eq(a), mul.b.eq(b)]
    return mul.p
