"""Server log lines: JSON with fixed fields (or text), the request id when there is one, and no
token or bearer credential ever written."""

import io
import json
import logging
import sys
from datetime import datetime

import pytest

from nuri.api.log_format import (
    REQUEST_ID,
    JsonLogFormatter,
    TextLogFormatter,
    configure_logging,
    redact,
)
from nuri.domain.errors import InvalidInput

TOKEN = "nuri_" + "Ab3-_" * 9  # the shape of a real token: nuri_ and 43 URL-safe characters


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("nuri.test", logging.WARNING, __file__, 1, message, args, None)
    made.__dict__.update(extra)
    return made


def test_a_json_line_has_time_level_logger_message_and_extra_fields() -> None:
    """%-style arguments are applied; fields given in ``extra`` become top-level keys."""
    line = JsonLogFormatter().format(
        record("job %d ended %s", 7, "FAILED", route="/x", status=500, color_message="\x1b[1m")
    )
    entry = json.loads(line)
    assert "color_message" not in entry  # uvicorn's terminal-coloured copy of the message
    assert entry["level"] == "WARNING" and entry["logger"] == "nuri.test"
    assert entry["message"] == "job 7 ended FAILED"
    assert entry["route"] == "/x" and entry["status"] == 500
    assert datetime.fromisoformat(entry["time"]).utcoffset() is not None
    assert "request_id" not in entry and "\n" not in line


def test_a_json_line_carries_the_request_id_of_the_request_being_served() -> None:
    """Any record logged while a request is served says which request."""
    token = REQUEST_ID.set("req-42")
    try:
        entry = json.loads(JsonLogFormatter().format(record("inside")))
    finally:
        REQUEST_ID.reset(token)
    assert entry["request_id"] == "req-42"


def test_an_exception_is_one_json_field_and_odd_extras_are_stringified() -> None:
    """A traceback stays inside the one line; a value JSON cannot hold is written as text."""
    try:
        raise ValueError(f"bad token {TOKEN}")
    except ValueError:
        failed = record("failed", moment=datetime(2026, 3, 2))
        failed.exc_info = sys.exc_info()
    line = JsonLogFormatter().format(failed)
    entry = json.loads(line)
    assert "ValueError" in entry["exception"] and entry["moment"] == "2026-03-02 00:00:00"
    assert TOKEN not in line and "[redacted]" in entry["exception"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"Authorization: Bearer {TOKEN}", "Authorization: Bearer [redacted]"),
        ("header 'bearer abc.def'", "header 'bearer [redacted]'"),
        (f"token {TOKEN} refused", "token [redacted] refused"),
        ("database nuri_test_0123456789ab", "database nuri_test_0123456789ab"),
        ("nothing secret here", "nothing secret here"),
    ],
    ids=["bearer-header", "lower-case-bearer", "bare-token", "short-nuri-name", "plain"],
)
def test_tokens_and_bearer_credentials_are_redacted(text: str, expected: str) -> None:
    """Credentials are replaced; names that merely start with nuri_ are left alone."""
    assert redact(text) == expected


def test_the_text_format_is_redacted_too() -> None:
    """Text logs get the same protection as JSON ones."""
    line = TextLogFormatter().format(record("login with %s", TOKEN))
    assert line.endswith("WARNING nuri.test: login with [redacted]")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.usefixtures("root_logging")
@pytest.mark.parametrize(
    ("setting", "stream", "chosen"),
    [(None, io.StringIO(), "json"), (None, Terminal(), "text"), ("text", io.StringIO(), "text")],
    ids=["default-not-a-terminal", "default-terminal", "explicit"],
)
def test_configure_logging_chooses_json_unless_a_person_is_watching(
    setting: str | None, stream: io.StringIO, chosen: str
) -> None:
    """JSON by default for collectors, text on a terminal; every logger ends up in one handler."""
    assert configure_logging(setting, stream=stream) == chosen
    logging.getLogger("uvicorn.error").info("started")
    output = stream.getvalue().strip()
    if chosen == "json":
        assert json.loads(output)["logger"] == "uvicorn.error"
    else:
        assert output.endswith("INFO uvicorn.error: started")
    assert len(logging.getLogger().handlers) == 1


@pytest.mark.usefixtures("root_logging")
def test_an_unknown_log_format_is_refused_with_the_choices() -> None:
    """NURI_LOG_FORMAT=yaml: a clear message naming the setting and the formats."""
    with pytest.raises(InvalidInput, match=r"NURI_LOG_FORMAT.*use json or text"):
        configure_logging("yaml", stream=io.StringIO())
