"""``nlihw synth`` on hostile input: manifest fields and names that would reach a yosys script,
special files where a manifest, a design or a liberty file is read, symlinks and directories
where the report and its logs go, planted links in the synthesis cache. Every refusal is one
line ``error: ...`` (exit 2) before any tool runs, and writes nothing.

Most tests forbid any tool from starting; the few that synthesize use a 4-bit register design
(about a second of yosys) and share one cache.
"""
import json
import os
import stat

import pytest

from nlihw.cli import main
from nlihw.errors import ParamsError
from nlihw.synth import cache, driver, tools

TINY = ("module tiny(input clk, input [3:0] a, output reg [3:0] y);\n"
        "  always @(posedge clk) y <= a + 4'd1;\n"
        "endmodule\n")


def design(directory, manifest=None, top="tiny"):
    """A design directory: ``tiny.v`` and, unless ``manifest`` is False, ``<top>.manifest.json``."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "tiny.v").write_text(TINY)
    if manifest is not False:
        man = {"top": "tiny", "params": {"width": 4}, "latency": 1} if manifest is None else manifest
        (directory / f"{top}.manifest.json").write_text(json.dumps(man))
    return directory


@pytest.fixture
def no_tools(monkeypatch):
    """Fail the test if any tool starts (a refusal must come before the first run)."""
    def refuse(*a, **k):
        raise AssertionError("a tool started")
    monkeypatch.setattr(tools, "run", refuse)


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("hostile-cache")


@pytest.fixture
def env_cache(shared_cache, monkeypatch):
    monkeypatch.setenv("NLIHW_CACHE", str(shared_cache))
    return shared_cache / "synth"


def one_line_error(capsys, argv) -> str:
    """Run the CLI (-q: no progress lines); it must exit 2 with exactly one line ``error: ...``."""
    assert main(["-q", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err.strip()


# --- names that would reach a yosys script or a path ---------------------------------------------

HOSTILE_TOPS = ["tiny\nwrite_verilog pwned.v", "../outside", "tiny extra", 'ti"ny', "module", "",
                "-top", "tiny;", 42, None, ["tiny"]]


@pytest.mark.parametrize("top", HOSTILE_TOPS)
def test_manifest_top_must_be_an_identifier(tmp_path, capsys, no_tools, top):
    d = design(tmp_path / "d", {"top": top, "params": {}})
    (tmp_path / "outside.v").write_text(TINY.replace("tiny", "outside"))
    (d / f"{top}.v").write_text(TINY) if isinstance(top, str) and top and "/" not in top else None
    err = one_line_error(capsys, ["synth", str(d)])
    assert err.startswith(f"error: {d / 'tiny.manifest.json'}: manifest field 'top' must be a "
                          f"Verilog identifier"), err
    assert not (d / "synth").exists() and not (tmp_path / "synth").exists()


@pytest.mark.parametrize("top", ["a b", "x\ny", "../tiny", "module", "$x"])
def test_top_option_must_be_an_identifier(tmp_path, capsys, no_tools, top):
    d = design(tmp_path / "d", manifest=False)
    assert one_line_error(capsys, ["synth", str(d), "--top", top]).startswith(
        "error: --top must be a Verilog identifier")


def test_the_top_from_a_file_name_must_be_an_identifier(tmp_path, capsys, no_tools):
    d = tmp_path / "d"
    d.mkdir()
    (d / "my design.v").write_text(TINY)
    err = one_line_error(capsys, ["synth", str(d)])
    assert "my design.v: the module name taken from the file name must be a Verilog identifier" in err


def test_run_synth_checks_top_itself(tmp_path, no_tools):
    """The API refuses the name as well (callers other than the command)."""
    d = design(tmp_path / "d", manifest=False)
    with pytest.raises(ParamsError, match="^top must be a Verilog identifier"):
        driver.run_synth(d / "tiny.v", "tiny\nwrite_verilog pwned.v", "generic", cache_dir=tmp_path / "c")
    assert not (tmp_path / "c").exists() and not (d / "synth").exists()


@pytest.mark.parametrize("value", ["a b", "x\nwrite_verilog y", '"q"', "-lib", "+/cells.lib",
                                   "~/x", "<<EOT", "*.v", "a;", "", "dé.v"])
def test_script_values_are_plain_tokens(value):
    """Whatever reaches a yosys script is one token yosys takes literally (it has no quoting for
    a newline or a quote), else a refusal; several files are several checked tokens."""
    with pytest.raises(ParamsError, match="refusing to put .* into a yosys script"):
        driver._subst("read_verilog {verilog}\n", verilog=value)
    with pytest.raises(ParamsError, match="refusing to put"):
        driver._subst("read_verilog {verilog}\n", verilog=("design.v", value))
    assert driver._subst("read_verilog {verilog}\nhierarchy -top {top}\n", verilog=("d-1.v", "harness.v"),
                         top="tiny") == "read_verilog d-1.v harness.v\nhierarchy -top tiny\n"


# --- special files where something is read ---------------------------------------------------------

@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind,message", [
    ("fifo", "the manifest is a FIFO, not a regular file"),
    ("zero", "the manifest is a device, not a regular file"),
    ("dir", "the manifest is a directory, not a regular file"),
    ("huge", "the manifest is larger than 8 MiB"),
    ("garbage", "not a usable manifest (not JSON: Expecting value: line 1 column 1"),
    ("nested", "not a usable manifest (JSON nested too deeply)"),
    ("array", "not a usable manifest (a JSON list, not an object)"),
    ("notop", "manifest field 'top' is missing"),
])
def test_a_manifest_that_is_not_one(tmp_path, capsys, no_tools, kind, message):
    """A FIFO (would hang a read), /dev/zero (never ends), a directory, a sparse 9 MiB file, bad
    JSON: one line naming the manifest, quickly."""
    d = design(tmp_path / "d", manifest=False)
    man = d / "tiny.manifest.json"
    if kind == "fifo":
        os.mkfifo(man)
    elif kind == "zero":
        man.symlink_to("/dev/zero")
    elif kind == "dir":
        man.mkdir()
    elif kind == "huge":
        with open(man, "wb") as f:
            f.truncate(9 * 2**20)
    else:
        man.write_text({"garbage": "garbage", "nested": "[" * 100000, "array": "[1]",
                        "notop": '{"params": {}}'}[kind])
    err = one_line_error(capsys, ["synth", str(d)])
    assert err.startswith(f"error: {man}: ") and message in err, err


@pytest.mark.timeout(60)
def test_a_design_or_liberty_that_is_not_a_file(tmp_path, capsys, no_tools):
    d = design(tmp_path / "d")
    (d / "tiny.v").unlink()
    os.mkfifo(d / "tiny.v")
    with pytest.raises(ParamsError, match="the design is a FIFO, not a regular file"):
        driver.run_synth(d / "tiny.v", "tiny", "generic", cache_dir=tmp_path / "c")
    e = design(tmp_path / "e")
    err = one_line_error(capsys, ["synth", str(e), "--liberty", "/dev/zero"])
    assert err == "error: /dev/zero: the liberty file is a device, not a regular file"


@pytest.mark.parametrize("field,value,message", [
    ("params", [1, 2], "manifest field 'params' must be an object or null"),
    ("latency", "7; rm -rf", "manifest field 'latency' must be a whole number of cycles"),
    ("latency", True, "manifest field 'latency' must be a whole number"),
    ("timing_goal", "fast", "manifest field 'timing_goal' must be an object"),
    ("timing_goal", {"target": "ecp5", "speed": 6, "goal_mhz": "100", "predicted_mhz": 90},
     "manifest field 'timing_goal.goal_mhz' must be a clock in MHz or null"),
    ("timing_goal", {"target": "ecp5", "speed": 6, "goal_mhz": 100, "predicted_mhz": None},
     "manifest field 'timing_goal.predicted_mhz' must be a clock in MHz"),
    ("timing_goal", {"target": "ecp5", "speed": "6", "goal_mhz": 100, "predicted_mhz": 90},
     "manifest field 'timing_goal.speed' must be a speed grade or null"),
    ("timing_goal", {"target": "generic", "goal_mhz": 100, "predicted_mhz": 90,
                     "liberty": {"file": "x\x1b[2J.lib", "sha256": "ab"}},
     "manifest field 'timing_goal.liberty' must be null or {file, sha256}"),
])
def test_manifest_fields_are_checked_before_any_tool(tmp_path, capsys, no_tools, field, value, message):
    """Each field the command uses is checked for how it is used (a number compared, a name
    printed: no terminal escapes), before anything runs."""
    d = design(tmp_path / "d", {"top": "tiny", "latency": 1, field: value})
    err = one_line_error(capsys, ["synth", str(d)])
    assert err.startswith(f"error: {d / 'tiny.manifest.json'}: {message}"), err
    assert not (d / "synth").exists()


# --- destinations: checked before any tool runs, nothing written on refusal ----------------------

@pytest.mark.parametrize("blocker,message", [
    ("synth/generic.json/", "synth/generic.json: is a directory; refusing to replace it"),
    ("synth/logs/generic.yosys.log/", "generic.yosys.log: is a directory; refusing to replace it"),
    ("synth/logs", "synth/logs/generic.yosys.log: {d}/synth/logs is not a directory"),
    ("synth/xcup.json/", "synth/xcup.json: is a directory; refusing to replace it"),
])
def test_a_refused_destination_writes_nothing(tmp_path, capsys, no_tools, monkeypatch, blocker, message):
    """A report or log path that is a directory (or has a file as parent) is refused before any
    tool runs, for every target asked for: no report, no log, no directory appears."""
    monkeypatch.setenv("NLIHW_CACHE", str(tmp_path / "empty-cache"))   # a miss: tools would run
    d = design(tmp_path / "d")
    (d / blocker.rstrip("/")).parent.mkdir(parents=True, exist_ok=True)
    if blocker.endswith("/"):
        (d / blocker).mkdir()
    else:
        (d / blocker).write_text("a file")
    before = sorted(p.relative_to(d) for p in d.rglob("*"))
    err = one_line_error(capsys, ["synth", str(d), "-t", "generic", "-t", "xcup"])
    assert message.format(d=d) in err, err
    assert sorted(p.relative_to(d) for p in d.rglob("*")) == before
    assert not (tmp_path / "empty-cache").exists()


def test_run_synth_checks_its_outputs_before_any_tool(tmp_path, no_tools):
    from nlihw.atomic import OutputError
    d = design(tmp_path / "d", manifest=False)
    (tmp_path / "r" / "logs" / "generic.yosys.log").mkdir(parents=True)
    with pytest.raises(OutputError, match="generic.yosys.log: is a directory; refusing to replace it"):
        driver.run_synth(d / "tiny.v", "tiny", "generic", cache_dir=tmp_path / "c", report_dir=tmp_path / "r")
    assert not (tmp_path / "c").exists() and not (tmp_path / "r" / "generic.json").exists()


def test_symlinked_log_and_report_are_replaced_not_followed(tmp_path, capsys, env_cache):
    """``synth/logs/generic.yosys.log`` and ``synth/generic.json`` as symlinks to other files:
    those files keep their contents; the links become the new log and report."""
    d = design(tmp_path / "d")
    (d / "synth" / "logs").mkdir(parents=True)
    precious = {name: tmp_path / f"precious-{name}" for name in ("log", "report")}
    for p in precious.values():
        p.write_text("keep me\n")
    (d / "synth" / "logs" / "generic.yosys.log").symlink_to(precious["log"])
    (d / "synth" / "generic.json").symlink_to(precious["report"])
    assert main(["synth", str(d)]) == 0
    for p in precious.values():
        assert p.read_text() == "keep me\n"
    log, report = d / "synth" / "logs" / "generic.yosys.log", d / "synth" / "generic.json"
    assert not log.is_symlink() and "Yosys" in log.read_text()
    assert not report.is_symlink() and json.loads(report.read_text())["top"] == "tiny"


# --- the synthesis cache: planted links are never followed ---------------------------------------

def test_planted_links_in_the_cache_are_not_followed(tmp_path, capsys, env_cache):
    """A cached log replaced by a link to a secret is not copied out; a result.json or an entry
    that is a link is a miss, and the rerun replaces the link, never writing through it."""
    d = design(tmp_path / "d")
    rep = driver.run_synth(d / "tiny.v", "tiny", "generic", cache_dir=env_cache)
    entry = rep["run"]["cache_entry"]
    secret = tmp_path / "secret"
    secret.write_text("SECRET\n")
    os.unlink(os.path.join(entry, "yosys.log"))
    os.symlink(secret, os.path.join(entry, "yosys.log"))
    again = driver.run_synth(d / "tiny.v", "tiny", "generic", cache_dir=env_cache, report_dir=tmp_path / "r")
    assert again["run"]["cached"] and "yosys" not in again["logs"]
    assert not any("SECRET" in p.read_text() for p in (tmp_path / "r").rglob("*") if p.is_file())

    elsewhere = tmp_path / "elsewhere"                  # the entry itself is a link to a directory
    os.rename(entry, elsewhere)
    os.symlink(elsewhere, entry)
    before = sorted(os.listdir(elsewhere))
    assert cache.lookup(env_cache, os.path.basename(entry)) is None
    third = driver.run_synth(d / "tiny.v", "tiny", "generic", cache_dir=env_cache, report_dir=tmp_path / "r3")
    assert not third["run"]["cached"] and not os.path.islink(entry) and os.path.isdir(entry)
    assert sorted(os.listdir(elsewhere)) == before and third["figures"] == rep["figures"]


# --- failures: one line with the log's path ---------------------------------------------------------

def test_verilog_yosys_rejects_is_one_line(tmp_path, capsys, env_cache):
    d = design(tmp_path / "d")
    (d / "tiny.v").write_bytes(b"module tiny(input clk);\n  wire x = ;\n\x1b[31m\x00endmodule\n")
    err = one_line_error(capsys, ["synth", str(d)])
    assert err.startswith("error: yosys failed for target generic (synthesizing tiny, exit 1): ")
    assert "ERROR: syntax error" in err and err.isprintable()
    log = err.split("; full log: ")[1]
    assert os.path.isfile(log) and "syntax error" in open(log).read()
    assert not (d / "synth").exists()


def test_a_garbage_liberty_is_one_line(tmp_path, capsys, env_cache):
    """Bytes the liberty reader rejects, and a library yosys rejects (no flip-flops): one line."""
    d = design(tmp_path / "d")
    (tmp_path / "junk.lib").write_bytes(bytes(range(256)) * 8)
    err = one_line_error(capsys, ["synth", str(d), "--liberty", str(tmp_path / "junk.lib")])
    assert err.startswith(f"error: {tmp_path / 'junk.lib'}:")
    (tmp_path / "empty.lib").write_text("library(empty) { }\n")
    err = one_line_error(capsys, ["synth", str(d), "--liberty", str(tmp_path / "empty.lib")])
    assert err.startswith("error: yosys failed for target generic") and "full log: " in err
    assert not (d / "synth").exists()


def test_an_awkward_design_file_name_reaches_yosys_as_design_v(tmp_path):
    """A design file whose name has a quote, a space and a newline is synthesized (yosys reads
    it under a plain name in the run directory), and the report keeps the real name."""
    odd = tmp_path / 'my "tiny"\nv2.v'
    odd.write_text(TINY)
    rep = driver.run_synth(odd, "tiny", "generic", cache_dir=tmp_path / "fresh")
    assert not rep["run"]["cached"] and rep["design"]["file"] == odd.name
    assert rep["figures"]["flip_flops"] == 4
    assert stat.S_ISREG(os.lstat(tmp_path / "synth" / "generic.json").st_mode)


def test_a_tool_error_is_one_printable_line(tmp_path):
    """The log's first ERROR line goes into the message with control characters (a log echoes
    the design's bytes: a terminal escape, a bell) replaced, and cut at 200."""
    log = tmp_path / "yosys.log"
    log.write_bytes(b"ok\nERROR: module `\x1b[2Jmean\x07' " + b"x" * 400 + b"\nmore\nERROR: second\n")
    f = driver._Failed(tools.Failure("yosys", 1, log), log, "synthesizing t\n")
    msg = str(driver._tool_error(f, "generic", log))
    assert msg.isprintable() and "\n" not in msg and "second" not in msg
    assert msg.startswith("yosys failed for target generic (synthesizing t?, exit 1): "
                          "ERROR: module `?[2Jmean?' x")
    assert msg.endswith(f"...; full log: {log}") and len(msg) < 300 + len(str(log))
