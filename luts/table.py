"""An NLI table: cutpoints, per-interval scale, stored values and clamp values, plus its JSON file.

The file is schema-versioned and carries the sha256 of its own canonical content; the loader
validates everything (types, ranges, consistency of domain, cutpoints, scales and values) and names
the file and field in its one error. Floats in ``meta`` are written with ``META_SIG_DIGITS``
significant digits so that a file's bytes do not depend on the CPU's libm.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
import stat
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property
from pathlib import Path

import numpy as np

from nlihw.atomic import atomic_write_text
from nlihw.errors import NlihwError, TableError
from .layout import TableLayout, interval_scale
from .tails import Tail

SCHEMA_VERSION = 1
# Floats in meta (errors, fit statistics) are stored with this many significant digits: their last
# digits depend on the CPU's libm, the stored figures must not (the hardware fields are integers).
META_SIG_DIGITS = 6
META_MAX_DEPTH = 8                 # nesting levels allowed inside meta
MAX_FILE_BYTES = 16 << 20          # a table file larger than 16 MiB is refused unread
# registry names (silu, gelu_tanh) and user functions written module.path:function
FUNCTION_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*(:[A-Za-z_][A-Za-z0-9_]*)?")   # fullmatch
FIELDS = ("schema_version", "function", "domain", "layout", "cutpoints", "mul", "shift", "values",
          "exponents", "clamp", "tails", "meta", "sha256")


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
    if isinstance(meta, np.bool_):
        return bool(meta)
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


def _is_int(v) -> bool:
    """A JSON integer (bool is an int subclass in Python but not an integer here)."""
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _is_real(v) -> bool:
    return (_is_int(v) or isinstance(v, (float, np.floating))) and not isinstance(v, (bool, np.bool_))


def _fmt_codes(fmt, lo: Fraction, hi: Fraction) -> tuple[int, int]:
    """First and last raw code of ``fmt`` inside the real interval [lo, hi] (exact)."""
    scale = Fraction(2) ** fmt.frac_bits
    return math.ceil(lo * scale), math.floor(hi * scale)


@dataclass(frozen=True)
class NLITable:
    """One fitted function. Raw values are integers in the layout's input / output formats."""
    layout: TableLayout
    function: str
    cutpoints: tuple[int, ...]          # M raw input codes, strictly increasing; the last may be
                                        # one past the format's last code (no right-clamp region)
    values: tuple[int, ...]             # (M-1)*K + 1 raw output codes at the micro-bin edges
    clamp_lo: int                       # tail constant b for x < cutpoints[0] (clamp: the output)
    clamp_hi: int                       # tail constant b for x >= cutpoints[-1]
    domain: tuple[float, float]         # real input range the table was fitted on
    tail_lo: Tail = Tail()              # output rule below the first cutpoint (luts/tails.py)
    tail_hi: Tail = Tail()              # output rule from the last cutpoint on
    exponents: tuple[int, ...] = ()     # float output: block exponent E of each macro interval
    meta: dict = field(default_factory=dict, compare=False, hash=False)   # fit settings, errors

    def __post_init__(self):
        set_ = object.__setattr__
        if not isinstance(self.layout, TableLayout):
            raise TableError("layout: expected a TableLayout")
        if not isinstance(self.function, str):
            raise TableError(f"function: expected a name, got {self.function!r}")
        for name in ("cutpoints", "values", "exponents"):
            seq = getattr(self, name)
            try:
                seq = list(seq)
            except TypeError:
                raise TableError(f"{name}: expected a sequence of integers") from None
            if not all(_is_int(v) for v in seq):
                raise TableError(f"{name}: expected integers")
            set_(self, name, tuple(int(v) for v in seq))
        for name in ("clamp_lo", "clamp_hi"):
            if not _is_int(getattr(self, name)):
                raise TableError(f"clamp: expected integers, got {getattr(self, name)!r}")
            set_(self, name, int(getattr(self, name)))
        for name in ("tail_lo", "tail_hi"):
            try:
                set_(self, name, Tail.parse(getattr(self, name)))
            except NlihwError as e:
                raise TableError(f"tails: {e}") from None
        try:
            lo, hi = self.domain
        except (TypeError, ValueError):
            raise TableError(f"domain: expected [lo, hi], got {self.domain!r}") from None
        if not (_is_real(lo) and _is_real(hi)):
            raise TableError(f"domain: expected two numbers, got [{lo!r}, {hi!r}]")
        set_(self, "domain", (float(lo), float(hi)))
        self.validate()

    def validate(self) -> None:
        """Every field in range and consistent with the others (plain Python integers: a value
        such as 10**30 must be refused, not overflow numpy)."""
        lay, c, fin, fout = self.layout, self.cutpoints, self.layout.in_fmt, self.layout.out_fmt
        if not FUNCTION_NAME_RE.fullmatch(self.function):
            raise TableError(f"function: {self.function!r} is not a function name "
                             "(a registry name such as silu, or module:function)")
        if len(c) != lay.M:
            raise TableError(f"cutpoints: expected M={lay.M} entries, got {len(c)}")
        if lay.in_float:
            self._validate_float_cutpoints()
        else:
            if any(b <= a for a, b in zip(c, c[1:])):
                raise TableError("cutpoints: not strictly increasing")
            if not (all(fin.min_raw <= v <= fin.max_raw for v in c[:-1])
                    and fin.min_raw < c[-1] <= fin.max_raw + 1):
                raise TableError(f"cutpoints: a value does not fit the input format {fin} "
                                 f"(raw {fin.min_raw}..{fin.max_raw}, the last may be "
                                 f"{fin.max_raw + 1})")
        if len(self.values) != lay.n_values:
            shape = "(M-1)*(K+1)" if lay.block_values else "(M-1)*K+1"
            raise TableError(f"values: expected {shape} = {lay.n_values} entries, "
                             f"got {len(self.values)}")
        vlo, vhi = -(1 << (lay.value_bits - 1)), (1 << (lay.value_bits - 1)) - 1
        if lay.out_float:
            if not all(vlo <= v <= vhi for v in self.values):
                raise TableError(f"values: a mantissa does not fit {lay.value_bits} signed bits")
            elo, ehi = lay.exp_range
            if len(self.exponents) != lay.M - 1:
                raise TableError(f"exponents: expected M-1 = {lay.M - 1} block exponents, got "
                                 f"{len(self.exponents)}")
            if not all(elo <= e <= ehi for e in self.exponents):
                raise TableError(f"exponents: a block exponent is outside {elo}..{ehi}")
        else:
            if self.exponents:
                raise TableError(f"exponents: only a floating-point output has block exponents")
            if not all(fout.min_raw <= v <= fout.max_raw for v in self.values):
                raise TableError(f"values: a value does not fit the output format {fout} "
                                 f"(raw {fout.min_raw}..{fout.max_raw})")
        for name, v in (("clamp_lo", self.clamp_lo), ("clamp_hi", self.clamp_hi)):
            if lay.out_float:
                if not (0 <= v < (1 << fout.width)) or bool(fout.is_nan(v)):
                    raise TableError(f"clamp: {name} = {v} is not a non-NaN code of {fout}")
            elif not fout.min_raw <= v <= fout.max_raw:
                raise TableError(f"clamp: {name} = {v} does not fit the output format {fout} "
                                 f"(raw {fout.min_raw}..{fout.max_raw})")
        if lay.out_float:
            for side, tail, v in (("left", self.tail_lo, self.clamp_lo), ("right", self.tail_hi, self.clamp_hi)):
                if tail.mode.value == "linear" and bool(fout.is_inf(v)):
                    raise TableError(f"tails: the linear tail's offset ({side}) must be finite, "
                                     f"got the code of {float(fout.to_real(v))} in {fout}")
        for side, tail, v in (("left", self.tail_lo, self.clamp_lo), ("right", self.tail_hi, self.clamp_hi)):
            if tail.fixed_offset and v != 0:
                raise TableError(f"tails: a {tail.mode.value} tail has offset 0, but the {side} "
                                 f"clamp value is {v}")
        self._validate_domain()
        try:
            self.scales  # noqa: B018  (pow2 lengths are checked here)
        except NlihwError as e:
            raise TableError(f"cutpoints: {e}") from None
        if not isinstance(self.meta, dict):
            raise TableError(f"meta: expected an object, got {type(self.meta).__name__}")
        normalize_meta(self.meta)

    def _validate_float_cutpoints(self) -> None:
        """Float input: finite non-NaN codes (not -0), strictly increasing, on the internal grid
        2^-x_frac_bits, every interval shorter than 2^dx_width internal units."""
        lay, c, fin = self.layout, self.cutpoints, self.layout.in_fmt
        if not all(0 <= v < (1 << fin.width) for v in c):
            raise TableError(f"cutpoints: a value is not a {fin.width}-bit code of {fin}")
        arr = np.array(c, dtype=np.int64)
        if np.any(fin.is_nan(arr) | fin.is_inf(arr)):
            raise TableError(f"cutpoints: a cutpoint is NaN or infinite; they must be finite codes")
        if np.any(arr == (1 << (fin.width - 1))):
            raise TableError("cutpoints: -0 is not a cutpoint (use +0, code 0)")
        key = lay.key(arr)
        if np.any(np.diff(key) <= 0):
            raise TableError("cutpoints: not strictly increasing")
        v = np.ldexp(fin.to_real(arr), lay.x_frac_bits)
        if np.any(np.abs(v) >= (1 << 52)) or np.any(v != np.floor(v)):
            raise TableError(f"cutpoints: a cutpoint is not a multiple of 2^-{lay.x_frac_bits} "
                             f"(x_frac_bits) or is too large")
        pos = lay.position(arr)
        if np.any(np.diff(pos) >= (1 << lay.dx_bits)):
            raise TableError(f"cutpoints: a macro interval is 2^{lay.dx_bits} internal units or "
                             f"longer (dx_width {lay.dx_bits}, quantum 2^-{lay.x_frac_bits})")

    def _validate_domain(self) -> None:
        """Finite, lo < hi, inside the input format, and every macro interval overlaps it."""
        lo, hi = self.domain
        fin, c = self.layout.in_fmt, self.cutpoints
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise TableError(f"domain: [{lo!r}, {hi!r}] is not finite")
        if not lo < hi:
            raise TableError(f"domain: expected lo < hi, got [{lo:g}, {hi:g}]")
        if not (fin.min <= lo and hi <= fin.max):
            raise TableError(f"domain: [{lo:g}, {hi:g}] is outside the input format {fin} "
                             f"[{fin.min:g}, {fin.max:g}]")
        if self.layout.in_float:
            cv = fin.to_real(np.array(c, dtype=np.int64))
            if not (cv[1] > lo and cv[-2] <= hi):
                raise TableError(f"domain: [{lo:g}, {hi:g}] does not overlap every macro interval "
                                 f"(cutpoints {cv[0]:g}..{cv[-1]:g})")
            return
        lo_code, hi_code = _fmt_codes(fin, Fraction(lo), Fraction(hi))
        if lo_code > hi_code:
            raise TableError(f"domain: [{lo:g}, {hi:g}] holds no code of {fin}")
        # every macro interval [c_i, c_{i+1}) must hold a domain code: the first and the last do
        if not (c[1] > lo_code and c[-2] <= hi_code):
            raise TableError(f"domain: [{lo:g}, {hi:g}] (raw {lo_code}..{hi_code}) does not overlap "
                             f"every macro interval (cutpoints raw {c[0]}..{c[-1]})")

    # --- derived per-interval datapath constants --------------------------------------------
    @cached_property
    def scales(self) -> tuple[tuple[int, int], ...]:
        """(mul, shift) of each macro interval (lengths in internal units for a float input)."""
        c = [int(v) for v in self.layout.position(np.array(self.cutpoints, dtype=np.int64))]
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
            **({"exponents": list(self.exponents)} if self.layout.out_float else {}),
            "clamp": [self.clamp_lo, self.clamp_hi],
            # written only when a side is not a clamp, so clamp-only files keep their bytes and hash
            **({"tails": [str(self.tail_lo), str(self.tail_hi)]} if self.has_tails else {}),
        }

    @property
    def has_tails(self) -> bool:
        """True when a side is something other than a constant clamp."""
        return str(self.tail_lo) != "clamp" or str(self.tail_hi) != "clamp"

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
        """``$readmemh`` image of the stored values (bit patterns, one per line, in address order;
        ``value_bits``-bit two's complement mantissas for a float output)."""
        B = self.layout.value_bits
        digits = (B + 3) // 4
        bits = np.array(self.values, dtype=np.int64) & np.int64((1 << B) - 1)
        return [f"{int(b):0{digits}x}" for b in bits]

    def save_hex(self, path: "str | Path") -> Path:
        path = Path(path)
        atomic_write_text(path, "\n".join(self.hex_lines()) + "\n")
        return path

    @classmethod
    def from_dict(cls, d: dict, source: str = "<table>", *, verify: bool = True,
                  require_hash: bool = False) -> "NLITable":
        """Build and validate a table from its parsed JSON; errors name ``source`` and the field.

        ``verify`` checks the sha256 when the dict has one; ``require_hash`` also refuses a dict
        without it (``load`` sets it for files). In-memory dicts (``content()``) carry no hash.
        """
        try:
            return cls._from_dict(d, source, verify, require_hash)
        except RecursionError:
            raise TableError(f"{source}: (top level): nested too deeply") from None

    @classmethod
    def _from_dict(cls, d, source, verify, require_hash) -> "NLITable":
        def fail(fld, msg):
            raise TableError(f"{source}: {fld}: {msg}")

        if not isinstance(d, dict):
            fail("(top level)", "expected a JSON object")
        ver = d.get("schema_version")
        if not _is_int(ver) or ver != SCHEMA_VERSION:
            fail("schema_version", f"expected {SCHEMA_VERSION}, got {ver!r}")
        unknown = sorted(str(k) for k in d if k not in FIELDS)
        if unknown:
            fail(unknown[0], f"unknown field (fields: {', '.join(FIELDS)})")
        for key in ("function", "domain", "layout", "cutpoints", "mul", "shift", "values", "clamp"):
            if key not in d:
                fail(key, "missing")
        if verify:
            if "sha256" in d:
                body = {k: v for k, v in d.items() if k != "sha256"}
                if _digest(body) != d["sha256"]:
                    fail("sha256", "does not match the content (the file was edited or corrupted; "
                         "use --no-verify to load it anyway)")
            elif require_hash:
                fail("sha256", "missing; the file cannot be verified (use --no-verify to load it anyway)")
        if not isinstance(d["function"], str):
            fail("function", f"expected a name, got {d['function']!r}")
        for key in ("cutpoints", "mul", "shift", "values"):
            if not isinstance(d[key], list) or not all(_is_int(v) for v in d[key]):
                fail(key, "expected a list of integers")
        exps = d.get("exponents", [])
        if not isinstance(exps, list) or not all(_is_int(v) for v in exps):
            fail("exponents", "expected a list of integers")
        if (not isinstance(d["clamp"], list) or len(d["clamp"]) != 2
                or not all(_is_int(v) for v in d["clamp"])):
            fail("clamp", "expected [clamp_lo, clamp_hi] integers")
        tails = d.get("tails", ["clamp", "clamp"])
        if not isinstance(tails, list) or len(tails) != 2 or not all(isinstance(v, str) for v in tails):
            fail("tails", "expected [left, right] tail names, e.g. [\"zero\", \"identity\"]")
        dom = d["domain"]
        if not isinstance(dom, list) or len(dom) != 2 or not all(_is_real(v) for v in dom):
            fail("domain", f"expected [lo, hi] numbers, got {dom!r}")
        if "meta" in d and not isinstance(d["meta"], dict):
            fail("meta", f"expected an object, got {type(d['meta']).__name__}")
        if not isinstance(d["layout"], dict):
            fail("layout", "expected an object")
        try:
            layout = TableLayout.from_dict(d["layout"])
        except (TypeError, ValueError, OverflowError) as e:     # NlihwErrors are ValueErrors
            fail("layout", str(e))
        try:
            t = cls(layout=layout, function=d["function"], cutpoints=d["cutpoints"],
                    values=d["values"], clamp_lo=d["clamp"][0], clamp_hi=d["clamp"][1],
                    domain=tuple(dom), tail_lo=tails[0], tail_hi=tails[1], exponents=exps,
                    meta=d.get("meta", {}))
        except TableError as e:
            raise TableError(f"{source}: {e}") from None
        if list(t.mul) != d["mul"]:
            fail("mul", "does not match the multipliers implied by the cutpoints")
        if list(t.shift) != d["shift"]:
            fail("shift", "does not match the shifts implied by the cutpoints")
        return t

    @classmethod
    def load(cls, path: "str | Path", verify: bool = True) -> "NLITable":
        """Read and validate a table file. It must carry a matching sha256 unless ``verify`` is
        False (a missing or stale hash is then accepted); every other check still applies."""
        path = Path(path)
        data = read_table_bytes(path)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise TableError(f"{path}: not valid JSON (not UTF-8 text at byte {e.start})") from None
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise TableError(f"{path}: not valid JSON (line {e.lineno}: {e.msg})") from None
        except RecursionError:
            raise TableError(f"{path}: not valid JSON (nested too deeply)") from None
        except ValueError as e:          # e.g. an integer literal of more than 4,300 digits
            raise TableError(f"{path}: not valid JSON ({e})") from None
        return cls.from_dict(d, source=str(path), verify=verify, require_hash=verify)


def read_table_bytes(path: Path) -> bytes:
    """The bytes of a regular file of at most ``MAX_FILE_BYTES`` (never blocks on a FIFO, never
    reads a device such as /dev/zero forever)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as e:
        raise TableError(f"{path}: cannot read: {e.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
            raise TableError(f"{path}: is {kind}; a table must be a regular file")
        chunks, left = [], MAX_FILE_BYTES + 1
        while left > 0:
            b = os.read(fd, min(left, 1 << 20))
            if not b:
                break
            chunks.append(b)
            left -= len(b)
        if left <= 0:
            raise TableError(f"{path}: larger than {MAX_FILE_BYTES >> 20} MiB; not a table file")
        return b"".join(chunks)
    except OSError as e:
        raise TableError(f"{path}: cannot read: {e.strerror}") from None
    finally:
        os.close(fd)


def _digest(d: dict) -> str:
    return hashlib.sha256(json.dumps(d, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
