"""The ``nlihw`` command line: one click group; each command lives in ``nlihw/commands/<name>.py``.

Expected errors (bad parameters, corrupt files, failing tools) print one line ``error: ...`` on
stderr and exit with code 2; no traceback reaches the user. An unexpected exception (a bug) prints
one line with a hint to rerun with ``--debug`` and exits with 70 (see ``nlihw.exit_codes``). The
global flags ``-v``, ``-q`` and ``--debug`` are taken out of the arguments here, before click
parses them, so every command accepts them before or after its name.
"""
from __future__ import annotations

import copy
import importlib
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback

import click

from . import verbosity
from .errors import NlihwError, ToolError
from .exit_codes import BAD_INPUT, INTERNAL
from .extras import extra_of, message, require
from .heartbeat import Heartbeat

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
    "softmax": "softmax",
    "norm": "norm",
    "sweep": "sweep",
    "report": "report",
    "best": "best",
    "flow": "flow",
}

# command name -> the extras it needs (see nlihw.extras), checked before it runs (not for --help)
COMMAND_EXTRAS = {
    "sweep": ("explore",),
    "compare": ("explore",),
    "best": ("explore",),
    "report": ("explore", "plot"),
    "flow": ("explore", "plot"),
}


class LazyGroup(click.Group):
    """Imports a command's module only when it runs (keeps ``nlihw --help`` fast)."""

    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        return self._load(name)

    @staticmethod
    def _load(name):
        if name not in COMMANDS:
            return None
        mod = importlib.import_module(f"nlihw.commands.{COMMANDS[name]}")
        return _needing_extras(mod.command, name)


def _needing_extras(command: click.Command, name: str) -> click.Command:
    """``command``, or a copy of it that first checks its extras are installed (so ``--help``
    and usage errors still work without them)."""
    extras = COMMAND_EXTRAS.get(name, ())
    if not extras:
        return command
    guarded = copy.copy(command)

    def invoke(ctx, _invoke=command.invoke):
        for extra in extras:
            require(extra, f"nlihw {name}")
        return _invoke(ctx)
    guarded.invoke = invoke
    return guarded


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(None, "-V", "--version", package_name="nlihw")
# taken out of the arguments by main() before click parses them (any position, every command):
# declared here so that 'nlihw --help' lists them
@click.option("-v", "--verbose", is_flag=True, help="More detail where there is any (every "
              "command; before or after its name).")
@click.option("-q", "--quiet", is_flag=True, help="No progress lines, spinners or bars; results "
              "and errors still print (every command).")
@click.option("--debug", is_flag=True, help="Print the traceback of an internal error (also "
              "NLIHW_DEBUG=1).")
def cli(verbose, quiet, debug):
    """nlihw: NLI (non-uniform linear interpolation) hardware generator and verification.

    -v, -q and --debug work on every command, before or after its name and its arguments
    ('-q synth DIR' and 'synth DIR -q' are the same). When stderr is not a terminal (a CI log),
    long commands print plain progress lines instead of spinners and bars, and a line at least
    every 30 s while they run.

    \b
    Exit codes:
      0   success
      1   a check failed (sim FAIL, sweep --strict)
      2   bad input or usage, or a tool failed
      3   no design meets the bound (best, compare)
      70  internal error (a bug; rerun with --debug for the traceback)
    """


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


_MAIN_PID = None        # the process main() runs in (a forked pool worker inherits the handler)
_SIGNAL = None          # the signal that interrupted the command, for its exit code


def _interrupt(signum, frame):
    """SIGINT and SIGTERM unwind like Ctrl-C, so temporary files, directories and child tools are
    removed on the way out. Pool worker processes are stopped at once (a fit in progress would
    otherwise keep the pool's shutdown waiting); further signals (a process group often gets
    several) wait for the unwinding. In a forked worker the handler ends the worker quietly."""
    if os.getpid() != _MAIN_PID:
        os._exit(128 + signum)
    global _SIGNAL
    _SIGNAL = signum
    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, signal.SIG_IGN)
    _stop_workers()
    raise KeyboardInterrupt


def _stop_workers(grace: float = 0.3) -> None:
    """Stop this process's multiprocessing children (pool workers): SIGTERM, SIGKILL after
    ``grace`` seconds. Then let each process pool's manager thread mark its pool broken, so the
    unwinding finds every future settled (Python 3.11 prints an InvalidStateError traceback when
    the manager fails a future that the unwinding has just cancelled)."""
    children = multiprocessing.active_children()
    if not children:
        return
    for child in children:
        child.terminate()
    deadline = time.monotonic() + grace
    for child in children:
        child.join(max(0.0, deadline - time.monotonic()))
        if child.is_alive():
            child.kill()
            child.join(1.0)
    for t in threading.enumerate():
        if type(t).__name__ == "_ExecutorManagerThread":
            t.join(1.0)


GLOBAL_FLAGS = {"-v": verbosity.VERBOSE, "--verbose": verbosity.VERBOSE,
                "-q": verbosity.QUIET, "--quiet": verbosity.QUIET, "--debug": None}


def _value_options(command) -> set[str]:
    """The option names of ``command`` that take a value (the next argument is not a flag)."""
    return {name for p in getattr(command, "params", ()) if isinstance(p, click.Option)
            and not p.is_flag and not p.count for name in p.opts + p.secondary_opts}


def global_flags(args: list[str]) -> tuple[list[str], int, bool]:
    """(``args`` without the global flags, the verbosity level, debug). Only bare ``-v``, ``-q``,
    ``--verbose``, ``--quiet`` and ``--debug`` tokens are flags: not after ``--``, and not the value
    of an option that takes one (``-o -q`` keeps ``-q`` as the directory name). The last of
    ``-v`` and ``-q`` wins."""
    rest, level, debug = [], verbosity.NORMAL, False
    command, takes_value, value_next = cli, _value_options(cli), False
    for i, a in enumerate(args):
        if a == "--":
            rest.extend(args[i:])
            break
        if value_next:
            value_next = False
        elif a in GLOBAL_FLAGS:
            if GLOBAL_FLAGS[a] is None:
                debug = True
            else:
                level = GLOBAL_FLAGS[a]
            continue
        elif a in takes_value:
            value_next = True
        elif not a.startswith("-") and isinstance(command, click.Group):
            try:
                sub = command.get_command(None, a)
            except Exception:        # a command that cannot load: main() reports it
                sub = None
            if sub is not None:
                command, takes_value = sub, _value_options(sub)
        rest.append(a)
    return rest, level, debug


def main(argv=None) -> int:
    global _MAIN_PID, _SIGNAL
    _MAIN_PID, _SIGNAL = os.getpid(), None
    args, level, debug = global_flags(sys.argv[1:] if argv is None else [str(a) for a in argv])
    verbosity.set_level(level, debug)
    previous = {s: signal.signal(s, _interrupt) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        if verbosity.quiet() or not verbosity.plain():
            return _run(args)
        with Heartbeat(_command_name(args)):
            return _run(args)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _interrupted_code() -> int:
    """128 + the signal's number (130 for Ctrl-C, 143 for SIGTERM), as a shell reports it."""
    return 128 + (_SIGNAL or signal.SIGINT)


# commands that keep what they finished before an interrupt (a re-run resumes from it)
RESUMABLE = {"sweep", "compare", "flow"}


def _interrupted_text(argv) -> str:
    args = sys.argv[1:] if argv is None else list(argv)
    name = next((a for a in args if not a.startswith("-")), "")
    if name in RESUMABLE:
        return "error: interrupted; finished results are kept, run the command again to resume"
    return "error: interrupted; no output was written"


def _command_name(argv) -> str:
    """``nlihw`` and the command (``nlihw fit``), for messages."""
    args = sys.argv[1:] if argv is None else list(argv)
    return " ".join(["nlihw", *[a for a in args if not a.startswith("-")][:1]])


def _run(argv) -> int:
    try:
        rv = cli.main(args=argv, standalone_mode=False, prog_name="nlihw")
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo(_interrupted_text(argv), err=True)
        return _interrupted_code()
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
        _traceback_if_debug()
        click.echo(f"error: {e}", err=True)
        return 2
    except (NlihwError, ValueError, OSError) as e:
        if _interrupted(e):
            click.echo(_interrupted_text(argv), err=True)
            return _interrupted_code()
        _traceback_if_debug()
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        click.echo(f"error: {msg}", err=True)
        return getattr(e, "exit_code", BAD_INPUT)
    except ModuleNotFoundError as e:        # an optional dependency that a code path needs
        extra = extra_of(e.name)
        if extra is None:                       # a bug or a broken install
            return _internal_error(e)
        top = e.name.split(".")[0]
        click.echo(f"error: {message(_command_name(argv), extra, [top])}", err=True)
        return 2
    except Exception as e:
        # Ctrl-C inside compiled code (numba calling back into Python) surfaces as a SystemError
        # whose context is the KeyboardInterrupt
        if _interrupted(e):
            click.echo(_interrupted_text(argv), err=True)
            return _interrupted_code()
        return _internal_error(e)
    # standalone_mode=False turns click's Exit(code) into a return value: pass it on
    return rv if isinstance(rv, int) and not isinstance(rv, bool) else 0


def _traceback_if_debug() -> None:
    """With --debug (or NLIHW_DEBUG=1), the traceback of the exception being handled."""
    if verbosity.debug():
        click.echo(traceback.format_exc().rstrip(), err=True)


def _internal_error(e: BaseException) -> int:
    """An unexpected exception (a bug): one line with a hint, the traceback with --debug; 70."""
    _traceback_if_debug()
    msg = str(e).splitlines()[0] if str(e).strip() else ""
    hint = "rerun with --debug or NLIHW_DEBUG=1 for the traceback"
    if verbosity.debug():
        hint = "the traceback is above; please report it"
    click.echo(f"error: internal error: {type(e).__name__}{': ' + msg if msg else ''} ({hint})",
               err=True)
    return INTERNAL


if __name__ == "__main__":
    sys.exit(main())
