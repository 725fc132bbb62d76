"""Sign-ins made together, in one session: each gets the outcome it would get alone.

``SignIns.answer_many`` is what the API runs for the sign-ins that wait while the previous ones are
made (``nuri.api.batches``), on SQLite and PostgreSQL.
"""

from datetime import timedelta

from sqlalchemy import event, func, select

from nuri.api.sign_ins import SignInAnswer, SignInAsked, SignIns
from nuri.domain.errors import TooManyAttempts
from nuri.service.idempotency import (
    KEY_RETENTION,
    Claim,
    IdempotencyKeyReused,
    KeyedRequest,
    StoredAnswer,
    claim_keys,
)
from nuri.service.sign_in_limits import SignInLimits
from nuri.store.tables import IdempotencyKeyRow
from tests.conftest import World
from tests.integration.test_submission_statements import Statements

BAD = "nuri_" + "x" * 43


def test_each_sign_in_gets_its_own_outcome(world: World) -> None:
    commons = world.commons
    commons.sign_in_limits = SignInLimits(commons.sessions, world.clock, limit=2, window_s=300)
    token = commons.directory.issue_token(world.admin, "lee")
    stored = StoredAnswer(201, "application/json", b'{"id":1}')
    request = KeyedRequest(world.member.user_id, "done", "POST /api/v1/jobs", "a" * 64)
    with commons.sessions.begin() as session:
        claim_keys(session, [Claim(request=request, now=world.clock(), answer=stored)])
    answers = SignIns(commons).answer_many(
        [
            SignInAsked("10.0.0.1", token),
            SignInAsked("10.0.0.2", BAD),
            SignInAsked("10.0.0.1", token, "done", "POST /api/v1/jobs", "a" * 64),
            SignInAsked("10.0.0.1", token, "done", "POST /api/v1/jobs", "b" * 64),
            SignInAsked("10.0.0.1", token, "new", "POST /api/v1/jobs", "a" * 64),
            SignInAsked("10.0.0.2", BAD),
            SignInAsked("10.0.0.2", token),  # two failures: the address is blocked
        ]
    )
    signed, bad, replayed, reused, fresh, bad_again, blocked = answers
    assert isinstance(signed, SignInAnswer) and signed.actor is not None
    assert signed.actor.name == "lee" and signed.request is None
    assert bad == SignInAnswer(None) and bad_again == SignInAnswer(None)
    assert isinstance(replayed, SignInAnswer) and replayed.stored == stored
    assert isinstance(reused, IdempotencyKeyReused)
    assert isinstance(fresh, SignInAnswer) and fresh.stored is None
    assert fresh.request == KeyedRequest(world.member.user_id, "new", "POST /api/v1/jobs", "a" * 64)
    assert isinstance(blocked, TooManyAttempts)
    assert commons.sign_in_limits.failures("10.0.0.2") == 2
    assert commons.sign_in_limits.failures("10.0.0.1") == 0


def test_sign_ins_made_together_are_read_in_one_statement(world: World) -> None:
    commons = world.commons
    tokens = [commons.directory.issue_token(world.admin, name) for name in ("lee", "kim", "park")]
    statements = Statements()
    event.listen(commons.database, "before_cursor_execute", statements)
    try:
        answers = SignIns(commons).answer_many(
            [SignInAsked("10.0.0.1", token) for token in tokens]
            + [SignInAsked("10.0.0.1", tokens[0], "k", "POST /api/v1/jobs", "a" * 64)]
        )
    finally:
        event.remove(commons.database, "before_cursor_execute", statements)
    assert [
        answer.actor.name
        for answer in answers
        if isinstance(answer, SignInAnswer) and answer.actor is not None
    ] == ["lee", "kim", "park", "lee"]
    assert statements.verbs() == ["SELECT"], statements.seen


def test_a_stale_key_is_forgotten_and_its_request_carried_out_afresh(world: World) -> None:
    commons = world.commons
    token = commons.directory.issue_token(world.admin, "lee")
    request = KeyedRequest(world.member.user_id, "old", "POST /api/v1/jobs", "a" * 64)
    with commons.sessions.begin() as session:
        claim_keys(session, [Claim(request=request, now=world.clock())])
    world.clock.advance((KEY_RETENTION + timedelta(minutes=1)).total_seconds())
    (answer,) = SignIns(commons).answer_many(
        [SignInAsked("10.0.0.1", token, "old", "POST /api/v1/jobs", "b" * 64)]
    )
    assert isinstance(answer, SignInAnswer) and answer.stored is None and answer.request
    with commons.sessions.begin() as session:
        assert session.scalar(select(func.count()).select_from(IdempotencyKeyRow)) == 0
