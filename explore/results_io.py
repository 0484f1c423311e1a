"""Read a sweep's results table (RESULTS/results.parquet or results.csv, see the results schema)
into row dicts with typed values, refusing missing, corrupt or truncated files with one line.

Missing figures become None (empty CSV cells, Parquet nulls); text columns that are missing in a
row become "". Columns beyond the schema are kept as read; the column P of older tables (the
scan unit's state lanes) is read as lanes.
"""
from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from .input_files import MAX_TABLE_BYTES, InputFileError, read_input
from .results import SCHEMA, ResultsError

# the schema's columns and their types, in order (defined once, in results.py)
COLUMNS: dict[str, type] = {c: {"str": str, "int": int, "float": float}[t] for c, t in SCHEMA.items()}
# the columns reports and queries rely on; a file without one of them is refused
REQUIRED = ("point_id", "design", "status", "error", "func", "in_fmt", "out_fmt", "M", "K",
            "micro_step", "arch", "lanes", "storage", "target", "preset", "d_state",
            "max_err_lsb", "mean_err_lsb", "max_err", "rms_err", "area", "latency", "table_bits")
STATUSES = ("ok", "failed")
FILES = ("results.parquet", "results.csv")


def locate(path: str | Path) -> Path:
    """The results file that RESULTS names: the file itself, or in a directory results.parquet
    (preferred: typed) or results.csv."""
    path = Path(path)
    if path.is_dir():
        for name in FILES:
            if (path / name).is_file():
                return path / name
        raise ResultsError(f"{path}: no results.parquet or results.csv in this directory "
                           f"(run 'nlihw sweep' first)")
    if not path.exists():
        raise ResultsError(f"{path}: no such file or directory (give a sweep's results directory)")
    if not path.is_file():
        raise ResultsError(f"{path}: not a regular file")
    if path.suffix not in (".parquet", ".csv"):
        raise ResultsError(f"{path}: expected a .parquet or .csv results file")
    return path


def _convert(value, kind: type, where: str):
    """``value`` (a CSV string or a Parquet scalar) as ``kind``; None for a missing figure."""
    if kind is str:
        if value is None:
            return ""
        if not isinstance(value, str):
            raise ResultsError(f"{where}: expected text, got {value!r}")
        return value
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ResultsError(f"{where}: expected a number, got {value!r}")
    if isinstance(value, str):
        try:
            value = int(value) if kind is int else float(value)
        except ValueError:
            try:                                # "9.0" is a fine integer
                f = float(value)
            except ValueError:
                raise ResultsError(f"{where}: expected {'an integer' if kind is int else 'a number'}, "
                                   f"got {value!r}") from None
            value = f
    if kind is int:
        if isinstance(value, float):
            if math.isnan(value):
                return None
            if not value.is_integer():
                raise ResultsError(f"{where}: expected an integer, got {value!r}")
            value = int(value)
        if not isinstance(value, int):
            raise ResultsError(f"{where}: expected an integer, got {value!r}")
        return value
    if not isinstance(value, (int, float)):
        raise ResultsError(f"{where}: expected a number, got {value!r}")
    return float(value)


def _typed(raw: dict, where: str) -> dict:
    row = dict(raw)
    if "P" in row:
        # tables written before the scan unit's state lanes P became the column lanes
        old = _convert(row.pop("P"), int, f"{where}: column P")
        if raw.get("design") == "scan" and old is not None:
            raw = {**raw, "lanes": old}
    for name, kind in COLUMNS.items():
        if name in raw:
            row[name] = _convert(raw[name], kind, f"{where}: column {name}")
        else:
            row[name] = "" if kind is str else None
    if row["status"] not in STATUSES:
        raise ResultsError(f"{where}: status must be 'ok' or 'failed', got {row['status']!r}")
    return row


def _check_columns(path: Path, names) -> None:
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise ResultsError(f"{path}: missing column{'s' if len(missing) > 1 else ''} "
                           f"{', '.join(missing)} (not a sweep results table?)")


def _read(path: Path) -> bytes:
    try:
        return read_input(path, MAX_TABLE_BYTES, "results table")
    except InputFileError as e:
        raise ResultsError(str(e)) from None


def _read_csv(path: Path) -> list[dict]:
    data = _read(path)
    try:
        with io.StringIO(data.decode("utf-8"), newline="") as f:
            reader = csv.reader(f, strict=True)
            header = next(reader, None)
            if header is None:
                raise ResultsError(f"{path}: empty file (no header line)")
            _check_columns(path, header)
            if len(set(header)) != len(header):
                raise ResultsError(f"{path}: a column name appears twice in the header")
            rows = []
            for fields in reader:
                where = f"{path}:{reader.line_num}"
                if not fields:
                    continue
                if len(fields) != len(header):
                    raise ResultsError(f"{where}: {len(fields)} fields where the header has "
                                       f"{len(header)} (truncated or corrupt file?)")
                rows.append(_typed(dict(zip(header, fields)), where))
    except UnicodeDecodeError:
        raise ResultsError(f"{path}: not UTF-8 text (corrupt file?)") from None
    except csv.Error as e:
        raise ResultsError(f"{path}: not a valid CSV file ({e})") from None
    except OSError as e:
        raise ResultsError(f"{path}: cannot read: {e.strerror or e}") from None
    return rows


def _read_parquet(path: Path) -> list[dict]:
    # imported here, not at the top: pyarrow comes with the optional 'explore' extra
    import pyarrow as pa
    import pyarrow.parquet as pq
    data = _read(path)
    try:
        table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowException, OSError, ValueError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ResultsError(f"{path}: not a readable Parquet file ({msg})") from None
    _check_columns(path, table.column_names)
    if len(set(table.column_names)) != len(table.column_names):
        raise ResultsError(f"{path}: a column name appears twice")
    return [_typed(raw, f"{path}: row {i + 1}") for i, raw in enumerate(table.to_pylist())]


def load_results(path: str | Path) -> tuple[Path, list[dict]]:
    """(the file read, its rows as dicts with every schema column typed per the schema)."""
    file = locate(path)
    rows = _read_parquet(file) if file.suffix == ".parquet" else _read_csv(file)
    return file, rows


def read_table(path: "str | Path") -> list[dict]:
    """Rows of a results.csv or results.parquet, typed as in SCHEMA (null -> None)."""
    return load_results(path)[1]
