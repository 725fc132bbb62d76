"""The demo commons: seeded once, tokens written, and rewritten if the file is lost."""

import json
import stat
from pathlib import Path

from nuri.engine.clock import ManualClock
from nuri.service.commons import open_commons
from nuri.service.demo import seed_demo
from nuri.service.settings import ServerSettings
from tests.conftest import START


def test_demo_seeds_once_and_its_tokens_work(tmp_path: Path) -> None:
    """Two hubs, an H100, an A100 and an NPU pool, three organisations; tokens for three roles."""
    settings = ServerSettings(home=tmp_path)
    commons = open_commons(settings, clock=ManualClock(START))
    assert seed_demo(commons.sessions, commons.directory, commons.clock, settings.demo_tokens_path)
    tokens = json.loads(settings.demo_tokens_path.read_text())
    assert set(tokens) == {"admin", "pi", "researcher"}
    assert stat.S_IMODE(settings.demo_tokens_path.stat().st_mode) == 0o600
    roles = {key: commons.directory.actor_for_token(token) for key, token in tokens.items()}
    assert {key: (actor.name, actor.role.value) for key, actor in roles.items() if actor} == {
        "admin": ("admin", "admin"),
        "pi": ("kim", "pi"),
        "researcher": ("lee", "member"),
    }
    pools = commons.directory.list_pools()
    assert {pool.accelerator for pool in pools} == {"H100", "A100", "RNGD"}
    assert len(commons.directory.list_hubs()) == 2
    assert {o.kind for o in commons.directory.list_organisations()} == {
        "university",
        "startup",
        "institute",
    }
    assert not seed_demo(
        commons.sessions, commons.directory, commons.clock, settings.demo_tokens_path
    )
    assert json.loads(settings.demo_tokens_path.read_text()) == tokens
    commons.close()


def test_lost_demo_tokens_are_issued_afresh(tmp_path: Path) -> None:
    """If demo-tokens.json is deleted, the next serve --demo writes new working tokens."""
    settings = ServerSettings(home=tmp_path)
    commons = open_commons(settings, clock=ManualClock(START))
    seed_demo(commons.sessions, commons.directory, commons.clock, settings.demo_tokens_path)
    settings.demo_tokens_path.unlink()
    assert not seed_demo(
        commons.sessions, commons.directory, commons.clock, settings.demo_tokens_path
    )
    tokens = json.loads(settings.demo_tokens_path.read_text())
    actor = commons.directory.actor_for_token(tokens["researcher"])
    assert actor is not None and actor.name == "lee"
    commons.close()
