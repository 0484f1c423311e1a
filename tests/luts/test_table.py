"""Table files: round trip, self-hash, validation that names file and field, $readmemh export."""
import dataclasses
import decimal
import json
import math

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
    assert back == table and back.content() == table.content()
    assert back.to_json() == p.read_text()
    d = json.loads(p.read_text())
    assert d["sha256"] == table.sha256 and d["schema_version"] == 1
    assert hash(back) == hash(table)


def sig6(x: float) -> float:
    """x correctly rounded to 6 significant decimal digits (half-even), from its exact binary value."""
    with decimal.localcontext() as ctx:
        ctx.prec, ctx.rounding = 6, decimal.ROUND_HALF_EVEN
        return float(+decimal.Decimal(x))


META = {"metric": "max-abs", "refined": False, "candidates": 1024,
        "errors": {"max_abs": 0.0005069452917828426, "mean_rel": 0.004360406513656907,
                   "mse": 4.200807639232521e-08, "rms_lsb": 0.8395109120068308, "eval_codes": 65536,
                   "worst_input": 0.14306640625, "hist": [1.2345678901234567, 3, 98765.4321]}}


def perturb(v):
    """The same statistics as another CPU's libm may give them: a few ulps away."""
    if isinstance(v, dict):
        return {k: perturb(x) for k, x in v.items()}
    if isinstance(v, list):
        return [perturb(x) for x in v]
    if isinstance(v, float):
        return math.nextafter(math.nextafter(v, math.inf), math.inf)
    return v


def test_meta_floats_are_stored_rounded_so_files_do_not_depend_on_the_cpu(table, tmp_path):
    a = dataclasses.replace(table, meta=META)
    b = dataclasses.replace(table, meta=perturb(META))
    assert perturb(META) != META
    assert a.to_json() == b.to_json() and a.sha256 == b.sha256
    d = json.loads(a.to_json())
    e = d["meta"]["errors"]
    for key in ("max_abs", "mean_rel", "mse", "rms_lsb", "worst_input"):
        assert e[key] == sig6(META["errors"][key]), key
    assert e["hist"] == [sig6(1.2345678901234567), 3, sig6(98765.4321)]
    assert e["hist"][0] == 1.23457 and e["max_abs"] == 0.000506945     # written out by hand
    assert isinstance(e["eval_codes"], int) and d["meta"]["refined"] is False
    numpy_meta = {"refined": np.bool_(True), "n": np.int64(3), "x": np.float64(0.1234567)}
    assert json.loads(dataclasses.replace(table, meta=numpy_meta).to_json())["meta"] == \
        {"refined": True, "n": 3, "x": 0.123457}
    # the hash is the hash of what is written, and a reload reproduces the same bytes
    from nlihw.luts.table import _digest
    assert d["sha256"] == _digest({k: v for k, v in d.items() if k != "sha256"}) == a.sha256
    back = NLITable.load(a.save(tmp_path / "t.json"))
    assert back.to_json() == a.to_json() and back.sha256 == a.sha256


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
