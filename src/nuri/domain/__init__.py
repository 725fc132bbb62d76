"""The commons' domain: pure types and rules, with no I/O and no clock.

Everything here is safe to call from the live service, the simulator and tests alike. Time is
passed in, never read; money and GPU-hours are integers (see :mod:`nuri.domain.units`).
"""
