"""The exit codes of every ``nlihw`` command, and the error that means "no design meets the bound".

0 success; 1 a check that failed (sim FAIL, ``sweep --strict``); 2 bad input or usage, or a tool
that failed; 3 no design meets the requested bound (``best``, ``compare``); 70 an internal error (a
bug: EX_SOFTWARE of sysexits.h); 128 + N interrupted by signal N.
"""
from __future__ import annotations

from .errors import NlihwError

OK, CHECK_FAILED, BAD_INPUT, NOT_MET, INTERNAL = 0, 1, 2, 3, 70


class NotMetError(NlihwError, ValueError):
    """The question was well posed but no design answers it (none meets the bound): exit 3."""
    exit_code = NOT_MET
