"""The public demand series as hourly :class:`~nuri.forecasting.series.Series`, for forecasting.

Two sources (see ``shared/traces/README.md``), both sampled once a minute::

    helios-earth-vc-demand/Earth_vcs/<vc>.csv.gz   SenseTime Helios "Earth", May 2020, per
                                                   virtual cluster: demand = running_gpu_num
                                                   + pending_gpu_num (GPUs held or waited for)
    philly-node-demand/philly_node_sequence.csv.gz Microsoft Philly, Oct-Dec 2017: demand =
                                                   active (nodes in use)

Each becomes the hourly mean of its per-minute demand: the devices demanded on average in that
hour, the unit capacity planning thinks in, and a series short enough (about 700 points a month)
for the models to fit in seconds. Timestamps in the files carry no zone; they are taken as UTC
(the hour of day then means the trace's own clock). An hour with no sample at all (Philly has
one 10-hour hole) is filled by linear interpolation between its neighbours, because the models
need a regular series and a straight line is the least-informed guess; how many hours were
filled is logged.
"""

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from nuri.domain.errors import InvalidInput
from nuri.forecasting.series import Series, series_from_points

logger = logging.getLogger(__name__)

HELIOS_DEMAND_COLUMNS: Final = ("running_gpu_num", "pending_gpu_num")
"""Helios VC columns whose sum is demand."""

HELIOS_TOTAL: Final = "earth-total"
"""Name of the whole-cluster series in :func:`load_helios_earth_demand`'s result."""

PHILLY_DEMAND_COLUMN: Final = "active"
"""Philly column that is demand (nodes in use)."""

_TIME: Final = "time"
_HOUR: Final = "h"


def load_helios_vc_demand(path: str | Path) -> Series:
    """One Helios Earth virtual cluster's hourly GPU demand, named after the file (``vc6YE``).

    Raises:
        InvalidInput: a missing or unreadable file, or one without the columns ``time``,
            ``running_gpu_num`` and ``pending_gpu_num``.
    """
    path = Path(path)
    minutes = _helios_minutes(path)
    return _hourly(_vc_name(path), "GPUs", minutes, path)


def load_helios_earth_demand(
    directory: str | Path, vcs: Iterable[str] | None = None
) -> dict[str, Series]:
    """Hourly GPU demand of Helios Earth's virtual clusters, by VC name, sorted.

    ``directory`` is ``Earth_vcs`` or the ``helios-earth-vc-demand`` directory holding it.
    ``vcs`` picks VCs by name (``["vc6YE", "vcLJZ"]``); by default every ``*.csv.gz`` file is
    read and the whole cluster is added as ``"earth-total"``: the sum of all VCs' per-minute
    demand, then its hourly mean.

    Raises:
        InvalidInput: a missing directory, a directory without VC files, a requested VC
            without a file (the message lists the ones there are), or a bad VC file.
    """
    root = Path(directory)
    if (root / "Earth_vcs").is_dir():
        root = root / "Earth_vcs"
    if not root.is_dir():
        raise InvalidInput(f"no such directory: {root}")
    available = {_vc_name(path): path for path in sorted(root.glob("*.csv.gz"))}
    if not available:
        raise InvalidInput(f"{root} holds no <vc>.csv.gz files")
    if vcs is None:
        names = sorted(available)
    else:
        names = sorted(set(vcs))
        absent = [name for name in names if name not in available]
        if absent:
            raise InvalidInput(
                f"no file for VC(s) {', '.join(absent)} in {root}; there are:"
                f" {', '.join(sorted(available))}"
            )
    result: dict[str, Series] = {}
    total: pd.Series | None = None
    for name in names:
        minutes = _helios_minutes(available[name])
        result[name] = _hourly(name, "GPUs", minutes, available[name])
        if vcs is None:
            total = minutes if total is None else total.add(minutes, fill_value=0.0)
    if total is not None:
        result[HELIOS_TOTAL] = _hourly(HELIOS_TOTAL, "GPUs", total, root)
    return result


def load_philly_node_demand(path: str | Path) -> Series:
    """Philly's hourly node demand (``active`` nodes), named ``"philly"``.

    Raises:
        InvalidInput: a missing or unreadable file, or one without ``time`` and ``active``.
    """
    path = Path(path)
    frame = _read(path, (_TIME, PHILLY_DEMAND_COLUMN))
    minutes = pd.Series(frame[PHILLY_DEMAND_COLUMN].to_numpy(dtype=np.float64), index=frame[_TIME])
    return _hourly("philly", "nodes", minutes, path)


def _helios_minutes(path: Path) -> "pd.Series[float]":
    frame = _read(path, (_TIME, *HELIOS_DEMAND_COLUMNS))
    demand = frame[list(HELIOS_DEMAND_COLUMNS)].sum(axis=1).to_numpy(dtype=np.float64)
    return pd.Series(demand, index=frame[_TIME])


def _read(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path)
    except FileNotFoundError:
        raise InvalidInput(f"no such file: {path}") from None
    except (OSError, ValueError, EOFError, pd.errors.ParserError) as error:
        raise InvalidInput(f"cannot read {path}: {error}") from None
    absent = [column for column in columns if column not in frame.columns]
    if absent:
        raise InvalidInput(
            f"{path} is missing column(s) {', '.join(absent)}; it has"
            f" {', '.join(map(str, frame.columns))}"
        )
    if frame.empty:
        raise InvalidInput(f"{path} has no rows")
    try:
        times = pd.to_datetime(frame[_TIME])
    except (ValueError, TypeError) as error:
        raise InvalidInput(f"{path}: cannot read the time column: {error}") from None
    values = frame[list(columns[1:])].apply(pd.to_numeric, errors="coerce")
    if values.isna().any().any():
        row = int(np.argmax(values.isna().any(axis=1).to_numpy()))
        raise InvalidInput(f"{path}, data row {row + 1}: a demand value is missing or not a number")
    clean: pd.DataFrame = pd.concat([times.rename(_TIME), values], axis=1)
    return clean


def _hourly(name: str, unit: str, minutes: "pd.Series[float]", source: Path) -> Series:
    """Hourly means of per-minute demand, holes interpolated, as a Series."""
    hourly = minutes.sort_index().resample(_HOUR).mean()
    holes = int(hourly.isna().sum())
    if holes:
        hourly = hourly.interpolate(method="linear", limit_direction="both")
        logger.info("%s: %d hour(s) without samples filled by interpolation", source, holes)
    stamps = hourly.index.to_numpy(dtype="datetime64[s]")
    return series_from_points(name, unit, stamps, hourly.to_numpy(dtype=np.float64))


def _vc_name(path: Path) -> str:
    return path.name.removesuffix(".gz").removesuffix(".csv")
