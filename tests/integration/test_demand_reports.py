"""Demand series and reports read from the store: what was wanted, delivered, spent and missing."""

from datetime import timedelta

import pytest

from nuri.domain.commons import Role
from nuri.domain.errors import Forbidden, InvalidInput, NotFound
from nuri.service.auth import Actor
from nuri.service.csv_export import csv_text
from nuri.service.reports import AwardBurnDown
from tests.conftest import START, World


def manager(world: World) -> Actor:
    view, _ = world.commons.directory.create_user(
        world.admin, name="moon", display_name="", role="manager", organisation=None
    )
    return Actor(view.id, "moon", Role.MANAGER)


def submit(world: World, gpus: int, pool: str = "h100", project: str = "nlp") -> int:
    who = world.member if project == "nlp" else world.outsider
    return world.commons.jobs.submit(
        who, project=project, pool=pool, gpus=gpus, time_limit_s=3600, command=["train"]
    ).id


def two_hours_of_work(world: World) -> None:
    """On the 8-device ATOM pool, a 2-device job runs 09:00-10:00; an 8-device job waits from
    09:30 and runs 10:00-11:00."""
    engine = world.engine()
    first = submit(world, 2, pool="atom")
    engine.cycle()
    world.clock.advance(1800)
    second = submit(world, 8, pool="atom")
    engine.cycle()
    world.clock.advance(1800)
    world.backend.finish(first)
    engine.cycle()
    engine.cycle()
    assert world.commons.jobs.show(world.member, second).state == "RUNNING"
    world.clock.advance(3600)
    world.backend.finish(second)
    engine.cycle()
    world.clock.advance(3600)


def test_a_pool_series_counts_waiting_and_running_devices_as_demand(world: World) -> None:
    two_hours_of_work(world)
    series = world.commons.demand.series(world.admin, "pool:atom", step_s=3600, days=1)
    assert series.unit == "device-hours" and len(series.points) == 24
    assert series.points[-1].timestamp == START + timedelta(hours=2)
    last = [(p.demanded, p.delivered, p.waiting) for p in series.points[-3:]]
    # 09:00-10:00: 2 devices for the hour plus 8 waiting for half of it; only 2 ran.
    assert last == [(6.0, 2.0, 4.0), (8.0, 8.0, 0.0), (0.0, 0.0, 0.0)]
    assert all(p.demanded == 0 for p in series.points[:-3])


def test_wider_series_add_pools_in_h100e_and_select_by_community_and_field(world: World) -> None:
    engine = world.engine()
    atom_job = submit(world, 8, pool="atom")
    vision_job = submit(world, 4, project="vision")
    engine.cycle()
    world.clock.advance(3600)
    world.backend.finish(atom_job)
    world.backend.finish(vision_job)
    engine.cycle()
    world.clock.advance(3600)
    hourly = {
        name: world.commons.demand.series(world.admin, name, days=1).points[-2].delivered
        for name in (
            "all",
            "hub:ksc",
            "pool:atom",
            "community:university",
            "community:startup",
            "field:vision",
            "field:speech",
        )
    }
    # 8 ATOM devices at 0.25 H100e are 2 H100e GPU-hours; 4 H100s are 4.
    assert hourly == {
        "all": 6.0,
        "hub:ksc": 6.0,
        "pool:atom": 8.0,
        "community:university": 2.0,
        "community:startup": 4.0,
        "field:vision": 4.0,
        "field:speech": 0.0,
    }
    # The unfinished day is left out until it ends.
    daily = world.commons.demand.series(world.admin, "all", step_s=86_400, days=3)
    assert [p.timestamp.hour for p in daily.points] == [0, 0, 0]
    assert sum(p.delivered for p in daily.points) == 0.0
    world.clock.advance(86_400)
    daily = world.commons.demand.series(world.admin, "all", step_s=86_400, days=3)
    assert [p.delivered for p in daily.points] == [0.0, 0.0, 6.0]


def test_demand_series_refuse_unknown_names_and_are_not_for_everyone(world: World) -> None:
    demand = world.commons.demand
    with pytest.raises(NotFound, match="no pool named 'a100'; pools are h100, atom"):
        demand.series(world.admin, "pool:a100")
    with pytest.raises(NotFound, match="no hub named 'seoul'"):
        demand.series(world.admin, "hub:seoul")
    with pytest.raises(InvalidInput, match="unknown community 'lab'"):
        demand.series(world.admin, "community:lab")
    with pytest.raises(InvalidInput, match="name one of: all, pool:<pool>"):
        demand.series(world.admin, "h100")
    with pytest.raises(InvalidInput, match="at most 20000"):
        demand.series(world.admin, "all", step_s=60, days=30)
    with pytest.raises(Forbidden, match="only admins and programme managers"):
        demand.series(world.pi, "all")
    assert demand.series(manager(world), "all", days=1).series == "all"


def test_known_future_demand_spreads_later_awards_over_their_terms(world: World) -> None:
    later = START + timedelta(days=10)
    world.commons.directory.create_allocation(
        world.admin,
        project="vision",
        gpu_hours="240",
        pools=["h100"],
        tier="general",
        starts_at=later,
        ends_at=later + timedelta(days=10),
    )
    extra = world.commons.demand.known_future(
        world.admin, "pool:h100", after=later - timedelta(hours=1), step_s=3600, steps=3
    )
    # 240 H100e GPU-hours over 240 hours on an H100 pool: one device per hour, from its start.
    assert extra == pytest.approx([0.0, 1.0, 1.0])
    atom = world.commons.demand.known_future(
        world.admin, "pool:atom", after=later, step_s=3600, steps=1
    )
    assert atom == [0.0]
    field = world.commons.demand.known_future(
        world.admin, "field:language", after=later, step_s=3600, steps=1
    )
    assert field == [0.0]


def test_spend_sums_the_ledger_by_each_grouping(world: World) -> None:
    two_hours_of_work(world)
    reports = world.commons.reports
    (atom,) = reports.spend(world.admin, "pool")
    assert (atom.name, atom.charges, atom.device_hours, atom.gpu_hours) == ("atom", 2, 10.0, 2.5)
    assert atom.h100e_units == 10 * 3600 * 250 and atom.cost_krw == 10 * 720
    assert [(r.name, r.cost_krw) for r in reports.spend(world.admin, "community")] == [
        ("university", 7200)
    ]
    assert [r.name for r in reports.spend(world.admin, "programme")] == ["(direct awards)"]
    assert reports.spend(world.admin, "pool", since=START + timedelta(hours=3)) == []
    with pytest.raises(InvalidInput, match="cannot group spend by 'colour'"):
        reports.spend(world.admin, "colour")
    with pytest.raises(Forbidden):
        reports.spend(world.member, "pool")
    text = csv_text(type(atom), reports.spend(world.admin, "hub"))
    assert text.splitlines() == [
        "group,name,charges,device_hours,h100e_units,gpu_hours,cost_krw",
        "hub,ksc,2,10.0,9000000,2.5,7200",
    ]


def test_burn_down_shows_pace_and_exhaustion_to_those_who_may_see_the_award(
    world: World,
) -> None:
    two_hours_of_work(world)
    reports = world.commons.reports
    awards = {a.project: a for a in reports.award_burn_down(world.admin)}
    nlp, vision = awards["nlp"], awards["vision"]
    assert (nlp.used_gpu_hours, nlp.remaining_gpu_hours, nlp.pace) == (2.5, 7.5, "ahead")
    # 2.5 GPU-hours in the 27 hours since the award started: 2.2222 a day, 7.5 left.
    assert nlp.gpu_hours_per_day == pytest.approx(2.5 / (27 / 24), abs=1e-4)
    assert nlp.projected_exhaustion == world.clock() + timedelta(days=3.375)
    assert nlp.exhausts_before_end and nlp.cost_krw == 7200
    assert (vision.used_gpu_hours, vision.pace, vision.projected_exhaustion) == (
        0.0,
        "on-pace",
        None,
    )
    assert [a.project for a in reports.award_burn_down(world.member)] == ["nlp"]
    assert [a.project for a in reports.award_burn_down(world.outsider)] == ["vision"]
    assert len(reports.award_burn_down(manager(world))) == 2
    curve = reports.burn_down_curve(world.member, nlp.allocation_id)
    assert [(p.day.day, p.used_gpu_hours, p.remaining_gpu_hours) for p in curve] == [
        (1, 0.0, 10.0),
        (2, 2.5, 7.5),
    ]
    with pytest.raises(NotFound):
        reports.burn_down_curve(world.outsider, nlp.allocation_id)
    (programme,) = reports.programme_burn_down(world.admin)
    assert (programme.programme, programme.awards, programme.awarded_gpu_hours) == (
        "(direct awards)",
        2,
        15.0,
    )
    with pytest.raises(Forbidden):
        reports.programme_burn_down(world.pi)
    header = csv_text(AwardBurnDown, []).strip().split(",")
    assert header[:3] == ["allocation_id", "project", "programme"]


def test_needs_count_the_devices_that_busy_pools_are_missing(world: World) -> None:
    world.commons.directory.create_allocation(
        world.admin,
        project="nlp",
        gpu_hours="1000",
        pools=["atom"],
        tier="general",
        starts_at=START - timedelta(days=1),
        ends_at=START + timedelta(days=30),
    )
    engine = world.engine()
    jobs = [
        world.commons.jobs.submit(
            world.member,
            project="nlp",
            pool="atom",
            gpus=8,
            time_limit_s=24 * 3600,
            command=["train"],
        ).id
        for _ in range(2)
    ]
    engine.cycle()
    world.clock.advance(22 * 3600)
    world.backend.finish(jobs[0])
    engine.cycle()
    engine.cycle()
    world.clock.advance(2 * 3600)
    rows = {row.pool: row for row in world.commons.reports.needs(world.admin, days=1)}
    atom = rows["atom"]
    # 16 devices wanted for 22 of 24 hours: 16 / 0.85 -> 19, in whole 8-device nodes -> 24.
    assert (atom.p90_demanded_devices, atom.needed_devices, atom.additional_devices) == (
        16.0,
        24,
        16,
    )
    assert atom.additional_krw_per_year == 16 * 720 * 8760
    assert atom.utilisation == 1.0 and atom.p90_wait_s == pytest.approx(22 * 3600 * 0.9)
    assert atom.waiting_device_hours == 8 * 22.0
    assert rows["h100"].additional_devices == 0 and rows["h100"].p90_wait_s is None
    with pytest.raises(InvalidInput, match="days must be between 1 and 366"):
        world.commons.reports.needs(world.admin, days=0)
