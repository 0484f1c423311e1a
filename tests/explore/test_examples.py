"""Shipped sweep specs by name: a bare name resolves to explore/examples/NAME.toml, a file of that
name in the working directory wins, and paths are left alone."""
from pathlib import Path

import nlihw.explore
from nlihw.explore.examples import example_names, resolve_spec


def test_a_bare_name_resolves_to_the_shipped_example(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shipped = Path(nlihw.explore.__file__).parent / "examples" / "small.toml"
    assert "small" in example_names()
    assert resolve_spec("small") == shipped and resolve_spec("small.toml") == shipped
    (tmp_path / "small").write_text("x")                       # a file of that name wins
    assert resolve_spec("small") == Path("small")
    assert resolve_spec("sub/small") == Path("sub/small")     # a path stays a path
    assert resolve_spec("nosuch") == Path("nosuch")           # the caller reports it missing
