"""Turning errors into HTTP answers with one clear ``detail`` message and no stack trace."""

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

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
