"""With credit back-pressure nothing between the scan unit's front and its credit queue waits on
a ready, so after yosys folds the constants none of those flip-flops keeps a clock enable (the
wide enable net is what held P = 16 at 46 MHz on the 85F). The stall unit is the control: the
same count must find its enables."""
import re
from collections import Counter

import pytest

from nlihw.hdl.scan.generate import generate
from nlihw.hdl.scan.params import preset
from nlihw.synth import tools

# parts whose registers advance on the back-pressure in a stall unit and run free with credits
FREE = ("softplus", "skid_exp", "exp", "state")
# enables that are not back-pressure: the A and bias reads' counters (advancing per item), a
# lane's sticky flag, C . h's sum over the steps, the front's step and channel counters (with
# their first / last flags) and its issue register
KEPT = re.compile(r"^((dt_stage\.a|front\.bias)_ahead\.(cur|nxt|pos|\$signal)|dot\.flag_reg"
                  r"|dot\.\$signal(\$\d+)?|front\.(k_ctr|d_ctr|first_k|last_k|first_d|last_d|\$signal(\$\d+)?))$")


def enabled_registers(tmp_path, backpressure):
    """Registers with a clock enable per part after flattening and constant folding."""
    p = preset("int8", d_inner=3, d_state=4, lanes=2, pipeline="all", backpressure=backpressure)
    generate(p, tmp_path)
    # (opt_clean between proc and flatten: without it yosys 0.70's opt stops on a reset-less
    # register with constant bits, "Conflicting init values" between the flattened names)
    script = (f"read_verilog {p.top_name}.v; hierarchy -top {p.top_name}; proc; opt_clean; flatten; "
              "opt -full; opt_dff; opt_clean -purge; select -set ffs t:$dffe t:$sdffe t:$sdffce t:$adffe; "
              "select -list @ffs %x:+[Q] w:* %i")
    assert tools.run("yosys", ["-p", script], tmp_path, tmp_path / "yosys.log") is None
    names = [line.split("/", 1)[1].lstrip("\\") for line in (tmp_path / "yosys.log").read_text().splitlines()
             if line.startswith(f"{p.top_name}/")]
    return Counter(n.split(".")[0] for n in names if "." in n), names


@pytest.mark.timeout(300)
def test_credit_unit_runs_free_from_front_to_queue(tmp_path):
    stall, _ = enabled_registers(tmp_path / "stall", "stall")
    assert all(stall[part] > 0 for part in FREE), stall
    credit, names = enabled_registers(tmp_path / "credit", "credit")
    assert not any(credit[part] for part in FREE), credit
    front_to_queue = [n for n in names if n.split(".")[0] in ("front", "dot", "dt_stage")]
    assert [n for n in front_to_queue if not KEPT.match(n)] == []
