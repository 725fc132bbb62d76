"""``nuri trace``: turn public GPU-cluster traces into nuri's common trace schema, and describe them.

Commands::

    nuri trace convert --format F SRC DST    F: common, gavel-philly, alibaba-openb, alibaba-dlrm
    nuri trace stats [--format F] SRC        a small table: jobs, groups, GPUs, durations, statuses

``SRC`` is what the format needs: a ``.csv``/``.parquet`` trace (common), the Gavel directory
holding ``seed=0/`` (gavel-philly), an openb pod list CSV (alibaba-openb) or the DLRM CSV
(alibaba-dlrm). ``DST`` ends in ``.csv`` or ``.parquet``. ``alibaba-dlrm`` writes a services table
(``service, start_s, end_s, devices``), not a job trace. Summaries and progress go to standard
error; ``stats`` prints its table on standard output. Errors are raised as ``CliError`` or
``InvalidInput``, which the ``nuri`` entry point prints as one line (exit status 1).
"""

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from nuri.cli.client import CliError
from nuri.cli.render import console, errors

if TYPE_CHECKING:  # pandas is loaded only when a trace command runs, to keep `nuri` quick
    import pandas as pd

TRACE_SUFFIXES = (".csv", ".parquet")

app = typer.Typer(
    help="Convert public GPU-cluster traces into nuri's common trace schema, and describe them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


class TraceFormat(StrEnum):
    """The source formats ``convert`` and ``stats`` read."""

    COMMON = "common"
    GAVEL_PHILLY = "gavel-philly"
    ALIBABA_OPENB = "alibaba-openb"
    ALIBABA_DLRM = "alibaba-dlrm"


class MissingThroughput(StrEnum):
    """What to do with Gavel jobs whose (job type, GPUs) has no measured throughput."""

    ERROR = "error"
    EXTRAPOLATE = "extrapolate"


FormatOption = Annotated[
    TraceFormat, typer.Option("--format", "-f", help="What SRC is.", case_sensitive=False)
]
ReferenceGpu = Annotated[
    str, typer.Option(help="gavel-philly: GPU type whose throughputs give durations.")
]
MissingOption = Annotated[
    MissingThroughput,
    typer.Option(
        "--missing-throughput",
        help="gavel-philly: refuse jobs without a measured throughput, or scale linearly from"
        " the largest measured GPU count.",
    ),
]


@app.command()
def convert(
    src: Annotated[Path, typer.Argument(help="Source trace: a file or directory, as F needs.")],
    dst: Annotated[Path, typer.Argument(help="Where to write: a .csv or .parquet file.")],
    fmt: FormatOption = TraceFormat.COMMON,
    reference_gpu: ReferenceGpu = "v100",
    missing_throughput: MissingOption = MissingThroughput.ERROR,
) -> None:
    """Convert SRC (in format F) to the common schema at DST, and print a one-line summary."""
    from nuri.traces.alibaba import load_alibaba_dlrm_services
    from nuri.traces.schema import span_days, write_trace

    if dst.suffix.lower() not in TRACE_SUFFIXES:
        raise CliError(f"cannot write {dst}: use a name ending in {' or '.join(TRACE_SUFFIXES)}")
    if not dst.parent.is_dir():
        raise CliError(f"cannot write {dst}: no directory {dst.parent}")
    if fmt is TraceFormat.ALIBABA_DLRM:
        services = load_alibaba_dlrm_services(src)
        _write_table(services, dst)
        days = float(services.attrs.get("trace_end_s", 0.0)) / 86_400.0
        _summary(
            f"{dst}: {len(services):,} GPU instances of {services['service'].nunique():,}"
            f" services over {days:.1f} days"
        )
        return
    trace = _load_jobs(src, fmt, reference_gpu, missing_throughput)
    try:
        write_trace(trace, dst)
    except OSError as error:
        raise CliError(f"cannot write {dst}: {error}") from None
    notes = [
        f"{trace.attrs[key]:,} {key}" for key in ("dropped", "extrapolated") if key in trace.attrs
    ]
    _summary(
        f"{dst}: {len(trace):,} jobs in {trace['group'].nunique():,} groups over"
        f" {span_days(trace):.1f} days" + (f" ({', '.join(notes)})" if notes else "")
    )


@app.command()
def stats(
    src: Annotated[Path, typer.Argument(help="A trace: a file or directory, as F needs.")],
    fmt: FormatOption = TraceFormat.COMMON,
    reference_gpu: ReferenceGpu = "v100",
    missing_throughput: MissingOption = MissingThroughput.ERROR,
) -> None:
    """Describe a job trace: jobs, groups, span, GPUs per job, durations and statuses."""
    from nuri.traces.schema import span_days

    if fmt is TraceFormat.ALIBABA_DLRM:
        raise CliError("stats describes job traces; alibaba-dlrm is a table of services")
    trace = _load_jobs(src, fmt, reference_gpu, missing_throughput)
    table = Table(title=str(src), title_justify="left", header_style="bold")
    table.add_column("measure")
    table.add_column("value", justify="right")
    jobs = len(trace)
    table.add_row("jobs", f"{jobs:,}")
    table.add_row("groups", f"{trace['group'].nunique():,}")
    table.add_row("users", f"{trace['user'].nunique():,}")
    table.add_row("span (submissions)", f"{span_days(trace):.1f} days")
    gpu_hours = float((trace["num_gpus"] * trace["duration_s"]).sum()) / 3_600.0
    table.add_row("GPU-hours", f"{gpu_hours:,.0f}")
    for gpus, count in trace["num_gpus"].value_counts().sort_index().items():
        table.add_row(f"jobs with {gpus} GPU(s)", f"{count:,} ({count / jobs:.1%})")
    if jobs:
        for q in (0.5, 0.9, 0.99):
            table.add_row(f"duration p{q * 100:g}", _human(float(trace["duration_s"].quantile(q))))
        table.add_row("duration max", _human(float(trace["duration_s"].max())))
    for status, count in trace["status"].value_counts().sort_index().items():
        table.add_row(f"status {status}", f"{count:,}")
    console.print(table)


def _load_jobs(
    src: Path, fmt: TraceFormat, reference_gpu: str, missing: MissingThroughput
) -> "pd.DataFrame":
    """A job trace in the common schema from ``src`` read as ``fmt``."""
    from nuri.traces.alibaba import load_alibaba_openb
    from nuri.traces.gavel import gavel_trace_files, load_gavel_philly
    from nuri.traces.schema import read_trace

    if fmt is TraceFormat.COMMON:
        return read_trace(src)
    if fmt is TraceFormat.ALIBABA_OPENB:
        return load_alibaba_openb(src)
    if fmt is TraceFormat.GAVEL_PHILLY:
        if not src.is_dir():
            raise CliError(f"gavel-philly reads a directory holding seed=0/*.trace, not {src}")
        files = gavel_trace_files(src)
        with Progress(
            TextColumn("reading Gavel VC traces"),
            BarColumn(),
            MofNCompleteColumn(),
            console=errors,
            transient=True,
        ) as bar:
            task = bar.add_task("read", total=len(files))

            def advance(_file: Path) -> None:
                bar.advance(task)

            return load_gavel_philly(
                src,
                reference_gpu=reference_gpu,
                missing="extrapolate" if missing is MissingThroughput.EXTRAPOLATE else "error",
                progress=advance,
            )
    raise CliError(f"{fmt.value} is not a job trace format")


def _summary(line: str) -> None:
    """One line on standard error, never wrapped or styled."""
    errors.print(line, markup=False, highlight=False, soft_wrap=True)


def _write_table(frame: "pd.DataFrame", dst: Path) -> None:
    try:
        if dst.suffix.lower() == ".csv":
            frame.to_csv(dst, index=False)
        else:
            frame.to_parquet(dst, index=False)
    except OSError as error:
        raise CliError(f"cannot write {dst}: {error}") from None


def _human(seconds: float) -> str:
    """A duration for people: seconds, minutes, hours or days, with one decimal."""
    for unit, size in (("d", 86_400.0), ("h", 3_600.0), ("min", 60.0)):
        if seconds >= 2 * size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"
