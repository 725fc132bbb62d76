"""A call through its whole life on the service: proposals, reviews with conflicts refused,
normalised ranking, optimised awards within budget, an override with its reason, allocations
that jobs are then charged to, and the audit trail of every decision."""

from datetime import timedelta

import pytest

from nuri.domain.commons import Role
from nuri.domain.errors import Conflict, Forbidden, InvalidInput
from nuri.service.auth import Actor
from tests.conftest import World

RUBRIC = [
    {"name": "excellence", "weight": 0.5},
    {"name": "impact", "weight": 0.3},
    {"name": "feasibility", "weight": 0.2},
]
TEAMS = ["snu", "kaist", "postech", "hanbit", "gist", "unist"]


def actor(world: World, name: str, role: str, organisation: str | None) -> Actor:
    view, _ = world.commons.directory.create_user(
        world.admin, name=name, display_name=name, role=role, organisation=organisation
    )
    return Actor(view.id, name, Role(role))


@pytest.fixture
def call_world(world: World) -> tuple[World, Actor, dict[str, Actor], dict[str, Actor]]:
    d = world.commons.directory
    manager = actor(world, "moon", "manager", None)
    pis: dict[str, Actor] = {}
    for team in TEAMS:
        if team != "snu":
            kind = "startup" if team == "hanbit" else "university"
            d.create_organisation(world.admin, name=team, title=team, kind=kind)
        pi = world.pi if team == "snu" else actor(world, f"pi-{team}", "pi", team)
        project = f"{team}-llm"
        d.create_project(
            world.admin, name=project, title="", field="language", organisation=team, pi=pi.name
        )
        pis[team] = pi
    reviewers = {
        "han": actor(world, "han", "reviewer", "kaist"),
        "oh": actor(world, "oh", "reviewer", None),
        "yoon": actor(world, "yoon", "reviewer", None),
    }
    now = world.clock()
    world.commons.programmes.create_call(
        manager,
        name="llm-2027",
        title="Korean LLM foundation models 2027",
        opens_at=now - timedelta(days=1),
        closes_at=now + timedelta(days=14),
        budgets={"h100": 1000, "atom": 400},
        rubric=RUBRIC,
        award_starts_at=now + timedelta(days=15),
        award_ends_at=now + timedelta(days=200),
        eligible_kinds=["university", "startup"],
        tier="strategic",
    )
    return world, manager, pis, reviewers


def test_a_call_from_proposals_to_charged_awards(call_world) -> None:
    world, manager, pis, reviewers = call_world
    programmes = world.commons.programmes
    requests = {
        "snu": ({"h100": 600}, 300),
        "kaist": ({"h100": 500, "atom": 100}, 400),
        "postech": ({"h100": 300}, 100),
        "hanbit": ({"atom": 300}, 100),
        "gist": ({"h100": 400, "atom": 200}, 0),
        "unist": ({"h100": 200}, 200),
    }
    for team, (requested, minimum) in requests.items():
        programmes.create_proposal(
            pis[team], call="llm-2027", name=f"{team}-p", title=f"{team} model",
            abstract="A Korean model.", project=f"{team}-llm", requested=requested,
            minimum_hours=minimum,
        )  # fmt: skip
        programmes.submit_proposal(pis[team], "llm-2027", f"{team}-p")
    # A reviewer from KAIST may not review KAIST's proposal; a declared conflict is honoured too.
    with pytest.raises(Conflict, match="belongs to kaist"):
        programmes.assign_reviewer(manager, "llm-2027", "kaist-p", "han")
    programmes.declare_conflict(reviewers["oh"], "snu")
    with pytest.raises(Conflict, match="declared a conflict with snu"):
        programmes.assign_reviewer(manager, "llm-2027", "snu-p", "oh")
    with pytest.raises(Forbidden):
        programmes.assign_reviewer(pis["snu"], "llm-2027", "gist-p", "yoon")
    # The harsh reviewer (han) and the generous one (yoon) agree on order once normalised.
    harsh = {"snu": 3, "postech": 2, "hanbit": 1, "gist": 2, "unist": 1}
    generous = {"snu": 5, "kaist": 5, "postech": 4, "hanbit": 4, "gist": 4, "unist": 3}
    for team, value in harsh.items():
        programmes.assign_reviewer(manager, "llm-2027", f"{team}-p", "han")
        programmes.submit_review(reviewers["han"], "llm-2027", f"{team}-p",
                                 {"excellence": value, "impact": value, "feasibility": value})  # fmt: skip
    for team, value in generous.items():
        programmes.assign_reviewer(manager, "llm-2027", f"{team}-p", "yoon")
        programmes.submit_review(reviewers["yoon"], "llm-2027", f"{team}-p",
                                 {"excellence": value, "impact": value, "feasibility": value})  # fmt: skip
    with pytest.raises(InvalidInput, match="between 1 and 5; got 9"):
        programmes.submit_review(reviewers["yoon"], "llm-2027", "gist-p",
                                 {"excellence": 9, "impact": 1, "feasibility": 1})  # fmt: skip
    with pytest.raises(Forbidden, match="not assigned"):
        programmes.submit_review(reviewers["oh"], "llm-2027", "gist-p",
                                 {"excellence": 1, "impact": 1, "feasibility": 1})  # fmt: skip
    ranked = programmes.ranking(manager, "llm-2027")
    assert ranked[0].proposal == "snu-p"
    assert {r.proposal for r in ranked} == {f"{t}-p" for t in TEAMS}
    plan = programmes.propose_awards(manager, "llm-2027")
    totals: dict[str, int] = {}
    for granted in plan.granted.values():
        for pool, hours in granted.items():
            totals[pool] = totals.get(pool, 0) + hours
    assert totals["h100"] <= 1000 and totals.get("atom", 0) <= 400
    assert plan.granted["snu-p"] == {"h100": 600}
    # Deciding waits for the deadline; a late proposal is refused after it.
    with pytest.raises(Conflict, match="decide after"):
        programmes.decide_awards(manager, "llm-2027")
    world.clock.advance(15 * 86_400)
    with pytest.raises(Conflict, match="late proposals are not accepted"):
        programmes.create_proposal(pis["snu"], call="llm-2027", name="late", title="", abstract="",
                                   project="snu-llm", requested={"h100": 10})  # fmt: skip
    with pytest.raises(InvalidInput, match="needs a reason"):
        programmes.decide_awards(manager, "llm-2027", {"unist-p": ({"h100": 50}, " ")})
    with pytest.raises(InvalidInput, match="exceed the call's budget on h100"):
        programmes.decide_awards(
            manager, "llm-2027", {"unist-p": ({"h100": 1000}, "national priority")}
        )
    decided = {a.proposal: a for a in programmes.decide_awards(
        manager, "llm-2027", {"unist-p": ({"h100": 0}, "duplicate of an awarded 2026 project")}
    )}  # fmt: skip
    assert decided["unist-p"].granted == {} and decided["unist-p"].source == "override"
    assert decided["snu-p"].source == "optimiser" and decided["snu-p"].allocation_id is not None
    # The award is an allocation that jobs are charged to.
    allocations = world.commons.directory.list_allocations(world.admin, project="snu-llm")
    [allocation] = allocations
    assert allocation.awarded_gpu_hours == 600 and allocation.tier == "strategic"
    job = world.commons.jobs.submit(
        world.pi, project="snu-llm", pool="h100", gpus=4, time_limit_s=3600, command=["train"]
    )
    engine = world.engine()
    engine.cycle()
    world.clock.advance(1800)
    world.backend.finish(job.id)
    engine.cycle()
    charged = world.commons.directory.list_allocations(world.admin, project="snu-llm")[0]
    assert charged.used_gpu_hours == 2.0  # 4 H100 x 30 minutes
    actions = [entry["action"] for entry in programmes.audit(manager)]
    assert actions.count("award.override") == 1 and actions.count("award.decide") == 5
    assert "review.assign" in actions
    with pytest.raises(Conflict, match="already decided"):
        programmes.decide_awards(manager, "llm-2027")


def test_eligibility_and_requests_are_checked_when_a_proposal_is_made(call_world) -> None:
    world, _, pis, _ = call_world
    programmes = world.commons.programmes
    with pytest.raises(InvalidInput, match="funds only atom, h100; not a100"):
        programmes.create_proposal(pis["snu"], call="llm-2027", name="x", title="", abstract="",
                                   project="snu-llm", requested={"a100": 10})  # fmt: skip
    with pytest.raises(Forbidden, match="only the PI of snu-llm"):
        programmes.create_proposal(pis["gist"], call="llm-2027", name="x", title="", abstract="",
                                   project="snu-llm", requested={"h100": 10})  # fmt: skip
    with pytest.raises(InvalidInput, match="cannot exceed what is requested"):
        programmes.create_proposal(pis["snu"], call="llm-2027", name="x", title="", abstract="",
                                   project="snu-llm", requested={"h100": 10}, minimum_hours=20)  # fmt: skip
    world.commons.directory.create_organisation(
        world.admin, name="kari", title="", kind="institute"
    )
    pi = actor(world, "pi-kari", "pi", "kari")
    world.commons.directory.create_project(world.admin, name="kari-llm", title="", field="language",
                                           organisation="kari", pi="pi-kari")  # fmt: skip
    with pytest.raises(Forbidden, match="open to university, startup organisations"):
        programmes.create_proposal(pi, call="llm-2027", name="x", title="", abstract="",
                                   project="kari-llm", requested={"h100": 10})  # fmt: skip


def test_an_assigned_but_unscored_review_does_not_count(call_world) -> None:
    world, manager, pis, reviewers = call_world
    programmes = world.commons.programmes
    for team in ("gist", "postech"):
        programmes.create_proposal(pis[team], call="llm-2027", name=f"{team}-p", title="",
                                   abstract="", project=f"{team}-llm", requested={"h100": 100})  # fmt: skip
        programmes.submit_proposal(pis[team], "llm-2027", f"{team}-p")
        programmes.assign_reviewer(manager, "llm-2027", f"{team}-p", "yoon")
    programmes.submit_review(reviewers["yoon"], "llm-2027", "gist-p",
                             {"excellence": 4, "impact": 4, "feasibility": 4})  # fmt: skip
    [ranked] = programmes.ranking(manager, "llm-2027")
    assert ranked.proposal == "gist-p" and ranked.reviews == 1
    views = {p.name: p for p in programmes.list_proposals(manager, "llm-2027")}
    assert (views["postech-p"].reviews_assigned, views["postech-p"].reviews_submitted) == (1, 0)


def test_a_draft_can_be_changed_until_it_is_submitted(call_world) -> None:
    world, _, pis, _ = call_world
    programmes = world.commons.programmes
    programmes.create_proposal(pis["snu"], call="llm-2027", name="d", title="first", abstract="",
                               project="snu-llm", requested={"h100": 100})  # fmt: skip
    with pytest.raises(Forbidden, match="only the PI"):
        programmes.update_proposal(pis["gist"], "llm-2027", "d", title="mine")
    with pytest.raises(InvalidInput, match="not a100"):
        programmes.update_proposal(pis["snu"], "llm-2027", "d", requested={"a100": 5})
    changed = programmes.update_proposal(
        pis["snu"], "llm-2027", "d", requested={"h100": 300, "atom": 50}, minimum_hours=200
    )
    assert (changed.title, changed.requested, changed.minimum_hours) == (
        "first",
        {"h100": 300, "atom": 50},
        200,
    )
    programmes.submit_proposal(pis["snu"], "llm-2027", "d")
    with pytest.raises(Conflict, match="only drafts can be changed"):
        programmes.update_proposal(pis["snu"], "llm-2027", "d", title="late edit")
