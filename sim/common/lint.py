"""Verilator lint of emitted Verilog: -Wall with only the waivers in hdl/common/lint_waivers.vlt
(the ones every generated design ships)."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

from nlihw.hdl.common.deliverables import WAIVERS
from nlihw.toolchain import setup_verilator_env



def lint(verilog: "str | Path", top: str, timeout: float = 300.0) -> list[str]:
    """Warnings and errors (one line each) from ``verilator --lint-only -Wall``; [] when clean.

    ``.sv`` files are read as SystemVerilog, ``.v`` files as Verilog-2005 (``+1364-2005ext+v``).
    """
    env = setup_verilator_env(dict(os.environ))
    r = subprocess.run(["verilator", "--lint-only", "-Wall", "+1364-2005ext+v", "--top-module", top,
                        str(WAIVERS), str(verilog)], env=env, capture_output=True, text=True,
                       timeout=timeout)
    issues = [line for line in r.stderr.splitlines() if line.startswith("%")]
    if r.returncode != 0 and not issues:
        issues = [f"verilator exited with {r.returncode}: {r.stderr.strip()[:500]}"]
    return [line for line in issues if not line.startswith("%Error: Exiting due to")]
