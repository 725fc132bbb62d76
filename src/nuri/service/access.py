"""Who may see and do what. Admins see the whole commons; everyone else sees their projects."""

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from nuri.domain.commons import Role
from nuri.domain.errors import Forbidden
from nuri.service.auth import Actor
from nuri.store.tables import ProjectMemberRow, ProjectRow


def require_admin(actor: Actor, action: str) -> None:
    if not actor.is_admin:
        raise Forbidden(f"only an admin may {action}; you are {actor.name} ({actor.role})")


def require_commons_reader(actor: Actor, action: str) -> None:
    """Commons-wide figures (demand, spend, needs, dashboards) are for admins and managers."""
    if actor.role not in (Role.ADMIN, Role.MANAGER):
        raise Forbidden(
            f"only admins and programme managers may {action}; you are {actor.name} ({actor.role})"
        )


def visible_project_ids(session: Session, actor: Actor) -> set[int] | None:
    """Ids of the projects the actor leads or belongs to; None means every project (admin)."""
    if actor.is_admin:
        return None
    member_of = select(ProjectMemberRow.project_id).where(ProjectMemberRow.user_id == actor.user_id)
    rows = session.scalars(
        select(ProjectRow.id).where(
            or_(ProjectRow.pi_user_id == actor.user_id, ProjectRow.id.in_(member_of))
        )
    )
    return set(rows)


def can_see_project(session: Session, actor: Actor, project_id: int) -> bool:
    visible = visible_project_ids(session, actor)
    return visible is None or project_id in visible
