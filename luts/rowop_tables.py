"""The NLI tables of the row-operation presets (softmax, RMSNorm, LayerNorm; issue [J]), fitted by
the project's own fitter on the ranges the units really see, shipped in ``luts/tables/rowop/``.

- exp on d = x - max(x) in [-R, 0], max-abs metric, tails (zero, clamp): every code below -R
  (the saturated d included) gives exactly 0, and d = 0 gives exactly 1 (the right clamp stores
  e^0). R is the first integer with e^-R below half an LSB of the exp output (int16: u1.17,
  R = 13, e^-13 = 2.3e-6 < 2^-18 = 3.8e-6; int8: u1.11, R = 9, e^-9 = 1.2e-4 < 2^-12 =
  2.4e-4), so the table's left edge costs nothing the output format could show.
  int16 uses M = 17 (K = 32): a softmax row sums thousands of small e, so a table's bias adds
  up; with M = 11 the fit's max error is 1.43 LSB and its mean error on d in [-6, 0] +0.33 LSB,
  which put 0.7 % (734 output LSBs) on the large p of attention rows with outliers (n = 4096);
  M = 17 gives 0.97 LSB and +0.10 LSB there (measured by ``sim/rowop/accuracy.py``). What
  remains in those rows (about 250 output LSBs, 0.4 %) is e's own rounding: the ~9000 entries
  with d < -12.7 have e^d < 0.5 LSB of u1.17 and round, correctly, to 0, a one-signed loss in S
  that only a finer e format removes.
- reciprocal on the normalized mantissa s in [1, 2) (softmax's row sum after the leading-one
  detector, and the row length n for the norms' 1/n), output in (0.5, 1].
- rsqrt on the even-shift-normalized s in [1, 4), output in (0.5, 1].

Formats: int16 keeps 17 fraction bits in every internal value (18-bit operands, one DSP each);
int8 keeps 11. The specs below are the only place these formats are written; the params
(``hdl/rowop/params.py``) read them back from the loaded tables.
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from nlihw.atomic import OutputSet
from nlihw.errors import ParamsError
from .default_tables import TableSpec
from .fitter import fit
from .layout import TableLayout
from .table import NLITable

ROWOP_FUNCS = ("exp", "reciprocal", "rsqrt")


@dataclass(frozen=True)
class RowopTableSpec(TableSpec):
    """A default-table spec named after its row-op preset (``<preset>_<func>.json``), with tails."""
    preset: str = ""
    tails: "tuple[str, str] | None" = None

    @property
    def filename(self) -> str:
        return f"{self.preset}_{self.func}.json"

    def fit(self) -> NLITable:
        layout = TableLayout(self.in_fmt, self.out_fmt, self.M, self.K, self.micro_step,
                             t_bits=self.t_bits, mul_bits=self.mul_bits)
        return fit(self.func, layout, metric=self.metric, grid=self.grid, domain=self.domain,
                   tails=self.tails).table


SPECS = [
    RowopTableSpec("exp", "s5.10", "u1.17", 17, 32, (-13.0, 0.0), preset="int16",
                   tails=("zero", "clamp")),
    RowopTableSpec("reciprocal", "u1.17", "u1.17", 11, 32, (1.0, 2.0), preset="int16"),
    RowopTableSpec("rsqrt", "u2.16", "u1.17", 11, 32, (1.0, 4.0), preset="int16"),
    RowopTableSpec("exp", "s5.3", "u1.11", 11, 8, (-9.0, 0.0), preset="int8",
                   tails=("zero", "clamp")),
    RowopTableSpec("reciprocal", "u1.11", "u1.11", 11, 8, (1.0, 2.0), preset="int8"),
    RowopTableSpec("rsqrt", "u2.10", "u1.11", 11, 8, (1.0, 4.0), preset="int8"),
]


# Refit: python -c "from nlihw.luts.rowop_tables import build_rowop_tables; build_rowop_tables()"
# (about 25 s; the int8 tables take under a second each).


def rowop_tables_dir() -> Path:
    return Path(str(resources.files("nlihw.luts") / "tables" / "rowop"))


def rowop_spec(preset: str, func: str) -> RowopTableSpec:
    for s in SPECS:
        if s.preset == preset and s.func == func:
            return s
    raise ParamsError(f"no row-op table spec for preset {preset!r} and function {func!r}")


def rowop_table(preset: str, func: str) -> NLITable:
    """A shipped row-op table, e.g. ``rowop_table("int16", "exp")``."""
    path = rowop_tables_dir() / f"{preset}_{func}.json"
    if not path.is_file():
        raise ParamsError(f"no shipped {func} table for row-op preset {preset!r} ({path})")
    return NLITable.load(path)


def build_rowop_tables(outdir: "Path | None" = None, specs=None) -> list[Path]:
    """Fit ``specs`` (default all) into ``outdir`` (default the shipped directory), atomically."""
    outdir = rowop_tables_dir() if outdir is None else Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    out = OutputSet()
    specs = SPECS if specs is None else list(specs)
    for s in specs:
        out.add_text(outdir / s.filename, s.fit().to_json(), label=s.filename)
    out.commit()
    return [outdir / s.filename for s in specs]
