"""Product: a * b in a module of its own, so that hierarchical synthesis maps one multiplier of a
kind once and counts it per instance (the scan unit's per-lane products), where an inline product
would be mapped again inside every parent."""
from __future__ import annotations

from amaranth.hdl import Module, Shape
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out


class Product(wiring.Component):
    """``p`` = ``a`` * ``b``, combinational; ``p``'s shape is the caller's (wide enough: exact)."""

    def __init__(self, a_shape, b_shape, p_shape):
        a, b, p = Shape.cast(a_shape), Shape.cast(b_shape), Shape.cast(p_shape)
        super().__init__({"a": In(a), "b": In(b), "p": Out(p)})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.p.eq(self.a * self.b)
        return m


def product(m: Module, name: str, a, b, p_shape):
    """Instantiate ``Product`` as submodule ``name`` of ``m`` on ``a`` and ``b``; its output."""
    m.submodules[name] = mul = Product(a.shape(), b.shape(), p_shape)
    m.d.comb += [mul.a.eq(a), mul.b.eq(b)]
    return mul.p
