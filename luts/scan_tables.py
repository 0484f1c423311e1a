"""The NLI tables of the selective-scan presets: softplus, exp and SiLU, fitted by the project's own
fitter on the input ranges the scan really sees, and shipped in ``luts/tables/scan/``.

- softplus on the whole delta format, mean-relative metric: dt spans three decades (0.001-0.1 in
  a Mamba layer), so its relative error is what the state's time constants feel.
- exp on dt*A in [-16, -1 LSB]: below -16, e^x is under every dA format's LSB; the state's memory
  depends on dA close to 1 (dt*A close to 0), hence a fine input format and max-abs. int16 finds
  its micro bin by a shift (pow2: intervals of K*2^s codes, M = 17), so each lane's exp engine has
  no multiplier before the table, and its output u1.17 keeps one bit beyond dA's u1.16 in dA * h,
  so the interpolation's difference fits an 18-bit operand; the scan's error is unchanged (1.045x
  its floor, as the earlier u1.23 table with a 17-bit interval multiplier, M = 11).
- SiLU on the whole z format, max-abs.
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from nlihw.errors import ParamsError
from .default_tables import TableSpec
from .table import NLITable


@dataclass(frozen=True)
class ScanTableSpec(TableSpec):
    """A default-table spec (same fit) named after its scan preset: ``<preset>_<func>.json``."""
    preset: str = ""

    @property
    def filename(self) -> str:
        return f"{self.preset}_{self.func}.json"


SPECS = [
    ScanTableSpec("softplus", "s4.12", "u4.20", 11, 32, metric="mean-rel", preset="int16"),
    ScanTableSpec("exp", "s5.16", "u1.17", 17, 32, (-16.0, -2.0 ** -16), preset="int16", t_bits=11,
                  micro_step="pow2"),
    ScanTableSpec("silu", "s4.12", "s4.16", 11, 32, preset="int16"),
    ScanTableSpec("softplus", "s4.4", "u4.12", 11, 8, metric="mean-rel", preset="int8"),
    ScanTableSpec("exp", "s5.11", "u1.15", 11, 32, (-16.0, -2.0 ** -11), preset="int8"),
    ScanTableSpec("silu", "s4.4", "s4.8", 11, 8, preset="int8"),
]


def scan_tables_dir() -> Path:
    return Path(str(resources.files("nlihw.luts") / "tables" / "scan"))


def scan_table(preset: str, func: str) -> NLITable:
    """A shipped scan table, e.g. ``scan_table("int16", "exp")``."""
    path = scan_tables_dir() / f"{preset}_{func}.json"
    if not path.is_file():
        raise ParamsError(f"no shipped {func} table for scan preset {preset!r} ({path})")
    return NLITable.load(path)
