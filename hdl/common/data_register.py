"""Data registers without a reset: only valid bits, counters and flags are reset.

A payload register is read only beside its valid bit, so its value after reset never matters. A
reset on every bit makes the reset one net with tens of thousands of loads (at P = 16 its routing
alone was 15 ns on an ECP5) and costs an ASIC a gate per bit; reset-less registers avoid both.
"""
from __future__ import annotations

from amaranth.hdl import Module, Signal


def data_register(m: Module, port, name: str | None = None):
    """A reset-less register that drives ``port`` (a component's output or a stream payload):
    assign the returned register in ``m.d.sync`` where the port was assigned. Call it outside
    any ``m.If``/``m.Switch``: there the port would follow the register only while the condition
    holds."""
    reg = Signal.like(port, name=name or f"{_name(port)}_r", reset_less=True)
    m.d.comb += port.eq(reg)
    return reg


def _name(port) -> str:
    value = port.as_value() if hasattr(port, "as_value") else port
    return getattr(value, "name", None) or "data"
