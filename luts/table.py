"""An NLI table: cutpoints, per-interval scale, stored values and clamp values, plus its JSON file.

The file is schema-versioned and carries the sha256 of its own canonical content; the loader
validates everything and names the file and field in its error. Floats in ``meta`` are written with
``META_SIG_DIGITS`` significant digits so that a file's bytes do not depend on the CPU's libm.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from nlihw.atomic import atomic_write_text
from nlihw.errors import NlihwError, TableError
from .layout import TableLayout, interval_scale

SCHEMA_VERSION = 1
# Floats in meta (errors, fit statistics) are stored with this many significant digits: their last
# digits depend on the CPU's libm, the stored figures must not (the hardware fields are integers).
META_SIG_DIGITS = 6
META_MAX_DEPTH = 8                 # nesting levels allowed inside meta


def round_meta_float(x: float) -> float:
    """``x`` rounded to ``META_SIG_DIGITS`` significant digits (decimal, correctly rounded)."""
    return float(f"{x:.{META_SIG_DIGITS}g}")


def normalize_meta(meta, where: str = "meta", depth: int = 0):
    """Plain JSON copy of ``meta`` with every float rounded to ``META_SIG_DIGITS`` digits.

    Raises TableError naming the entry for anything a table file cannot hold: non-string keys,
    non-JSON values, NaN or infinity, nesting deeper than ``META_MAX_DEPTH``.
    """
    if depth > META_MAX_DEPTH:
        raise TableError(f"{where}: nested deeper than {META_MAX_DEPTH} levels")
    if meta is None or isinstance(meta, (bool, str)):
        return meta
    if isinstance(meta, (int, np.integer)):
        return int(meta)
    if isinstance(meta, (float, np.floating)):
        if not math.isfinite(meta):
            raise TableError(f"{where}: {float(meta)!r} is not a finite number")
        return round_meta_float(float(meta))
    if isinstance(meta, dict):
        out = {}
        for k, v in meta.items():
            if not isinstance(k, str):
                raise TableError(f"{where}: key {k!r} is not a string")
            out[k] = normalize_meta(v, f"{where}.{k}", depth + 1)
        return out
    if isinstance(meta, (list, tuple)):
        return [normalize_meta(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(meta)]
    raise TableError(f"{where}: {type(meta).__name__} value {meta!r} cannot be stored")


@dataclass(frozen=True)
class NLITable:
    """One fitted function. Raw values are integers in the layout's input / output formats."""
    layout: TableLayout
    function: str
    cutpoints: tuple[int, ...]          # M raw input codes, strictly increasing; the last may be
                                        # one past the format's last code (no right-clamp region)
    values: tuple[int, ...]             # (M-1)*K + 1 raw output codes at the micro-bin edges
    clamp_lo: int                       # output for x < cutpoints[0]
    clamp_hi: int                       # output for x >= cutpoints[-1]
    domain: tuple[float, float]         # real input range the table was fitted on
    meta: dict = field(default_factory=dict, compare=False, hash=False)   # fit settings, errors

    def __post_init__(self):
        object.__setattr__(self, "cutpoints", tuple(int(c) for c in self.cutpoints))
        object.__setattr__(self, "values", tuple(int(v) for v in self.values))
        object.__setattr__(self, "clamp_lo", int(self.clamp_lo))
        object.__setattr__(self, "clamp_hi", int(self.clamp_hi))
        object.__setattr__(self, "domain", (float(self.domain[0]), float(self.domain[1])))
        self.validate()

    def validate(self) -> None:
        lay, c = self.layout, self.cutpoints
        if len(c) != lay.M:
            raise TableError(f"cutpoints: expected M={lay.M} entries, got {len(c)}")
        if any(b <= a for a, b in zip(c, c[1:])):
            raise TableError("cutpoints: not strictly increasing")
        if not (np.all(lay.in_fmt.contains(c[:-1])) and lay.in_fmt.min_raw < c[-1] <= lay.in_fmt.max_raw + 1):
            raise TableError(f"cutpoints: a value does not fit the input format {lay.in_fmt}")
        if len(self.values) != lay.n_values:
            raise TableError(f"values: expected (M-1)*K+1 = {lay.n_values} entries, "
                             f"got {len(self.values)}")
        if not np.all(lay.out_fmt.contains(self.values + (self.clamp_lo, self.clamp_hi))):
            raise TableError(f"values: a value does not fit the output format {lay.out_fmt}")
        try:
            self.scales  # noqa: B018  (pow2 lengths are checked here)
        except NlihwError as e:
            raise TableError(f"cutpoints: {e}") from None
        if not isinstance(self.meta, dict):
            raise TableError(f"meta: expected an object, got {type(self.meta).__name__}")
        normalize_meta(self.meta)

    # --- derived per-interval datapath constants --------------------------------------------
    @cached_property
    def scales(self) -> tuple[tuple[int, int], ...]:
        """(mul, shift) of each macro interval."""
        c = self.cutpoints
        return tuple(interval_scale(self.layout, b - a) for a, b in zip(c, c[1:]))

    @property
    def mul(self) -> tuple[int, ...]:
        return tuple(m for m, _ in self.scales)

    @property
    def shift(self) -> tuple[int, ...]:
        return tuple(s for _, s in self.scales)

    @property
    def name(self) -> str:
        lay = self.layout
        return f"{self.function.replace(':', '.')}_{lay.in_fmt}_{lay.out_fmt}_M{lay.M}_K{lay.K}_{lay.micro_step.value}"

    # --- serialization ---------------------------------------------------------------------
    def hardware(self) -> dict:
        """Everything the hardware depends on (the file's content without ``meta``)."""
        return {
            "schema_version": SCHEMA_VERSION,
            "function": self.function,
            "domain": list(self.domain),
            "layout": self.layout.to_dict(),
            "cutpoints": list(self.cutpoints),
            "mul": list(self.mul),
            "shift": list(self.shift),
            "values": list(self.values),
            "clamp": [self.clamp_lo, self.clamp_hi],
        }

    def content(self) -> dict:
        """The hardware plus the fit record (floats at ``META_SIG_DIGITS`` digits), without the hash."""
        return {**self.hardware(), "meta": normalize_meta(self.meta)}

    @property
    def sha256(self) -> str:
        return _digest(self.content())

    def to_json(self) -> str:
        d = self.content()
        d["sha256"] = _digest(d)
        return json.dumps(d, indent=1, sort_keys=True, allow_nan=False) + "\n"

    def save(self, path: "str | Path") -> Path:
        path = Path(path)
        atomic_write_text(path, self.to_json())
        return path

    def hex_lines(self) -> list[str]:
        """``$readmemh`` image of the stored values (bit patterns, one per line, in address order)."""
        digits = (self.layout.out_fmt.width + 3) // 4
        bits = self.layout.out_fmt.to_bits(np.array(self.values, dtype=np.int64))
        return [f"{int(b):0{digits}x}" for b in bits]

    def save_hex(self, path: "str | Path") -> Path:
        path = Path(path)
        atomic_write_text(path, "\n".join(self.hex_lines()) + "\n")
        return path

    @classmethod
    def from_dict(cls, d: dict, source: str = "<table>") -> "NLITable":
        """Build and validate a table from its parsed JSON; errors name ``source`` and the field."""
        def fail(fld, msg):
            raise TableError(f"{source}: {fld}: {msg}")

        if not isinstance(d, dict):
            fail("(top level)", "expected a JSON object")
        ver = d.get("schema_version")
        if ver != SCHEMA_VERSION:
            fail("schema_version", f"expected {SCHEMA_VERSION}, got {ver!r}")
        for key in ("function", "domain", "layout", "cutpoints", "mul", "shift", "values", "clamp"):
            if key not in d:
                fail(key, "missing")
        if "sha256" in d:
            body = {k: v for k, v in d.items() if k != "sha256"}
            if _digest(body) != d["sha256"]:
                fail("sha256", "does not match the content (the file was edited or corrupted)")
        for key in ("cutpoints", "mul", "shift", "values"):
            if not isinstance(d[key], list) or not all(isinstance(v, int) for v in d[key]):
                fail(key, "expected a list of integers")
        if (not isinstance(d["clamp"], list) or len(d["clamp"]) != 2
                or not all(isinstance(v, int) for v in d["clamp"])):
            fail("clamp", "expected [clamp_lo, clamp_hi] integers")
        if not isinstance(d["domain"], list) or len(d["domain"]) != 2:
            fail("domain", "expected [lo, hi]")
        try:
            layout = TableLayout.from_dict(d["layout"]) if isinstance(d["layout"], dict) \
                else fail("layout", "expected an object")
        except TypeError as e:
            fail("layout", str(e))
        except NlihwError as e:
            fail("layout", str(e))
        try:
            t = cls(layout=layout, function=str(d["function"]), cutpoints=d["cutpoints"],
                    values=d["values"], clamp_lo=d["clamp"][0], clamp_hi=d["clamp"][1],
                    domain=tuple(d["domain"]), meta=d.get("meta", {}))
        except TableError as e:
            raise TableError(f"{source}: {e}") from None
        if list(t.mul) != d["mul"]:
            fail("mul", "does not match the multipliers implied by the cutpoints")
        if list(t.shift) != d["shift"]:
            fail("shift", "does not match the shifts implied by the cutpoints")
        return t

    @classmethod
    def load(cls, path: "str | Path") -> "NLITable":
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as e:
            raise TableError(f"{path}: cannot read: {e.strerror}") from None
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise TableError(f"{path}: not valid JSON (line {e.lineno}: {e.msg})") from None
        return cls.from_dict(d, source=str(path))


def _digest(d: dict) -> str:
    return hashlib.sha256(json.dumps(d, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
