"""Mamba selective scan: a float64 reference (reference.py) and realistic layer inputs (stimulus.py)."""
