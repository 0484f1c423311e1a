"""cocotb stream sources and sinks for any number of ``lib.stream`` ports (cocotbext-axi style).

A ``Source`` drives ``<name>__valid`` / ``<name>__payload`` from a queue; a ``Sink`` drives
``<name>__ready`` and records every transfer. Each takes a pause generator, consumed once per
cycle (truthy: idle this cycle); a beat once offered is held until taken (stream rule 2). Both
record transfers as (cycle, payload) with the cycle number of a shared ``Cycles`` counter.
"""
from __future__ import annotations

import itertools
import random

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge


def random_pauses(probability: float, seed: int):
    """Endless pattern: idle with the given probability each cycle."""
    rng = random.Random(seed)
    while True:
        yield rng.random() < probability


def no_pauses():
    return itertools.repeat(False)


class Cycles:
    """Counts rising clock edges; read it after ReadOnly for the current cycle's number."""

    def __init__(self, clk):
        self.clk, self.now = clk, 0
        cocotb.start_soon(self._count())

    async def _count(self):
        while True:
            await RisingEdge(self.clk)
            self.now += 1


class Source:
    def __init__(self, dut, name: str, cycles: Cycles, pause=None):
        self.valid = getattr(dut, f"{name}__valid")
        self.ready = getattr(dut, f"{name}__ready")
        self.payload = getattr(dut, f"{name}__payload")
        self.clk, self.cycles, self.name = dut.clk, cycles, name
        self.pause = iter(pause if pause is not None else no_pauses())
        self.queue: list[int] = []
        self.sent: list[tuple[int, int]] = []
        self.valid.value = 0
        self._task = None

    def send(self, payloads) -> None:
        self.queue.extend(int(p) for p in payloads)
        if self._task is None or self._task.done():
            self._task = cocotb.start_soon(self._drive())

    @property
    def idle(self) -> bool:
        return not self.queue

    async def _drive(self):
        holding = False
        while self.queue:
            if not holding:
                holding = not next(self.pause)
            self.valid.value = int(holding)
            if holding:
                self.payload.value = self.queue[0]
            await ReadOnly()
            if holding and int(self.ready.value):
                self.sent.append((self.cycles.now, self.queue.pop(0)))
                holding = False
            await RisingEdge(self.clk)
        self.valid.value = 0

    def stop(self) -> None:
        """Drop what is queued and deassert valid (e.g. around a reset)."""
        if self._task is not None:
            self._task.cancel()
        self.queue.clear()
        self.valid.value = 0


class Sink:
    def __init__(self, dut, name: str, cycles: Cycles, pause=None):
        self.valid = getattr(dut, f"{name}__valid")
        self.ready = getattr(dut, f"{name}__ready")
        self.payload = getattr(dut, f"{name}__payload")
        self.clk, self.cycles = dut.clk, cycles
        self.pause = iter(pause if pause is not None else no_pauses())
        self.got: list[tuple[int, int]] = []
        self.ready.value = 0
        self._task = cocotb.start_soon(self._run())

    async def _run(self):
        while True:
            self.ready.value = 0 if next(self.pause) else 1
            await ReadOnly()
            if int(self.valid.value) and int(self.ready.value):
                self.got.append((self.cycles.now, int(self.payload.value)))
            await RisingEdge(self.clk)

    async def wait_for(self, n: int, max_cycles: int, what: str = "outputs") -> list[tuple[int, int]]:
        """Wait until ``n`` transfers have arrived in total (AssertionError after ``max_cycles``)."""
        start = self.cycles.now
        while len(self.got) < n:
            if self.cycles.now - start > max_cycles:
                raise AssertionError(f"timeout after {max_cycles} cycles: {len(self.got)}/{n} {what}")
            await RisingEdge(self.clk)
        return self.got[:n]
