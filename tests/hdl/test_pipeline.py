"""The pipeline description: validation in one line, normalization, specs, depth, hashing."""
import json

import pytest

from nlihw.errors import ParamsError
from nlihw.hdl.common.pipeline import Pipeline

POINTS = ("a_in", "a_mult", "a_add")
BASE = Pipeline(POINTS, prefer=("a_mult", "a_in", "a_add"))


def test_enabled_points_are_kept_in_datapath_order():
    p = BASE.with_enabled(("a_add", "a_in"))
    assert p.enabled == ("a_in", "a_add") and p.depth == 2 and str(p) == "a_in,a_add"
    assert "a_in" in p and "a_mult" not in p
    assert p.cycles_through("a_mult", "a_add") == 1 and p.cycles_through() == 0
    with pytest.raises(KeyError):
        "a_typo" in p                                      # noqa: B015 (an RTL typo fails loudly)


def test_depth_follows_the_preference():
    assert [BASE.with_depth(n).enabled for n in range(4)] == [
        (), ("a_mult",), ("a_in", "a_mult"), ("a_in", "a_mult", "a_add")]
    assert Pipeline(POINTS).with_depth(1).enabled == ("a_in",)          # default: datapath order


@pytest.mark.parametrize("spec,enabled", [
    (None, ()), ("none", ()), ("", ()), ("all", POINTS), (2, ("a_in", "a_mult")), ("1", ("a_mult",)),
    ("a_add, a_in", ("a_in", "a_add")), (["a_add"], ("a_add",)),
])
def test_specs(spec, enabled):
    assert BASE.parse(spec).enabled == enabled


def test_hashable_and_serializable():
    p, q = BASE.parse("a_add,a_mult"), BASE.parse(["a_mult", "a_add"])
    assert p == q and hash(p) == hash(q) and len({p, q, BASE}) == 2
    assert BASE.parse(json.loads(json.dumps(p.to_list()))) == p
    assert BASE.parse(p) == p and p != BASE


@pytest.mark.parametrize("make,message", [
    (lambda: BASE.parse("a_in,nope"), "unknown pipeline point 'nope'; this datapath has a_in, a_mult, a_add"),
    (lambda: BASE.parse(4), "pipeline depth must be 0..3, got 4"),
    (lambda: BASE.parse(-1), "pipeline depth must be 0..3, got -1"),
    (lambda: BASE.parse("a_in,a_in"), "pipeline enabled: a point is named twice"),
    (lambda: BASE.parse(1.5), "pipeline: expected none, all, a depth or point names"),
    (lambda: Pipeline(("a", "a")), "pipeline points must be distinct lower-case names"),
    (lambda: Pipeline(("A b",)), "pipeline points must be distinct lower-case names"),
    (lambda: Pipeline("ab"), "pipeline points must be a sequence of point names"),
    (lambda: Pipeline(POINTS, prefer=("a_in",)), "pipeline prefer must order every point"),
    (lambda: BASE.parse(Pipeline(("x",))), "pipeline of another datapath"),
])
def test_errors_are_one_line(make, message):
    with pytest.raises(ParamsError) as e:
        make()
    assert str(e.value).startswith(message) and "\n" not in str(e.value)
