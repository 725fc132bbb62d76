"""The policies nuri knows, by name. Callers never branch on names: they look them up here.

Every policy is built from a :class:`PolicyContext`, which carries what some policies need
beyond the snapshot: a throughput table (``hetero``) or, for the simulator's yardstick only,
the jobs' true work (``srtf-oracle``). The live service builds policies with ``live=True``,
which refuses any policy that reads true durations.
"""

import importlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from nuri.domain.errors import InvalidInput
from nuri.policy.snapshot import Policy


@dataclass(frozen=True)
class PolicyContext:
    """Inputs a policy may be built with (all optional)."""

    throughputs: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    """Relative speed per job class and accelerator (e.g. ``{"resnet50": {"H100": 1.0, ...}}``)."""
    oracle_work_s: Mapping[int, float] | None = None
    """True work per job id, in seconds at speed 1.0: only the simulator's oracle may see it."""
    restart_cost_s: float = 60.0
    """What one preemption costs a job (checkpoint and restart), in seconds."""


@dataclass(frozen=True)
class PolicyInfo:
    """A registered policy: where it lives, what it is, and whether it reads true durations."""

    target: str
    summary: str
    oracle: bool = False


POLICIES: dict[str, PolicyInfo] = {
    "fifo": PolicyInfo("nuri.policy.fifo:Fifo", "first in, first out per pool; no backfill"),
    "easy-backfill": PolicyInfo(
        "nuri.policy.backfill:EasyBackfill", "FIFO with EASY backfilling on time limits"
    ),
    "slurm-multifactor": PolicyInfo(
        "nuri.policy.multifactor:SlurmMultifactor",
        "Slurm's multifactor priority (age, fair-share, size, tier) with backfill",
    ),
    "allocation-fair": PolicyInfo(
        "nuri.policy.allocation_fair:AllocationFair",
        "projects furthest below their award pace go first, with backfill",
    ),
    "las": PolicyInfo(
        "nuri.policy.las:Las",
        "Tiresias-style discretised 2D least-attained-service with preemption",
    ),
    "hetero": PolicyInfo(
        "nuri.policy.hetero:Hetero",
        "Gavel-style heterogeneity-aware placement: most work per H100e charged",
    ),
    "srtf-oracle": PolicyInfo(
        "nuri.policy.oracle:SrtfOracle",
        "preemptive shortest remaining GPU-time with true durations (simulator yardstick only)",
        oracle=True,
    ),
}


def policy_named(
    name: str,
    context: PolicyContext | None = None,
    *,
    live: bool = False,
    options: Mapping[str, object] | None = None,
) -> Policy:
    """A fresh policy object for ``name``; an error lists known names, or refuses an oracle live.

    ``options`` are keyword arguments of the policy's constructor (for example ``{"preempt_gap":
    1}`` for ``las``), so that experiments can vary a policy without changing its code; an
    option the policy does not take, or a value it refuses, is an :class:`InvalidInput` that
    names the options it does take.
    """
    info = POLICIES.get(name)
    if info is None:
        raise InvalidInput(
            f"unknown policy {name!r}; known policies: {', '.join(sorted(POLICIES))}"
        )
    if info.oracle and live:
        raise InvalidInput(f"policy {name} reads true job durations; it runs only in the simulator")
    module_name, _, attribute = info.target.partition(":")
    factory: Callable[..., Policy] = getattr(importlib.import_module(module_name), attribute)
    if not options:
        return factory(context or PolicyContext())
    parameters = inspect.signature(factory).parameters
    accepted = sorted(
        option
        for option, parameter in parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
    )
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise InvalidInput(
            f"policy {name} has no option {', '.join(unknown)}; "
            f"its options: {', '.join(accepted) or 'none'}"
        )
    try:
        return factory(context or PolicyContext(), **options)
    except (TypeError, ValueError) as error:
        raise InvalidInput(f"policy {name}: {error}") from None
