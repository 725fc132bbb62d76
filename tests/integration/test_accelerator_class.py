"""Jobs that ask for an accelerator class instead of a pool: the policy picks the pool."""

from datetime import timedelta

import pytest

from nuri.domain.errors import AdmissionRefused, InvalidInput
from tests.conftest import START, World


def add_second_h100_pool(world: World) -> None:
    """Another H100 pool at another hub, covered by a new award of project nlp."""
    d = world.commons.directory
    d.create_hub(world.admin, name="busan", title="", operator="regional-data-centre")
    d.create_pool(
        world.admin,
        name="h100-busan",
        hub="busan",
        accelerator="H100",
        nodes=1,
        devices_per_node=8,
        exchange_rate="1.2",
        krw_per_device_hour=5000,
    )
    d.create_allocation(
        world.admin,
        project="nlp",
        gpu_hours="10",
        pools=["h100", "h100-busan"],
        tier="general",
        starts_at=START - timedelta(days=1),
        ends_at=START + timedelta(days=10),
    )


def test_a_class_job_waits_as_any_h100_then_runs_on_a_pool_and_is_charged_there(
    world: World,
) -> None:
    """'any H100' while queued; the policy places it; the charge uses the chosen pool's rate."""
    add_second_h100_pool(world)
    job = world.commons.jobs.submit(
        world.member,
        project="nlp",
        pool=None,
        accelerator="h100",
        gpus=8,
        time_limit_s=600,
        command=["x"],
    )
    assert job.pool == "any H100" and job.accelerator == "H100" and job.queue_position == 1
    world.engine().cycle()
    running = world.commons.jobs.show(world.member, job.id)
    assert running.state == "RUNNING" and running.pool == "h100-busan"  # only it has 8 per node
    world.clock.advance(100)
    world.backend.finish(job.id)
    world.engine().cycle()
    done = world.commons.jobs.show(world.member, job.id)
    assert done.charged_units == 8 * 100 * 1200


def test_a_class_job_goes_where_devices_are_free(world: World) -> None:
    """With h100 full, a 1-device 'any H100' job starts on the other H100 pool at once."""
    add_second_h100_pool(world)
    jobs = world.commons.jobs
    for _ in range(2):
        jobs.submit(
            world.member, project="nlp", pool="h100", gpus=4, time_limit_s=600, command=["x"]
        )
    world.engine().cycle()
    job = jobs.submit(
        world.member,
        project="nlp",
        pool=None,
        accelerator="H100",
        gpus=1,
        time_limit_s=60,
        command=["x"],
    )
    world.engine().cycle()
    assert jobs.show(world.member, job.id).pool == "h100-busan"


def test_a_class_the_award_does_not_cover_is_refused(world: World) -> None:
    """vision's award covers only h100; asking for any ATOM is refused with the reason."""
    with pytest.raises(
        AdmissionRefused, match="no allocation active now that allows any ATOM pool"
    ):
        world.commons.jobs.submit(
            world.outsider,
            project="vision",
            pool=None,
            accelerator="ATOM",
            gpus=1,
            time_limit_s=60,
            command=["x"],
        )


def test_pool_and_class_together_or_neither_are_refused(world: World) -> None:
    """A job names a pool or a class: one of them, exactly."""
    for pool, accelerator in (("h100", "H100"), (None, None)):
        with pytest.raises(InvalidInput, match="name a pool or an accelerator class"):
            world.commons.jobs.submit(
                world.member,
                project="nlp",
                pool=pool,
                accelerator=accelerator,
                gpus=1,
                time_limit_s=60,
                command=["x"],
            )


def test_a_requeued_class_job_may_move_to_another_pool(world: World) -> None:
    """After a preemption the job is 'any H100' again; its first attempt stays charged."""
    add_second_h100_pool(world)
    engine = world.engine()
    job = world.commons.jobs.submit(
        world.member,
        project="nlp",
        pool=None,
        accelerator="H100",
        gpus=2,
        time_limit_s=600,
        command=["x"],
    )
    engine.cycle()
    first_pool = world.commons.jobs.show(world.member, job.id).pool
    world.clock.advance(30)
    world.backend.preempt(job.id)
    engine._apply_ends(world.backend.poll())  # observe the requeue without starting it again
    requeued = world.commons.jobs.show(world.member, job.id)
    assert requeued.state == "PENDING" and requeued.pool == "any H100"
    assert requeued.charged_units > 0 and first_pool != "any H100"
