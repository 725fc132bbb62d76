"""The decision stage shared by the live engine and the simulator.

``plan`` is the only way either of them asks a policy for decisions, so both run exactly the same
code: reservations are honoured first (borrowers preempted when a service needs its devices
back), then the policy decides, then every decision is checked so that no node is ever
over-committed, whatever the policy did.
"""

import gc
from collections.abc import Iterator
from contextlib import contextmanager

from nuri.policy.placement import check_decisions, reclaim_for_reservations
from nuri.policy.snapshot import ClusterSnapshot, Decision, Policy, Preempt


def plan(policy: Policy, snapshot: ClusterSnapshot) -> list[Decision]:
    """Reclaim reserved devices, ask the policy, check everything; returns the decisions."""
    with _collection_deferred():
        return _plan(policy, snapshot)


@contextmanager
def _collection_deferred() -> Iterator[None]:
    """Python's cyclic garbage collector kept off while a decision is made.

    A decision over a long queue makes tens of thousands of short-lived objects, and every few
    decisions that sets off a full collection over the whole heap (snapshot included): 25-30 ms
    on a 10,000-job queue, as much as the decision itself, so it decided the p99. The decision's
    objects are freed by reference counting; the collection runs after it instead, off the path
    between snapshot and starts. Only the call that turned the collector off turns it back on, so
    overlapping calls from several threads never leave it off.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _plan(policy: Policy, snapshot: ClusterSnapshot) -> list[Decision]:
    reclaim: list[Decision] = list(reclaim_for_reservations(snapshot))
    reclaimed = {decision.job_id for decision in reclaim}
    decided = [
        decision
        for decision in policy.decide(snapshot)
        if not (isinstance(decision, Preempt) and decision.job_id in reclaimed)
    ]
    decisions = reclaim + decided
    check_decisions(snapshot, decisions)
    return decisions
