"""The trace-driven simulator: the live engine's policies on a simulated clock and cluster."""
