"""Submissions queued together, in one transaction: each gets the answer it would get alone.

``Jobs.submit_many`` is what the API runs for the submissions that arrive while the previous ones
are being queued (``nuri.api.submission_batches``); these tests hold it to ``Jobs.submit``'s rules
one submission at a time, on SQLite and PostgreSQL.
"""

import asyncio
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select

from nuri.api.app import create_app
from nuri.api.batches import SubmissionBatches
from nuri.domain.errors import AdmissionRefused, DomainError, Forbidden, NotFound
from nuri.service.auth import Actor
from nuri.service.idempotency import Claim, KeyedRequest, RequestAlreadyCarriedOut, StoredAnswer
from nuri.service.jobs import Submission
from nuri.service.views import JobView
from nuri.store.tables import IdempotencyKeyRow, JobRow
from tests.conftest import World
from tests.integration.test_submission_statements import Statements


def hour_job(actor: Actor, project: str = "nlp", **changes: object) -> Submission:
    fields: dict[str, object] = {
        "actor": actor,
        "project": project,
        "pool": "h100",
        "gpus": 1,
        "time_limit_s": 3600,
        "command": ("python", "train.py"),
    }
    return Submission(**(fields | changes))  # type: ignore[arg-type]


def test_each_submission_gets_its_own_answer_or_refusal(world: World) -> None:
    outcomes = world.commons.jobs.submit_many(
        [
            hour_job(world.member),
            hour_job(world.member, project="vision"),  # not a member
            hour_job(world.member, project="nowhere"),
            hour_job(world.member, pool="mars"),
            hour_job(world.pi, gpus=2),
        ]
    )
    queued, not_member, no_project, no_pool, two_devices = outcomes
    assert isinstance(queued, JobView) and queued.state == "PENDING"
    assert isinstance(not_member, Forbidden)
    assert isinstance(no_project, NotFound) and "nowhere" in no_project.message
    assert isinstance(no_pool, AdmissionRefused) and "mars" in no_pool.message
    assert isinstance(two_devices, JobView) and two_devices.gpus == 2
    with world.commons.sessions.begin() as session:
        assert session.scalar(select(func.count()).select_from(JobRow)) == 2


def test_each_is_admitted_against_what_those_before_it_left(world: World) -> None:
    """nlp has 10 GPU-hours: five 2-hour holds fit, the sixth does not; vision's 5
    hours are its own."""
    outcomes = world.commons.jobs.submit_many(
        [hour_job(world.member, time_limit_s=7200) for _ in range(6)]
        + [hour_job(world.outsider, project="vision", time_limit_s=7200)]
    )
    assert [isinstance(outcome, JobView) for outcome in outcomes] == [True] * 5 + [False, True]
    assert isinstance(outcomes[5], AdmissionRefused)
    usage = world.commons.jobs.usage(world.pi, "nlp")
    assert sum(allocation.held_units for allocation in usage.allocations) == 10 * 3600 * 1000


def test_queue_positions_follow_the_order_of_submission(world: World) -> None:
    alone = world.commons.jobs.submit(
        world.member, project="nlp", pool="h100", gpus=1, time_limit_s=60, command=["x"]
    )
    outcomes = world.commons.jobs.submit_many(
        [
            hour_job(world.member),
            hour_job(world.member, pool="atom"),
            hour_job(world.outsider, project="vision"),
            hour_job(world.member, pool="atom"),
        ]
    )
    positions = [outcome.queue_position for outcome in outcomes if isinstance(outcome, JobView)]
    assert alone.queue_position == 1
    assert positions == [2, 1, 3, 2]
    for outcome in outcomes:  # the same places a look at each job finds
        assert isinstance(outcome, JobView)
        assert world.commons.jobs.show(world.admin, outcome.id).queue_position == (
            outcome.queue_position
        )


def test_one_key_twice_in_a_batch_queues_one_job(world: World) -> None:
    key = uuid.uuid4().hex
    first, second = world.commons.jobs.submit_many(
        [hour_job(world.member, idempotency_key=key), hour_job(world.member, idempotency_key=key)]
    )
    assert isinstance(first, JobView) and isinstance(second, JobView)
    assert first.id == second.id
    with world.commons.sessions.begin() as session:
        assert session.scalar(select(func.count()).select_from(JobRow)) == 1


def claim_for(actor: Actor, key: str, world: World) -> Claim:
    request = KeyedRequest(actor.user_id, key, "POST /api/v1/jobs", "f" * 64)
    return Claim(request=request, now=world.clock())


def test_keys_are_claimed_with_their_answers_in_the_jobs_transaction(world: World) -> None:
    claims = [claim_for(world.member, f"key-{number}", world) for number in range(3)]

    def answering(claim: Claim) -> Submission:
        def answer(view: JobView) -> None:
            claim.answer = StoredAnswer(201, "application/json", f'{{"id":{view.id}}}'.encode())

        return hour_job(world.member, idempotency_key=claim.request.key, on_queued=answer)

    outcomes = world.commons.jobs.submit_many(
        [
            Submission(**{**_fields(answering(claim)), "claim": claim})  # type: ignore[arg-type]
            for claim in claims
        ]
    )
    assert all(claim.claimed for claim in claims)
    with world.commons.sessions.begin() as session:
        stored = {row.key: row.response_body for row in session.scalars(select(IdempotencyKeyRow))}
    assert stored == {
        claim.request.key: f'{{"id":{outcome.id}}}'
        for claim, outcome in zip(claims, outcomes, strict=True)
        if isinstance(outcome, JobView)
    }


def _fields(submission: Submission) -> dict[str, object]:
    return {name: getattr(submission, name) for name in Submission.__slots__}


def test_a_key_claimed_meanwhile_refuses_only_its_own_submission(world: World) -> None:
    """The batch's claims fail together; each submission is then carried out alone, and only the
    one whose key was taken is refused."""
    taken = claim_for(world.member, "taken", world)
    with world.commons.sessions.begin() as session:
        session.add(
            IdempotencyKeyRow(
                user_id=world.member.user_id,
                key="taken",
                request="POST /api/v1/jobs",
                fingerprint="f" * 64,
                created_at=world.clock(),
            )
        )
    free = claim_for(world.member, "free", world)
    outcomes = world.commons.jobs.submit_many(
        [
            hour_job(world.member, idempotency_key="free", claim=free),
            hour_job(world.member, idempotency_key="taken", claim=taken),
        ]
    )
    assert isinstance(outcomes[0], JobView) and free.claimed
    assert isinstance(outcomes[1], RequestAlreadyCarriedOut) and not taken.claimed
    with world.commons.sessions.begin() as session:
        assert session.scalar(select(func.count()).select_from(JobRow)) == 1


def test_a_batch_asks_the_database_the_same_few_things_as_one_submission(world: World) -> None:
    """Contexts, pools, awards (locked), balances, insert, queue positions, claims: seven
    statements for eight submissions, as for one. (SQLite, in the process, takes the jobs one
    INSERT each: it cannot return many rows' ids in their order from one.)"""
    statements = Statements()
    event.listen(world.commons.database, "before_cursor_execute", statements)
    try:
        world.commons.jobs.submit_many(
            [
                hour_job(
                    world.member,
                    idempotency_key=f"k{number}",
                    claim=claim_for(world.member, f"k{number}", world),
                )
                for number in range(8)
            ]
        )
    finally:
        event.remove(world.commons.database, "before_cursor_execute", statements)
    job_inserts = [each for each in statements.seen if each.startswith("INSERT INTO jobs ")]
    assert len(job_inserts) == (1 if world.commons.database.dialect.name == "postgresql" else 8)
    others = [each.split(None, 1)[0] for each in statements.seen if each not in job_inserts]
    assert others == ["SELECT"] * 5 + ["INSERT"], statements.seen


# -- gathering: SubmissionBatches -----------------------------------------------------------------


class Recorder:
    """A stand-in for Jobs.submit_many that records its batches, the first held until released."""

    def __init__(self) -> None:
        self.batches: list[int] = []
        self.release = threading.Event()

    def __call__(self, submissions: Sequence[Submission]) -> list[JobView | DomainError]:
        if not self.batches:
            self.release.wait(10)
        self.batches.append(len(submissions))
        return [NotFound(f"no project named {each.project!r}") for each in submissions]


def test_submissions_that_wait_are_queued_together(world: World) -> None:
    recorder = Recorder()
    batches = SubmissionBatches(recorder, name="nuri-submissions", largest=4)

    async def submit_ten() -> list[BaseException | JobView]:
        submitted = [asyncio.ensure_future(batches.submit(hour_job(world.member, project="p0")))]
        await asyncio.sleep(0.2)  # the first is being queued (held): the next nine wait
        submitted += [
            asyncio.ensure_future(batches.submit(hour_job(world.member, project=f"p{n}")))
            for n in range(1, 10)
        ]
        await asyncio.sleep(0.2)
        recorder.release.set()
        return await asyncio.gather(*submitted, return_exceptions=True)

    outcomes = asyncio.run(submit_ten())
    batches.close()
    assert recorder.batches == [1, 4, 4, 1]
    assert [str(outcome) for outcome in outcomes] == [f"no project named 'p{n}'" for n in range(10)]


def test_a_failing_batch_fails_each_of_its_requests(world: World) -> None:
    def broken(submissions: Sequence[Submission]) -> list[JobView | DomainError]:
        raise RuntimeError("database gone")

    batches = SubmissionBatches(broken, name="nuri-submissions")

    async def submit_two() -> list[BaseException | JobView]:
        return list(
            await asyncio.gather(
                batches.submit(hour_job(world.member)),
                batches.submit(hour_job(world.member)),
                return_exceptions=True,
            )
        )

    outcomes = asyncio.run(submit_two())
    batches.close()
    assert [type(outcome) for outcome in outcomes] == [RuntimeError, RuntimeError]


@pytest.mark.parametrize("submitted", [0, 3])
def test_closing_stops_the_thread(world: World, submitted: int) -> None:
    recorder = Recorder()
    recorder.release.set()
    batches = SubmissionBatches(recorder, name="nuri-submissions")

    async def submit() -> None:
        for _ in range(submitted):
            with pytest.raises(NotFound):
                await batches.submit(hour_job(world.member))

    asyncio.run(submit())
    batches.close()
    assert not any(thread.name == "nuri-submissions" for thread in threading.enumerate())


def test_an_idle_thread_ends_and_work_starts_it_again(world: World) -> None:
    recorder = Recorder()
    recorder.release.set()
    batches = SubmissionBatches(recorder, name="nuri-idle-test", idle_s=0.05)

    async def submit() -> None:
        with pytest.raises(NotFound):
            await batches.submit(hour_job(world.member))

    def running() -> bool:
        return any(thread.name == "nuri-idle-test" for thread in threading.enumerate())

    for _ in range(2):
        asyncio.run(submit())
        deadline = time.monotonic() + 5
        while running() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not running()
    assert recorder.batches == [1, 1]
    batches.close()


def test_the_answer_is_the_committed_job_not_one_from_a_failed_transaction(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch that fails is tried again submission by submission; the answer a submission
    rendered in the failed transaction (a job that was never committed) must not be sent when the
    retry finds the job an earlier request with its key queued."""
    token = world.commons.directory.issue_token(world.admin, "lee")
    earlier = world.commons.jobs.submit(
        world.member,
        project="nlp",
        pool="h100",
        gpus=1,
        time_limit_s=600,
        command=["x"],
        idempotency_key="k",
    )
    queue_for_real = world.commons.jobs.submit_many

    def failing_first(submissions: Sequence[Submission]) -> list[JobView | DomainError]:
        for submission in submissions:  # as a transaction that rendered, then rolled back
            assert submission.on_queued is not None
            submission.on_queued(replace(earlier, id=999_999))
        return queue_for_real(submissions)

    monkeypatch.setattr(world.commons.jobs, "submit_many", failing_first)
    with TestClient(create_app(world.commons, run_engine=False)) as client:
        answer = client.post(
            "/api/v1/jobs",
            json={
                "project": "nlp",
                "pool": "h100",
                "gpus": 1,
                "time_limit_s": 600,
                "command": ["x"],
            },
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "k"},
        )
    assert answer.status_code == 201, answer.text
    assert answer.json()["id"] == earlier.id
