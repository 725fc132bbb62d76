"""The decision stage shared by the live engine and the simulator.

``plan`` is the only way either of them asks a policy for decisions, so both run exactly the same
code: reservations are honoured first (borrowers preempted when a service needs its devices
back), then the policy decides, then every decision is checked so that no node is ever
over-committed, whatever the policy did.
"""

from nuri.policy.placement import check_decisions, reclaim_for_reservations
from nuri.policy.snapshot import ClusterSnapshot, Decision, Policy, Preempt


def plan(policy: Policy, snapshot: ClusterSnapshot) -> list[Decision]:
    """Reclaim reserved devices, ask the policy, check everything; returns the decisions."""
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
