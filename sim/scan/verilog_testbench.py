"""A self-checking SystemVerilog testbench for a selective-scan unit, with ``$readmemh`` vectors from the
golden model (``scan_eval``): it runs in any simulator (Icarus ``-g2012``, Verilator ``--binary
--timing``, Questa, xsim...) with no Python at run time.

Vectors: ``tokens`` tokens of Mamba-like inputs (``bench.draw``, seed ``seed``; every channel starts
its sequence on token 0), with one saturating token in the middle (u, B and C at their largest codes,
channel 0's delta at its lowest) so both sticky flags rise mid-run. Payloads are packed by
``bench.config_writes`` / ``beats`` / ``outputs`` with the RTL's own layouts.

Phases, in order (each checks every ``o`` payload, in order, against its vector):

1. latency: reset, the A, D and delta_bias writes through ``cfg``, then the run with no gaps and
   ``o__ready`` high: the first output ``latency`` cycles after its input transfer, and (where the
   state loop needs no bubble, ``hazard_free``) every output so, one input every N/P clocks;
2. random: the run again, without a reset (the sticky flags carry over: the expected flags are the
   golden model's with the flags the first run ended with), with LFSR gaps on ``i`` and ``bc`` and
   back-pressure on ``o`` (+seed=N);
3. reset: the run, cut by a reset with beats in flight; no output after the reset; then the run
   again from token 0 with the first run's expectation (reset clears the pipeline and the flags,
   keeps A, D and delta_bias: they are not written again).

The first ``MAX_REPORT`` mismatches are printed (phase, beat, token, channel, expected and actual
payloads in hex); the run ends with ``PASS`` and ``$finish``, or ``FAIL`` and ``$fatal(1)``.
"""
from __future__ import annotations

import dataclasses

from nlihw.hdl.common.deliverables import Testbench
from nlihw.sim.common import sv_testbench as sv
from nlihw.hdl.scan.params import ScanParams
from nlihw.hdl.scan.unit import bc_layout, cfg_layout, hazard_free, input_layout, latency, loop_depth, \
    output_layout
from .bench import Stimulus, beats, config_writes, draw, outputs, pack
from .golden import scan_eval

TOKENS = 16
MAX_REPORT = 8


def module_name(p: ScanParams) -> str:
    return f"{p.top_name}_tb"


def file_names(p: ScanParams) -> dict[str, str]:
    """{kind: file name} of the testbench and its vector files."""
    tb = module_name(p)
    return {"testbench": f"{tb}.sv", "tb_cfg": f"{tb}_cfg.hex", "tb_bc": f"{tb}_bc.hex",
            "tb_inputs": f"{tb}_in.hex", "tb_expected": f"{tb}_out.hex"}


def stimulus(p: ScanParams, tokens: int = TOKENS, seed: int = 1) -> Stimulus:
    """``bench.draw``'s run with token ``tokens // 2`` made saturating, and its golden outputs."""
    s = draw(p, tokens, seed)
    run, mid = s.run, tokens // 2
    u, delta, B, C = (getattr(run, k).copy() for k in ("u", "delta", "B", "C"))
    u[mid], B[mid], C[mid] = p.u_fmt.max_raw, p.b_fmt.max_raw, p.c_fmt.max_raw
    delta[mid, 0] = p.delta_fmt.min_raw
    run = dataclasses.replace(run, u=u, delta=delta, B=B, C=C)
    return Stimulus(p, s.cfg, run, scan_eval(p, s.cfg, run))


def vectors(p: ScanParams, tokens: int = TOKENS, seed: int = 1) -> dict:
    """Packed payloads: cfg commands, bc and i beats, and the expected outputs of a run from reset
    followed by those of the same run continued (sticky flags set by the first)."""
    s = stimulus(p, tokens, seed)
    lay = cfg_layout(p)
    cfg = [pack(lay, addr=a, data=d, write=1) for a, d in config_writes(p, s.cfg)]
    bc, ib = beats(p, s.run)
    again = scan_eval(p, s.cfg, s.run, sticky=bool(s.result.overflow[-1, -1]),
                      sticky_clamped=bool(s.result.clamped[-1, -1]))
    return {"cfg": cfg, "bc": bc, "inputs": ib,
            "expected": outputs(p, s.result) + outputs(p, again), "tokens": tokens, "seed": seed}


def _hex(words, width: int) -> str:
    digits = max(1, (width + 3) // 4)
    return "".join(f"{int(w):0{digits}x}\n" for w in words)


def testbench(p: ScanParams, tokens: int = TOKENS, seed: int = 1) -> Testbench:
    """The testbench and its vector files (for the FuseSoC core's ``sim`` target); the same
    arguments give the same bytes."""
    files = testbench_files(p, tokens, seed)
    return Testbench(module_name(p), tuple((kind, *files[kind]) for kind in files))


def testbench_files(p: ScanParams, tokens: int = TOKENS, seed: int = 1) -> dict[str, tuple[str, str]]:
    """{kind: (file name, text)}: the testbench first, then its vector files."""
    names, v = file_names(p), vectors(p, tokens, seed)
    files = {"testbench": testbench_text(p, v, names),
             "tb_cfg": _hex(v["cfg"], cfg_layout(p).size), "tb_bc": _hex(v["bc"], bc_layout(p).size),
             "tb_inputs": _hex(v["inputs"], input_layout(p).size),
             "tb_expected": _hex(v["expected"], output_layout(p).size)}
    return {kind: (names[kind], text) for kind, text in files.items()}


def testbench_text(p: ScanParams, v: dict, names: dict[str, str]) -> str:
    n_i = len(v["inputs"])
    lat = latency(p)
    subs = {
        "TB": module_name(p), "TOP": p.top_name, "DIGEST": p.digest(), "LATENCY": lat,
        "STEPS": p.steps, "EXACT_RATE": int(hazard_free(p)), "D_INNER": p.d_inner,
        "N_TOK": v["tokens"], "N_I": n_i, "N_CFG": len(v["cfg"]), "MAX_REPORT": MAX_REPORT,
        "MAX_CYCLES": 8 * n_i * p.steps * loop_depth(p) + 20 * lat + 1000,
        "CFG_W": cfg_layout(p).size, "BC_W": bc_layout(p).size, "IN_W": input_layout(p).size,
        "OUT_W": output_layout(p).size, "RD_W": p.config_data_bits,
        "CFG_FILE": names["tb_cfg"], "BC_FILE": names["tb_bc"], "IN_FILE": names["tb_inputs"],
        "OUT_FILE": names["tb_expected"], "SEED": v["seed"],
        "WHAT": (f"{p.mode}, d_inner {p.d_inner}, d_state {p.d_state}, {p.lanes} lane(s) "
                 f"({p.steps} clock(s) per (token, channel)), pipeline {p.pipeline}"),
        "LAYOUT": "; ".join(f"{s} {{{', '.join(f'{n} [{f.offset}+:{f.width}]' for n, f in lay)}}}"
                            for s, lay in (("i", input_layout(p)), ("o", output_layout(p)),
                                           ("cfg", cfg_layout(p)))),
    }
    text = (_HEADER + _DECLS + _INSTANCE + sv.CLOCK_AND_LFSR + _TASKS + sv.LFSR + sv.RESET_TASK
            + _STREAM + _RUN)
    return sv.fill(text, subs)


_HEADER = """\
// {TB}: self-checking testbench of {TOP}, generated by nlihw (params sha256 {DIGEST}).
// Plain SystemVerilog (IEEE 1800-2012 subset, no DPI, no classes); no Python at run time. E.g.
//   on Icarus: iverilog -g2012 -o tb {TB}.sv {TOP}.sv && vvp -n tb
//   on Verilator 5: verilator --binary --timing {TOP}.vlt {TB}.sv {TOP}.sv && obj_dir/V{TB}
//     (add -CFLAGS -std=c++20 where Verilator's compiler flags lack C++20, e.g. the PyPI wheel)
// Run it in the directory that holds the vector files (or override the *_FILE parameters).
// Optional plusarg +seed=N changes the LFSR gap and back-pressure patterns.
//
// Unit: {WHAT}. Vectors (golden model sim/scan/golden.py, numpy default_rng({SEED})): {N_TOK}
// tokens, one saturating token in the middle; payloads {LAYOUT}.
// Phases: latency (A, D, delta_bias written through cfg, then the first output exactly {LATENCY}
// cycles after its input, one input every {STEPS} clock(s)), random (the run again, sticky flags
// carried over, LFSR gaps on i and bc, back-pressure on o), reset (reset with beats in flight, then
// the run restarts from token 0; the configuration is kept).
// Ends with "PASS" and $finish, or "FAIL" and $fatal(1) after listing the first mismatches.
"""

_DECLS = """\
module {TB};
  localparam integer LATENCY = {LATENCY};
  localparam integer STEPS = {STEPS};          // clocks per (token, channel): N/P
  localparam integer EXACT_RATE = {EXACT_RATE};     // 0: the state loop may add bubbles
  localparam integer D_INNER = {D_INNER};
  localparam integer N_TOK = {N_TOK};          // bc beats of a run
  localparam integer N_I = {N_I};            // i and o beats of a run
  localparam integer N_CFG = {N_CFG};
  localparam integer MAX_CYCLES = {MAX_CYCLES};
  localparam integer MAX_REPORT = {MAX_REPORT};
  localparam integer CFG_W = {CFG_W};
  localparam integer BC_W = {BC_W};
  localparam integer IN_W = {IN_W};
  localparam integer OUT_W = {OUT_W};
  localparam integer RD_W = {RD_W};
  parameter CFG_FILE = "{CFG_FILE}";
  parameter BC_FILE = "{BC_FILE}";
  parameter IN_FILE = "{IN_FILE}";
  parameter OUT_FILE = "{OUT_FILE}";   // the run from reset, then the run continued

  reg clk;
  reg rst;
  reg i_valid;
  reg [IN_W-1:0] i_payload;
  wire i_ready;
  reg bc_valid;
  reg [BC_W-1:0] bc_payload;
  wire bc_ready;
  reg cfg_valid;
  reg [CFG_W-1:0] cfg_payload;
  wire cfg_ready;
  wire o_valid;
  wire [OUT_W-1:0] o_payload;
  reg o_ready;
  wire rdata_valid;
  wire [RD_W-1:0] rdata_payload;
  reg [CFG_W-1:0] cfg_mem [0:N_CFG-1];
  reg [BC_W-1:0] bc_mem [0:N_TOK-1];
  reg [IN_W-1:0] in_mem [0:N_I-1];
  reg [OUT_W-1:0] exp_mem [0:2*N_I-1];
  integer t_in [0:N_I-1];       // cycle of each input transfer in the latency phase
  integer cycle;
  integer errors;
  integer stray_rdata;
  reg [RD_W-1:0] stray_word;
  integer checked;
  integer n_in;                 // i, bc and o transfers of the running phase
  integer n_bc;
  integer n_out;
  integer seed;
  reg [31:0] lfsr_in;
  reg [31:0] lfsr_bc;
  reg [31:0] lfsr_out;
"""

_INSTANCE = """
  {TOP} dut (.clk(clk), .rst(rst),
    .i__valid(i_valid), .i__ready(i_ready), .i__payload(i_payload),
    .bc__valid(bc_valid), .bc__ready(bc_ready), .bc__payload(bc_payload),
    .cfg__valid(cfg_valid), .cfg__ready(cfg_ready), .cfg__payload(cfg_payload),
    .o__valid(o_valid), .o__ready(o_ready), .o__payload(o_payload),
    .rdata__valid(rdata_valid), .rdata__ready(1'b1), .rdata__payload(rdata_payload));
"""

_TASKS = """\
  always @(posedge clk)                        // no read is sent: any response is an error
    if (!rst && rdata_valid) begin
      stray_rdata <= stray_rdata + 1;
      stray_word <= rdata_payload;
    end

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
          $display("MISMATCH %0s beat %0d (token %0d, channel %0d): input 0x%h expected 0x%h actual 0x%h",
                   phase, n_out, n_out / D_INNER, n_out % D_INNER, in_mem[n_out],
                   exp_mem[first + n_out], o_payload);
      end else if (timed != 0 && (EXACT_RATE != 0 || n_out == 0) && cycle - t_in[n_out] != LATENCY) begin
        errors = errors + 1;
        if (errors <= MAX_REPORT)
          $display("MISMATCH %0s beat %0d: input 0x%h answered after %0d cycles, latency is %0d",
                   phase, n_out, in_mem[n_out], cycle - t_in[n_out], LATENCY);
      end
      checked = checked + 1;
      n_out = n_out + 1;
    end
  endtask

  // Input beat n_in was accepted in this cycle of the latency phase: one every STEPS clocks.
  task automatic check_rate(input [8*8-1:0] phase);
    integer gap;
    begin
      t_in[n_in] = cycle;
      gap = n_in > 0 ? cycle - t_in[n_in - 1] : STEPS;
      if (EXACT_RATE != 0 ? gap != STEPS : gap < STEPS) begin
        errors = errors + 1;
        if (errors <= MAX_REPORT)
          $display("MISMATCH %0s beat %0d: input accepted %0d cycles after the previous one, expected %0d",
                   phase, n_in, gap, STEPS);
      end
    end
  endtask

  // The A, D and delta_bias writes, in order, each within 1000 cycles.
  task automatic configure;
    integer k;
    integer w;
    begin
      cfg_valid = 1'b1;
      for (k = 0; k < N_CFG; k = k + 1) begin
        cfg_payload = cfg_mem[k];
        w = 0;
        @(posedge clk);
        while (!cfg_ready && w < 1000) begin
          w = w + 1;
          @(posedge clk);
        end
        if (!cfg_ready) begin
          errors = errors + 1;
          $display("MISMATCH config write %0d: not accepted in 1000 cycles", k);
        end
        @(negedge clk);
      end
      cfg_valid = 1'b0;
    end
  endtask

  // Idle cycles: any output now answers no input.
  task automatic drain(input [8*8-1:0] phase);
    integer c;
    begin
      for (c = 0; c < LATENCY + 4 * STEPS + 4; c = c + 1) begin
        @(posedge clk);
        if (o_valid) check_output(phase, 0, 0);
        @(negedge clk);
      end
    end
  endtask
"""

_STREAM = """
  // Streams one run (N_TOK bc beats, N_I i beats), checking output k against exp_mem[first + k].
  // gapped: LFSR gaps on i and bc, back-pressure on o; timed: exact latency and rate; stop_at > 0:
  // return once that many i beats were accepted (beats still in flight). Drives on the falling
  // edge, samples on the rising edge; a beat offered is held until it is accepted.
  task automatic stream(input [8*8-1:0] phase, input integer first, input integer gapped,
                        input integer timed, input integer stop_at);
    integer start;
    reg hold_i;
    reg hold_bc;
    begin
      n_in = 0;
      n_bc = 0;
      n_out = 0;
      hold_i = 1'b0;
      hold_bc = 1'b0;
      start = cycle;
      while (n_out < N_I && !(stop_at > 0 && n_in >= stop_at) && cycle - start < MAX_CYCLES) begin
        @(negedge clk);
        if (!hold_i) hold_i = n_in < N_I && !(gapped != 0 && lfsr_in[1:0] == 2'b00);
        if (!hold_bc) hold_bc = n_bc < N_TOK && !(gapped != 0 && lfsr_bc[1:0] == 2'b00);
        i_valid = hold_i;
        if (hold_i) i_payload = in_mem[n_in];
        bc_valid = hold_bc;
        if (hold_bc) bc_payload = bc_mem[n_bc];
        o_ready = !(gapped != 0 && lfsr_out[1:0] == 2'b00);
        lfsr_in = lfsr_next(lfsr_in);
        lfsr_bc = lfsr_next(lfsr_bc);
        lfsr_out = lfsr_next(lfsr_out);
        @(posedge clk);
        if (o_valid && o_ready) check_output(phase, first, timed);
        if (i_valid && i_ready) begin
          if (timed != 0) check_rate(phase);
          n_in = n_in + 1;
          hold_i = 1'b0;
        end
        if (bc_valid && bc_ready) begin
          n_bc = n_bc + 1;
          hold_bc = 1'b0;
        end
      end
      @(negedge clk);
      i_valid = 1'b0;
      bc_valid = 1'b0;
      o_ready = 1'b1;
      if (n_out < N_I && stop_at == 0) begin
        errors = errors + 1;
        $display("MISMATCH %0s: timeout after %0d cycles: %0d/%0d i and %0d/%0d bc beats accepted, %0d/%0d outputs",
                 phase, cycle - start, n_in, N_I, n_bc, N_TOK, n_out, N_I);
      end
    end
  endtask
"""

_RUN = """
  initial begin
    errors = 0;
    stray_rdata = 0;
    checked = 0;
    cycle = 0;
    rst = 1'b1;
    i_valid = 1'b0;
    i_payload = {IN_W{1'b0}};
    bc_valid = 1'b0;
    bc_payload = {BC_W{1'b0}};
    cfg_valid = 1'b0;
    cfg_payload = {CFG_W{1'b0}};
    o_ready = 1'b1;
    $readmemh(CFG_FILE, cfg_mem);
    $readmemh(BC_FILE, bc_mem);
    $readmemh(IN_FILE, in_mem);
    $readmemh(OUT_FILE, exp_mem);
    if (^cfg_mem[N_CFG-1] === 1'bx || ^bc_mem[N_TOK-1] === 1'bx || ^in_mem[N_I-1] === 1'bx
        || ^exp_mem[2*N_I-1] === 1'bx)
      $fatal(1, "FAIL: vector files %0s / %0s / %0s / %0s missing or short", CFG_FILE, BC_FILE,
             IN_FILE, OUT_FILE);
    if (!$value$plusargs("seed=%d", seed)) seed = 1;
    lfsr_in = seed ^ 32'h1d872b41;
    lfsr_bc = seed ^ 32'h2c5e7f13;
    lfsr_out = seed ^ 32'h6b3a09c5;
    if (lfsr_in == 0) lfsr_in = 1;
    if (lfsr_bc == 0) lfsr_bc = 1;
    if (lfsr_out == 0) lfsr_out = 1;
    repeat (3) @(negedge clk);
    rst = 1'b0;
    configure;
    stream("latency", 0, 0, 1, 0);
    drain("latency");
    stream("random", N_I, 1, 0, 0);      // no reset since the latency run: flags carried over
    drain("random");
    stream("reset", N_I, 1, 0, N_I / 2);  // returns with beats in flight
    reset_midrun("reset", N_I);
    drain("reset");
    stream("reset", 0, 1, 0, 0);         // from token 0, flags cleared, configuration kept
    drain("reset");
    if (stray_rdata != 0) begin
      errors = errors + 1;
      $display("MISMATCH rdata: %0d responses with no read sent, the last 0x%h", stray_rdata,
               stray_word);
    end
""" + sv.VERDICT
