"""The README's reports, forecast and plan block, run verbatim against a real demo server."""

import csv
import json
from pathlib import Path

import pytest

from tests.e2e.test_readme_walkthrough import readme_block, run_block, server

__all__ = ["server"]  # the fixture, shared with the first session's test


@pytest.mark.slow
def test_the_reports_forecast_and_plan_in_the_readme_work_verbatim(
    server: dict[str, str], tmp_path: Path
) -> None:
    block = readme_block("How much is used, and how much more is needed")
    result = run_block(block, server, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for heading in ("Spend by hub", "Awards' burn-down", "Capacity plan", "Compute for 5 teams"):
        assert heading in out, out
    needs = list(csv.DictReader((tmp_path / "needs.csv").open()))
    assert {row["pool"] for row in needs} == {"h100-ksc", "a100-gwangju", "rngd-gwangju"}
    demand = list(csv.DictReader((tmp_path / "h100.csv").open()))
    assert len(demand) == 28 * 24 and sum(float(row["value"]) for row in demand) > 0
    forecast = json.loads((tmp_path / "h100-forecast.json").read_text())
    assert len(forecast["forecast"]) == 168 and forecast["model"] in forecast["backtest"]
