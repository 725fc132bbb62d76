"""The demo commons' competition: its history replayed through the use cases, stage 1 running."""

import json
import subprocess
from pathlib import Path

from nuri.backends.fake import FakeBackend
from nuri.domain.commons import Role
from nuri.engine.clock import ManualClock
from nuri.engine.cycle import SchedulingEngine
from nuri.policy.fifo import Fifo
from nuri.service.auth import Actor
from nuri.service.commons import open_commons
from nuri.service.demo import seed_demo
from nuri.service.demo_competition import CALL, seed_demo_competition
from nuri.service.settings import ServerSettings
from tests.conftest import START

SYSTEM_ADMIN = Actor(0, "root", Role.ADMIN)
"""An admin reads every award and run; no row is written as them."""


def test_the_demo_competition_is_mid_way_with_real_evaluations_queued(tmp_path: Path) -> None:
    clock = ManualClock(START)
    backend = FakeBackend(clock)
    settings = ServerSettings(home=tmp_path, database_url=f"sqlite+pysqlite:///{tmp_path / 'n.db'}")
    commons = open_commons(settings, clock=clock, backend=backend)
    assert seed_demo(commons.sessions, commons.directory, clock, settings.demo_tokens_path)
    seed_demo_competition(commons, tmp_path)
    call = commons.programmes.show_call(CALL)
    assert call.state == "decided" and call.proposals == 4
    awards = commons.programmes.awards(SYSTEM_ADMIN, CALL)
    assert len(awards) == 4 and all(
        a.granted.get("rngd-gwangju") == 100 for a in awards if a.granted
    )
    stages = commons.competitions.stages(CALL)
    assert [(s.name, s.state) for s in stages] == [("stage-1", "open"), ("stage-2", "open")]
    runs = commons.competitions.evaluations(SYSTEM_ADMIN, CALL, "stage-1")
    assert sorted(r.proposal for r in runs) == sorted(stages[0].teams) and len(runs) >= 3
    # The queued evaluation jobs run the real task on each team's registered model.
    engine = SchedulingEngine(
        sessions=commons.sessions, backend=backend, policy=Fifo(), clock=clock, holder="t"
    )
    engine.cycle()
    for launch in list(backend.running.values()):
        result = subprocess.run(launch.command, capture_output=True, check=True, timeout=60)
        backend.finish(launch.job_id, output=result.stdout)
    engine.cycle()
    board = commons.competitions.leaderboard(CALL, "stage-1")
    values = [row.value for row in board]
    assert all(value is not None for value in values) and values == sorted(values)  # type: ignore[type-var]
    assert board[0].proposal == "snu-llm"  # its model saw the most of the held-out vocabulary
    model = json.loads((tmp_path / "demo-models" / "snu-llm-ko-1.0.json").read_text())
    assert abs(sum(model.values()) - 1.0) < 1e-9
