"""Exception types that the CLI turns into one-line errors (exit code 2)."""


class NlihwError(Exception):
    """Base class for expected, user-facing errors."""


class FormatError(NlihwError, ValueError):
    """A number format or a value does not fit."""


class FunctionError(NlihwError, ValueError):
    """Unknown function, or a function undefined on the requested domain."""


class TableError(NlihwError, ValueError):
    """A table file or table contents are invalid; the message names the file and field."""


class ParamsError(NlihwError, ValueError):
    """Design parameters are inconsistent."""


class ToolError(NlihwError):
    """An external tool (Verilator, yosys, nextpnr) failed; the message points at its log."""
