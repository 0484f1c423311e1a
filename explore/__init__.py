"""Design-space exploration: sweeps over design points, their cache, executors and reports."""
