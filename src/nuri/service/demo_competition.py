"""The demo commons' staged competition: a Korean language-model challenge, mid-way.

Seeded after the demo commons (:mod:`nuri.service.demo`). Its history is replayed through the
same use cases as any call, on a clock set back in time: the call opened two months ago and
closed a month ago; four teams proposed; two reviewers scored them (a conflict of interest kept
one of them off a proposal); the awards were decided a month ago and are in force. Stage 1 is
running: each team registered its model in the catalogue, and its evaluation run is queued as a
job that the scheduler runs as soon as the server starts (the task is
:mod:`nuri.service.demo_evaluation`: a real perplexity measurement of each team's model).
"""

import json
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from nuri.domain.commons import Role
from nuri.engine.clock import ManualClock
from nuri.service.auth import Actor
from nuri.service.catalogue import Catalogue
from nuri.service.commons import Commons
from nuri.service.competitions import Competitions
from nuri.service.demo_evaluation import train
from nuri.service.programmes import Programmes
from nuri.service.views import UserView
from nuri.store.tables import UserRow

CALL = "ko-llm-2027"
RUBRIC = [
    {"name": "excellence", "weight": 0.4},
    {"name": "impact", "weight": 0.35},
    {"name": "feasibility", "weight": 0.25},
]
# Each team's training text: how much of the held-out vocabulary a model has seen decides its
# perplexity, so the teams' results differ for a reason one can read here.
TEAMS = {
    "snu-llm": (
        "kim",
        "국가 인공지능 컴퓨팅 자원 은 연구자 모두 에게 열려 있다 . 대학 연구실 은 GPU 를"
        " 받는다 . 지역 데이터 센터 의 국산 NPU 도 같은 방식 으로 배정 된다 . 사용량 과 비용 은"
        " 공개 된다 .",
    ),
    "hanbit-llm": (
        "park",
        "연구자 는 GPU 를 받는다 . 데이터 센터 의 NPU 는 같은 방식 으로 쓰인다 .",
    ),
    "kiast-llm": (
        "choi",
        "공공 서비스 의 음성 인식 은 국산 NPU 로 운영 된다 . 비용 은 공개 된다 .",
    ),
    "unist-llm": ("ryu", "울산 의 연구실 은 인공지능 자원 을 받는다 ."),
}
SCORES = {  # reviewer -> team -> score on every criterion
    "han": {"snu-llm": 5, "hanbit-llm": 4, "kiast-llm": 3, "unist-llm": 3},
    "seo": {"snu-llm": 4, "hanbit-llm": 4, "kiast-llm": 2},  # seo is from UNIST: a conflict
}


def seed_demo_competition(commons: Commons, home: Path) -> None:
    """Replay the competition's history into a freshly seeded demo commons."""
    now = commons.clock()
    d = commons.directory
    admin = _actor_named(commons, "admin")
    d.create_organisation(
        admin,
        name="unist",
        title="Ulsan National Institute of Science and Technology",
        kind="university",
    )
    d.create_user(admin, name="ryu", display_name="Ryu Hana", role="pi", organisation="unist")
    manager = _user(commons, admin, "moon", "Moon Jiho", "manager", None)
    reviewers = {
        "han": _user(commons, admin, "han", "Han Sora", "reviewer", None),
        "seo": _user(commons, admin, "seo", "Seo Jun", "reviewer", "unist"),
    }
    organisations = {"kim": "snu", "park": "hanbit-ai", "choi": "kiast", "ryu": "unist"}
    for project, (pi, _) in TEAMS.items():
        d.create_project(admin, name=project, title=f"Korean LLM ({organisations[pi]})",
                         field="language", organisation=organisations[pi], pi=pi)  # fmt: skip
    pis = {pi: _actor_named(commons, pi) for pi, _ in TEAMS.values()}

    past = ManualClock(now - timedelta(days=61))
    programmes = Programmes(commons.sessions, past)
    programmes.create_call(
        manager,
        name=CALL,
        title="Korean foundation language models 2027 (demo)",
        opens_at=now - timedelta(days=61),
        closes_at=now - timedelta(days=31),
        budgets={"h100-ksc": 4000, "a100-gwangju": 2000, "rngd-gwangju": 1000},
        rubric=RUBRIC,
        award_starts_at=now - timedelta(days=30),
        award_ends_at=now + timedelta(days=60),
        eligible_kinds=["university", "startup", "institute"],
        tier="strategic",
    )
    past.set(now - timedelta(days=50))
    # Every team asks for some NPU hours: the stage's evaluations run on the domestic NPU pool.
    requests = {
        "snu-llm": {"h100-ksc": 1500, "a100-gwangju": 500, "rngd-gwangju": 100},
        "hanbit-llm": {"h100-ksc": 1200, "rngd-gwangju": 100},
        "kiast-llm": {"h100-ksc": 1000, "a100-gwangju": 800, "rngd-gwangju": 100},
        "unist-llm": {"a100-gwangju": 900, "rngd-gwangju": 100},
    }
    for project, (pi, _) in TEAMS.items():
        programmes.create_proposal(
            pis[pi], call=CALL, name=project, title=f"{project}: a Korean LLM",
            abstract="Pre-training and evaluation of a Korean language model.",
            project=project, requested=requests[project], minimum_hours=400,
        )  # fmt: skip
        programmes.submit_proposal(pis[pi], CALL, project)
    past.set(now - timedelta(days=40))
    for reviewer, scores in SCORES.items():
        for project, score in scores.items():
            programmes.assign_reviewer(manager, CALL, project, reviewer)
            programmes.submit_review(
                reviewers[reviewer],
                CALL,
                project,
                {c["name"]: score for c in RUBRIC},  # type: ignore[misc]
            )
    past.set(now - timedelta(days=30))
    programmes.decide_awards(manager, CALL)

    catalogue = Catalogue(commons.sessions, commons.clock)
    competitions = Competitions(
        commons.sessions, commons.clock, commons.jobs, commons.backend.logs, catalogue
    )
    competitions.add_stage(
        manager, CALL, name="stage-1", ends_at=now + timedelta(days=15), metric="perplexity",
        higher_is_better=False, top_k=2, task_pool="rngd-gwangju", task_gpus=1,
        task_time_limit_s=600, task_command=[sys.executable, "-m", "nuri.service.demo_evaluation"],
    )  # fmt: skip
    competitions.add_stage(
        manager, CALL, name="stage-2", ends_at=now + timedelta(days=60), metric="perplexity",
        higher_is_better=False, top_k=1, task_pool="rngd-gwangju", task_gpus=1,
        task_time_limit_s=600, task_command=[sys.executable, "-m", "nuri.service.demo_evaluation"],
    )  # fmt: skip
    models = home / "demo-models"
    models.mkdir(parents=True, exist_ok=True)
    teams = set(competitions.stages(CALL)[0].teams)
    for project, (pi, text) in TEAMS.items():
        path = models / f"{project}-ko-1.0.json"
        path.write_text(json.dumps(train(text), ensure_ascii=False), encoding="utf-8")
        catalogue.register(
            pis[pi], kind="model", name=f"{project}-ko", version="1.0", project=project,
            licence="CC-BY-4.0" if project == "snu-llm" else f"LicenseRef-{project}",
            provenance=f"Unigram model estimated from the team's demo training text ({len(text.split())} words)",
            uri=str(path), visibility="public" if project == "snu-llm" else "project",
            tier="open" if project == "snu-llm" else "premium",
        )  # fmt: skip
        if project in teams:
            competitions.submit_evaluation(pis[pi], CALL, "stage-1", project, f"{project}-ko@1.0")


def _actor_named(commons: Commons, name: str) -> Actor:
    with commons.sessions.begin() as session:
        row = session.scalar(select(UserRow).where(UserRow.name == name))
        assert row is not None, f"the demo has no user {name}"
        return Actor(row.id, row.name, Role(row.role))


def _user(
    commons: Commons, admin: Actor, name: str, display: str, role: str, organisation: str | None
) -> Actor:
    view: UserView
    view, _ = commons.directory.create_user(
        admin, name=name, display_name=display, role=role, organisation=organisation
    )
    return Actor(view.id, view.name, Role(view.role))
