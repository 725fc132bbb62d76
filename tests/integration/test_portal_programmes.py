"""Reviewers' and programme managers' portal pages through FastAPI's TestClient: the review form
on the call's rubric (field errors, CSRF, replacing scores, a closed call), the calls list and a
call's page (proposals, reviews, ranking, award plan, stages), assigning a reviewer with a
conflict of interest refused, and who may see what, in both languages."""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from nuri.api.app import create_app
from nuri.domain.commons import Role
from nuri.service.auth import Actor
from nuri.store.tables import CallRow
from tests.conftest import World
from tests.integration.test_portal import csrf_of, sign_in

CALL = "llm-2027"
RUBRIC = [
    {"name": "excellence", "weight": 0.5},
    {"name": "impact", "weight": 0.3},
    {"name": "feasibility", "weight": 0.2, "lowest": 0, "highest": 10},
]


@dataclass
class Programme:
    world: World
    tokens: dict[str, str]
    manager: Actor
    reviewer: Actor

    def signed_in(self, who: str, lang: str = "en") -> TestClient:
        app = create_app(self.world.commons, run_engine=False)
        client = TestClient(app, follow_redirects=False)
        client.cookies.set("nuri_lang", lang)
        response = sign_in(client, self.tokens[who])
        assert response.status_code == 303, response.text
        return client


def _actor(world: World, name: str, role: str, organisation: str | None) -> Actor:
    view, _ = world.commons.directory.create_user(
        world.admin, name=name, display_name=name, role=role, organisation=organisation
    )
    return Actor(view.id, name, Role(role))


@pytest.fixture
def programme(sqlite_world: World) -> Iterator[Programme]:
    """An open call with kim's proposal (nlp) and park's (vision); han reviews kim's; oh is from
    acme, park's organisation."""
    world = sqlite_world
    manager = _actor(world, "moon", "manager", None)
    reviewer = _actor(world, "han", "reviewer", None)
    _actor(world, "oh", "reviewer", "acme")
    now = world.clock()
    programmes = world.commons.programmes
    programmes.create_call(
        manager,
        name=CALL,
        title="Korean LLM 2027",
        opens_at=now - timedelta(days=1),
        closes_at=now + timedelta(days=14),
        budgets={"h100": 1000},
        rubric=RUBRIC,
        award_starts_at=now + timedelta(days=15),
        award_ends_at=now + timedelta(days=200),
        eligible_kinds=["university", "startup"],
        tier="strategic",
    )
    for pi, project in ((world.pi, "nlp"), (world.outsider, "vision")):
        programmes.create_proposal(
            pi,
            call=CALL,
            name=f"{project}-llm",
            title=f"{project}: a Korean LLM",
            abstract="Pre-training a Korean model.",
            project=project,
            requested={"h100": 600},
            minimum_hours=100,
        )
        programmes.submit_proposal(pi, CALL, f"{project}-llm")
    programmes.assign_reviewer(manager, CALL, "nlp-llm", "han")
    directory = world.commons.directory
    users = {"admin": "root", "pi": "kim", "member": "lee", "manager": "moon", "reviewer": "han"}
    tokens = {who: directory.issue_token(world.admin, user) for who, user in users.items()}
    yield Programme(world, tokens, manager, reviewer)


def review_form(client: TestClient, proposal: str = "nlp-llm") -> str:
    response = client.get(f"/reviews/{CALL}/{proposal}")
    assert response.status_code == 200, response.text
    return response.text


def post_review(client: TestClient, html: str, **fields: str) -> httpx.Response:
    data = {
        "csrf_token": csrf_of(html),
        "score.excellence": "4",
        "score.impact": "3",
        "score.feasibility": "7",
        "comment": "Solid plan.",
    } | fields
    return client.post(f"/reviews/{CALL}/nlp-llm", data=data)


# -- a reviewer ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "heading", "label"), [("en", "My reviews", "Excellence"), ("ko", "내 평가", "우수성")]
)
def test_a_reviewer_sees_assigned_proposals_and_the_rubric_as_a_form(
    programme: Programme, lang: str, heading: str, label: str
) -> None:
    """My reviews lists only the proposals assigned to me; the form has one labelled number input
    per criterion, bounded by its scale, and the menu links to the page."""
    client = programme.signed_in("reviewer", lang)
    page = client.get("/reviews")
    assert page.status_code == 200
    assert f"<h1>{heading}</h1>" in page.text
    assert 'href="/reviews" aria-current="page"' in page.text
    assert "nlp-llm" in page.text and "vision-llm" not in page.text
    html = review_form(client)
    assert f'<label for="score-0">{label}</label>' in html
    assert re.search(
        r'id="score-2" name="score.feasibility" type="number"[^>]*min="0" max="10"', html
    )
    assert 'for="comment"' in html


def test_scores_are_saved_shown_and_replaced(programme: Programme) -> None:
    """A valid form saves the scores (303 back to the form, which says so and shows them);
    sending it again replaces them."""
    client = programme.signed_in("reviewer")
    saved = post_review(client, review_form(client))
    assert saved.status_code == 303
    assert saved.headers["location"] == f"/reviews/{CALL}/nlp-llm?saved=1"
    shown = client.get(saved.headers["location"]).text
    assert 'role="status" id="saved">Your scores are saved' in shown
    assert 'name="score.excellence" type="number"' in shown and 'value="4"' in shown
    again = post_review(client, shown, **{"score.excellence": "5"})
    assert again.status_code == 303
    [review] = programme.world.commons.programmes.reviews(programme.manager, CALL)
    assert review.scores == {"excellence": 5, "impact": 3, "feasibility": 7}
    assert review.comment == "Solid plan."


@pytest.mark.parametrize(
    ("lang", "range_message", "missing_message"),
    [
        ("en", "The score must be from 1 to 5.", "Enter a whole number from 0 to 10."),
        ("ko", "점수는 1~5 사이여야 합니다.", "0~10 사이의 정수를 입력하세요."),
    ],
)
def test_each_fields_problem_is_shown_next_to_it(
    programme: Programme, lang: str, range_message: str, missing_message: str
) -> None:
    """A score outside its scale or not a whole number is reported at its field (400), with
    aria-invalid and a summary; nothing is saved and the typed values are kept."""
    client = programme.signed_in("reviewer", lang)
    response = post_review(
        client, review_form(client), **{"score.excellence": "9", "score.feasibility": "2.5"}
    )
    assert response.status_code == 400
    html = response.text
    assert re.search(r'id="score-0-error">.*?' + re.escape(range_message), html, re.S)
    assert re.search(r'id="score-2-error">.*?' + re.escape(missing_message), html, re.S)
    assert 'id="error-summary"' in html and 'aria-invalid="true"' in html
    assert 'value="2.5"' in html
    assert "score-1-error" not in html
    [review] = programme.world.commons.programmes.reviews(programme.manager, CALL)
    assert review.scores is None


def test_the_review_form_needs_its_csrf_token(programme: Programme) -> None:
    """A POST without the session's token is refused with a page (403) and saves nothing."""
    client = programme.signed_in("reviewer")
    html = review_form(client)
    for token in ("", "forged"):
        response = post_review(client, html, csrf_token=token)
        assert response.status_code == 403
        assert "This form has expired" in response.text
    [review] = programme.world.commons.programmes.reviews(programme.manager, CALL)
    assert review.scores is None


def test_unassigned_proposals_are_not_found_and_closed_calls_refuse_with_the_reason(
    programme: Programme,
) -> None:
    """Another proposal is "not found" for a reviewer; once the call is decided, the service's
    refusal is shown on the form with its status."""
    client = programme.signed_in("reviewer")
    assert client.get(f"/reviews/{CALL}/vision-llm").status_code == 404
    html = review_form(client)
    with programme.world.commons.sessions.begin() as session:  # as if the call were decided
        session.execute(update(CallRow).where(CallRow.name == CALL).values(state="decided"))
    refused = post_review(client, html)
    assert refused.status_code == 409
    assert 'id="refusal"' in refused.text and "reviews are closed" in refused.text


# -- a programme manager ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("en", ["Calls", "Ranking", "Award plan (optimiser)", "Reviews received"]),
        ("ko", ["공모", "순위", "배정안 (최적화)", "접수된 평가"]),
    ],
)
def test_a_manager_sees_calls_reviews_ranking_and_the_award_plan(
    programme: Programme, lang: str, words: list[str]
) -> None:
    """The calls list links to the call's page, which shows its proposals, the reviews received
    (with each criterion's score), the normalised ranking and the optimiser's plan within the
    budget."""
    programmes = programme.world.commons.programmes
    programmes.submit_review(
        programme.reviewer, CALL, "nlp-llm", {"excellence": 5, "impact": 4, "feasibility": 8}
    )
    client = programme.signed_in("manager", lang)
    calls = client.get("/calls")
    assert calls.status_code == 200 and words[0] in calls.text
    assert f'href="/calls/{CALL}"' in calls.text
    page = client.get(f"/calls/{CALL}")
    assert page.status_code == 200
    for word in words:
        assert word in page.text
    assert "vision-llm" in page.text and ">han<" in page.text
    plan = programmes.propose_awards(programme.manager, CALL)
    assert plan.granted["nlp-llm"]["h100"] == 600
    assert re.search(r"600 (of|중) 1,000|1,000 중 600", page.text)


def test_assigning_a_reviewer_with_a_conflict_shows_the_services_reason(
    programme: Programme,
) -> None:
    """Assigning oh (from acme) to park's proposal (acme) is refused with the service's words;
    assigning han works and comes back to the call; the form needs its CSRF token."""
    client = programme.signed_in("manager")
    html = client.get(f"/calls/{CALL}").text
    form = {"csrf_token": csrf_of(html), "proposal": "vision-llm", "reviewer": "oh"}
    refused = client.post(f"/calls/{CALL}/reviewers", data=form)
    assert refused.status_code == 409
    assert "conflict of interest" in refused.text and 'id="refusal"' in refused.text
    forged = client.post(f"/calls/{CALL}/reviewers", data=form | {"csrf_token": "x"})
    assert forged.status_code == 403
    assigned = client.post(f"/calls/{CALL}/reviewers", data=form | {"reviewer": "han"})
    assert assigned.status_code == 303
    assert "han is assigned" in client.get(assigned.headers["location"]).text


def test_a_reviewer_declares_a_conflict_and_can_then_not_be_assigned(
    programme: Programme,
) -> None:
    """han declares a conflict with park's proposal from the reviews page; the page lists it,
    a manager's assignment of han to it is refused, and a bad name is a page saying why."""
    client = programme.signed_in("reviewer")
    html = client.get("/reviews").text
    assert 'id="conflicts"' in html and "You have declared no conflicts." in html
    form = {"csrf_token": csrf_of(html), "subject": "vision-llm"}
    declared = client.post("/reviews/conflicts", data=form)
    assert declared.status_code == 303
    page = client.get(declared.headers["location"]).text
    assert "Declared a conflict with vision-llm." in page and "<li" in page
    assert client.post("/reviews/conflicts", data=form | {"csrf_token": "x"}).status_code == 403
    bad = client.post("/reviews/conflicts", data=form | {"subject": "Not A Name!"})
    assert (
        bad.status_code == 400
        and "is not valid" in bad.text
        and 'id="conflict-problem"' in bad.text
    )
    manager = programme.signed_in("manager")
    html = manager.get(f"/calls/{CALL}").text
    assignment = {"csrf_token": csrf_of(html), "proposal": "vision-llm", "reviewer": "han"}
    refused = manager.post(f"/calls/{CALL}/reviewers", data=assignment)
    assert refused.status_code == 409 and "conflict" in refused.text
    korean = programme.signed_in("reviewer", "ko").get("/reviews").text
    assert "이해 충돌" in korean and "vision-llm" in korean


@pytest.mark.parametrize("who", ["pi", "member", "reviewer"])
def test_only_managers_and_admins_see_calls(programme: Programme, who: str) -> None:
    """A PI, a member or a reviewer gets 403 for the calls and a call's page, and no link."""
    client = programme.signed_in(who)
    assert client.get("/calls").status_code == 403
    assert client.get(f"/calls/{CALL}").status_code == 403
    assert 'href="/calls"' not in client.get("/jobs").text
    admin = programme.signed_in("admin")
    assert admin.get(f"/calls/{CALL}").status_code == 200


def test_the_demo_competitions_stages_show_leaderboards_and_gates(programme: Programme) -> None:
    """A stage's leaderboard lists its teams; the gate says who would continue under its rule."""
    programmes = programme.world.commons.programmes
    programmes.submit_review(
        programme.reviewer, CALL, "nlp-llm", {"excellence": 5, "impact": 4, "feasibility": 8}
    )
    programme.world.clock.advance(15 * 86_400)
    programmes.decide_awards(programme.manager, CALL)
    programme.world.commons.competitions.add_stage(
        programme.manager,
        CALL,
        name="stage-1",
        ends_at=programme.world.clock() + timedelta(days=30),
        metric="perplexity",
        higher_is_better=False,
        top_k=1,
        task_pool="h100",
        task_gpus=1,
        task_time_limit_s=600,
        task_command=["python3", "eval.py"],
    )
    client = programme.signed_in("manager", "ko")
    page = client.get(f"/calls/{CALL}").text
    assert "1단계: stage-1" in page and "stage-1 순위표" in page
    assert "지금 단계 평가를 한다면 (top 1)" in page
    assert "nlp-llm" in page
