"""The softmax unit's RTL (``hdl/rowop/softmax.py``) in the Amaranth simulator against the bit-exact
golden model ``softmax_eval``: random rows of random lengths (1 and n_max included), masked
entries, a fully masked row, equal values, one huge element, extreme codes, int16 and int8, both
output modes, random input gaps and random output back-pressure; every output beat compared
bit-exactly (value, ``last`` and the row fields), and the cycle counts of the docstring."""
import numpy as np
import pytest
from amaranth.back import verilog
from amaranth.sim import Simulator

from nlihw.hdl.rowop.params import softmax_preset
from nlihw.hdl.rowop.softmax import Softmax
from nlihw.sim.rowop.golden import softmax_eval
from tests.support.stream_consumer import consumer

SEED = 20261207
N_MAX = {"int16": 32, "int8": 16}


def make_rows(p, rng, n_random):
    """(x, mask) rows: the edge cases first, then ``n_random`` random rows."""
    f, n = p.in_fmt, p.n_max
    lo, hi = f.min_raw, f.max_raw
    one = 1 << f.frac_bits

    def rand_x(size, scale):
        return np.clip(np.rint(rng.normal(0, scale * one, size)), lo, hi).astype(np.int64)

    rows = [
        (rand_x(1, 2), np.zeros(1, bool)),                              # length 1
        (rand_x(n, 2), np.zeros(n, bool)),                              # length n_max
        (rand_x(n, 2), rng.random(n) < 0.3),                            # n_max, masked entries
        (rand_x(5, 2), np.ones(5, bool)),                               # fully masked
        (np.ones(1, np.int64), np.ones(1, bool)),                       # fully masked, length 1
        (np.full(n, int(rng.integers(lo, hi))), np.zeros(n, bool)),     # equal values
        (np.full(7, lo), np.zeros(7, bool)),                            # equal, all at the minimum
        (np.r_[np.full(6, lo), [hi], np.full(3, lo)], np.zeros(10, bool)),  # one huge element
        (np.r_[rand_x(4, 0.5), [hi]], np.zeros(5, bool)),               # one-hot-ish
        (np.array([hi, lo, hi, lo]), np.array([1, 0, 0, 0], bool)),     # extremes, masked max
        (np.array([lo, hi]), np.array([0, 1], bool)),                   # the live one at min
    ]
    rows = [(x[:n], mk[:n]) for x, mk in rows + tie_rows(p, rng)]    # small n_max: cut
    for _ in range(n_random):
        ln = int(rng.integers(1, n + 1))
        scale = float(rng.choice([0.1, 1.0, 4.0, 30.0]))
        mask = rng.random(ln) < float(rng.choice([0.0, 0.2, 0.9]))
        rows.append((rand_x(ln, scale), mask))
    return rows


def tie_rows(p, rng, tries=4000):
    """Rows (found among random short rows by the model) whose step-7 rounding meets an exact tie
    with an even and with an odd result, so both tie rules are exercised."""
    n = min(6, p.n_max)
    x = rng.integers(-8, 9, (tries, n)) << max(0, p.in_fmt.frac_bits - 3)
    lengths = rng.integers(1, n + 1, tries)
    ref = softmax_eval(p.replace(output_mode="normalized"), x, lengths=lengths)
    even, odd = ties(p, ref)
    return [(x[k, :lengths[k]], np.zeros(lengths[k], bool))
            for k in (np.flatnonzero(even.any(axis=1))[:1].tolist()
                      + np.flatnonzero(odd.any(axis=1))[:1].tolist())]


def ties(p, ref):
    """(tie with an even, tie with an odd result before rounding) per product e r."""
    sh = (p.e_fmt.frac_bits + p.r_fmt.frac_bits - p.out_fmt.frac_bits + ref.k)[:, None]
    prod = ref.stages["prod"]
    tie = (prod > 0) & ((prod & ((1 << sh) - 1)) == 1 << (sh - 1))
    odd = ((prod >> sh) & 1) == 1
    return tie & ~odd, tie & odd


def run(dut, rows, *, gap, stall, seed, beats=None):
    """Drive ``rows`` (or the (x, mask, last) ``beats``) through ``dut``; (output beats as dicts,
    input transfer cycles, output transfer cycles)."""
    p = dut.params
    if beats is None:
        beats = [(int(x[j]), int(mk[j]), int(j == len(x) - 1))
                 for x, mk in rows for j in range(len(x))]
    got, t_in, t_out = [], [], []
    rng_in, rng_out = np.random.default_rng([seed, 1]), np.random.default_rng([seed, 2])
    base = (sum(dut.row_cycles(len(x)) for x, _ in rows) if rows is not None
            else len(beats) * dut.row_cycles(1))
    limit = int(3 * base / ((1 - gap) * (1 - stall))) + 1000      # a hang fails, and fast

    async def producer(ctx):
        cycle = 0
        for x, mk, last in beats:
            while rng_in.random() < gap:
                ctx.set(dut.i.valid, 0)
                await ctx.tick()
                cycle += 1
            ctx.set(dut.i.valid, 1)
            ctx.set(dut.i.payload, {"x": x, "mask": mk, "last": last})
            while True:
                _, _, ready = await ctx.tick().sample(dut.i.ready)
                cycle += 1
                if ready:
                    t_in.append(cycle - 1)
                    break
        ctx.set(dut.i.valid, 0)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(producer)
    sim.add_testbench(consumer(dut.o, len(beats), stall=stall, rng=rng_out, limit=limit,
                               drain=3 * p.n_max + dut.engine_latency + 10, got=got, t_out=t_out))
    sim.run()
    return got, t_in, t_out


def expected(p, rows):
    """softmax_eval over the rows, padded to n_max with masked zeros and given their lengths."""
    x = np.zeros((len(rows), p.n_max), np.int64)
    mask = np.ones((len(rows), p.n_max), bool)
    for k, (xr, mr) in enumerate(rows):
        x[k, :len(xr)], mask[k, :len(xr)] = xr, mr
    return softmax_eval(p, x, mask=mask, lengths=np.array([len(xr) for xr, _ in rows]))


def check(p, rows, got):
    """Every beat against the model: value, last, and the row fields; the first mismatches named
    by row, element, input, expected and actual (hex)."""
    ref = expected(p, rows)
    key = "p" if p.output_mode == "normalized" else "e"
    w = p.in_fmt.width
    assert len(got) == sum(len(x) for x, _ in rows)
    bad, pos = [], 0
    for k, (xr, mr) in enumerate(rows):
        for j in range(len(xr)):
            beat, last = got[pos], j == len(xr) - 1
            pos += 1
            want = {key: int(ref.out[k, j]), "last": int(last)}
            if p.output_mode == "deferred":           # held on every beat of the row
                want.update(r=int(ref.r[k]), k=int(ref.k[k]), empty=int(ref.empty[k]))
            elif last:
                want.update(empty=int(ref.empty[k]), sat=int(ref.sat[k]))
            for f, v in want.items():
                if beat[f] != v:
                    bad.append(f"row {k} element {j}: x=0x{int(xr[j]) & ((1 << w) - 1):0{w // 4}x}"
                               f" mask={int(mr[j])} {f}: expected 0x{v:x}, got 0x{beat[f]:x}")
    assert not bad, f"{len(bad)} mismatches ({p.output_mode}):\n" + "\n".join(bad[:10])


@pytest.mark.parametrize("preset", ["int16", "int8"])
@pytest.mark.parametrize("mode", ["normalized", "deferred"])
@pytest.mark.parametrize("gap, stall", [(0.0, 0.0), (0.3, 0.5), (0.05, 0.85)])
def test_bit_exact_against_golden(preset, mode, gap, stall):
    p = softmax_preset(preset, n_max=N_MAX[preset], output_mode=mode)
    seed = SEED + 7 * (preset == "int8") + 3 * (mode == "deferred") + int(10 * gap)
    print(f"seed {seed}")
    rows = make_rows(p, np.random.default_rng(seed), 50)
    got, _, _ = run(Softmax(p), rows, gap=gap, stall=stall, seed=seed)
    check(p, rows, got)
    ref = expected(p, rows)
    assert ref.empty[3] and ref.empty[4]       # the edge cases really hit the flags
    if mode == "normalized":
        assert ref.sat[7]
        assert all(t.any() for t in ties(p, ref)), "no rounding ties of both parities exercised"


@pytest.mark.parametrize("rounding", ["nearest-away", "toward-zero", "floor"])
def test_other_roundings(rounding):
    """The one rounding of step 7 follows ``params.rounding``."""
    p = softmax_preset("int8", n_max=16, rounding=rounding)
    seed = SEED + 11
    rows = make_rows(p, np.random.default_rng(seed), 30)
    got, _, _ = run(Softmax(p), rows, gap=0.1, stall=0.2, seed=seed)
    check(p, rows, got)


@pytest.mark.parametrize("n_max", [1, 2, 20])
@pytest.mark.parametrize("mode", ["normalized", "deferred"])
def test_small_and_odd_n_max(n_max, mode):
    """Buffers of one and two words, and a length that is not a power of two."""
    p = softmax_preset("int8", n_max=n_max, output_mode=mode)
    seed = SEED + n_max
    rows = make_rows(p, np.random.default_rng(seed), 20)
    got, _, _ = run(Softmax(p), rows, gap=0.2, stall=0.3, seed=seed)
    check(p, rows, got)


def test_overlong_row_is_cut_at_n_max():
    """A row longer than n_max (no ``last`` by its n_max-th element) ends there; the rest is a
    row of its own."""
    p = softmax_preset("int8", n_max=4)
    x = [5, -3, 17, 0, 9, 1]
    beats = [(v, 0, int(j == len(x) - 1)) for j, v in enumerate(x)]
    rows = [(np.array(x[:4]), np.zeros(4, bool)), (np.array(x[4:]), np.zeros(2, bool))]
    got, _, _ = run(Softmax(p), None, gap=0.0, stall=0.3, seed=SEED, beats=beats)
    check(p, rows, got)


def test_cycles_per_row():
    """No gaps, no back-pressure: each row takes row_cycles(n), its first output
    first_out_latency(n) after its last input."""
    p = softmax_preset("int8", n_max=16)
    dut = Softmax(p)
    lengths = [1, 16, 5, 2]
    rng = np.random.default_rng(SEED)
    rows = [(rng.integers(-50, 50, n), np.zeros(n, bool)) for n in lengths]
    got, t_in, t_out = run(dut, rows, gap=0.0, stall=0.0, seed=SEED)
    check(p, rows, got)
    first = np.cumsum([0] + lengths)
    for k, n in enumerate(lengths):
        a, b = first[k], first[k + 1]
        assert t_in[b - 1] - t_in[a] == n - 1                     # one element per clock
        assert t_out[a] - t_in[b - 1] == dut.first_out_latency(n)
        assert t_out[b - 1] - t_out[a] == n - 1
        if k + 1 < len(lengths):
            assert t_in[b] - t_in[a] == dut.row_cycles(n)


@pytest.mark.parametrize("mode", ["normalized", "deferred"])
def test_verilog_is_deterministic(mode):
    """The same params give byte-identical Verilog, with the stream ports of the signature."""
    p = softmax_preset("int8", n_max=16, output_mode=mode)
    a, b = (verilog.convert(Softmax(p), name=p.top_name, emit_src=False) for _ in range(2))
    assert a == b
    for port in ("i__payload", "i__valid", "i__ready", "o__payload", "o__valid", "o__ready"):
        assert port in a
