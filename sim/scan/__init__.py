"""The selective-scan unit's verification: float64 reference (``reference.py``, mamba's
``selective_scan_ref``), layer inputs (``stimulus.py``) and a model's activations
(``activations.py``), the bit-exact golden model (``golden.py``), the error budget against float64
(``accuracy.py``), format calibration on a user's data (``calibrate.py``), the cocotb bench
(``bench.py`` host side, ``bench_cocotb.py`` the tests) and the plain-Verilog testbench
(``verilog_testbench.py``)."""
