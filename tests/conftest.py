import sys
from pathlib import Path

# Let test modules import each other's helpers (e.g. ref_round) as plain modules.
sys.path.insert(0, str(Path(__file__).parent))
