"""cocotb test of the smoke-test adder (runs inside Verilator)."""
import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge


@cocotb.test()
async def test_registered_add(dut):
    Clock(dut.clk, 10, unit="ns").start()
    dut.a.value = 0
    dut.b.value = 0
    await RisingEdge(dut.clk)
    for a, b in [(1, 2), (200, 100), (255, 255), (17, 0)]:
        dut.a.value = a
        dut.b.value = b
        await RisingEdge(dut.clk)
        await ReadOnly()
        assert int(dut.s.value) == a + b, f"{a} + {b} gave {int(dut.s.value)}"
        await RisingEdge(dut.clk)
