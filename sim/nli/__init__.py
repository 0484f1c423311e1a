"""The NLI engine's cocotb bench, its model of the engine's timing and the plain-Verilog testbench
(the golden model and the float64 errors are in ``nlihw.luts``: ``golden``, ``table_errors``)."""
