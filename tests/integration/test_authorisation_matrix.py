"""Nobody where they do not belong: every API route and tenant page, against every role.

``MATRIX`` holds one row per route (method and path template, exactly as the app declares it):
which signed-in roles may do it on the nlp tenant's records, and whether it is about a tenant's
records at all (then nlp's member and PI are also sent at vision's records and must be refused).
The tests then pin, for every row:

- without a usable token (none, unknown, expired, revoked) the API answers 401 and the portal
  sends the browser to sign in;
- each role in the row succeeds, every other role gets 403 or 404;
- another tenant's record is refused the same way and its data never appears in an answer;
- a refused request changes nothing in the database (every table's rows compared);
- no route of the app is missing from the table.

Each test starts from the same seeded commons (see ``authorisation_seed``), restored in a few
milliseconds, so that one role's write cannot change what the next role sees.
"""

import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from nuri.api.app import create_app
from nuri.store.tables import Base
from nuri.web.csrf import CSRF_FIELD
from nuri.web.pages import SESSION_COOKIE
from nuri.web.sessions import WebSessions
from tests.conftest import START
from tests.integration.authorisation_seed import (
    NLP_SECRET,
    ROLES,
    UNAUTHENTICATED,
    USER_OF_ROLE,
    VISION_SECRET,
    Seeded,
    seed,
)

EVERYONE = frozenset(ROLES)
ADMIN = frozenset({"admin"})
MANAGERS = frozenset({"manager", "admin"})
NLP_TEAM = frozenset({"member", "pi", "admin"})


@dataclass(frozen=True)
class Call:
    """One concrete request: where, and with which JSON body (API) or form (portal)."""

    path: str
    body: dict[str, Any] | None = None


Build = Callable[[Seeded, str, bool], Call]
"""(seeded commons, role, ``own``) -> the request; ``own`` False aims at the other tenant."""


@dataclass(frozen=True)
class Rule:
    """Who may call a route on nlp's records, and whether records of a tenant are involved."""

    who: frozenset[str]
    build: Build
    tenant: bool = False
    note: str = ""
    portal: bool = False
    shows_assigned_proposals: bool = False
    """A reviewer sees the proposals assigned to them, whichever tenant wrote them."""
    refused_with: tuple[int, ...] = (403, 404)


def at(path: str, body: dict[str, Any] | None = None) -> Build:
    """The same request for every role and tenant (routes about no tenant's record)."""
    return lambda _seeded, _role, _own: Call(path, body)


def tenant(make: Callable[[Seeded, str], Call]) -> Build:
    """A request about a tenant's record: nlp's when ``own``, vision's otherwise."""
    return lambda seeded, _role, own: make(seeded, "nlp" if own else "vision")


def own_user(make: Callable[[str], Call]) -> Build:
    """A request about a user: the caller themselves when ``own``, park otherwise."""
    return lambda _seeded, role, own: make(USER_OF_ROLE.get(role, "lee") if own else "park")


def job(suffix: str = "") -> Build:
    return tenant(lambda s, project: Call(f"/jobs/{s.job_ids[project]}{suffix}"))


def revoke_spare(seeded: Seeded, role: str, own: bool) -> Call:
    user = USER_OF_ROLE.get(role, "lee") if own else "park"
    return Call(f"/users/{user}/tokens/{seeded.spare_token_ids[user]}/revoke")


def job_body(project: str) -> dict[str, Any]:
    return {"project": project, "pool": "h100", "gpus": 1, "time_limit_s": 60, "command": ["x"]}


def dates(days: int = 10) -> dict[str, str]:
    return {
        "starts_at": START.isoformat(),
        "ends_at": (START + timedelta(days=days)).isoformat(),
    }


MATRIX: dict[tuple[str, str], Rule] = {
    # -- directory -------------------------------------------------------------------------------
    ("GET", "/api/v1/me"): Rule(EVERYONE, at("/me")),
    ("GET", "/api/v1/hubs"): Rule(EVERYONE, at("/hubs"), note="the commons' sites are public"),
    ("POST", "/api/v1/hubs"): Rule(ADMIN, at("/hubs", {"name": "new", "operator": "university"})),
    ("GET", "/api/v1/pools"): Rule(EVERYONE, at("/pools")),
    ("POST", "/api/v1/pools"): Rule(
        ADMIN,
        at(
            "/pools",
            {
                "name": "new",
                "hub": "ksc",
                "accelerator": "A100",
                "nodes": 1,
                "devices_per_node": 8,
                "exchange_rate": "0.5",
                "krw_per_device_hour": 1000,
            },
        ),
    ),
    ("GET", "/api/v1/organisations"): Rule(EVERYONE, at("/organisations")),
    ("POST", "/api/v1/organisations"): Rule(
        ADMIN, at("/organisations", {"name": "new", "kind": "startup"})
    ),
    ("GET", "/api/v1/users"): Rule(EVERYONE, at("/users"), note="non-admins see themselves"),
    ("POST", "/api/v1/users"): Rule(ADMIN, at("/users", {"name": "new", "role": "member"})),
    ("POST", "/api/v1/users/{name}/tokens"): Rule(
        EVERYONE,
        own_user(lambda user: Call(f"/users/{user}/tokens", {"label": "x"})),
        tenant=True,
        note="yourself; anyone's for admins",
    ),
    ("GET", "/api/v1/users/{name}/tokens"): Rule(
        EVERYONE, own_user(lambda user: Call(f"/users/{user}/tokens")), tenant=True
    ),
    ("POST", "/api/v1/users/{name}/tokens/{token_id}/revoke"): Rule(
        EVERYONE, revoke_spare, tenant=True
    ),
    ("GET", "/api/v1/projects"): Rule(EVERYONE, at("/projects"), note="yours only"),
    ("POST", "/api/v1/projects"): Rule(
        ADMIN,
        at(
            "/projects",
            {"name": "new", "field": "vision", "organisation": "snu", "pi": "kim"},
        ),
    ),
    ("POST", "/api/v1/projects/{name}/members"): Rule(
        frozenset({"pi", "admin"}),
        tenant(lambda _s, project: Call(f"/projects/{project}/members", {"user": "seo"})),
        tenant=True,
    ),
    ("GET", "/api/v1/projects/{name}/usage"): Rule(
        NLP_TEAM, tenant(lambda _s, project: Call(f"/projects/{project}/usage")), tenant=True
    ),
    ("GET", "/api/v1/allocations"): Rule(EVERYONE, at("/allocations"), note="yours only"),
    ("POST", "/api/v1/allocations"): Rule(
        ADMIN, at("/allocations", {"project": "nlp", "gpu_hours": "1", "pools": ["h100"]} | dates())
    ),
    ("GET", "/api/v1/reservations"): Rule(
        EVERYONE, at("/reservations"), note="held devices are part of the commons' capacity"
    ),
    ("POST", "/api/v1/reservations"): Rule(
        ADMIN, at("/reservations", {"name": "new", "pool": "atom", "nodes": 1} | dates())
    ),
    ("POST", "/api/v1/reservations/{name}/demand"): Rule(
        ADMIN, at("/reservations/svc/demand", {"wanted": 1})
    ),
    # -- jobs --------------------------------------------------------------------------------------
    ("GET", "/api/v1/jobs"): Rule(EVERYONE, at("/jobs"), note="your projects' jobs only"),
    ("POST", "/api/v1/jobs"): Rule(
        NLP_TEAM, tenant(lambda _s, project: Call("/jobs", job_body(project))), tenant=True
    ),
    ("GET", "/api/v1/jobs/{job_id}"): Rule(NLP_TEAM, job(), tenant=True),
    ("POST", "/api/v1/jobs/{job_id}/cancel"): Rule(NLP_TEAM, job("/cancel"), tenant=True),
    ("GET", "/api/v1/jobs/{job_id}/logs"): Rule(NLP_TEAM, job("/logs"), tenant=True),
    # -- programmes ------------------------------------------------------------------------------
    ("POST", "/api/v1/calls"): Rule(
        MANAGERS,
        at(
            "/calls",
            {
                "name": "new",
                "opens_at": START.isoformat(),
                "closes_at": (START + timedelta(days=9)).isoformat(),
                "budgets": {"h100": 10},
                "rubric": [{"name": "merit", "weight": 1}],
                "award_starts_at": START.isoformat(),
                "award_ends_at": (START + timedelta(days=90)).isoformat(),
            },
        ),
    ),
    ("GET", "/api/v1/calls"): Rule(EVERYONE, at("/calls"), note="calls are announced publicly"),
    ("GET", "/api/v1/calls/{call}"): Rule(EVERYONE, at("/calls/llm")),
    ("POST", "/api/v1/calls/{call}/proposals"): Rule(
        frozenset({"pi"}),
        tenant(
            lambda _s, project: Call(
                "/calls/llm/proposals",
                {"name": "new", "project": project, "requested": {"h100": 5}},
            )
        ),
        tenant=True,
        note="the project's PI only",
    ),
    ("GET", "/api/v1/calls/{call}/proposals"): Rule(
        EVERYONE,
        at("/calls/llm/proposals"),
        note="managers all; PIs theirs; reviewers those assigned to them",
        shows_assigned_proposals=True,
    ),
    ("PATCH", "/api/v1/calls/{call}/proposals/{proposal}"): Rule(
        frozenset({"pi"}),
        tenant(lambda _s, p: Call(f"/calls/llm/proposals/{p}-draft", {"title": "changed"})),
        tenant=True,
    ),
    ("POST", "/api/v1/calls/{call}/proposals/{proposal}/submit"): Rule(
        frozenset({"pi"}),
        tenant(lambda _s, p: Call(f"/calls/llm/proposals/{p}-draft/submit")),
        tenant=True,
    ),
    ("POST", "/api/v1/calls/{call}/proposals/{proposal}/withdraw"): Rule(
        frozenset({"pi"}),
        tenant(lambda _s, p: Call(f"/calls/llm/proposals/{p}-prop/withdraw")),
        tenant=True,
    ),
    ("POST", "/api/v1/calls/{call}/proposals/{proposal}/reviewers"): Rule(
        MANAGERS, at("/calls/llm/proposals/nlp-prop/reviewers", {"reviewer": "seo"})
    ),
    ("PUT", "/api/v1/calls/{call}/proposals/{proposal}/review"): Rule(
        frozenset({"reviewer"}),
        at("/calls/llm/proposals/nlp-prop/review", {"scores": {"merit": 3}}),
        note="only a reviewer assigned to the proposal",
    ),
    ("GET", "/api/v1/calls/{call}/reviews"): Rule(
        EVERYONE, at("/calls/early/reviews"), note="managers all; a reviewer their own"
    ),
    ("POST", "/api/v1/conflicts"): Rule(
        EVERYONE, at("/conflicts", {"subject": "snu"}), note="one's own declarations"
    ),
    ("GET", "/api/v1/calls/{call}/ranking"): Rule(MANAGERS, at("/calls/early/ranking")),
    ("GET", "/api/v1/calls/{call}/award-plan"): Rule(MANAGERS, at("/calls/closed/award-plan")),
    ("POST", "/api/v1/calls/{call}/awards"): Rule(MANAGERS, at("/calls/closed/awards", {})),
    ("GET", "/api/v1/calls/{call}/awards"): Rule(
        EVERYONE, at("/calls/early/awards"), note="managers all; others their projects' awards"
    ),
    ("GET", "/api/v1/audit"): Rule(MANAGERS, at("/audit")),
    ("POST", "/api/v1/calls/{call}/stages"): Rule(
        MANAGERS,
        at(
            "/calls/early/stages",
            {
                "name": "s2",
                "ends_at": (START + timedelta(days=20)).isoformat(),
                "metric": "accuracy",
                "top_k": 1,
                "task_command": ["python", "eval.py"],
                "task_pool": "h100",
            },
        ),
    ),
    ("GET", "/api/v1/calls/{call}/stages"): Rule(EVERYONE, at("/calls/early/stages")),
    ("POST", "/api/v1/calls/{call}/stages/{stage}/evaluations"): Rule(
        NLP_TEAM,
        tenant(
            lambda _s, p: Call(
                "/calls/early/stages/s1/evaluations",
                {"proposal": f"{p}-early", "model": f"{p}-model@1"},
            )
        ),
        tenant=True,
        note="a member of the competing team (charged to its project)",
    ),
    ("GET", "/api/v1/calls/{call}/stages/{stage}/evaluations"): Rule(
        EVERYONE, at("/calls/early/stages/s1/evaluations"), note="managers all; others their own"
    ),
    ("GET", "/api/v1/calls/{call}/stages/{stage}/leaderboard"): Rule(
        EVERYONE,
        at("/calls/early/stages/s1/leaderboard"),
        note="published standings: team names and scores only",
    ),
    ("POST", "/api/v1/calls/{call}/stages/{stage}/gate"): Rule(
        MANAGERS, at("/calls/early/stages/s1/gate")
    ),
    # -- catalogue -------------------------------------------------------------------------------
    ("POST", "/api/v1/catalogue"): Rule(
        NLP_TEAM,
        tenant(
            lambda _s, project: Call(
                "/catalogue",
                {
                    "kind": "dataset",
                    "name": "new",
                    "version": "1",
                    "project": project,
                    "licence": "CC-BY-4.0",
                    "provenance": "crawl",
                    "uri": "file:///d",
                },
            )
        ),
        tenant=True,
    ),
    ("GET", "/api/v1/catalogue"): Rule(EVERYONE, at("/catalogue"), note="what the caller may see"),
    ("GET", "/api/v1/catalogue/purchases"): Rule(EVERYONE, at("/catalogue/purchases")),
    ("GET", "/api/v1/catalogue/{kind}/{reference}"): Rule(
        NLP_TEAM | MANAGERS,
        tenant(lambda _s, project: Call(f"/catalogue/model/{project}-model@1")),
        tenant=True,
        note="managers see every entry (they buy premium ones)",
    ),
    ("POST", "/api/v1/catalogue/{kind}/{reference}/purchases"): Rule(
        MANAGERS,
        at("/catalogue/model/nlp-model@1/purchases", {"buyer": "nia", "krw": 1, "contract": "c1"}),
    ),
    # -- classroom -------------------------------------------------------------------------------
    ("POST", "/api/v1/courses"): Rule(
        MANAGERS,
        at(
            "/courses",
            {
                "name": "ai102",
                "instructor": "kim",
                "gpu_hours": "1",
                "cap_gpu_hours": "1",
                "pools": ["h100"],
                "starts_at": START.isoformat(),
                "term_ends_at": (START + timedelta(days=30)).isoformat(),
            },
        ),
    ),
    ("GET", "/api/v1/courses/{course}"): Rule(
        frozenset({"pi", "student"}) | MANAGERS,
        at("/courses/ai101"),
        note="its instructor (kim) and students",
    ),
    ("POST", "/api/v1/courses/{course}/students"): Rule(
        frozenset({"pi"}) | MANAGERS,
        at("/courses/ai101/students", {"students_csv": "name,display_name\ns9,\n"}),
    ),
    ("GET", "/api/v1/courses/{course}/students"): Rule(
        frozenset({"pi"}) | MANAGERS, at("/courses/ai101/students")
    ),
    # -- reports -----------------------------------------------------------------------------------
    ("GET", "/api/v1/demand"): Rule(MANAGERS, at("/demand?days=1")),
    ("GET", "/api/v1/forecasts"): Rule(MANAGERS, at("/forecasts?days=5&horizon=2h")),
    ("GET", "/api/v1/reports/spend"): Rule(MANAGERS, at("/reports/spend")),
    ("GET", "/api/v1/reports/burn-down"): Rule(
        EVERYONE, at("/reports/burn-down"), note="the caller's awards"
    ),
    ("GET", "/api/v1/reports/burn-down/programmes"): Rule(
        MANAGERS, at("/reports/burn-down/programmes")
    ),
    ("GET", "/api/v1/reports/burn-down/{allocation_id}"): Rule(
        NLP_TEAM | MANAGERS,
        tenant(lambda s, project: Call(f"/reports/burn-down/{s.allocation_ids[project]}")),
        tenant=True,
    ),
    ("GET", "/api/v1/reports/needs"): Rule(MANAGERS, at("/reports/needs?days=1")),
    # -- the portal's pages that show or change tenant data ------------------------------------
    ("GET", "/jobs"): Rule(EVERYONE, at("/jobs"), portal=True),
    ("GET", "/jobs/rows"): Rule(EVERYONE, at("/jobs/rows"), portal=True),
    ("GET", "/jobs/new"): Rule(EVERYONE, at("/jobs/new"), portal=True),
    ("POST", "/jobs/new"): Rule(
        NLP_TEAM,
        tenant(
            lambda _s, project: Call(
                "/jobs/new",
                {"project": project, "target": "pool:h100", "gpus": "1", "time_limit": "10m"}
                | {"command": "python x.py"},
            )
        ),
        tenant=True,
        portal=True,
        refused_with=(400, 403, 404),
        note="the form offers only your projects; another one is a field error (400)",
    ),
    ("GET", "/jobs/{job_id}"): Rule(NLP_TEAM, job(), tenant=True, portal=True),
    ("GET", "/jobs/{job_id}/status"): Rule(NLP_TEAM, job("/status"), tenant=True, portal=True),
    ("GET", "/jobs/{job_id}/log"): Rule(NLP_TEAM, job("/log"), tenant=True, portal=True),
    ("POST", "/jobs/{job_id}/cancel"): Rule(NLP_TEAM, job("/cancel"), tenant=True, portal=True),
    ("GET", "/projects"): Rule(EVERYONE, at("/projects"), portal=True),
    ("GET", "/projects/{name}"): Rule(
        NLP_TEAM, tenant(lambda _s, p: Call(f"/projects/{p}")), tenant=True, portal=True
    ),
    ("GET", "/projects/{name}/team"): Rule(
        NLP_TEAM, tenant(lambda _s, p: Call(f"/projects/{p}/team")), tenant=True, portal=True
    ),
    ("GET", "/proposals"): Rule(EVERYONE, at("/proposals"), portal=True),
    ("GET", "/reviews"): Rule(EVERYONE, at("/reviews"), portal=True),
    ("GET", "/reviews/{call}/{proposal}"): Rule(
        frozenset({"reviewer"}),
        at("/reviews/llm/nlp-prop"),
        portal=True,
        shows_assigned_proposals=True,
    ),
    ("POST", "/reviews/{call}/{proposal}"): Rule(
        frozenset({"reviewer"}),
        at("/reviews/llm/nlp-prop", {"score.merit": "3", "comment": ""}),
        portal=True,
        shows_assigned_proposals=True,
    ),
    ("POST", "/reviews/conflicts"): Rule(
        EVERYONE, at("/reviews/conflicts", {"subject": "snu"}), portal=True, note="one's own"
    ),
    ("GET", "/calls"): Rule(MANAGERS, at("/calls"), portal=True),
    ("GET", "/calls/{call}"): Rule(MANAGERS, at("/calls/early"), portal=True),
    ("POST", "/calls/{call}/reviewers"): Rule(
        MANAGERS,
        at("/calls/llm/reviewers", {"proposal": "nlp-prop", "reviewer": "seo"}),
        portal=True,
    ),
    ("GET", "/dashboard"): Rule(MANAGERS, at("/dashboard"), portal=True),
    ("GET", "/dashboard/spend.csv"): Rule(MANAGERS, at("/dashboard/spend.csv"), portal=True),
    ("GET", "/dashboard/needs.csv"): Rule(MANAGERS, at("/dashboard/needs.csv"), portal=True),
    ("GET", "/dashboard/demand.csv"): Rule(MANAGERS, at("/dashboard/demand.csv"), portal=True),
    ("GET", "/dashboard/utilisation"): Rule(MANAGERS, at("/dashboard/utilisation"), portal=True),
    ("GET", "/dashboard/waits"): Rule(MANAGERS, at("/dashboard/waits"), portal=True),
    ("GET", "/dashboard/fairness"): Rule(MANAGERS, at("/dashboard/fairness"), portal=True),
    ("GET", "/dashboard/forecast"): Rule(MANAGERS, at("/dashboard/forecast"), portal=True),
    ("GET", "/dashboard/plan"): Rule(MANAGERS, at("/dashboard/plan"), portal=True),
}

OPEN_ROUTES = {
    ("GET", "/healthz"): "liveness: no tenant data",
    ("GET", "/metrics"): "Prometheus figures of the whole commons, no tenant's records",
    ("GET", "/"): "redirects to the jobs or to sign in",
    ("GET", "/sign-in"): "the sign-in form",
    ("POST", "/sign-in"): "signing in (rate limited; see test_sign_in_limits.py)",
    ("POST", "/sign-out"): "ends the caller's own session",
    ("GET", "/vendor/plotly-{version}.min.js"): "a static script",
}
"""Routes outside the matrix, each with why it holds nothing of a tenant's."""

SECRET_OF = {"nlp": NLP_SECRET, "vision": VISION_SECRET}
SEES_EVERY_TENANT = {"admin", "manager"}
SEES_NLP = {"member", "pi"}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    built = seed(tmp_path_factory.mktemp("authz"))
    yield built
    built.world.commons.close()
    built.golden.close()


@pytest.fixture(scope="module")
def client(seeded: Seeded) -> Iterator[TestClient]:
    with TestClient(create_app(seeded.world.commons, run_engine=False)) as test_client:
        yield test_client


@pytest.fixture
def fresh(seeded: Seeded) -> Seeded:
    seeded.restore()
    return seeded


def fingerprint(seeded: Seeded) -> dict[str, str]:
    """A digest of every table's rows (authentication's own bookkeeping aside)."""
    digests = {}
    with seeded.world.commons.database.connect() as connection:
        for table in Base.metadata.sorted_tables:
            if table.name in {"sign_in_failures", "web_sessions"}:
                continue
            rows = connection.execute(select(table).order_by(*table.primary_key.columns)).all()
            digests[table.name] = hashlib.sha256(repr(rows).encode()).hexdigest()
    return digests


def send(client: TestClient, seeded: Seeded, key: tuple[str, str], role: str, own: bool) -> Any:
    """Send the row's request as ``role`` (or unauthenticated kind) and return the response."""
    method, _ = key
    rule = MATRIX[key]
    call = rule.build(seeded, role, own)
    token = seeded.tokens.get(role)
    if not rule.portal:
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        return client.request(
            method, "/api/v1" + call.path, json=call.body, headers=headers, follow_redirects=False
        )
    cookies = {}
    form = dict(call.body or {})
    if token is not None:
        opened = WebSessions(seeded.world.commons.sessions, seeded.world.clock).open(token)
        if opened is not None:
            cookies[SESSION_COOKIE] = opened.session_id
            form[CSRF_FIELD] = opened.signed_in.csrf_token
    client.cookies.clear()
    for name, value in cookies.items():
        client.cookies.set(name, value)
    try:
        if method == "GET":
            return client.get(call.path, follow_redirects=False)
        return client.post(call.path, data=form, follow_redirects=False)
    finally:
        client.cookies.clear()


def assert_refused_and_unchanged(
    client: TestClient, seeded: Seeded, key: tuple[str, str], role: str, own: bool
) -> Any:
    before = fingerprint(seeded)
    response = send(client, seeded, key, role, own)
    assert response.status_code in MATRIX[key].refused_with, (key, role, own, response.text[:300])
    assert fingerprint(seeded) == before, f"{key} refused for {role} but changed the database"
    return response


def assert_no_leak(key: tuple[str, str], role: str, body: str) -> None:
    if role in SEES_EVERY_TENANT:
        return
    if role == "reviewer" and MATRIX[key].shows_assigned_proposals:
        return  # yoon is assigned proposals of both tenants
    hidden = [SECRET_OF["vision"]] + ([] if role in SEES_NLP else [SECRET_OF["nlp"]])
    for secret in hidden:
        assert secret not in body, f"{key} shows {role} another tenant's data ({secret})"


ALL_KEYS = sorted(MATRIX)


def key_id(key: tuple[str, str]) -> str:
    return f"{key[0]} {key[1]}"


def declared_routes(routes: Sequence[Any], prefix: str = "") -> set[tuple[str, str]]:
    """(method, path) of every API route, including those of routers included with a prefix
    (FastAPI keeps those as wrappers around the original router)."""
    found = set()
    for route in routes:
        if isinstance(route, APIRoute):
            found |= {(method, prefix + route.path) for method in route.methods or ()}
        elif hasattr(route, "original_router"):
            context = route.include_context
            found |= declared_routes(route.original_router.routes, prefix + context.prefix)
    return found


def test_every_route_of_the_app_is_in_the_matrix(client: TestClient) -> None:
    """A new endpoint cannot slip past: every route is in MATRIX or named in OPEN_ROUTES."""
    declared = declared_routes(client.app.routes)  # type: ignore[attr-defined]
    assert len(declared) > 80
    assert declared - set(MATRIX) - set(OPEN_ROUTES) == set()
    assert set(MATRIX) - declared == set(), "the matrix names routes the app does not have"


@pytest.mark.parametrize("key", ALL_KEYS, ids=key_id)
def test_without_a_usable_token_nothing_is_shown_or_changed(
    client: TestClient, fresh: Seeded, key: tuple[str, str]
) -> None:
    """No token, an unknown one, an expired one or a revoked one: the API says 401 and the
    portal sends the browser to sign in, before anything is read or written."""
    before = fingerprint(fresh)
    for kind in UNAUTHENTICATED:
        response = send(client, fresh, key, kind, own=True)
        if MATRIX[key].portal:
            assert response.status_code == 303, (kind, response.status_code)
            assert "/sign-in" in response.headers["location"]
        else:
            assert response.status_code == 401, (kind, response.status_code)
            assert "token" in response.json()["detail"]
    assert fingerprint(fresh) == before


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("key", ALL_KEYS, ids=key_id)
def test_each_role_may_do_exactly_what_the_matrix_says(
    client: TestClient, fresh: Seeded, key: tuple[str, str], role: str
) -> None:
    """A role in the row succeeds on nlp's records; any other is refused (403 or 404) and the
    database is left as it was. No answer carries a tenant's data the role may not see."""
    rule = MATRIX[key]
    if role in rule.who:
        response = send(client, fresh, key, role, own=True)
        assert response.status_code < 400, (key, role, response.text[:300])
    else:
        response = assert_refused_and_unchanged(client, fresh, key, role, own=True)
    assert_no_leak(key, role, response.text)


TENANT_KEYS = [key for key in ALL_KEYS if MATRIX[key].tenant]


@pytest.mark.parametrize("role", ["member", "pi"])
@pytest.mark.parametrize("key", TENANT_KEYS, ids=key_id)
def test_another_tenants_records_are_refused(
    client: TestClient, fresh: Seeded, key: tuple[str, str], role: str
) -> None:
    """nlp's member and PI aimed at vision's record (its job, allocation, proposal, model, log,
    usage, project, or another user's tokens) get 403 or 404, see none of its data, and change
    nothing."""
    response = assert_refused_and_unchanged(client, fresh, key, role, own=False)
    assert_no_leak(key, role, response.text)


def test_lists_show_only_the_callers_tenant(client: TestClient, fresh: Seeded) -> None:
    """The lists a tenant reads (jobs, allocations, projects, awards, evaluation runs, proposals,
    catalogue, burn-down) name only its own records; a manager's name both tenants'."""
    lists = {
        "/jobs": "project",
        "/allocations": "project",
        "/projects": "name",
        "/calls/early/awards": "proposal",
        "/calls/early/stages/s1/evaluations": "proposal",
        "/calls/llm/proposals": "name",
        "/catalogue": "project",
        "/reports/burn-down": "project",
    }
    for path, field_name in lists.items():
        # Proposals are the PI's: the member sees none of either tenant's.
        readers = ("pi", "admin") if "proposals" in path else ("member", "pi", "admin")
        for role in readers:
            expected = None if role == "admin" else "nlp"
            headers = {"Authorization": f"Bearer {fresh.tokens[role]}"}
            rows = client.get("/api/v1" + path, headers=headers).json()
            names = {str(row[field_name]) for row in rows}
            assert names, (path, role)
            if expected is None:
                assert any("vision" in name for name in names), (path, names)
            else:
                assert any(name.startswith("nlp") for name in names), (path, role, names)
                assert not any("vision" in name for name in names), (path, role, names)
    # The leaderboard is published: both teams, with nothing but their names and scores.
    headers = {"Authorization": f"Bearer {fresh.tokens['member']}"}
    board = client.get("/api/v1/calls/early/stages/s1/leaderboard", headers=headers).json()
    assert {row["proposal"] for row in board} == {"nlp-early", "vision-early"}
    assert all(set(row) == {"rank", "proposal", "value"} for row in board)


def test_the_seeded_database_is_restored_between_tests(client: TestClient, fresh: Seeded) -> None:
    """The matrix's premise: a write in one test is gone in the next (restore puts it back)."""
    headers = {"Authorization": f"Bearer {fresh.tokens['admin']}"}
    assert client.post("/api/v1/hubs", json={"name": "gone", "operator": "university"},
                       headers=headers).status_code == 201  # fmt: skip
    fresh.restore()
    with fresh.world.commons.database.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM hubs WHERE name='gone'")).scalar() == 0
