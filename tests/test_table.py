"""Table files: round trip, self-hash, validation that names file and field, $readmemh export."""
import json

import numpy as np
import pytest

from nlihw.errors import TableError
from nlihw.luts.fitter import fit
from nlihw.luts.layout import TableLayout
from nlihw.luts.table import NLITable


@pytest.fixture(scope="module")
def table():
    return fit("silu", TableLayout("s3.5", "s3.5", 5, 4)).table


def test_round_trip_and_hash(table, tmp_path):
    p = table.save(tmp_path / "t.json")
    back = NLITable.load(p)
    assert back == table and back.meta == table.meta
    assert back.to_json() == p.read_text()
    d = json.loads(p.read_text())
    assert d["sha256"] == table.sha256 and d["schema_version"] == 1
    assert hash(back) == hash(table)


def test_hex_export(table, tmp_path):
    lines = table.save_hex(tmp_path / "t.hex").read_text().split()
    assert len(lines) == table.layout.n_values
    fmt = table.layout.out_fmt
    assert [int(fmt.from_bits(int(h, 16))) for h in lines] == list(table.values)
    assert all(len(h) == 2 for h in lines)     # 8-bit values: two hex digits


def corrupt(table, tmp_path, edit, rehash=True):
    d = json.loads(table.to_json())
    edit(d)
    if rehash:
        from nlihw.luts.table import _digest
        d["sha256"] = _digest({k: v for k, v in d.items() if k != "sha256"})
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(d))
    return p


@pytest.mark.parametrize("edit, field", [
    (lambda d: d.update(schema_version=99), "schema_version"),
    (lambda d: d["cutpoints"].reverse(), "cutpoints: not strictly increasing"),
    (lambda d: d["values"].pop(), "values: expected"),
    (lambda d: d["values"].__setitem__(0, 10 ** 6), "values: a value does not fit"),
    (lambda d: d["mul"].__setitem__(0, 7), "mul: does not match"),
    (lambda d: d["layout"].update(M=0), "layout: M must be"),
    (lambda d: d["layout"].update(bogus=1), "layout"),
    (lambda d: d.pop("clamp"), "clamp: missing"),
    (lambda d: d.update(values="x"), "values: expected a list"),
])
def test_loader_names_file_and_field(table, tmp_path, edit, field):
    p = corrupt(table, tmp_path, edit)
    with pytest.raises(TableError, match=field) as e:
        NLITable.load(p)
    assert str(p) in str(e.value)


def test_hash_detects_edits(table, tmp_path):
    p = corrupt(table, tmp_path, lambda d: d["values"].__setitem__(1, d["values"][1] ^ 1), rehash=False)
    with pytest.raises(TableError, match="sha256"):
        NLITable.load(p)


def test_not_json_and_missing(tmp_path):
    (tmp_path / "x.json").write_text("{nope")
    with pytest.raises(TableError, match="not valid JSON"):
        NLITable.load(tmp_path / "x.json")
    with pytest.raises(TableError, match="cannot read"):
        NLITable.load(tmp_path / "missing.json")
