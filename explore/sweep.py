"""A sweep: validate the spec, take finished points from the cache, run the missing ones on the
executor (each stored the moment it returns), show progress, then write the tidy tables.

Stopping at any moment (Ctrl-C, a killed process, power loss) loses at most the points that were
running: every finished point is already in RESULTS/points/, and the next run computes only the
rest.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)

from nlihw.atomic import OutputError, atomic_write_text, check_destination
from . import cache
from .executor import WorkerLost, check_scheduler, run_tasks
from .points import Point
from .results import COLUMNS, CSV_NAME, PARQUET_NAME, row_template, write_tables
from .spec import Spec
from .tasks import run_point

WORK_DIR = "cache"          # RESULTS/cache: fitted tables and the tasks' scratch directories


@dataclass
class SweepSummary:
    total: int = 0
    cached: int = 0
    computed: int = 0
    failed: int = 0
    seconds: float = 0.0
    tables: list[Path] = field(default_factory=list)
    failures: list[tuple[str, str, str]] = field(default_factory=list)   # (point_id, label, error)


def lost_record(p: Point, err: BaseException) -> dict:
    """The record of a point whose worker died: failed, and marked not to be trusted on re-runs."""
    row = row_template(p)
    row.update(status="failed", error=f"{type(err).__name__}: {err}")
    return {**{c: row[c] for c in COLUMNS}, "params": None, "reports": {}, "transient": True}


def cached_record(results: Path, p: Point, retry_failed: bool) -> dict | None:
    rec = cache.read_point(results, p.point_id)
    if rec is None or rec.get("transient") or (retry_failed and rec["status"] == "failed"):
        return None
    return rec


def check_outputs(results: Path) -> None:
    """One line, before anything is written or run, when RESULTS or a file or folder the sweep
    writes there is in the way (a file where a directory belongs, a directory or FIFO where a
    file belongs)."""
    if results.exists() and not results.is_dir():
        raise OutputError(f"{results}: is not a directory")
    for name in (cache.POINTS_DIR, WORK_DIR):
        if (results / name).exists() and not (results / name).is_dir():
            raise OutputError(f"{results / name}: is not a directory")
    for name in ("spec.toml", CSV_NAME, PARQUET_NAME):
        check_destination(results / name)


def run_sweep(spec: Spec, results: "str | Path", *, jobs: int | None = None,
              scheduler: str | None = None, quiet: bool = False, console=None,
              retry_failed: bool = False, synth_cache: "str | Path | None" = None,
              spec_text: str | None = None, progress: "Callable[[str], None] | None" = None,
              detail: "Callable[[str], None] | None" = None) -> SweepSummary:
    """Run every point of ``spec`` that RESULTS does not hold yet; write the tables; summarize.

    ``progress`` takes the plain progress lines of a log (default: printed on ``console``),
    ``detail`` a line per point done (default: none); the CLI passes its verbosity's."""
    results = Path(results)
    console = console or Console(stderr=True)
    progress = progress or (lambda msg: console.print(msg, markup=False, highlight=False))
    t0 = time.perf_counter()
    s = SweepSummary(total=len(spec.points))
    check_outputs(results)
    if scheduler:
        check_scheduler(scheduler)          # before anything is written
    with cache.locked(results):
        cache.remove_stale_temporaries(results, WORK_DIR)
        records: dict[str, dict] = {}
        todo: list[Point] = []
        for p in spec.points:
            rec = cached_record(results, p, retry_failed)
            if rec is None:
                todo.append(p)
            else:
                records[p.point_id] = rec
        for p in todo:                       # a record path that cannot be written: before any work
            check_destination(cache.point_path(results, p.point_id))
        atomic_write_text(results / "spec.toml", spec_text if spec_text is not None else spec.to_toml())
        s.cached = len(records)
        by_id = {p.point_id: p for p in todo}
        work = str((results / WORK_DIR).absolute())
        items = [(p.point_id, (p.to_dict(), work, None if synth_cache is None else str(synth_cache)))
                 for p in todo]
        try:
            _run_points(results, items, by_id, records, s, bar_args=(console, quiet, progress, detail),
                        jobs=jobs, scheduler=scheduler)
        except KeyboardInterrupt:
            console.print(f"interrupted: {len(records)} of {s.total} points are stored in "
                          f"{results / cache.POINTS_DIR}; run the sweep again to finish it",
                          markup=False, highlight=False)
            raise
        s.failed = sum(r["status"] == "failed" for r in records.values())
        s.tables = write_tables(results, [records[p.point_id] for p in spec.points])
    s.seconds = time.perf_counter() - t0
    return s


def _run_points(results, items, by_id, records, s, bar_args, jobs, scheduler):
    """Submit the missing points; store each record the moment it arrives."""
    console, quiet, progress, detail = bar_args
    with _Progress(console, quiet, s.total, s.cached, progress) as bar:
        for pid, res in run_tasks(run_point, items, jobs=jobs, scheduler=scheduler):
            p = by_id[pid]
            if isinstance(res, BaseException):
                res = lost_record(p, res if isinstance(res, WorkerLost) else WorkerLost(str(res)))
            res["point"] = p.to_dict()
            res["versions"] = p.versions()
            cache.write_point(results, res)
            records[pid] = res
            s.computed += 1
            failed = res["status"] == "failed"
            if failed:
                s.failures.append((pid, p.label(), res["error"]))
                console.print(f"failed: {pid} {p.label()}: {res['error']}", markup=False,
                              highlight=False)
            if detail:
                detail(f"done: {pid} {p.label()}: {res['status']}")
            bar.advance(failed)


class _Progress:
    """Points done / total, failures, elapsed, ETA (nothing with ``quiet``): a rich bar on a
    terminal; in a log (the console is not a terminal) a plain line at most every
    ``plain_every_s()`` seconds, and one at the start and at the end."""

    def __init__(self, console, quiet: bool, total: int, done: int, line: "Callable[[str], None]"):
        self.quiet, self.total, self.done, self.failed, self.line = quiet, total, done, 0, line
        self.console = console
        self.progress = None
        self.plain = not quiet and not console.is_terminal
        self.start_done, self.t0, self.shown_at, self.shown = done, time.monotonic(), 0.0, None

    def __enter__(self):
        if self.plain:
            self._line()
        elif not self.quiet:
            self.progress = Progress(TextColumn("sweep"), BarColumn(), MofNCompleteColumn(),
                                     TextColumn("{task.fields[failed]} failed"),
                                     TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                                     console=self.console, transient=False)
            self.progress.__enter__()
            self.task = self.progress.add_task("sweep", total=self.total, completed=self.done,
                                               failed=0)
        return self

    def advance(self, failed: bool) -> None:
        self.done += 1
        self.failed += bool(failed)
        if self.progress is not None:
            self.progress.update(self.task, advance=1, failed=self.failed)
        elif self.plain and time.monotonic() - self.shown_at >= plain_every_s():
            self._line()

    def _line(self) -> None:
        elapsed = time.monotonic() - self.t0
        ran = self.done - self.start_done
        eta = "?" if ran <= 0 else _duration((self.total - self.done) * elapsed / ran)
        self.line(f"sweep: {self.done}/{self.total} points done, {self.failed} failed, "
                  f"{_duration(elapsed)} elapsed, ETA {eta}")
        self.shown_at, self.shown = time.monotonic(), (self.done, self.failed)

    def __exit__(self, *exc):
        if self.progress is not None:
            self.progress.__exit__(*exc)
        elif self.plain and exc[0] is None and self.shown != (self.done, self.failed):
            self._line()
        return False


PLAIN_EVERY_S = 10.0


def plain_every_s() -> float:
    """Seconds between plain progress lines (NLIHW_PROGRESS_S, else ``PLAIN_EVERY_S``)."""
    try:
        v = float(os.environ.get("NLIHW_PROGRESS_S", PLAIN_EVERY_S))
    except ValueError:
        return PLAIN_EVERY_S
    return v if v >= 0 else PLAIN_EVERY_S


def _duration(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else \
        f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"
