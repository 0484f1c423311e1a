"""One search for the fewest NLI cutpoints (baselines.smallest_nli_m), the one the comparison's
pre-step uses; and the CLI's and the bench's module lists hold only modules that exist (their
"not built yet" fallbacks are gone)."""
import importlib.util

import pytest

from nlihw import bench, cli
from nlihw.explore import comparison
from nlihw.luts import baselines, fitter
from nlihw.luts.layout import TableLayout


def test_fewest_m_is_a_scan_of_fits():
    said = []
    M = baselines.smallest_nli_m("gelu", "s4.6", "s4.6", 3.0, 2, "mul", progress=said.append)
    errs = {m: fitter.fit("gelu", TableLayout("s4.6", "s4.6", m, 2)).table.meta["errors"]["max_abs_lsb"]
            for m in range(2, M + 1)}
    assert errs[M] <= 3.0 and all(errs[m] > 3.0 for m in range(2, M))
    assert said == ["NLI K=2 mul: smallest M for 3.0 LSB"]
    assert baselines.smallest_nli_m("gelu", "s4.6", "s4.6", 3.0, 2, "mul", m_max=M - 1) is None


def test_the_comparison_plans_with_it(monkeypatch):
    asked = []

    def fewest(func, in_fmt, out_fmt, bound, K, step, domain, grid, m_max, progress):
        asked.append((K, step, m_max))
        return None if step == "pow2" and K == 32 else K + 1
    monkeypatch.setattr(baselines, "smallest_nli_m", fewest)
    monkeypatch.setattr(baselines, "smallest_uniform", lambda *a: None)
    p = comparison._plan("gelu", "s4.6", "s4.6", 3.0, None, None, None)
    ks = (1, 2, 4, 8, 16, 32)
    assert asked == [(K, s, 1024 if K == 1 else 257) for K in ks for s in ("mul", "pow2")]
    assert p.nli == tuple((K, s, K + 1) for K in ks for s in ("mul", "pow2") if (K, s) != (32, "pow2"))
    assert p.uniform_M is None and p.full_lut_codes == 1024


@pytest.mark.parametrize("module", [f"nlihw.commands.{m}" for m in cli.COMMANDS.values()]
                         + [m for _, m in bench.SECTIONS])
def test_every_listed_module_exists(module):
    assert importlib.util.find_spec(module) is not None


def test_help_lists_every_command(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(f"\n  {name} " in out for name in cli.COMMANDS)
