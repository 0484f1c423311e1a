import os
import re

import pytest

# The suite's simulations are short: unoptimized Verilator C++ builds about a third faster.
os.environ.setdefault("NLIHW_SIM_OPT", "-O0")


@pytest.fixture(scope="session")
def build_once(tmp_path_factory):
    """``build_once(key, make)``: ``make(outdir)`` run once per test session (per xdist worker)
    for each ``key``, in a fresh temporary directory, and its result returned to every later
    caller: a design generated and verilated once for all the tests that simulate it."""
    done = {}

    def once(key, make):
        if key not in done:
            done[key] = make(tmp_path_factory.mktemp(re.sub(r"[^\w-]", "_", key)))
        return done[key]
    return once
