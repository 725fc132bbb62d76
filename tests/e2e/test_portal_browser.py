"""The web portal in a real browser: Debian's Chromium, driven by Playwright, against a real
``nuri serve --demo`` on a free port.

The researcher signs in with their token, submits a job through the form (after seeing the
form's own validation), watches it run and complete with its output, and reopens it to submit
again; the PI, whose browser asks for Korean, sees the project's awards with their burn-down
chart, the team's spend per member and their proposals, and switches language. Screenshots of
the main pages go to ``$NURI_ARTIFACTS`` (default ``build/screenshots``).

Chromium comes from Debian (``make browser`` installs it; Playwright never downloads one). In CI
(``CI=true``) a missing Chromium is installed that way or fails the test; elsewhere the test is
skipped with the reason.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_readme_walkthrough import free_port, wait_until_serving

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ARTIFACTS = Path(os.environ.get("NURI_ARTIFACTS", ROOT / "build" / "screenshots"))
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    # Without these Chromium keeps trying to reach outside hosts and fails noisily.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
COMMAND = (
    "python3 -c \"import os, time; print('devices', os.environ['CUDA_VISIBLE_DEVICES']);"
    " time.sleep(8); print('done')\""
)

pytestmark = pytest.mark.slow


def find_chromium() -> str | None:
    """``$NURI_CHROMIUM`` if set (and there), else Debian's ``chromium`` on the PATH."""
    configured = os.environ.get("NURI_CHROMIUM")
    if configured:
        return configured if Path(configured).exists() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def chromium() -> str:
    """Debian's Chromium: installed by ``make browser`` in CI (as root), else skip locally."""
    path = find_chromium()
    if path is None and IN_CI and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["make", "-s", "browser"], cwd=ROOT, check=False, timeout=900)
        path = find_chromium()
    if path is None:
        reason = "Chromium is not installed; 'make browser' installs Debian's (needs root)"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@dataclass
class Portal:
    url: str
    home: Path

    def token(self, who: str) -> str:
        tokens: dict[str, str] = json.loads((self.home / "demo-tokens.json").read_text())
        return tokens[who]


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    """``nuri serve --demo`` in its own NURI_HOME (the demo writes its tokens there)."""
    where = tmp_path_factory.mktemp("portal")
    port = free_port()
    # Pages work forecasts out when asked; no worker computes them beside the browser.
    env = {**os.environ, "NURI_HOME": str(where / "home"), "NURI_ANALYSES": "false"}
    env.pop("NURI_DATABASE_URL", None)
    log = (where / "serve.log").open("wb")
    process = subprocess.Popen(
        [str(BIN / "nuri"), "serve", "--demo", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(url, process, where / "serve.log", 30)
        yield Portal(url, where / "home")
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:  # still answering a slow page nobody awaits now
            process.kill()
            process.wait(15)
        log.close()


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


def shoot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def watch_for_script_errors(page) -> list[str]:
    """Script errors and content-security-policy refusals the page meets (a refused request
    shows up too, as "Failed to load resource"; the tests expect some: 401, 400)."""
    problems: list[str] = []

    def on_console(message) -> None:
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            problems.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    return problems


def sign_in(page, portal: Portal, who: str) -> None:
    page.goto(f"{portal.url}/")
    page.get_by_label("API token").or_(page.get_by_label("API 토큰")).fill(portal.token(who))
    page.locator("form.form button[type=submit]").click()
    page.wait_for_url("**/jobs")


def test_researcher_signs_in_submits_a_job_and_watches_it_complete(browser, portal: Portal):
    """Sign in (a wrong token is refused without saying why), submit through the form (its own
    validation first), see the job RUNNING then COMPLETED with its output, resubmit it."""
    from playwright.sync_api import expect

    context = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 860})
    page = context.new_page()
    problems = watch_for_script_errors(page)

    page.goto(f"{portal.url}/jobs")
    expect(page).to_have_url(f"{portal.url}/sign-in?next=%2Fjobs")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.get_by_label("API token").fill("nuri_not-a-real-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("does not sign anyone in")
    shoot(page, "sign-in-refused")

    sign_in(page, portal, "researcher")
    expect(page.get_by_role("heading", level=1)).to_have_text("Jobs")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Submit a job").click()
    page.get_by_label("Command").fill("")
    page.get_by_label("Time limit").fill("soon")
    page.get_by_role("button", name="Submit the job").click()
    expect(page.locator("#error-summary")).to_be_focused()
    expect(page.locator("#time_limit-error")).to_contain_text("30m, 2h, 1d or 1h30m")
    expect(page.locator("#command-error")).to_contain_text("Enter the command")
    shoot(page, "submit-errors")

    page.get_by_label("Project").select_option("snu-nlp")
    page.get_by_label("Where to run").select_option("pool:h100-ksc")
    page.get_by_label("Devices (GPUs)").fill("2")
    page.get_by_label("Time limit").fill("10m")
    page.get_by_label("Command").fill(COMMAND)
    page.get_by_label("Name (optional)").fill("portal-demo")
    shoot(page, "submit")
    page.get_by_role("button", name="Submit the job").click()

    page.wait_for_url("**/jobs/*")
    job_url = page.url
    state = page.locator("#job-status .state").first
    expect(state).to_have_text("Running", timeout=20_000)
    shoot(page, "job-running")
    expect(state).to_have_text("Completed", timeout=30_000)
    expect(page.locator("#live-announcer")).to_have_text(re.compile(r"Job \d+: Completed"))
    log = page.locator("#job-log")
    expect(log).to_contain_text("devices 0,1", timeout=10_000)
    expect(log).to_contain_text("done")
    shoot(page, "job-completed")

    page.get_by_role("link", name="Submit again…").click()
    expect(page.get_by_label("Command")).to_have_value(COMMAND)
    expect(page.get_by_label("Where to run")).to_have_value("pool:h100-ksc")

    page.goto(f"{portal.url}/jobs")
    first_row = page.locator("#job-rows tr").first
    expect(first_row).to_contain_text("portal-demo")
    expect(first_row).to_contain_text("Completed")
    shoot(page, "jobs")

    page.goto(f"{portal.url}/projects/snu-nlp")
    expect(page.locator(".chart .main-svg").first).to_be_visible(timeout=10_000)
    shoot(page, "project")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_contain_text("signed out")
    page.goto(job_url)
    expect(page).to_have_url(re.compile(r".*/sign-in\?next=%2Fjobs%2F\d+$"))
    assert problems == [], problems
    context.close()


def completed_job_for_lee(portal: Portal) -> int:
    """A finished job of lee's in snu-nlp (submitted through the API), so that the team's spend
    has something in it whichever test runs first."""
    headers = {"Authorization": f"Bearer {portal.token('researcher')}"}
    body = {
        "project": "snu-nlp",
        "pool": "a100-gwangju",
        "gpus": 1,
        "time_limit_s": 600,
        "command": ["python3", "-c", "print('hello from lee')"],
    }
    job = httpx.post(f"{portal.url}/api/v1/jobs", json=body, headers=headers).json()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        shown = httpx.get(f"{portal.url}/api/v1/jobs/{job['id']}", headers=headers).json()
        if shown["state"] == "COMPLETED":
            return int(job["id"])
        time.sleep(0.3)
    pytest.fail(f"job {job['id']} did not complete: {shown}")


def test_pi_in_korean_sees_awards_team_spend_and_proposals(browser, portal: Portal):
    """A browser that asks for Korean gets Korean pages (numbers, won and dates too); the PI sees
    the award's burn-down, each member's spend and the team's proposals, and can switch to
    English and back."""
    from playwright.sync_api import expect

    completed_job_for_lee(portal)
    context = browser.new_context(locale="ko-KR", viewport={"width": 1280, "height": 860})
    page = context.new_page()
    problems = watch_for_script_errors(page)

    page.goto(f"{portal.url}/")
    expect(page.locator("html")).to_have_attribute("lang", "ko")
    expect(page.get_by_role("heading", level=1)).to_have_text("로그인")
    shoot(page, "sign-in-ko")
    sign_in(page, portal, "pi")
    expect(page.get_by_role("heading", level=1)).to_have_text("작업")

    nav = page.get_by_role("navigation", name="주 메뉴")
    nav.get_by_role("link", name="과제").click()
    page.get_by_role("link", name="snu-nlp", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("snu-nlp")
    expect(page.locator(".chart .main-svg").first).to_be_visible(timeout=10_000)
    awards = page.get_by_role("table", name="snu-nlp의 할당")
    expect(awards).to_contain_text("1,000")
    expect(awards).to_contain_text("₩")
    expect(awards).to_contain_text("년")  # a Korean date: 2026년 11월 22일
    shoot(page, "project-ko")

    page.get_by_role("navigation", name="과제 메뉴").get_by_role("link", name="연구팀").click()
    team = page.get_by_role("table", name="snu-nlp 연구팀")
    kim = team.get_by_role("row").filter(has_text="kim")
    lee = team.get_by_role("row").filter(has_text="lee")
    expect(kim).to_contain_text("연구책임자")
    expect(lee).to_contain_text("참여연구원")
    expect(lee.locator("td.number").first).not_to_have_text("0")
    shoot(page, "team-ko")

    nav.get_by_role("link", name="제안서").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("제안서")
    expect(page.locator("main")).to_contain_text("snu-llm")
    shoot(page, "proposals-ko")

    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Proposals")
    page.goto(f"{portal.url}/jobs")  # the choice sticks without ?lang=
    expect(page.get_by_role("heading", level=1)).to_have_text("Jobs")
    page.get_by_role("link", name="한국어").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("작업")
    shoot(page, "jobs-ko")
    assert problems == [], problems
    context.close()


def open_call_with_a_review_for_han(portal: Portal) -> str:
    """An open call (through the API: the demo's own call is already decided) with kim's
    proposal for snu-nlp assigned to han; han's token."""
    admin = {"Authorization": f"Bearer {portal.token('admin')}"}
    pi = {"Authorization": f"Bearer {portal.token('pi')}"}
    now = datetime.now(UTC)
    call = {
        "name": "portal-2027",
        "title": "Portal review demo",
        "opens_at": (now - timedelta(hours=1)).isoformat(),
        "closes_at": (now + timedelta(days=10)).isoformat(),
        "budgets": {"h100-ksc": 500},
        "rubric": [
            {"name": "excellence", "weight": 0.5},
            {"name": "impact", "weight": 0.3},
            {"name": "feasibility", "weight": 0.2},
        ],
        "award_starts_at": (now + timedelta(days=11)).isoformat(),
        "award_ends_at": (now + timedelta(days=60)).isoformat(),
    }
    api = f"{portal.url}/api/v1"
    assert httpx.post(f"{api}/calls", json=call, headers=admin).status_code == 201
    proposal = {
        "name": "snu-nlp-2027",
        "title": "Korean instruction tuning",
        "abstract": "Instruction-tuning a Korean model on public-sector documents.",
        "project": "snu-nlp",
        "requested": {"h100-ksc": 300},
        "minimum_hours": 100,
    }
    made = httpx.post(f"{api}/calls/portal-2027/proposals", json=proposal, headers=pi)
    assert made.status_code == 201, made.text
    submitted = httpx.post(f"{api}/calls/portal-2027/proposals/snu-nlp-2027/submit", headers=pi)
    assert submitted.status_code == 200, submitted.text
    assigned = httpx.post(
        f"{api}/calls/portal-2027/proposals/snu-nlp-2027/reviewers",
        json={"reviewer": "han"},
        headers=admin,
    )
    assert assigned.status_code == 201, assigned.text
    token = httpx.post(f"{api}/users/han/tokens", json={"label": "browser"}, headers=admin)
    assert token.status_code == 201, token.text
    return str(token.json()["token"])


def test_reviewer_scores_a_proposal_on_the_rubric(browser, portal: Portal):
    """A reviewer opens the proposal assigned to them, sees a score outside the scale reported at
    its field, then saves valid scores and sees them saved."""
    from playwright.sync_api import expect

    token = open_call_with_a_review_for_han(portal)
    context = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 860})
    page = context.new_page()
    problems = watch_for_script_errors(page)
    page.goto(f"{portal.url}/sign-in")
    page.get_by_label("API token").fill(token)
    page.locator("form.form button[type=submit]").click()
    page.wait_for_url("**/jobs")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="My reviews").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My reviews")
    shoot(page, "reviews")
    page.get_by_role("link", name="snu-nlp-2027").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Review of snu-nlp-2027")
    page.get_by_label("Excellence").fill("7")
    page.get_by_label("Impact").fill("4")
    page.get_by_label("Feasibility").fill("3")
    page.get_by_role("button", name="Save my scores").click()
    expect(page.locator("#error-summary")).to_be_visible()
    expect(page.locator("#score-0-error")).to_contain_text("from 1 to 5")
    shoot(page, "review-errors")
    page.get_by_label("Excellence").fill("5")
    page.get_by_label("Comment (optional)").fill("Clear plan; the data is public.")
    page.get_by_role("button", name="Save my scores").click()
    expect(page.locator("#saved")).to_contain_text("Your scores are saved")
    expect(page.get_by_label("Excellence")).to_have_value("5")
    expect(page.get_by_role("button", name="Replace my scores")).to_be_visible()
    shoot(page, "review-saved")
    page.get_by_role("link", name="한국어").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("snu-nlp-2027 평가")
    expect(page.get_by_label("우수성")).to_have_value("5")
    assert problems == [], problems
    context.close()


def test_manager_and_operator_see_the_call_and_dashboards_in_both_languages(
    browser, portal: Portal
):
    """The operator opens the demo call (ranking, award plan, stages with the leaderboard) and
    the dashboard's sections with their charts, in English and then in Korean."""
    from playwright.sync_api import expect

    context = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems = watch_for_script_errors(page)
    sign_in(page, portal, "admin")
    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Calls").click()
    page.get_by_role("link", name="ko-llm-2027").click()
    expect(page.get_by_role("heading", name="Ranking")).to_be_visible()
    expect(page.get_by_role("table", name="Ranking")).to_contain_text("snu-llm")
    expect(page.get_by_role("heading", name="Award plan (optimiser)")).to_be_visible()
    expect(page.get_by_role("table", name="Leaderboard of stage-1")).to_contain_text("hanbit-llm")
    shoot(page, "call")

    nav.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Commons dashboard")
    expect(page.locator(".chart .main-svg").first).to_be_visible(timeout=10_000)
    expect(page.get_by_role("heading", name="How much more is needed")).to_be_visible()
    shoot(page, "dashboard-spend")
    tabs = page.get_by_role("navigation", name="Dashboard sections")
    tabs.get_by_role("link", name="Utilisation").click()
    expect(page.locator(".chart .main-svg").first).to_be_visible(timeout=10_000)
    shoot(page, "dashboard-utilisation")
    tabs.get_by_role("link", name="Fairness").click()
    expect(page.locator("#jain")).not_to_be_empty()

    page.get_by_role("link", name="한국어").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("공동활용 인프라 현황")
    expect(page.get_by_role("heading", name="이용자 유형별 할당 대비 제공")).to_be_visible()
    shoot(page, "dashboard-fairness-ko")
    page.get_by_role("navigation", name="현황 항목").get_by_role("link", name="대기 시간").click()
    expect(page.get_by_role("heading", level=2)).to_contain_text("대기 시간")
    shoot(page, "dashboard-waits-ko")
    page.get_by_role("navigation", name="현황 항목").get_by_role("link", name="증설 계획").click()
    page.get_by_label("풀").select_option("rngd-gwangju")
    page.get_by_label("90% 대기 시간 목표").select_option("4h")
    # Planning simulates the pool at many sizes: tens of seconds when other tests share the cores.
    page.get_by_role("button", name="계획 세우기").click(timeout=120_000)
    expect(page.locator("#plan-table")).to_contain_text("rngd-gwangju", timeout=120_000)
    shoot(page, "dashboard-plan-ko")
    assert problems == [], problems
    context.close()


def test_keyboard_users_can_skip_to_the_content_and_reach_the_menu(browser, portal: Portal):
    """The first Tab lands on the skip link, which moves focus to the main content; the menu's
    links are reachable by Tab and show a visible focus ring."""
    from playwright.sync_api import expect

    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    sign_in(page, portal, "researcher")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    page.goto(f"{portal.url}/jobs")
    for _ in range(12):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "Projects":
            break
    projects = page.get_by_role("link", name="Projects")
    expect(projects).to_be_focused()
    outline = projects.evaluate("element => getComputedStyle(element).outlineStyle")
    assert outline == "solid"
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Projects")
    context.close()
