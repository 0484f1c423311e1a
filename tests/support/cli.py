"""The one way tests run the ``nlihw`` command line in-process: ``main`` called with stdout and
stderr captured, as a user's shell would see them."""
import contextlib
import io

from nlihw import cli


def run_cli(argv) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``nlihw ARGV``; arguments may be paths or numbers."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli.main([str(a) for a in argv])
    return rc, out.getvalue(), err.getvalue()
