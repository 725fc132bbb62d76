"""Measured relative speeds of job classes on accelerators: the input of heterogeneity-aware policies.

A :class:`ThroughputTable` says how fast one device of an accelerator runs a *job class* (a
model and batch size, say ``'ResNet-50 (batch size 64)'``), as a relative speed::

    job_class                      accelerator   speed
    ResNet-50 (batch size 64)      V100          0.30
    ResNet-50 (batch size 64)      P100          0.179
    Recommendation (batch size 512) K80          0.423

What the speeds are relative to
-------------------------------
A speed ``s(c, a)`` is the work of class ``c`` that one device of ``a`` does per second, divided
by the work of ``c`` that one **H100** does per second: the same unit as a pool's exchange rate
(H100-equivalents, ``PoolState.rate_milli / 1000``). That is what lets the ``hetero`` policy use
the exchange rate as the speed of a class the table does not cover, and compare pools by
``speed / rate``, the work a job gets per H100e its project is charged.

Only ratios *within one class* matter for placement (a policy compares pools for one job), so a
table measured without any H100 is still right for every class it fully covers: build it with
:meth:`ThroughputTable.from_gavel`, which scales each class so that its speed on a reference
accelerator equals ``reference_speed`` -- pass that accelerator's exchange rate (for example
0.3 for a V100 worth 0.3 H100e) and the speeds are in H100e; leave it at 1.0 and they are
relative to the reference accelerator, which is right wherever no exchange-rate fallback mixes
with them.

Sources: the Gavel table (Narayanan et al., "Heterogeneity-Aware Cluster Scheduling Policies for
Deep Learning Workloads", OSDI'20; ``simulation_throughputs.json``, read by
:func:`nuri.traces.gavel.load_gavel_throughputs`) and any CSV ``job_class,accelerator,speed``
(:meth:`ThroughputTable.load_csv`, :meth:`ThroughputTable.save_csv`).

Tables are immutable: build one, hand :meth:`ThroughputTable.as_mapping` to
:class:`nuri.policy.registry.PolicyContext` as ``throughputs``.
"""

import csv
import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from nuri.domain.commons import accelerator_named
from nuri.domain.errors import InvalidInput

logger = logging.getLogger(__name__)

CSV_HEADER: tuple[str, str, str] = ("job_class", "accelerator", "speed")
"""The header line of a throughput CSV file."""

GAVEL_ACCELERATORS: Mapping[str, str] = MappingProxyType(
    {"k80": "K80", "p100": "P100", "v100": "V100"}
)
"""Gavel's GPU type names and the nuri accelerator models they are."""


@dataclass(frozen=True, slots=True)
class ThroughputEntry:
    """One measurement: ``speed`` (relative, see the module docstring) of ``job_class`` on one
    device of ``accelerator`` (a nuri accelerator model, upper case)."""

    job_class: str
    accelerator: str
    speed: float


@dataclass(frozen=True)
class ThroughputTable:
    """Relative speed per job class and accelerator; immutable and hashable.

    ``entries`` are unique per ``(job_class, accelerator)`` and sorted by them. Build a table with
    :meth:`from_mapping`, :meth:`from_gavel` or :meth:`load_csv`, which check it: job classes
    non-empty single lines, accelerators known to nuri (stored in canonical upper case), speeds
    finite and positive. An empty table is valid (every lookup misses).
    """

    entries: tuple[ThroughputEntry, ...] = ()
    _index: Mapping[str, Mapping[str, float]] = field(
        init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        index: dict[str, dict[str, float]] = {}
        checked: list[ThroughputEntry] = []
        for entry in self.entries:
            job_class = _check_class(entry.job_class)
            accelerator = accelerator_named(entry.accelerator.strip()).model
            speed = _check_speed(entry.speed, job_class, accelerator)
            speeds = index.setdefault(job_class, {})
            if accelerator in speeds:
                raise InvalidInput(
                    f"the throughput table lists {job_class!r} on {accelerator} more than once"
                )
            speeds[accelerator] = speed
            checked.append(ThroughputEntry(job_class, accelerator, speed))
        checked.sort(key=lambda e: (e.job_class, e.accelerator))
        object.__setattr__(self, "entries", tuple(checked))
        object.__setattr__(
            self,
            "_index",
            MappingProxyType(
                {
                    job_class: MappingProxyType(dict(sorted(speeds.items())))
                    for job_class, speeds in sorted(index.items())
                }
            ),
        )

    # -- lookups ---------------------------------------------------------------------------------

    def speed(self, job_class: str, accelerator: str) -> float | None:
        """The relative speed of ``job_class`` on one ``accelerator`` device, or None if not
        measured. ``accelerator`` is matched case-insensitively; ``job_class`` exactly."""
        speeds = self._index.get(job_class)
        if speeds is None:
            return None
        return speeds.get(accelerator.strip().upper())

    def ratio(self, job_class: str, accelerator: str, reference: str) -> float | None:
        """How many times faster ``job_class`` runs on ``accelerator`` than on ``reference``
        (both measured), or None if either is missing. Independent of the table's unit."""
        on = self.speed(job_class, accelerator)
        base = self.speed(job_class, reference)
        if on is None or base is None:
            return None
        return on / base

    @property
    def job_classes(self) -> tuple[str, ...]:
        """Every job class with at least one entry, sorted."""
        return tuple(self._index)

    @property
    def accelerators(self) -> tuple[str, ...]:
        """Every accelerator with at least one entry, sorted."""
        return tuple(sorted({entry.accelerator for entry in self.entries}))

    def __len__(self) -> int:
        return len(self.entries)

    def as_mapping(self) -> Mapping[str, Mapping[str, float]]:
        """``job_class -> accelerator -> speed``, read-only: what
        :class:`~nuri.policy.registry.PolicyContext` takes as ``throughputs``."""
        return self._index

    # -- building ----------------------------------------------------------------------------------

    @classmethod
    def from_mapping(cls, speeds: Mapping[str, Mapping[str, float]]) -> "ThroughputTable":
        """A table from ``job_class -> accelerator -> speed`` (speeds already relative)."""
        return cls(
            tuple(
                ThroughputEntry(job_class, accelerator, speed)
                for job_class, by_accelerator in speeds.items()
                for accelerator, speed in by_accelerator.items()
            )
        )

    @classmethod
    def from_gavel(
        cls,
        raw: Mapping[str, Mapping[str, float]],
        mapping: Mapping[str, str] = GAVEL_ACCELERATORS,
        *,
        reference: str = "V100",
        reference_speed: float = 1.0,
    ) -> "ThroughputTable":
        """A table from Gavel's measured throughputs.

        ``raw`` is :func:`nuri.traces.gavel.load_gavel_throughputs` output, ``job_class -> gavel
        GPU type -> steps per second`` (absolute, so not comparable across classes); ``mapping``
        names the nuri accelerator of each Gavel GPU type to keep (``{'v100': 'V100', ...}``).
        GPU types not in ``mapping`` are ignored. Each class's speeds are divided by its
        throughput on ``reference`` (a nuri accelerator among ``mapping``'s values) and
        multiplied by ``reference_speed`` (see the module docstring for which value to pass).
        A class never measured on ``reference`` cannot be scaled and is left out (logged).

        Raises:
            InvalidInput: ``reference`` is not one of ``mapping``'s accelerators,
                ``reference_speed`` is not positive, or an accelerator or speed is invalid.
        """
        targets = {gpu: accelerator_named(name).model for gpu, name in mapping.items()}
        reference_model = accelerator_named(reference).model
        if reference_model not in targets.values():
            raise InvalidInput(
                f"reference accelerator {reference_model} is none of the mapped accelerators "
                f"({', '.join(sorted(set(targets.values())))})"
            )
        scale = _check_speed(reference_speed, "reference", reference_model)
        entries: list[ThroughputEntry] = []
        skipped: list[str] = []
        for job_class, by_gpu in raw.items():
            measured = {
                targets[gpu]: float(value)
                for gpu, value in by_gpu.items()
                if gpu in targets and value > 0
            }
            base = measured.get(reference_model)
            if base is None:
                skipped.append(job_class)
                continue
            entries.extend(
                ThroughputEntry(job_class, accelerator, value / base * scale)
                for accelerator, value in measured.items()
            )
        if skipped:
            logger.info(
                "left out %d job classes not measured on %s: %s",
                len(skipped),
                reference_model,
                ", ".join(sorted(skipped)),
            )
        return cls(tuple(entries))

    @classmethod
    def load_csv(cls, path: Path) -> "ThroughputTable":
        """Read a ``job_class,accelerator,speed`` CSV file (header first, as :meth:`save_csv`
        writes it; blank lines ignored).

        Raises:
            InvalidInput: a missing file, another header, a row without three fields, or a
                value the table refuses (the line number is given).
        """
        try:
            with Path(path).open(newline="", encoding="utf-8") as handle:
                rows = list(csv.reader(handle))
        except FileNotFoundError:
            raise InvalidInput(f"no throughput table at {path}") from None
        if not rows or tuple(cell.strip() for cell in rows[0]) != CSV_HEADER:
            raise InvalidInput(f"{path} must start with the header {','.join(CSV_HEADER)}")
        entries: list[ThroughputEntry] = []
        for number, row in enumerate(rows[1:], start=2):
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(CSV_HEADER):
                raise InvalidInput(f"{path}:{number}: expected 3 fields, found {len(row)}")
            job_class, accelerator, speed_text = row
            try:
                speed = float(speed_text)
            except ValueError:
                raise InvalidInput(
                    f"{path}:{number}: speed must be a number, not {speed_text!r}"
                ) from None
            entries.append(ThroughputEntry(job_class, accelerator, speed))
        try:
            return cls(tuple(entries))
        except InvalidInput as error:
            raise InvalidInput(f"{path}: {error.message}") from None

    def save_csv(self, path: Path) -> None:
        """Write the table as ``job_class,accelerator,speed`` CSV, one row per entry in
        ``entries`` order; speeds in full precision, so :meth:`load_csv` gives an equal table.
        Overwrites ``path``; its directory must exist."""
        with Path(path).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(CSV_HEADER)
            writer.writerows(_rows(self.entries))


def _rows(entries: Iterable[ThroughputEntry]) -> Iterable[tuple[str, str, str]]:
    return ((e.job_class, e.accelerator, repr(e.speed)) for e in entries)


def _check_class(job_class: str) -> str:
    if not isinstance(job_class, str) or not job_class.strip():
        raise InvalidInput("a throughput table's job class must be a non-empty string")
    if "\n" in job_class or "\r" in job_class:
        raise InvalidInput(f"a job class must be one line of text, not {job_class!r}")
    return job_class


def _check_speed(speed: float, job_class: str, accelerator: str) -> float:
    value = float(speed)
    if not (math.isfinite(value) and value > 0):
        raise InvalidInput(
            f"speed of {job_class!r} on {accelerator} must be finite and positive, got {speed}"
        )
    return value
