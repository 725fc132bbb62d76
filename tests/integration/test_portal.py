"""The web portal through FastAPI's TestClient: sessions, CSRF, roles, pagination, languages and
the submit form. (The same pages in a real browser: tests/e2e/test_portal_browser.py.)"""

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from nuri.api.app import create_app
from nuri.store.tables import TokenRow, WebSessionRow
from nuri.web.i18n import CATALOGUE
from nuri.web.routes_jobs import PAGE_SIZE
from tests.conftest import World


@dataclass
class Portal:
    world: World
    tokens: dict[str, str]

    def client(self, base_url: str = "http://testserver") -> TestClient:
        app = create_app(self.world.commons, run_engine=False)
        return TestClient(app, base_url=base_url, follow_redirects=False)

    def signed_in(self, who: str, **headers: str) -> TestClient:
        client = self.client()
        client.headers.update(headers)
        response = sign_in(client, self.tokens[who])
        assert response.status_code == 303, response.text
        return client

    def submit(self, who: str = "member", **overrides: object) -> int:
        actor = getattr(self.world, who)
        arguments: dict = {"project": "nlp", "pool": "h100", "gpus": 1, "time_limit_s": 60}
        arguments |= {"command": ["python3", "train.py"]} | overrides
        return self.world.commons.jobs.submit(actor, **arguments).id


@pytest.fixture
def portal(sqlite_world: World) -> Iterator[Portal]:
    directory = sqlite_world.commons.directory
    users = {"admin": "root", "pi": "kim", "member": "lee", "outsider": "park"}
    tokens = {who: directory.issue_token(sqlite_world.admin, user) for who, user in users.items()}
    yield Portal(sqlite_world, tokens)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None, html
    return found.group(1)


def sign_in(client: TestClient, token: str, next_path: str = "") -> httpx.Response:
    form = client.get("/sign-in")
    return client.post(
        "/sign-in", data={"token": token, "csrf_token": csrf_of(form.text), "next": next_path}
    )


def set_cookie_headers(response) -> list[str]:
    return response.headers.get_list("set-cookie")


# -- signing in and out ----------------------------------------------------------------------


def test_pages_send_strangers_to_sign_in_and_back_afterwards(portal: Portal) -> None:
    """Without a session a page redirects to the sign-in page, which returns there after."""
    client = portal.client()
    response = client.get("/jobs?state=PENDING")
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in?next=%2Fjobs%3Fstate%3DPENDING"
    signed = sign_in(client, portal.tokens["member"], next_path="/jobs?state=PENDING")
    assert signed.status_code == 303 and signed.headers["location"] == "/jobs?state=PENDING"
    assert client.get("/jobs").status_code == 200
    assert client.get("/").headers["location"] == "/jobs"


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil"])
def test_sign_in_never_redirects_to_another_site(portal: Portal, target: str) -> None:
    """``next`` must be a path on this site; anything else goes to the jobs (no open redirect)."""
    response = sign_in(portal.client(), portal.tokens["member"], next_path=target)
    assert response.headers["location"] == "/jobs"


def test_the_session_cookie_is_httponly_lax_and_secure_over_https(portal: Portal) -> None:
    """HttpOnly, SameSite=Lax, Path=/ always; Secure when the browser came over https."""
    plain = sign_in(portal.client(), portal.tokens["member"])
    [cookie] = [c for c in set_cookie_headers(plain) if c.startswith("nuri_session=")]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie
    secure = sign_in(portal.client("https://testserver"), portal.tokens["member"])
    [cookie] = [c for c in set_cookie_headers(secure) if c.startswith("nuri_session=")]
    assert "Secure" in cookie and "HttpOnly" in cookie


def test_only_a_digest_of_the_session_id_is_stored(portal: Portal) -> None:
    """The database holds the SHA-256 of the cookie's value, never the value itself."""
    client = portal.signed_in("member")
    session_id = client.cookies["nuri_session"]
    with portal.world.commons.sessions() as session:
        digests = list(session.scalars(select(WebSessionRow.digest)))
    assert digests == [hashlib.sha256(session_id.encode()).hexdigest()]
    assert session_id not in digests


@pytest.mark.parametrize("kind", ["unknown", "revoked", "expired", "empty"])
def test_every_bad_token_gets_the_same_refusal(portal: Portal, kind: str) -> None:
    """Unknown, revoked and expired tokens are refused alike (401), without saying which."""
    token = portal.tokens["member"]
    digest = hashlib.sha256(token.encode()).hexdigest()
    now = portal.world.clock()
    with portal.world.commons.sessions.begin() as session:
        if kind == "revoked":
            session.execute(
                update(TokenRow).where(TokenRow.digest == digest).values(revoked_at=now)
            )
        if kind == "expired":
            session.execute(
                update(TokenRow)
                .where(TokenRow.digest == digest)
                .values(expires_at=now - timedelta(seconds=1))
            )
    attempt = {"unknown": "nuri_no-such-token", "empty": ""}.get(kind, token)
    response = sign_in(portal.client(), attempt)
    assert response.status_code == 401
    alert = re.search(r'role="alert" id="sign-in-error">\s*<p>(.*?)</p>', response.text)
    assert alert is not None and alert.group(1) == CATALOGUE["sign_in.refused"][0]
    assert not any(c.startswith("nuri_session=") for c in set_cookie_headers(response))


def test_revoking_the_token_signs_its_browsers_out(portal: Portal) -> None:
    """A session lives only as long as the API token it was opened with."""
    client = portal.signed_in("member")
    digest = hashlib.sha256(portal.tokens["member"].encode()).hexdigest()
    with portal.world.commons.sessions.begin() as session:
        session.execute(
            update(TokenRow)
            .where(TokenRow.digest == digest)
            .values(revoked_at=portal.world.clock())
        )
    assert client.get("/jobs").status_code == 303


def test_sessions_expire_after_a_working_day(portal: Portal) -> None:
    """After twelve hours the cookie signs nobody in; a new sign-in clears the expired row."""
    client = portal.signed_in("member")
    portal.world.clock.advance(11 * 3600)
    assert client.get("/jobs").status_code == 200
    portal.world.clock.advance(3600 + 1)
    assert client.get("/jobs").status_code == 303
    portal.signed_in("pi")
    with portal.world.commons.sessions() as session:
        assert len(list(session.scalars(select(WebSessionRow)))) == 1


def test_signing_out_deletes_the_session(portal: Portal) -> None:
    """After sign-out the old cookie, replayed, signs nobody in: its row is gone."""
    client = portal.signed_in("member")
    session_id = client.cookies["nuri_session"]
    page = client.get("/jobs")
    response = client.post("/sign-out", data={"csrf_token": csrf_of(page.text)})
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in?signed_out=1"
    replay = portal.client()
    replay.cookies.set("nuri_session", session_id)
    assert replay.get("/jobs").status_code == 303
    with portal.world.commons.sessions() as session:
        assert list(session.scalars(select(WebSessionRow))) == []


# -- CSRF ------------------------------------------------------------------------------------


def test_posts_without_the_forms_csrf_token_are_refused_with_a_page(portal: Portal) -> None:
    """Every POST needs the hidden token: missing or wrong, it is a 403 page that says what to
    do, and nothing happens."""
    job_id = portal.submit()
    client = portal.signed_in("member")
    form = {"project": "nlp", "target": "pool:h100", "gpus": "1", "time_limit": "1m"}
    for data in ({}, {"csrf_token": "forged"}):
        submitted = client.post("/jobs/new", data=form | {"command": "true"} | data)
        assert submitted.status_code == 403
        assert "This form has expired" in submitted.text and "<html" in submitted.text
        cancelled = client.post(f"/jobs/{job_id}/cancel", data=data)
        assert cancelled.status_code == 403
        signed_out = client.post("/sign-out", data=data)
        assert signed_out.status_code == 403
    assert portal.world.commons.jobs.count(portal.world.member) == 1
    assert portal.world.commons.jobs.show(portal.world.member, job_id).state == "PENDING"
    assert client.get("/jobs").status_code == 200  # still signed in


def test_sign_in_itself_needs_the_forms_token(portal: Portal) -> None:
    """A sign-in posted from elsewhere (no matching cookie and field) is refused: no login CSRF."""
    client = portal.client()
    response = client.post("/sign-in", data={"token": portal.tokens["member"]})
    assert response.status_code == 403
    client.get("/sign-in")  # sets the cookie, but the attacker's form cannot know its value
    response = client.post(
        "/sign-in", data={"token": portal.tokens["member"], "csrf_token": "guess"}
    )
    assert response.status_code == 403
    assert "nuri_session" not in client.cookies


# -- roles and ownership, as in the API ------------------------------------------------------


def test_a_member_cannot_see_another_projects_job_or_project(portal: Portal) -> None:
    """park's job in vision is "not found" for lee, on every page and part of a page."""
    theirs = portal.submit("outsider", project="vision")
    client = portal.signed_in("member")
    for path in (
        f"/jobs/{theirs}",
        f"/jobs/{theirs}/status",
        f"/jobs/{theirs}/log",
        f"/jobs/new?from={theirs}",
        "/projects/vision",
        "/projects/vision/team",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "Traceback" not in response.text
    page = client.get(f"/jobs/{theirs}")
    assert f"no job {theirs} in your projects" in page.text and "<h1>Not found</h1>" in page.text
    assert f'href="/jobs/{theirs}"' not in client.get("/jobs").text


def test_cancelling_is_for_the_submitter_the_pi_and_admins(portal: Portal) -> None:
    """lee may see kim's job but not cancel it (403 page with the reason); kim may."""
    kims = portal.submit("pi")
    lee = portal.signed_in("member")
    page = lee.get(f"/jobs/{kims}")
    refused = lee.post(f"/jobs/{kims}/cancel", data={"csrf_token": csrf_of(page.text)})
    assert refused.status_code == 403 and "only the submitter" in refused.text
    kim = portal.signed_in("pi")
    page = kim.get(f"/jobs/{kims}")
    done = kim.post(f"/jobs/{kims}/cancel", data={"csrf_token": csrf_of(page.text)})
    assert done.status_code == 303 and done.headers["location"] == f"/jobs/{kims}"
    assert "Cancelled" in kim.get(f"/jobs/{kims}").text


def test_errors_are_pages_with_the_right_status(portal: Portal) -> None:
    """A malformed address is a 404 page, a bad filter a 400 page; fragments get bare codes."""
    client = portal.signed_in("member")
    assert client.get("/jobs/not-a-number").status_code == 404
    bad_state = client.get("/jobs?state=SLEEPING")
    assert bad_state.status_code == 400 and "is not one of" in bad_state.text
    assert client.get("/jobs?page=0").status_code == 400
    fragment = portal.client().get("/jobs/1/status", headers={"X-Nuri-Fragment": "1"})
    assert fragment.status_code == 401 and fragment.text == ""


@pytest.mark.parametrize(("lang", "title"), [("en", "Not found"), ("ko", "찾을 수 없습니다")])
def test_an_unknown_address_is_a_page_in_the_users_language(
    portal: Portal, lang: str, title: str
) -> None:
    """Outside the API, an address no route serves is a 404 page, not JSON; under /api/ the
    answer stays JSON for programs."""
    client = portal.signed_in("member")
    client.cookies.set("nuri_lang", lang)
    page = client.get("/no-such-page")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert title in page.text
    api = client.get("/api/v1/no-such-thing")
    assert api.status_code == 404 and api.json() == {"detail": "Not Found"}


def test_pis_see_proposals_in_the_menu_members_do_not(portal: Portal) -> None:
    """Navigation shows the pages a role may use, and marks the current one."""
    member = portal.signed_in("member").get("/jobs").text
    pi = portal.signed_in("pi").get("/jobs").text
    assert 'href="/proposals"' not in member and 'href="/proposals"' in pi
    assert '<a href="/jobs" aria-current="page">' in member


# -- lists, the job page, usage --------------------------------------------------------------


def test_the_jobs_list_paginates_newest_first(portal: Portal) -> None:
    """PAGE_SIZE jobs a page, newest first, with links to the neighbouring pages."""
    ids = [portal.submit() for _ in range(PAGE_SIZE + 5)]
    client = portal.signed_in("member")
    first = client.get("/jobs")
    rows = re.findall(r'<a href="/jobs/(\d+)">', first.text)
    assert [int(row) for row in rows] == ids[::-1][:PAGE_SIZE]
    assert "Page 1 of 2" in first.text and 'rel="next" href="/jobs?page=2"' in first.text
    second = client.get("/jobs?page=2")
    rows = re.findall(r'<a href="/jobs/(\d+)">', second.text)
    assert [int(row) for row in rows] == ids[::-1][PAGE_SIZE:]
    assert 'rel="prev" href="/jobs?page=1"' in second.text
    filtered = client.get("/jobs?state=RUNNING")
    assert "0 jobs" in filtered.text


def test_a_list_with_active_jobs_refreshes_its_rows_and_a_finished_one_does_not(
    portal: Portal,
) -> None:
    """The rows carry the URL to refresh them while a job on the page is active."""
    job_id = portal.submit()
    client = portal.signed_in("member")
    assert 'data-refresh-url="/jobs/rows?page=1"' in client.get("/jobs").text
    rows = client.get("/jobs/rows?page=1", headers={"X-Nuri-Fragment": "1"})
    assert rows.text.lstrip().startswith("<tbody") and f"/jobs/{job_id}" in rows.text
    portal.world.commons.jobs.cancel(portal.world.member, job_id)
    assert "data-refresh-url" not in client.get("/jobs").text


def test_a_pending_jobs_page_explains_its_place_and_estimated_start(portal: Portal) -> None:
    """Queue position, estimated start and how the estimate is made; then state and log live."""
    world = portal.world
    engine = world.engine()
    blockers = [portal.submit(gpus=4, time_limit_s=600) for _ in range(2)]
    engine.cycle()
    waiting = portal.submit(gpus=2)
    client = portal.signed_in("member")
    page = client.get(f"/jobs/{waiting}").text
    assert "1 in the queue for h100" in page
    assert "Estimated start" in page and "<time datetime=" in page
    assert "simulated forward with the live scheduling policy (fifo)" in page
    assert f'data-refresh-url="/jobs/{waiting}/status"' in page
    assert f'data-log-url="/jobs/{waiting}/log"' in page
    world.clock.advance(30)
    world.backend.finish(blockers[0], output=b"epoch 1\nloss 0.5\n")
    engine.cycle()
    assert "Completed" in client.get(f"/jobs/{blockers[0]}/status").text
    log = client.get(f"/jobs/{blockers[0]}/log?offset=6").json()
    assert log == {"text": "1\nloss 0.5\n", "next_offset": 17, "final": True}
    running = client.get(f"/jobs/{waiting}").text
    assert "Running" in running and "fake output of job" in running


def test_the_log_never_splits_a_character(portal: Portal) -> None:
    """A poll that ends inside a multi-byte character leaves it for the next poll."""
    world = portal.world
    engine = world.engine()
    job_id = portal.submit()
    engine.cycle()
    written = "학습 완료\n".encode()
    # The fake backend's output of a job still running, cut inside the second character.
    world.backend._outputs[job_id] = written[:4]
    client = portal.signed_in("member")
    first = client.get(f"/jobs/{job_id}/log").json()
    assert first == {"text": "학", "next_offset": 3, "final": False}
    world.backend._outputs[job_id] = written
    rest = client.get(f"/jobs/{job_id}/log?offset=3").json()
    assert rest == {"text": "습 완료\n", "next_offset": len(written), "final": False}


def test_resubmit_fills_the_form_from_the_job(portal: Portal) -> None:
    """?from=<job> gives the form that job's project, pool, size, limit and command."""
    job_id = portal.submit(
        gpus=2, time_limit_s=5400, command=["python3", "-c", "print('hi there')"], name="again"
    )
    page = portal.signed_in("member").get(f"/jobs/new?from={job_id}").text
    assert '<option value="pool:h100" selected>' in page
    assert 'value="2"' in page and 'value="1h30m"' in page and 'value="again"' in page
    assert "python3 -c &#34;print(&#39;hi there&#39;)&#34;</textarea>" in page


def test_the_project_page_shows_awards_burn_down_and_spend_per_member(portal: Portal) -> None:
    """Awarded, used and remaining with their cost; a chart with its table; spend per member."""
    world = portal.world
    engine = world.engine()
    job_id = portal.submit(gpus=2)
    engine.cycle()
    world.clock.advance(1800)
    world.backend.finish(job_id)
    engine.cycle()
    client = portal.signed_in("pi")
    page = client.get("/projects/nlp").text
    assert "10" in page and "₩3,600" in page  # 2 devices x 30 min x 3,600 won an hour
    assert 'data-chart="figure-1"' in page and '"type": "scatter"' in page
    assert 'src="/vendor/plotly-' in page
    team = client.get("/projects/nlp/team").text
    lee_row = team.split('<th scope="row">lee</th>')[1].split("</tr>")[0]
    assert ">1<" in lee_row and ">1<" in lee_row and "₩3,600" in lee_row and "100%" in lee_row
    proposals = client.get("/proposals")
    assert proposals.status_code == 200 and "You have no proposals" in proposals.text


def test_plotly_is_served_from_the_installed_package_with_a_long_cache(portal: Portal) -> None:
    """plotly.js comes from the plotly package; its versioned URL may be cached for a year."""
    from nuri.web.charts import PLOTLY_VERSION

    client = portal.client()
    response = client.get(f"/vendor/plotly-{PLOTLY_VERSION}.min.js")
    assert response.status_code == 200 and b"plotly.js" in response.content[:200]
    assert "immutable" in response.headers["cache-control"]
    assert client.get("/vendor/plotly-0.0.1.min.js").status_code == 404
    assert client.get("/static/portal.js").status_code == 200


# -- languages -------------------------------------------------------------------------------


def test_korean_pages_use_korean_words_numbers_won_and_seoul_time(portal: Portal) -> None:
    """?lang=ko: <html lang="ko">, the glossary's words, ₩ with grouping, dates in KST."""
    portal.submit()
    client = portal.signed_in("member")
    page = client.get("/jobs?lang=ko")
    assert '<html lang="ko">' in page.text
    assert "작업 1개, 최근 순" in page.text and "대기 중" in page.text
    assert "2026년 3월 2일 18:00 (KST)" in page.text  # 09:00 UTC
    project = client.get("/projects/nlp").text  # the choice sticks (a cookie)
    assert "할당량" in project and "₩0" in project and '<html lang="ko">' in project
    english = client.get("/projects/nlp?lang=en").text
    assert '<html lang="en">' in english and "Awarded" in english


def test_the_browsers_language_decides_when_nothing_else_does(portal: Portal) -> None:
    """Accept-Language picks Korean or English; ?lang= overrides it."""
    korean = portal.client().get("/sign-in", headers={"Accept-Language": "ko-KR,ko;q=0.9"})
    assert '<html lang="ko">' in korean.text and "API 토큰" in korean.text
    english = portal.client().get("/sign-in", headers={"Accept-Language": "fr, en;q=0.5"})
    assert '<html lang="en">' in english.text
    chosen = portal.client().get("/sign-in?lang=en", headers={"Accept-Language": "ko"})
    assert '<html lang="en">' in chosen.text


def test_every_catalogue_entry_has_both_languages_and_the_same_placeholders() -> None:
    """No message is missing a language, and both say the same {placeholders}."""
    for key, (english, korean) in CATALOGUE.items():
        assert english.strip() and korean.strip(), key
        assert set(re.findall(r"{(\w+)}", english)) == set(re.findall(r"{(\w+)}", korean)), key


# -- the submit form -------------------------------------------------------------------------


def test_the_submit_form_shows_each_fields_problem_next_to_it(portal: Portal) -> None:
    """Server-side checks: every bad field gets its message, linked from a summary and from the
    field (aria-describedby), and what was typed is kept."""
    client = portal.signed_in("member")
    token = csrf_of(client.get("/jobs/new").text)
    response = client.post(
        "/jobs/new",
        data={
            "csrf_token": token,
            "project": "vision",
            "target": "pool:nowhere",
            "gpus": "0",
            "time_limit": "soon",
            "command": "python3 'unclosed",
        },
    )
    assert response.status_code == 400
    page = response.text
    for field, message in (
        ("project", "Choose one of your projects."),
        ("target", "Choose a pool or an accelerator."),
        ("gpus", "from 1 to 64"),
        ("time_limit", "30m, 2h, 1d or 1h30m"),
        ("command", "quotation mark"),
    ):
        assert f'id="{field}-error"' in page and message in page, field
        assert f'<a href="#{field}">' in page, field
        assert re.search(rf'id="{field}"[^>]*aria-describedby="{field}-hint {field}-error"', page)
    assert 'value="soon"' in page and "python3 &#39;unclosed</textarea>" in page
    assert portal.world.commons.jobs.count(portal.world.member) == 0


def test_a_refusal_by_admission_is_shown_with_its_reason(portal: Portal) -> None:
    """A form that passes the field checks but not admission shows the service's reason."""
    client = portal.signed_in("member")
    token = csrf_of(client.get("/jobs/new").text)
    form = {"csrf_token": token, "project": "nlp", "target": "pool:h100", "time_limit": "1h"}
    response = client.post("/jobs/new", data=form | {"gpus": "5", "command": "true"})
    assert response.status_code == 422
    assert "The job was not queued" in response.text and "at most 4" in response.text


def test_a_refusal_by_admission_is_in_korean_on_a_korean_page(portal: Portal) -> None:
    """The service's reason is shown in the page's language: in Korean, not the API's English."""
    client = portal.signed_in("member")
    client.cookies.set("nuri_lang", "ko")
    token = csrf_of(client.get("/jobs/new").text)
    form = {"csrf_token": token, "project": "nlp", "target": "pool:h100", "time_limit": "1h"}
    response = client.post("/jobs/new", data=form | {"gpus": "5", "command": "true"})
    assert response.status_code == 422
    assert "h100 풀은 노드당 장치가 4개입니다" in response.text
    assert "devices per node" not in response.text


def test_submitting_queues_once_however_often_the_form_is_sent(portal: Portal) -> None:
    """The form's idempotency key makes a double click (or a resent form) queue one job."""
    client = portal.signed_in("member")
    page = client.get("/jobs/new").text
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page)
    assert key is not None
    form = {
        "csrf_token": csrf_of(page),
        "idempotency_key": key.group(1),
        "project": "nlp",
        "target": "accelerator:H100",
        "gpus": "1",
        "time_limit": "10m",
        "command": "python3 train.py --epochs 3",
        "preemptible": "on",
    }
    first = client.post("/jobs/new", data=form)
    second = client.post("/jobs/new", data=form)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    [job] = portal.world.commons.jobs.list(portal.world.member)
    assert job.command == ("python3", "train.py", "--epochs", "3")
    assert job.accelerator == "H100" and job.preemptible and job.time_limit_s == 600


def test_the_burn_down_is_summed_per_day_by_the_database(world: World) -> None:
    """The curve the portal draws (Reports.burn_down_curve, summed per UTC day by the database)
    has a point per day, on SQLite and PostgreSQL, including charges on several days."""
    engine = world.engine()
    for day in range(3):
        job = world.commons.jobs.submit(
            world.member, project="nlp", pool="h100", gpus=1 + day, time_limit_s=3600,
            command=["x"],
        )  # fmt: skip
        engine.cycle()
        world.clock.advance(600)
        world.backend.finish(job.id)
        engine.cycle()
        world.clock.advance(86_400)
    [allocation] = world.commons.jobs.usage(world.member, "nlp").allocations
    ours = world.commons.reports.burn_down_curve(world.member, allocation.id)
    assert [point.used_gpu_hours for point in ours] == [
        0.0,
        round(600 / 3600, 4),
        round(3 * 600 / 3600, 4),
        round(6 * 600 / 3600, 4),
        round(6 * 600 / 3600, 4),
    ]
    assert len(ours) == 5 and ours[-1].used_gpu_hours == round(6 * 600 / 3600, 4)
