"""Property-based fuzzing of the whole HTTP API from its own OpenAPI document (schemathesis).

For every role (admin, pi, member, manager, reviewer), every operation of /openapi.json gets
schema-conforming (positive) requests, and as admin schema-breaking (negative) ones too; some are
aimed at resources that exist in a small seeded commons so that they get past the 404s. Every answer must be a non-5xx
status the document declares for the operation, with a body that conforms to its declared schema.

Generation is derandomised and does not shrink, so a run is deterministic and bounded: the same
requests in the same order every time, a few seconds per role and mode on SQLite. The engine never
runs: the app is built with ``run_engine=False`` on the fake backend, as in the other API tests.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from nuri.api.app import create_app
from tests.conftest import World, build_world

ROLES = ("admin", "pi", "member", "manager", "reviewer")
USERS = {"admin": "root", "pi": "kim", "member": "lee", "manager": "han", "reviewer": "jung"}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES_PER_OPERATION = 5
RUNS = [(role, GenerationMode.POSITIVE) for role in ROLES] + [("admin", GenerationMode.NEGATIVE)]
"""Schema-conforming requests as every role. Schema-breaking ones are refused by validation
before any role check, whoever sends them, so one role suffices for those (and generating them
costs several times more)."""

SEEDED_PATH_PARAMETERS: dict[str, object] = {
    "call": "llm-2027",
    "proposal": "snu-p",
    "stage": "stage-1",
    "job_id": 1,
    "allocation_id": 1,
    "course": "ml-101",
    "kind": "model",
    "reference": "snu-ko-7b@1.0",
}
"""Path parameters naming what the seeded commons holds, so that requests reach past lookups."""
SEEDED_NAME_BY_PREFIX = {
    "/api/v1/users/": "lee",
    "/api/v1/projects/": "nlp",
    "/api/v1/reservations/": "inference",
}
"""``{name}`` means a different kind of thing under each prefix."""
FIXED_QUERY = {"GET /api/v1/forecasts": {"horizon": "7d", "days": 30}}
"""A forecast fits several models per backtest window, seconds of CPU for a short horizon or a
long history; the fuzzer keeps to one of each so the run stays bounded. Hostile horizons are
pinned in test_hostile_input.py instead."""


@dataclass
class FuzzedCommons:
    world: World
    tokens: dict[str, str]


def _seed(client: TestClient, world: World, tokens: dict[str, str]) -> None:
    """A call with a submitted proposal and a stage, a job, a course, a catalogue entry and a
    reservation, made through the API as their users would."""
    now = world.clock()

    def post(who: str, path: str, body: dict[str, Any]) -> None:
        response = client.post(
            f"/api/v1{path}", json=body, headers={"Authorization": f"Bearer {tokens[who]}"}
        )
        assert response.status_code in (200, 201), (path, response.text)

    post("manager", "/calls", {
        "name": "llm-2027", "opens_at": (now - timedelta(days=1)).isoformat(),
        "closes_at": (now + timedelta(days=14)).isoformat(), "budgets": {"h100": 1000},
        "rubric": [{"name": "excellence", "weight": 1}],
        "award_starts_at": (now + timedelta(days=15)).isoformat(),
        "award_ends_at": (now + timedelta(days=200)).isoformat(),
    })  # fmt: skip
    post("pi", "/calls/llm-2027/proposals", {
        "name": "snu-p", "project": "nlp", "requested": {"h100": 300}, "minimum_hours": 100,
    })  # fmt: skip
    post("pi", "/calls/llm-2027/proposals/snu-p/submit", {})
    post("manager", "/calls/llm-2027/proposals/snu-p/reviewers", {"reviewer": "jung"})
    post("manager", "/calls/llm-2027/stages", {
        "name": "stage-1", "ends_at": (now + timedelta(days=60)).isoformat(),
        "metric": "accuracy", "top_k": 1, "task_command": ["python", "eval.py"], "task_pool": "h100",
    })  # fmt: skip
    post("member", "/jobs", {
        "project": "nlp", "pool": "h100", "gpus": 1, "time_limit_s": 600,
        "command": ["python", "train.py"],
    })  # fmt: skip
    post("admin", "/courses", {
        "name": "ml-101", "instructor": "kim", "gpu_hours": "5", "cap_gpu_hours": "1",
        "pools": ["h100"], "starts_at": now.isoformat(),
        "term_ends_at": (now + timedelta(days=20)).isoformat(),
    })  # fmt: skip
    post("pi", "/catalogue", {
        "kind": "model", "name": "snu-ko-7b", "version": "1.0", "project": "nlp",
        "licence": "Apache-2.0", "provenance": "trained on nuri", "uri": "s3://models/snu-ko-7b",
        "visibility": "public",
    })  # fmt: skip
    post("admin", "/reservations", {
        "name": "inference", "pool": "atom", "nodes": 1, "starts_at": now.isoformat(),
        "ends_at": (now + timedelta(days=10)).isoformat(),
    })  # fmt: skip


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzedCommons]:
    """One commons for the whole module: the fuzzer's writes pile up, as on a real server."""
    home = tmp_path_factory.mktemp("fuzzed")
    world = build_world(f"sqlite+pysqlite:///{home / 'nuri.sqlite3'}", home / "home")
    directory = world.commons.directory
    directory.create_user(
        world.admin, name="han", display_name="", role="manager", organisation=None
    )
    directory.create_user(
        world.admin, name="jung", display_name="", role="reviewer", organisation="acme"
    )
    tokens = {role: directory.issue_token(world.admin, user) for role, user in USERS.items()}
    # A token of lee's that the fuzzer may revoke without locking lee's own requests out.
    directory.issue_token(world.admin, "lee", "spare")
    spare = [t for t in directory.list_tokens(world.admin, "lee") if t.label == "spare"]
    SEEDED_PATH_PARAMETERS["token_id"] = spare[0].id
    with TestClient(create_app(world.commons, run_engine=False)) as client:
        _seed(client, world, tokens)
    yield FuzzedCommons(world, tokens)
    world.commons.close()


def _cases(operation: APIOperation, mode: GenerationMode, headers: dict[str, str]) -> Any:
    """Requests for ``operation``: fully generated ones, and ones aimed at seeded resources."""
    query = FIXED_QUERY.get(f"{operation.method.upper()} {operation.path}")
    anywhere = operation.as_strategy(mode, headers=headers, query=query)
    names = [parameter.name for parameter in operation.path_parameters]
    seeded = {name: SEEDED_PATH_PARAMETERS[name] for name in names if name != "name"}
    for prefix, value in SEEDED_NAME_BY_PREFIX.items():
        if "name" in names and operation.path.startswith(prefix):
            seeded["name"] = value
    if not seeded:
        return anywhere
    aimed = operation.as_strategy(mode, headers=headers, query=query, path_parameters=seeded)
    return st.one_of(anywhere, aimed)


def _failures_of(operation: APIOperation, mode: GenerationMode, headers: dict[str, str]) -> str:
    """The checks' report for the first failing request to ``operation``, or '' if none failed."""

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: bounded and deterministic
        suppress_health_check=list(HealthCheck),
    )
    @given(case=_cases(operation, mode, headers))
    def send(case: Case) -> None:
        case.call_and_validate(checks=CHECKS)

    try:
        send()
    except Unsatisfiable:
        # A negative request needs a constraint to break; an operation without any has none.
        if mode is GenerationMode.NEGATIVE:
            return ""
        raise
    except BaseExceptionGroup as failures:  # schemathesis' FailureGroup of check failures
        return f"{operation.label}: {failures}"
    except Exception as error:  # e.g. a timeout: report it with the other operations' failures
        return f"{operation.label}: {type(error).__name__}: {error}"
    return ""


@pytest.mark.slow
@pytest.mark.parametrize(("role", "mode"), RUNS, ids=[f"{role}-{mode}" for role, mode in RUNS])
def test_no_request_gets_a_server_error_or_an_undocumented_answer(
    fuzzed: FuzzedCommons, role: str, mode: GenerationMode
) -> None:
    """Every operation, fuzzed as ``role``: no 5xx, and every status code, content type and body
    is one the OpenAPI document declares for it."""
    app = create_app(fuzzed.world.commons, run_engine=False)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    headers = {"Authorization": f"Bearer {fuzzed.tokens[role]}"}
    operations = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):  # an operation the document describes wrongly
            raise result.err()
        operations.append(result.ok())
    assert len(operations) > 50  # the whole API, not an empty or partial document
    failures = [_failures_of(operation, mode, headers) for operation in operations]
    report = "\n\n".join(failure for failure in failures if failure)
    assert not report, report
