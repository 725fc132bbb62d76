"""Public GPU-cluster traces, normalised into nuri's common trace schema for the simulator.

A trace is a pandas DataFrame, one row per job, with the columns and rules of
:mod:`nuri.traces.schema`. Where each function comes from::

    nuri.traces
     +-- schema         REQUIRED_COLUMNS, OPTIONAL_COLUMNS, validate_trace, read_trace, write_trace
     +-- gavel          load_gavel_philly        Philly arrivals and sizes with Gavel job types
     |                  load_gavel_throughputs   steps/s per job class and GPU type (K80, P100, V100)
     +-- alibaba        load_alibaba_openb       Alibaba GPU pods, 2023 (ATC'23), as jobs
     |                  load_alibaba_dlrm_services, service_demand
     |                                           Alibaba DLRM inference instances, 2025 (NSDI'25),
     |                                           as services and devices in use over time
     +-- synthetic      generate_trace           Poisson arrivals, log-normal durations, seeded
     +-- time_limits    with_time_limits         users' requested limits, seeded per job id

Every loader returns a validated trace (or, for the DLRM services, its own small table) and
raises :class:`nuri.domain.errors.InvalidInput` with a message naming the file, column or row
to fix. ``nuri trace convert`` and ``nuri trace stats`` (:mod:`nuri.cli.trace`) wrap them.
"""

from nuri.traces.alibaba import load_alibaba_dlrm_services, load_alibaba_openb, service_demand
from nuri.traces.gavel import load_gavel_philly, load_gavel_throughputs
from nuri.traces.schema import (
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    read_trace,
    validate_trace,
    write_trace,
)
from nuri.traces.synthetic import generate_trace
from nuri.traces.time_limits import with_time_limits

__all__ = [
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "generate_trace",
    "load_alibaba_dlrm_services",
    "load_alibaba_openb",
    "load_gavel_philly",
    "load_gavel_throughputs",
    "read_trace",
    "service_demand",
    "validate_trace",
    "with_time_limits",
    "write_trace",
]
