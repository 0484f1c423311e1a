"""The sweep specs shipped with the package (``explore/examples/*.toml``), nameable without a path:
``nlihw sweep small`` runs ``examples/small.toml`` from any install."""
from __future__ import annotations

from pathlib import Path

EXAMPLES_DIR = Path(__file__).with_name("examples")


def example_names() -> list[str]:
    return sorted(p.stem for p in EXAMPLES_DIR.glob("*.toml"))


def resolve_spec(ref: "str | Path") -> Path:
    """``ref`` as given when it is an existing file or a path; a bare name (no directory, no
    existing file of that name) that names a shipped example, that example's file."""
    path = Path(ref)
    if path.exists() or len(path.parts) > 1:
        return path
    name = path.name[:-5] if path.name.endswith(".toml") else path.name
    shipped = EXAMPLES_DIR / f"{name}.toml"
    return shipped if shipped.is_file() else path
