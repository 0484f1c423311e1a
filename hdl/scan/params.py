"""ScanParams: the one frozen description of a selective-scan unit, read by RTL, golden model,
benches and synthesis.

Formats written here are the ones that cannot be derived; the rest come from the three NLI tables:
delta and delta_bias are the softplus table's input, dt its output; the exp table's input is the
format dt*A is rounded to, dA its output; z is the SiLU table's input, the gate g its output.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace

from nlihw.errors import ParamsError
from nlihw.formats import Q, Rounding, parse_format, parse_rounding, require_fixed
from nlihw.hdl.common.multipliers import Multipliers
from nlihw.hdl.common.pipeline import Pipeline
from nlihw.hdl.common.verilog_names import check_module_name
from nlihw.hdl.nli.params import ENGINE_PIPELINE
from nlihw.luts.layout import clog2
from nlihw.luts.scan_tables import scan_table
from nlihw.luts.table import NLITable

MODES = ("mamba1", "mamba2")
# The unit's optional register points (in the components of hdl/scan/), in datapath order; each
# adds one cycle.
# front_sum: delta and the delta_bias block-RAM read (issued a cycle ahead) registered before their saturating sum (the
# softplus engine's input); dta_*: the dt*A / dt*u stage (A read from block RAM a cycle ahead, multiply, round, then
# saturate after dta_round); state_copy: the exp output registered once more, dt*u copied once per group of four
# lanes (their dt*u*B products read it: one register would fan out to every lane); state_*: the
# state recurrence h = sat(r(dA*h) + dBu), loop-carried through the state memory; state_read: the state memories'
# read registered (a block RAM's output register: its clock-to-output without one, 5.8 ns on an ECP5,
# went straight into dA*h's multiplier); dot_mult: C.h's products (as terms); dot_rows: each group of four
# lanes' terms compressed to two rows near them, before the sum across lanes;
# du_*: D*u (D read from block RAM a cycle ahead); out_mult: y*g; out_round: its rounding; skid_exp / skid_dot: a skid buffer (registered
# ready) before the exp engine / after C.h, which cut the back-pressure chain through the whole unit in three.
# ``prefer``: the order a depth N enables them in (the longest ECP5 paths first, as measured at P = 1).
PIPELINE = Pipeline(
    ("front_sum", "dta_in", "dta_mult", "dta_round", "skid_exp", "state_copy", "state_read", "state_in", "state_mult",
     "state_add", "dot_mult", "dot_rows", "skid_dot", "du_in", "du_mult", "out_mult", "out_round"),
    prefer=("dta_in", "dta_mult", "state_in", "state_mult", "state_add", "du_in", "du_mult",
            "out_mult", "dot_mult", "front_sum", "skid_exp", "skid_dot", "out_round", "dta_round",
            "dot_rows", "state_copy", "state_read"))

# how the unit meets back-pressure: "stall" (every register advances with its section's output
# ready) or "credit" (nothing stalls: a queue at the unit's output and credits at its input, see
# hdl/common/credit_queue.py)
BACKPRESSURE = ("stall", "credit")

FORMAT_FIELDS = ("u_fmt", "b_fmt", "c_fmt", "a_fmt", "d_fmt", "dtu_fmt", "state_fmt", "y_fmt",
                 "out_fmt")


@dataclass(frozen=True)
class ScanParams:
    """A fused fixed-point selective-scan unit (Mamba S6).

    ``d_inner`` channels, ``d_state`` states per channel (N), ``lanes`` state lanes (P, divides N:
    a (token, channel) takes N/P clocks). ``mode`` ``mamba2`` shares A, delta and delta_bias across
    each head of ``headdim`` channels. ``gate``: multiply by SiLU(z) (Mamba's out * silu(z)).
    Products are rounded once each with ``rounding``; sums saturate. ``pipeline``: the optional
    register points enabled (a ``Pipeline`` of ``PIPELINE``, or a spec: none, all, a depth, names);
    ``engine_pipeline``: those of its three NLI engines (``ENGINE_PIPELINE``, the same spec forms).
    Both change the latency, never a value. ``da_mult_fmt`` (unsigned, the exp table output's
    integer bits, fewer fraction bits): dA is rounded to it once, so that dA * h fits one DSP.
    ``multipliers``: how every product (the engines' too) is built: ``infer`` (``a * b``) or the
    target's DSP operand widths (``18x18u`` for ECP5: one MULT18 a product, the rest in the
    fabric; ``/F``: products with an operand of at most F bits all in the fabric). Never a value.
    ``backpressure`` (``BACKPRESSURE``): ``stall``, or ``credit``: no stage of the unit stalls, so
    no clock enable spans it; ``timing.credit_depth`` words queue at its output, 3 cycles more
    latency. Never a value.
    """
    d_inner: int
    d_state: int
    lanes: int
    softplus: NLITable
    exp: NLITable
    silu: NLITable
    u_fmt: Q
    b_fmt: Q
    c_fmt: Q
    a_fmt: Q
    d_fmt: Q
    dtu_fmt: Q            # dt * u, once per (token, channel)
    state_fmt: Q          # h
    y_fmt: Q              # C . h, then y + D*u
    out_fmt: Q
    mode: str = "mamba1"
    headdim: int = 1
    gate: bool = True
    rounding: Rounding = Rounding.NEAREST_EVEN
    top_name: str = "selective_scan"
    pipeline: "Pipeline | str | int | list | None" = None
    engine_pipeline: "Pipeline | str | int | list | None" = None
    da_mult_fmt: "Q | str | None" = None   # dA rounded to this for dA * h (None: the exp table's)
    multipliers: "Multipliers | str | None" = None
    backpressure: str = "stall"

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "pipeline", PIPELINE.parse(self.pipeline))
        set_(self, "engine_pipeline", ENGINE_PIPELINE.parse(self.engine_pipeline))
        set_(self, "multipliers", Multipliers.parse(self.multipliers))
        try:
            for f in FORMAT_FIELDS:
                set_(self, f, require_fixed(parse_format(getattr(self, f)), f"the scan unit's {f}"))
            set_(self, "rounding", parse_rounding(self.rounding))
        except ValueError as e:
            raise ParamsError(str(e)) from None
        for f in ("d_inner", "d_state", "lanes", "headdim"):
            v = getattr(self, f)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ParamsError(f"{f} must be a positive integer, got {v!r}")
        if self.d_inner > 4096 or self.d_state > 256:
            raise ParamsError(f"d_inner must be <= 4096 and d_state <= 256, got {self.d_inner}, "
                              f"{self.d_state}")
        for f in ("d_state", "lanes"):
            v = getattr(self, f)
            if v & (v - 1):
                raise ParamsError(f"{f} must be a power of two, got {v}")
        if self.d_state % self.lanes:
            raise ParamsError(f"lanes must divide d_state={self.d_state}, got {self.lanes}")
        if self.mode not in MODES:
            raise ParamsError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.mode == "mamba1" and self.headdim != 1:
            raise ParamsError("headdim applies to mode='mamba2' only")
        if self.d_inner % self.headdim:
            raise ParamsError(f"headdim must divide d_inner={self.d_inner}, got {self.headdim}")
        if self.backpressure not in BACKPRESSURE:
            raise ParamsError(f"backpressure must be one of {', '.join(BACKPRESSURE)}, got "
                              f"{self.backpressure!r}")
        if not isinstance(self.gate, bool):
            raise ParamsError(f"gate must be a bool, got {self.gate!r}")
        for name in ("softplus", "exp", "silu"):
            if not isinstance(getattr(self, name), NLITable):
                raise ParamsError(f"{name}: expected an NLITable")
        if not self.a_fmt.signed:
            raise ParamsError(f"a_fmt must be signed (A < 0), got {self.a_fmt}")
        if self.dt_fmt.signed or self.da_fmt.signed:
            raise ParamsError(f"the softplus and exp tables need unsigned outputs (dt, dA >= 0), got "
                              f"{self.dt_fmt} and {self.da_fmt}")
        if not self.w_fmt.signed or self.exp.domain[1] > 0:
            raise ParamsError("the exp table must take a signed input with its domain at x <= 0")
        self._check_da_mult()
        for f in ("state_fmt", "y_fmt", "out_fmt", "dtu_fmt"):
            if not getattr(self, f).signed:
                raise ParamsError(f"{f} must be signed, got {getattr(self, f)}")
        check_module_name(self.top_name)

    def _check_da_mult(self):
        if self.da_mult_fmt is None:
            return
        try:
            f = require_fixed(parse_format(self.da_mult_fmt), "the scan unit's da_mult_fmt")
        except ValueError as e:
            raise ParamsError(str(e)) from None
        da = self.da_fmt
        if f.signed or f.int_bits < da.int_bits or f.frac_bits > da.frac_bits:
            raise ParamsError(f"da_mult_fmt must be unsigned with at least the {da.int_bits} "
                              f"integer bits and at most the {da.frac_bits} fraction bits of the "
                              f"exp table's output {da}, got {f}")
        object.__setattr__(self, "da_mult_fmt", f)

    # --- formats that follow from the tables ---------------------------------------------------
    @property
    def delta_fmt(self) -> Q:
        """delta and delta_bias: the softplus table's input (their sum saturates into it)."""
        return self.softplus.layout.in_fmt

    @property
    def dt_fmt(self) -> Q:
        return self.softplus.layout.out_fmt

    @property
    def w_fmt(self) -> Q:
        """dt * A, rounded: the exp table's input."""
        return self.exp.layout.in_fmt

    @property
    def da_fmt(self) -> Q:
        return self.exp.layout.out_fmt

    @property
    def dam_fmt(self) -> Q:
        """dA as it enters dA * h: ``da_mult_fmt``, else the exp table's output."""
        return self.da_fmt if self.da_mult_fmt is None else self.da_mult_fmt

    @property
    def z_fmt(self) -> Q:
        return self.silu.layout.in_fmt

    @property
    def g_fmt(self) -> Q:
        """SiLU(z), the gate."""
        return self.silu.layout.out_fmt

    # --- structure --------------------------------------------------------------------------
    @property
    def n_heads(self) -> int:
        return self.d_inner // self.headdim

    @property
    def steps(self) -> int:
        """Clocks per (token, channel): N / P."""
        return self.d_state // self.lanes

    @property
    def exp_lanes(self) -> int:
        """exp evaluations per clock: one per state lane (Mamba-1), one per head (Mamba-2)."""
        return self.lanes if self.mode == "mamba1" else 1

    @property
    def a_count(self) -> int:
        """A entries: one per (channel, state), or one per head in Mamba-2."""
        return self.d_inner * self.d_state if self.mode == "mamba1" else self.n_heads

    @property
    def bias_count(self) -> int:
        return self.d_inner if self.mode == "mamba1" else self.n_heads

    @property
    def acc_frac(self) -> int:
        """Fraction bits of the exact C . h sum."""
        return self.c_fmt.frac_bits + self.state_fmt.frac_bits

    @property
    def acc_width(self) -> int:
        """Width of the exact C . h sum over N states (no overflow possible)."""
        return self.c_fmt.width + self.state_fmt.width + clog2(self.d_state)

    # --- configuration / state port address map ---------------------------------------------
    def config_regions(self) -> dict[str, tuple[int, int, Q]]:
        """name -> (base address, entries, format) of the configuration port's address space.

        ``A``: index d*N + n (Mamba-1) or head; ``D``: channel; ``bias``: channel or head;
        ``state``: d*N + n (save / restore; zero-extended reads).
        """
        regions, base = {}, 0
        for name, n, fmt in (("A", self.a_count, self.a_fmt), ("D", self.d_inner, self.d_fmt),
                             ("bias", self.bias_count, self.delta_fmt),
                             ("state", self.d_inner * self.d_state, self.state_fmt)):
            size = 1 << clog2(n)
            base = (base + size - 1) // size * size          # regions aligned to their size
            regions[name] = (base, n, fmt)
            base += size
        return regions

    @property
    def config_addr_bits(self) -> int:
        base, n, _ = self.config_regions()["state"]
        return max(1, clog2(base + n))

    @property
    def config_data_bits(self) -> int:
        return max(f.width for _, _, f in self.config_regions().values())

    # --- serialization --------------------------------------------------------------------------
    def to_dict(self) -> dict:
        d = {f: str(getattr(self, f)) for f in FORMAT_FIELDS}
        if self.da_mult_fmt is not None:     # absent when unset: earlier digests stay valid
            d["da_mult_fmt"] = str(self.da_mult_fmt)
        d.update(d_inner=self.d_inner, d_state=self.d_state, lanes=self.lanes, mode=self.mode,
                 headdim=self.headdim, gate=self.gate, rounding=self.rounding.value,
                 top_name=self.top_name,
                 tables={k: getattr(self, k).content() for k in ("softplus", "exp", "silu")})
        if self.pipeline.depth:          # absent when none: earlier digests stay valid
            d["pipeline"] = self.pipeline.to_list()
        if self.engine_pipeline.depth:
            d["engine_pipeline"] = self.engine_pipeline.to_list()
        if self.multipliers.dsp is not None:
            d["multipliers"] = str(self.multipliers)
        if self.backpressure != "stall":
            d["backpressure"] = self.backpressure
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ScanParams":
        if not isinstance(d, dict):
            raise ParamsError("scan params: expected an object")
        d = dict(d)
        try:
            tables = d.pop("tables")
            kw = {k: NLITable.from_dict(tables[k], source=f"tables.{k}")
                  for k in ("softplus", "exp", "silu")}
            return cls(**d, **kw)
        except (KeyError, TypeError) as e:
            raise ParamsError(f"scan params: {e}") from None

    def digest(self) -> str:
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def replace(self, **changes) -> "ScanParams":
        return replace(self, **changes)


# Formats of the presets that are not the tables' (see nlihw.luts.scan_tables for those). Every
# product's operands fit one 27 x 18 signed multiplier (DSP48E2; two 18 x 18 MULT18 on ECP5):
# an 18-bit signed operand (I/O, dA, y) times one of at most 27 (state, dt*u, dt).
PRESETS = {
    # 16-bit I/O; 27-bit state and dt*u; dA rounded to u1.16 (18 bits signed); y in 18 bits
    "int16": dict(u_fmt="s4.12", b_fmt="s4.12", c_fmt="s4.12", a_fmt="s5.11", d_fmt="s4.12",
                  dtu_fmt="s6.21", state_fmt="s6.21", y_fmt="s6.12", out_fmt="s5.11",
                  da_mult_fmt="u1.16"),
    # INT8 activations, 24-bit state (in the spirit of eMamba)
    "int8": dict(u_fmt="s4.4", b_fmt="s4.4", c_fmt="s4.4", a_fmt="s5.3", d_fmt="s4.4",
                 dtu_fmt="s6.18", state_fmt="s6.18", y_fmt="s6.10", out_fmt="s5.3"),
}


def preset(name: str, *, d_inner: int = 64, d_state: int = 16, lanes: int | None = None,
           mode: str = "mamba1", headdim: int = 1, **overrides) -> ScanParams:
    """ScanParams of a named preset with the shipped tables; ``lanes`` defaults to d_state.
    ``overrides`` replace formats and tables (``exp=NLITable``)."""
    if name not in PRESETS:
        raise ParamsError(f"unknown scan preset {name!r}; choose one of {', '.join(PRESETS)}")
    kw = {f: scan_table(name, f) for f in ("softplus", "exp", "silu") if f not in overrides}
    kw.update(PRESETS[name])
    if "exp" in overrides and "da_mult_fmt" not in overrides and kw.get("da_mult_fmt"):
        out, mult = overrides["exp"].layout.out_fmt, parse_format(kw["da_mult_fmt"])
        if out.frac_bits <= mult.frac_bits or out.int_bits > mult.int_bits:
            kw["da_mult_fmt"] = None        # a table of one's own: dA enters dA * h as it comes
    kw.update(overrides)
    return ScanParams(d_inner=d_inner, d_state=d_state, lanes=d_state if lanes is None else lanes,
                      mode=mode, headdim=headdim, **kw)
