"""An allocation programme driven end to end by the `nuri` command against a real demo server."""

import json
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_readme_walkthrough import BIN, server  # noqa: F401

POOLS = ("h100-ksc", "a100-gwangju")


def nuri(env: dict[str, str], token: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "nuri"), *args],
        env=env | {"NURI_TOKEN": token},
        capture_output=True,
        text=True,
        timeout=60,
    )


def ok(env: dict[str, str], token: str, *args: str) -> str:
    result = nuri(env, token, *args)
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result.stdout


def as_json(env: dict[str, str], token: str, *args: str) -> Any:
    return json.loads(ok(env, token, *args, "--json"))


def refused(env: dict[str, str], token: str, *args: str) -> str:
    """The one-line error of a command that must fail with exit status 1."""
    result = nuri(env, token, *args)
    assert result.returncode == 1, (args, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    return result.stderr


def at(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def call_options(opens: datetime, closes: datetime) -> list[str]:
    return [
        "--opens",
        at(opens),
        "--closes",
        at(closes),
        "--budget",
        "h100-ksc=1000",
        "--budget",
        "a100-gwangju=500",
        "--criterion",
        "merit=3",
        "--criterion",
        "feasibility=2:1-10",
        "--award-start",
        at(closes + timedelta(days=1)),
        "--award-end",
        at(closes + timedelta(days=366)),
    ]


@pytest.mark.slow
def test_a_call_runs_from_the_command_line(
    server: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    """A manager opens calls, a PI proposes, a reviewer scores, and the manager ranks and awards."""
    tokens = json.loads((Path(server["NURI_HOME"]) / "demo-tokens.json").read_text())
    admin, pi = tokens["admin"], tokens["pi"]
    manager = json.loads(ok(server, admin, "admin", "create-user", "mgr", "--role", "manager"))
    reviewer = json.loads(
        ok(server, admin, "admin", "create-user", "rev", "--role", "reviewer", "--org", "kiast")
    )
    assert manager["user"] == "mgr" and reviewer["user"] == "rev"
    mgr, rev = manager["token"], reviewer["token"]
    now = datetime.now(UTC)

    # A second call closes soon so its awards can be decided; its proposal goes in first, and
    # the first call's steps below use up most of the wait.
    quick_closes = now + timedelta(seconds=15)
    ok(
        server,
        mgr,
        "call",
        "create",
        "quick",
        *call_options(now - timedelta(minutes=1), quick_closes),
    )
    for step in (
        ["create", "quick", "snu-q", "--project", "snu-nlp", "--request", "h100-ksc=400"],
        ["submit", "quick", "snu-q"],
    ):
        ok(server, pi, "proposal", *step)

    malformed = [
        (["--budget", "h100-ksc"], "POOL=HOURS"),
        (["--budget", "h100-ksc=lots"], "not a whole number"),
        (["--criterion", "merit"], "NAME=WEIGHT"),
        (["--criterion", "merit=3:high"], "LOW-HIGH"),
        (["--opens", "next monday"], "ISO 8601"),
        (["--opens", "2027-01-01T09:00"], "time zone"),
    ]
    for change, message in malformed:
        options = call_options(now, now + timedelta(hours=1))
        flag = options.index(change[0])
        options[flag : flag + 2] = change
        assert message in refused(server, mgr, "call", "create", "bad", *options), change

    call = json.loads(
        ok(
            server,
            mgr,
            "call",
            "create",
            "llm-2027",
            "--title",
            "Korean LLMs [2027]",
            "--eligible",
            "university",
            "--tier",
            "hub-member",
            "--json",
            *call_options(now - timedelta(minutes=1), now + timedelta(hours=1)),
        )
    )
    assert call["state"] == "open" and call["budgets"] == {"h100-ksc": 1000, "a100-gwangju": 500}
    assert [(c["name"], c["weight"], c["lowest"], c["highest"]) for c in call["rubric"]] == [
        ("merit", 3.0, 1, 5),
        ("feasibility", 2.0, 1, 10),
    ]
    assert as_json(server, pi, "call", "show", "llm-2027") == call | {"proposals": 0}
    assert [c["name"] for c in as_json(server, pi, "call", "list")] == [
        "ko-llm-2027",  # the demo commons' own competition
        "quick",
        "llm-2027",
    ]
    assert "Korean LLMs [2027]" in ok(server, pi, "call", "list")
    assert "feasibility" in ok(server, pi, "call", "show", "llm-2027")

    abstract = tmp_path / "abstract.md"
    abstract.write_text("Pretraining a 7B Korean model for science.\n")
    proposal = json.loads(
        ok(
            server,
            pi,
            "proposal",
            "create",
            "llm-2027",
            "snu-llm",
            "--project",
            "snu-nlp",
            "--request",
            "h100-ksc=600",
            "--request",
            "a100-gwangju=200",
            "--minimum",
            "300",
            "--title",
            "Science LLM",
            "--abstract-file",
            str(abstract),
            "--team",
            "lee",
            "--json",
        )
    )
    assert proposal["state"] == "draft" and proposal["abstract"] == abstract.read_text()
    assert proposal["requested"] == {"h100-ksc": 600, "a100-gwangju": 200}
    assert "not a whole number" in refused(
        server, pi, "proposal", "create", "llm-2027", "x", "--project", "snu-nlp",
        "--request", "h100-ksc=600", "--minimum", "some",
    )  # fmt: skip
    assert "say what to change" in refused(server, pi, "proposal", "update", "llm-2027", "snu-llm")
    updated = json.loads(
        ok(server, pi, "proposal", "update", "llm-2027", "snu-llm", "--minimum", "350", "--json")
    )
    assert updated["minimum_hours"] == 350 and updated["title"] == "Science LLM"
    ok(server, pi, "proposal", "submit", "llm-2027", "snu-llm")
    listed = as_json(server, pi, "proposal", "list", "llm-2027")
    assert [(p["name"], p["state"], p["team"]) for p in listed] == [
        ("snu-llm", "submitted", ["lee"])
    ]

    assert "only a manager" in refused(server, pi, "review", "assign", "llm-2027", "snu-llm", "rev")
    ok(server, mgr, "review", "assign", "llm-2027", "snu-llm", "rev")
    scale = refused(
        server, rev, "review", "submit", "llm-2027", "snu-llm",
        "--score", "merit=9", "--score", "feasibility=7",
    )  # fmt: skip
    assert "the score for merit must be between 1 and 5; got 9" in scale
    assert "CRITERION=N" in refused(
        server, rev, "review", "submit", "llm-2027", "snu-llm", "--score", "merit"
    )
    review = json.loads(
        ok(
            server, rev, "review", "submit", "llm-2027", "snu-llm",
            "--score", "merit=4", "--score", "feasibility=7", "--comment", "Sound plan.", "--json",
        )
    )  # fmt: skip
    assert review["scores"] == {"merit": 4, "feasibility": 7} and review["total"] is not None
    assert [r["reviewer"] for r in as_json(server, rev, "review", "list", "llm-2027")] == ["rev"]
    assert "Sound plan." in ok(server, mgr, "review", "list", "llm-2027")

    ranking = as_json(server, mgr, "call", "ranking", "llm-2027")
    assert [(r["rank"], r["proposal"], r["reviews"]) for r in ranking] == [(1, "snu-llm", 1)]
    assert ranking[0]["requested"] == {"h100-ksc": 600, "a100-gwangju": 200}
    plan = as_json(server, mgr, "call", "award-plan", "llm-2027")
    assert plan["call"] == "llm-2027" and plan["optimal"] is True
    assert plan["budgets"] == {"h100-ksc": 1000, "a100-gwangju": 500}
    assert plan["granted"] == {"snu-llm": {"h100-ksc": 600, "a100-gwangju": 200}}
    assert set(plan["weights"]) == {"snu-llm"}
    assert "snu-llm" in ok(server, mgr, "call", "ranking", "llm-2027")
    assert "800/1,500" in ok(server, mgr, "call", "award-plan", "llm-2027")
    assert "closes at" in refused(server, mgr, "award", "decide", "llm-2027")

    assert "one --reason for all" in refused(
        server, mgr, "award", "decide", "quick",
        "--override", "snu-q=h100-ksc:300", "--override", "x=h100-ksc:1",
        "--reason", "a", "--reason", "b", "--reason", "c",
    )  # fmt: skip
    assert "POOL:HOURS" in refused(
        server, mgr, "award", "decide", "quick", "--override", "snu-q=h100-ksc", "--reason", "a"
    )
    time.sleep(max(0.0, (quick_closes - datetime.now(UTC)).total_seconds() + 0.5))
    decided = as_json(
        server, mgr, "award", "decide", "quick",
        "--override", "snu-q=h100-ksc:300", "--reason", "A pilot first; more after stage gate.",
    )  # fmt: skip
    awards = as_json(server, mgr, "award", "list", "quick")
    assert awards == decided
    assert [(a["proposal"], a["granted"], a["source"], a["reason"]) for a in awards] == [
        ("snu-q", {"h100-ksc": 300}, "override", "A pilot first; more after stage gate.")
    ]
    assert isinstance(awards[0]["allocation_id"], int)
    assert "override" in ok(server, pi, "award", "list", "quick")
    assert as_json(server, pi, "call", "show", "quick")["state"] == "decided"

    log = as_json(server, mgr, "audit", "--limit", "3")
    assert len(log) == 3 and log[0]["action"] == "award.override" and log[0]["actor"] == "mgr"
    assert "review.assign" in ok(server, mgr, "audit")
    assert "only a manager" in refused(server, pi, "audit")
    assert as_json(server, rev, "conflict", "declare", "hanbit-ai") == ["hanbit-ai"]

    # A stage of the competition: the team's evaluation runs as a real job, the gate decides.
    metrics = (
        "import json, sys; print('evaluating', sys.argv[1]); print(json.dumps({'accuracy': 0.75}))"
    )
    added = json.loads(
        ok(
            server, mgr, "stage", "add", "quick", "stage-1",
            "--ends", at(quick_closes + timedelta(days=30)), "--metric", "accuracy",
            "--pool", "h100-ksc", "--top-k", "1", "--json", "--", "python3", "-c", metrics,
        )
    )  # fmt: skip
    assert added["number"] == 1 and added["teams"] == ["snu-q"]
    assert "--top-k N, --threshold X" in refused(
        server, mgr, "stage", "add", "quick", "stage-2", "--ends", at(quick_closes),
        "--metric", "accuracy", "--pool", "h100-ksc", "--", "true",
    )  # fmt: skip
    assert "NAME@VERSION" in refused(
        server, pi, "catalog", "add", "snu-ko", "--project", "snu-nlp",
        "--licence", "Apache-2.0", "--provenance", "p", "--uri", "u",
    )  # fmt: skip
    ok(
        server, pi, "catalog", "add", "snu-ko@1", "--project", "snu-nlp", "--licence",
        "LicenseRef-snu", "--provenance", "Pre-trained on Korean news", "--uri", "s3://m/snu-ko/1",
    )  # fmt: skip
    assert "snu-ko@1" in ok(server, pi, "catalog", "list")
    run = json.loads(
        ok(
            server, pi, "eval", "submit", "quick", "stage-1", "snu-q",
            "--model", "snu-ko@1", "--json",
        )
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while True:
        [listed_run] = as_json(server, pi, "eval", "list", "quick", "stage-1")
        if listed_run["metrics"] is not None or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert listed_run["job_id"] == run["job_id"] and listed_run["metrics"] == {"accuracy": 0.75}
    board = as_json(server, pi, "eval", "leaderboard", "quick", "stage-1")
    assert board == [{"rank": 1, "proposal": "snu-q", "value": 0.75}]
    assert "only a manager" in refused(server, pi, "stage", "gate", "quick", "stage-1")
    gated = json.loads(ok(server, mgr, "stage", "gate", "quick", "stage-1", "--json"))
    assert gated["advance"] == ["snu-q"] and gated["stop"] == []
    assert "gated" in ok(server, mgr, "stage", "list", "quick")

    # The demo's own competition: its stage-1 evaluations ran for real when the server started.
    deadline = time.monotonic() + 60
    while True:
        demo_board = as_json(server, pi, "eval", "leaderboard", "ko-llm-2027", "stage-1")
        if all(row["value"] is not None for row in demo_board) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert len(demo_board) >= 3 and all(row["value"] is not None for row in demo_board)
    assert demo_board[0]["proposal"] == "snu-llm"
