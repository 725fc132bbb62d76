"""nuri's common trace schema: one row per job, the same columns whatever the source trace.

A *trace* is a :class:`pandas.DataFrame` with these columns, sorted by ``submit_time_s`` then
``job_id``, with a fresh ``RangeIndex``:

=================  =======  ==========================================================================
column             dtype    meaning
=================  =======  ==========================================================================
``job_id``         str      unique, non-empty
``user``           str      who submitted the job (non-empty; traces without users repeat the group)
``group``          str      the team, virtual cluster or QoS class the job is accounted to (non-empty)
``submit_time_s``  float    seconds from the trace start, >= 0
``duration_s``     float    the job's run time in seconds, > 0 (a lower bound when RUNNING)
``num_gpus``       int      devices the job holds for its whole run, >= 1
``gpu_type``       str      ``''`` = any pool; else an accelerator name; ``'A|B'`` = A or B
``status``         str      COMPLETED, FAILED, CANCELLED, or RUNNING (censored at the trace end)
``time_limit_s``   float    optional: the user's requested limit, NaN if unknown, else >= duration_s
``job_class``      str      optional: e.g. a model name, for heterogeneity-aware policies ('' = none)
=================  =======  ==========================================================================

Other columns are kept unchanged after these. :func:`validate_trace` is the one place that
enforces the contract; every loader in :mod:`nuri.traces` returns its result.
"""

import logging
import math
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from nuri.domain.errors import InvalidInput

logger = logging.getLogger(__name__)

REQUIRED_COLUMNS: Final[tuple[str, ...]] = (
    "job_id",
    "user",
    "group",
    "submit_time_s",
    "duration_s",
    "num_gpus",
    "gpu_type",
    "status",
)
"""Columns every trace has, in this order."""

OPTIONAL_COLUMNS: Final[tuple[str, ...]] = ("time_limit_s", "job_class")
"""Columns a trace may have, placed after the required ones when present."""

STATUSES: Final[tuple[str, ...]] = ("COMPLETED", "FAILED", "CANCELLED", "RUNNING")
"""Allowed ``status`` values; RUNNING marks a job censored at the trace end."""

TRACE_SUFFIXES: Final[tuple[str, ...]] = (".csv", ".parquet")
"""File extensions :func:`read_trace` and :func:`write_trace` understand."""

_NON_EMPTY_STRINGS: Final = ("job_id", "user", "group", "status")
_EMPTY_MEANS_NONE: Final = ("gpu_type", "job_class")
_FLOATS: Final = ("submit_time_s", "duration_s", "time_limit_s")
_NA_TOKENS: Final = ["", "nan", "NaN", "NA", "null"]


def validate_trace(df: pd.DataFrame) -> pd.DataFrame:
    """Check ``df`` against the common schema and return a clean, sorted copy.

    Coerces dtypes (strings to ``str``, times to ``float64``, ``num_gpus`` to ``int64``; a missing
    ``gpu_type`` or ``job_class`` becomes ``''``), sorts by ``submit_time_s`` then ``job_id`` and
    resets the index. ``df`` itself is never modified; its ``attrs`` are carried over.

    Raises:
        InvalidInput: naming the column and the first offending row (counted from 0 in the order
            given) for: a missing required column, a missing or empty id, user or group, a
            duplicate ``job_id``, a value that is not a number, a negative or non-finite
            ``submit_time_s``, a non-positive ``duration_s`` or ``num_gpus``, a fractional
            ``num_gpus``, an unknown ``status``, or ``time_limit_s`` below ``duration_s``.
    """
    missing = [column for column in REQUIRED_COLUMNS if column not in df.columns]
    if missing:
        raise InvalidInput(
            f"trace is missing required column(s) {', '.join(missing)};"
            f" a trace needs {', '.join(REQUIRED_COLUMNS)}"
        )
    out = df.reset_index(drop=True)  # positions are the row numbers quoted in messages
    out.attrs = dict(df.attrs)
    job_ids = out["job_id"]

    def refuse(column: str, rule: str, mask: "pd.Series[bool]") -> None:
        positions = np.flatnonzero(mask.to_numpy(dtype=bool, na_value=False))
        if len(positions):
            row = int(positions[0])
            raise InvalidInput(
                f"{column} {rule}, but row {row} (job_id {_show(job_ids.iloc[row])})"
                f" has {_show(out[column].iloc[row])}"
                + (f" ({len(positions)} rows in all)" if len(positions) > 1 else "")
            )

    for column in _NON_EMPTY_STRINGS:
        refuse(column, "must be a non-empty string", out[column].isna())
        out[column] = out[column].astype(str)
        refuse(column, "must be a non-empty string", out[column].str.strip() == "")
    for column in _EMPTY_MEANS_NONE:
        if column in out.columns:
            out[column] = out[column].astype(str).fillna("")
    for column in (*_FLOATS, "num_gpus"):
        if column in out.columns:
            numbers = pd.to_numeric(out[column], errors="coerce")
            refuse(column, "must be a number", numbers.isna() & out[column].notna())
            out[column] = numbers.astype("float64")

    duplicated = out["job_id"].duplicated()
    if duplicated.any():
        row = int(np.flatnonzero(duplicated.to_numpy())[0])
        first = int(np.flatnonzero((out["job_id"] == out["job_id"].iloc[row]).to_numpy())[0])
        raise InvalidInput(
            f"job_id must be unique, but row {row} repeats {_show(out['job_id'].iloc[row])}"
            f" (first at row {first})"
        )
    submit, duration, gpus = out["submit_time_s"], out["duration_s"], out["num_gpus"]
    refuse("submit_time_s", "must be a finite number >= 0", ~np.isfinite(submit) | (submit < 0))
    refuse("duration_s", "must be a finite number > 0", ~np.isfinite(duration) | (duration <= 0))
    refuse("num_gpus", "must be an integer >= 1", gpus.isna() | (gpus < 1) | (gpus % 1 != 0))
    out["num_gpus"] = gpus.astype("int64")
    refuse("status", f"must be one of {', '.join(STATUSES)}", ~out["status"].isin(STATUSES))
    if "time_limit_s" in out.columns:
        limit = out["time_limit_s"]
        refuse("time_limit_s", "must be finite when given", np.isinf(limit))
        refuse("time_limit_s", "must be >= duration_s when given", limit < duration)

    present = [c for c in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS) if c in out.columns]
    extra = [c for c in out.columns if c not in present]
    out = out[present + extra]
    out = out.sort_values(["submit_time_s", "job_id"], kind="mergesort").reset_index(drop=True)
    out.attrs = dict(df.attrs)
    return out


def read_trace(path: str | Path) -> pd.DataFrame:
    """Read a trace written by :func:`write_trace` (or by hand) and validate it.

    The format follows the extension: ``.csv`` (a header row; an empty ``time_limit_s`` cell is
    NaN, an empty ``gpu_type`` is ``''``; strings such as ``NA`` stay strings) or ``.parquet``.

    Raises:
        InvalidInput: for another extension, a missing file, an unreadable file, or a trace that
            breaks the schema (see :func:`validate_trace`).
    """
    file = Path(path)
    suffix = _suffix(file)
    if not file.is_file():
        raise InvalidInput(f"no trace file at {file}")
    try:
        if suffix == ".csv":
            df = pd.read_csv(
                file,
                dtype={c: str for c in (*_NON_EMPTY_STRINGS, *_EMPTY_MEANS_NONE)},
                keep_default_na=False,
                na_values={c: _NA_TOKENS for c in (*_FLOATS, "num_gpus")},
            )
        else:
            df = pd.read_parquet(file)
    except (ValueError, OSError, pd.errors.ParserError) as error:
        raise InvalidInput(f"cannot read trace {file}: {error}") from None
    trace = validate_trace(df)
    logger.info("read %d jobs from %s", len(trace), file)
    return trace


def write_trace(df: pd.DataFrame, path: str | Path) -> None:
    """Validate ``df`` and write it to ``path`` as ``.csv`` or ``.parquet`` (by extension).

    The written file reads back with :func:`read_trace` to an equal frame. An existing file is
    replaced; the parent directory must exist.

    Raises:
        InvalidInput: for another extension or a trace that breaks the schema.
    """
    file = Path(path)
    suffix = _suffix(file)
    trace = validate_trace(df)
    if suffix == ".csv":
        trace.to_csv(file, index=False)
    else:
        trace.to_parquet(file, index=False)
    logger.info("wrote %d jobs to %s", len(trace), file)


def span_days(trace: pd.DataFrame) -> float:
    """Days from the first submission to the last (0 for an empty trace).

    This is the trace's submission window, the span usually quoted for a trace; jobs submitted
    near the end may run on past it.
    """
    if trace.empty:
        return 0.0
    submit = trace["submit_time_s"]
    return float(submit.max() - submit.min()) / 86_400.0


def _suffix(file: Path) -> str:
    suffix = file.suffix.lower()
    if suffix not in TRACE_SUFFIXES:
        raise InvalidInput(
            f"cannot tell the format of {file}: use a name ending in {' or '.join(TRACE_SUFFIXES)}"
        )
    return suffix


def _show(value: Any) -> str:
    """A cell value for an error message: NaN as 'nothing', strings quoted."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "nothing"
    return repr(value) if isinstance(value, str) else str(value)
