"""How the server's log lines look: one JSON object per line for collectors, or text for people.

A JSON line always has ``time`` (ISO 8601, UTC, milliseconds), ``level``, ``logger`` and
``message``; ``request_id`` while a request is being served; ``exception`` with the traceback
when one is logged; and any fields the caller passed in ``extra`` (the request log adds
``method``, ``route``, ``status`` and ``duration_ms``)::

    {"time": "2026-03-02T09:00:00.120+00:00", "level": "INFO", "logger": "nuri.api.request_log",
     "message": "GET /api/v1/jobs/{job_id} 200 3.1 ms", "request_id": "5f0c...", "method": "GET",
     "route": "/api/v1/jobs/{job_id}", "status": 200, "duration_ms": 3.1}

Whatever the format, anything shaped like a nuri token or a bearer credential is replaced by
``[redacted]`` before it is written, so a token pasted into an error message never reaches a log.
"""

import json
import logging
import re
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

from nuri.domain.errors import InvalidInput

LOG_FORMATS = ("json", "text")

REQUEST_ID: ContextVar[str | None] = ContextVar("nuri_request_id", default=None)
"""The id of the request being served by this task, set by the request log middleware."""

_SECRET = re.compile(r"(?i)\b(bearer\s+)[^\s\"',;]+|\bnuri_[A-Za-z0-9_-]{40,}")
_REDACTED = "[redacted]"

# Attributes every LogRecord has; anything else on a record came from ``extra=``, except
# uvicorn's ``color_message``, the message again with terminal colour codes.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "color_message",
}


def redact(text: str) -> str:
    """``text`` with tokens and bearer credentials replaced by ``[redacted]``."""
    return _SECRET.sub(lambda match: (match.group(1) or "") + _REDACTED, text)


class JsonLogFormatter(logging.Formatter):
    """Formats a record as one line of JSON (see the module docstring for the fields)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        request_id = REQUEST_ID.get()
        if request_id is not None:
            entry["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and not key.startswith("_") and key not in entry:
                entry[key] = redact(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = redact(self.formatStack(record.stack_info))
        # default=str: a value passed in ``extra`` that JSON cannot hold is still logged.
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextLogFormatter(logging.Formatter):
    """``time level logger: message``, one record per line (a traceback follows on its own)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure_logging(log_format: str | None, *, stream: TextIO, level: int = logging.INFO) -> str:
    """Send every log record (nuri's, uvicorn's, the libraries') to ``stream`` in one format.

    ``log_format`` is ``json``, ``text``, or None for text on a terminal and JSON otherwise.
    Returns the format chosen; raises ``InvalidInput`` for an unknown one.
    """
    chosen = log_format or ("text" if stream.isatty() else "json")
    if chosen not in LOG_FORMATS:
        raise InvalidInput(f"unknown log format {log_format!r} (NURI_LOG_FORMAT); use json or text")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLogFormatter() if chosen == "json" else TextLogFormatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    # uvicorn's loggers would otherwise keep handlers of their own and write plain text.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    return chosen
