"""A ScanParams in a JSON file (``nlihw scan calibrate -o``; ``scan gen|sim|error --params``).

``{"kind": "nlihw.scan.params", "version": 1, "params": ScanParams.to_dict(), "digest": ...,
"note": {...}}``: the digest guards against edits that leave the file valid JSON but change the
unit silently; ``note`` is free-form provenance (e.g. the calibration's data and figures).
"""
from __future__ import annotations

import json
from pathlib import Path

from nlihw.atomic import OutputSet
from nlihw.errors import ParamsError
from nlihw.atomic import read_regular
from .params import ScanParams

KIND = "nlihw.scan.params"
VERSION = 1
MAX_BYTES = 16 << 20       # three tables of 2**11 segments fit in well under 1 MiB


def params_text(p: ScanParams, note: dict | None = None) -> str:
    doc = {"kind": KIND, "version": VERSION, "params": p.to_dict(), "digest": p.digest(),
           "note": note or {}}
    return json.dumps(doc, indent=1, sort_keys=True) + "\n"


def save_params(p: ScanParams, path: "str | Path", note: dict | None = None,
                outputs: OutputSet | None = None) -> Path:
    """Write ``path`` atomically (or add it to ``outputs``, committed by the caller)."""
    own = outputs is None
    outputs = OutputSet() if own else outputs
    dest = outputs.add_text(path, params_text(p, note), "params file")
    if own:
        outputs.commit()
    return dest


def load_params(path: "str | Path") -> ScanParams:
    """The ScanParams in ``path``; anything wrong is a one-line ParamsError naming the file."""
    path = Path(path)
    try:
        doc = json.loads(read_regular(path, "params file", MAX_BYTES))
    except (ValueError, UnicodeDecodeError) as e:
        raise ParamsError(f"{path}: the params file is not JSON ({e})") from None
    if not isinstance(doc, dict) or doc.get("kind") != KIND:
        raise ParamsError(f"{path}: not a scan params file (kind {KIND!r} expected)")
    if doc.get("version") != VERSION:
        raise ParamsError(f"{path}: params file version {doc.get('version')!r}, this nlihw reads "
                          f"{VERSION}")
    try:
        p = ScanParams.from_dict(doc.get("params"))
    except ParamsError as e:
        raise ParamsError(f"{path}: {e}") from None
    except (ValueError, TypeError) as e:
        raise ParamsError(f"{path}: scan params: {e}") from None
    if doc.get("digest") != p.digest():
        raise ParamsError(f"{path}: the params digest does not match its content (edited by hand?)")
    return p
