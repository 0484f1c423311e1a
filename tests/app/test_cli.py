"""The CLI's contract: usage errors on one line with a pointer to --help, exit codes passed on,
Ctrl-C ends with one line, a group alone prints its help."""
import click
import pytest

from nlihw import cli


@pytest.mark.parametrize("argv,needle", [
    (["fit", "--bogus"], "No such option '--bogus'"),
    (["fit", "--func", "silu", "-M", "abc", "-o", "x.json"], "'abc' is not a valid integer"),
    (["nosuch"], "No such command 'nosuch'"),
    (["table", "show"], "Missing argument 'FILE'"),
])
def test_usage_errors_are_one_line(argv, needle, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0]
    assert "--help'" in lines[0]


def test_group_alone_prints_its_help(capsys):
    assert cli.main(["tables"]) == 0
    assert "Usage: nlihw tables" in capsys.readouterr().out


def _fake(monkeypatch, body):
    @click.command("fake")
    def fake():
        body()
    monkeypatch.setitem(cli.COMMANDS, "fake", "fake")
    monkeypatch.setattr(cli.LazyGroup, "_load", staticmethod(lambda name: fake if name == "fake" else None))


def test_exit_codes_are_passed_on(monkeypatch):
    def body():
        raise click.exceptions.Exit(3)
    _fake(monkeypatch, body)
    assert cli.main(["fake"]) == 3


def test_interrupt_is_one_line(monkeypatch, capsys):
    def body():
        raise KeyboardInterrupt
    _fake(monkeypatch, body)
    assert cli.main(["fake"]) == 130
    assert capsys.readouterr().err.strip() == "error: interrupted; no output was written"


def test_interrupting_a_resumable_command_says_results_are_kept(monkeypatch, capsys):
    """sweep, compare and flow store what they finished: the message must not say otherwise."""
    def body():
        raise KeyboardInterrupt
    _fake(monkeypatch, body)
    monkeypatch.setattr(cli, "RESUMABLE", {"fake"})
    assert cli.main(["fake"]) == 130
    assert capsys.readouterr().err.strip() == ("error: interrupted; finished results are kept, run "
                                               "the command again to resume")


def test_interrupt_inside_compiled_code_is_one_line(monkeypatch, capsys):
    """numba reports a Ctrl-C that lands in its Python callbacks as a SystemError."""
    def body():
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise SystemError("<function _numba_unpickle> returned a result with an exception set")
    _fake(monkeypatch, body)
    assert cli.main(["fake"]) == 130
    assert capsys.readouterr().err.strip() == "error: interrupted; no output was written"
