"""Pipeline: which of a datapath's optional register points hold a register; latency follows.

A datapath declares its optional register points once, in datapath order (``points``), each a
cut of one path (e.g. ``state_mult``: between the dA*h multiplier and the rounding after it).
A ``Pipeline`` says which are on. It is frozen, hashable and serializes to the list of enabled
points, so it can sit inside a params object (``ScanParams.pipeline``) and its digest. The RTL
asks ``"state_mult" in pipeline``; every enabled point adds one cycle, so the latency is the
datapath's base latency plus ``pipeline.depth`` (``cycles_through`` counts a segment).

Specs (CLI and params): ``none``, ``all``, a depth ``N`` (the first N points in the datapath's
``prefer`` order: the cuts worth most first), or comma-separated point names.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from nlihw.errors import ParamsError

_NAME = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class Pipeline:
    """``enabled`` register points out of ``points`` (all of the datapath's, in datapath order);
    ``prefer``: the order in which ``depth N`` specs enable them (default: datapath order)."""
    points: tuple[str, ...]
    enabled: tuple[str, ...] = ()
    prefer: tuple[str, ...] = ()

    def __post_init__(self):
        set_ = object.__setattr__
        for f in ("points", "enabled", "prefer"):
            v = getattr(self, f)
            if isinstance(v, str) or not all(isinstance(x, str) for x in v):
                raise ParamsError(f"pipeline {f} must be a sequence of point names, got {v!r}")
            set_(self, f, tuple(v))
        bad = [x for x in self.points if not _NAME.fullmatch(x)]
        if bad or len(set(self.points)) != len(self.points):
            raise ParamsError(f"pipeline points must be distinct lower-case names, got {list(self.points)}")
        for f in ("enabled", "prefer"):
            v = getattr(self, f)
            unknown = [x for x in v if x not in self.points]
            if unknown:
                raise ParamsError(f"unknown pipeline point {unknown[0]!r}; this datapath has "
                                  f"{', '.join(self.points) or 'none'}")
            if len(set(v)) != len(v):
                raise ParamsError(f"pipeline {f}: a point is named twice in {list(v)}")
        if self.prefer and set(self.prefer) != set(self.points):
            raise ParamsError(f"pipeline prefer must order every point, got {list(self.prefer)}")
        set_(self, "enabled", tuple(x for x in self.points if x in self.enabled))   # datapath order
        set_(self, "prefer", self.prefer or self.points)

    # --- construction ---------------------------------------------------------------------
    def with_depth(self, n: int) -> "Pipeline":
        """The same datapath with the first ``n`` points of ``prefer`` enabled."""
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= len(self.points):
            raise ParamsError(f"pipeline depth must be 0..{len(self.points)}, got {n!r}")
        return Pipeline(self.points, self.prefer[:n], self.prefer)

    def with_enabled(self, names) -> "Pipeline":
        return Pipeline(self.points, tuple(names), self.prefer)

    def parse(self, spec: "str | int | list | tuple | Pipeline | None") -> "Pipeline":
        """A pipeline of this datapath from a spec: None/``none``, ``all``, a depth, point names
        (a comma-separated string or a list), or a Pipeline of the same datapath."""
        if spec is None:
            return self.with_enabled(())
        if isinstance(spec, Pipeline):
            if spec.points != self.points:
                raise ParamsError(f"pipeline of another datapath ({', '.join(spec.points)})")
            return self.with_enabled(spec.enabled)
        if isinstance(spec, int) and not isinstance(spec, bool):
            return self.with_depth(spec)
        if isinstance(spec, str):
            s = spec.strip()
            if s in ("", "none"):
                return self.with_enabled(())
            if s == "all":
                return self.with_enabled(self.points)
            if s.isdigit():
                return self.with_depth(int(s))
            return self.with_enabled(tuple(x.strip() for x in s.split(",")))
        if isinstance(spec, (list, tuple)):
            return self.with_enabled(tuple(spec))
        raise ParamsError(f"pipeline: expected none, all, a depth or point names, got {spec!r}")

    # --- queries ----------------------------------------------------------------------------
    def __contains__(self, name: str) -> bool:
        if name not in self.points:
            raise KeyError(f"no pipeline point {name!r}")      # a typo in the RTL, not user input
        return name in self.enabled

    @property
    def depth(self) -> int:
        """Cycles the enabled points add to the datapath's base latency."""
        return len(self.enabled)

    def cycles_through(self, *names: str) -> int:
        """Cycles added by the enabled points among ``names`` (the points of one segment)."""
        return sum(1 for n in names if n in self)

    def to_list(self) -> list[str]:
        return list(self.enabled)

    def __str__(self) -> str:
        return ",".join(self.enabled) or "none"
