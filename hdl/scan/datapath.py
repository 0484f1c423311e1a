"""ScanDatapath: what follows from ``ScanParams`` for the datapath, derived once and read by the RTL
(``hdl/scan/*.py``) and the golden model (``sim/scan/golden.py``) alike: the rounding shift of each
product, the widths of the exact products and sums, the streams' payload layouts and the side bands
carried past the three NLI engines.
"""
from __future__ import annotations

from dataclasses import dataclass

from amaranth.hdl import signed
from amaranth.lib import data

from nlihw.hdl.common.fixed_point import shape_of
from nlihw.hdl.common.product import term_count
from nlihw.hdl.nli.params import NLIEngineParams
from nlihw.luts.layout import clog2
from .params import ScanParams


def index_bits(n: int) -> int:
    """Bits of a counter or index over n items (at least 1)."""
    return max(1, clog2(n))


def input_layout(p: ScanParams) -> data.StructLayout:
    return data.StructLayout({"u": shape_of(p.u_fmt), "delta": shape_of(p.delta_fmt),
                              "z": shape_of(p.z_fmt), "first": 1})


def bc_layout(p: ScanParams) -> data.StructLayout:
    return data.StructLayout({"B": data.ArrayLayout(shape_of(p.b_fmt), p.d_state),
                              "C": data.ArrayLayout(shape_of(p.c_fmt), p.d_state)})


def output_layout(p: ScanParams) -> data.StructLayout:
    return data.StructLayout({"out": shape_of(p.out_fmt), "overflow": 1, "clamped": 1})


# The flag carried beside every item: bit OVERFLOW, a value saturated in the datapath (the result
# may be wrong by far more than rounding); bit CLAMPED, delta + bias fell below delta_fmt and was
# clamped to its lowest code (dt off by at most softplus of that code). Or-ing a 1-bit saturation
# into the field sets OVERFLOW.
FLAG_BITS, OVERFLOW, CLAMPED = 2, 0, 1
# lanes that share a register copy or a carry-save group (``state_copy``, ``dot_rows``): at P = 16
# one register or one tree for all lanes would reach across the die
LANE_GROUP = 4


def cfg_layout(p: ScanParams) -> data.StructLayout:
    return data.StructLayout({"addr": p.config_addr_bits, "data": p.config_data_bits, "write": 1})


def engine_params(p: ScanParams, which: str) -> NLIEngineParams:
    """The NLI engine of ``which`` (softplus, exp, silu): exp has ``exp_lanes`` lanes, two to each
    copy of its table (one true dual-port block RAM per bank serves two lanes)."""
    lanes = p.exp_lanes if which == "exp" else 1
    return NLIEngineParams((getattr(p, which),), arch="parallel", lanes=lanes, storage="rom",
                           top_name=f"{p.top_name}_{which}", pipeline=p.engine_pipeline,
                           table_ports=min(2, lanes), multipliers=p.multipliers)


@dataclass(frozen=True)
class ScanDatapath:
    """Shifts, widths and layouts of the datapath of ``p`` (steps as in ``sim/scan/golden.py``)."""
    p: ScanParams

    # --- rounding shifts: fraction bits each product drops (<= 0: an exact left shift) --------
    @property
    def w_shift(self) -> int:
        """dt * A -> w_fmt (step 3)."""
        p = self.p
        return p.dt_fmt.frac_bits + p.a_fmt.frac_bits - p.w_fmt.frac_bits

    @property
    def dtu_shift(self) -> int:
        """dt * u -> dtu_fmt (step 5)."""
        p = self.p
        return p.dt_fmt.frac_bits + p.u_fmt.frac_bits - p.dtu_fmt.frac_bits

    @property
    def dbu_shift(self) -> int:
        """dtu * B -> state_fmt (step 6)."""
        p = self.p
        return p.dtu_fmt.frac_bits + p.b_fmt.frac_bits - p.state_fmt.frac_bits

    @property
    def da_shift(self) -> int:
        """The exp table's dA -> dam_fmt, the multiplier's operand (step 4)."""
        return self.p.da_fmt.frac_bits - self.p.dam_fmt.frac_bits

    @property
    def dah_shift(self) -> int:
        """dA * h -> state_fmt (step 7)."""
        return self.p.dam_fmt.frac_bits

    @property
    def y_shift(self) -> int:
        """The exact sum C . h -> y_fmt (step 8)."""
        return self.p.acc_frac - self.p.y_fmt.frac_bits

    @property
    def du_shift(self) -> int:
        """D * u -> y_fmt (step 9)."""
        p = self.p
        return p.d_fmt.frac_bits + p.u_fmt.frac_bits - p.y_fmt.frac_bits

    @property
    def out_shift(self) -> int:
        """yd * g -> out_fmt with the gate, yd -> out_fmt without (step 10)."""
        p = self.p
        g_frac = p.g_fmt.frac_bits if p.gate else 0
        return p.y_fmt.frac_bits + g_frac - p.out_fmt.frac_bits

    # --- widths of the exact products and index fields ---------------------------------------
    @property
    def dta_shape(self):
        """dt * A (dt unsigned, hence the extra bit)."""
        return signed(self.p.dt_fmt.width + self.p.a_fmt.width + 1)

    @property
    def dtu_prod_shape(self):
        return signed(self.p.dt_fmt.width + self.p.u_fmt.width + 1)

    @property
    def dbu_shape(self):
        return signed(self.p.dtu_fmt.width + self.p.b_fmt.width)

    @property
    def dbu_terms(self) -> int:
        """Terms of dtu * B as the state update registers them (``ProductTerms``)."""
        return term_count(shape_of(self.p.dtu_fmt), shape_of(self.p.b_fmt), self.p.multipliers)

    @property
    def dah_shape(self):
        """dA * h (dA unsigned, hence the extra bit)."""
        return signed(self.p.dam_fmt.width + self.p.state_fmt.width + 1)

    @property
    def acc_shape(self):
        """The exact C . h sum over the N states."""
        return signed(self.p.acc_width)

    @property
    def du_shape(self):
        """D * u."""
        return signed(self.p.d_fmt.width + self.p.u_fmt.width)

    @property
    def du_round_shape(self):
        """D * u rounded to y_fmt's fraction, unsaturated (registered before the sum)."""
        return signed(self.p.d_fmt.width + self.p.u_fmt.width + 1)

    @property
    def out_prod_shape(self):
        """yd * g."""
        return signed(self.p.y_fmt.width + self.p.g_fmt.width + 1)

    def products(self) -> dict[str, tuple[int, int, int]]:
        """Every multiplier of the datapath: name -> (signed width of each operand, instances
        per unit). An unsigned operand takes one bit more as a signed multiplier input."""
        p = self.p

        def w(fmt):
            return fmt.width + (0 if fmt.signed else 1)
        per_lane = p.lanes
        prods = {"dt*A": (w(p.dt_fmt), w(p.a_fmt), p.exp_lanes),
                 "dt*u": (w(p.dt_fmt), w(p.u_fmt), 1),
                 "dtu*B": (w(p.dtu_fmt), w(p.b_fmt), per_lane),
                 "dA*h": (w(p.dam_fmt), w(p.state_fmt), per_lane),
                 "C*h": (w(p.c_fmt), w(p.state_fmt), per_lane),
                 "D*u": (w(p.d_fmt), w(p.u_fmt), 1)}
        if p.gate:
            prods["yd*g"] = (w(p.y_fmt), w(p.g_fmt), 1)
        return prods

    @property
    def d_bits(self) -> int:
        return index_bits(self.p.d_inner)

    @property
    def k_bits(self) -> int:
        return index_bits(self.p.steps)

    @property
    def head_bits(self) -> int:
        return index_bits(self.p.n_heads)

    @property
    def a_words(self) -> int:
        """Words of each A memory: (channel, step) in Mamba-1, head in Mamba-2 (>= 2)."""
        p = self.p
        return max(2, p.d_inner * p.steps if p.mode == "mamba1" else p.n_heads)

    @property
    def state_words(self) -> int:
        """Words of each lane's state memory (>= 2: a one-entry memory has no address bits)."""
        return max(2, self.p.d_inner * self.p.steps)

    # --- side bands: what each engine carries beside its lookups -----------------------------
    @property
    def queued_bc(self) -> bool:
        """Whether B and C wait per token in ``TokenQueue``s (P = N: a channel is one step) rather
        than ride beside each item, the step's P words of each, through the softplus, dt and exp
        stages and the state update. Queued, they cost one memory word per token in flight instead
        of P words per register stage (at P = 16 half the unit's flip-flops). With N/P steps a
        channel, the step's words would be picked from the token's N by a mux in front of every
        dtu*B and C*h multiplier, which no DSP input register can absorb; there P words a stage
        are few, and they stay in the side band."""
        return self.p.steps == 1

    def _step_slice(self) -> dict:
        if self.queued_bc:
            return {}
        P = self.p.lanes
        return {"B": data.ArrayLayout(shape_of(self.p.b_fmt), P),
                "C": data.ArrayLayout(shape_of(self.p.c_fmt), P)}

    @property
    def softplus_side(self) -> data.StructLayout:
        """Front -> dt stage: the item, the step's B and C (unless ``queued_bc``), the flag so far."""
        p = self.p
        return data.StructLayout({
            "d": self.d_bits, "k": self.k_bits, "head": self.head_bits, "first": 1, "last": 1,
            "u": shape_of(p.u_fmt), "z": shape_of(p.z_fmt), **self._step_slice(), "flag": FLAG_BITS})

    @property
    def exp_side(self) -> data.StructLayout:
        """dt stage -> state update: as the softplus side, with dt*u in place of the head."""
        p = self.p
        return data.StructLayout({
            "d": self.d_bits, "k": self.k_bits, "first": 1, "last": 1, "dtu": shape_of(p.dtu_fmt),
            "u": shape_of(p.u_fmt), "z": shape_of(p.z_fmt), **self._step_slice(), "flag": FLAG_BITS})

    @property
    def silu_side(self) -> data.StructLayout:
        """C . h reduction -> output stage: one item per channel."""
        return data.StructLayout({"acc": self.acc_shape, "d": self.d_bits,
                                  "u": shape_of(self.p.u_fmt), "flag": FLAG_BITS})

    @property
    def lanes_layout(self) -> data.StructLayout:
        """State update -> C . h reduction: the step's new states (and C, unless ``queued_bc``)."""
        p = self.p
        c = {} if self.queued_bc else {"C": self._step_slice()["C"]}
        return data.StructLayout({
            "k": self.k_bits, "last": 1, "d": self.d_bits, "u": shape_of(p.u_fmt),
            "z": shape_of(p.z_fmt), "flag": FLAG_BITS,
            "h": data.ArrayLayout(shape_of(p.state_fmt), p.lanes), **c})

    def engine_in(self, which: str, side) -> data.StructLayout:
        """Payload of the ``TaggedEngine`` input of ``which`` carrying ``side``."""
        ep = engine_params(self.p, which)
        return data.StructLayout({"x": data.ArrayLayout(ep.in_width, ep.lanes), "side": side})

    def engine_out(self, which: str, side) -> data.StructLayout:
        ep = engine_params(self.p, which)
        return data.StructLayout({"y": data.ArrayLayout(ep.out_width, ep.lanes), "side": side})
