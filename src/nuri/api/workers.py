"""Serving the API from several processes on one port: ``nuri serve --workers N``.

A Python process runs its Python code on one core at a time (the GIL), and under a submission
load the API process is the first thing to fill its core. Worker processes share the listening
socket (uvicorn's supervisor starts and watches them), each with its own connection pool. The
process that starts them keeps what must happen once: the scheduling engine (which the lease
would make exclusive anyway) and the analyses process. Each worker counts its requests into
files that every worker reads when scraped (``nuri.api.metrics``), so ``/metrics`` says the same
whichever worker answers.

Replicas on several machines remain the way to grow further; workers use the cores of one.
"""

import logging
import os
import shutil
import sys

from fastapi import FastAPI

from nuri.api.app import create_app
from nuri.api.log_format import configure_logging
from nuri.api.metrics import SHARED_METRICS_DIRECTORY_ENV
from nuri.engine.heap import freeze_start_up_objects
from nuri.service.commons import open_commons
from nuri.service.settings import ServerSettings

WORKER_APP = f"{__name__}:worker_app"
"""What uvicorn imports and calls in each worker process."""


def share_settings_with_workers(settings: ServerSettings) -> None:
    """Make the environment the workers will start with: the settings given on the command line
    (workers read theirs from the environment, as the server does), and an empty directory for
    their request counts (those of an earlier run are not this one's)."""
    os.environ["NURI_BACKEND"] = settings.backend
    os.environ["NURI_SLURM_MODE"] = settings.slurm_mode
    directory = settings.home / "http-metrics"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ[SHARED_METRICS_DIRECTORY_ENV] = str(directory)


def worker_app() -> FastAPI:
    """The app of one worker process: it serves requests; the engine runs in the parent."""
    settings = ServerSettings()
    configure_logging(settings.log_format, stream=sys.stderr)
    # uvicorn turned its access log off before this ran; nuri's request log stands for it, and
    # the access log would show raw paths and queries.
    logging.getLogger("uvicorn.access").propagate = False
    commons = open_commons(settings)  # the parent migrated the schema: this only checks it
    served = create_app(commons, run_engine=False)
    freeze_start_up_objects()
    return served
