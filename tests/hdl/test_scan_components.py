"""Each component of the scan unit (hdl/scan/*.py) in the Amaranth simulator against the stage of the
golden model it implements (``scan_eval(...).stages``), with random stalls on its streams; and the
rounding shifts of ``ScanDatapath`` against values worked out by hand from the preset formats."""
import random

import numpy as np
import pytest
from amaranth.hdl import Elaboratable, Module, Signal
from amaranth.lib import memory
from amaranth.sim import Simulator

from nlihw.hdl.scan.config_port import ConfigPort
from nlihw.hdl.scan.datapath import ScanDatapath
from nlihw.hdl.scan.dot_reduce import DotReduce
from nlihw.hdl.scan.dt_stage import DtStage
from nlihw.hdl.scan.front import Front
from nlihw.hdl.scan.output_stage import OutputStage
from nlihw.hdl.scan.params import preset
from nlihw.hdl.scan.state_lane import StateLane
from nlihw.sim.scan.golden import ScanConfig, ScanInputsRaw, scan_eval

SEED = 2026


def _raw(rng, fmt, shape):
    return rng.integers(fmt.min_raw, fmt.max_raw + 1, size=shape)


def golden_run(p, T=6, seed=SEED):
    """Full-range random raw codes (many saturations) through the golden model."""
    rng = np.random.default_rng(seed)
    a_shape = (p.d_inner, p.d_state) if p.mode == "mamba1" else (p.n_heads,)
    cfg = ScanConfig(A=_raw(rng, p.a_fmt, a_shape), D=_raw(rng, p.d_fmt, p.d_inner),
                     bias=_raw(rng, p.delta_fmt, p.bias_count))
    first = rng.random((T, p.d_inner)) < 0.2
    first[0] = True
    run = ScanInputsRaw(u=_raw(rng, p.u_fmt, (T, p.d_inner)), delta=_raw(rng, p.delta_fmt, (T, p.d_inner)),
                        z=_raw(rng, p.z_fmt, (T, p.d_inner)), first=first,
                        B=_raw(rng, p.b_fmt, (T, p.d_state)), C=_raw(rng, p.c_fmt, (T, p.d_state)))
    return cfg, run, scan_eval(p, cfg, run)


class WithMemories(Elaboratable):
    """``dut`` with a synchronous-read memory behind each of its ``read_bus`` ports: ``words``
    maps the port's name to one list of words per lane (a plain list: one lane); the same
    one-cycle read as ``ConfigPort``'s block RAMs, independent of it, with ``reissue`` high in
    the first cycle (as after reset)."""

    def __init__(self, dut, words: dict):
        self.dut, self.words = dut, words

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = self.dut
        first = Signal(init=1)
        m.d.sync += first.eq(0)
        for name, lanes in self.words.items():
            bus = getattr(self.dut, name)
            m.d.comb += bus.reissue.eq(first)
            lists = lanes if isinstance(lanes[0], list) else [lanes]
            for k, w in enumerate(lists):
                data = bus.data[k] if isinstance(lanes[0], list) else bus.data
                depth = 1 << len(bus.addr)
                mem = memory.Memory(shape=data.shape(), depth=depth,
                                    init=[int(v) for v in w] + [0] * (depth - len(w)))
                m.submodules[f"{name}{k}"] = mem
                rp = mem.read_port()
                m.d.comb += [rp.addr.eq(bus.addr), rp.en.eq(bus.en), data.eq(rp.data)]
        return m


def stream_sim(dut, items, drive, collect, n_out, *, comb=None, seed=SEED, max_cycles=5000, top=None):
    """Present ``items`` on ``dut.i`` (random idles) and take ``n_out`` transfers from ``dut.o``
    (random back-pressure); ``drive(ctx, item)`` sets a payload, ``collect(ctx)`` reads one,
    ``comb(ctx, item)`` runs each cycle; ``top`` (default ``dut``) is simulated. Returns the
    collected list."""
    got = []

    async def tb(ctx):
        rng = random.Random(seed)
        k, shown = 0, False
        if top is not None:              # the memories' first read (in the unit: the engines' latency)
            await ctx.tick()
        for _ in range(max_cycles):
            if not shown and k < len(items) and rng.random() < 0.7:
                shown = True
                drive(ctx, items[k])
            ctx.set(dut.i.valid, shown)
            ctx.set(dut.o.ready, rng.random() < 0.7)
            if comb is not None and k < len(items):
                comb(ctx, items[k])
            if ctx.get(dut.o.valid) and ctx.get(dut.o.ready):
                got.append(collect(ctx))
            if shown and ctx.get(dut.i.ready):
                k, shown = k + 1, False
            await ctx.tick()
            if len(got) == n_out:
                return
        raise AssertionError(f"timeout: {len(got)} of {n_out} outputs")

    sim = Simulator(dut if top is None else top)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    return got


def _u(v, width):
    return int(v) & ((1 << width) - 1)


# --- shared constants -------------------------------------------------------------------------
# dt*A, dt*u, dtu*B, dA*h, C.h, D*u, yd*g (yd without a gate): frac bits in minus frac bits out,
# from the formats: int8 dt u4.12, A s5.3, w s5.11, u/B/C/D s4.4, dtu/h s6.18, dA u1.15, y s6.10,
# g s4.8, out s5.3; int16 dt u4.20, A s5.11, w s5.16, u/B/C/D s4.12, dtu/h s6.21, dA u1.17
# rounded to u1.16 for dA*h, y s6.12, g s4.16, out s5.11.
HAND_SHIFTS = {"int8": (12 + 3 - 11, 12 + 4 - 18, 18 + 4 - 18, 15, 4 + 18 - 10, 4 + 4 - 10, 10 + 8 - 3, 10 - 3),
               "int16": (20 + 11 - 16, 20 + 12 - 21, 21 + 12 - 21, 16, 12 + 21 - 12, 12 + 12 - 12,
                         12 + 16 - 11, 12 - 11)}
HAND_DA_SHIFT = {"int8": 15 - 15, "int16": 17 - 16}          # exp output -> dA*h operand


@pytest.mark.parametrize("name", ["int8", "int16"])
def test_shifts_by_hand(name):
    p = preset(name, d_inner=2, d_state=4)
    assert (str(p.dt_fmt), str(p.da_fmt), str(p.w_fmt), str(p.g_fmt)) == {
        "int8": ("u4.12", "u1.15", "s5.11", "s4.8"), "int16": ("u4.20", "u1.17", "s5.16", "s4.16")}[name]
    w, dtu, dbu, dah, y, du, out_g, out_n = HAND_SHIFTS[name]
    dp, dn = ScanDatapath(p), ScanDatapath(p.replace(gate=False))
    assert (dp.w_shift, dp.dtu_shift, dp.dbu_shift, dp.dah_shift, dp.y_shift, dp.du_shift,
            dp.out_shift, dn.out_shift) == (w, dtu, dbu, dah, y, du, out_g, out_n)
    assert dp.da_shift == HAND_DA_SHIFT[name]


# --- state lane -------------------------------------------------------------------------------
def _rne(v: int, s: int) -> int:
    """v / 2**s rounded to nearest, ties to even (plain integers)."""
    q, r = divmod(v, 1 << s)
    half = 1 << (s - 1)
    return q + (r > half or (r == half and q % 2 == 1))


def _lane_sim(p, vectors):
    """Drive (h, dA, dBu), the next one after each cycle with ``en`` high (``en`` random); the
    lane's (h_new, ovf) seen in every cycle, listed by the vector it should belong to."""
    dut = StateLane(p)
    delay = sum(n in p.pipeline for n in ("state_in", "state_mult", "state_add"))
    seen = []

    async def tb(ctx):
        rng = random.Random(SEED)
        n = 0                                                     # vectors taken so far
        while n < len(vectors) + delay:
            en = rng.random() < 0.7
            ctx.set(dut.en, en)
            h, da, dbu, *first = vectors[min(n, len(vectors) - 1)]
            ctx.set(dut.first, first[0] if first else 0)
            ctx.set(dut.h, h)
            ctx.set(dut.dA, da)
            # dBu as terms that sum to the product modulo 2**width (as ProductTerms gives them:
            # the fabric's rows and the block's product), split at random
            width, count = len(dut.dBu[0]), len(dut.dBu)
            terms = [rng.getrandbits(width) for _ in range(count - 1)]
            ctx.set(dut.dBu, [*terms, (dbu - sum(terms)) % (1 << width)])
            if n >= delay and n - delay < len(vectors):
                seen.append((n - delay, ctx.get(dut.h_new), ctx.get(dut.ovf)))
            await (ctx.tick() if delay else ctx.delay(1e-6))     # no registers: no clock
            n += en or not delay

    sim = Simulator(dut)
    sim.add_clock(1e-6, if_exists=True)
    sim.add_testbench(tb)
    sim.run()
    assert {j for j, *_ in seen} == set(range(len(vectors)))
    return seen


# 18x18: dtu * B (25 x 8 bits) as three terms, dA * h split between block and fabric
@pytest.mark.parametrize("pipeline, mult", [("none", "infer"), (["state_mult"], "infer"),
                                            (["state_in", "state_add"], "infer"), ("all", "infer"),
                                            ("all", "18x18"), ("none", "18x18")])
def test_state_lane_random(pipeline, mult):
    """h = sat(r(dA * h) + sat(r(dtu * B))) on full-range random operands (many saturate), dtu * B
    entering exact: dBu_shift = 18 + 4 - 18 = 4 bits for int8 (dtu s6.18, B s4.4, state s6.18)."""
    p = preset("int8", d_inner=2, d_state=4, pipeline=pipeline, multipliers=mult)
    assert ScanDatapath(p).dbu_terms == (3 if mult == "18x18" else 1)
    rng = np.random.default_rng(SEED)
    n = 200
    dbu = _raw(rng, p.dtu_fmt, n).astype(object) * _raw(rng, p.b_fmt, n).astype(object)
    vec = [tuple(map(int, v)) for v in zip(_raw(rng, p.state_fmt, n), _raw(rng, p.da_fmt, n), dbu)]
    big = p.dtu_fmt.max_raw * p.b_fmt.min_raw                    # dBu far below the state format
    vec += [(p.state_fmt.max_raw, p.da_fmt.max_raw, -big), (p.state_fmt.min_raw, p.da_fmt.max_raw, big),
            (3, 1 << 14, 0), (1, 1 << 14, 0), (0, 0, 24), (0, 0, 8), (0, 0, -8)]
    # exact ties of dA * h with an odd and an even dBu beside them (dBu = 16/16 = 1, -2)
    vec += [(h, 1 << 14, e) for h in (1, 3, 5, -1, -3) for e in (16, -32)]
    # a sequence's first item: the state read is taken as 0 (h = 0 + sat(r(dtu * B)))
    vec += [(h, da, e, 1) for h, da, e in vec[:40]]
    lo, hi = p.state_fmt.min_raw, p.state_fmt.max_raw
    want = []
    for h, da, e, *first in vec:
        h = 0 if first else h
        d = _rne(e, 4)
        dsat = min(max(d, lo), hi)
        raw = _rne(int(da) * int(h), 15) + dsat                      # da_fmt u1.15
        want.append((min(max(raw, lo), hi), int(d != dsat or not lo <= raw <= hi)))
    assert want[-53:-50] == [(2, 0), (0, 0), (0, 0)]                 # 24/16 -> 2 (tie to even), 8/16 -> 0
    assert [w for w, _ in want[-50:-40]] == [1, -2, 3, 0, 3, 0, 1, -2, -1, -4]    # 0.5 -> 0, 1.5 -> 2, ...
    for j, h_new, ovf in _lane_sim(p, vec):
        assert (h_new, ovf) == want[j], f"vector {j}: {vec[j]}"
    assert 20 < sum(o for _, o in want) < len(want) - 20              # both paths exercised


def test_state_lane_golden_recurrence():
    """The lane steps the golden model's h through a run: h[l] from h[l-1], dA[l] and dtu * B."""
    p = preset("int16", d_inner=2, d_state=4)
    _, run, res = golden_run(p, T=8)
    st = res.stages
    vec, want = [], []
    for l in range(1, 8):
        for d in range(p.d_inner):
            for n in range(p.d_state):
                h_prev = 0 if run.first[l, d] else st["h"][l - 1, d, n]
                vec.append((int(h_prev), int(st["dA"][l, d, n]), int(st["dtu"][l, d]) * int(run.B[l, n])))
                want.append(int(st["h"][l, d, n]))
    assert all(h == want[j] for j, h, _ in _lane_sim(p, vec))


# --- dt stage -------------------------------------------------------------------------------
# products split between a small DSP block and the fabric (both operands, or one) as registered terms
@pytest.mark.parametrize("mode, pipeline, mult", [("mamba1", "none", "infer"), ("mamba1", ["dta_in"], "infer"),
                                                  ("mamba1", ["dta_mult"], "infer"), ("mamba1", ["dta_round"], "infer"),
                                                  ("mamba2", "all", "infer"), ("mamba1", "all", "12x6"),
                                                  ("mamba1", ["dta_mult"], "9x9"), ("mamba1", "none", "12x6/7")])
def test_dt_stage(mode, pipeline, mult):
    """w = sat(r(dt * A)) per lane and dtu = sat(r(dt * u)), from the golden run's dt, A and u."""
    p = preset("int8", d_inner=4, d_state=4, lanes=4, mode=mode, headdim=2 if mode == "mamba2" else 1,
               pipeline=pipeline, multipliers=mult)
    cfg, run, res = golden_run(p)
    st, ev = res.stages, res.stages["events"]
    dut = DtStage(p)
    T, Dn = run.u.shape
    items = [(l, d) for l in range(T) for d in range(Dn)]

    def a_of(d):
        return [cfg.A[d, n] for n in range(p.d_state)] if mode == "mamba1" else [cfg.A[d // p.headdim]]

    def drive(ctx, it):
        l, d = it
        ctx.set(dut.i.payload.y[0], int(st["dt"][l, d]))
        ctx.set(dut.i.payload.side, {"d": d, "k": 0, "head": d // p.headdim, "first": 0, "last": 1,
                                     "u": int(run.u[l, d]), "z": 0, "flag": 0})

    def collect(ctx):
        side = dut.o.payload.side
        return ([ctx.get(dut.o.payload.x[k]) for k in range(p.exp_lanes)], ctx.get(side.dtu),
                ctx.get(side.flag), ctx.get(side.d))

    words = [[a_of(d)[k] for d in range(0, Dn, 1 if mode == "mamba1" else p.headdim)]
             for k in range(p.exp_lanes)]
    got = stream_sim(dut, items, drive, collect, len(items), top=WithMemories(dut, {"a_rd": words}))
    ww = p.w_fmt.width
    want = []
    for l, d in items:
        w = st["w"][l, d] if mode == "mamba1" else [st["w"][l, d // p.headdim]]
        want.append(([_u(x, ww) for x in w], int(st["dtu"][l, d]),
                     int(ev["w"][l, d] | ev["dtu"][l, d]), d))
    assert got == want
    assert 0 < sum(f for *_, f, _ in want) < len(want) or mode == "mamba2"


# --- C . h reduction ------------------------------------------------------------------------
# lanes 2: C comes with the item (N/P = 4 steps); lanes 8 = N: from the token queue's head.
# ecp5 / 12x6: each C * h as a DSP product and fabric rows, all lanes' terms in one sum
@pytest.mark.parametrize("pipeline, lanes, mult", [("none", 2, "infer"), (["dot_mult"], 2, "infer"),
                                                   ("none", 8, "infer"), (["dot_mult"], 8, "infer"),
                                                   (["dot_mult"], 2, "ecp5"), ("none", 8, "12x6"),
                                                   (["dot_mult", "dot_rows"], 8, "12x6"), (["dot_rows"], 2, "ecp5")])
def test_dot_reduce(pipeline, lanes, mult):
    """The exact C . h over a channel's N/P steps (the golden acc), flags ORed, z passed on."""
    p = preset("int16", d_inner=3, d_state=8, lanes=lanes, pipeline=pipeline, multipliers=mult)
    queued = ScanDatapath(p).queued_bc
    assert queued == (lanes == 8)
    _, run, res = golden_run(p)
    st = res.stages
    T, Dn, P = run.u.shape[0], p.d_inner, p.lanes
    rng = random.Random(SEED)
    items = [(l, d, k, rng.choice((0, 0, 0, 1, 2, 3))) for l in range(T) for d in range(Dn) for k in range(p.steps)]
    dut = DotReduce(p)

    def drive(ctx, it):
        l, d, k, flag = it
        ctx.set(dut.i.payload, {"k": k, "last": int(k == p.steps - 1), "d": d, "u": int(run.u[l, d]),
                                "z": int(run.z[l, d]), "flag": int(flag),
                                "h": [int(st["h"][l, d, k * P + j]) for j in range(P)]})
        if queued:
            ctx.set(dut.c_token, [int(c) for c in run.C[l]])
        else:
            ctx.set(dut.i.payload.C, [int(run.C[l, k * P + j]) for j in range(P)])

    def pops(ctx, it):               # the token's last item leaves its C behind when taken
        l, d, k, _ = it
        if queued and ctx.get(dut.i.valid) and ctx.get(dut.i.ready) and ctx.get(dut.c_pop):
            tokens.append(l)
            assert (d, k) == (Dn - 1, p.steps - 1)

    def collect(ctx):
        s = dut.o.payload.side
        return (ctx.get(s.acc), ctx.get(s.d), ctx.get(s.u), ctx.get(s.flag), ctx.get(dut.o.payload.x[0]))

    tokens = []
    got = stream_sim(dut, items, drive, collect, T * Dn, comb=pops)
    assert tokens == (list(range(T)) if queued else [])
    flags = {}
    for l, d, _, f in items:
        flags[l, d] = flags.get((l, d), 0) | f
    want = [(int(st["acc"][l, d]), d, int(run.u[l, d]), int(flags[l, d]), _u(run.z[l, d], p.z_fmt.width))
            for l in range(T) for d in range(Dn)]
    assert got == want


# --- output stage ---------------------------------------------------------------------------
# 12x6 / 5x2: D * u and yd * g as a DSP product and fabric rows, registered as terms
@pytest.mark.parametrize("gate, pipeline, mult", [(True, "none", "infer"), (True, ["du_in", "out_mult"], "infer"),
                                                  (False, ["du_mult", "out_mult"], "infer"), (False, "none", "infer"),
                                                  (True, ["du_in", "du_mult", "out_round"], "infer"),
                                                  (True, ["du_mult", "out_mult"], "12x6"), (True, "none", "5x2")])
def test_output_stage(gate, pipeline, mult):
    """out and the sticky overflow from the golden acc, g, D and u (the flags before y fed in)."""
    p = preset("int8", d_inner=4, d_state=4, gate=gate, pipeline=pipeline, multipliers=mult)
    cfg, run, res = golden_run(p, T=8)
    st, ev = res.stages, res.stages["events"]
    T, Dn = run.u.shape
    items = [(l, d) for l in range(T) for d in range(Dn)]
    dut = OutputStage(p)
    early = ev["x"] | ev["w"] | ev["dtu"] | ev["dBu"] | ev["h"]

    def drive(ctx, it):
        l, d = it
        ctx.set(dut.i.payload.y[0], _u(st["g"][l, d], p.g_fmt.width))
        ctx.set(dut.i.payload.side, {"acc": int(st["acc"][l, d]), "d": d, "u": int(run.u[l, d]),
                                     "flag": int(early[l, d]) | 2 * int(st["clamped"][l, d])})

    def collect(ctx):
        o = dut.o.payload
        return ctx.get(o.out), ctx.get(o.overflow), ctx.get(o.clamped)

    got = stream_sim(dut, items, drive, collect, len(items), top=WithMemories(dut, {"d_rd": list(cfg.D)}))
    want = [(int(res.out[l, d]), int(res.overflow[l, d]), int(res.clamped[l, d])) for l, d in items]
    assert got == want
    assert len(set(o for o, *_ in want)) > 3


# --- front ----------------------------------------------------------------------------------
@pytest.mark.parametrize("mode, pipeline", [("mamba1", "none"), ("mamba2", ["front_sum"])])
def test_front(mode, pipeline):
    """x = sat(delta + bias) per step (the golden x), the step's B and C words (N/P = 4 steps: in
    the side band), first/last, one token start per token."""
    p = preset("int8", d_inner=4, d_state=8, lanes=2, mode=mode, headdim=2 if mode == "mamba2" else 1,
               pipeline=pipeline)
    cfg, run, res = golden_run(p, T=4)
    st, ev = res.stages, res.stages["events"]
    T, Dn, P = run.u.shape[0], p.d_inner, p.lanes
    dut = Front(p)
    got, starts = [], []

    async def tb(ctx):
        rng = random.Random(SEED)
        l, d = 0, 0
        ctx.set(dut.cfg_mode, 1)                  # as ConfigPort's busy after reset: the first
        await ctx.tick()                          # bias read
        ctx.set(dut.cfg_mode, 0)
        for _ in range(3000):
            if l < T:
                ctx.set(dut.i.payload, {"u": int(run.u[l, d]), "delta": int(run.delta[l, d]),
                                        "z": int(run.z[l, d]), "first": int(run.first[l, d])})
                ctx.set(dut.bc.payload, {"B": [int(x) for x in run.B[l]], "C": [int(x) for x in run.C[l]]})
            ctx.set(dut.i.valid, l < T and rng.random() < 0.8)
            ctx.set(dut.bc.valid, l < T)
            ctx.set(dut.o.ready, rng.random() < 0.7)
            ctx.set(dut.token_room, rng.random() < 0.5)   # the queues full half the time
            if ctx.get(dut.o.valid) and ctx.get(dut.o.ready):
                s = dut.o.payload.side
                got.append((ctx.get(dut.o.payload.x[0]), ctx.get(s.d), ctx.get(s.k), ctx.get(s.first),
                            ctx.get(s.last), ctx.get(s.u), ctx.get(s.z), ctx.get(s.flag),
                            [ctx.get(s.B[j]) for j in range(P)], [ctx.get(s.C[j]) for j in range(P)]))
            if ctx.get(dut.token_start):              # the token's B and C go to their queues
                starts.append((l, d, ctx.get(dut.token_room)))
            if ctx.get(dut.i.valid) and ctx.get(dut.i.ready):
                l, d = (l, d + 1) if d + 1 < Dn else (l + 1, 0)
            await ctx.tick()
            if len(got) == T * Dn * p.steps:
                return

    sim = Simulator(WithMemories(dut, {"bias_rd": list(cfg.bias)}))
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    want = []
    for l in range(T):
        for d in range(Dn):
            x = st["x"][l, d] if mode == "mamba1" else st["x"][l, d // p.headdim]
            for k in range(p.steps):
                want.append((_u(x, p.delta_fmt.width), d, k, int(run.first[l, d]), int(k == p.steps - 1),
                             int(run.u[l, d]), int(run.z[l, d]),
                             int(ev["x"][l, d]) | 2 * int(st["clamped"][l, d]),   # bit 1: clamped
                             [int(b) for b in run.B[l, k * P:(k + 1) * P]],
                             [int(c) for c in run.C[l, k * P:(k + 1) * P]]))
    assert got == want
    assert starts == [(l, 0, 1) for l in range(T)]
    assert {w[7] & 2 for w in want} == {0, 2}          # clamped on some steps, not on all


# --- configuration port ---------------------------------------------------------------------
def test_config_port_map():
    """Writes through ``cfg`` land where the address map says (seen on the datapath's read ports)
    and read back on ``rdata``; state words a cycle later, zero-extended."""
    p = preset("int8", d_inner=2, d_state=4, lanes=2)
    dut = ConfigPort(p)
    regions = p.config_regions()
    rng = np.random.default_rng(SEED)
    writes = {}
    for name, (base, n, fmt) in regions.items():
        for i in range(n):
            writes[base + i] = (name, i, int(_raw(rng, fmt, ())))
    got_read, got_port = {}, {}

    async def tb(ctx):
        ctx.set(dut.front_idle, 1)
        for addr, (_, _, v) in writes.items():
            ctx.set(dut.cfg.payload, {"addr": addr, "data": _u(v, p.config_data_bits), "write": 1})
            ctx.set(dut.cfg.valid, 1)
            await ctx.tick().until(dut.cfg.ready)
        for addr in writes:
            ctx.set(dut.cfg.payload, {"addr": addr, "data": 0, "write": 0})
            ctx.set(dut.cfg.valid, 1)
            ctx.set(dut.rdata.ready, 1)
            await ctx.tick().until(dut.cfg.ready)
            ctx.set(dut.cfg.valid, 0)
            *_, data = await ctx.tick().sample(dut.rdata.payload).until(dut.rdata.valid)
            got_read[addr] = data
        await ctx.tick().repeat(2)
        for bus in (dut.a_rd, dut.state, dut.d_rd, dut.bias_rd):      # the datapath's side:
            ctx.set(bus.en, 1)                                          # one-cycle reads
        for d in range(p.d_inner):
            for k in range(p.steps):
                ctx.set(dut.a_rd.addr, d * p.steps + k)
                ctx.set(dut.state.addr, d * p.steps + k)
                ctx.set(dut.d_rd.addr, d)
                ctx.set(dut.bias_rd.addr, d)
                await ctx.tick()
                for j in range(p.lanes):
                    n = k * p.lanes + j
                    got_port["A", d * p.d_state + n] = ctx.get(dut.a_rd.data[j])
                    got_port["state", d * p.d_state + n] = ctx.get(dut.state.data[j])
            got_port["D", d] = ctx.get(dut.d_rd.data)
            got_port["bias", d] = ctx.get(dut.bias_rd.data)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    assert got_read == {a: _u(v, regions[name][2].width) for a, (name, _, v) in writes.items()}
    assert got_port == {(name, i): v for name, i, v in writes.values()}


# Wallace's row counts: j levels of 3:2 compressors reduce at most d_j rows to two
# (d_0 = 2, d_j+1 = floor(3 d_j / 2): 2, 3, 4, 6, 9, 13, 19, 28, 42, 63)
WALLACE = [2, 3, 4, 6, 9, 13, 19, 28, 42, 63]


def test_carry_save_levels_are_wallace_s():
    from nlihw.hdl.scan.dot_reduce import csa_levels
    for rows in range(1, 64):
        assert csa_levels(rows) == next(j for j, d in enumerate(WALLACE) if rows <= d), rows


@pytest.mark.parametrize("lanes", [1, 2, 3, 4, 6, 8, 12, 16])
@pytest.mark.parametrize("per", [1, 2, 3, 5])
def test_dot_group_balances_the_two_trees(lanes, per):
    """Brute force: the group size has the least depth of the deeper tree (g lanes' terms to two
    rows; then the groups' rows to two), the largest such size, at most LANE_GROUP lanes."""
    from nlihw.hdl.scan.datapath import LANE_GROUP
    from nlihw.hdl.scan.dot_reduce import dot_group

    def levels(rows):
        return next(j for j, d in enumerate(WALLACE) if rows <= d)
    depth = {g: max(levels(g * per), levels(2 * -(-lanes // g))) for g in range(1, min(lanes, LANE_GROUP) + 1)}
    best = min(depth.values())
    assert dot_group(lanes, per) == max(g for g, d in depth.items() if d == best)
