"""Reading a ``timestamp,value`` CSV into a series: the accepted timestamp forms and every error
a user can meet, each naming the file and the line to fix."""

import gzip
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from nuri.domain.errors import InvalidInput
from nuri.forecasting.series_file import read_series_csv

START = datetime(2026, 3, 2, 9, tzinfo=UTC)


def write(tmp_path: Path, text: str, name: str = "pool.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "stamps",
    [
        ["2026-03-02T09:00:00", "2026-03-02T10:00:00", "2026-03-02T11:00:00"],
        ["2026-03-02 09:00", "2026-03-02 10:00", "2026-03-02 11:00"],
        ["2026-03-02T09:00:00Z", "2026-03-02T10:00:00Z", "2026-03-02T11:00:00Z"],
        ["2026-03-02T18:00:00+09:00", "2026-03-02T19:00:00+09:00", "2026-03-02T20:00:00+09:00"],
        ["1772442000", "1772445600", "1772449200"],
        ["1772442000.0", "1772445600.0", "1772449200.0"],
    ],
    ids=["naive", "naive-space", "zulu", "offset", "unix", "unix-float"],
)
def test_timestamp_forms(tmp_path: Path, stamps: list[str]) -> None:
    """ISO timestamps (naive = UTC, Z, offsets converted) and unix seconds all read the same."""
    rows = "\n".join(f"{stamp},{value}" for stamp, value in zip(stamps, (1, 2.5, 0), strict=True))
    series = read_series_csv(write(tmp_path, f"timestamp,value\n{rows}\n"))
    assert series.name == "pool"
    assert series.step_s == 3600
    assert series.start == START
    assert series.values.tolist() == [1.0, 2.5, 0.0]


def test_header_order_case_extra_columns_blank_lines_and_gzip(tmp_path: Path) -> None:
    """Columns are found by name in any case and order; others are ignored; blank lines are
    skipped; a .gz file is decompressed; the name can be given."""
    text = "Value , note, TIMESTAMP\n3,a,2026-03-02T09:00Z\n\n4,b,2026-03-02T09:15Z\n5,,2026-03-02T09:30Z\n"
    path = tmp_path / "demand.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(text)
    series = read_series_csv(path)
    assert series.name == "demand"
    assert series.step_s == 900
    np.testing.assert_array_equal(series.values, [3.0, 4.0, 5.0])
    assert read_series_csv(path, name="gpu pool").name == "gpu pool"
    assert series.future_datetimes(1) == (START + timedelta(minutes=45),)


ERRORS = {
    "empty file": ("", "is empty; expected a header line 'timestamp,value'"),
    "header only": ("timestamp,value\n", "has a header but no data rows"),
    "missing column": ("time,value\n2026-03-02T09:00,1\n", "line 1: .* missing 'timestamp'"),
    "bad timestamp": (
        "timestamp,value\n2026-03-02T09:00,1\nyesterday,2\n",
        "line 3: cannot read the timestamp 'yesterday'; use ISO 8601",
    ),
    "empty timestamp": ("timestamp,value\n,1\n", "line 2: the timestamp is empty"),
    "bad value": (
        "timestamp,value\n2026-03-02T09:00,1\n2026-03-02T10:00,many\n",
        "line 3: the value 'many' is not a number",
    ),
    "empty value": ("timestamp,value\n2026-03-02T09:00,\n", "line 2: the value '' is not a number"),
    "NaN value": (
        "timestamp,value\n2026-03-02T09:00,NaN\n",
        "line 2: the value 'NaN' is not a finite",
    ),
    "negative value": (
        "timestamp,value\n2026-03-02T09:00,-1\n",
        "line 2: the value -1 is negative",
    ),
    "short row": ("timestamp,value\n2026-03-02T09:00\n", "line 2: expected 2 fields, found 1"),
    "duplicate timestamp": (
        "timestamp,value\n2026-03-02T09:00,1\n2026-03-02T09:00,2\n2026-03-02T10:00,2\n",
        "points 1 and 2 share the timestamp .*; point n is on line n \\+ 1",
    ),
    "irregular": (
        "timestamp,value\n2026-03-02T09:00,1\n2026-03-02T10:00,1\n2026-03-02T13:00,1\n"
        "2026-03-02T14:00,1\n",
        "irregular step: point 3 .* 3 h after point 2",
    ),
    "one row": ("timestamp,value\n2026-03-02T09:00,1\n", "at least 2 points"),
}


@pytest.mark.parametrize("text, message", ERRORS.values(), ids=ERRORS.keys())
def test_bad_files_name_the_line(tmp_path: Path, text: str, message: str) -> None:
    """Every defect is refused, naming the file and, where there is one, the line."""
    path = write(tmp_path, text)
    with pytest.raises(InvalidInput, match=message) as caught:
        read_series_csv(path)
    assert str(path) in caught.value.message


def test_missing_file_and_directory(tmp_path: Path) -> None:
    """A path that is not a file says so."""
    with pytest.raises(InvalidInput, match="no such file"):
        read_series_csv(tmp_path / "absent.csv")
    with pytest.raises(InvalidInput, match="is a directory"):
        read_series_csv(tmp_path)
