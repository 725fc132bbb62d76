"""Backends run jobs: local processes now, Slurm later, a simulated one in the simulator."""

from nuri.backends.protocol import Backend, Ended, Launch

__all__ = ["Backend", "Ended", "Launch"]
