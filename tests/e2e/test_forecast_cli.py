"""`nuri forecast` on a series file: the chosen model, backtests, intervals, a chart, and errors."""

import json
import math
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

BIN = Path(sys.executable).parent


def nuri(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "nuri"), *args], cwd=cwd, capture_output=True, text=True, timeout=240
    )


def write_series(path: Path, hours: int) -> None:
    """Hourly demand with a daily cycle and a gentle upward trend."""
    start = datetime(2027, 3, 1, tzinfo=UTC)
    lines = ["timestamp,value"]
    for hour in range(hours):
        value = 50 + 0.05 * hour + 20 * math.sin(2 * math.pi * hour / 24) + (hour * 7919 % 13) / 4
        lines.append(f"{(start + timedelta(hours=hour)).isoformat()},{value:.3f}")
    path.write_text("\n".join(lines) + "\n")


def test_forecast_json_has_the_model_its_backtests_and_a_point_per_step(tmp_path: Path) -> None:
    write_series(tmp_path / "demand.csv", 21 * 24)
    done = nuri(
        "forecast", "--series", "demand.csv", "--horizon", "2d", "--json", "--plot", "f.html",
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert {"model", "backtest", "forecast"} <= set(result)
    assert result["model"] in result["backtest"]
    for score in result["backtest"].values():
        assert score["mase"] >= 0 and 0 <= score["coverage"] <= 1
    points = result["forecast"]
    assert len(points) == 48
    assert points[0]["timestamp"] == "2027-03-22T00:00:00+00:00"
    assert all(p["lo80"] <= p["mean"] <= p["hi80"] for p in points)
    # The daily cycle is forecast: 06:00 (the peak of the sine) above 18:00 (its trough).
    assert points[6]["mean"] > points[18]["mean"] + 20
    assert "plotly" in (tmp_path / "f.html").read_text()[:100_000].lower()


def test_bad_series_and_horizons_are_one_line_errors(tmp_path: Path) -> None:
    write_series(tmp_path / "short.csv", 30)
    (tmp_path / "bad.csv").write_text("timestamp,value\n2027-01-01T00:00,1\n2027-01-01T01:00,x\n")
    cases = [
        (("--series", "short.csv", "--horizon", "1d"), "too little history"),
        (("--series", "bad.csv"), "line 3"),
        (("--series", "short.csv", "--horizon", "90"), "horizon"),
        (("--series", "missing.csv"), "no series file"),
        (("--series", "short.csv", "--plot", "f.pdf"), ".png or .html"),
    ]
    for args, message in cases:
        done = nuri("forecast", *args, cwd=tmp_path)
        assert done.returncode == 1, (args, done.stdout)
        assert message in done.stderr and "Traceback" not in done.stderr, (args, done.stderr)
