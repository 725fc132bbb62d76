"""A call through the HTTP API: six proposals, reviews with a conflict refused, the optimiser's
plan within budget, decided awards as allocations, a job charged to one, and clear 4xx refusals
for scores outside the rubric, late proposals and reviewing one's own organisation."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from nuri.api.app import create_app
from tests.conftest import World

TEAMS = ["snu", "kaist", "postech", "hanbit", "gist", "unist"]


@dataclass
class Api:
    client: TestClient
    world: World
    tokens: dict[str, str]

    def call(self, method: str, path: str, who: str, **body: object) -> tuple[int, Any]:
        response = self.client.request(
            method,
            f"/api/v1{path}",
            json=body or None,
            headers={"Authorization": f"Bearer {self.tokens[who]}"},
        )
        return response.status_code, response.json()


@pytest.fixture
def api(world: World) -> Iterator[Api]:
    d = world.commons.directory
    admin = world.admin
    for team in TEAMS[1:]:
        d.create_organisation(admin, name=team, title=team, kind="university")
    for team in TEAMS:
        pi = "kim" if team == "snu" else f"pi-{team}"
        if team != "snu":
            d.create_user(admin, name=pi, display_name=pi, role="pi", organisation=team)
        d.create_project(
            admin, name=f"{team}-llm", title="", field="language", organisation=team, pi=pi
        )
    d.create_user(admin, name="moon", display_name="", role="manager", organisation=None)
    d.create_user(admin, name="han", display_name="", role="reviewer", organisation="kaist")
    d.create_user(admin, name="yoon", display_name="", role="reviewer", organisation=None)
    users = ["root", "moon", "han", "yoon"] + ["kim"] + [f"pi-{t}" for t in TEAMS[1:]]
    tokens = {user: d.issue_token(admin, user) for user in users}
    with TestClient(create_app(world.commons, run_engine=False)) as client:
        yield Api(client, world, tokens)


def test_a_whole_call_through_the_api(api: Api) -> None:
    now = api.world.clock()
    status, call = api.call(
        "POST", "/calls", "moon",
        name="llm-2027", title="Korean LLMs", opens_at=(now - timedelta(days=1)).isoformat(),
        closes_at=(now + timedelta(days=14)).isoformat(), budgets={"h100": 1000, "atom": 400},
        rubric=[{"name": "excellence", "weight": 0.6}, {"name": "feasibility", "weight": 0.4}],
        award_starts_at=(now + timedelta(days=15)).isoformat(),
        award_ends_at=(now + timedelta(days=200)).isoformat(), tier="strategic",
    )  # fmt: skip
    assert status == 201, call
    for index, team in enumerate(TEAMS):
        pi = "kim" if team == "snu" else f"pi-{team}"
        status, body = api.call(
            "POST", "/calls/llm-2027/proposals", pi, name=f"{team}-p", project=f"{team}-llm",
            requested={"h100": 200 + 100 * index, "atom": 100}, minimum_hours=150,
        )  # fmt: skip
        assert status == 201, body
        status, body = api.call("PATCH", f"/calls/llm-2027/proposals/{team}-p", pi,
                                title=f"{team} Korean LLM")  # fmt: skip
        assert status == 200 and body["title"] == f"{team} Korean LLM", body
        assert api.call("POST", f"/calls/llm-2027/proposals/{team}-p/submit", pi)[0] == 200
    # Reviewing one's own organisation is refused with the reason.
    status, body = api.call(
        "POST", "/calls/llm-2027/proposals/kaist-p/reviewers", "moon", reviewer="han"
    )
    assert status == 409 and "belongs to kaist" in body["detail"]
    for index, team in enumerate(TEAMS):
        for reviewer in ("han", "yoon") if team != "kaist" else ("yoon",):
            assert api.call("POST", f"/calls/llm-2027/proposals/{team}-p/reviewers", "moon",
                            reviewer=reviewer)[0] == 201  # fmt: skip
            score = 5 - index % 5 if reviewer == "yoon" else max(1, 3 - index // 2)
            status, body = api.call("PUT", f"/calls/llm-2027/proposals/{team}-p/review", reviewer,
                                    scores={"excellence": score, "feasibility": score})  # fmt: skip
            assert status == 200, body
    # Scores outside the rubric: a clear 400.
    status, body = api.call("PUT", "/calls/llm-2027/proposals/snu-p/review", "yoon",
                            scores={"excellence": 7, "feasibility": 3})  # fmt: skip
    assert status == 400 and "between 1 and 5; got 7" in body["detail"]
    status, ranked = api.call("GET", "/calls/llm-2027/ranking", "moon")
    assert status == 200 and len(ranked) == 6
    status, plan = api.call("GET", "/calls/llm-2027/award-plan", "moon")
    assert status == 200
    granted = plan["granted"]
    for pool, budget in (("h100", 1000), ("atom", 400)):
        assert sum(g.get(pool, 0) for g in granted.values()) <= budget
    assert all(sum(g.values()) >= 150 for g in granted.values())
    # After the deadline: a late proposal is refused, the awards are decided.
    api.world.clock.advance(15 * 86_400)
    status, body = api.call("POST", "/calls/llm-2027/proposals", "kim", name="late",
                            project="snu-llm", requested={"h100": 10})  # fmt: skip
    assert status == 409 and "late proposals" in body["detail"]
    assert api.call("GET", "/calls/llm-2027/awards", "pi-gist") == (200, [])
    status, decided = api.call(
        "POST", "/calls/llm-2027/awards", "moon",
        overrides={"unist-p": {"granted": {"h100": 0}, "reason": "merged into kaist-p"}},
    )  # fmt: skip
    assert status == 201, decided
    by_name = {a["proposal"]: a for a in decided}
    assert by_name["unist-p"]["source"] == "override" and by_name["unist-p"]["granted"] == {}
    funded = [name for name, a in by_name.items() if a["granted"]]
    assert funded and all(by_name[name]["allocation_id"] for name in funded)
    # The award is spendable: a job of a funded project is admitted and charged to it.
    team = funded[0].removesuffix("-p")
    pi = "kim" if team == "snu" else f"pi-{team}"
    pool = next(iter(by_name[funded[0]]["granted"]))
    response = api.client.post(
        "/api/v1/jobs",
        json={"project": f"{team}-llm", "pool": pool, "gpus": 1, "time_limit_s": 600,
              "command": ["python", "eval.py"]},
        headers={"Authorization": f"Bearer {api.tokens[pi]}"},
    )  # fmt: skip
    assert response.status_code == 201, response.json()
    # Stage 1 of the competition: every funded team evaluates, the best two continue to stage 2.
    stage_end = now + timedelta(days=100)
    status, body = api.call(
        "POST", "/calls/llm-2027/stages", "moon", name="stage-1", ends_at=stage_end.isoformat(),
        metric="accuracy", top_k=2, task_command=["python", "eval.py"], task_pool="h100",
    )  # fmt: skip
    assert status == 201, body
    assert body["teams"] == sorted(funded)
    final_end = now + timedelta(days=200)
    assert api.call(
        "POST", "/calls/llm-2027/stages", "moon", name="stage-2", ends_at=final_end.isoformat(),
        metric="accuracy", top_k=1, task_command=["python", "eval.py"], task_pool="h100",
    )[0] == 201  # fmt: skip
    status, body = api.call("POST", "/calls/llm-2027/stages/stage-1/evaluations", "kim",
                            proposal="unist-p", model="x@1")  # fmt: skip
    assert status == 409 and "not competing" in body["detail"], body
    runs = {}
    for name in funded:
        team = name.removesuffix("-p")
        team_pi = "kim" if team == "snu" else f"pi-{team}"
        status, entry = api.call(
            "POST", "/catalogue", team_pi, kind="model", name=f"{team}-ko", version="1.0",
            project=f"{team}-llm", licence="LicenseRef-team-terms", uri=f"s3://models/{team}-ko/1.0",
            provenance="Continued pre-training of an open 7B model on Korean web text",
        )  # fmt: skip
        assert status == 201, entry
        status, run = api.call("POST", "/calls/llm-2027/stages/stage-1/evaluations", team_pi,
                               proposal=name, model=f"{team}-ko@1.0")  # fmt: skip
        assert status == 201, run
        runs[name] = run["job_id"]
    engine = api.world.engine()
    engine.cycle()
    api.world.clock.advance(600)
    scores = {name: 0.5 + 0.1 * index for index, name in enumerate(sorted(funded))}
    for name, job_id in runs.items():
        api.world.backend.finish(
            job_id, output=f'loading\n{{"accuracy": {scores[name]}}}\n'.encode()
        )
    engine.cycle()
    status, board = api.call("GET", "/calls/llm-2027/stages/stage-1/leaderboard", "pi-gist")
    assert status == 200
    ordered = sorted(funded, key=lambda name: -scores[name])
    assert [row["proposal"] for row in board] == ordered
    assert api.call("POST", "/calls/llm-2027/stages/stage-1/gate", "kim")[0] == 403
    status, decision = api.call("POST", "/calls/llm-2027/stages/stage-1/gate", "moon")
    assert status == 200, decision
    assert decision["advance"] == ordered[:2] and decision["stop"] == ordered[2:]
    by_id = {a.id: a for a in api.world.commons.directory.list_allocations(api.world.admin)}
    allocations = {name: by_id[by_name[name]["allocation_id"]] for name in funded}
    for name in ordered[:2]:
        assert allocations[name].ends_at == final_end  # extended to the end of stage 2
    for name in ordered[2:]:
        assert allocations[name].ends_at <= api.world.clock()  # ended
        assert allocations[name].used_gpu_hours > 0  # the evaluation job was charged
    status, body = api.call("GET", "/calls/llm-2027/stages", "moon")
    assert body[1]["teams"] == sorted(ordered[:2])
    assert api.call("POST", "/calls/llm-2027/stages/stage-1/gate", "moon")[0] == 409
    status, log = api.call("GET", "/audit", "moon")
    actions = [entry["action"] for entry in log]
    assert "award.override" in actions and actions.count("award.decide") == 5
    assert "stage.gate" in actions
    assert api.call("GET", "/audit", "kim")[0] == 403
