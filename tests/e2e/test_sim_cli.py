"""`nuri trace convert` and `nuri sim` from the command line, on small committed trace samples."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SAMPLES = ROOT / "tests" / "data" / "traces"
KEYS = [
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
CLUSTER = """\
hubs:
  - name: seoul
    pools:
      - {name: h100, accelerator: H100, nodes: 2, devices_per_node: 8, h100_equivalent: 1.0, krw_per_device_hour: 4000}
  - name: gwangju
    pools:
      - {name: atom, accelerator: ATOM, nodes: 2, devices_per_node: 4, h100_equivalent: 0.1, krw_per_device_hour: 300}
"""


def nuri(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "nuri"), *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "cluster.yaml").write_text(CLUSTER)
    converted = nuri(
        "trace",
        "convert",
        "--format",
        "gavel-philly",
        "--missing-throughput",
        "extrapolate",
        str(SAMPLES / "gavel-philly"),
        "trace.parquet",
        cwd=tmp_path,
    )
    assert converted.returncode == 0, converted.stderr
    return tmp_path


def test_sim_json_has_exactly_the_documented_keys(workdir: Path) -> None:
    """--json prints one object with exactly the twelve metric keys, in order."""
    result = nuri(
        "sim",
        "--cluster",
        "cluster.yaml",
        "--trace",
        "trace.parquet",
        "--policy",
        "easy-backfill",
        "--json",
        cwd=workdir,
    )
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    assert list(metrics) == KEYS
    assert metrics["jobs"] > 0 and 0 < metrics["utilization"] <= 1


def test_the_schedule_file_lets_anyone_recompute_the_metrics(workdir: Path) -> None:
    """Every job's segments are feasible, and avg JCT recomputed from them matches the JSON."""
    result = nuri(
        "sim",
        "--cluster",
        "cluster.yaml",
        "--trace",
        "trace.parquet",
        "--policy",
        "fifo",
        "--json",
        "--schedule-out",
        "schedule.csv",
        cwd=workdir,
    )
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    rows = list(csv.DictReader((workdir / "schedule.csv").open()))
    assert rows and list(rows[0]) == ["job_id", "pool", "devices", "start_s", "end_s"]
    import pandas as pd

    trace = pd.read_parquet(workdir / "trace.parquet")
    submitted = dict(
        zip(trace["job_id"].astype(str), trace["submit_time_s"].astype(float), strict=True)
    )
    end: dict[str, float] = {}
    events: list[tuple[float, int, int, str]] = []
    for row in rows:
        end[row["job_id"]] = max(end.get(row["job_id"], 0.0), float(row["end_s"]))
        events += [
            (float(row["start_s"]), 1, int(row["devices"]), row["pool"]),
            (float(row["end_s"]), 0, -int(row["devices"]), row["pool"]),
        ]
    in_use = {"h100": 0, "atom": 0}
    for _, _, change, pool in sorted(events):
        in_use[pool] += change
        assert in_use[pool] <= {"h100": 16, "atom": 8}[pool]
    jcts = [finish - submitted[job_id] for job_id, finish in end.items()]
    assert abs(sum(jcts) / len(jcts) - metrics["avg_jct_s"]) < 1e-6 * max(1.0, metrics["avg_jct_s"])


def test_compare_prints_a_table_and_writes_a_chart(workdir: Path) -> None:
    """--compare runs several policies on one trace and writes the JCT CDF."""
    result = nuri(
        "sim",
        "--cluster",
        "cluster.yaml",
        "--trace",
        "trace.parquet",
        "--compare",
        "--policies",
        "fifo,easy-backfill,srtf-oracle",
        "--plot",
        "jct.html",
        cwd=workdir,
    )
    assert result.returncode == 0, result.stderr
    for name in ("fifo", "easy-backfill", "srtf-oracle"):
        assert name in result.stdout
    html = (workdir / "jct.html").read_text()
    assert "easy-backfill" in html and "plotly" in html.lower()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--policy", "nope"], "unknown policy 'nope'"),
        (["--cluster", "missing.yaml"], "no cluster spec at missing.yaml"),
        (["--trace", "missing.csv"], "missing.csv"),
    ],
    ids=["policy", "cluster", "trace"],
)
def test_sim_errors_are_one_line(workdir: Path, args: list[str], message: str) -> None:
    """Bad input: exit code 1 and a one-line message, no traceback."""
    base = {"--cluster": "cluster.yaml", "--trace": "trace.parquet", "--policy": "fifo"}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    result = nuri("sim", *[part for pair in base.items() for part in pair], cwd=workdir)
    assert result.returncode == 1, result.stdout + result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
