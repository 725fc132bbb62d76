"""Traces in the common schema: validation, files, loaders on small samples, the synthetic
generator, the time-limit model and the ``nuri trace`` commands.

The samples under ``tests/data/traces`` are excerpts of the real traces (see their README);
the whole traces are exercised in ``tests/integration/test_trace_loaders.py``.
"""

import gzip
import json
import math
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

import nuri.traces
from nuri.cli.client import CliError
from nuri.cli.trace import app as trace_app
from nuri.domain.errors import InvalidInput
from nuri.traces import (
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    generate_trace,
    load_alibaba_dlrm_services,
    load_alibaba_openb,
    load_gavel_philly,
    load_gavel_throughputs,
    read_trace,
    service_demand,
    validate_trace,
    with_time_limits,
    write_trace,
)
from nuri.traces.time_limits import LIMIT_LADDER_S, requested_limits

DATA = Path(__file__).resolve().parents[1] / "data" / "traces"
GAVEL = DATA / "gavel-philly"
GAVEL_THROUGHPUTS = GAVEL / "simulation_throughputs.json.gz"
OPENB = DATA / "alibaba" / "openb_pod_list_sample.csv"
DLRM = DATA / "alibaba" / "disaggregated_DLRM_trace_sample.csv"
DAY = 86_400.0


def small_trace() -> pd.DataFrame:
    """Three valid jobs, deliberately out of order, with every optional column."""
    return pd.DataFrame(
        {
            "job_id": ["b", "a", "c"],
            "user": ["NA", "kim", "lee"],
            "group": ["nlp", "nlp", "vision"],
            "submit_time_s": [10.0, 10.0, 0.0],
            "duration_s": [60.0, 3600.0, 5.5],
            "num_gpus": [1, 8, 2],
            "gpu_type": ["", "A100|H100", "H100"],
            "status": ["COMPLETED", "RUNNING", "FAILED"],
            "time_limit_s": [3600.0, math.nan, 5.5],
            "job_class": ["", "llama", "resnet"],
        }
    )


# -- the public surface -----------------------------------------------------------------------


def test_public_surface_is_pinned() -> None:
    """nuri.traces exports exactly these names; adding one is a deliberate change."""
    assert nuri.traces.__all__ == [
        "OPTIONAL_COLUMNS",
        "REQUIRED_COLUMNS",
        "generate_trace",
        "load_alibaba_dlrm_services",
        "load_alibaba_openb",
        "load_gavel_philly",
        "load_gavel_throughputs",
        "read_trace",
        "service_demand",
        "validate_trace",
        "with_time_limits",
        "write_trace",
    ]
    assert REQUIRED_COLUMNS[:3] == ("job_id", "user", "group")
    assert OPTIONAL_COLUMNS == ("time_limit_s", "job_class")


# -- validation -------------------------------------------------------------------------------


def test_validate_sorts_coerces_and_leaves_the_input_alone() -> None:
    """A valid trace comes back sorted by (submit, job_id), with schema dtypes and columns in
    schema order; the caller's frame is untouched."""
    raw = small_trace()
    raw["num_gpus"] = raw["num_gpus"].astype("float64")  # 1.0 -> 1
    raw["gpu_type"] = pd.Series([math.nan, "A100|H100", "H100"], dtype=object)
    raw = raw[list(reversed(raw.columns))]
    before = raw.copy()

    trace = validate_trace(raw)

    assert list(trace["job_id"]) == ["c", "a", "b"]
    assert list(trace.columns) == [*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS]
    assert trace["num_gpus"].dtype == np.dtype("int64")
    assert trace["submit_time_s"].dtype == np.dtype("float64")
    assert trace.loc[trace["job_id"] == "b", "gpu_type"].item() == ""
    assert list(trace.index) == [0, 1, 2]
    pd.testing.assert_frame_equal(raw, before)


def _broken(column: str, row: int, value: Any) -> pd.DataFrame:
    frame = small_trace()
    frame[column] = frame[column].astype(object)
    frame.loc[row, column] = value
    return frame


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (small_trace().drop(columns=["status", "user"]), "missing required column(s) user, status"),
        (
            _broken("job_id", 2, "b"),
            "job_id must be unique, but row 2 repeats 'b' (first at row 0)",
        ),
        (
            _broken("submit_time_s", 1, -1.0),
            "submit_time_s must be a finite number >= 0, but row 1",
        ),
        (_broken("duration_s", 2, 0.0), "duration_s must be a finite number > 0, but row 2"),
        (_broken("duration_s", 0, "long"), "duration_s must be a number, but row 0 (job_id 'b')"),
        (
            _broken("num_gpus", 1, 0),
            "num_gpus must be an integer >= 1, but row 1 (job_id 'a') has 0",
        ),
        (_broken("num_gpus", 0, 1.5), "num_gpus must be an integer >= 1, but row 0"),
        (
            _broken("status", 1, "DONE"),
            "status must be one of COMPLETED, FAILED, CANCELLED, RUNNING",
        ),
        (
            _broken("user", 2, None),
            "user must be a non-empty string, but row 2 (job_id 'c') has nothing",
        ),
        (
            _broken("time_limit_s", 0, 59.0),
            "time_limit_s must be >= duration_s when given, but row 0",
        ),
    ],
    ids=[
        "missing-columns",
        "duplicate-id",
        "negative-submit",
        "zero-duration",
        "text-duration",
        "zero-gpus",
        "fractional-gpus",
        "unknown-status",
        "missing-user",
        "limit-below-duration",
    ],
)
def test_validate_refuses_with_column_and_first_row(frame: pd.DataFrame, expected: str) -> None:
    """Each broken rule is refused with a message naming the column and the first bad row."""
    with pytest.raises(InvalidInput) as error:
        validate_trace(frame)
    assert expected in str(error.value)


def test_validate_counts_every_offending_row() -> None:
    """The message points at the first bad row and says how many there are in all."""
    frame = small_trace()
    frame["duration_s"] = [-1.0, 5.0, -2.0]
    with pytest.raises(InvalidInput, match=r"row 0 \(job_id 'b'\) has -1.0 \(2 rows in all\)"):
        validate_trace(frame.drop(columns="time_limit_s"))


# -- files ------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_write_then_read_round_trips(tmp_path: Path, suffix: str) -> None:
    """A trace written as CSV or Parquet reads back equal: '' gpu types, NaN limits and a user
    literally named 'NA' survive."""
    trace = validate_trace(small_trace())
    path = tmp_path / f"trace{suffix}"
    write_trace(trace, path)
    pd.testing.assert_frame_equal(read_trace(path), trace, check_like=False)


def test_round_trip_of_a_trace_without_optional_columns(tmp_path: Path) -> None:
    """Optional columns stay absent through a CSV round trip."""
    trace = generate_trace(50, seed=1)
    write_trace(trace, tmp_path / "t.csv")
    back = read_trace(tmp_path / "t.csv")
    assert list(back.columns) == list(REQUIRED_COLUMNS)
    pd.testing.assert_frame_equal(back, trace)


@pytest.mark.parametrize("name", ["trace.json", "trace", "trace.csv.gz"])
def test_unknown_extensions_are_refused(tmp_path: Path, name: str) -> None:
    """Only .csv and .parquet are understood, for reading and writing."""
    with pytest.raises(InvalidInput, match=r"\.csv or \.parquet"):
        write_trace(small_trace(), tmp_path / name)
    (tmp_path / name).write_text("x")
    with pytest.raises(InvalidInput, match=r"\.csv or \.parquet"):
        read_trace(tmp_path / name)


def test_reading_a_missing_or_broken_file_says_so(tmp_path: Path) -> None:
    """A missing file and a file breaking the schema are refused as InvalidInput."""
    with pytest.raises(InvalidInput, match="no trace file"):
        read_trace(tmp_path / "absent.parquet")
    (tmp_path / "bad.csv").write_text("job_id,user\na,b\n")
    with pytest.raises(InvalidInput, match="missing required column"):
        read_trace(tmp_path / "bad.csv")


# -- Gavel ------------------------------------------------------------------------------------


def test_gavel_refuses_jobs_without_a_measured_throughput_by_default() -> None:
    """By default a job whose (type, GPUs) the table lacks is an error that says which and how
    to proceed."""
    with pytest.raises(InvalidInput) as error:
        load_gavel_philly(GAVEL)
    message = str(error.value)
    assert message.startswith("3 of 33 jobs have no throughput")
    assert "'ResNet-18 (batch size 128)' on 64 GPU(s): 1" in message
    assert "missing='extrapolate'" in message


def test_gavel_sample_loads_into_the_schema() -> None:
    """Each line is a job: id vc-index, group = user = VC, duration = steps / V100 steps/s."""
    trace = load_gavel_philly(GAVEL, missing="extrapolate")
    singles = load_gavel_throughputs(GAVEL_THROUGHPUTS)
    eights = load_gavel_throughputs(GAVEL_THROUGHPUTS, scale_factor=8)

    assert len(trace) == 33
    assert trace.attrs["extrapolated"] == 3
    assert trace["group"].value_counts().to_dict() == {
        "51b7ef": 18,
        "11cb48": 8,
        "925e2b": 4,
        "795a4c": 3,
    }
    assert (trace["user"] == trace["group"]).all()
    assert set(trace["gpu_type"]) == {""} and set(trace["status"]) == {"COMPLETED"}
    job = trace.set_index("job_id").loc["795a4c-0"]
    assert job["job_class"] == "Transformer (batch size 128)"
    assert job["num_gpus"] == 1 and job["submit_time_s"] == 0.0
    assert job["duration_s"] == pytest.approx(
        79561 / singles["Transformer (batch size 128)"]["v100"]
    )
    big = trace.set_index("job_id").loc["11cb48-4"]  # 64 GPUs: 8 measured, scaled x8
    assert big["num_gpus"] == 64
    assert big["duration_s"] == pytest.approx(
        55335 / (eights["ResNet-18 (batch size 128)"]["v100"] * 8)
    )


def test_gavel_reference_gpu_changes_durations() -> None:
    """Durations follow the reference GPU: most jobs run about 4x longer on a K80 than on a V100
    (not all: Gavel measured its Recommendation models faster on K80s)."""
    v100 = load_gavel_philly(GAVEL, missing="extrapolate")
    k80 = load_gavel_philly(GAVEL, missing="extrapolate", reference_gpu="k80")
    slowdown = k80["duration_s"] / v100["duration_s"]
    assert 3.0 < slowdown.median() < 5.0
    assert set(v100.loc[slowdown < 1, "job_class"]) == {"Recommendation (batch size 512)"}
    with pytest.raises(InvalidInput, match="has no GPU type 'h100'; it has k80, p100, v100"):
        load_gavel_philly(GAVEL, reference_gpu="h100")


def test_gavel_throughputs_by_class_and_gpu_type() -> None:
    """The table gives steps/s alone per job class and GPU type; GPU types that cannot run a
    class at that size (zero in the table) are left out."""
    singles = load_gavel_throughputs(GAVEL_THROUGHPUTS)
    assert len(singles) == 18
    assert all(set(speeds) == {"k80", "p100", "v100"} for speeds in singles.values())
    assert singles["CycleGAN"]["v100"] > singles["CycleGAN"]["k80"] > 0
    pairs = load_gavel_throughputs(GAVEL_THROUGHPUTS, scale_factor=2)
    assert set(pairs["ResNet-50 (batch size 128)"]) == {"p100", "v100"}  # K80: 0 steps/s
    assert "CycleGAN" not in pairs
    with pytest.raises(InvalidInput, match="scale factor 3"):
        load_gavel_throughputs(GAVEL_THROUGHPUTS, scale_factor=3)


def test_gavel_malformed_line_names_file_and_line(tmp_path: Path) -> None:
    """A line without 7 tab-separated fields is refused with its file and line number."""
    shutil.copytree(GAVEL, tmp_path / "gavel")
    broken = tmp_path / "gavel" / "seed=0" / "795a4c.trace"
    broken.write_text(broken.read_text() + "A3C\tonly three\n")
    with pytest.raises(InvalidInput, match=r"795a4c.trace:4: expected 7 tab-separated fields"):
        load_gavel_philly(tmp_path / "gavel", missing="extrapolate")


def test_gavel_unknown_job_type_cannot_be_extrapolated(tmp_path: Path) -> None:
    """A job type never measured on the reference GPU is refused even when extrapolating."""
    shutil.copytree(GAVEL, tmp_path / "gavel")
    table = tmp_path / "gavel" / "simulation_throughputs.json.gz"
    with gzip.open(table, "rt") as handle:
        raw = json.load(handle)
    raw["v100"] = {k: v for k, v in raw["v100"].items() if "CycleGAN" not in k}
    with gzip.open(table, "wt") as handle:
        json.dump(raw, handle)
    with pytest.raises(InvalidInput, match=r"job 51b7ef-8: .* no measurement of 'CycleGAN'"):
        load_gavel_philly(tmp_path / "gavel", missing="extrapolate")


def test_gavel_directory_without_traces_is_refused(tmp_path: Path) -> None:
    """An empty directory is refused with where the files were looked for."""
    with pytest.raises(InvalidInput, match=r"no Gavel trace files at .*seed=0/\*\.trace"):
        load_gavel_philly(tmp_path)


# -- Alibaba ----------------------------------------------------------------------------------


def test_openb_sample_keeps_gpu_pods_that_ran() -> None:
    """GPU pods become jobs (shared GPUs count as one device); CPU pods are skipped and Pending
    pods dropped and counted."""
    trace = load_alibaba_openb(OPENB)
    assert len(trace) == 44
    assert trace.attrs["dropped"] == 5
    assert trace["status"].value_counts().to_dict() == {"RUNNING": 37, "FAILED": 4, "COMPLETED": 3}
    assert trace["group"].value_counts().to_dict() == {
        "LS": 34,
        "BE": 7,
        "Burstable": 2,
        "Guaranteed": 1,
    }
    assert trace["num_gpus"].value_counts().to_dict() == {1: 40, 4: 2, 2: 1, 8: 1}
    jobs = trace.set_index("job_id")
    shared = jobs.loc["openb-pod-0022"]  # gpu_milli 220 of a T4
    assert (shared["num_gpus"], shared["gpu_type"], shared["group"]) == (1, "T4", "BE")
    assert shared["duration_s"] == 9973826 - 9679175 and shared["status"] == "RUNNING"
    big = jobs.loc["openb-pod-0017"]
    assert (big["num_gpus"], big["status"], big["duration_s"]) == (8, "COMPLETED", 1332357.0)
    assert "V100M16|V100M32" in set(trace["gpu_type"]) and "" in set(trace["gpu_type"])


def test_openb_unknown_phase_is_refused(tmp_path: Path) -> None:
    """A pod phase outside the documented four is refused, naming the pod."""
    text = OPENB.read_text().replace(",Failed,", ",Evicted,", 1)
    (tmp_path / "pods.csv").write_text(text)
    with pytest.raises(InvalidInput, match=r"pod openb-pod-\d+ has pod_phase 'Evicted'"):
        load_alibaba_openb(tmp_path / "pods.csv")


def test_dlrm_services_fill_the_trace_edges() -> None:
    """GPU instances only; alive before the trace -> start 0, alive after -> the trace end."""
    services = load_alibaba_dlrm_services(DLRM)
    assert list(services.columns) == ["service", "start_s", "end_s", "devices"]
    assert len(services) == 29
    assert services.attrs["trace_end_s"] == 1_789_479.0
    assert (services["start_s"] == 0).sum() == 12
    assert (services["end_s"] == 1_789_479.0).sum() == 20
    assert (services["devices"] == 1).all()
    assert services["start_s"].is_monotonic_increasing


def test_service_demand_counts_devices_alive_at_each_step() -> None:
    """Devices in use per service at t = 0, step, ...; an instance counts on [start, end)."""
    demand = service_demand(load_alibaba_dlrm_services(DLRM), step_s=DAY)
    assert list(demand.columns) == ["app_0", "app_1", "app_2", "app_5"]
    assert demand.index.name == "time_s" and len(demand) == 21  # 0 .. 20 days < 20.7 days
    assert demand.loc[0.0].to_dict() == {"app_0": 3, "app_1": 3, "app_2": 3, "app_5": 3}
    assert demand.loc[20 * DAY].to_dict() == {"app_0": 6, "app_1": 3, "app_2": 6, "app_5": 4}
    toy = pd.DataFrame(
        {"service": ["s", "s"], "start_s": [0.0, 5.0], "end_s": [10.0, 20.0], "devices": [2, 3]}
    )
    assert service_demand(toy, step_s=5.0)["s"].tolist() == [2, 5, 3, 3]
    with pytest.raises(InvalidInput, match="step_s must be > 0"):
        service_demand(toy, step_s=0)


# -- the synthetic generator ------------------------------------------------------------------


def test_synthetic_is_deterministic_for_a_seed() -> None:
    """The same seed gives an identical trace; another seed a different one."""
    first = generate_trace(2_000, seed=42)
    pd.testing.assert_frame_equal(first, generate_trace(2_000, seed=42))
    other = generate_trace(2_000, seed=43)
    assert not first["duration_s"].equals(other["duration_s"])
    assert not first["submit_time_s"].equals(other["submit_time_s"])


def test_synthetic_durations_are_whole_milliseconds() -> None:
    """Durations are rounded to milliseconds, so the last-bit differences of numpy's vectorised
    exp between CPUs (AVX-512 against AVX2) cannot change a seed's trace."""
    durations = generate_trace(2000, seed=11)["duration_s"].to_numpy()
    assert np.array_equal(durations, np.round(durations, 3))
    assert (durations >= 1.0).all()


def test_synthetic_follows_the_documented_model() -> None:
    """Median about 10 min, mean about 1.5 h, capped at 7 days; GPU shares and Zipf groups as
    documented; every row valid."""
    trace = generate_trace(100_000, seed=7)
    pd.testing.assert_frame_equal(trace, validate_trace(trace))
    duration = trace["duration_s"]
    assert 540 < duration.median() < 660
    assert 1.3 * 3600 < duration.mean() < 1.7 * 3600
    assert duration.max() <= 7 * DAY
    shares = trace["num_gpus"].value_counts(normalize=True)
    assert set(shares.index) <= {1, 2, 4, 8, 16, 32}
    assert shares[1] == pytest.approx(0.70, abs=0.01) and shares[32] == pytest.approx(
        0.01, abs=0.003
    )
    groups = trace["group"].value_counts()
    assert len(groups) == 8 and groups["g1"] == pytest.approx(2 * groups["g2"], rel=0.05)
    gaps = trace["submit_time_s"].diff().dropna()
    assert gaps.mean() == pytest.approx(60.0, rel=0.02)


def test_synthetic_100k_jobs_is_fast() -> None:
    """100,000 jobs in under two seconds (well under one on a laptop)."""
    started = time.perf_counter()
    trace = generate_trace(100_000, seed=1)
    assert time.perf_counter() - started < 2.0
    assert len(trace) == 100_000 and trace["job_id"].is_unique


def test_synthetic_refuses_nonsense() -> None:
    """Out-of-range arguments are InvalidInput; zero jobs is an empty, valid trace."""
    with pytest.raises(InvalidInput, match="jobs must be >= 0"):
        generate_trace(-1, seed=0)
    with pytest.raises(InvalidInput, match="mean_interarrival_s"):
        generate_trace(10, seed=0, mean_interarrival_s=0)
    assert generate_trace(0, seed=0).empty


# -- time limits ------------------------------------------------------------------------------


def test_time_limits_are_never_below_duration_and_use_the_ladder() -> None:
    """Every limit covers the run; up to 7 days it is one of the common limits, beyond it the
    run rounded up to the hour."""
    trace = generate_trace(20_000, seed=5)
    long = pd.DataFrame(
        {
            "job_id": ["long"],
            "user": ["u"],
            "group": ["g"],
            "submit_time_s": [0.0],
            "duration_s": [8 * DAY + 1],
            "num_gpus": [1],
            "gpu_type": [""],
            "status": ["COMPLETED"],
        }
    )
    limited = with_time_limits(pd.concat([trace, long]), seed=3)
    assert (limited["time_limit_s"] >= limited["duration_s"]).all()
    short = limited[limited["duration_s"] <= 7 * DAY]
    assert set(short["time_limit_s"]) <= set(LIMIT_LADDER_S)
    assert limited.set_index("job_id").loc["long", "time_limit_s"] == 8 * DAY + 3600


def test_time_limits_median_ratio_is_three_to_five() -> None:
    """Users over-ask: the median requested/actual ratio is in the documented 3-5x range."""
    limited = with_time_limits(generate_trace(20_000, seed=11), seed=2)
    ratio = limited["time_limit_s"] / limited["duration_s"]
    assert 3.0 <= ratio.median() <= 5.0


def test_time_limits_do_not_depend_on_row_order_or_other_jobs() -> None:
    """A job's limit depends on (seed, job_id, duration) only: shuffling rows or dropping
    other jobs changes nothing, and another seed changes some limits."""
    trace = generate_trace(5_000, seed=9)
    expected = with_time_limits(trace, seed=4).set_index("job_id")["time_limit_s"]
    shuffled = trace.sample(frac=1.0, random_state=np.random.default_rng(0))
    again = with_time_limits(shuffled, seed=4).set_index("job_id")["time_limit_s"]
    pd.testing.assert_series_equal(again.sort_index(), expected.sort_index())
    subset = with_time_limits(trace.iloc[::7], seed=4).set_index("job_id")["time_limit_s"]
    pd.testing.assert_series_equal(subset, expected.loc[subset.index])
    other = with_time_limits(trace, seed=5).set_index("job_id")["time_limit_s"]
    assert (other != expected).any()


def test_time_limits_keep_given_limits() -> None:
    """Limits already in the trace are kept; only missing ones are derived."""
    limited = with_time_limits(small_trace(), seed=0).set_index("job_id")["time_limit_s"]
    assert limited["b"] == 3600.0 and limited["c"] == 5.5
    assert limited["a"] in LIMIT_LADDER_S and limited["a"] >= 3600.0


@given(
    duration=st.floats(min_value=0.001, max_value=60 * DAY),
    factor=st.floats(min_value=1.0, max_value=1_000.0),
)
def test_requested_limit_rounding_property(duration: float, factor: float) -> None:
    """For any run and over-estimate: limit >= run; on the ladder up to 7 days; else whole
    hours."""
    limit = float(requested_limits(np.array([duration]), np.array([factor]))[0])
    assert limit >= duration
    if duration <= 7 * DAY:
        assert limit in LIMIT_LADDER_S
    else:
        assert limit % 3600 == 0 and limit - duration < 3600


# -- the CLI ----------------------------------------------------------------------------------


def _run(*args: str) -> Any:
    return CliRunner().invoke(trace_app, list(args))


@pytest.mark.parametrize(
    ("fmt", "src", "summary"),
    [
        ("alibaba-openb", OPENB, "44 jobs in 4 groups over 125.2 days (5 dropped)"),
        ("gavel-philly", GAVEL, "33 jobs in 4 groups over 41.5 days (3 extrapolated)"),
        ("alibaba-dlrm", DLRM, "29 GPU instances of 4 services over 20.7 days"),
    ],
    ids=["alibaba-openb", "gavel-philly", "alibaba-dlrm"],
)
def test_convert_writes_and_summarises(tmp_path: Path, fmt: str, src: Path, summary: str) -> None:
    """convert writes DST and prints one summary line on standard error."""
    dst = tmp_path / "out.parquet"
    result = _run(
        "convert", "--format", fmt, "--missing-throughput", "extrapolate", str(src), str(dst)
    )
    assert result.exit_code == 0, result.output
    assert result.stderr.strip() == f"{dst}: {summary}"
    assert dst.is_file()


def test_convert_common_and_stats(tmp_path: Path) -> None:
    """A common trace converts to the other file format, and stats describes it."""
    write_trace(generate_trace(300, seed=1), tmp_path / "in.csv")
    result = _run("convert", str(tmp_path / "in.csv"), str(tmp_path / "out.parquet"))
    assert result.exit_code == 0, result.output
    assert "300 jobs in 8 groups" in result.stderr
    stats = _run("stats", str(tmp_path / "out.parquet"))
    assert stats.exit_code == 0, stats.output
    for text in ("jobs", "300", "groups", "jobs with 1 GPU(s)", "duration p50", "COMPLETED"):
        assert text in stats.stdout


def test_cli_errors_are_raised_for_the_entry_point(tmp_path: Path) -> None:
    """Bad destinations are CliError, bad data InvalidInput: nuri's entry point prints either
    as one line."""
    bad_dst = _run("convert", "-f", "alibaba-openb", str(OPENB), str(tmp_path / "out.json"))
    assert isinstance(bad_dst.exception, CliError)
    refused = _run("convert", "-f", "gavel-philly", str(GAVEL), str(tmp_path / "g.csv"))
    assert isinstance(refused.exception, InvalidInput)
    assert "--missing-throughput extrapolate" in str(refused.exception)
    not_jobs = _run("stats", "-f", "alibaba-dlrm", str(DLRM))
    assert isinstance(not_jobs.exception, CliError)
