"""The scheduling engine over the store with the fake backend: lifecycle, charges, recovery."""

import random
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select

import nuri.engine.snapshot as snapshot_module
from nuri.domain.jobs import JobState
from nuri.domain.units import H100E_UNITS_PER_GPU_HOUR, RATE_SCALE
from nuri.policy.fairshare import decay
from nuri.store.tables import AllocationRow, LedgerEntryRow, PoolRow
from tests.conftest import World


def submit(world: World, gpus: int = 1, pool: str = "h100", time_limit_s: int = 3600) -> int:
    job = world.commons.jobs.submit(
        world.member,
        project="nlp",
        pool=pool,
        gpus=gpus,
        time_limit_s=time_limit_s,
        command=["python", "train.py"],
    )
    return job.id


def ledger_rows(world: World) -> int:
    with world.commons.sessions.begin() as session:
        return int(session.scalar(select(func.count()).select_from(LedgerEntryRow)) or 0)


def test_a_job_runs_completes_and_is_charged_devices_times_seconds_times_rate(world: World) -> None:
    """PENDING -> RUNNING -> COMPLETED; the charge is 2 devices x 900 s x rate, once."""
    engine = world.engine()
    job_id = submit(world, gpus=2)
    report = engine.cycle()
    assert report.leader and report.started == 1
    running = world.commons.jobs.show(world.member, job_id)
    assert running.state == "RUNNING" and running.node == "h100-n00"
    assert running.device_indices == (0, 1)
    assert world.backend.launches[0].device_env_var == "CUDA_VISIBLE_DEVICES"
    world.clock.advance(900)
    world.backend.finish(job_id)
    engine.cycle()
    done = world.commons.jobs.show(world.member, job_id)
    assert done.state == "COMPLETED" and done.exit_code == 0
    assert done.charged_units == 2 * 900 * 1000
    assert done.cost_krw == 2 * 900 * 3600 // 3600
    usage = world.commons.jobs.usage(world.member, "nlp")
    assert usage.used_units == 2 * 900 * 1000
    assert usage.held_units == 0
    assert usage.remaining_units == 10 * H100E_UNITS_PER_GPU_HOUR - 2 * 900 * 1000
    assert usage.cost_krw == 1800


def test_an_npu_pool_charges_at_its_exchange_rate_and_exports_its_device_variable(
    world: World,
) -> None:
    """A Rebellions ATOM job at 0.25 H100e is charged a quarter and sees RBLN_DEVICES."""
    engine = world.engine()
    job_id = submit(world, gpus=4, pool="atom")
    engine.cycle()
    assert world.backend.launches[0].device_env_var == "RBLN_DEVICES"
    world.clock.advance(3600)
    world.backend.finish(job_id)
    engine.cycle()
    job = world.commons.jobs.show(world.member, job_id)
    assert job.used_gpu_hours == 1.0  # 4 devices x 1 h x 0.25
    assert job.cost_krw == 4 * 720


def test_replaying_an_end_never_charges_twice(world: World) -> None:
    """The same end applied again (a retried poll, a second observer) changes nothing."""
    engine = world.engine()
    job_id = submit(world)
    engine.cycle()
    world.clock.advance(60)
    world.backend.finish(job_id)
    [end] = world.backend.poll()
    assert engine.apply_end(end) is True
    assert engine.apply_end(end) is False
    assert ledger_rows(world) == 1
    assert world.commons.jobs.show(world.member, job_id).charged_units == 60_000


def test_failed_and_timed_out_runs_are_charged_for_the_time_they_held(world: World) -> None:
    """Failure and timeout end the job and still charge the devices' elapsed time."""
    engine = world.engine()
    failing, slow = submit(world), submit(world)
    engine.cycle()
    world.clock.advance(30)
    world.backend.finish(failing, JobState.FAILED, exit_code=3)
    world.backend.finish(slow, JobState.TIMEOUT, exit_code=-15)
    engine.cycle()
    assert world.commons.jobs.show(world.member, failing).state == "FAILED"
    assert world.commons.jobs.show(world.member, failing).exit_code == 3
    assert world.commons.jobs.show(world.member, slow).state == "TIMEOUT"
    assert world.commons.jobs.usage(world.member, "nlp").used_units == 2 * 30 * 1000


def test_jobs_queue_when_the_pool_is_full_and_start_as_devices_free(world: World) -> None:
    """No pool is over-committed: 3 jobs of 4 devices on 2 nodes of 4 run two at a time."""
    engine = world.engine()
    first, second, third = (submit(world, gpus=4, time_limit_s=600) for _ in range(3))
    engine.cycle()
    states = [world.commons.jobs.show(world.member, j).state for j in (first, second, third)]
    assert states == ["RUNNING", "RUNNING", "PENDING"]
    assert world.commons.jobs.show(world.member, third).queue_position == 1
    pools = {pool.name: pool for pool in world.commons.directory.list_pools()}
    assert pools["h100"].free_devices == 0 and pools["h100"].pending_jobs == 1
    world.clock.advance(10)
    world.backend.finish(first)
    engine.cycle()
    assert world.commons.jobs.show(world.member, third).state == "RUNNING"
    assert world.commons.jobs.show(world.member, third).node == "h100-n00"


def test_cancelling_a_pending_job_releases_its_hold_without_a_charge(world: World) -> None:
    """A PENDING job cancels at once; it is never charged."""
    job_id = submit(world, gpus=4, time_limit_s=3600)
    assert world.commons.jobs.usage(world.member, "nlp").held_units == 4 * 3600 * 1000
    cancelled = world.commons.jobs.cancel(world.member, job_id)
    assert cancelled.state == "CANCELLED"
    world.engine().cycle()
    assert world.backend.launches == []
    usage = world.commons.jobs.usage(world.member, "nlp")
    assert usage.held_units == 0 and usage.used_units == 0 and ledger_rows(world) == 0


def test_cancelling_a_running_job_stops_it_and_charges_what_ran(world: World) -> None:
    """A RUNNING job is flagged, the engine cancels it on the backend, and it is charged once."""
    engine = world.engine()
    job_id = submit(world)
    engine.cycle()
    world.clock.advance(120)
    flagged = world.commons.jobs.cancel(world.member, job_id)
    assert flagged.state == "RUNNING" and flagged.cancel_requested
    engine.cycle()
    engine.cycle()
    job = world.commons.jobs.show(world.member, job_id)
    assert job.state == "CANCELLED" and job.charged_units == 120_000
    assert ledger_rows(world) == 1


def test_a_run_lost_by_the_backend_is_failed_and_charged_on_the_next_leadership(
    world: World,
) -> None:
    """After a restart, RUNNING jobs the backend cannot account for end FAILED, charged to now."""
    job_id = submit(world)
    world.engine("first").cycle()
    world.backend.forget(job_id)
    world.clock.advance(20)  # the first instance's lease (15 s) has expired
    report = world.engine("second").cycle()
    assert report.leader and report.ended == 1
    job = world.commons.jobs.show(world.member, job_id)
    assert job.state == "FAILED" and job.reason and "lost" in job.reason
    assert job.charged_units == 20_000


def test_only_the_lease_holder_schedules(world: World) -> None:
    """Two engines on one database: the second does nothing while the first holds the lease."""
    first, second = world.engine("first"), world.engine("second")
    submit(world)
    assert first.cycle().leader
    report = second.cycle()
    assert not report.leader and report.started == 0
    assert len(world.backend.launches) == 1


def test_a_start_the_backend_refuses_fails_the_job_without_cost(world: World) -> None:
    """If the backend cannot start a job, it ends FAILED with the backend's reason, charged 0."""
    world.backend.refuse_next_start = "no such program: trian.py"
    job_id = submit(world)
    world.engine().cycle()
    job = world.commons.jobs.show(world.member, job_id)
    assert job.state == "FAILED" and job.reason == "no such program: trian.py"
    assert job.charged_units == 0 and job.held_units == 0


def test_preemption_requeues_with_attained_service_and_charges_the_attempt(world: World) -> None:
    """A preempted run goes back to PENDING, its attempt charged; the next attempt is new."""
    engine = world.engine()
    job_id = submit(world, gpus=2)
    engine.cycle()
    world.clock.advance(50)
    world.backend.preempt(job_id)
    engine.cycle()  # observes the requeue, then starts the job again
    job = world.commons.jobs.show(world.member, job_id)
    assert job.state == "RUNNING" and job.attempt == 2
    assert job.charged_units == 2 * 50 * 1000
    world.clock.advance(10)
    world.backend.finish(job_id)
    engine.cycle()
    assert world.commons.jobs.show(world.member, job_id).charged_units == 2 * 60 * 1000
    assert ledger_rows(world) == 2


def test_snapshot_shows_running_and_pending_jobs_with_their_tiers(world: World) -> None:
    """The policy's snapshot lists free devices per node, running and pending jobs with tiers."""
    engine = world.engine()
    submit(world, gpus=3)
    engine.cycle()
    submit(world, gpus=2)
    snapshot = engine.snapshot()
    [h100] = [pool for pool in snapshot.pools if pool.name == "h100"]
    assert [node.free_indices for node in h100.nodes] == [(3,), (0, 1, 2, 3)]
    assert len(snapshot.running) == 1 and len(snapshot.pending) == 1
    assert snapshot.pending[0].tier.value == "hub-member"


def test_a_resigning_engine_hands_the_lease_over_at_once(world: World) -> None:
    """After a clean stop the next instance leads immediately, without waiting for expiry."""
    first, second = world.engine("first"), world.engine("second")
    assert first.cycle().leader
    assert not second.cycle().leader
    first.resign()
    assert second.cycle().leader


def test_stopping_the_api_closes_the_backend_and_resigns(world: World) -> None:
    """Shutting the app down stops local runs (backend.close) and releases the lease."""
    from fastapi.testclient import TestClient

    from nuri.api.app import create_app

    with TestClient(create_app(world.commons, run_engine=True)):
        pass
    assert world.backend.closed
    assert world.engine("next").cycle().leader


def test_fair_share_usage_summed_by_the_database_is_every_charge_decayed(world: World) -> None:
    """The snapshot's decayed usage, decayed and summed by the database, is each charge decayed on
    its own (as the simulator's fair-share accounting does it), on both databases."""
    now = world.clock()
    rng = random.Random(4)
    exact: dict[int, float] = {}
    job_id = submit(world)
    with world.commons.sessions.begin() as session:
        allocations = {row.project_id: row for row in session.scalars(select(AllocationRow))}
        pool = session.scalars(select(PoolRow)).first()
        assert pool is not None
        for attempt in range(1, 301):
            project_id = rng.choice(list(allocations))
            at = now - timedelta(seconds=rng.uniform(0, 40 * 86400))
            units = rng.randint(1, 10**7)
            session.add(
                LedgerEntryRow(
                    job_id=job_id,
                    attempt=attempt,
                    allocation_id=allocations[project_id].id,
                    project_id=project_id,
                    pool_id=pool.id,
                    devices=1,
                    seconds=1,
                    h100e_units=units,
                    cost_krw=0,
                    created_at=at,
                )
            )
            exact[project_id] = exact.get(project_id, 0.0) + decay(
                units / RATE_SCALE, (now - at).total_seconds()
            )
    groups = world.engine().snapshot().groups
    assert set(exact) <= set(groups)
    for project_id, value in exact.items():
        assert groups[project_id].decayed_usage == pytest.approx(value, rel=1e-9)


def test_the_snapshot_learns_run_times_from_finished_jobs(world: World) -> None:
    """Finished jobs that ran give the snapshot's history their limit and run time (attained
    device-seconds / devices), oldest first; a job cancelled before it ran gives nothing."""
    engine = world.engine()
    short, long_ = submit(world, gpus=2, time_limit_s=7_200), submit(world, time_limit_s=3_600)
    engine.cycle()
    world.clock.advance(600)
    world.backend.finish(short)
    engine.cycle()
    world.clock.advance(300)
    world.backend.finish(long_, JobState.FAILED, exit_code=1)
    engine.cycle()
    never = submit(world, time_limit_s=3_600)
    world.commons.jobs.cancel(world.member, never)
    history = engine.snapshot().history.run_times_s
    assert history == {7_200: (600.0,), 3_600: (900.0,)}


def test_the_run_time_history_is_the_newest_ended_jobs_read_off_an_index(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The history holds the run times of the newest ended jobs, up to its limit; the query
    walks the index on ended_at newest first and stops there, rather than sorting every job
    that ever ended (on SQLite, without statistics, a filter on state in SQL made it do so)."""
    monkeypatch.setattr(snapshot_module, "RUN_TIME_HISTORY_JOBS", 2)
    engine = world.engine()
    jobs = [submit(world, time_limit_s=3_600) for _ in range(3)]
    engine.cycle()
    for job in jobs:  # they run 10, 20 and 30 minutes
        world.clock.advance(600)
        world.backend.finish(job)
        engine.cycle()
    statements: list[tuple[str, object]] = []
    database = world.commons.sessions.kw["bind"]

    def capture(
        conn: object, cursor: object, statement: str, parameters: object, *rest: object
    ) -> None:
        if "ORDER BY jobs.ended_at DESC" in statement:
            statements.append((statement, parameters))

    event.listen(database, "before_cursor_execute", capture)
    try:
        with world.commons.sessions() as session:
            history = snapshot_module.run_time_history(session)
    finally:
        event.remove(database, "before_cursor_execute", capture)
    assert history.run_times_s == {3_600: (1_200.0, 1_800.0)}  # the last two, oldest first
    ((statement, parameters),) = statements
    if database.dialect.name != "sqlite":
        return  # PostgreSQL plans by statistics: a seq scan is cheapest on three rows
    with database.connect() as connection:
        plan = " | ".join(
            row[-1]
            for row in connection.exec_driver_sql(
                "EXPLAIN QUERY PLAN " + statement,
                parameters,
            )
        )
    assert "ix_jobs_ended_at_id" in plan and "TEMP B-TREE" not in plan, plan
