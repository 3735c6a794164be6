"""The HTTP rules that apply before any route runs, as small pure ASGI middlewares.

Pure ASGI rather than BaseHTTPMiddleware: each one costs a request a function call, not a task, and
none reads the body it does not need. The app factory (app.py) adds them and gives each what it must know.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response

from tickets.engine.messages import Language, Message, language_of_request, message

KEY_NAME = "tickets.key_name"  # where the scope keeps the name of the named key a request used
ROLE = "tickets.role"  # and its role (admin, agent, viewer); absent: an admin (open API, or the one key)
READS = ("GET", "HEAD", "OPTIONS")


def language_of_scope(scope: Any) -> Language:
    """The language the request asks its messages in (Accept-Language), English by default."""
    asked = dict(scope.get("headers") or []).get(b"accept-language")
    return language_of_request(asked.decode("latin-1") if asked else None)


class RequireApiKey:
    """When TICKETS_API_KEY or TICKETS_API_KEYS is set, 401 without a right X-API-Key, before the body is read.

    With named keys (TICKETS_API_KEYS=name:key,...) the key's name is put in the request's scope
    (KEY_NAME): the routes take it as the actor. Health and documentation stay open. Every
    comparison takes the same time whatever the key, and every named key is compared.
    """

    def __init__(
        self,
        app: Any,
        keys: Mapping[str, str | None],
        is_open: Callable[[str], bool],
        roles: Mapping[str, str] | None = None,
        admin_only: Callable[[str, str], bool] = lambda method, path: False,
    ) -> None:
        """keys: {key: its name, or None for the one TICKETS_API_KEY} (the settings' api_keys); empty: an open
        API, for local use. roles: {key: role} of the named keys (admin when absent); admin_only(method, path):
        what an agent may not do."""
        self.app, self.keys, self.is_open = app, dict(keys), is_open
        self.roles, self.admin_only = dict(roles or {}), admin_only

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and self.keys and not self.is_open(scope["path"]):
            keys = self.keys
            given = dict(scope["headers"]).get(b"x-api-key", b"")
            matched, name, role = False, None, "admin"
            for key, who in keys.items():  # no early exit: the time does not tell which key came close
                if hmac.compare_digest(given, key.encode()):
                    matched, name, role = True, who, self.roles.get(key, "admin")
            if not matched:
                detail = message("api_key_wrong" if given else "api_key_missing").told(language_of_scope(scope))
                response = JSONResponse({"detail": detail}, 401, headers={"WWW-Authenticate": "APIKey"})
                return await response(scope, receive, send)
            refused = self._refused(role, scope["method"], scope["path"])
            if refused is not None:
                return await JSONResponse({"detail": refused.told(language_of_scope(scope))}, 403)(scope, receive, send)
            if name is not None:
                scope = {**scope, KEY_NAME: name, ROLE: role}
        await self.app(scope, receive, send)

    def _refused(self, role: str, method: str, path: str) -> Message | None:
        """Why this role may not do this (a 403), or None."""
        if role != "admin" and self.admin_only(method, path):
            return message("role_needs_admin", role=role, method=method, path=path)
        if role == "viewer" and method not in READS:
            return message("role_reads_only", method=method)
        return None


class Load:
    """How many requests are being answered. The server is busy when they queue (more than one at once): the
    background work (webhook delivery) then slows down, so that it never holds an answer back."""

    def __init__(self) -> None:
        self.in_flight = 0

    def busy(self) -> bool:
        return self.in_flight > 1


class CountInFlight:
    """Keeps the app's Load up to date (one event loop: a plain counter)."""

    def __init__(self, app: Any, load: Load) -> None:
        self.app, self.load = app, load

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        self.load.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.load.in_flight -= 1


class BodyLimit:
    """413 for a body over the limit, before it is parsed.

    FastAPI's own max_body_size answers in plain text; this one keeps the {"detail": ...} shape.
    A declared Content-Length is refused at once; a chunked body is counted as it arrives.
    """

    def __init__(self, app: Any, max_bytes: int, detail: Message) -> None:
        self.app, self.max_bytes, self.detail = app, max_bytes, detail

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD"):  # no route reads a GET's body
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if declared.isdigit() and int(declared) > self.max_bytes:
            return await JSONResponse({"detail": self.detail.told(language_of_scope(scope))}, 413)(scope, receive, send)
        received = 0

        async def counting_receive() -> Any:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise HTTPException(413, self.detail.told(language_of_scope(scope)))  # FastAPI lets it through
            return message

        await self.app(scope, counting_receive, send)


class HeadAndOptions:
    """HEAD answers like GET without the body; OPTIONS answers 204 with the path's Allow header (an unknown path
    goes on to the router, whose 404 has its {"detail": ...} body).

    FastAPI's routes answer neither by themselves. Other methods go straight through, untouched.
    """

    def __init__(self, app: Any, allowed_methods: Callable[[Any], list[str]]) -> None:
        self.app, self.allowed_methods = app, allowed_methods

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        method = scope.get("method")
        if method == "OPTIONS":
            allowed = self.allowed_methods(scope)
            if not allowed:  # no such path: the router's 404, {"detail": "Not Found"} like any other
                return await self.app(scope, receive, send)
            return await Response(status_code=204, headers={"Allow": ", ".join(allowed)})(scope, receive, send)
        if method == "HEAD" and "GET" in self.allowed_methods(scope):

            async def without_body(message: Any) -> None:
                if message["type"] == "http.response.body":
                    message = {**message, "body": b""}
                await send(message)

            return await self.app({**scope, "method": "GET"}, receive, without_body)
        await self.app(scope, receive, send)


class DocsStayHome:
    """The documentation pages may load nothing from another host, whatever their scripts try.

    ReDoc's bundle asks cdn.redoc.ly for its logo (and hides it when that fails); this Content
    Security Policy makes the browser refuse any such request before it leaves the machine.
    """

    POLICY = (
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'"
    )

    def __init__(self, app: Any, pages: tuple[str, ...]) -> None:
        self.app, self.pages = app, pages

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] not in self.pages:
            return await self.app(scope, receive, send)

        async def with_policy(message: Any) -> None:
            if message["type"] == "http.response.start":
                message = {
                    **message,
                    "headers": [*message["headers"], (b"content-security-policy", self.POLICY.encode())],
                }
            await send(message)

        await self.app(scope, receive, with_policy)
