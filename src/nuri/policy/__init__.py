"""Scheduling policies: pure functions from a snapshot of the cluster and queue to decisions.

The live engine and (later) the simulator call the same :class:`Policy` objects through
:func:`nuri.policy.registry.policy_named`. A policy never reads a job's true duration, never does
I/O and never mutates its snapshot.
"""

from nuri.policy.snapshot import (
    ClusterSnapshot,
    Decision,
    NodeState,
    PendingJob,
    Policy,
    PoolState,
    Preempt,
    RunningJob,
    Start,
)

__all__ = [
    "ClusterSnapshot",
    "Decision",
    "NodeState",
    "PendingJob",
    "Policy",
    "PoolState",
    "Preempt",
    "RunningJob",
    "Start",
]
