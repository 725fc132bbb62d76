"""Who may not review a proposal: anyone from the proposing organisation, or anyone who declared
a conflict with the proposal, its PI or its organisation."""

from collections.abc import Collection
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ReviewerFacts:
    name: str
    organisation: str | None
    declared: frozenset[str] = frozenset()
    """Names the reviewer declared conflicts with: proposals, people or organisations."""


@dataclass(frozen=True, slots=True)
class ProposalFacts:
    name: str
    organisation: str
    pi: str
    team: Collection[str] = ()


def conflict(reviewer: ReviewerFacts, proposal: ProposalFacts) -> str | None:
    """Why ``reviewer`` may not review ``proposal``, or None if they may."""
    if reviewer.name == proposal.pi or reviewer.name in proposal.team:
        return f"{reviewer.name} is on the team of proposal {proposal.name}"
    if reviewer.organisation is not None and reviewer.organisation == proposal.organisation:
        return (
            f"{reviewer.name} belongs to {proposal.organisation}, the organisation that"
            f" proposed {proposal.name}"
        )
    declared = reviewer.declared & {proposal.name, proposal.pi, proposal.organisation}
    if declared:
        return f"{reviewer.name} declared a conflict with {', '.join(sorted(declared))}"
    return None
