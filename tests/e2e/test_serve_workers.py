"""`nuri serve --workers 2`: two processes answer on one port, the engine runs once, and /metrics
counts every worker's requests whichever worker is scraped."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_readme_walkthrough import free_port, wait_until_serving

BIN = Path(sys.executable).parent
HEALTH_SERIES = re.compile(
    r'^nuri_http_requests_total\{method="GET",route="/healthz",status_class="2xx"\} (\S+)$', re.M
)


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    """A demo server with two workers: (its process, its URL, its NURI_HOME)."""
    port = free_port()
    home = tmp_path / "home"
    env = {
        **os.environ,
        "NURI_HOME": str(home),
        "NURI_ANALYSES": "false",
        "NURI_SCHEDULER_INTERVAL_S": "0.5",
    }
    env.pop("NURI_DATABASE_URL", None)
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [str(BIN / "nuri"), "serve", "--demo", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until_serving(url, process, tmp_path / "serve.log", 90)
        yield process, url, home
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(15)
        log.close()


def test_two_workers_serve_one_port_count_together_and_stop_together(
    workers: tuple[subprocess.Popen[bytes], str, Path],
) -> None:
    process, url, home = workers
    assert len(children_of(process.pid)) >= 2  # the two workers (and multiprocessing's helper)

    def health_checks_counted() -> float:
        scraped = HEALTH_SERIES.search(httpx.get(f"{url}/metrics", timeout=10).text)
        assert scraped is not None
        return float(scraped.group(1))

    before = health_checks_counted()  # the fixture's own check that the server is up
    # Requests until both workers have answered some (each keeps its counts in a file of its own),
    # so that the scrapes below can only be right by adding up both.
    answered, counting = 0, set[str]()
    while len(counting) < 2 and answered < 400:
        for _ in range(10):
            assert httpx.get(f"{url}/healthz", timeout=10).status_code == 200
            answered += 1
        counting = {path.name for path in (home / "http-metrics").glob("counter_*.db")}
    assert len(counting) >= 2, "every request went to one worker"
    # A worker counts a request just after answering it, so the last few may take a moment.
    deadline = time.monotonic() + 10
    while (counted := health_checks_counted()) < before + answered:
        assert time.monotonic() < deadline, f"{counted} requests counted of {before + answered}"
        time.sleep(0.1)
    for _ in range(4):  # whichever worker answers the scrape
        assert health_checks_counted() == before + answered

    # The scheduler runs in the parent and starts what a worker queued.
    token = json.loads((home / "demo-tokens.json").read_text())["researcher"]
    headers = {"Authorization": f"Bearer {token}"}
    queued = httpx.post(
        f"{url}/api/v1/jobs",
        headers=headers,
        json={
            "project": "snu-nlp",
            "pool": "h100-ksc",
            "gpus": 1,
            "time_limit_s": 60,
            "command": ["echo", "hello from a worker"],
        },
        timeout=10,
    )
    assert queued.status_code == 201, queued.text
    job = queued.json()["id"]
    deadline = time.monotonic() + 60
    while (state := httpx.get(f"{url}/api/v1/jobs/{job}", headers=headers).json()["state"]) in (
        "PENDING",
        "RUNNING",
    ):
        assert time.monotonic() < deadline, f"job {job} still {state}"
        time.sleep(0.3)
    assert state == "COMPLETED"

    started = {pid: _command(pid) for pid in children_of(process.pid)}
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0
    deadline = time.monotonic() + 15  # helpers notice their parent has gone, then end
    while lingering := [pid for pid, command in started.items() if _command(pid) == command]:
        assert time.monotonic() < deadline, f"still running: {[started[p] for p in lingering]}"
        time.sleep(0.2)


def _command(pid: int) -> str:
    """The process's command line, or "" once it has ended (a zombie's is empty too)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ").strip()
    except OSError:
        return ""
