"""Simulation metrics: each definition on hand-computed cases, validation, feasibility, speed."""

import csv
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nuri.sim.metrics import (
    JobOutcome,
    Metrics,
    Segment,
    check_schedule,
    compute_metrics,
    write_segments_csv,
)


def job(
    job_id: str,
    *,
    group: str = "a",
    submit: float = 0.0,
    devices: int = 1,
    run: float = 100.0,
    start: float | None = None,
    end: float | None = None,
    preemptions: int = 0,
) -> JobOutcome:
    """An outcome with the given times (seconds)."""
    return JobOutcome(job_id, group, submit, devices, run, start, end, preemptions)


def seg(job_id: str, start: float, end: float, devices: int = 1, pool: str = "p") -> Segment:
    """A segment on pool ``p`` unless told otherwise."""
    return Segment(job_id, pool, devices, start, end)


def ran(job_id: str, **kwargs: object) -> tuple[JobOutcome, Segment]:
    """A job that ran once without preemption, and its one segment."""
    outcome = job(job_id, **kwargs)  # type: ignore[arg-type]
    assert outcome.first_start_s is not None and outcome.end_s is not None
    return outcome, seg(job_id, outcome.first_start_s, outcome.end_s, outcome.devices)


# Three jobs on one pool of 4 devices, groups a and b with equal shares (awards None):
#   j1  a  submit 0   2 devices  run 100  runs [0, 100)    JCT 100  wait 0    slowdown 100/100 = 1
#   j2  b  submit 0   4 devices  run 50   runs [100, 150)  JCT 150  wait 100  slowdown 150/50 = 3
#   j3  b  submit 10  2 devices  run 5    runs [10, 15)    JCT 5    wait 0    slowdown max(1, 5/10) = 1
THREE = [
    ran("j1", group="a", submit=0, devices=2, run=100, start=0, end=100),
    ran("j2", group="b", submit=0, devices=4, run=50, start=100, end=150),
    ran("j3", group="b", submit=10, devices=2, run=5, start=10, end=15),
]


def three_metrics() -> Metrics:
    return compute_metrics(
        [o for o, _ in THREE], [s for _, s in THREE], total_devices=4, sim_wall_s=0.25
    )


def test_every_metric_on_a_hand_computed_run() -> None:
    """All twelve published metrics and the extras match arithmetic done by hand."""
    m = three_metrics()
    assert m.jobs == 3
    # JCTs 100, 150, 5: mean 255/3 = 85; sorted [5, 100, 150]: p50 = 100;
    # p99 at rank 0.99 * 2 = 1.98 -> 100 + 0.98 * (150 - 100) = 149.
    assert m.avg_jct_s == pytest.approx(85.0)
    assert m.p50_jct_s == pytest.approx(100.0)
    assert m.p99_jct_s == pytest.approx(149.0)
    # Waits 0, 100, 0: mean 100/3; sorted [0, 0, 100]: p99 at rank 1.98 -> 0 + 0.98 * 100 = 98.
    assert m.avg_wait_s == pytest.approx(100 / 3)
    assert m.p99_wait_s == pytest.approx(98.0)
    # Slowdowns 1, 3, 1 -> mean 5/3.
    assert m.mean_bounded_slowdown == pytest.approx(5 / 3)
    # Device-seconds 2*100 + 4*50 + 2*5 = 410 over 4 devices * makespan (150 - 0) = 600.
    assert m.makespan_s == pytest.approx(150.0)
    assert m.utilization == pytest.approx(410 / 600)
    # Delivered a = 200/410, b = 210/410; entitled 1/2 each. x = (400/410, 420/410):
    # Jain = (820)^2 / (2 * (400^2 + 420^2)) = 672400 / 672800.
    assert m.delivered_share == pytest.approx({"a": 200 / 410, "b": 210 / 410})
    assert m.entitled_share == {"a": 0.5, "b": 0.5}
    assert m.jain_fairness == pytest.approx(672400 / 672800)
    # Adherence = mean(|200/410 - 1/2|, |210/410 - 1/2|) = mean(5/410, 5/410) = 5/410.
    assert m.allocation_adherence == pytest.approx(5 / 410)
    assert m.sim_wall_s == 0.25
    assert m.unfinished == 0
    assert m.preemptions_per_job == 0.0


def test_to_json_has_exactly_the_twelve_keys_in_order() -> None:
    """to_json publishes the twelve metrics in the documented order and none of the extras."""
    payload = three_metrics().to_json()
    assert list(payload) == [
        "jobs",
        "avg_jct_s",
        "p50_jct_s",
        "p99_jct_s",
        "avg_wait_s",
        "p99_wait_s",
        "mean_bounded_slowdown",
        "utilization",
        "jain_fairness",
        "allocation_adherence",
        "makespan_s",
        "sim_wall_s",
    ]
    assert isinstance(payload["jobs"], int)
    assert all(type(v) is float for k, v in payload.items() if k != "jobs")


def test_jain_is_one_when_delivery_is_proportional_to_awards() -> None:
    """Awards 3:1 and delivery 300:100 device-seconds: every x_g = 1, Jain 1, adherence 0."""
    a, sa = ran("a1", group="a", devices=3, start=0, end=100)
    b, sb = ran("b1", group="b", devices=1, start=0, end=100)
    m = compute_metrics([a, b], [sa, sb], total_devices=4, awards={"a": 3.0, "b": 1.0})
    assert m.entitled_share == {"a": 0.75, "b": 0.25}
    assert m.jain_fairness == pytest.approx(1.0)
    assert m.allocation_adherence == pytest.approx(0.0)


def test_jain_is_one_over_n_when_one_group_gets_everything() -> None:
    """Three equal groups, only a runs: x = (3, 0, 0), Jain = 3^2 / (3 * 9) = 1/3."""
    a, sa = ran("a1", group="a", start=0, end=10)
    idle = [job("b1", group="b"), job("c1", group="c")]
    m = compute_metrics([a, *idle], [sa], total_devices=1)
    assert m.jain_fairness == pytest.approx(1 / 3)
    # Adherence: |1 - 1/3| + |0 - 1/3| + |0 - 1/3| = 4/3, mean 4/9.
    assert m.allocation_adherence == pytest.approx(4 / 9)


def test_adherence_on_two_groups() -> None:
    """Entitled 3/4 and 1/4, delivered 1/2 each: |1/2 - 3/4| = |1/2 - 1/4| = 1/4, mean 0.25."""
    a, sa = ran("a1", group="a", start=0, end=50)
    b, sb = ran("b1", group="b", start=0, end=50)
    m = compute_metrics([a, b], [sa, sb], total_devices=2, awards={"a": 30.0, "b": 10.0})
    assert m.allocation_adherence == pytest.approx(0.25)
    # x = (0.5/0.75, 0.5/0.25) = (2/3, 2): Jain = (8/3)^2 / (2 * (4/9 + 4)) = (64/9) / (80/9) = 0.8.
    assert m.jain_fairness == pytest.approx(0.8)


def test_group_without_award_is_entitled_to_nothing_and_left_out_of_jain() -> None:
    """Awards name only a: b is entitled to 0, so Jain sees a alone (1.0), adherence sees both."""
    a, sa = ran("a1", group="a", start=0, end=30)
    b, sb = ran("b1", group="b", start=0, end=10)
    m = compute_metrics([a, b], [sa, sb], total_devices=2, awards={"a": 1.0, "ghost": 5.0})
    assert m.entitled_share == {"a": 1.0, "b": 0.0}
    assert m.jain_fairness == pytest.approx(1.0)
    # Delivered a = 30/40, b = 10/40: adherence = (|0.75 - 1| + |0.25 - 0|) / 2 = 0.25.
    assert m.allocation_adherence == pytest.approx(0.25)


def test_utilization_counts_both_segments_of_a_preempted_job() -> None:
    """Pool of 4: p holds 4 devices [0, 10) and again [30, 50) after q ran [10, 30) on 2.

    Device-seconds 4*10 + 4*20 + 2*20 = 160; window 0..50 on 4 devices = 200; utilization 0.8.
    """
    p = job("p", submit=0, devices=4, run=30, start=0, end=50, preemptions=1)
    q = job("q", submit=10, devices=2, run=20, start=10, end=30)
    segments = [seg("p", 0, 10, 4), seg("q", 10, 30, 2), seg("p", 30, 50, 4)]
    check_schedule(segments, {"p": 4})
    m = compute_metrics([p, q], segments, total_devices=4)
    assert m.makespan_s == 50.0
    assert m.utilization == pytest.approx(0.8)
    assert m.preemptions_per_job == pytest.approx(0.5)
    # p's JCT includes its requeued time: 50 - 0; q's is 30 - 10 = 20. Slowdowns 50/30 and 1.
    assert m.avg_jct_s == pytest.approx(35.0)
    assert m.mean_bounded_slowdown == pytest.approx((50 / 30 + 1) / 2)


def test_utilization_window_starts_at_the_first_submit() -> None:
    """A job submitted at 0 that waits until 60 and runs to 100 on 1 of 2 devices: 40 / (2 * 100)."""
    o, s = ran("w", submit=0, start=60, end=100)
    m = compute_metrics([o], [s], total_devices=2)
    assert m.makespan_s == 100.0
    assert m.utilization == pytest.approx(0.2)


@pytest.mark.parametrize(
    ("run", "jct", "threshold", "expected"),
    [
        (100.0, 100.0, 10.0, 1.0),  # ran without waiting: 100 / 100
        (100.0, 250.0, 10.0, 2.5),  # waited 150 s: 250 / 100
        (2.0, 30.0, 10.0, 3.0),  # short job: 30 / max(2, 10), not 30 / 2 = 15
        (4.0, 4.0, 10.0, 1.0),  # 4 / 10 = 0.4 is raised to the floor of 1
        (2.0, 30.0, 1.0, 15.0),  # threshold 1 s: 30 / max(2, 1)
        (0.0, 5.0, 10.0, 1.0),  # zero run time: 5 / 10 -> 1
    ],
    ids=["no-wait", "waited", "threshold-bounds", "floor-of-one", "custom-threshold", "zero-run"],
)
def test_bounded_slowdown(run: float, jct: float, threshold: float, expected: float) -> None:
    """max(1, JCT / max(run_time, threshold)) for one job submitted at 0."""
    o, s = ran("j", submit=0, run=run, start=jct - run, end=jct)
    m = compute_metrics([o], [s], total_devices=1, slowdown_threshold_s=threshold)
    assert m.mean_bounded_slowdown == pytest.approx(expected)


def test_unfinished_jobs_count_as_jobs_but_have_no_jct() -> None:
    """A job still running at the end has a wait but no JCT; a job never started has neither."""
    done, s_done = ran("done", submit=0, run=40, start=10, end=50)  # JCT 50, wait 10
    running = job("running", submit=0, start=30)  # wait 30, no end
    waiting = job("waiting", submit=5)
    segments = [s_done, seg("running", 30, 80)]
    m = compute_metrics([done, running, waiting], segments, total_devices=2)
    assert m.jobs == 3
    assert m.unfinished == 2
    assert m.avg_jct_s == 50.0 and m.p50_jct_s == 50.0 and m.p99_jct_s == 50.0
    assert m.mean_bounded_slowdown == pytest.approx(50 / 40)
    # Waits 10 and 30: mean 20; p99 at rank 0.99 -> 10 + 0.99 * 20 = 29.8.
    assert m.avg_wait_s == pytest.approx(20.0)
    assert m.p99_wait_s == pytest.approx(29.8)
    # The running job's segment counts: 40 + 50 = 90 device-seconds over 2 * 80.
    assert m.utilization == pytest.approx(90 / 160)


def test_empty_run_uses_the_documented_conventions() -> None:
    """No jobs: every figure 0.0 except Jain 1.0; no usage with jobs: Jain 1.0, adherence 0."""
    empty = compute_metrics([], [], total_devices=8)
    assert empty.to_json() == {
        "jobs": 0,
        "avg_jct_s": 0.0,
        "p50_jct_s": 0.0,
        "p99_jct_s": 0.0,
        "avg_wait_s": 0.0,
        "p99_wait_s": 0.0,
        "mean_bounded_slowdown": 0.0,
        "utilization": 0.0,
        "jain_fairness": 1.0,
        "allocation_adherence": 0.0,
        "makespan_s": 0.0,
        "sim_wall_s": 0.0,
    }
    idle = compute_metrics([job("x", group="a"), job("y", group="b")], [], total_devices=8)
    assert (idle.jain_fairness, idle.allocation_adherence, idle.unfinished) == (1.0, 0.0, 2)
    assert idle.delivered_share == {"a": 0.0, "b": 0.0}


@pytest.mark.parametrize(
    ("outcomes", "segments", "message"),
    [
        ([job("a")], [seg("nobody", 0, 1)], "no outcome"),
        ([job("a", start=0, end=5)], [seg("a", 5, 4)], "ends before it starts"),
        ([job("a", start=0, end=5)], [seg("a", 0, 5, devices=0)], "fewer than 1 device"),
        ([job("a", start=0, end=5)], [seg("a", 0, float("nan"))], "non-finite"),
        (
            [job("a", submit=10, start=10, end=15)],
            [seg("a", 5, 15)],
            "before the job was submitted",
        ),
        ([job("a"), job("a")], [], "more than one outcome"),
        ([job("a", submit=10, start=5)], [], "starts before it is submitted"),
        ([job("a", start=10, end=5)], [], "ends before it starts"),
        ([job("a", end=5)], [], "never started"),
        ([job("a", run=-1)], [], "run_time_s"),
    ],
    ids=[
        "unknown-job",
        "end-before-start",
        "zero-devices",
        "nan-time",
        "segment-before-submit",
        "duplicate-outcome",
        "start-before-submit",
        "outcome-end-before-start",
        "end-without-start",
        "negative-run-time",
    ],
)
def test_invalid_input_is_refused(
    outcomes: list[JobOutcome], segments: list[Segment], message: str
) -> None:
    """Each inconsistency raises ValueError naming the problem."""
    with pytest.raises(ValueError, match=message):
        compute_metrics(outcomes, segments, total_devices=4)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"total_devices": 0}, "total_devices"),
        ({"total_devices": 1, "slowdown_threshold_s": 0.0}, "slowdown_threshold_s"),
        ({"total_devices": 1, "awards": {"a": -1.0}}, "finite and >= 0"),
        ({"total_devices": 1, "awards": {"other": 1.0}}, "nothing to any group"),
    ],
    ids=["no-devices", "zero-threshold", "negative-award", "awards-miss-everyone"],
)
def test_invalid_parameters_are_refused(kwargs: dict[str, object], message: str) -> None:
    """Bad totals, thresholds and awards raise ValueError."""
    with pytest.raises(ValueError, match=message):
        compute_metrics([job("a")], [], **kwargs)  # type: ignore[arg-type]


def test_check_schedule_accepts_a_tight_schedule() -> None:
    """A segment may start at the instant another ends on a full pool (ends precede starts)."""
    segments = [
        seg("a", 0, 10, 4, pool="gpu"),
        seg("b", 10, 20, 4, pool="gpu"),  # starts exactly when a ends
        seg("c", 20, 20, 4, pool="gpu"),  # zero length: holds nothing
        seg("d", 20, 30, 4, pool="gpu"),
        seg("e", 0, 30, 2, pool="npu"),  # another pool, independent
        seg("f", 5, 25, 6, pool="npu"),
    ]
    check_schedule(segments, {"gpu": 4, "npu": 8})
    check_schedule([], {})


@pytest.mark.parametrize(
    ("segments", "message"),
    [
        ([seg("a", 0, 10, 3), seg("b", 9.5, 20, 2)], "over-committed at t=9.5 s: 5 devices"),
        ([seg("a", 0, 10, 5)], "over-committed at t=0 s: 5 devices in use, capacity 4"),
        ([seg("a", 0, 1, pool="tpu")], "no capacity"),
        ([seg("a", 2, 1)], "ends before it starts"),
    ],
    ids=["overlap", "too-wide", "unknown-pool", "backwards"],
)
def test_check_schedule_rejects_infeasible_segments(segments: list[Segment], message: str) -> None:
    """Over-commitment names the pool, time and devices; malformed segments are refused too."""
    with pytest.raises(ValueError, match=message):
        check_schedule(segments, {"p": 4})


def test_write_segments_csv(tmp_path: Path) -> None:
    """The CSV has the documented header and one row per segment, times in full precision."""
    segments = [seg("a", 0.0, 0.1, 2, pool="h100"), seg("b", 1.5, 1e9 + 0.25)]
    path = tmp_path / "segments.csv"
    write_segments_csv(segments, path)
    rows = list(csv.reader(path.open(encoding="utf-8")))
    assert rows[0] == ["job_id", "pool", "devices", "start_s", "end_s"]
    assert rows[1:] == [["a", "h100", "2", "0.0", "0.1"], ["b", "p", "1", "1.5", "1000000000.25"]]


@st.composite
def feasible_runs(draw: st.DrawFn) -> tuple[list[JobOutcome], list[Segment], int, dict | None]:
    """Random jobs list-scheduled on fixed device ranges of one pool, some preempted once.

    Each job takes a contiguous range of device slots and starts when all of them are free (and
    not before its submit), so no device is ever used twice at once: feasible by construction.
    """
    capacity = draw(st.integers(1, 8))
    free_at = [0.0] * capacity
    groups = draw(st.lists(st.sampled_from("abcd"), min_size=1, max_size=4, unique=True))
    outcomes: list[JobOutcome] = []
    segments: list[Segment] = []
    for i in range(draw(st.integers(1, 25))):
        devices = draw(st.integers(1, capacity))
        low = draw(st.integers(0, capacity - devices))
        slots = range(low, low + devices)
        submit = draw(st.floats(0, 1000, allow_nan=False))
        run = draw(st.floats(0, 500, allow_nan=False))
        start = max(submit, *(free_at[k] for k in slots))
        pieces = [(start, start + run)]
        preempted = draw(st.booleans()) and run > 0
        if preempted:
            cut, gap = start + run / 2, draw(st.floats(0, 100, allow_nan=False))
            pieces = [(start, cut), (cut + gap, cut + gap + run / 2)]
        finished = draw(st.booleans())
        end = pieces[-1][1]
        for k in slots:
            free_at[k] = end
        job_id = f"j{i}"
        segments += [Segment(job_id, "pool", devices, a, b) for a, b in pieces]
        group = draw(st.sampled_from(groups))
        outcomes.append(
            JobOutcome(
                job_id,
                group,
                submit,
                devices,
                run,
                start,
                end if finished else None,
                int(preempted),
            )
        )
    awards = draw(
        st.none() | st.fixed_dictionaries({g: st.floats(0.5, 100, allow_nan=False) for g in groups})
    )
    return outcomes, segments, capacity, awards


@settings(max_examples=200, deadline=None)
@given(feasible_runs())
def test_bounds_hold_for_random_feasible_schedules(
    run: tuple[list[JobOutcome], list[Segment], int, dict | None],
) -> None:
    """For feasible single-pool runs: utilization in [0, 1], Jain in [1/n, 1], adherence in [0, 1]."""
    outcomes, segments, capacity, awards = run
    check_schedule(segments, {"pool": capacity})
    m = compute_metrics(outcomes, segments, total_devices=capacity, awards=awards)
    eps = 1e-9
    assert -eps <= m.utilization <= 1 + eps
    entitled = [g for g, share in m.entitled_share.items() if share > 0]
    assert 1 / len(entitled) - eps <= m.jain_fairness <= 1 + eps
    assert -eps <= m.allocation_adherence <= 1 + eps
    assert sum(m.entitled_share.values()) == pytest.approx(1.0)
    assert m.jobs == len(outcomes)


def test_hundred_thousand_jobs_take_under_a_second() -> None:
    """100,000 outcomes and 150,000 segments (half the jobs preempted once) in under 1 s."""
    outcomes: list[JobOutcome] = []
    segments: list[Segment] = []
    for i in range(100_000):
        job_id, submit = f"j{i}", float(i)
        if i % 2:
            segments.append(Segment(job_id, "p", 1 + i % 8, submit + 5, submit + 50))
            segments.append(Segment(job_id, "p", 1 + i % 8, submit + 70, submit + 120))
            end, preemptions = submit + 120, 1
        else:
            segments.append(Segment(job_id, "p", 1 + i % 8, submit + 5, submit + 100))
            end, preemptions = submit + 100, 0
        outcomes.append(
            JobOutcome(job_id, f"g{i % 50}", submit, 1 + i % 8, 95.0, submit + 5, end, preemptions)
        )
    assert len(segments) == 150_000
    began = time.perf_counter()
    m = compute_metrics(outcomes, segments, total_devices=1024, awards={"g0": 2.0, "g1": 1.0})
    elapsed = time.perf_counter() - began
    assert m.jobs == 100_000 and m.preemptions_per_job == 0.5
    assert elapsed < 1.0, f"compute_metrics took {elapsed:.3f} s"


def test_jobs_stopped_at_their_time_limit_are_counted() -> None:
    """A timed-out job leaves the system (it has a JCT) but is counted in ``timeouts``."""
    outcomes = [
        JobOutcome("a", "g", 0.0, 1, 10.0, 0.0, 10.0),
        JobOutcome("b", "g", 0.0, 1, 50.0, 0.0, 20.0, timed_out=True),
    ]
    segments = [Segment("a", "p", 1, 0.0, 10.0), Segment("b", "p", 1, 0.0, 20.0)]
    metrics = compute_metrics(outcomes, segments, total_devices=2)
    assert metrics.timeouts == 1 and metrics.avg_jct_s == 15.0
