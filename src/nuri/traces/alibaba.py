"""Alibaba's public GPU-cluster traces (``alibaba/clusterdata``), CC BY 4.0.

Two traces, two shapes::

    cluster-trace-gpu-v2023 (openb)   pods of a production GPU cluster     -> a job trace
                                      (Weng et al., USENIX ATC'23)            (nuri.traces.schema)
    cluster-trace-gpu-v2025 (DLRM)    long-running inference instances     -> a services table
                                      (Yang et al., NSDI'25)                  and a demand series

The DLRM instances are services, not batch jobs: they model capacity reserved for inference
(e.g. NPU pools serving public AI services), not job completion times.
"""

import logging
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from nuri.domain.errors import InvalidInput
from nuri.traces.schema import validate_trace

logger = logging.getLogger(__name__)

POD_PHASE_STATUS: Final[dict[str, str]] = {
    "Succeeded": "COMPLETED",
    "Failed": "FAILED",
    "Running": "RUNNING",
}
"""openb ``pod_phase`` -> common ``status``; ``Pending`` pods never ran and are dropped."""

SERVICE_COLUMNS: Final[tuple[str, ...]] = ("service", "start_s", "end_s", "devices")
"""Columns of :func:`load_alibaba_dlrm_services`'s result."""

_OPENB_COLUMNS: Final = (
    "name",
    "num_gpu",
    "gpu_milli",
    "gpu_spec",
    "qos",
    "pod_phase",
    "creation_time",
    "deletion_time",
    "scheduled_time",
)
_DLRM_COLUMNS: Final = (
    "instance_sn",
    "app_name",
    "gpu_request",
    "creation_time",
    "scheduled_time",
    "deletion_time",
)


def load_alibaba_openb(csv_path: str | Path) -> pd.DataFrame:
    """Load an openb pod list (e.g. ``openb_pod_list_default.csv``) into the common schema.

    Only GPU pods are kept (``num_gpu > 0`` or ``gpu_milli > 0``); CPU-only pods are not jobs
    for a GPU scheduler and are not counted as dropped. For each GPU pod:

    - ``job_id`` = ``name``; ``group`` = ``user`` = ``qos`` (LS, BE, Burstable, Guaranteed: the
      trace has no user or team column, so QoS class is the only grouping);
    - ``submit_time_s`` = ``creation_time``;
    - ``duration_s`` = ``deletion_time - scheduled_time`` (time holding its devices);
    - ``num_gpus`` = ``num_gpu``, where a **shared-GPU pod** (``gpu_milli < 1000``, a fraction of
      one GPU) counts as **one whole device**: nuri allocates whole devices, so the fraction is
      rounded up, which overstates that pod's demand;
    - ``gpu_type`` = ``gpu_spec`` (``'V100M16|V100M32'`` = either), NaN -> ``''`` (any);
    - ``status`` from ``pod_phase``: Succeeded -> COMPLETED, Failed -> FAILED, Running -> RUNNING.

    Dropped (GPU pods only): ``Pending`` pods, pods never scheduled (``scheduled_time`` empty) and
    pods with ``duration_s <= 0``. How many is in ``attrs['dropped']``.

    Note that in the published trace most ``Running`` pods have a deletion time before the trace
    end (the phase is as last observed); they are still marked RUNNING, as the trace says.

    Raises:
        InvalidInput: a missing file or column, or a ``pod_phase`` outside Succeeded, Failed,
            Running and Pending (naming the pod).
    """
    path = Path(csv_path)
    pods = _read_csv(
        path, _OPENB_COLUMNS, dtype={"name": str, "qos": str, "pod_phase": str, "gpu_spec": str}
    )
    gpu = pods[(pods["num_gpu"] > 0) | (pods["gpu_milli"] > 0)]
    known = gpu["pod_phase"].isin([*POD_PHASE_STATUS, "Pending"])
    if not known.all():
        odd = gpu[~known].iloc[0]
        raise InvalidInput(
            f"{path}: pod {odd['name']} has pod_phase {odd['pod_phase']!r}; expected one of"
            f" {', '.join([*POD_PHASE_STATUS, 'Pending'])}"
        )
    pending = gpu["pod_phase"] == "Pending"
    unscheduled = ~pending & gpu["scheduled_time"].isna()
    duration = gpu["deletion_time"] - gpu["scheduled_time"]
    too_short = ~pending & ~unscheduled & ~(duration > 0)
    keep = ~(pending | unscheduled | too_short)
    kept = gpu[keep]
    frame = pd.DataFrame(
        {
            "job_id": kept["name"].astype(str),
            "user": kept["qos"].astype(str),
            "group": kept["qos"].astype(str),
            "submit_time_s": kept["creation_time"].astype("float64"),
            "duration_s": duration[keep].astype("float64"),
            "num_gpus": kept["num_gpu"].clip(lower=1).astype("int64"),
            "gpu_type": kept["gpu_spec"].astype(str).fillna(""),
            "status": kept["pod_phase"].map(POD_PHASE_STATUS),
        }
    )
    trace = validate_trace(frame)
    dropped = int((~keep).sum())
    trace.attrs["dropped"] = dropped
    logger.info(
        "loaded %d GPU pods of %d pods from %s; dropped %d (%d pending, %d never scheduled,"
        " %d with duration <= 0)",
        len(trace),
        len(pods),
        path,
        dropped,
        int(pending.sum()),
        int(unscheduled.sum()),
        int(too_short.sum()),
    )
    return trace


def load_alibaba_dlrm_services(csv_path: str | Path) -> pd.DataFrame:
    """Load the DLRM inference trace (``disaggregated_DLRM_trace.csv``) as GPU service instances.

    Keeps the instances with ``gpu_request > 0`` and returns one row per instance with columns
    :data:`SERVICE_COLUMNS`, sorted by ``start_s``, ``service``, then instance:

    - ``service`` = ``app_name``;
    - ``start_s`` = ``scheduled_time``, when the instance was bound to its devices (it equals
      ``creation_time`` for most instances and is empty exactly when ``creation_time`` is). Empty
      means the instance existed before the trace started: ``0``;
    - ``end_s`` = ``deletion_time``; empty means it outlived the trace: the trace end, the largest
      time anywhere in the file (all instances, CPU ones too);
    - ``devices`` = ``gpu_request`` (GPUs held while alive).

    ``attrs['trace_end_s']`` holds the trace end, which :func:`service_demand` uses as horizon.

    Raises:
        InvalidInput: a missing file or column, or an instance that ends before it starts.
    """
    path = Path(csv_path)
    raw = _read_csv(path, _DLRM_COLUMNS, dtype={"instance_sn": str, "app_name": str})
    times = raw[["creation_time", "scheduled_time", "deletion_time"]]
    trace_end = float(np.nanmax(times.to_numpy(dtype="float64"))) if len(raw) else 0.0
    gpu = raw[raw["gpu_request"] > 0]
    start = gpu["scheduled_time"].fillna(gpu["creation_time"]).fillna(0.0).astype("float64")
    end = gpu["deletion_time"].fillna(trace_end).astype("float64")
    backwards = end < start
    if backwards.any():
        row = gpu[backwards].iloc[0]
        raise InvalidInput(f"{path}: instance {row['instance_sn']} is deleted before it starts")
    services = pd.DataFrame(
        {
            "service": gpu["app_name"].astype(str),
            "start_s": start,
            "end_s": end,
            "devices": gpu["gpu_request"].astype("int64"),
            "_instance": gpu["instance_sn"].astype(str),
        }
    )
    services = services.sort_values(["start_s", "service", "_instance"], kind="mergesort")
    services = services.drop(columns="_instance").reset_index(drop=True)
    services.attrs["trace_end_s"] = trace_end
    logger.info(
        "loaded %d GPU instances of %d services from %s (trace end %.0f s)",
        len(services),
        services["service"].nunique(),
        path,
        trace_end,
    )
    return services


def service_demand(services: pd.DataFrame, step_s: float = 3600.0) -> pd.DataFrame:
    """Devices in use per service, sampled every ``step_s`` seconds from the trace start.

    ``services`` is a table like :func:`load_alibaba_dlrm_services` returns. An instance counts at
    time ``t`` when ``start_s <= t < end_s``. Samples are taken at ``t = 0, step_s, 2 step_s, ...``
    while ``t`` is below the trace end (``attrs['trace_end_s']``, else the largest ``end_s``).

    Returns:
        A frame indexed by ``time_s`` (float seconds) with one ``int64`` column per service
        (sorted by name): the devices that service holds at that instant. Row sums are the total
        reserved inference capacity over time.

    Raises:
        InvalidInput: if ``step_s`` is not positive or a column of :data:`SERVICE_COLUMNS` is
            missing.
    """
    if not step_s > 0:
        raise InvalidInput(f"step_s must be > 0 seconds, not {step_s}")
    absent = [c for c in SERVICE_COLUMNS if c not in services.columns]
    if absent:
        raise InvalidInput(f"services table is missing column(s) {', '.join(absent)}")
    horizon = float(
        services.attrs.get("trace_end_s", services["end_s"].max() if len(services) else 0.0)
    )
    times = np.arange(0.0, horizon, step_s, dtype="float64")
    columns: dict[str, np.ndarray] = {}
    for service, instances in services.groupby("service", sort=True):
        devices = instances["devices"].to_numpy(dtype="int64")
        columns[str(service)] = _alive(
            instances["start_s"].to_numpy(dtype="float64"),
            instances["end_s"].to_numpy(dtype="float64"),
            devices,
            times,
        )
    demand = pd.DataFrame(columns, index=pd.Index(times, name="time_s"), dtype="int64")
    demand.columns.name = "service"
    return demand


def _alive(
    starts: np.ndarray, ends: np.ndarray, devices: np.ndarray, times: np.ndarray
) -> np.ndarray:
    """Sum of ``devices`` over intervals ``[start, end)`` containing each of ``times``."""
    by_start, by_end = np.argsort(starts, kind="stable"), np.argsort(ends, kind="stable")
    started = np.concatenate(([0], np.cumsum(devices[by_start])))
    ended = np.concatenate(([0], np.cumsum(devices[by_end])))
    opened = np.searchsorted(starts[by_start], times, side="right")
    closed = np.searchsorted(ends[by_end], times, side="right")
    alive: np.ndarray = started[opened] - ended[closed]
    return alive


def _read_csv(path: Path, columns: tuple[str, ...], dtype: dict[str, type]) -> pd.DataFrame:
    """``path`` as a frame, checking that ``columns`` are there."""
    try:
        frame = pd.read_csv(path, dtype=dtype)
    except FileNotFoundError:
        raise InvalidInput(f"no such file: {path}") from None
    except (OSError, ValueError, pd.errors.ParserError) as error:
        raise InvalidInput(f"cannot read {path}: {error}") from None
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        raise InvalidInput(f"{path} is missing column(s) {', '.join(absent)}")
    return frame
