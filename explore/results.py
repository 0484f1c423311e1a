"""The tidy results table, one row per design point: its columns and their types (``SCHEMA``, the
contract README "Design-space exploration" describes) and writing CSV and Parquet together.
Reading either back is ``results_io``."""
from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from nlihw.atomic import OutputSet
from nlihw.errors import NlihwError

# column -> type ("str", "int", "float"), in the contract's order
SCHEMA = {
    "point_id": "str", "design": "str", "status": "str", "error": "str",
    "func": "str", "in_fmt": "str", "out_fmt": "str", "M": "int", "K": "int", "micro_step": "str",
    "arch": "str", "lanes": "int", "storage": "str", "target": "str",
    "preset": "str", "d_state": "int", "pipeline": "str", "n_max": "int", "output_mode": "str",
    "max_err_lsb": "float", "mean_err_lsb": "float", "max_err": "float", "rms_err": "float",
    "area": "float", "gate_equivalents": "float", "lut": "int", "ff": "int", "dsp": "int",
    "bram": "int", "fmax_mhz": "float", "latency": "int", "row_cycles": "int", "table_bits": "int",
    "verified": "str",
    "fit_s": "float", "gen_s": "float", "verify_s": "float", "synth_s": "float",
}
COLUMNS = tuple(SCHEMA)
CSV_NAME, PARQUET_NAME = "results.csv", "results.parquet"


class ResultsError(NlihwError, ValueError):
    """A results table is missing, unreadable or does not follow the schema."""


def row_template(p) -> dict:
    """A row with the point's parameters filled in and every figure null."""
    row = {c: None for c in COLUMNS}
    row.update(point_id=p.point_id, design=p.design, status="", error="", func=p.func,
               in_fmt=p.in_fmt, out_fmt=p.out_fmt, M=p.M, K=p.K, micro_step=p.micro_step,
               arch=p.arch, lanes=p.lanes, storage=p.storage, target=p.target, preset=p.preset,
               d_state=p.d_state, n_max=p.n_max, output_mode=p.output_mode, verified="skipped",
               pipeline=(p.pipeline or "none")
               + (f"; engines {p.engine_pipeline}" if p.engine_pipeline else ""))
    return row


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else str(v)
    return str(v)


def csv_text(rows: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in rows:
        w.writerow([_cell(r.get(c)) for c in COLUMNS])
    return buf.getvalue()


def arrow_schema():
    # imported here, not at the top: pyarrow comes with the optional 'explore' extra
    import pyarrow as pa
    kinds = {"str": pa.string(), "int": pa.int64(), "float": pa.float64()}
    return pa.schema([(c, kinds[t]) for c, t in SCHEMA.items()])


def _typed(v, kind):
    if v is None or (kind != "str" and v == ""):
        return None
    if kind == "int":
        return int(v)
    if kind == "float":
        return float(v)
    return str(v)


def parquet_bytes(rows: list[dict]) -> bytes:
    # imported here, not at the top: pyarrow comes with the optional 'explore' extra
    import pyarrow as pa
    import pyarrow.parquet as pq
    cols = {c: [_typed(r.get(c), t) for r in rows] for c, t in SCHEMA.items()}
    table = pa.Table.from_pydict(cols, schema=arrow_schema())
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


def write_tables(results: Path, rows: list[dict]) -> list[Path]:
    """results.csv and results.parquet, rows sorted by point_id, written together or not at all."""
    rows = sorted(rows, key=lambda r: r["point_id"])
    out = OutputSet()
    out.add_text(results / CSV_NAME, csv_text(rows), "csv")
    out.add_bytes(results / PARQUET_NAME, parquet_bytes(rows), "parquet")
    return out.commit()
