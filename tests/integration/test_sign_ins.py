"""Sign-ins made together, in one session: each gets the outcome it would get alone.

``SignIns.answer_many`` is what the API runs for the sign-ins that wait while the previous ones are
made (``nuri.api.batches``), on SQLite and PostgreSQL.
"""

from nuri.api.sign_ins import SignInAnswer, SignInAsked, SignIns
from nuri.domain.errors import TooManyAttempts
from nuri.service.idempotency import (
    Claim,
    IdempotencyKeyReused,
    KeyedRequest,
    StoredAnswer,
    claim_keys,
)
from nuri.service.sign_in_limits import SignInLimits
from tests.conftest import World

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
