"""The job submission form: what a person typed, checked field by field.

The browser's own checks (``required``, ``min``, ``max``) are a convenience; these are the
checks that count. Each failing field gets a catalogue key that the page shows next to that
field, so a person can fix everything in one go. What only the service can judge (whether the
award has the hours, whether the pool is allowed) comes back from ``Jobs.submit`` as one
message for the whole form.

The command is split like a shell would split it (``shlex``) but never run by a shell: the job
gets exactly the words shown, as with ``nuri submit -- ...``.
"""

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field

from nuri.domain.errors import InvalidInput
from nuri.domain.jobs import format_duration, parse_duration
from nuri.service.views import JobView

MAX_GPUS = 64
MAX_NAME = 200
POOL_PREFIX = "pool:"
ACCELERATOR_PREFIX = "accelerator:"
_BARE = re.compile(r"[\w@%+=:,./-]+", re.ASCII)
"""Words that need no quotes (the characters ``shlex.quote`` leaves bare)."""


@dataclass
class JobForm:
    """The form's fields as text, as typed (or as pre-filled from an earlier job)."""

    project: str = ""
    target: str = ""
    """``pool:<name>`` or ``accelerator:<class>``: where the job may run."""
    gpus: str = "1"
    time_limit: str = "1h"
    command: str = ""
    name: str = ""
    preemptible: bool = False
    idempotency_key: str = ""
    """A fresh random key per rendered form, so a double click queues one job."""


@dataclass(frozen=True)
class JobRequest:
    """A form that passed every field check: what ``Jobs.submit`` is called with."""

    project: str
    pool: str | None
    accelerator: str | None
    gpus: int
    time_limit_s: int
    command: list[str]
    name: str | None
    preemptible: bool


@dataclass
class Checked:
    request: JobRequest | None
    errors: dict[str, str] = field(default_factory=dict)
    """Field name -> catalogue key of what is wrong with it."""


def form_from_job(job: JobView) -> JobForm:
    """A form pre-filled from an earlier job, to submit it again (perhaps changed)."""
    target = (
        f"{ACCELERATOR_PREFIX}{job.accelerator}" if job.accelerator else f"{POOL_PREFIX}{job.pool}"
    )
    return JobForm(
        project=job.project,
        target=target,
        gpus=str(job.gpus),
        time_limit=format_duration(job.time_limit_s),
        command=command_line(job.command),
        name=job.name,
        preemptible=job.preemptible,
    )


def command_line(words: Sequence[str]) -> str:
    """``words`` as one line that ``shlex.split`` turns back into exactly those words, quoted
    the way a person would type it: bare words bare, a word with spaces or single quotes in
    double quotes, and anything harder in shell single quotes."""
    return " ".join(_quoted(word) for word in words)


def _quoted(word: str) -> str:
    if _BARE.fullmatch(word):
        return word
    if '"' not in word and "\\" not in word:
        return f'"{word}"'
    return shlex.quote(word)


def check_job_form(
    form: JobForm, *, projects: set[str], pools: set[str], accelerators: set[str]
) -> Checked:
    """Check every field of ``form`` against the caller's projects and the commons' pools."""
    errors: dict[str, str] = {}
    if form.project not in projects:
        errors["project"] = "submit.error.project"
    pool = accelerator = None
    if form.target.startswith(POOL_PREFIX) and form.target[len(POOL_PREFIX) :] in pools:
        pool = form.target[len(POOL_PREFIX) :]
    elif (
        form.target.startswith(ACCELERATOR_PREFIX)
        and form.target[len(ACCELERATOR_PREFIX) :] in accelerators
    ):
        accelerator = form.target[len(ACCELERATOR_PREFIX) :]
    else:
        errors["target"] = "submit.error.target"
    gpus = _whole_number(form.gpus)
    if gpus is None or not 1 <= gpus <= MAX_GPUS:
        errors["gpus"] = "submit.error.gpus"
    try:
        time_limit_s = parse_duration(form.time_limit)
    except InvalidInput:
        time_limit_s = 0
        errors["time_limit"] = "submit.error.time_limit"
    try:
        command = shlex.split(form.command)
    except ValueError:
        command = []
        errors["command"] = "submit.error.command_quotes"
    else:
        if not command:
            errors["command"] = "submit.error.command_empty"
    if len(form.name) > MAX_NAME:
        errors["name"] = "submit.error.name"
    if errors or gpus is None:
        return Checked(None, errors)
    return Checked(
        JobRequest(
            project=form.project,
            pool=pool,
            accelerator=accelerator,
            gpus=gpus,
            time_limit_s=time_limit_s,
            command=command,
            name=form.name.strip() or None,
            preemptible=form.preemptible,
        )
    )


def _whole_number(text: str) -> int | None:
    stripped = text.strip()
    if not stripped.isascii() or not stripped.isdigit() or len(stripped) > 6:
        return None
    return int(stripped)
