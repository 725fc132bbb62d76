"""The Philly-derived job traces shipped with Gavel (Narayanan et al., OSDI'20), and its throughputs.

Layout of a Gavel trace directory (as in ``shared/traces/gavel-philly-derived``)::

    <directory>/
     +-- seed=0/<vc>.trace                one file per Philly virtual cluster (VC)
     +-- simulation_throughputs.json.gz   (or .json) steps per second, measured

A ``.trace`` file is tab-separated, without a header, one job per line, 7 fields::

    job_type  command  num_steps_arg  needs_data_dir  total_steps  arrival_time_s  scale_factor

Arrival times, GPU counts (``scale_factor``) and VCs come from Microsoft's Philly trace; the job
types (model and batch size) are Gavel's own. The work a job does is given in steps, so its run
time depends on the accelerator: seconds = ``total_steps / throughput``.

The throughput file maps ``gpu type -> "('<job_type>', <scale_factor>)" -> partner -> value``,
where partner ``"null"`` is the job running alone (a number, steps per second for the whole job
across its ``scale_factor`` GPUs) and any other partner is a co-located job (a pair of numbers,
ignored here). GPU types are ``k80``, ``p100`` and ``v100`` (plus ``*_unconsolidated`` variants,
measured with the job's GPUs spread over servers). Only scale factors 1, 2, 4 and 8 are measured,
and only some job types have multi-GPU measurements, so about 10% of the Philly-derived jobs
(those on more than 8 GPUs or an unmeasured count such as 7 or 12, and A3C, CycleGAN and
Recommendation jobs on more than one GPU) have no entry: see ``missing`` in
:func:`load_gavel_philly`. Note also that Gavel measured its Recommendation models *slower* on
V100s than on K80s and P100s, so the fastest GPU type depends on the job class.
"""

import gzip
import json
import logging
import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final, Literal

import pandas as pd

from nuri.domain.errors import InvalidInput
from nuri.traces.schema import validate_trace

logger = logging.getLogger(__name__)

GPU_TYPES: Final[tuple[str, ...]] = ("k80", "p100", "v100")
"""The consolidated accelerator types of Gavel's throughput table."""

THROUGHPUTS_FILE: Final = "simulation_throughputs.json.gz"
TRACE_GLOB: Final = "seed=0/*.trace"

MissingThroughput = Literal["error", "extrapolate"]
"""What :func:`load_gavel_philly` does with a job whose (type, GPUs) the table lacks."""

_FIELDS: Final = 7
_KEY = re.compile(r"^\('(?P<job_type>.*)', (?P<scale_factor>\d+)\)$")

# (job_type, scale_factor) -> steps per second running alone, on one GPU type.
_Table = dict[tuple[str, int], float]


def gavel_trace_files(directory: str | Path) -> list[Path]:
    """The ``seed=0/*.trace`` files under ``directory``, sorted by name (the VC id).

    Raises:
        InvalidInput: if there is none.
    """
    files = sorted(Path(directory).glob(TRACE_GLOB))
    if not files:
        raise InvalidInput(f"no Gavel trace files at {Path(directory) / TRACE_GLOB}")
    return files


def load_gavel_philly(
    directory: str | Path,
    *,
    reference_gpu: str = "v100",
    missing: MissingThroughput = "error",
    progress: Callable[[Path], None] | None = None,
) -> pd.DataFrame:
    """Load Gavel's Philly-derived traces into the common schema (:mod:`nuri.traces.schema`).

    Each line of ``<directory>/seed=0/<vc>.trace`` becomes one job:

    - ``job_id`` = ``f"{vc}-{index}"``, ``index`` counting the file's jobs from 0;
    - ``group`` = the VC id (the file's stem). The trace has **no user column**, so ``user`` =
      ``group``: per-user fairness cannot be studied with this trace, only per-VC fairness;
    - ``submit_time_s`` = ``arrival_time_s``; ``num_gpus`` = ``scale_factor``;
    - ``job_class`` = ``job_type`` (e.g. ``'ResNet-50 (batch size 64)'``); ``gpu_type`` = ``''``
      (any pool; use :func:`load_gavel_throughputs` for per-accelerator speeds);
    - ``status`` = COMPLETED (the trace records no failures);
    - ``duration_s`` = ``total_steps / throughput``, the throughput being the steps per second of
      ``(job_type, scale_factor)`` running alone on ``reference_gpu`` (default ``'v100'``).

    Args:
        directory: the trace directory (``seed=0/`` and the throughput file inside).
        reference_gpu: a top-level key of the throughput file (``k80``, ``p100``, ``v100``, ...).
        missing: what to do when the table has no positive throughput for a job's
            ``(job_type, scale_factor)``. ``'error'`` (the default) refuses the trace and says how
            many jobs and which combinations lack one. ``'extrapolate'`` assumes ideal linear
            scaling from the largest measured scale factor ``m`` not above the job's ``s``:
            ``throughput(s) = throughput(m) * s / m``. That is optimistic for models that scale
            poorly, but keeps each job's GPU-seconds equal to what its steps cost at the measured
            efficiency; the number of jobs so treated is in ``attrs['extrapolated']``.
        progress: called with each ``.trace`` file's path after it is read (for a progress bar).

    Returns:
        A validated trace with ``job_class``; ``attrs['extrapolated']`` counts jobs whose
        throughput was extrapolated (0 with ``missing='error'``).

    Raises:
        InvalidInput: no trace files, a malformed line (file and line number given), an unknown
            ``reference_gpu``, a job type the table never measured on that GPU, or (with
            ``missing='error'``) jobs whose combination the table lacks.
    """
    if missing not in ("error", "extrapolate"):
        raise InvalidInput(f"missing must be 'error' or 'extrapolate', not {missing!r}")
    root = Path(directory)
    files = gavel_trace_files(root)
    table = _read_table(_throughputs_path(root), reference_gpu)
    rows: list[dict[str, Any]] = []
    for file in files:
        rows.extend(_read_trace_file(file))
        if progress is not None:
            progress(file)

    durations: list[float] = []
    extrapolated = 0
    lacking: dict[tuple[str, int], int] = {}
    for row in rows:
        key = (row["job_class"], row["num_gpus"])
        throughput = table.get(key, 0.0)
        if throughput <= 0.0:
            lacking[key] = lacking.get(key, 0) + 1
            if missing == "extrapolate":
                throughput = _extrapolate(table, key, reference_gpu, row["job_id"])
                extrapolated += 1
        durations.append(row.pop("total_steps") / throughput if throughput > 0 else 0.0)
    if lacking and missing == "error":
        worst = sorted(lacking.items(), key=lambda item: (-item[1], item[0]))[:5]
        shown = "; ".join(f"{job_type!r} on {gpus} GPU(s): {n}" for (job_type, gpus), n in worst)
        raise InvalidInput(
            f"{sum(lacking.values())} of {len(rows)} jobs have no throughput for their (job type,"
            f" GPUs) on {reference_gpu} in {_throughputs_path(root).name} ({len(lacking)}"
            f" combinations; most common: {shown}); pass missing='extrapolate' (CLI:"
            " --missing-throughput extrapolate) to scale linearly from the largest measured size"
        )

    frame = pd.DataFrame(rows, columns=["job_id", "user", "group", "submit_time_s", "num_gpus"])
    frame["duration_s"] = durations
    frame["gpu_type"] = ""
    frame["status"] = "COMPLETED"
    frame["job_class"] = [row["job_class"] for row in rows]
    trace = validate_trace(frame)
    trace.attrs["extrapolated"] = extrapolated
    logger.info(
        "loaded %d Gavel jobs from %d VCs in %s (%d with extrapolated throughput)",
        len(trace),
        len(files),
        root,
        extrapolated,
    )
    return trace


def load_gavel_throughputs(path: str | Path, scale_factor: int = 1) -> dict[str, dict[str, float]]:
    """Gavel's measured speeds: ``job_class -> {gpu type: steps per second running alone}``.

    Reads ``simulation_throughputs.json.gz`` (or a plain ``.json``) and keeps, for the given
    ``scale_factor`` (GPUs per job: 1, 2, 4 or 8), the ``null`` (running alone) entry of each job
    type on each of :data:`GPU_TYPES`. A GPU type is left out of a job class's mapping when the
    table has no positive value for it (ResNet-50 with batch size 128 does not run on 2 or more
    K80s), and a job class with no entry at that scale factor is left out entirely. The values are
    steps per second for the whole job, so a job of ``total_steps`` runs
    ``total_steps / value`` seconds on that GPU type. The result is a fresh dict the caller owns.

    Raises:
        InvalidInput: if the file is missing or not a Gavel throughput table, or no job class
            was measured at ``scale_factor``.
    """
    raw = _read_json(Path(path))
    result: dict[str, dict[str, float]] = {}
    for gpu_type in GPU_TYPES:
        for (job_type, gpus), throughput in _parse_table(raw, gpu_type, Path(path)).items():
            if gpus == scale_factor and throughput > 0:
                result.setdefault(job_type, {})[gpu_type] = throughput
    if not result:
        raise InvalidInput(f"no job class in {path} was measured at scale factor {scale_factor}")
    return dict(sorted(result.items()))


def _throughputs_path(root: Path) -> Path:
    for name in (THROUGHPUTS_FILE, THROUGHPUTS_FILE.removesuffix(".gz")):
        if (root / name).is_file():
            return root / name
    raise InvalidInput(f"no Gavel throughput table at {root / THROUGHPUTS_FILE}")


def _read_json(path: Path) -> Mapping[str, Any]:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rt", encoding="utf-8") as handle:
                raw = json.load(handle)
        else:
            raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInput(f"no Gavel throughput table at {path}") from None
    except (OSError, ValueError) as error:
        raise InvalidInput(f"cannot read Gavel throughput table {path}: {error}") from None
    if not isinstance(raw, dict):
        raise InvalidInput(f"{path} is not a Gavel throughput table (expected a JSON object)")
    return raw


def _parse_table(raw: Mapping[str, Any], gpu_type: str, path: Path) -> _Table:
    """``raw[gpu_type]`` as ``(job_type, scale_factor) -> steps/s alone``."""
    if gpu_type not in raw:
        raise InvalidInput(f"{path} has no GPU type {gpu_type!r}; it has {', '.join(sorted(raw))}")
    table: _Table = {}
    for key, partners in raw[gpu_type].items():
        match = _KEY.match(key)
        if match is None or not isinstance(partners, dict) or "null" not in partners:
            raise InvalidInput(
                f"{path}: entry {key!r} under {gpu_type!r} is not \"('<job type>', <GPUs>)\""
                " with a 'null' (running alone) throughput"
            )
        table[(match["job_type"], int(match["scale_factor"]))] = float(partners["null"])
    return table


def _read_table(path: Path, gpu_type: str) -> _Table:
    return _parse_table(_read_json(path), gpu_type, path)


def _extrapolate(table: _Table, key: tuple[str, int], gpu_type: str, job_id: str) -> float:
    """Ideal linear scaling from the largest measured scale factor not above the job's."""
    job_type, gpus = key
    measured = [m for (t, m), v in table.items() if t == job_type and m <= gpus and v > 0]
    if not measured:
        raise InvalidInput(
            f"job {job_id}: the throughput table has no measurement of {job_type!r} on"
            f" {gpu_type} at {gpus} GPU(s) or fewer, so its duration cannot be derived"
        )
    base = max(measured)
    return table[(job_type, base)] * gpus / base


def _read_trace_file(file: Path) -> list[dict[str, Any]]:
    """One ``.trace`` file as rows (with ``total_steps``, replaced by a duration later)."""
    vc = file.stem
    rows: list[dict[str, Any]] = []
    with file.open(encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            fields = line.rstrip("\r\n").split("\t")
            if len(fields) != _FIELDS:
                raise InvalidInput(
                    f"{file}:{line_number}: expected {_FIELDS} tab-separated fields, found"
                    f" {len(fields)}"
                )
            job_type, _command, _arg, _data_dir, steps, arrival, scale_factor = fields
            try:
                total_steps = float(steps)
                arrival_s = float(arrival)
                gpus = int(scale_factor)
            except ValueError:
                raise InvalidInput(
                    f"{file}:{line_number}: total_steps, arrival_time_s and scale_factor must be"
                    f" numbers, not {steps!r}, {arrival!r}, {scale_factor!r}"
                ) from None
            if not (0 < total_steps < math.inf):
                raise InvalidInput(f"{file}:{line_number}: total_steps must be > 0, not {steps}")
            rows.append(
                {
                    "job_id": f"{vc}-{len(rows)}",
                    "user": vc,
                    "group": vc,
                    "submit_time_s": arrival_s,
                    "num_gpus": gpus,
                    "job_class": job_type,
                    "total_steps": total_steps,
                }
            )
    return rows
