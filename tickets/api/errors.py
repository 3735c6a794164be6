"""Errors turned into HTTP answers, once for the whole app: invalid input is a 400 (never FastAPI's 422), and each
domain error of the engine has its code. The code that raises them never imports FastAPI."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from tickets.api.dependencies import Forbidden
from tickets.api.http_rules import language_of_scope
from tickets.api.responses import JSON
from tickets.engine.errors import (
    AddressRefused,
    CommentNotFound,
    InvalidChange,
    KeyInFlight,
    KeyReused,
    NotAuthor,
    PreconditionFailed,
    SettingInvalid,
    StoreError,
    TicketError,
    TicketNotFound,
    WebhookNotFound,
)
from tickets.engine.messages import message, validation_message

# Each domain error and its status code: the message is the error's own, which names the problem.
CODES: dict[type[Exception], int] = {
    TicketNotFound: status.HTTP_404_NOT_FOUND,
    WebhookNotFound: status.HTTP_404_NOT_FOUND,
    CommentNotFound: status.HTTP_404_NOT_FOUND,
    PreconditionFailed: status.HTTP_412_PRECONDITION_FAILED,
    KeyInFlight: status.HTTP_409_CONFLICT,
    KeyReused: status.HTTP_422_UNPROCESSABLE_CONTENT,  # the one 422 of the API: an Idempotency-Key used twice
    Forbidden: status.HTTP_403_FORBIDDEN,
    NotAuthor: status.HTTP_403_FORBIDDEN,
    StoreError: status.HTTP_503_SERVICE_UNAVAILABLE,
    SettingInvalid: status.HTTP_503_SERVICE_UNAVAILABLE,
}


def install(app: FastAPI, allowed_methods: Callable[[Any], list[str]]) -> None:
    """Add the handlers to the app; allowed_methods gives a 405 its Allow header."""

    async def invalid_input(request: Request, exc: Exception) -> Response:
        """400, never 422; the offending input is not echoed back. A form or plain text body is told to be JSON."""
        assert isinstance(exc, RequestValidationError)
        language = language_of_scope(request.scope)
        issues = [
            {"type": e["type"], "loc": list(e["loc"]), "msg": validation_message(e, language)} for e in exc.errors()
        ]
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if (
            any(issue["loc"][:1] == ["body"] for issue in issues)
            and media_type != JSON
            and not media_type.endswith("+json")
        ):
            issues = [
                {"type": "content_type", "loc": ["header", "content-type"], "msg": message("not_json").told(language)}
            ]
        return JSONResponse({"detail": issues}, status.HTTP_400_BAD_REQUEST)

    async def http_error(request: Request, exc: Exception) -> Response:
        """Starlette's own errors, with a 400 about the body shaped like the others."""
        assert isinstance(exc, HTTPException)
        if exc.status_code == 400 and isinstance(exc.detail, str):
            issues = [{"type": "body_invalid", "loc": ["body"], "msg": exc.detail}]
            return JSONResponse({"detail": issues}, 400)
        if exc.status_code == 405:
            allowed = ", ".join(allowed_methods(request.scope))
            told = message("method_not_allowed", allowed=allowed).told(language_of_scope(request.scope))
            return JSONResponse({"detail": told}, 405, headers={"Allow": allowed})
        return JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)

    async def invalid_change(request: Request, exc: Exception) -> Response:
        """A change valid alone but not on this ticket: a 400 shaped like the others."""
        assert isinstance(exc, InvalidChange)
        told = exc.told(language_of_scope(request.scope))
        return JSONResponse({"detail": [{"type": "invalid_change", "loc": ["body", *exc.loc], "msg": told}]}, 400)

    async def address_refused(request: Request, exc: Exception) -> Response:
        """A webhook URL the service may not call: a 400 on the url, shaped like the others."""
        assert isinstance(exc, AddressRefused)
        issue = {"type": "address_refused", "loc": ["body", "url"], "msg": exc.told(language_of_scope(request.scope))}
        return JSONResponse({"detail": [issue]}, 400)

    async def domain_error(request: Request, exc: Exception) -> Response:
        code = next(code for kind, code in CODES.items() if isinstance(exc, kind))
        told = exc.told(language_of_scope(request.scope)) if isinstance(exc, TicketError) else str(exc)
        return JSONResponse({"detail": told}, code)

    app.add_exception_handler(RequestValidationError, invalid_input)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(InvalidChange, invalid_change)
    app.add_exception_handler(AddressRefused, address_refused)
    for kind in CODES:
        app.add_exception_handler(kind, domain_error)
