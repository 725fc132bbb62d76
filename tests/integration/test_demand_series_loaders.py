"""The demand-series loaders on the whole public files in ``shared/traces`` (beside the
repository root): hourly means of per-minute demand, as the forecasting benchmark reads them.

The hour values pinned here are recomputed from the raw rows with the standard library, so a
loader that averaged the wrong columns or hours would fail. Skipped, with the reason, where
``shared/traces`` is absent.
"""

import csv
import gzip
import shutil
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from nuri.domain.errors import InvalidInput
from nuri.traces.demand_series import (
    HELIOS_TOTAL,
    load_helios_earth_demand,
    load_helios_vc_demand,
    load_philly_node_demand,
)

SHARED = Path(__file__).resolve().parents[3] / "shared" / "traces"
HELIOS = SHARED / "helios-earth-vc-demand"
VC = HELIOS / "Earth_vcs" / "vc6YE.csv.gz"
PHILLY = SHARED / "philly-node-demand" / "philly_node_sequence.csv.gz"

pytestmark = pytest.mark.skipif(
    not SHARED.is_dir(), reason=f"the public traces are not at {SHARED} on this machine"
)


def raw_hour_mean(path: Path, hour_prefix: str, columns: tuple[str, ...]) -> float:
    """Mean over the rows of one hour ('YYYY-MM-DD HH') of the sum of ``columns``."""
    with gzip.open(path, "rt", newline="") as handle:
        sums = [
            sum(float(row[column]) for column in columns)
            for row in csv.DictReader(handle)
            if row["time"].startswith(hour_prefix)
        ]
    return sum(sums) / len(sums)


def test_helios_vc_is_hourly_gpu_demand_for_may_2020() -> None:
    """44,640 minutes become 744 hours from 2020-05-01 00:00 UTC; each hour is the mean of
    running + pending GPUs over its 60 minutes."""
    series = load_helios_vc_demand(VC)
    assert series.name == "vc6YE" and series.unit == "GPUs"
    assert len(series) == 744 and series.step_s == 3600
    assert series.start == datetime(2020, 5, 1, tzinfo=UTC)
    assert series.end == datetime(2020, 5, 31, 23, tzinfo=UTC)
    columns = ("running_gpu_num", "pending_gpu_num")
    assert series.values[0] == pytest.approx(raw_hour_mean(VC, "2020-05-01 00", columns))
    assert series.values[10 * 24 + 13] == pytest.approx(raw_hour_mean(VC, "2020-05-11 13", columns))


def test_helios_earth_has_every_vc_and_the_total() -> None:
    """All 16 VC files load; earth-total is their sum, hour by hour."""
    demand = load_helios_earth_demand(HELIOS)
    vcs = [name for name in demand if name != HELIOS_TOTAL]
    assert len(vcs) == 16 and vcs == sorted(vcs)
    total = sum(demand[name].values for name in vcs)
    np.testing.assert_allclose(demand[HELIOS_TOTAL].values, total)
    assert all(len(series) == 744 for series in demand.values())
    chosen = load_helios_earth_demand(HELIOS / "Earth_vcs", vcs=["vcLJZ", "vc6YE"])
    assert list(chosen) == ["vc6YE", "vcLJZ"]  # no total for a subset
    assert chosen["vc6YE"] == demand["vc6YE"]


def test_philly_is_hourly_active_nodes_with_its_gap_filled() -> None:
    """About 73 days of hours from 2017-10-03; the 10-hour hole in the minutes is interpolated,
    so the series is regular; values are nodes in use (at most 450 in any minute)."""
    series = load_philly_node_demand(PHILLY)
    assert series.name == "philly" and series.unit == "nodes"
    assert series.start == datetime(2017, 10, 3, tzinfo=UTC)
    assert len(series) == 1771 and series.step_s == 3600
    assert series.values.min() >= 0 and series.values.max() <= 450
    assert series.values[0] == pytest.approx(raw_hour_mean(PHILLY, "2017-10-03 00", ("active",)))
    # No minute from 2017-10-25 14:01 to 23:59: hours 15-23 lie on the line from 14 to 00.
    first, last = 22 * 24 + 14, 23 * 24
    np.testing.assert_allclose(
        series.values[first : last + 1],
        np.linspace(series.values[first], series.values[last], last - first + 1),
    )


def test_missing_files_and_wrong_columns(tmp_path: Path) -> None:
    """A missing file or VC, an empty directory, or a file of the other kind is refused,
    saying what is missing."""
    with pytest.raises(InvalidInput, match="no such file"):
        load_helios_vc_demand(tmp_path / "vcNone.csv.gz")
    with pytest.raises(InvalidInput, match="no such directory"):
        load_helios_earth_demand(tmp_path / "absent")
    with pytest.raises(InvalidInput, match=r"holds no <vc>\.csv\.gz files"):
        load_helios_earth_demand(tmp_path)
    with pytest.raises(InvalidInput, match=r"no file for VC\(s\) vcNone .* there are: vc3sl"):
        load_helios_earth_demand(HELIOS, vcs=["vcNone"])
    with pytest.raises(InvalidInput, match=r"missing column\(s\) active"):
        load_philly_node_demand(VC)
    philly_as_vc = tmp_path / "vcPhilly.csv.gz"
    shutil.copy(PHILLY, philly_as_vc)
    with pytest.raises(InvalidInput, match=r"missing column\(s\) running_gpu_num, pending_gpu_num"):
        load_helios_vc_demand(philly_as_vc)
