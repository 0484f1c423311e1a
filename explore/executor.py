"""Run the same task function over many inputs: on a local process pool (concurrent.futures) or on
an existing Dask distributed cluster (``tcp://HOST:PORT``), yielding (key, result) as they finish.

A result is either what the task returned or a ``WorkerLost`` when the process running it died
(killed, out of memory) more often than it is retried. On an interrupt, queued tasks are
cancelled and running ones stopped (SIGTERM, so their tools are killed too, then SIGKILL).
"""
from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.forkserver
import os
import re
import select
import signal
import socket
import sys
import threading
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from multiprocessing import forkserver
from typing import Callable, Iterable, Iterator

from nlihw.errors import NlihwError, ParamsError

CONNECT_TIMEOUT = 10.0       # seconds to reach a Dask scheduler (TCP connect, then its answer)
PARENT_POLL = 0.5            # seconds between checks that the main process lives (no pidfd)
PARENT_GRACE = 2.0           # seconds a worker whose main process died gives its task to stop
POOL_RESTARTS = 3            # a dead worker breaks the pool; restart it this often, then give up
PRELOAD = ["nlihw.explore.tasks", "nlihw.luts.fitter", "nlihw.hdl.nli.generate",
           "nlihw.synth.driver"]


class SchedulerError(NlihwError):
    """The Dask scheduler cannot be reached."""


class WorkerLost(Exception):
    """The worker running a task died before returning (not the task's own failure)."""


def default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)))


def run_tasks(fn: Callable, items: Iterable[tuple[str, tuple]], *, jobs: int | None = None,
              scheduler: str | None = None) -> Iterator[tuple[str, object]]:
    """(key, fn(*args) or WorkerLost) for every (key, args) in ``items``, in completion order."""
    if jobs is not None and (not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1):
        raise ParamsError(f"jobs must be >= 1, got {jobs!r}")
    items = list(items)
    if not items:
        return iter(())
    if scheduler:
        return _dask(fn, items, scheduler)
    return _pool(fn, items, jobs or default_jobs())


def _context():
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    _start_forkserver()
    return ctx


def _start_forkserver() -> None:
    """Start the fork server with SIGINT ignored (inherited through exec, and by the workers until
    _worker_init), so a Ctrl-C while it imports PRELOAD prints no traceback: the sweep's own
    exit ends it."""
    if threading.current_thread() is not threading.main_thread():
        forkserver.ensure_running()
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        forkserver.ensure_running()
    finally:
        signal.signal(signal.SIGINT, old)


_busy = False          # in a pool worker: a task is running
_stopping = False      # in a pool worker: a KeyboardInterrupt is unwinding the task


@contextmanager
def _starting_workers():
    """Workers start (ProcessPoolExecutor.submit waits for the fork server, which may still be
    importing PRELOAD): a Ctrl-C meanwhile stops the fork server at once, so no worker is left
    half-started (it would print a traceback after the sweep ended), then interrupts."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got = []

    def stop_starting(signum, frame):
        got.append(signum)
        pid = getattr(getattr(multiprocessing.forkserver, "_forkserver", None),
                      "_forkserver_pid", None)
        if pid:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    old = signal.signal(signal.SIGINT, stop_starting)
    try:
        yield
    except Exception:
        if not got:
            raise
    finally:
        signal.signal(signal.SIGINT, old)
        if got:
            raise KeyboardInterrupt


def _worker_init(main_pid: int) -> None:
    """In a pool worker, SIGINT and SIGTERM raise KeyboardInterrupt in a running task (even when
    the sweep was started with SIGINT ignored, as background jobs are), so a stopped task kills
    its tools; an idle worker just exits, quietly. The worker also stops when the main process
    dies (kill -9): nothing else would ever end it."""
    def interrupt(signum, frame):
        global _stopping
        if not _busy:
            os._exit(128 + signum)
        if _stopping:              # Ctrl-C and the pool's SIGTERM: the first one is unwinding
            return
        _stopping = True
        raise KeyboardInterrupt
    sys.unraisablehook = _quiet_interrupt
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    threading.Thread(target=_watch_parent, args=(main_pid,), daemon=True,
                     name="nlihw-parent-watch").start()


def _quiet_interrupt(unraisable) -> None:
    """A worker's KeyboardInterrupt that landed in a finalizer (which Python reports and drops) is
    the stop the user asked for, not a bug: no traceback, and the next signal raises again."""
    global _stopping
    if isinstance(unraisable.exc_value, KeyboardInterrupt):
        _stopping = False
        return
    sys.__unraisablehook__(unraisable)


def _watch_parent(main_pid: int) -> None:
    """Wait for ``main_pid`` to end, then stop this worker (its task's tools first)."""
    try:
        fd = os.pidfd_open(main_pid)          # Linux >= 5.3: readable once the process ended
    except (AttributeError, OSError):
        fd = None
    if fd is not None:
        select.select([fd], [], [])
    else:
        while True:
            try:
                os.kill(main_pid, 0)
            except ProcessLookupError:
                break
            except PermissionError:
                pass
            time.sleep(PARENT_POLL)
    os.kill(os.getpid(), signal.SIGTERM)      # a running task stops and kills its tools
    time.sleep(PARENT_GRACE)
    os._exit(1)


def _call(fn, *args):
    """Run one task in a pool worker, marked busy (see _worker_init)."""
    global _busy, _stopping
    _busy, _stopping = True, False
    try:
        return fn(*args)
    finally:
        _busy = False


def _stop(ex: ProcessPoolExecutor) -> None:
    """Cancel queued work and stop running workers (SIGTERM first: they kill their tools)."""
    procs = list(getattr(ex, "_processes", {}).values())
    ex.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        if p.is_alive():
            try:
                os.kill(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + 0.3     # tools die at once (the KeyboardInterrupt kills them)
    for p in procs:
        p.join(max(0.0, deadline - time.monotonic()))
        if p.is_alive():
            p.kill()
            p.join(1.0)
    ex.shutdown(wait=True)           # the manager thread sees the dead workers and ends


def _pool(fn, items, jobs) -> Iterator[tuple[str, object]]:
    pending = dict(items)
    restarts = 0
    while pending:
        ex = ProcessPoolExecutor(max_workers=min(jobs, len(pending)), mp_context=_context(),
                                 initializer=_worker_init, initargs=(os.getpid(),))
        clean = False
        try:
            with _starting_workers():
                futs = {ex.submit(_call, fn, *args): key for key, args in pending.items()}
            broken = False
            todo = set(futs)
            while todo:
                done, todo = wait(todo, return_when=FIRST_COMPLETED)
                for fut in done:
                    key = futs[fut]
                    try:
                        res = fut.result()
                    except BrokenProcessPool:
                        broken = True
                        continue
                    except Exception as e:          # the task itself raised (it should not)
                        res = e
                    del pending[key]
                    yield key, res
            if broken:
                restarts += 1
                if restarts > POOL_RESTARTS:
                    for key in list(pending):
                        del pending[key]
                        yield key, WorkerLost(f"the worker process died {restarts} times "
                                              f"(killed or out of memory)")
            clean = True
        finally:
            if clean:
                ex.shutdown(wait=True)
            else:
                _stop(ex)


def check_scheduler(address: str, timeout: float | None = None) -> None:
    """Raise a one-line SchedulerError unless a Dask scheduler answers at ``address`` within
    ``timeout`` seconds (a TCP connect, then Dask's handshake and an identity call, each bounded:
    distributed's own connect waits forever on a port that accepts and says nothing)."""
    timeout = CONNECT_TIMEOUT if timeout is None else timeout
    m = re.fullmatch(r"(tcp|tls)://([^\s/:]+):(\d{1,5})/?", address)
    if m is None:
        raise SchedulerError(f"--scheduler must be a Dask scheduler address such as "
                             f"tcp://HOST:PORT, got {address!r}")
    where = f"--scheduler {address}: cannot connect"
    deadline = time.monotonic() + timeout
    try:
        socket.create_connection((m[2], int(m[3])), timeout=timeout).close()
    except (OSError, ValueError, OverflowError) as e:     # socket.timeout is an OSError
        raise SchedulerError(f"{where} ({_why(e, timeout)})") from None
    left = max(0.5, deadline - time.monotonic())
    got: dict = {}

    def probe():            # in a thread: Ctrl-C meanwhile leaves no event loop half-unwound
        try:
            got["ident"] = asyncio.run(asyncio.wait_for(_identity(address, left), left))
        except BaseException as e:
            got["error"] = e
    t = threading.Thread(target=probe, daemon=True, name="nlihw-scheduler-probe")
    t.start()
    t.join(left + 1.0)
    e = got.get("error", TimeoutError() if t.is_alive() else None)
    if isinstance(e, ImportError):
        raise SchedulerError(f"--scheduler needs the Python package 'distributed' ({e})") from None
    if isinstance(e, (OSError, ValueError, TypeError, TimeoutError)):
        raise SchedulerError(f"{where} ({_why(e, timeout)}; is it a Dask scheduler?)") from None
    if e is not None:
        raise e
    ident = got.get("ident")
    if not (isinstance(ident, dict) and ident.get("type") == "Scheduler"):
        raise SchedulerError(f"{where} (it answered, but not as a Dask scheduler)")


def _why(e: BaseException, timeout: float) -> str:
    if isinstance(e, TimeoutError):       # socket.timeout and asyncio.TimeoutError too
        return f"no answer within {timeout:g} s"
    text = getattr(e, "strerror", None) or (str(e).splitlines() or [""])[0]
    return text or type(e).__name__


async def _identity(address: str, timeout: float):
    # imported here, not at the top: distributed comes with the optional 'explore' extra
    from distributed.comm import connect
    comm = await connect(address, timeout=timeout)
    try:
        await comm.write({"op": "identity", "reply": True})
        return await comm.read()
    finally:
        comm.abort()


def _dask(fn, items, address) -> Iterator[tuple[str, object]]:
    # imported here, not at the top: distributed comes with the optional 'explore' extra
    from distributed import Client, as_completed
    check_scheduler(address)
    try:
        client = Client(address, timeout=f"{CONNECT_TIMEOUT:g}s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as e:
        raise SchedulerError(f"--scheduler {address}: cannot connect ({e})") from None
    run = uuid.uuid4().hex[:8]
    futs = {}
    clean = False
    try:
        for key, args in items:
            futs[client.submit(fn, *args, key=f"nlihw-point-{key}-{run}", pure=False,
                               retries=1)] = key
        for fut in as_completed(list(futs), loop=client.loop):
            key = futs[fut]
            try:
                res = fut.result()
            except Exception as e:                  # KilledWorker and the like
                res = WorkerLost(f"{type(e).__name__}: {e}".splitlines()[0])
            fut.release()
            yield key, res
        clean = True
    finally:
        if not clean:
            try:
                client.cancel(list(futs), force=True)
            except Exception:
                pass
        client.close()
