"""``nuri backup`` and ``nuri restore``: the commons' database to and from one portable file.

Like ``nuri serve`` and unlike the other commands, these open the server's database directly
(``NURI_DATABASE_URL``, else the SQLite database under ``NURI_HOME``) instead of calling the API.
A backup taken from SQLite restores into PostgreSQL and the other way round; see
``docs/operations.md`` and ``nuri.store.backup`` for the format and the guarantees.
"""

from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

from nuri.cli.client import CliError
from nuri.cli.render import errors

if TYPE_CHECKING:  # imported lazily below: every other command starts faster without them
    from sqlalchemy import Engine


class ProgressBar:
    """A progress bar on standard error (drawn only on a terminal), one pass at a time."""

    def __init__(self) -> None:
        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("rows"),
            TimeRemainingColumn(),
            console=errors,
            transient=True,
            disable=not errors.is_terminal,
        )
        self._task: TaskID | None = None
        self._activity = ""

    def __enter__(self) -> "ProgressBar":
        self._bar.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._bar.stop()

    def start(self, activity: str, total_rows: int) -> None:
        if self._task is not None:
            self._bar.remove_task(self._task)
        self._activity = activity
        self._task = self._bar.add_task(activity, total=total_rows)

    def table(self, name: str) -> None:
        if self._task is not None:
            self._bar.update(self._task, description=f"{self._activity} {name}")

    def advance(self, rows: int) -> None:
        if self._task is not None:
            self._bar.advance(self._task, rows)


def backup(
    file: Annotated[Path, typer.Argument(help="Where to write the backup, e.g. nuri.backup.gz.")],
) -> None:
    """Back up the server's database to FILE (a consistent snapshot; the server may keep running)."""
    from nuri.engine.clock import wall_clock
    from nuri.store.backup import BackupError, write_backup

    database, shown = _database()
    try:
        with ProgressBar() as progress:
            header = write_backup(database, file, clock=wall_clock, progress=progress)
    except BackupError as error:
        raise CliError(str(error)) from None
    finally:
        database.dispose()
    errors.print(
        f"nuri: backed up {header.total_rows:,} rows in {len(header.tables)} tables of {shown}"
        f" (schema revision {header.schema_revision}) to {file}",
        markup=False,
        highlight=False,
    )


def restore(
    file: Annotated[Path, typer.Argument(help="The backup to restore, made by 'nuri backup'.")],
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Replace everything in the target database (stop 'nuri serve' first).",
        ),
    ] = False,
    check: Annotated[
        bool,
        typer.Option("--check", help="Only check that FILE is an intact backup; change nothing."),
    ] = False,
) -> None:
    """Restore FILE into the server's database, which must be empty (or give --force).

    All or nothing: every row is restored and checked against the backup, or nothing changes."""
    from nuri.store.backup import BackupError, check_backup, restore_backup
    from nuri.store.migrate import head_revision

    if check:
        try:
            with ProgressBar() as progress:
                header = check_backup(file, progress=progress)
        except BackupError as error:
            raise CliError(str(error)) from None
        head = head_revision()
        fits = "" if header.schema_revision == head else f"; this nuri needs revision {head}"
        typer.echo(
            f"{file}: intact nuri backup of {header.total_rows:,} rows in"
            f" {len(header.tables)} tables, taken {header.created_at.isoformat()} from"
            f" {header.database} by nuri {header.nuri_version}, schema revision"
            f" {header.schema_revision}{fits}"
        )
        return
    database, shown = _database()
    try:
        with ProgressBar() as progress:
            header = restore_backup(database, file, replace=force, progress=progress)
    except BackupError as error:
        raise CliError(str(error)) from None
    finally:
        database.dispose()
    errors.print(
        f"nuri: restored {header.total_rows:,} rows in {len(header.tables)} tables from {file}"
        f" (taken {header.created_at.isoformat()}) into {shown}",
        markup=False,
        highlight=False,
    )


def _database() -> tuple["Engine", str]:
    """The server's database, as ``nuri serve`` finds it, and its URL without a password."""
    from pydantic import ValidationError
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from nuri.service.settings import ServerSettings
    from nuri.store.database import make_engine

    try:
        settings = ServerSettings()
    except ValidationError as error:
        problem = error.errors()[0]
        name = "NURI_" + "_".join(str(part) for part in problem["loc"]).upper()
        raise CliError(f"{name}: {problem['msg']}") from None
    url = settings.resolved_database_url()
    try:
        return make_engine(url), make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ImportError) as error:
        raise CliError(f"NURI_DATABASE_URL is not a database URL nuri can use: {error}") from None
