"""The service's configuration: one typed object, read from ``NURI_*`` variables at the edge."""

from pathlib import Path

import platformdirs
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from nuri.store.database import sqlite_url


def default_home() -> Path:
    return Path(platformdirs.user_data_dir("nuri"))


class ServerSettings(BaseSettings):
    """How ``nuri serve`` runs. Every field can be set as ``NURI_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="NURI_", extra="ignore")

    home: Path = Field(default_factory=default_home)
    """Where the SQLite database, job logs and demo tokens live."""
    database_url: str | None = None
    """Any SQLAlchemy URL; by default ``sqlite:///$NURI_HOME/nuri.sqlite3``."""
    backend: str = "local"
    """What runs jobs: ``local`` (subprocesses on this machine) or ``slurm``."""
    slurm_mode: str = "nuri"
    """With the Slurm backend: ``nuri`` (nuri's policy decides, Slurm runs) or ``native``
    (Slurm's own scheduler decides, within the awards nuri writes to it)."""
    slurm_conf: Path | None = None
    """The cluster's ``slurm.conf``; by default the one ``nuri slurm-dev up`` wrote under
    ``$NURI_HOME/slurm-dev`` if there is one, else Slurm's own default."""
    policy: str = "fifo"
    """The scheduling policy, by registered name."""
    scheduler_interval_s: float = Field(default=1.0, gt=0, le=60)
    """Seconds between scheduling cycles."""
    lease_s: float = Field(default=15.0, gt=0)
    """How long the scheduling lease lasts without renewal before another instance may take it."""
    analyses: bool = True
    """Work out the dashboards' forecasts and capacity plans ahead of time, in a process beside
    the server (``nuri.service.analyses_worker``); off, pages work them out when first asked."""
    analyses_interval_s: float = Field(default=300.0, gt=0)
    """Seconds between the worker's rounds; each round does only what the hour still lacks."""
    sign_in_failure_limit: int = Field(default=10, ge=1, le=10_000)
    """Failed sign-ins one client address may make within ``sign_in_window_s`` before its
    further attempts get HTTP 429."""
    sign_in_window_s: int = Field(default=300, ge=1, le=86_400)
    """The sliding window, in seconds, over which failed sign-ins are counted."""
    max_request_body_bytes: int = Field(default=1024 * 1024, ge=1024, le=1024**3)
    """The largest request body the API and portal accept, in bytes; larger ones get 413."""
    log_format: str | None = None
    """Server logs: ``json`` (one object per line), ``text``, or unset for text on a terminal and
    JSON otherwise. See ``docs/operations.md``."""

    def resolved_database_url(self) -> str:
        return self.database_url or sqlite_url(self.home / "nuri.sqlite3")

    def resolved_slurm_conf(self) -> Path | None:
        if self.slurm_conf is not None:
            return self.slurm_conf
        dev = self.slurm_dev_dir / "slurm.conf"
        return dev if dev.exists() else None

    @property
    def slurm_dev_dir(self) -> Path:
        return self.home / "slurm-dev"

    @property
    def jobs_dir(self) -> Path:
        return self.home / "jobs"

    @property
    def demo_tokens_path(self) -> Path:
        return self.home / "demo-tokens.json"
