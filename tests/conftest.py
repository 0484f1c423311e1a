import os
import sys
from pathlib import Path

# The suite's simulations are short: unoptimized Verilator C++ builds about a third faster.
os.environ.setdefault("NLIHW_SIM_OPT", "-O0")

# Let test modules import each other's helpers (e.g. ref_round) as plain modules.
sys.path.insert(0, str(Path(__file__).parent))
