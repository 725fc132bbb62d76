"""The portal's main navigation: which pages each role gets a link to.

A page that exists gets one ``NavEntry`` here; a page that does not exist yet gets none (no
dead links). Reviewer, programme manager, operator and policy-maker pages add their entries
with the roles that may use them, for example::

    NavEntry("nav.reviews", "portal_reviews", frozenset({Role.REVIEWER})),

The order here is the order on screen. The link whose path is the longest prefix of the current
path is marked as the current page (``aria-current="page"``).
"""

from collections.abc import Callable
from dataclasses import dataclass

from nuri.domain.commons import Role


@dataclass(frozen=True, slots=True)
class NavEntry:
    label: str
    """Catalogue key of the link text."""
    route: str
    """Name of the route it links to."""
    roles: frozenset[Role] | None = None
    """Roles that see the link; None is every signed-in user."""


@dataclass(frozen=True, slots=True)
class NavLink:
    label: str
    href: str
    current: bool


NAV: tuple[NavEntry, ...] = (
    NavEntry("nav.jobs", "portal_jobs"),
    NavEntry("nav.submit", "portal_submit_form"),
    NavEntry("nav.projects", "portal_projects"),
    NavEntry("nav.proposals", "portal_proposals", frozenset({Role.PI, Role.ADMIN})),
    NavEntry("nav.reviews", "portal_reviews", frozenset({Role.REVIEWER})),
    NavEntry("nav.calls", "portal_calls", frozenset({Role.MANAGER, Role.ADMIN})),
    NavEntry("nav.dashboard", "portal_dashboard", frozenset({Role.MANAGER, Role.ADMIN})),
)


def navigation_for(role: Role, path_of: Callable[[str], str], current_path: str) -> list[NavLink]:
    """The links ``role`` sees, with the one for ``current_path`` marked current."""
    entries = [entry for entry in NAV if entry.roles is None or role in entry.roles]
    hrefs = [path_of(entry.route) for entry in entries]
    matching = [
        href
        for href in hrefs
        if current_path == href or current_path.startswith(href.rstrip("/") + "/")
    ]
    current = max(matching, key=len, default=None)
    return [
        NavLink(entry.label, href, href == current)
        for entry, href in zip(entries, hrefs, strict=True)
    ]
