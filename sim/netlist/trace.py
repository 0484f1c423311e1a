"""Host side of the cycle trace bench (``cycle_cocotb``): run a stimulus on a built simulator and
return the sampled outputs, one list per cycle."""
from __future__ import annotations

import json
from pathlib import Path

from nlihw.errors import ToolError
from nlihw.sim.common import runner

TEST_MODULE = "nlihw.sim.netlist.cycle_cocotb"


def run_trace(sim: runner.BuiltSim, inputs: list[dict], outputs: list[str], workdir: "str | Path", *,
              clock: str = "clk", timeout: float = 300.0) -> list[list[int]]:
    """Apply ``inputs`` (one {port: value} per cycle) and return the ``outputs`` sampled each cycle."""
    workdir = Path(workdir).resolve()
    out = workdir / "trace.json"
    out.unlink(missing_ok=True)
    cfg = {"inputs": inputs, "outputs": outputs, "clock": clock, "trace": str(out)}
    n, failed, _ = runner.run_configured(sim, TEST_MODULE, cfg, workdir, "test_trace", timeout=timeout)
    if n != 1 or failed or not out.is_file():
        raise ToolError(f"the trace bench did not run cleanly ({n} tests, {failed} failed); "
                        f"log: {workdir / 'sim.log'}")
    return json.loads(out.read_text())
