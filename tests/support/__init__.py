"""Helpers shared by the tests (no tests here): design points, reference models, the CLI runner,
the cocotb smoke module, wheel installation and the constraints pins."""
