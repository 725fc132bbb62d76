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
)

log = logging.getLogger(__name__)

STATUS: dict[type[DomainError], int] = {
    InvalidInput: 400,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    InvalidTransition: 409,
    AdmissionRefused: 422,
}


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
        return JSONResponse({"detail": error.message}, status_code=STATUS.get(type(error), 400))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, error: RequestValidationError) -> JSONResponse:
        problems = []
        for item in error.errors():
            where = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
            problems.append(f"{where}: {item.get('msg', 'invalid')}" if where else item.get("msg"))
        return JSONResponse({"detail": "; ".join(problems)}, status_code=422)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error", exc_info=error)
        return JSONResponse(
            {"detail": "internal error; the server log has the details"}, status_code=500
        )
