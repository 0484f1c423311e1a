"""Hostile and broken table files: each is refused with one line naming the file and the field.

Every edited file here gets a recomputed sha256 (unless the test is about the hash), so the content
checks themselves are what must refuse it.
"""
import dataclasses
import json

import pytest

from nlihw.errors import TableError
from nlihw.luts.fitter import fit
from nlihw.luts.layout import TableLayout
from nlihw.luts.table import NLITable, _digest


@pytest.fixture(scope="module")
def table():
    # s3.5 -> s3.5: raw inputs -128..127 (reals [-4, 3.97]), 5 cutpoints, K = 4
    return fit("silu", TableLayout("s3.5", "s3.5", 5, 4)).table


def write(tmp_path, d, rehash=True, name="bad.json"):
    if rehash:
        d["sha256"] = _digest({k: v for k, v in d.items() if k != "sha256"})
    p = tmp_path / name
    p.write_text(json.dumps(d))          # json.dumps writes NaN / Infinity tokens as given
    return p


def refused(path, field, **load_args):
    with pytest.raises(TableError) as e:
        NLITable.load(path, **load_args)
    msg = str(e.value)
    assert msg.startswith(f"{path}: {field}"), msg
    assert "\n" not in msg
    return msg


def nested(depth):
    d = {}
    for _ in range(depth):
        d = {"x": d}
    return d


ABSURD = {   # id: (edit of the parsed file, field named in the error, text in the error)
    "value 10**30": (lambda d: d["values"].__setitem__(0, 10 ** 30), "values", "does not fit the output format s3.5"),
    "cutpoint -10**30": (lambda d: d["cutpoints"].__setitem__(0, -10 ** 30), "cutpoints", "does not fit the input format s3.5"),
    "last cutpoint 2 past": (lambda d: d["cutpoints"].__setitem__(-1, 129), "cutpoints", "does not fit"),
    "value true": (lambda d: d["values"].__setitem__(0, True), "values", "list of integers"),
    "value 1.5": (lambda d: d["values"].__setitem__(0, 1.5), "values", "list of integers"),
    "mul true": (lambda d: d["mul"].__setitem__(0, True), "mul", "list of integers"),
    "domain null": (lambda d: d.update(domain=[None, 1]), "domain", "expected [lo, hi] numbers"),
    "domain nan inf": (lambda d: d.update(domain=[float("nan"), float("inf")]), "domain", "not finite"),
    "domain reversed": (lambda d: d.update(domain=[2, -2]), "domain", "expected lo < hi"),
    "domain bool": (lambda d: d.update(domain=[False, True]), "domain", "expected [lo, hi] numbers"),
    "domain 3 items": (lambda d: d.update(domain=[-1, 0, 1]), "domain", "expected [lo, hi]"),
    "domain outside format": (lambda d: d.update(domain=[-4, 100]), "domain", "outside the input format s3.5"),
    "domain below format": (lambda d: d.update(domain=[-4.5, 3]), "domain", "outside the input format"),
    "domain without codes": (lambda d: d.update(domain=[0.01, 0.02]), "domain", "holds no code"),
    "domain off the cutpoints": (lambda d: d.update(domain=[3.5, 3.9]), "domain", "does not overlap every macro interval"),
    "domain left of the cutpoints": (lambda d: d.update(domain=[-4, -3.99]), "domain", "does not overlap"),
    "meta list": (lambda d: d.update(meta=[1, 2]), "meta", "expected an object, got list"),
    "meta nan": (lambda d: d["meta"]["errors"].update(max_abs=float("nan")), "meta.errors.max_abs", "not a finite number"),
    "meta too deep": (lambda d: d["meta"].update(deep=nested(20)), "meta.deep", "nested deeper than 8 levels"),
    "clamp bools": (lambda d: d.update(clamp=[True, False]), "clamp", "expected [clamp_lo, clamp_hi] integers"),
    "clamp lo outside": (lambda d: d["clamp"].__setitem__(0, -129), "clamp", "clamp_lo = -129 does not fit the output format s3.5"),
    "clamp hi outside": (lambda d: d["clamp"].__setitem__(1, 128), "clamp", "clamp_hi = 128 does not fit"),
    "clamp huge": (lambda d: d["clamp"].__setitem__(1, 10 ** 30), "clamp", "does not fit"),
    "function newline": (lambda d: d.update(function="silu\nname: evil"), "function", "is not a function name"),
    "function quote": (lambda d: d.update(function='silu"'), "function", "is not a function name"),
    "function colon injection": (lambda d: d.update(function="silu: {x: 1}"), "function", "is not a function name"),
    "function two colons": (lambda d: d.update(function="a:b:c"), "function", "is not a function name"),
    "function empty": (lambda d: d.update(function=""), "function", "is not a function name"),
    "function digit": (lambda d: d.update(function="1silu"), "function", "is not a function name"),
    "function number": (lambda d: d.update(function=5), "function", "expected a name"),
    "schema true": (lambda d: d.update(schema_version=True), "schema_version", "expected 1"),
    "unknown field": (lambda d: d.update(extra=1), "extra", "unknown field"),
    "layout list": (lambda d: d.update(layout=[1]), "layout", "expected an object"),
    "layout M true": (lambda d: d["layout"].update(M=True), "layout", "M must be an integer"),
    "layout K huge": (lambda d: d["layout"].update(K=10 ** 30), "layout", "K must be 1..4096"),
    "layout in_fmt null": (lambda d: d["layout"].update(in_fmt=None), "layout", "bad number format"),
    "layout in_fmt list": (lambda d: d["layout"].update(in_fmt=["s3.5"]), "layout", "bad number format"),
    "layout out_fmt wide": (lambda d: d["layout"].update(out_fmt="s40.12"), "layout", "width must be"),
    "layout rounding": (lambda d: d["layout"].update(rounding={}), "layout", "unknown rounding"),
    "layout micro_step": (lambda d: d["layout"].update(micro_step=[]), "layout", "micro_step must be"),
    "layout t_bits": (lambda d: d["layout"].update(t_bits=10 ** 30), "layout", "t_bits must be"),
    "layout missing in_fmt": (lambda d: d["layout"].pop("in_fmt"), "layout", "in_fmt"),
}


@pytest.mark.parametrize("case", ABSURD, ids=list(ABSURD))
def test_absurd_content_with_a_valid_hash_is_refused(table, tmp_path, case):
    edit, field, text = ABSURD[case]
    d = json.loads(table.to_json())
    edit(d)
    msg = refused(write(tmp_path, d), field)
    assert text in msg, msg


@pytest.mark.parametrize("name", ["silu", "gelu_tanh", "mypkg.act:swish", "test_golden:identity"])
def test_function_names_that_are_accepted(table, tmp_path, name):
    d = json.loads(table.to_json())
    d["function"] = name
    assert NLITable.load(write(tmp_path, d)).function == name


def test_domain_consistent_with_cutpoints_is_accepted(table, tmp_path):
    """Cutpoints may reach past the domain (uniform PWL baselines), as long as every macro
    interval holds a domain code; the last cutpoint may be one past the format (no right clamp)."""
    d = json.loads(table.to_json())
    c = d["cutpoints"]
    lsb = 2.0 ** -5
    d["domain"] = [(c[1] - 1) * lsb, c[-2] * lsb]          # the tightest accepted domain
    assert NLITable.load(write(tmp_path, d)).domain == ((c[1] - 1) * lsb, c[-2] * lsb)
    d["domain"] = [c[1] * lsb, c[-2] * lsb]                 # the first interval holds no code
    refused(write(tmp_path, d), "domain")


# --- the hash: missing is refused unless the caller asks not to verify --------------------------
def test_missing_hash_is_refused_unless_not_verifying(table, tmp_path):
    d = json.loads(table.to_json())
    del d["sha256"]
    p = write(tmp_path, d, rehash=False)
    msg = refused(p, "sha256")
    assert msg == f"{p}: sha256: missing; the file cannot be verified (use --no-verify to load it anyway)"
    assert NLITable.load(p, verify=False) == table
    # a stale hash too; and without verification every content check still applies
    d["sha256"] = "0" * 64
    refused(write(tmp_path, d, rehash=False), "sha256: does not match")
    assert NLITable.load(write(tmp_path, d, rehash=False), verify=False) == table
    d["values"][0] = 10 ** 30
    refused(write(tmp_path, d, rehash=False), "values", verify=False)
    # in-memory dicts (engine parameters) carry no hash and need none
    assert NLITable.from_dict(table.content()) == table


def test_no_verify_option_of_table_show_and_gen(table, tmp_path, capsys):
    from nlihw.cli import main
    d = json.loads(table.to_json())
    del d["sha256"]
    p = write(tmp_path, d, rehash=False, name="nohash.json")
    for cmd in (["table", "show", str(p)], ["gen", "--table", str(p), "-o", str(tmp_path / "rtl")]):
        assert main(cmd) == 2
        err = capsys.readouterr().err
        assert err == f"error: {p}: sha256: missing; the file cannot be verified (use --no-verify to load it anyway)\n"
        assert not (tmp_path / "rtl").exists()
        assert main([*cmd, "--no-verify"]) == 0, capsys.readouterr().err
        capsys.readouterr()
    assert (tmp_path / "rtl" / "nli_engine.v").exists()


# --- what the loader reads: bounded, regular files only, any nesting depth --------------------
from nlihw.luts.table import MAX_FILE_BYTES       # noqa: E402


def test_deeply_nested_json_is_a_table_error(tmp_path):
    p = tmp_path / "deep.json"
    p.write_text("[" * 100_000 + "]" * 100_000)
    assert refused(p, "not valid JSON") == f"{p}: not valid JSON (nested too deeply)"
    deep = {}
    for _ in range(100_000):
        deep = {"x": deep}
    with pytest.raises(TableError, match="t.json: "):
        NLITable.from_dict({"schema_version": 1, "meta": deep, "sha256": "0", "function": "silu",
                            "domain": [0, 1], "layout": {}, "cutpoints": [], "mul": [], "shift": [],
                            "values": [], "clamp": [0, 0]}, source="t.json")


@pytest.mark.timeout(30)
def test_devices_fifos_and_directories_are_refused_unread(tmp_path, capsys):
    import os
    from nlihw.cli import main
    refused("/dev/zero", "is not a regular file")
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    refused(fifo, "is not a regular file")             # and never blocks waiting for a writer
    refused(tmp_path, "is a directory")
    assert main(["table", "show", "/dev/zero"]) == 2
    assert capsys.readouterr().err == "error: /dev/zero: is not a regular file; a table must be a regular file\n"


def test_size_cap(tmp_path):
    assert MAX_FILE_BYTES == 16 * 2 ** 20
    big = tmp_path / "big.json"
    with open(big, "wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)                  # one byte over: refused before parsing
    assert refused(big, "larger than") == f"{big}: larger than 16 MiB; not a table file"
    with open(big, "r+b") as f:
        f.truncate(MAX_FILE_BYTES)                      # at the cap: read, then not JSON
    refused(big, "not valid JSON")


@pytest.mark.parametrize("data, text", [
    (b"\xff\xfe{}", "not UTF-8"),
    (b"[" + b"7" * 5000 + b"]", "not valid JSON"),     # past Python's int-literal digit limit
    (b"{nope", "line 1"),
])
def test_undecodable_files(tmp_path, data, text):
    p = tmp_path / "x.json"
    p.write_bytes(data)
    assert text in refused(p, "not valid JSON")


# --- table show: what happens outside the cutpoints --------------------------------------------
def hand_table(cutpoints, clamp, values=(-3, 5, 9)):
    """s3.5 -> s2.6 (LSB 1/64), M=3, K=1: raw values written by hand."""
    return NLITable(TableLayout("s3.5", "s2.6", 3, 1), "silu", cutpoints, values, clamp[0], clamp[1],
                    (-4.0, 127 / 32))


@pytest.mark.parametrize("cut, clamp, left, right", [
    ([-64, 0, 64], (-3, 9),                                  # clamps are the stored end values
     "x < -2 (raw -64): clamp to f(-2) = -0.046875 (raw -3)",
     "x >= 2 (raw 64): clamp to f(2) = 0.140625 (raw 9)"),
    ([-100, 0, 127], (-128, 127),                            # clamps differ from the end values
     "x < -3.125 (raw -100): clamp to the clamp value = -2 (raw -128)",
     "x >= 3.96875 (raw 127): clamp to the clamp value = 1.98438 (raw 127)"),
    ([-128, 0, 128], (-3, 9),                                # first = smallest code, last = one past
     "no left clamp region (the first cutpoint -4 is the smallest input)",
     "no right clamp region (the last cutpoint 4 is one past the largest input 3.96875)"),
])
def test_show_prints_the_clamps(tmp_path, capsys, cut, clamp, left, right):
    from nlihw.cli import main
    p = hand_table(cut, clamp).save(tmp_path / "t.json")
    assert main(["table", "show", str(p)]) == 0
    lines = [ln.strip() for ln in capsys.readouterr().out.splitlines()]
    assert f"outside the cutpoints: {left}" in lines
    assert right in lines


def test_show_prints_the_clamps_of_a_shipped_table(capsys):
    from nlihw.cli import main
    from nlihw.luts.default_tables import shipped_dir
    p = shipped_dir() / "exp_M11_K8.json"
    d = json.loads(p.read_text())
    c0, clo, chi = d["cutpoints"][0], d["clamp"][0], d["clamp"][1]
    assert main(["table", "show", str(p)]) == 0
    out = capsys.readouterr().out
    name_lo = f"f({c0 / 4096:g})" if clo == d["values"][0] else "the clamp value"
    assert f"x < {c0 / 4096:g} (raw {c0}): clamp to {name_lo} = {clo / 32768:g} (raw {clo})" in out
    assert d["cutpoints"][-1] == 0                 # exp on [-8, 0]: every x >= 0 gives the last clamp
    assert f"x >= 0 (raw 0): clamp to " in out and f"= {chi / 32768:g} (raw {chi})" in out


def test_show_survives_free_form_meta(table, tmp_path, capsys):
    from nlihw.cli import main
    p = dataclasses.replace(table, meta={"errors": {"max_abs": "big"}, "errors_unrefined": [1]}).save(
        tmp_path / "t.json")
    assert main(["table", "show", str(p)]) == 0
    out = capsys.readouterr().out
    assert 'errors: (not in the usual form) {"max_abs": "big"}' in out
    assert "unrefined: (not in the usual form) [1]" in out
    assert main(["tables", "list"]) == 0
