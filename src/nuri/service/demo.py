"""The demo commons: two hubs, three pools (H100, A100, a domestic NPU), three organisations,
users with tokens, projects and awards. Seeded once per database.

Prices and exchange rates are illustrative round numbers, not quotes.
"""

import json
import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from nuri.domain.commons import Role
from nuri.domain.errors import DomainError
from nuri.engine.clock import Clock
from nuri.service.auth import Actor
from nuri.service.directory import Directory
from nuri.store.tables import SettingRow, UserRow

log = logging.getLogger(__name__)

SEEDED_KEY = "demo_seeded_at"
DEMO_POOLS: tuple[dict[str, Any], ...] = (
    {
        "name": "h100-ksc",
        "hub": "ksc",
        "accelerator": "H100",
        "nodes": 2,
        "devices_per_node": 8,
        "exchange_rate": "1.0",
        "krw_per_device_hour": 4000,
    },
    {
        "name": "a100-gwangju",
        "hub": "gwangju",
        "accelerator": "A100",
        "nodes": 2,
        "devices_per_node": 8,
        "exchange_rate": "0.45",
        "krw_per_device_hour": 1800,
    },
    {
        "name": "rngd-gwangju",
        "hub": "gwangju",
        "accelerator": "RNGD",
        "nodes": 2,
        "devices_per_node": 8,
        "exchange_rate": "0.3",
        "krw_per_device_hour": 900,
    },
)
"""The demo commons' pools (also what ``nuri slurm-dev up`` starts when given no spec)."""

DEMO_USERS = {"admin": "admin", "pi": "kim", "researcher": "lee"}
"""Keys of the demo-tokens file and the users they belong to."""


def seed_demo(
    sessions: sessionmaker[Session], directory: Directory, clock: Clock, tokens_path: Path
) -> bool:
    """Seed the demo commons unless this database already has it; write the demo tokens.

    Returns True if it seeded now. If the database was seeded earlier but the tokens file is
    gone, fresh tokens are issued for the demo users and the file is written again.
    """
    with sessions.begin() as session:
        seeded = session.get(SettingRow, SEEDED_KEY) is not None
        has_users = session.scalar(select(UserRow.id).limit(1)) is not None
    if not seeded and has_users:
        raise DemoRefused(
            "this database already holds a commons that is not the demo; use an empty NURI_HOME"
            " (or NURI_DATABASE_URL) for the demo"
        )
    if seeded:
        if not tokens_path.exists():
            _write_tokens(tokens_path, _reissue(sessions, directory))
        return False
    now = clock()
    tokens = _seed(directory, now)
    with sessions.begin() as session:
        session.add(SettingRow(key=SEEDED_KEY, value=now.isoformat()))
    _write_tokens(tokens_path, tokens)
    return True


class DemoRefused(DomainError):
    """The demo cannot be seeded into this database."""


def _seed(directory: Directory, now: datetime) -> dict[str, str]:
    admin_view, admin_token = directory.create_user(
        None, name="admin", display_name="Commons operator", role="admin", organisation=None
    )
    admin = Actor(user_id=admin_view.id, name="admin", role=Role(admin_view.role))
    d = directory
    d.create_hub(
        admin, name="ksc", title="National Supercomputing Centre", operator="national-centre"
    )
    d.create_hub(
        admin, name="gwangju", title="Gwangju AI Data Centre", operator="regional-data-centre"
    )
    for pool in DEMO_POOLS:
        d.create_pool(admin, **pool)
    d.create_organisation(admin, name="snu", title="Seoul National University", kind="university")
    d.create_organisation(admin, name="hanbit-ai", title="Hanbit AI", kind="startup")
    d.create_organisation(
        admin, name="kiast", title="Korea Institute of AI Science and Technology", kind="institute"
    )
    _, pi_token = d.create_user(
        admin, name="kim", display_name="Kim Jiwoo", role="pi", organisation="snu"
    )
    _, researcher_token = d.create_user(
        admin, name="lee", display_name="Lee Seoyeon", role="member", organisation="snu"
    )
    d.create_user(
        admin, name="park", display_name="Park Minho", role="pi", organisation="hanbit-ai"
    )
    d.create_user(admin, name="choi", display_name="Choi Yuna", role="pi", organisation="kiast")
    d.create_project(
        admin,
        name="snu-nlp",
        title="Korean language models for science",
        field="language",
        organisation="snu",
        pi="kim",
    )
    d.add_member(admin, project="snu-nlp", user="lee")
    d.create_project(
        admin,
        name="hanbit-vision",
        title="Retail vision on domestic NPUs",
        field="vision",
        organisation="hanbit-ai",
        pi="park",
    )
    d.create_project(
        admin,
        name="kiast-speech",
        title="Speech recognition for public services",
        field="speech",
        organisation="kiast",
        pi="choi",
    )
    start, end = now - timedelta(days=1), now + timedelta(days=365)
    d.create_allocation(
        admin,
        project="snu-nlp",
        gpu_hours="1000",
        pools=["h100-ksc", "a100-gwangju", "rngd-gwangju"],
        starts_at=start,
        ends_at=end,
        tier="hub-member",
        note="demo: university hub member",
    )
    d.create_allocation(
        admin,
        project="hanbit-vision",
        gpu_hours="300",
        pools=["rngd-gwangju", "a100-gwangju"],
        starts_at=start,
        ends_at=end,
        tier="general",
        note="demo: startup programme",
    )
    d.create_allocation(
        admin,
        project="kiast-speech",
        gpu_hours="2000",
        pools=["h100-ksc"],
        starts_at=start,
        ends_at=end,
        tier="strategic",
        note="demo: national strategic project",
    )
    return {"admin": admin_token, "pi": pi_token, "researcher": researcher_token}


def _reissue(sessions: sessionmaker[Session], directory: Directory) -> dict[str, str]:
    with sessions.begin() as session:
        admin_row = session.scalar(select(UserRow).where(UserRow.name == DEMO_USERS["admin"]))
    if admin_row is None:
        raise RuntimeError("the demo was seeded but its admin user is gone")
    admin = Actor(user_id=admin_row.id, name=admin_row.name, role=Role(admin_row.role))
    return {key: directory.issue_token(admin, user, "demo") for key, user in DEMO_USERS.items()}


def _write_tokens(path: Path, tokens: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(json.dumps(tokens, indent=2) + "\n")
