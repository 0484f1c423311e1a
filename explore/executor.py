"""Run the same task function over many inputs: on a local process pool (concurrent.futures) or on
an existing Dask distributed cluster (``tcp://HOST:PORT``), yielding (key, result) as they finish.

A result is either what the task returned or a ``WorkerLost`` when the process running it died
(killed, out of memory) more often than it is retried. On an interrupt, queued tasks are
cancelled and running ones stopped (SIGTERM, so their tools are killed too, then SIGKILL).
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Iterable, Iterator

from nlihw.errors import NlihwError

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
        from nlihw.errors import ParamsError
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
    return ctx


def _worker_init() -> None:
    """In a pool worker, SIGINT and SIGTERM raise KeyboardInterrupt (even when the sweep was
    started with SIGINT ignored, as background jobs are), so a stopped task kills its tools."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)


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
                                 initializer=_worker_init)
        clean = False
        try:
            futs = {ex.submit(fn, *args): key for key, args in pending.items()}
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


def _dask(fn, items, address) -> Iterator[tuple[str, object]]:
    from distributed import Client, as_completed
    try:
        client = Client(address, timeout="10s", set_as_default=False)
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
