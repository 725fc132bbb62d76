"""What text API v1 accepts: any printable Unicode, no control characters.

Names, titles, notes, commands and every other string may be in any script (Korean, Arabic,
emoji, right-to-left marks) and are stored and answered verbatim. Control characters (Unicode
category Cc) are refused with 422, because no person types them and each breaks something
downstream: NUL cannot be stored by PostgreSQL nor passed in a program's arguments, and the rest
garble terminals, logs and CSV exports. Request bodies may still
hold tab, line feed and carriage return, for multi-line abstracts, notes and comments; URL path and
query parameters may not. (Lone surrogates, which JSON's ``\\ud800`` escapes could carry, are
refused by Pydantic's JSON parsing before this.)

Slugs (hub, pool, project and user names) are held to their stricter pattern by the domain.
"""

import unicodedata
from collections.abc import Iterator
from typing import Any

from fastapi import HTTPException, Request

LINE_BREAKS_AND_TABS = frozenset("\t\n\r")


def text_problem(text: str, *, allowed: frozenset[str] = frozenset()) -> str | None:
    """Why ``text`` is refused, naming the first bad character and its 1-based position, or
    None if it is acceptable. ``allowed`` lists control characters to let through."""
    for index, character in enumerate(text):
        if character in allowed:
            continue
        if unicodedata.category(character) == "Cc":
            return (
                f"contains the control character U+{ord(character):04X} at character"
                f" {index + 1}; remove it (text may be in any script, but holds no control"
                " characters)"
            )
    return None


def strings_in(value: Any) -> Iterator[str]:
    """Every string in a request body's field: the value itself, or inside lists and dicts
    (keys too, e.g. pool names in a call's budgets)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings_in(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings_in(key)
            yield from strings_in(item)


async def refuse_control_characters_in_url(request: Request) -> None:
    """A route dependency: 422 if a path or query parameter holds a control character.

    A coroutine, so that FastAPI does not hop to a worker thread for this check on every call."""
    parameters = [*request.path_params.items(), *request.query_params.multi_items()]
    for name, value in parameters:
        problem = text_problem(str(value))
        if problem is not None:
            raise HTTPException(422, f"{name}: {problem}")
