"""NLIEngine: the NLI datapath of the golden model (luts/golden.py) as a streaming component.

Interface (``lib.stream``, initiation interval 1, full back-pressure):

- ``i``: payload ``{x: lanes x in_width, func: func_bits}``, lane 0 in the LSBs; ``func`` values
  past the last table select the last table.
- ``o``: payload ``lanes x out_width``.
- ``w`` (``storage="ram"`` only, always ready): ``{addr, data}`` writes into the reload address map
  of ``NLIEngineParams.config_writes``. Write only while the pipeline is drained. Reset clears the
  pipeline but keeps the loaded tables (registers are reset-less; memories are never reset).

Every register advances on ``advance = ~o.valid | o.ready`` (a stalled output freezes the whole
pipeline), so ``i.ready`` = ``advance`` and ``o.valid`` never depends on ``o.ready``.
Latency: ``params.latency`` cycles from an input transfer to its output transfer.

The format objects decide the datapath: a float input puts its conversion stage (``FloatInput``:
order key, position, NaN flag) before the search, which then compares keys and forms dx on
positions; a float output stores block mantissas and exponents and rounds into the format
(``InterpolationMAC`` with ``FloatRound``). A fixed-point side is built exactly as before.

``params.pipeline`` enables optional register points (see ``ENGINE_PIPELINE`` in params.py) inside
the search, micro-bin, storage and MAC units; each adds one cycle to the latency and the side band
(func, class, NaN flag, the x the tails need, clamps, exponent) is delayed to match.
"""
from __future__ import annotations

from amaranth.hdl import Const, Module, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from nlihw.luts.layout import MicroStep
from nlihw.hdl.common.mux_table import select
from nlihw.hdl.common.fixed_point import shape_of
from .comparator_tree import ComparatorTree
from .direct_address import DirectAddress
from .interpolation_mac import InterpolationMAC
from .exponent_search import ExponentSearch
from .float_input import FloatInput, order_key
from .micro_bin import MicroBin
from .params import NLIEngineParams
from .table_storage import TableStorage
from .tail_unit import TailUnit
from .uniform_search import UniformSearch


def input_layout(params: NLIEngineParams) -> data.StructLayout:
    return data.StructLayout({"x": data.ArrayLayout(params.in_width, params.lanes),
                              "func": params.func_bits})


def output_layout(params: NLIEngineParams) -> data.ArrayLayout:
    return data.ArrayLayout(params.out_width, params.lanes)


def write_layout(params: NLIEngineParams) -> data.StructLayout:
    return data.StructLayout({"addr": params.config_addr_bits, "data": params.config_data_bits})


class NLIEngine(wiring.Component):
    """The engine of ``params`` (``NLIEngineParams``): one ``i`` beat in, one ``o`` beat out
    ``params.latency`` cycles later (see the module docstring for the handshake).

    Members:

    - ``i``: In(stream.Signature(input_layout(params))), payload ``{x: lanes x in_width, func}``.
    - ``o``: Out(stream.Signature(output_layout(params))), payload ``lanes x out_width``.
    - ``w``: In(stream.Signature(write_layout(params))), ``storage="ram"`` only: ``{addr, data}``
      writes into the reload address map (always ready).
    """

    def __init__(self, params: NLIEngineParams):
        self.params = params
        ports = {
            "i": In(stream.Signature(input_layout(params))),
            "o": Out(stream.Signature(output_layout(params))),
        }
        if params.storage == "ram":
            # always ready, but not declared always_ready: a Const port cannot be emitted as Verilog
            ports["w"] = In(stream.Signature(write_layout(params)))
        super().__init__(ports)

    def _config(self, m):
        """Per-function cutpoints, mul, shift, clamps: constants (rom) or writable registers (ram)."""
        p, lay = self.params, self.params.layout
        fin, fout = lay.in_fmt, lay.out_fmt
        ram = p.storage == "ram"

        def value(v, shape, name):
            if not ram:
                return Const(v, shape)
            # reset clears the pipeline, not the tables: reset_less keeps a reloaded table intact
            return Signal(shape, init=v, name=name, reset_less=True)

        if p.arch == "direct":
            return None, None, None, [], []
        self._cut_pos = self._exps = None
        extra = {}                                  # float-only reloadable fields (ram)
        if lay.in_float:
            # float input: the cutpoint codes give the comparators' keys (a constant, or the
            # order key of a code register); dx is formed on the cutpoints' positions mod 2^W
            W = lay.dx_bits
            codes = [[value(int(c), unsigned(fin.width), f"cut_f{f}_{j}") for j, c in enumerate(t.cutpoints)]
                     for f, t in enumerate(p.tables)]
            cut = [[order_key(c, fin) if ram else Const(int(lay.key(c.value)), unsigned(fin.width))
                    for c in row] for row in codes]
            self._cut_pos = [[value(int(c) & ((1 << W) - 1), unsigned(W), f"pos_f{f}_{j}")
                              for j, c in enumerate(lay.position(t.cutpoints))]
                             for f, t in enumerate(p.tables)]
            extra["positions"] = self._cut_pos
        else:
            codes = cut = [[value(c, shape_of(fin), f"cut_f{f}_{j}") for j, c in enumerate(t.cutpoints)]
                           for f, t in enumerate(p.tables)] if p.arch in ("parallel", "binary") else None
        if lay.out_float:
            # float output: the block exponent of each interval
            self._exps = [[value(e, signed(lay.exp_bits), f"exp_f{f}_{j}") for j, e in enumerate(t.exponents)]
                          for f, t in enumerate(p.tables)]
            extra["exponents"] = self._exps
        if lay.micro_step is MicroStep.MUL:
            mul = [[value(x, unsigned(lay.mul_bits), f"mul_f{f}_{j}") for j, x in enumerate(t.mul)]
                   for f, t in enumerate(p.tables)]
        else:
            mul = None
        shift = [[value(x, unsigned(lay.shift_bits), f"shift_f{f}_{j}") for j, x in enumerate(t.shift)]
                 for f, t in enumerate(p.tables)]
        clamp_lo = [value(int(fout.to_bits(t.clamp_lo)), unsigned(fout.width), f"clamp_lo_f{f}")
                    for f, t in enumerate(p.tables)]
        clamp_hi = [value(int(fout.to_bits(t.clamp_hi)), unsigned(fout.width), f"clamp_hi_f{f}")
                    for f, t in enumerate(p.tables)]
        if ram:
            self._write_decoder(m, codes, mul, shift, clamp_lo, clamp_hi, extra)
        return cut, mul, shift, clamp_lo, clamp_hi

    def _write_decoder(self, m, cut, mul, shift, clamp_lo, clamp_hi, extra):
        p, off = self.params, self.params.config_fields()
        addr, wdata = self.w.payload.addr, self.w.payload.data
        for f in range(p.n_funcs):
            base = f * p.config_stride
            regs = [(off["cutpoints"] + j, r) for j, r in enumerate(cut[f])]
            if mul is not None:
                regs += [(off["mul"] + j, r) for j, r in enumerate(mul[f])]
            regs += [(off["shift"] + j, r) for j, r in enumerate(shift[f])]
            regs += [(off["clamp_lo"], clamp_lo[f]), (off["clamp_hi"], clamp_hi[f])]
            for name, table in extra.items():
                regs += [(off[name] + j, r) for j, r in enumerate(table[f])]
            for a, reg in regs:
                with m.If(self.w.valid & (addr == base + a)):
                    m.d.sync += reg.eq(wdata[:len(reg)])

    def elaborate(self, platform):
        m = Module()
        p = self.params
        config = self._config(m)
        advance = self._valid_chain(m)
        func = self._func_select(m)
        writes = self._value_writes(m) if p.storage == "ram" else ()
        # a float input: func waits beside the FloatInput stage
        func_s = self._delay(m, advance, func, 1, "func") if p.layout.in_float else func
        copies = self._tables(m, *writes)
        for lane in range(p.lanes):
            # lane -> (copy, port): table_ports lanes share a copy, one read port each
            st, port = copies[lane // p.table_ports], lane % p.table_ports
            mac = InterpolationMAC(p)
            m.submodules[f"mac{lane}"] = mac
            m.d.comb += [st.en[port].eq(advance), mac.en.eq(advance), mac.y0.eq(st.y0[port]),
                         mac.y1.eq(st.y1[port]), self.o.payload[lane].eq(mac.y)]
            if p.arch == "direct":
                # full LUT: t = 0 and the end entries are the clamps, so y = v[clip(x - c0)]
                da = DirectAddress(p)
                m.submodules[f"address{lane}"] = da
                m.d.comb += [da.en.eq(advance), da.x.eq(self.i.payload.x[lane]), da.func.eq(func),
                             st.addr[port].eq(da.addr), mac.t.eq(0), mac.cls.eq(0)]
            else:
                self._search_lane(m, lane, advance, func_s, st.addr[port], mac, config)
        return m

    def _valid_chain(self, m):
        """The ``advance`` signal (``i.ready``) and the valid bits of the ``latency`` stages."""
        p = self.params
        advance = Signal()
        m.d.comb += [advance.eq(~self.o.valid | self.o.ready), self.i.ready.eq(advance)]
        valid = [Signal(name=f"valid_s{k}") for k in range(p.latency)]
        with m.If(advance):
            m.d.sync += valid[0].eq(self.i.valid)
            m.d.sync += [valid[k].eq(valid[k - 1]) for k in range(1, p.latency)]
        m.d.comb += self.o.valid.eq(valid[-1])
        return advance

    def _func_select(self, m):
        """The input's ``func``, values past the last table selecting the last table."""
        p = self.params
        func = Signal(p.func_bits)
        m.d.comb += func.eq(self.i.payload.func)
        if (1 << p.func_bits) > p.n_funcs:
            with m.If(self.i.payload.func >= p.n_funcs):
                m.d.comb += func.eq(p.n_funcs - 1)
        return func

    def _value_writes(self, m):
        """(write enable, value address) of the ``w`` port's writes into the table values (ram):
        global value address = f * n_values + k for offsets k below n_values."""
        p, lay = self.params, self.params.layout
        we = Signal()
        waddr = Signal(max(1, (p.total_values - 1).bit_length()))
        off_mask = p.config_stride - 1
        f_of = self.w.payload.addr >> (p.config_stride.bit_length() - 1)
        k_of = self.w.payload.addr & off_mask
        m.d.comb += [we.eq(self.w.valid & (k_of < lay.n_values) & (f_of < p.n_funcs)),
                     waddr.eq(f_of * lay.n_values + k_of)]
        m.d.comb += self.w.ready.eq(1)
        return we, waddr

    @staticmethod
    def _delay(m, advance, sig, n, name):
        """``sig`` through ``n`` registers stepped by ``advance``."""
        for k in range(n):
            r = Signal.like(sig, name=f"{name}_d{k}", reset_less=True)
            with m.If(advance):
                m.d.sync += r.eq(sig)
            sig = r
        return sig

    def _search_lane(self, m, lane, advance, func_s, addr, mac, config):
        """One lane's float input stage, macro-interval search and micro-bin unit, feeding the
        table address ``addr`` and the MAC's t, class, clamps (or tails) and exponent."""
        p, lay = self.params, self.params.layout
        cut, mul, shift, clamp_lo, clamp_hi = config
        fl_in = lay.in_float
        if p.arch == "uniform":
            search = ExponentSearch(p) if lay.in_float else UniformSearch(p)
        else:
            search = ComparatorTree(p, cut, self._cut_pos)
        mb = MicroBin(p, mul, shift, self._exps)
        m.submodules[f"search{lane}"] = search
        m.submodules[f"micro{lane}"] = mb
        m.d.comb += [
            search.en.eq(advance), mb.en.eq(advance), search.func.eq(func_s),
            mb.index.eq(search.index), mb.dx.eq(search.dx), mb.func.eq(search.func_out),
            addr.eq(mb.addr), mac.t.eq(mb.t), mac.cls.eq(mb.cls),
        ]
        if fl_in:
            # float input: key and position in one register stage, the NaN flag beside the search
            fi = FloatInput(lay)
            m.submodules[f"float_in{lane}"] = fi
            m.d.comb += [fi.en.eq(advance), fi.x.eq(self.i.payload.x[lane]),
                         search.x.eq(fi.key), search.pos.eq(fi.pos),
                         mb.nan.eq(self._delay(m, advance, fi.nan, p.search_latency, f"nan_l{lane}"))]
        else:
            m.d.comb += search.x.eq(self.i.payload.x[lane])
        if lay.out_float:
            m.d.comb += mac.exp.eq(mb.exp)
        if any(t.tail_lo.gain or t.tail_hi.gain for t in p.tables):
            # x follows the float input, search and micro-bin stages to meet the class it
            # belongs to; the tail values then enter the output mux as clamps do
            tails = TailUnit(p, clamp_lo, clamp_hi)
            m.submodules[f"tails{lane}"] = tails
            x_d = self._delay(m, advance, self.i.payload.x[lane],
                              fl_in + p.search_latency + p.micro_latency, f"x_l{lane}")
            m.d.comb += [tails.x.eq(x_d), tails.func.eq(mb.func_out),
                         mac.clamp_lo.eq(tails.lo), mac.clamp_hi.eq(tails.hi)]
        else:
            m.d.comb += [mac.clamp_lo.eq(select(clamp_lo, mb.func_out)),
                         mac.clamp_hi.eq(select(clamp_hi, mb.func_out))]

    def _tables(self, m, we=None, waddr=None):
        """The copies of the table memories, ``table_ports`` lanes to a copy (ram: every copy
        takes every write)."""
        p = self.params
        copies = []
        for c in range(p.table_copies):
            m.submodules[f"table{c}"] = st = TableStorage(p, min(p.table_ports, p.lanes - c * p.table_ports))
            copies.append(st)
            if we is not None:
                m.d.comb += [st.we.eq(we), st.waddr.eq(waddr), st.wdata.eq(self.w.payload.data)]
        return copies
