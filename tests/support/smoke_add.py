"""The smallest design of the toolchain smoke tests: an 8-bit registered adder, driven by the
cocotb module tests/support/smoke_cocotb.py."""
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out


class RegisteredAdd(wiring.Component):
    a: In(8)
    b: In(8)
    s: Out(9)

    def elaborate(self, platform):
        m = Module()
        m.d.sync += self.s.eq(self.a + self.b)
        return m
