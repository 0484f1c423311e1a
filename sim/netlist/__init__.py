"""Simulation of post-synthesis netlists (the netlists whose figures the reports give)."""
