"""Reservations in the live service: held for a service, idle devices lent, taken back."""

from datetime import timedelta

import pytest

from nuri.domain.errors import Forbidden, InvalidInput
from tests.conftest import START, World


def reserve(world: World, wanted: int) -> None:
    """Hold atom's only node (8 devices) for a public AI service needing ``wanted`` of them."""
    world.commons.directory.create_reservation(
        world.admin,
        name="public-ai",
        pool="atom",
        nodes=1,
        wanted=wanted,
        starts_at=START - timedelta(hours=1),
        ends_at=START + timedelta(days=30),
    )


def submit(world: World, gpus: int, *, preemptible: bool) -> int:
    return world.commons.jobs.submit(
        world.member,
        project="nlp",
        pool="atom",
        gpus=gpus,
        time_limit_s=600,
        command=["x"],
        preemptible=preemptible,
    ).id


def state(world: World, job_id: int) -> str:
    return world.commons.jobs.show(world.member, job_id).state


def test_only_preemptible_jobs_borrow_what_the_service_does_not_need(world: World) -> None:
    """Service needs 2 of 8: a preemptible 4-device job borrows; a non-preemptible one waits."""
    reserve(world, wanted=2)
    borrower = submit(world, 4, preemptible=True)
    too_big = submit(world, 4, preemptible=True)  # 2 + 4 + 4 > 8: would eat the service's devices
    steady = submit(world, 1, preemptible=False)
    world.engine().cycle()
    assert state(world, steady) == "PENDING"
    assert state(world, borrower) == "RUNNING"
    assert state(world, too_big) == "PENDING"
    [view] = world.commons.directory.list_reservations()
    assert view.nodes == ("atom-n00",) and view.devices == 8 and view.active


def test_when_the_service_needs_more_borrowers_are_preempted(world: World) -> None:
    """Demand rises from 2 to 8: the borrower is preempted, charged for its run, and requeued."""
    reserve(world, wanted=2)
    engine = world.engine()
    borrower = submit(world, 4, preemptible=True)
    engine.cycle()
    world.clock.advance(60)
    world.commons.directory.set_reservation_demand(world.admin, name="public-ai", wanted=8)
    report = engine.cycle()
    assert report.preempting == 1
    engine.cycle()  # observes the requeue; nothing can start while the service needs all 8
    job = world.commons.jobs.show(world.member, borrower)
    assert job.state == "PENDING" and job.attempt == 1 and job.charged_units == 4 * 60 * 250


def test_an_expired_reservation_holds_nothing(world: World) -> None:
    """After its end the nodes are ordinary again: a non-preemptible job starts."""
    reserve(world, wanted=8)
    job = submit(world, 2, preemptible=False)
    world.engine().cycle()
    assert state(world, job) == "PENDING"
    world.clock.advance(31 * 86_400)
    world.engine("after").cycle()
    assert state(world, job) == "RUNNING"


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"nodes": 2}, InvalidInput, "cannot reserve 2 more"),
        ({"wanted": 9}, InvalidInput, "wanted devices must be 0 to 8"),
        ({"ends_at": START - timedelta(days=1)}, InvalidInput, "must end after it starts"),
    ],
    ids=["more-nodes-than-the-pool", "more-than-reserved", "backwards"],
)
def test_bad_reservations_are_refused(
    world: World, kwargs: dict, error: type, message: str
) -> None:
    """Reservations that cannot be honoured are refused with the reason."""
    arguments = {
        "name": "svc",
        "pool": "atom",
        "nodes": 1,
        "starts_at": START,
        "ends_at": START + timedelta(days=1),
    }
    with pytest.raises(error, match=message):
        world.commons.directory.create_reservation(world.admin, **(arguments | kwargs))


def test_only_admins_reserve(world: World) -> None:
    """Reserving capacity is an operator's decision."""
    with pytest.raises(Forbidden):
        world.commons.directory.create_reservation(
            world.pi,
            name="svc",
            pool="atom",
            nodes=1,
            starts_at=START,
            ends_at=START + timedelta(days=1),
        )
