"""The policies nuri knows, by name. Later policies register here; callers never branch on names."""

from collections.abc import Callable

from nuri.domain.errors import InvalidInput
from nuri.policy.fifo import Fifo
from nuri.policy.snapshot import Policy

POLICIES: dict[str, Callable[[], Policy]] = {
    "fifo": Fifo,
}


def policy_named(name: str) -> Policy:
    """A fresh policy object for ``name``, or an error listing the known names."""
    factory = POLICIES.get(name)
    if factory is None:
        raise InvalidInput(
            f"unknown policy {name!r}; known policies: {', '.join(sorted(POLICIES))}"
        )
    return factory()
