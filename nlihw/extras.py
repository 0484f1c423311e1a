"""The optional dependency groups (pip extras) and the one-line error when a command needs one.

``gen``, ``fit``, ``sim``, ``synth`` and ``scan`` need only the base install; design-space
exploration (Dask, Parquet) and plots come with ``nlihw[explore]`` and ``nlihw[plot]``.
"""
from __future__ import annotations

import importlib.util

from .errors import NlihwError

# extra -> the top-level modules it installs (as in pyproject.toml's optional-dependencies)
EXTRAS = {"explore": ("dask", "distributed", "pyarrow"), "plot": ("matplotlib",)}


class MissingExtraError(NlihwError):
    """A command needs an optional dependency group that is not installed."""


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):        # a broken or blocked package counts as missing
        return False


def missing_modules(extra: str) -> list[str]:
    """The modules of ``extra`` that cannot be imported here."""
    return [m for m in EXTRAS[extra] if not _installed(m)]


def extra_of(module: "str | None") -> "str | None":
    """The extra that provides ``module`` (or a submodule of it), None for any other module."""
    top = (module or "").split(".")[0]
    return next((extra for extra, mods in EXTRAS.items() if top in mods), None)


def message(what: str, extra: str, missing: "list[str] | tuple[str, ...]") -> str:
    return (f"{what} needs the '{extra}' extra: pip install 'nlihw[{extra}]' (not installed: "
            f"{', '.join(missing)})")


def require(extra: str, what: str) -> None:
    """Raise MissingExtraError naming ``extra`` when any of its modules is missing; ``what`` is
    the command or option that needs it (``nlihw sweep``)."""
    missing = missing_modules(extra)
    if missing:
        raise MissingExtraError(message(what, extra, missing))
