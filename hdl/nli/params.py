"""NLIEngineParams: the one frozen description of an engine, read by RTL, golden model, benches and synthesis."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from nlihw.errors import ParamsError
from nlihw.hdl.common.multipliers import Multipliers
from nlihw.hdl.common.pipeline import Pipeline
from nlihw.hdl.common.verilog_names import check_module_name
from nlihw.luts.layout import TableLayout, clog2
from nlihw.luts.table import NLITable
from .exponent_search import segments

ARCHS = ("parallel", "binary", "uniform", "direct")
STORAGES = ("rom", "ram")
# The engine's optional register points (parallel and binary architectures), in datapath order;
# each adds one cycle and changes no value:
#   search_compare  the comparator results (binary: the last stage's) registered before the
#                   thermometer encoder / interval base select and the dx subtract
#   search_base     the interval index and its base position registered after the encoder /
#                   base select, before the dx subtract
#   mul_in          dx and the interval's multiplier registered before the dx * mul product (the
#                   multiplier's input register: MULT18X18D / DSP48E2 absorb it)
#   table_addr      the table address registered after the shift, before the memories' own
#                   address register
#   table_out       the memories' read data registered before the even/odd swap (block RAM
#                   output register)
#   interp_in       y1 - y0 and t registered before the interpolation product t (y1 - y0)
#   round_split     the rounded value registered before the saturation and the class mux (float
#                   output: the rounded code magnitude before its saturation)
# ``prefer``: the order a depth N enables them in (the longest paths first).
ENGINE_PIPELINE = Pipeline(
    ("search_compare", "search_base", "mul_in", "table_addr", "table_out", "interp_in", "round_split"),
    prefer=("search_compare", "mul_in", "interp_in", "round_split", "table_addr", "table_out",
            "search_base"))


SHARED_LAYOUT = "the tables of one engine must share formats, M, K and datapath options (refit to match)"


def layout_difference(a: TableLayout, b: TableLayout) -> str:
    """The fields where two layouts differ, ``field a vs b`` (``-``: a field the other layout
    has not, as a float format's datapath widths)."""
    da, db = a.to_dict(), b.to_dict()
    keys = list(da) + [f for f in db if f not in da]
    return ", ".join(f"{f} {da.get(f, '-')} vs {db.get(f, '-')}" for f in keys
                     if da.get(f, "-") != db.get(f, "-"))


@dataclass(frozen=True)
class NLIEngineParams:
    """An NLI engine: its tables (one per selectable function, one shared layout) and its structure.

    ``arch``: ``parallel`` (M comparators and an encoder in one stage, the paper's) or ``binary``
    (a pipelined binary search, one comparator per stage); the baselines ``uniform`` (uniform PWL:
    the segment is the input's top bits) and ``direct`` (full LUT: one entry per input code).
    With a float input, ``uniform`` is the exponent-indexed PWL (segments by the code's top bits,
    ``luts/float_baselines.py``). ``storage``: ``rom`` (constants) or ``ram`` (values in writable memories, cutpoints, scales
    and clamps in writable registers; NLI architectures only). Tail modes and slopes are part of
    the generated hardware; a reload changes only their constants (the clamp registers).
    Floating-point formats (either side): ``parallel`` or ``binary``, rom or ram (a float input
    also reloads the cutpoints' positions, a float output the block exponents).
    ``pipeline``: the optional register points enabled (a ``Pipeline`` of ``ENGINE_PIPELINE``, or
    a spec: none, all, a depth, point names; parallel and binary only); each adds one cycle of
    latency and changes no value. None: exactly the base pipeline.
    ``table_ports``: read ports per copy of the table memories; lanes share copies, ``table_ports``
    lanes each (2: a true dual-port block RAM serves two lanes). Values never change.
    ``multipliers``: how the micro-bin and interpolation products are built (``Multipliers`` or
    its spec: ``infer``, or the target's DSP operand widths such as ``18x18``). Values never change.
    """
    tables: tuple[NLITable, ...]
    arch: str = "parallel"
    lanes: int = 1
    storage: str = "rom"
    top_name: str = "nli_engine"
    pipeline: "Pipeline | str | int | list | None" = None
    table_ports: int = 1
    multipliers: "Multipliers | str | None" = None

    def __post_init__(self):
        object.__setattr__(self, "pipeline", ENGINE_PIPELINE.parse(self.pipeline))
        object.__setattr__(self, "multipliers", Multipliers.parse(self.multipliers))
        tables = tuple(self.tables) if not isinstance(self.tables, NLITable) else (self.tables,)
        object.__setattr__(self, "tables", tables)
        if not tables:
            raise ParamsError("tables: an engine needs at least one table")
        if not all(isinstance(t, NLITable) for t in tables):
            raise ParamsError("tables: expected NLITable objects")
        for k, t in enumerate(tables[1:], 1):
            if t.layout != tables[0].layout:
                raise ParamsError(f"tables: table {k} ({t.function}) differs from table 0 "
                                  f"({tables[0].function}) in {layout_difference(t.layout, tables[0].layout)}; "
                                  f"{SHARED_LAYOUT}")
        if self.arch not in ARCHS:
            raise ParamsError(f"arch must be one of {', '.join(ARCHS)}, got {self.arch!r}")
        if self.storage not in STORAGES:
            raise ParamsError(f"storage must be one of {', '.join(STORAGES)}, got {self.storage!r}")
        if not isinstance(self.lanes, int) or isinstance(self.lanes, bool) or not 1 <= self.lanes <= 64:
            raise ParamsError(f"lanes must be 1..64, got {self.lanes!r}")
        if self.table_ports not in (1, 2):
            raise ParamsError(f"table_ports must be 1 or 2 (read ports per table copy), got {self.table_ports!r}")
        if self.table_ports > 1 and self.storage != "rom":
            raise ParamsError("table_ports 2 needs storage='rom' (a reloadable copy uses its second "
                              "port for the writes)")
        self._check_arch(tables)
        if self.pipeline.depth and self.arch not in ("parallel", "binary"):
            raise ParamsError(f"pipeline {self.pipeline}: register points apply to arch 'parallel' "
                              f"and 'binary' only, got arch {self.arch!r} (a baseline); use "
                              f"pipeline 'none'")
        check_module_name(self.top_name)

    def _check_arch(self, tables):
        lay = tables[0].layout
        fin = lay.in_fmt
        if lay.in_float or lay.out_float:
            fmts = f"{lay.in_fmt} -> {lay.out_fmt}"
            if self.arch == "uniform" and lay.in_float:
                # the exponent-indexed PWL: segments are the codes' top bits (exponent_search.py)
                if self.storage != "rom":
                    raise ParamsError("arch 'uniform' (a baseline) supports storage='rom' only")
                if len({segments(t).r for t in tables}) != 1:
                    raise ParamsError("arch 'uniform' with a float input: every function's table "
                                      "needs the same number of leading bits")
                return
            if self.arch not in ("parallel", "binary"):
                raise ParamsError(f"arch {self.arch!r} supports fixed-point formats only, got "
                                  f"{fmts}; use arch 'parallel' or 'binary' (or 'uniform' with an "
                                  f"exponent-indexed PWL table and a float input)")
            return
        if self.arch in ("parallel", "binary"):
            for t in tables:
                if t.cutpoints[-1] > fin.max_raw:
                    raise ParamsError(f"tables: {t.function} ends past the input format (a uniform "
                                      f"PWL table); use arch='uniform'")
            return
        if self.storage != "rom":
            raise ParamsError(f"arch {self.arch!r} (a baseline) supports storage='rom' only")
        for t in tables:
            lengths = {b - a for a, b in zip(t.cutpoints, t.cutpoints[1:])}
            if self.arch == "uniform" and (len(lengths) != 1 or t.layout.K != 1
                                           or t.layout.micro_step.value != "pow2"):
                raise ParamsError(f"arch 'uniform' needs equal 2^p-code intervals, K=1, pow2 "
                                  f"({t.function} is not a uniform PWL table)")
            if self.arch == "direct" and (lengths != {1} or t.layout.K != 1 or t.has_tails or
                                          t.clamp_lo != t.values[0] or t.clamp_hi != t.values[-1]):
                raise ParamsError(f"arch 'direct' needs one cutpoint per code, K=1 and end clamps "
                                  f"({t.function} is not a full-LUT table)")

    # --- derived structure --------------------------------------------------------------------
    @property
    def layout(self) -> TableLayout:
        return self.tables[0].layout

    @property
    def n_funcs(self) -> int:
        return len(self.tables)

    @property
    def func_bits(self) -> int:
        return max(1, clog2(self.n_funcs))

    @property
    def search_stages(self) -> int:
        """Pipeline stages of the macro-interval search (0 for the full LUT: no search)."""
        return {"parallel": 1, "uniform": 1, "direct": 0}.get(self.arch, clog2(self.layout.M + 1))

    @property
    def latency(self) -> int:
        """Cycles from an input transfer to its output transfer with no back-pressure.

        One register stage each: search (1, or ceil(log2(M+1)) for binary), dx * mul, shift and
        table address (the memories' address register), table output, interpolation product,
        exact sum, and the round/saturate/clamp output register. The full LUT replaces the search and
        multiply stages by one address register (then the memories' address register).
        A float input adds its conversion stage (order key, position, NaN flag) before the search;
        a float output adds its normalize stage (leading one, binade, shift) before the rounding.
        The enabled ``pipeline`` points add one cycle each.
        """
        if self.arch == "direct":
            return 6
        return (self.search_stages + 6 + self.layout.in_float + self.layout.out_float
                + self.pipeline.depth)

    @property
    def search_latency(self) -> int:
        """Cycles from the search's input to its (index, dx) output."""
        return self.search_stages + self.pipeline.cycles_through("search_compare", "search_base")

    @property
    def micro_latency(self) -> int:
        """Cycles from the search's output to the micro-bin outputs (t, class, func) that meet the
        table memories' read data (the clamps and tail values are formed beside them)."""
        return 2 + self.pipeline.cycles_through("mul_in", "table_addr")

    @property
    def in_width(self) -> int:
        return self.layout.in_fmt.width

    @property
    def out_width(self) -> int:
        return self.layout.out_fmt.width

    @property
    def total_values(self) -> int:
        return self.n_funcs * self.layout.n_values

    @property
    def diff_bits(self) -> int:
        """Signed width of y1 - y0 in the interpolation product: the layout's (any two values of
        the format) for reloadable or float-output tables, else just enough for the largest
        difference of two adjacent values the tables hold (the only pairs the datapath reads
        with t > 0), which keeps the product inside one 16 x 16 or 18 x 18 DSP block."""
        lay = self.layout
        if self.storage == "ram" or lay.out_float:
            return lay.diff_bits
        big = max((abs(b - a) for t in self.tables for a, b in zip(t.values, t.values[1:])), default=0)
        return min(lay.diff_bits, big.bit_length() + 1)

    # --- run-time reload address map (storage="ram") ------------------------------------------
    def _config_sizes(self) -> list[tuple[str, int]]:
        """(field, entries) of one function's block, in address order. A float input adds the
        cutpoints' positions (dx is formed on them), a float output the block exponents; a
        fixed-point engine's map is unchanged by them."""
        lay = self.layout
        sizes = [("values", lay.n_values), ("cutpoints", lay.M), ("mul", lay.M - 1),
                 ("shift", lay.M - 1), ("clamp_lo", 1), ("clamp_hi", 1)]
        if lay.in_float:
            sizes.append(("positions", lay.M))
        if lay.out_float:
            sizes.append(("exponents", lay.M - 1))
        return sizes

    @property
    def config_stride(self) -> int:
        """Per-function block of the write address space (a power of two)."""
        return 1 << clog2(sum(n for _, n in self._config_sizes()))

    @property
    def config_addr_bits(self) -> int:
        return clog2(self.n_funcs * self.config_stride)

    @property
    def config_data_bits(self) -> int:
        lay = self.layout
        bits = [lay.out_fmt.width, lay.in_fmt.width, lay.mul_width, lay.shift_bits, lay.value_bits]
        if lay.in_float:
            bits.append(lay.dx_bits)
        if lay.out_float:
            bits.append(lay.exp_bits)
        return max(bits)

    def config_fields(self) -> dict[str, int]:
        """Offsets within one function's block: values, cutpoints, mul, shift, clamp_lo, clamp_hi
        (then positions for a float input, exponents for a float output)."""
        off, out = 0, {}
        for name, n in self._config_sizes():
            out[name] = off
            off += n
        return out

    def config_writes(self, func_index: int, table: NLITable) -> list[tuple[int, int]]:
        """(addr, data) writes that load ``table`` into function slot ``func_index`` of a ram engine.

        Data are bit patterns: output codes (or ``value_bits`` two's complement block mantissas
        for a float output), input codes, positions modulo 2^dx_bits, two's complement exponents.
        """
        if table.layout != self.layout:
            raise ParamsError("config_writes: the table's layout differs from the engine's")
        if not 0 <= func_index < self.n_funcs:
            raise ParamsError(f"config_writes: func_index must be 0..{self.n_funcs - 1}")
        old = self.tables[func_index]
        if (old.tail_lo, old.tail_hi) != (table.tail_lo, table.tail_hi):
            raise ParamsError(f"config_writes: tails {table.tail_lo}/{table.tail_hi} differ from the "
                              f"engine's {old.tail_lo}/{old.tail_hi} for function {func_index}; tail "
                              f"modes and slopes are fixed when the engine is generated (only "
                              f"their constants reload)")
        lay, base, off = self.layout, func_index * self.config_stride, self.config_fields()
        fin, fout = lay.in_fmt, lay.out_fmt
        vmask = (1 << lay.value_bits) - 1
        writes = [(base + off["values"] + k, int(v) & vmask if lay.out_float else int(fout.to_bits(v)))
                  for k, v in enumerate(table.values)]
        writes += [(base + off["cutpoints"] + k, int(fin.to_bits(c))) for k, c in enumerate(table.cutpoints)]
        if lay.mul_width:
            writes += [(base + off["mul"] + k, m) for k, m in enumerate(table.mul)]
        writes += [(base + off["shift"] + k, s) for k, s in enumerate(table.shift)]
        writes += [(base + off["clamp_lo"], int(fout.to_bits(table.clamp_lo))),
                   (base + off["clamp_hi"], int(fout.to_bits(table.clamp_hi)))]
        if lay.in_float:
            pmask = (1 << lay.dx_bits) - 1
            writes += [(base + off["positions"] + k, int(c) & pmask)
                       for k, c in enumerate(lay.position(table.cutpoints))]
        if lay.out_float:
            emask = (1 << lay.exp_bits) - 1
            writes += [(base + off["exponents"] + k, e & emask) for k, e in enumerate(table.exponents)]
        return writes

    @property
    def table_copies(self) -> int:
        """Copies of the table memories: one per ``table_ports`` lanes."""
        return -(-self.lanes // self.table_ports)

    # --- serialization (sweeps cache by digest) ------------------------------------------------
    def to_dict(self) -> dict:
        d = {"tables": [t.content() for t in self.tables], "arch": self.arch, "lanes": self.lanes,
             "storage": self.storage, "top_name": self.top_name}
        if self.pipeline.depth:            # absent for the base pipeline: digests stay as they were
            d["pipeline"] = self.pipeline.to_list()
        if self.table_ports != 1:          # likewise
            d["table_ports"] = self.table_ports
        if self.multipliers.dsp is not None:
            d["multipliers"] = str(self.multipliers)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "NLIEngineParams":
        tables = tuple(NLITable.from_dict(t, source=f"tables[{k}]") for k, t in enumerate(d["tables"]))
        return cls(tables=tables, arch=d["arch"], lanes=d["lanes"], storage=d["storage"],
                   top_name=d["top_name"], pipeline=d.get("pipeline"), table_ports=d.get("table_ports", 1),
                   multipliers=d.get("multipliers"))

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True,
                                         separators=(",", ":")).encode()).hexdigest()
