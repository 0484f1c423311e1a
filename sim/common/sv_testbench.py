"""SystemVerilog pieces every emitted self-checking testbench shares (the engine's and the scan
unit's): the clock and cycle counter, the LFSR that draws gaps and back-pressure, the reset-with-
beats-in-flight task, the PASS/FAIL verdict, and the ``{KEY}`` placeholder filling."""
from __future__ import annotations

CLOCK_AND_LFSR = """\

  initial clk = 1'b0;
  always #5 clk = ~clk;
  always @(posedge clk) cycle <= cycle + 1;
"""

LFSR = """\

  // Galois LFSR x^32 + x^22 + x^2 + x + 1: a gap (or back-pressure) when the two low bits are 0
  function [31:0] lfsr_next(input [31:0] s);
    lfsr_next = s[0] ? ((s >> 1) ^ 32'h80200003) : (s >> 1);
  endfunction
"""

RESET_TASK = """\

  // Reset for 3 cycles with the output ready. The edge that first sees rst may still complete an
  // output transfer (checked as such); after it no output may appear.
  task automatic reset_midrun(input [8*8-1:0] phase, input integer first);
    integer c;
    begin
      rst = 1'b1;
      for (c = 0; c < 3; c = c + 1) begin
        @(posedge clk);
        if (o_valid) check_output(phase, first, 0);
        n_in = 0;
        n_out = 0;
        @(negedge clk);
      end
      rst = 1'b0;
    end
  endtask
"""

VERDICT = """\
    if (errors == 0) begin
      $display("PASS: {TOP}: %0d outputs checked in %0d cycles", checked, cycle);
      $finish;
    end else
      $fatal(1, "FAIL: {TOP}: %0d mismatches in %0d outputs checked", errors, checked);
  end
endmodule
"""


def fill(text: str, subs: dict) -> str:
    """``text`` with every ``{KEY}`` of ``subs`` replaced (SystemVerilog's own braces stay)."""
    for key, value in subs.items():
        text = text.replace("{" + key + "}", str(value))
    return text
