"""Hostile input to the HTTP API: each is refused with a 4xx and a one-line ``detail`` that says
what to fix, never a stack trace, and nothing is stored by a refused request.

Every test runs on SQLite and on PostgreSQL (skipped with its reason if the server is absent),
where NUL bytes in text and integers past 64 bits used to be 500s.
"""

import json
import sys
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from fastapi.testclient import TestClient

from nuri.api.app import create_app
from nuri.api.body_limit import BodyLimitMiddleware
from nuri.api.v1.schemas import MAX_PAGE_SIZE
from nuri.backends.local import LocalBackend
from nuri.backends.protocol import Launch
from nuri.engine.clock import wall_clock
from tests.conftest import World
from tests.integration.test_local_backend import wait_for_ends

MIB = 1024 * 1024
JOB = {"project": "nlp", "pool": "h100", "gpus": 1, "time_limit_s": 600}
SHELL_METACHARACTERS = [
    "; rm -rf ~",
    "$(id)",
    "`id`",
    "a | b",
    "x && y",
    "> /etc/passwd",
    "*",
    "'\"",
]


@dataclass
class Api:
    client: TestClient
    world: World
    headers: dict[str, str]

    def post(self, path: str, body: Any) -> tuple[int, Any]:
        # json.dumps escapes to ASCII, so lone surrogates travel as the \ud800 a client can send.
        response = self.client.post(
            f"/api/v1{path}",
            content=json.dumps(body),
            headers=self.headers | {"Content-Type": "application/json"},
        )
        return response.status_code, response.json()

    def get(self, path: str) -> tuple[int, Any]:
        response = self.client.get(f"/api/v1{path}", headers=self.headers)
        return response.status_code, response.json()

    def job_count(self) -> int:
        status, jobs = self.get(f"/jobs?limit={MAX_PAGE_SIZE}")
        assert status == 200
        return len(jobs)


@pytest.fixture
def api(world: World) -> Iterator[Api]:
    token = world.commons.directory.issue_token(world.admin, "root")
    with TestClient(create_app(world.commons, run_engine=False)) as client:
        yield Api(client, world, {"Authorization": f"Bearer {token}"})


def assert_one_line_detail(body: Any, *phrases: str) -> None:
    assert set(body) == {"detail"}, body
    detail = body["detail"]
    assert isinstance(detail, str) and "\n" not in detail and "Traceback" not in detail
    for phrase in phrases:
        assert phrase in detail, detail


# -- malformed bodies -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "content_type", "phrase"),
    [
        (b'{"name": "x",', "application/json", "not valid JSON at character 14"),
        (b"name=x&operator=university", "application/x-www-form-urlencoded", "JSON object"),
        (
            b'{"name": "x", "operator": "university"}',
            "text/plain",
            "Content-Type: application/json",
        ),
        (b"", "application/json", "needs a JSON object as the body"),
        (b'["x", "university"]', "application/json", "must be a JSON object"),
    ],
    ids=["malformed-json", "form", "text-plain", "empty", "array"],
)
def test_a_body_that_is_not_a_json_object_is_refused_with_what_to_send(
    api: Api, content: bytes, content_type: str, phrase: str
) -> None:
    """Malformed JSON, the wrong content type, no body or a non-object: 422 saying what to send,
    and no hub is created."""
    response = api.client.post(
        "/api/v1/hubs", content=content, headers=api.headers | {"Content-Type": content_type}
    )
    assert response.status_code == 422
    assert_one_line_detail(response.json(), phrase)
    assert [hub["name"] for hub in api.get("/hubs")[1]] == ["ksc"]


def test_deeply_nested_json_is_refused_without_exhausting_the_server(api: Api) -> None:
    """JSON nested 100,000 deep (past the parser's recursion limit) is a 400, a few hundred deep
    in a field is a 422 naming the field; the server answers the next request normally."""
    deep = b"[" * 100_000 + b"]" * 100_000
    response = api.client.post(
        "/api/v1/hubs", content=deep, headers=api.headers | {"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert_one_line_detail(response.json(), "parsing the body")
    shallow = {"name": json.loads("[" * 500 + "]" * 500), "operator": "university"}
    status, body = api.post("/hubs", shallow)
    assert status == 422
    assert_one_line_detail(body, "name: Input should be a valid string")
    assert api.get("/me")[0] == 200


# -- body size ------------------------------------------------------------------------------------


def test_a_body_declared_larger_than_the_limit_is_refused_with_413(api: Api) -> None:
    """A Content-Length over NURI_MAX_REQUEST_BODY_BYTES (1 MiB by default) is refused at once
    with 413 naming the limit."""
    body = json.dumps({"name": "x", "operator": "university", "title": "가" * MIB}).encode()
    response = api.client.post(
        "/api/v1/hubs", content=body, headers=api.headers | {"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert_one_line_detail(response.json(), f"declares {len(body)} bytes", "at most 1048576 bytes")


def test_a_chunked_body_that_grows_past_the_limit_is_refused_with_413(api: Api) -> None:
    """A body sent without a length is counted as it arrives and refused once it passes the
    limit; a chunked body under the limit is served as usual."""
    chunk = b" " * (64 * 1024)

    def stream(chunks: int, last: bytes) -> Iterator[bytes]:
        yield b'{"name": "big", "operator": "university"'
        for _ in range(chunks):
            yield chunk
        yield last

    json_headers = api.headers | {"Content-Type": "application/json"}
    response = api.client.post("/api/v1/hubs", content=stream(32, b"}"), headers=json_headers)
    assert "content-length" not in response.request.headers  # really sent chunked
    assert response.status_code == 413
    assert_one_line_detail(response.json(), "longer than 1048576 bytes")
    response = api.client.post("/api/v1/hubs", content=stream(2, b"}"), headers=json_headers)
    assert response.status_code == 201, response.text


def test_a_content_length_that_is_not_a_number_is_refused_with_400(api: Api) -> None:
    """A Content-Length that is not a whole number is a 400, not a guess."""
    sent: list[MutableMapping[str, Any]] = []

    async def never_called(*_: Any) -> None:
        raise AssertionError("the app must not see the request")

    async def receive() -> MutableMapping[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    middleware = BodyLimitMiddleware(never_called, max_body_bytes=MIB)
    scope: dict[str, Any] = {"type": "http", "headers": [(b"content-length", b"12abc")]}
    anyio.run(middleware, scope, receive, send)
    assert sent[0]["status"] == 400
    assert_one_line_detail(json.loads(sent[1]["body"]), "Content-Length")


# -- text -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "서울대학교 자연어처리",
        "GPU 🚀 run",
        "مرحبا بالعالم",
        "\u202eevil\u202c",
        "line one\nline two\tend",
    ],
    ids=["korean", "emoji", "arabic", "bidi-override", "newline-and-tab"],
)
def test_text_in_any_script_is_stored_and_answered_verbatim(api: Api, text: str) -> None:
    """Korean, emoji, right-to-left text and its marks, tabs and line breaks in titles, job names
    and commands come back byte for byte."""
    status, hub = api.post("/hubs", {"name": "hub-1", "title": text, "operator": "university"})
    assert status == 201 and hub["title"] == text
    status, job = api.post("/jobs", JOB | {"name": text, "command": ["echo", text]})
    assert status == 201, job
    shown = api.get(f"/jobs/{job['id']}")[1]
    assert (shown["name"], shown["command"]) == (text, ["echo", text])


@pytest.mark.parametrize(
    ("field", "text", "code"),
    [
        ("title", "nul\x00byte", "U+0000"),
        ("title", "bell\x07", "U+0007"),
        ("title", "escape\x1b[31mred", "U+001B"),
        ("title", "c1\x85control", "U+0085"),
        ("command", "nul\x00byte", "U+0000"),
        ("name", "job\x00", "U+0000"),
    ],
    ids=[
        "nul",
        "bell",
        "ansi-escape",
        "c1-control",
        "nul-in-command",
        "nul-name",
    ],
)
def test_control_characters_in_text_are_refused_and_nothing_is_stored(
    api: Api, field: str, text: str, code: str
) -> None:
    """NUL (which PostgreSQL cannot store) and other C0 and C1 controls are a 422 naming the
    field, the character and where it is; no hub or job is created."""
    if field == "title":
        status, body = api.post("/hubs", {"name": "hub-1", "title": text, "operator": "university"})
        assert [hub["name"] for hub in api.get("/hubs")[1]] == ["ksc"]
    else:
        value: Any = ["echo", text] if field == "command" else text
        status, body = api.post("/jobs", JOB | {"command": ["echo"], field: value})
        assert api.job_count() == 0
    assert status == 422
    assert_one_line_detail(body, f"{field}: contains", code, "at character")


def test_a_lone_surrogate_is_refused_as_invalid_text(api: Api) -> None:
    """JSON's \\ud800 escape cannot smuggle half a character into a name: 422 naming the field."""
    status, body = api.post("/hubs", {"name": "h", "title": "a\ud800b", "operator": "university"})
    assert status == 422
    assert_one_line_detail(body, "title: Input should be a valid string")


def test_control_characters_in_dict_keys_are_refused(api: Api) -> None:
    """Keys are text too: a pool name with a NUL in a call's budgets is a 422."""
    call = {
        "name": "c",
        "opens_at": "2026-03-01T00:00:00Z",
        "closes_at": "2026-03-10T00:00:00Z",
        "budgets": {"h100\x00": 10},
        "rubric": [{"name": "merit", "weight": 1}],
        "award_starts_at": "2026-04-01T00:00:00Z",
        "award_ends_at": "2026-05-01T00:00:00Z",
    }
    status, body = api.post("/calls", call)
    assert status == 422
    assert_one_line_detail(body, "budgets: contains the control character U+0000")


@pytest.mark.parametrize(
    "path",
    [
        "/projects/nl%00p/usage",
        "/jobs?project=nl%00p",
        "/calls/llm%0A2027",
        "/demand?series=all%00",
    ],
    ids=["path", "query", "newline-in-path", "query-with-default"],
)
def test_control_characters_in_the_url_are_refused(api: Api, path: str) -> None:
    """A path or query parameter holding a control character is a 422 naming the parameter,
    before any lookup can hand it to the database."""
    status, body = api.get(path)
    assert status == 422
    assert_one_line_detail(body, "contains the control character")


# -- ids and offsets ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status", "phrase"),
    [
        ("/jobs/..%2f..%2fetc%2fpasswd/logs", 404, "Not Found"),
        ("/jobs/..%252f..%252fetc%252fpasswd/logs", 404, "Not Found"),
        ("/jobs/1.5/logs", 422, "job_id: Input should be a valid integer"),
        ("/jobs/abc", 422, "job_id: Input should be a valid integer"),
        ("/jobs/0", 422, "job_id: Input should be greater than or equal to 1"),
        ("/jobs/-1/logs", 422, "job_id: Input should be greater than or equal to 1"),
        ("/jobs/99999999999999999999", 422, "job_id: Input should be less than or equal to"),
        ("/jobs/99999999999999999999/logs", 422, "job_id: Input should be less than or equal to"),
        ("/jobs/2147483647", 404, "no job 2147483647"),
        ("/jobs/2147483648", 422, "job_id: Input should be less than or equal to 2147483647"),
        ("/jobs/1/logs?offset=99999999999999999999", 422, "offset: Input should be less than"),
        ("/reports/burn-down/99999999999999999999", 422, "allocation_id: Input should be less"),
    ],
    ids=[
        "traversal",
        "double-encoded-traversal",
        "fraction",
        "word",
        "zero",
        "negative",
        "past-64-bits",
        "past-64-bits-logs",
        "largest-id",
        "past-32-bits",
        "huge-offset",
        "huge-allocation",
    ],
)
def test_job_and_allocation_ids_must_be_positive_32_bit_integers(
    api: Api, path: str, status: int, phrase: str
) -> None:
    """Log and job requests take a positive 32-bit integer id (the ids' column type): anything else (traversal, words,
    integers past what a database column holds) is a 4xx before any lookup or file access."""
    response_status, body = api.get(path)
    assert response_status == status
    assert_one_line_detail(body, phrase)


def test_a_forecast_horizon_beyond_the_history_is_refused_at_once(api: Api) -> None:
    """A horizon of 13 digits of weeks is refused with 400 before anything is laid out per step
    (it used to exhaust memory: a 500)."""
    status, body = api.get("/forecasts?horizon=9999999999999w")
    assert status == 400
    assert_one_line_detail(body, "longer than the 720 steps of history")


# -- commands -------------------------------------------------------------------------------------


def test_shell_metacharacters_are_stored_as_one_argument_each(api: Api) -> None:
    """A command's arguments are stored and answered verbatim, one list item each, never split
    or interpreted."""
    command = ["python", "train.py", *SHELL_METACHARACTERS]
    status, job = api.post("/jobs", JOB | {"command": command})
    assert status == 201 and job["command"] == command
    assert api.get(f"/jobs/{job['id']}")[1]["command"] == command


def test_the_local_backend_passes_metacharacters_to_the_program_without_a_shell(
    tmp_path: Path,
) -> None:
    """The local backend runs argv as given: the program receives each metacharacter argument
    unchanged (a shell would have expanded, split or run them)."""
    backend = LocalBackend(tmp_path / "jobs", wall_clock, grace_period_s=0.5)
    code = "import json, sys; print(json.dumps(sys.argv[1:]))"
    try:
        backend.start(
            Launch(
                job_id=1,
                attempt=1,
                command=(sys.executable, "-c", code, *SHELL_METACHARACTERS),
                pool="p",
                node="localhost",
                device_indices=(0,),
                device_env_var="CUDA_VISIBLE_DEVICES",
                time_limit_s=30,
                workdir=None,
            )
        )
        [ended] = wait_for_ends(backend, 1)
        assert ended.exit_code == 0
    finally:
        backend.close()
    assert json.loads(backend.logs(1)) == SHELL_METACHARACTERS


# -- page sizes -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/jobs", "/audit"])
@pytest.mark.parametrize(
    ("limit", "status"), [(0, 422), (1, 200), (MAX_PAGE_SIZE, 200), (MAX_PAGE_SIZE + 1, 422)]
)
def test_list_page_sizes_are_bounded_with_a_clear_422(
    api: Api, path: str, limit: int, status: int
) -> None:
    """Every list that pages takes ``limit`` from 1 to 1000; outside that it is a 422 naming the
    bound, not a silently different page."""
    response_status, body = api.get(f"{path}?limit={limit}")
    assert response_status == status
    if status == 422:
        assert_one_line_detail(body, "limit: Input should be")
