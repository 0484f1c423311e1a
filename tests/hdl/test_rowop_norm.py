"""The norm unit's RTL (``hdl/rowop/norm.py``) in the Amaranth simulator against the bit-exact
golden model ``norm_eval``: RMSNorm and LayerNorm, both output modes, int16 and int8 presets
(small n_max, and int16 at 4096), random rows of random lengths (1 and n_max included), all-zero
rows, rows of equal values, outlier channels, extreme codes, rounding ties, random input gaps and
random output back-pressure, a weight reload between rows; every output beat compared bit-exactly
(value, ``last`` and the row fields), and the cycle counts of the docstring."""
import numpy as np
import pytest
from amaranth.back import verilog
from amaranth.hdl import Shape
from amaranth.sim import Simulator

from nlihw.hdl.rowop.norm import Norm, output_layout
from nlihw.hdl.rowop.params import norm_preset
from nlihw.sim.rowop.golden import norm_eval
from nlihw.sim.rowop.stimulus import norm_weights as make_weights
from tests.support.stream_consumer import consumer

SEED = 20261207
N_MAX = {"int16": 32, "int8": 16}


def make_rows(p, rng, n_random):
    """x rows: the edge cases first, then ``n_random`` random rows."""
    f, n = p.in_fmt, p.n_max
    lo, hi = f.min_raw, f.max_raw
    one = 1 << f.frac_bits

    def rand_x(size, scale):
        return np.clip(np.rint(rng.normal(0, scale * one, size)), lo, hi).astype(np.int64)

    outliers = rand_x(n, 0.5)
    outliers[rng.choice(n, min(3, n), replace=False)] = [hi, lo, hi // 2][:min(3, n)]
    rows = [
        rand_x(1, 2),                                   # length 1
        np.array([lo]),                                 # length 1, the largest x^2
        rand_x(n, 2),                                   # length n_max
        np.zeros(n, np.int64),                          # all zero, n_max
        np.zeros(3, np.int64),                          # all zero, short
        np.full(n, int(rng.integers(lo, hi))),          # equal values
        np.full(7, lo),                                 # equal, all at the minimum
        np.full(5, hi),                                 # equal, all at the maximum
        outliers,                                       # outlier channels
        np.array([hi, lo] * max(1, n // 2))[:n],       # extremes alternating
        np.r_[np.full(6, 1), [hi]],                     # one outlier among tiny values
        np.array([1, -1, 0, 1]),                        # tiny values: v near eps
    ]
    rows = [x[:n] for x in rows]                        # small n_max: cut
    for _ in range(n_random):
        ln = int(rng.integers(1, n + 1))
        rows.append(rand_x(ln, float(rng.choice([0.01, 0.1, 1.0, 4.0, 30.0]))))
    return rows


def run(dut, items, *, gap, stall, seed):
    """Drive ``items`` ((``"cfg"``, [(addr, w, b)]) or (``"row"``, [(x, last)])) in order through
    ``dut``; (output beats as dicts, input transfer cycles, output transfer cycles)."""
    p = dut.params
    n_out = sum(len(b) for kind, b in items if kind == "row")
    got, t_in, t_out = [], [], []
    rng_in, rng_out = np.random.default_rng([seed, 1]), np.random.default_rng([seed, 2])
    limit = int(3 * n_out * (2 + dut.row_cycles(1)) / ((1 - gap) * (1 - stall))) + 2000
    limit += 3 * sum(len(b) for kind, b in items if kind == "cfg")

    async def send(ctx, port, payload, cycle):
        while rng_in.random() < gap:
            ctx.set(port.valid, 0)
            await ctx.tick()
            cycle += 1
        ctx.set(port.payload, payload)
        ctx.set(port.valid, 0)
        r0 = ctx.get(port.ready)
        ctx.set(port.valid, 1)
        assert ctx.get(port.ready) == r0, f"ready depends on valid at cycle {cycle}"
        while True:
            _, _, ready = await ctx.tick().sample(port.ready)
            cycle += 1
            if ready:
                ctx.set(port.valid, 0)
                return cycle

    async def producer(ctx):
        cycle = 0
        for kind, beats in items:
            for beat in beats:
                if kind == "cfg":
                    a, w, b = beat
                    pay = {"addr": a, "w": w, **({"b": b} if p.kind == "layer" else {})}
                    cycle = await send(ctx, dut.cfg, pay, cycle)
                else:
                    cycle = await send(ctx, dut.i, {"x": beat[0], "last": beat[1]}, cycle)
                    t_in.append(cycle - 1)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(producer)
    drain = dut.row_cycles(max(len(b) for kind, b in items if kind == "row"))
    sim.add_testbench(consumer(dut.o, n_out, stall=stall, rng=rng_out, limit=limit, drain=drain,
                               got=got, t_out=t_out))
    sim.run()
    return got, t_in, t_out


def row_beats(x):
    return [(int(v), int(j == len(x) - 1)) for j, v in enumerate(x)]


def cfg_beats(w, b, chans):
    return [(int(a), int(w[a]), int(b[a])) for a in chans]


def expected(p, rows, w, b):
    """norm_eval over the rows, padded to n_max with zeros and given their lengths."""
    x = np.zeros((len(rows), p.n_max), np.int64)
    for k, xr in enumerate(rows):
        x[k, :len(xr)] = xr
    return norm_eval(p, x, w, b if p.kind == "layer" else None,
                     lengths=np.array([len(xr) for xr in rows]))


def hx(v, bits):
    """A code in hex, two's complement in ``bits`` bits when negative."""
    v = int(v)
    return f"0x{v & ((1 << bits) - 1):0{(bits + 3) // 4}x}" if v < 0 else f"0x{v:x}"


def check(p, groups, got):
    """Every beat against the model, ``groups`` = [(rows, w, b)] in order; the first mismatches
    named by row, element, input, expected and actual (hex)."""
    wx = p.in_fmt.width
    width = {f: Shape.cast(fl.shape).width for f, fl in output_layout(p)}
    assert len(got) == sum(len(x) for rows, _, _ in groups for x in rows)
    bad, pos, k0 = [], 0, 0
    for rows, w, b in groups:
        ref = expected(p, rows, w, b)
        for k, xr in enumerate(rows):
            for j in range(len(xr)):
                beat, last = got[pos], j == len(xr) - 1
                pos += 1
                want = {"last": int(last)}
                if p.output_mode == "deferred":    # x echoed; row fields held on every beat
                    want.update(x=int(xr[j]), scale=int(ref.scale[k]), k=int(ref.k[k]))
                    if p.kind == "layer":
                        want["mean"] = int(ref.mean[k])
                else:
                    want["y"] = int(ref.out[k, j])
                    if last:
                        want["sat"] = int(ref.sat[k])
                for f, v in want.items():
                    if beat[f] != v:
                        bad.append(f"row {k0 + k} element {j}: x={hx(xr[j], wx)} {f}: "
                                   f"expected {hx(v, width[f])}, got {hx(beat[f], width[f])}")
        k0 += len(rows)
    assert not bad, f"{len(bad)} mismatches ({p.kind}, {p.output_mode}):\n" + "\n".join(bad[:10])


def scenario(p, seed, n_random, *, reload=True):
    """(items, groups): weights loaded, the rows, then (``reload``) half the channels reloaded
    and more rows."""
    rng = np.random.default_rng(seed)
    rows = make_rows(p, rng, n_random)
    w1, b1 = make_weights(p, rng)
    cfg = p.output_mode == "normalized"
    items = [("cfg", cfg_beats(w1, b1, range(p.n_max)))] if cfg else []
    cut = len(rows) // 2 if reload else len(rows)
    items += [("row", row_beats(x)) for x in rows[:cut]]
    groups = [(rows[:cut], w1, b1)]
    if reload:
        w2, b2 = make_weights(p, rng)
        chans = rng.permutation(p.n_max)[:max(1, p.n_max // 2)]
        w2m, b2m = w1.copy(), b1.copy()
        w2m[chans], b2m[chans] = w2[chans], b2[chans]
        if cfg:
            items.append(("cfg", cfg_beats(w2m, b2m, chans)))
        items += [("row", row_beats(x)) for x in rows[cut:]]
        groups.append((rows[cut:], w2m, b2m))
    return items, groups


@pytest.mark.parametrize("preset", ["int16", "int8"])
@pytest.mark.parametrize("kind", ["rms", "layer"])
@pytest.mark.parametrize("mode", ["normalized", "deferred"])
@pytest.mark.parametrize("gap, stall", [(0.0, 0.0), (0.3, 0.6)])
def test_bit_exact_against_golden(preset, kind, mode, gap, stall):
    p = norm_preset(preset, kind, n_max=N_MAX[preset], output_mode=mode)
    seed = SEED + 7 * (preset == "int8") + 3 * (mode == "deferred") + 5 * (kind == "layer") \
        + int(10 * gap)
    print(f"seed {seed}")
    items, groups = scenario(p, seed, 16)
    got, _, _ = run(Norm(p), items, gap=gap, stall=stall, seed=seed)
    check(p, groups, got)
    if mode == "normalized" and kind == "layer":          # rms: |y| <= sqrt(n_max) max|w|
        assert any(expected(p, *g).sat.any() for g in groups), "no saturation exercised"


@pytest.mark.parametrize("preset", ["int16", "int8"])
def test_rms_saturation(preset):
    """RMSNorm saturates only where sqrt(n) max|w| > max y: a lone outlier among n ~ n_max
    zeros at the largest weights (n_max 128; int16 with w s5.11, |w| < 16)."""
    p = norm_preset(preset, "rms", n_max=128, **({"w_fmt": "s5.11"} if preset == "int16" else {}))
    rng = np.random.default_rng(SEED + 1)
    w, b = make_weights(p, rng)
    w[:8] = [p.w_fmt.max_raw, p.w_fmt.min_raw] * 4
    n, lo, hi = p.n_max, p.in_fmt.min_raw, p.in_fmt.max_raw
    rows = [np.r_[[hi], np.zeros(n - 1, np.int64)], np.r_[[0, lo], np.zeros(n - 2, np.int64)],
            np.r_[[5, -7, hi // 3], np.zeros(n - 40, np.int64)], np.array([lo, 3])]
    items = [("cfg", cfg_beats(w, b, range(n)))] + [("row", row_beats(x)) for x in rows]
    got, _, _ = run(Norm(p), items, gap=0.1, stall=0.3, seed=SEED)
    check(p, [(rows, w, b)], got)
    sat = expected(p, rows, w, b).sat
    assert sat[0] and sat[1] and not sat[3]


def ties(p, ref):
    """(tie with an even, tie with an odd result before rounding) per step-8 product."""
    z = ref.stages["j"] if p.kind == "layer" else 0
    sh = (p.in_fmt.frac_bits + p.scale_fmt.frac_bits + p.w_fmt.frac_bits - p.out_fmt.frac_bits
          + ref.k + z)[:, None]
    prod = ref.stages["prod"]
    tie = (prod & ((1 << sh) - 1)) == 1 << (sh - 1)
    odd = ((prod >> sh) & 1) == 1                   # b 2^(F_out - F_b) is even when F_b < F_out
    return tie & ~odd, tie & odd


def tie_rows(p, w, b, rng, tries=4000):
    """Rows (found among random short rows of small multiples of powers of two by the model)
    whose step-8 rounding meets an exact tie with an even and with an odd result."""
    n = min(8, p.n_max)
    x = rng.integers(-8, 9, (tries, n)) << rng.integers(0, 4, (tries, 1))
    lengths = rng.integers(1, n + 1, tries)
    xp = np.zeros((tries, p.n_max), np.int64)
    xp[:, :n] = x
    ref = norm_eval(p, xp, w, b if p.kind == "layer" else None, lengths=lengths)
    even, odd = ties(p, ref)
    pick = (np.flatnonzero(even.any(axis=1))[:2].tolist()
            + np.flatnonzero(odd.any(axis=1))[:2].tolist())
    return [x[k, :lengths[k]] for k in pick]


@pytest.mark.parametrize("kind", ["rms", "layer"])
@pytest.mark.parametrize("rounding", ["nearest-even", "nearest-away", "toward-zero", "floor"])
def test_roundings_and_ties(kind, rounding):
    """A finer out_fmt (s4.12: step-8 shifts from 2) and weights that are powers of two make exact
    ties reachable; every rounding of ``params.rounding`` on them and on random rows."""
    p = norm_preset("int8", kind, n_max=8, out_fmt="s4.12", rounding=rounding)
    seed = SEED + 13 + len(rounding)
    rng = np.random.default_rng(seed)
    w, b = make_weights(p, rng)
    w = rng.choice([-1, 1], p.n_max) << rng.integers(0, p.w_fmt.width - 1, p.n_max)
    rows = tie_rows(p, w, b, rng) + make_rows(p, rng, 20)
    items = [("cfg", cfg_beats(w, b, range(p.n_max)))] + [("row", row_beats(x)) for x in rows]
    got, _, _ = run(Norm(p), items, gap=0.1, stall=0.2, seed=seed)
    check(p, [(rows, w, b)], got)
    even, odd = ties(p, expected(p, rows, w, b))
    assert even.any() and odd.any(), "no rounding ties of both parities exercised"


@pytest.mark.parametrize("n_max", [1, 2, 20])
@pytest.mark.parametrize("kind", ["rms", "layer"])
def test_small_and_odd_n_max(n_max, kind):
    """Buffers of one and two words, and a length that is not a power of two."""
    p = norm_preset("int8", kind, n_max=n_max)
    seed = SEED + n_max
    items, groups = scenario(p, seed, 10)
    got, _, _ = run(Norm(p), items, gap=0.2, stall=0.3, seed=seed)
    check(p, groups, got)


def test_overlong_row_is_cut_at_n_max():
    """A row longer than n_max (no ``last`` by its n_max-th element) ends there; the rest is a
    row of its own."""
    p = norm_preset("int8", "layer", n_max=4)
    rng = np.random.default_rng(SEED)
    w, b = make_weights(p, rng)
    x = [5, -3, 17, 0, 9, 1]
    items = [("cfg", cfg_beats(w, b, range(4))), ("row", row_beats(np.array(x)))]
    got, _, _ = run(Norm(p), items, gap=0.0, stall=0.3, seed=SEED)
    check(p, [([np.array(x[:4]), np.array(x[4:])], w, b)], got)


@pytest.mark.parametrize("kind", ["rms", "layer"])
def test_full_size_n_max(kind):
    """The int16 preset at its n_max of 4096 (the widest registers: N 57 bits, c g w 63 bits for
    layer): short rows and one of 700 elements (j = 9); only the channels used are loaded."""
    p = norm_preset("int16", kind, n_max=4096)
    rng = np.random.default_rng(SEED + 4096)
    w, b = make_weights(p, rng)
    lo, hi = p.in_fmt.min_raw, p.in_fmt.max_raw
    rows = [np.array([lo]), np.array([hi, lo, 3]), rng.integers(lo, hi + 1, 700),
            np.r_[np.full(40, hi), [lo]], rng.integers(-300, 300, 9)]
    items = [("cfg", cfg_beats(w, b, range(700)))] + [("row", row_beats(x)) for x in rows]
    got, _, _ = run(Norm(p), items, gap=0.05, stall=0.1, seed=SEED)
    wp = np.zeros(p.n_max, np.int64)
    bp = np.zeros(p.n_max, np.int64)
    wp[:700], bp[:700] = w[:700], b[:700]
    check(p, [(rows, wp, bp)], got)


@pytest.mark.parametrize("kind", ["rms", "layer"])
def test_cycles_per_row(kind):
    """No gaps, no back-pressure: each row takes row_cycles(n), its first output
    first_out_latency(n) after its last input."""
    p = norm_preset("int8", kind, n_max=16)
    dut = Norm(p)
    lengths = [1, 16, 5, 2]
    rng = np.random.default_rng(SEED)
    rows = [rng.integers(-50, 50, n) for n in lengths]
    w, b = make_weights(p, rng)
    items = [("cfg", cfg_beats(w, b, range(16)))] + [("row", row_beats(x)) for x in rows]
    got, t_in, t_out = run(dut, items, gap=0.0, stall=0.0, seed=SEED)
    check(p, [(rows, w, b)], got)
    first = np.cumsum([0] + lengths)
    for k, n in enumerate(lengths):
        a, e = first[k], first[k + 1]
        assert t_in[e - 1] - t_in[a] == n - 1                     # one element per clock
        assert t_out[a] - t_in[e - 1] == dut.first_out_latency(n)
        assert t_out[e - 1] - t_out[a] == n - 1
        if k + 1 < len(lengths):
            assert t_in[e] - t_in[a] == dut.row_cycles(n)


@pytest.mark.parametrize("kind", ["rms", "layer"])
@pytest.mark.parametrize("mode", ["normalized", "deferred"])
def test_verilog_is_deterministic(kind, mode):
    """The same params give byte-identical Verilog, with the stream ports of the signature."""
    p = norm_preset("int8", kind, n_max=16, output_mode=mode)
    a, b = (verilog.convert(Norm(p), name=p.top_name, emit_src=False) for _ in range(2))
    assert a == b
    ports = ["i__payload", "i__valid", "i__ready", "o__payload", "o__valid", "o__ready"]
    if mode == "normalized":
        ports += ["cfg__payload", "cfg__valid", "cfg__ready"]
    for port in ports:
        assert port in a
