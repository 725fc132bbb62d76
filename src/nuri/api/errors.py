"""Turning errors into HTTP answers with one clear ``detail`` message and no stack trace."""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from nuri.domain.errors import (
    AdmissionRefused,
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    InvalidTransition,
    NotFound,
    TooManyAttempts,
)
from nuri.service.idempotency import IdempotencyKeyReused

log = logging.getLogger(__name__)

STATUS: dict[type[DomainError], int] = {
    InvalidInput: 400,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    InvalidTransition: 409,
    AdmissionRefused: 422,
    IdempotencyKeyReused: 422,
    TooManyAttempts: 429,
}


def status_of(error: DomainError) -> int:
    """The status of the nearest class of ``error`` that has one (a subclass keeps its parent's)."""
    for kind in type(error).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return 400


class ErrorDetail(BaseModel):
    """The body of every 4xx and 5xx answer."""

    detail: str = Field(description="One line saying what was wrong and what to fix.")


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorDetail, "description": description}
    for status, description in {
        400: "Malformed input, e.g. an unknown kind or an invalid decimal.",
        401: "No bearer token, or an unknown or revoked one.",
        403: "The caller's role or membership does not allow this.",
        404: "No such resource, or one the caller may not see.",
        409: "The resource exists already or is in the wrong state for this.",
        413: "The request body is larger than the server accepts.",
        422: "The body or a parameter breaks its documented constraints.",
        429: "Too many requests; retry later.",
    }.items()
}
"""Every error answer the API routes give, declared once for the OpenAPI document."""


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_: Request, error: DomainError) -> JSONResponse:
        headers = None
        if isinstance(error, TooManyAttempts):
            headers = {"Retry-After": str(error.retry_after_s)}
        return JSONResponse(
            {"detail": error.message}, status_code=status_of(error), headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, error: RequestValidationError) -> JSONResponse:
        problems = [_problem(item) for item in error.errors()]
        return JSONResponse({"detail": "; ".join(problems)}, status_code=422)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error", exc_info=error)
        return JSONResponse(
            {"detail": "internal error; the server log has the details"}, status_code=500
        )


WHOLE_BODY_TYPES = frozenset({"model_attributes_type", "dict_type", "model_type"})
"""Pydantic's error types for a body that is not a JSON object at all."""


def _problem(item: Any) -> str:
    """One validation error as ``where: what`` in words a client can act on."""
    kind, location = item.get("type"), tuple(item.get("loc", ()))
    if kind == "json_invalid":
        at = f" at character {location[1] + 1}" if len(location) > 1 else ""
        reason = item.get("ctx", {}).get("error", "malformed")
        return f"the body is not valid JSON{at}: {reason}"
    if location == ("body",) and kind in WHOLE_BODY_TYPES:
        return "the body must be a JSON object, sent with Content-Type: application/json"
    if location == ("body",) and kind == "missing":
        return "this needs a JSON object as the body, sent with Content-Type: application/json"
    where = ".".join(str(part) for part in location if part != "body")
    message = str(item.get("msg", "invalid"))
    if kind == "value_error":  # our own validators' messages, without Pydantic's prefix
        message = str(item.get("ctx", {}).get("error", message))
    return f"{where}: {message}" if where else message
