"""The ``nlihw`` command line: one click group; each command lives in ``nlihw/commands/<name>.py``.

Expected errors (bad parameters, corrupt files, failing tools) print one line ``error: ...`` on
stderr and exit with code 2; no traceback reaches the user.
"""
from __future__ import annotations

import importlib
import signal
import sys

import click

from .errors import NlihwError, ToolError

# command name -> module in nlihw.commands exposing a click command called ``command``
COMMANDS = {
    "fit": "fit",
    "table": "table",
    "tables": "tables",
    "gen": "gen",
    "sim": "simulate",
    "synth": "synth",
    "compare": "compare",
    "scan": "scan",
    "sweep": "sweep",
    "report": "report",
    "best": "best",
    "flow": "flow",
}


class LazyGroup(click.Group):
    """Imports a command's module only when it runs (keeps ``nlihw --help`` fast)."""

    def list_commands(self, ctx):
        return [name for name in COMMANDS if self._load(name) is not None]

    def get_command(self, ctx, name):
        return self._load(name)

    @staticmethod
    def _load(name):
        if name not in COMMANDS:
            return None
        try:
            mod = importlib.import_module(f"nlihw.commands.{COMMANDS[name]}")
        except ModuleNotFoundError as e:
            if e.name == f"nlihw.commands.{COMMANDS[name]}":
                return None          # command not built yet
            raise
        return mod.command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="nlihw")
def cli():
    """nlihw: NLI (non-uniform linear interpolation) hardware generator and verification."""


def _usage_error(e: click.UsageError) -> str:
    """Click's four-line usage error as one line, with a pointer to the command's --help."""
    ctx = e.ctx
    where = ctx.command_path if ctx is not None else "nlihw"
    return f"error: {e.format_message()} (see '{where} --help')"


def _interrupted(e: BaseException) -> bool:
    """Whether ``e`` was raised while handling (or because of) a KeyboardInterrupt."""
    seen = set()
    while e is not None and id(e) not in seen:
        if isinstance(e, KeyboardInterrupt):
            return True
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return False


def _terminate(signum, frame):
    """SIGTERM unwinds like Ctrl-C, so temporary files, directories and child tools are removed
    on the way out; further SIGTERMs (a process group often gets several) wait for that."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def main(argv=None) -> int:
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return _run(argv)
    finally:
        signal.signal(signal.SIGTERM, previous)


# commands that keep what they finished before an interrupt (a re-run resumes from it)
RESUMABLE = {"sweep", "compare", "flow"}


def _interrupted_text(argv) -> str:
    args = sys.argv[1:] if argv is None else list(argv)
    name = next((a for a in args if not a.startswith("-")), "")
    if name in RESUMABLE:
        return "error: interrupted; finished results are kept, run the command again to resume"
    return "error: interrupted; no output was written"


def _run(argv) -> int:
    try:
        rv = cli.main(args=argv, standalone_mode=False, prog_name="nlihw")
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo(_interrupted_text(argv), err=True)
        return 130
    except click.exceptions.NoArgsIsHelpError as e:     # a command group run alone: its help
        click.echo(e.ctx.get_help())
        return 0
    except click.UsageError as e:
        click.echo(_usage_error(e), err=True)
        return 2
    except click.ClickException as e:
        click.echo(f"error: {e.format_message()}", err=True)
        return 2
    except ToolError as e:           # a failing tool: its relevant log lines and the log's path
        click.echo(f"error: {e}", err=True)
        return 2
    except (NlihwError, ValueError, OSError) as e:
        if _interrupted(e):
            click.echo(_interrupted_text(argv), err=True)
            return 130
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        click.echo(f"error: {msg}", err=True)
        return 2
    except Exception as e:
        # Ctrl-C inside compiled code (numba calling back into Python) surfaces as a SystemError
        # whose context is the KeyboardInterrupt
        if _interrupted(e):
            click.echo(_interrupted_text(argv), err=True)
            return 130
        raise
    # standalone_mode=False turns click's Exit(code) into a return value: pass it on
    return rv if isinstance(rv, int) and not isinstance(rv, bool) else 0


if __name__ == "__main__":
    sys.exit(main())
