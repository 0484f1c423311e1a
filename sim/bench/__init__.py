"""cocotb benches (run inside the simulator process) and their shared stream testbench."""
