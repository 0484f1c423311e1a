"""A self-checking SystemVerilog testbench for an NLI engine, with ``$readmemh`` vectors from the golden
model: it runs in any simulator (Icarus ``-g2012``, Verilator ``--binary --timing``, Questa, xsim...)
with no Python at run time.

Vectors: every input code when the input format has at most ``EXHAUSTIVE_BITS`` bits (spread over
the lanes, a random function per beat, as the cocotb bench), else ``SAMPLE_BEATS`` random beats
(seed ``seed``). Expected outputs are ``engine_eval`` (luts/golden.py) packed as the payload.

Phases, in order (each checks every output, in order, against its vector):

1. latency: the first ``TIMED_BEATS`` beats with no gaps and ``o__ready`` high: output k must appear
   exactly ``latency`` cycles after input k, and the input is never stalled (II 1);
2. random: every beat, with input gaps and output back-pressure from two LFSRs (+seed=N);
3. reset: a stream cut by a reset with beats in flight; no output after the reset, then the stream
   restarts from beat 0 and is checked again;
4. reload (``storage="ram"`` only): the last function slot is written through ``w`` with the table's
   values reversed (any other table of the layout would do), then every beat runs with that slot.

The first ``MAX_REPORT`` mismatches are printed (phase, beat, input, expected, actual in hex); the
run ends with ``PASS`` and ``$finish``, or ``FAIL`` and ``$fatal(1)`` (a non-zero exit code).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from nlihw.hdl.common.deliverables import Testbench
from nlihw.sim.common import sv_testbench as sv
from .bench import exhaustive_inputs
from .engine_model import engine_eval, pack_input, pack_output

EXHAUSTIVE_BITS = 16
SAMPLE_BEATS = 1 << 16
TIMED_BEATS = 256
RESET_BEATS = 256
MAX_REPORT = 8


def module_name(params) -> str:
    return f"{params.top_name}_tb"


def file_names(params) -> dict[str, str]:
    """{kind: file name} of the testbench and its vector files."""
    tb = module_name(params)
    names = {"testbench": f"{tb}.sv", "tb_inputs": f"{tb}_in.hex", "tb_expected": f"{tb}_out.hex"}
    if params.storage == "ram":
        names["tb_load"] = f"{tb}_load.hex"
    return names


def stimulus(params, seed: int = 1) -> tuple[np.ndarray, np.ndarray, str]:
    """(x [beats, lanes], func [beats], a sentence saying which inputs these are)."""
    fmt = params.layout.in_fmt
    if fmt.width <= EXHAUSTIVE_BITS:
        x, func = exhaustive_inputs(params, seed)
        return x, func, f"every input code of {fmt} ({len(x)} beats, a random function per beat)"
    rng = np.random.default_rng(seed)
    lo, hi = (0, (1 << fmt.width) - 1) if fmt.is_float else (fmt.min_raw, fmt.max_raw)
    x = rng.integers(lo, hi + 1, (SAMPLE_BEATS, params.lanes), dtype=np.int64)
    func = rng.integers(0, 1 << params.func_bits, SAMPLE_BEATS)
    return x, func, (f"{SAMPLE_BEATS} random beats of {fmt} codes (numpy default_rng({seed}); the "
                     f"format has {fmt.width} bits, more than {EXHAUSTIVE_BITS})")


def reload_table(params):
    """(function slot, table) the reload phase writes: the last slot's table, values reversed."""
    slot = params.n_funcs - 1
    old = params.tables[slot]
    return slot, dataclasses.replace(old, values=tuple(reversed(old.values)), meta={})


def _hex(words, width: int) -> str:
    digits = max(1, (width + 3) // 4)
    return "".join(f"{int(w):0{digits}x}\n" for w in words)


def vectors(params, seed: int = 1) -> dict:
    """Inputs and expected outputs of every phase, packed as the stream payloads."""
    x, func, what = stimulus(params, seed)
    inputs = [pack_input(params, row, f) for row, f in zip(x, func)]
    expected = [pack_output(params, row) for row in engine_eval(params, x, func)]
    out = {"inputs": inputs, "expected": expected, "main": len(inputs), "reload": 0, "load": [],
           "what": what}
    if params.storage == "ram":
        slot, table = reload_table(params)
        new = dataclasses.replace(params, tables=tuple(table if k == slot else t
                                                       for k, t in enumerate(params.tables)))
        fx = np.full(len(func), slot)
        out["inputs"] += [pack_input(params, row, slot) for row in x]
        out["expected"] += [pack_output(params, row) for row in engine_eval(new, x, fx)]
        out["reload"] = len(x)
        out["load"] = [(d << params.config_addr_bits) | a for a, d in params.config_writes(slot, table)]
    return out


def testbench(params, seed: int = 1) -> Testbench:
    """The testbench and its vector files (for the FuseSoC core's ``sim`` target); the same
    params give the same bytes."""
    files = testbench_files(params, seed)
    return Testbench(module_name(params), tuple((kind, *files[kind]) for kind in files))


def testbench_files(params, seed: int = 1) -> dict[str, tuple[str, str]]:
    """{kind: (file name, text)}: the testbench first, then its vector files."""
    names, v = file_names(params), vectors(params, seed)
    in_w = params.in_width * params.lanes + params.func_bits
    out_w = params.out_width * params.lanes
    files = {"testbench": testbench_text(params, v, names),
             "tb_inputs": _hex(v["inputs"], in_w), "tb_expected": _hex(v["expected"], out_w)}
    if params.storage == "ram":
        files["tb_load"] = _hex(v["load"], params.config_addr_bits + params.config_data_bits)
    return {kind: (names[kind], text) for kind, text in files.items()}


def testbench_text(params, v: dict, names: dict[str, str]) -> str:
    p, ram = params, params.storage == "ram"
    tb = module_name(p)
    lay = p.layout
    w_w = p.config_addr_bits + p.config_data_bits
    funcs = ", ".join(f"{k}: {t.function}" for k, t in enumerate(p.tables))
    subs = {
        "TB": tb, "TOP": p.top_name, "LATENCY": p.latency,
        "IN_W": p.in_width * p.lanes + p.func_bits, "OUT_W": p.out_width * p.lanes,
        "N_MAIN": v["main"], "N_RELOAD": v["reload"], "N_LOAD": max(1, len(v["load"])),
        "N_TIMED": min(TIMED_BEATS, v["main"]), "N_RESET": min(RESET_BEATS, v["main"]),
        "MAX_REPORT": MAX_REPORT, "IN_FILE": names["tb_inputs"], "OUT_FILE": names["tb_expected"],
        "WHAT": v["what"], "FUNCS": funcs, "DIGEST": p.digest(),
        "LAYOUT": (f"lanes {p.lanes} x {lay.in_fmt} in (lane 0 in the LSBs), func in the top "
                   f"{p.func_bits} bit(s); out lanes {p.lanes} x {lay.out_fmt}"),
    }
    if ram:
        slot, table = reload_table(p)
        subs.update(W_W=w_w, LOAD_FILE=names["tb_load"], SLOT=slot, RELOADED=table.function)
    text = (_HEADER + _DECLS + (_RAM_DECLS if ram else "") + _instance(ram) + sv.CLOCK_AND_LFSR
            + sv.LFSR + _TASKS + sv.RESET_TASK + _RUN_HEAD + (_RAM_INIT if ram else "") + _RUN_MAIN
            + (_RAM_RUN if ram else "") + _RUN_TAIL)
    return sv.fill(text, subs)


def _instance(ram: bool) -> str:
    ports = [".clk(clk)", ".rst(rst)", ".i__valid(i_valid)", ".i__ready(i_ready)",
             ".i__payload(i_payload)", ".o__valid(o_valid)", ".o__ready(o_ready)",
             ".o__payload(o_payload)"]
    if ram:
        ports += [".w__valid(w_valid)", ".w__ready(w_ready)", ".w__payload(w_payload)"]
    return "\n  {TOP} dut (" + ",\n    ".join(ports) + ");\n"


_HEADER = """\
// {TB}: self-checking testbench of {TOP}, generated by nlihw (params sha256 {DIGEST}).
// Plain SystemVerilog (IEEE 1800-2012 subset, no DPI, no classes); no Python at run time. E.g.
//   on Icarus: iverilog -g2012 -o tb {TB}.sv {TOP}.sv && vvp -n tb
//   on Verilator 5: verilator --binary --timing {TOP}.vlt {TB}.sv {TOP}.sv && obj_dir/V{TB}
//     (add -CFLAGS -std=c++20 where Verilator's compiler flags lack C++20, e.g. the PyPI wheel)
// Run it in the directory that holds the vector files (or override the *_FILE parameters).
// Optional plusarg +seed=N changes the LFSR gap and back-pressure patterns.
//
// Vectors (golden model luts/golden.py): {WHAT}.
// Functions: {FUNCS}. Payloads: {LAYOUT}.
// Phases: latency (exact latency {LATENCY}, II 1), random (LFSR gaps and back-pressure),
// reset (reset with beats in flight, then the stream restarts), reload (storage=ram only).
// Ends with "PASS" and $finish, or "FAIL" and $fatal(1) after listing the first mismatches.
"""

_DECLS = """\
module {TB};
  localparam integer LATENCY = {LATENCY};
  localparam integer IN_W = {IN_W};
  localparam integer OUT_W = {OUT_W};
  localparam integer N_MAIN = {N_MAIN};  // beats of the latency, random and reset phases
  localparam integer N_RELOAD = {N_RELOAD};  // beats of the reload phase (after the main ones)
  localparam integer N_TIMED = {N_TIMED};
  localparam integer N_RESET = {N_RESET};
  localparam integer MAX_REPORT = {MAX_REPORT};
  parameter IN_FILE = "{IN_FILE}";
  parameter OUT_FILE = "{OUT_FILE}";

  reg clk;
  reg rst;
  reg i_valid;
  reg [IN_W-1:0] i_payload;
  wire i_ready;
  wire o_valid;
  wire [OUT_W-1:0] o_payload;
  reg o_ready;
  reg [IN_W-1:0] in_mem [0:N_MAIN+N_RELOAD-1];
  reg [OUT_W-1:0] exp_mem [0:N_MAIN+N_RELOAD-1];
  integer t_in [0:N_TIMED-1];   // cycle of each input transfer in the latency phase
  integer cycle;
  integer errors;
  integer checked;
  integer n_in;                 // input / output transfers of the running phase
  integer n_out;
  integer seed;
  integer k;
  reg [31:0] lfsr_in;
  reg [31:0] lfsr_out;
"""

_RAM_DECLS = """\
  localparam integer W_W = {W_W};
  localparam integer N_LOAD = {N_LOAD};
  parameter LOAD_FILE = "{LOAD_FILE}";
  reg w_valid;
  reg [W_W-1:0] w_payload;
  wire w_ready;
  reg [W_W-1:0] load_mem [0:N_LOAD-1];
"""

_TASKS = """\

  // The output transfer of this cycle is beat n_out of the phase (vector first + n_out).
  task automatic check_output(input [8*8-1:0] phase, input integer first, input integer timed);
    begin
      if (n_out >= n_in) begin
        errors = errors + 1;
        if (errors <= MAX_REPORT)
          $display("MISMATCH %0s beat %0d: output 0x%h with no input left to answer", phase, n_out,
                   o_payload);
      end else if (o_payload !== exp_mem[first + n_out]) begin
        errors = errors + 1;
        if (errors <= MAX_REPORT)
          $display("MISMATCH %0s beat %0d: input 0x%h expected 0x%h actual 0x%h", phase, n_out,
                   in_mem[first + n_out], exp_mem[first + n_out], o_payload);
      end else if (timed != 0 && cycle - t_in[n_out] != LATENCY) begin
        errors = errors + 1;
        if (errors <= MAX_REPORT)
          $display("MISMATCH %0s beat %0d: input 0x%h answered after %0d cycles, latency is %0d",
                   phase, n_out, in_mem[first + n_out], cycle - t_in[n_out], LATENCY);
      end
      checked = checked + 1;
      n_out = n_out + 1;
    end
  endtask

  // Streams vectors first .. first+len-1, checking every output. gapped: LFSR input gaps and
  // output back-pressure; timed: exact latency, II 1; stop_at > 0: return once that many inputs
  // were accepted (beats still in flight). Drives on the falling edge, samples on the rising edge.
  task automatic stream(input [8*8-1:0] phase, input integer first, input integer len,
                        input integer gapped, input integer timed, input integer stop_at);
    integer start;
    reg holding;
    begin
      n_in = 0;
      n_out = 0;
      holding = 1'b0;
      start = cycle;
      while (n_out < len && !(stop_at > 0 && n_in >= stop_at)
             && cycle - start < 8 * len + 20 * LATENCY + 100) begin
        @(negedge clk);
        if (!holding) holding = n_in < len && !(gapped != 0 && lfsr_in[1:0] == 2'b00);
        i_valid = holding;
        if (holding) i_payload = in_mem[first + n_in];
        o_ready = !(gapped != 0 && lfsr_out[1:0] == 2'b00);
        lfsr_in = lfsr_next(lfsr_in);
        lfsr_out = lfsr_next(lfsr_out);
        @(posedge clk);
        if (o_valid && o_ready) check_output(phase, first, timed);
        if (i_valid && i_ready) begin
          if (timed != 0) t_in[n_in] = cycle;
          n_in = n_in + 1;
          holding = 1'b0;
        end else if (i_valid && timed != 0) begin
          errors = errors + 1;
          if (errors <= MAX_REPORT)
            $display("MISMATCH %0s beat %0d: input stalled with the output ready (II is 1)",
                     phase, n_in);
        end
      end
      @(negedge clk);
      i_valid = 1'b0;
      o_ready = 1'b1;
      if (n_out < len && stop_at == 0) begin
        errors = errors + 1;
        $display("MISMATCH %0s: timeout after %0d cycles: %0d/%0d inputs accepted, %0d/%0d outputs",
                 phase, cycle - start, n_in, len, n_out, len);
      end
    end
  endtask

  // LATENCY + 4 idle cycles: any output now answers no input.
  task automatic drain(input [8*8-1:0] phase);
    integer c;
    begin
      for (c = 0; c < LATENCY + 4; c = c + 1) begin
        @(posedge clk);
        if (o_valid) check_output(phase, 0, 0);
        @(negedge clk);
      end
    end
  endtask
"""

_RUN_HEAD = """\

  initial begin
    errors = 0;
    checked = 0;
    cycle = 0;
    rst = 1'b1;
    i_valid = 1'b0;
    i_payload = {IN_W{1'b0}};
    o_ready = 1'b1;
    $readmemh(IN_FILE, in_mem);
    $readmemh(OUT_FILE, exp_mem);
    if (^in_mem[N_MAIN+N_RELOAD-1] === 1'bx || ^exp_mem[N_MAIN+N_RELOAD-1] === 1'bx)
      $fatal(1, "FAIL: vector files %0s / %0s missing or short", IN_FILE, OUT_FILE);
"""

_RAM_INIT = """\
    w_valid = 1'b0;
    w_payload = {W_W{1'b0}};
    $readmemh(LOAD_FILE, load_mem);
    if (^load_mem[N_LOAD-1] === 1'bx)
      $fatal(1, "FAIL: vector file %0s missing or short", LOAD_FILE);
"""

_RUN_MAIN = """\
    if (!$value$plusargs("seed=%d", seed)) seed = 1;
    lfsr_in = seed ^ 32'h1d872b41;
    lfsr_out = seed ^ 32'h6b3a09c5;
    if (lfsr_in == 0) lfsr_in = 1;
    if (lfsr_out == 0) lfsr_out = 1;
    repeat (3) @(negedge clk);
    rst = 1'b0;
    stream("latency", 0, N_TIMED, 0, 1, 0);
    drain("latency");
    stream("random", 0, N_MAIN, 1, 0, 0);
    drain("random");
    stream("reset", 0, N_RESET, 1, 0, N_RESET / 2);   // returns with beats in flight
    reset_midrun("reset", 0);
    drain("reset");
    stream("reset", 0, N_RESET, 1, 0, 0);
    drain("reset");
"""

_RAM_RUN = """\
    // reload: slot {SLOT} gets table "{RELOADED}" with its values reversed (the pipeline is drained)
    w_valid = 1'b1;
    for (k = 0; k < N_LOAD; k = k + 1) begin
      w_payload = load_mem[k];
      @(posedge clk);
      if (!w_ready) begin
        errors = errors + 1;
        $display("MISMATCH reload write %0d: w__ready low", k);
      end
      @(negedge clk);
    end
    w_valid = 1'b0;
    stream("reload", N_MAIN, N_RELOAD, 1, 0, 0);
    drain("reload");
"""

_RUN_TAIL = sv.VERDICT
