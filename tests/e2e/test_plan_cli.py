"""`nuri plan` and `nuri estimate` from the command line, on a small cluster and forecast written
here: exit codes, JSON keys, and one-line errors (no traceback) for bad input."""

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
ONE_POOL = """\
hubs:
  - name: seoul
    pools:
      - {name: h100, accelerator: H100, nodes: 2, devices_per_node: 8, h100_equivalent: 1.0, krw_per_device_hour: 4000}
"""
TWO_POOLS = """\
hubs:
  - name: seoul
    pools:
      - {name: h100, accelerator: H100, nodes: 2, devices_per_node: 8, h100_equivalent: 1.0, krw_per_device_hour: 4000, device_price_krw: 50000000}
  - name: gwangju
    pools:
      - {name: rngd, accelerator: RNGD, nodes: 2, devices_per_node: 8, h100_equivalent: 0.3, krw_per_device_hour: 900}
"""
PLAN_KEYS = {
    "target_p90_wait_s",
    "policy",
    "samples",
    "seed",
    "confidence",
    "arrivals",
    "antithetic",
    "job_shapes",
    "pools",
    "hubs",
    "total",
    "budget",
    "comparison",
    "assumptions",
}
POOL_KEYS = {
    "hub",
    "pool",
    "accelerator",
    "planned",
    "current_devices",
    "recommended_devices",
    "added_devices",
    "simulated_p90_wait_s",
    "erlang_c_p90_wait_s",
    "capital_krw",
    "running_krw_per_year",
}


def nuri(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "nuri"), *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def forecast_json(mean: float, hours: int = 12) -> dict:
    start = datetime(2027, 3, 1, tzinfo=UTC)
    return {
        "series": "pool demand",
        "unit": "device-hours",
        "step_s": 3600,
        "model": "hand-made",
        "backtest": {},
        "forecast": [
            {
                "timestamp": (start + timedelta(hours=h)).isoformat(),
                "mean": mean,
                "lo80": 0.8 * mean,
                "hi80": 1.2 * mean,
            }
            for h in range(hours)
        ],
    }


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "one.yaml").write_text(ONE_POOL)
    (tmp_path / "two.yaml").write_text(TWO_POOLS)
    (tmp_path / "h100.json").write_text(json.dumps(forecast_json(10.0)))
    empty = forecast_json(10.0)
    empty["forecast"] = []
    (tmp_path / "empty.json").write_text(json.dumps(empty))
    return tmp_path


def assert_clean_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    """Exit status 1, one line on standard error naming the problem, no traceback."""
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ")
    for fragment in fragments:
        assert fragment in result.stderr


def test_plan_json_for_a_one_pool_cluster_with_a_bare_forecast(workdir: Path) -> None:
    """A bare F.json plans the only pool; --json prints one object with the documented keys."""
    result = nuri(
        "plan",
        "--cluster", "one.yaml",
        "--forecast", "h100.json",
        "--target-p90-wait", "1h",
        "--samples", "2",
        "--json",
        cwd=workdir,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert set(plan) == PLAN_KEYS
    assert plan["target_p90_wait_s"] == 3600 and plan["budget"] is None
    pool = plan["pools"][0]
    assert set(pool) >= POOL_KEYS
    assert pool["planned"] and pool["recommended_devices"] % 8 == 0
    assert pool["simulated_p90_wait_s"] <= 3600
    assert isinstance(pool["capital_krw"], int) and isinstance(plan["total"]["capital_krw"], int)
    assert {row["accelerator"] for row in plan["comparison"]} >= {"H100", "RNGD", "ATOM"}


def test_plan_with_named_forecasts_budget_and_a_table(workdir: Path) -> None:
    """POOL=F.json plans that pool; the other is not planned; the budget is reported."""
    args = (
        "plan",
        "--cluster", "two.yaml",
        "--forecast", "h100=h100.json",
        "--target-p90-wait", "30m",
        "--samples", "2",
        "--budget", "1,000,000,000",
    )  # fmt: skip
    result = nuri(*args, "--json", cwd=workdir)
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    h100, rngd = plan["pools"]
    assert h100["planned"] and not rngd["planned"]
    assert h100["device_price_krw"] == 50_000_000  # from the pool's own key
    assert rngd["recommended_devices"] == rngd["current_devices"] == 16
    assert plan["budget"]["budget_krw"] == 1_000_000_000
    assert [hub["hub"] for hub in plan["hubs"]] == ["seoul", "gwangju"]
    table = nuri(*args, cwd=workdir)
    assert table.returncode == 0, table.stderr
    for heading in ("Capacity plan", "Totals", "Cost per H100e GPU-hour", "Budget"):
        assert heading in table.stdout
    assert "not planned" in table.stdout


def test_plan_samples_job_shapes_from_a_trace(workdir: Path) -> None:
    """--jobs-like takes sizes and run times from a trace in the common schema."""
    rows = ["job_id,user,group,submit_time_s,duration_s,num_gpus,gpu_type,status"]
    rows += [
        f"j{i},u{i % 3},g{i % 2},{i * 60},{600 + 90 * i},{1 + i % 4},,COMPLETED" for i in range(40)
    ]
    (workdir / "trace.csv").write_text("\n".join(rows) + "\n")
    result = nuri(
        "plan", "--cluster", "one.yaml", "--forecast", "h100.json", "--target-p90-wait", "15m",
        "--samples", "2", "--jobs-like", "trace.csv", "--json",
        cwd=workdir,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["job_shapes"] == "trace.csv"
    assert plan["pools"][0]["largest_job_devices"] == 4


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("--cluster", "two.yaml", "--forecast", "h100.json"), ("h100, rngd", "h100=h100.json")),
        (("--cluster", "one.yaml", "--forecast", "a100=h100.json"), ("a100", "h100")),
        (("--cluster", "one.yaml", "--forecast", "h100=empty.json"), ("no points",)),
        (("--cluster", "one.yaml", "--forecast", "h100=missing.json"), ("no forecast file",)),
        (("--cluster", "one.yaml", "--forecast", "h100.json", "--budget", "-5"), ("zero or more",)),
        (("--cluster", "one.yaml", "--forecast", "h100.json", "--budget", "lots"), ("won",)),
        (("--cluster", "nope.yaml", "--forecast", "h100.json"), ("no cluster spec",)),
        (("--cluster", "one.yaml", "--forecast", "h100.json", "--arrivals", "x"), ("--arrivals",)),
    ],
    ids=[
        "bare forecast, two pools",
        "unknown pool",
        "empty",
        "missing",
        "budget<0",
        "budget?",
        "spec",
        "arrivals",
    ],
)
def test_plan_bad_input_is_one_line(workdir: Path, args: tuple[str, ...], fragments) -> None:
    result = nuri("plan", *args, "--target-p90-wait", "1h", "--samples", "1", cwd=workdir)
    assert_clean_error(result, *fragments)


@pytest.mark.parametrize("target", ["0s", "soon"])
def test_plan_refuses_a_target_that_is_not_a_positive_duration(workdir: Path, target: str) -> None:
    result = nuri(
        "plan", "--cluster", "one.yaml", "--forecast", "h100.json", "--target-p90-wait", target,
        cwd=workdir,
    )  # fmt: skip
    assert_clean_error(result, "--target-p90-wait")


def test_estimate_json_and_request_check(workdir: Path) -> None:
    """70B on 2T tokens for 5 teams over a year, on two accelerators, with a request check."""
    result = nuri(
        "estimate", "--params", "70B", "--tokens", "2T", "--teams", "5",
        "--accelerator", "H100", "--accelerator", "RNGD", "--over", "365d",
        "--requested", "3000000", "--json",
        cwd=workdir,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    estimate = json.loads(result.stdout)
    assert estimate["kind"] == "training" and estimate["flops"] == pytest.approx(4.2e24)
    h100, rngd = estimate["estimates"]
    assert h100["device_hours"] == pytest.approx(5 * 6 * 70e9 * 2e12 / (989e12 * 0.4 * 3600))
    assert h100["devices_busy"] == pytest.approx(h100["device_hours"] / 8760)
    assert rngd["caveats"]
    assert estimate["request"]["verdict"] == "within"
    table = nuri("estimate", "--inference", "--params", "8B", "--tokens", "500G", cwd=workdir)
    assert table.returncode == 0 and "fp8" in table.stdout


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--params", "70X", "--tokens", "2T"), "70B"),
        (("--params", "7B", "--tokens", "1T", "--accelerator", "SAPEON-X330"), "--peak-tflops"),
        (("--params", "7B", "--tokens", "1T", "--mfu", "2"), "(0, 1]"),
        (("--params", "7B", "--tokens", "1T", "--accelerator", "TPU"), "known accelerators"),
    ],
    ids=["bad params", "no peak", "mfu", "accelerator"],
)
def test_estimate_bad_input_is_one_line(
    workdir: Path, args: tuple[str, ...], fragment: str
) -> None:
    assert_clean_error(nuri("estimate", *args, cwd=workdir), fragment)
