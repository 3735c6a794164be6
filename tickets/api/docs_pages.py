"""The documentation pages' files as the app serves them: ReDoc's bundle, less the one thing it asks of another
host. Its sidebar shows Redocly's logo from cdn.redoc.ly; the pages' Content Security Policy (DocsStayHome)
refuses that request, and the browser logged the refusal as an error on every load of /redoc. The bundle is
served with that address replaced by an empty picture of its own, so nothing is asked and nothing is refused."""

from __future__ import annotations

import functools
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tickets.api.openapi import DOCS_ASSETS

REDOC_BUNDLE = f"{DOCS_ASSETS}redoc.standalone.js"  # where FastAPIOffline's /redoc page loads ReDoc from
REMOTE_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
EMPTY_PICTURE = b"data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='1' height='1'/%3E"


@functools.cache
def redoc_bundle() -> bytes:
    """fastapi-offline's copy of ReDoc, with the logo's address replaced (read once)."""
    shipped = Path(fastapi_offline.__file__).parent / "static" / "redoc.standalone.js"
    return shipped.read_bytes().replace(REMOTE_LOGO, EMPTY_PICTURE)


async def _serve_redoc_bundle(request: Request) -> Response:
    return Response(redoc_bundle(), media_type="text/javascript", headers={"Cache-Control": "public, max-age=3600"})


def serve_docs_files(app: FastAPI) -> None:
    """Answer ReDoc's bundle before FastAPIOffline's folder of files would (its mount comes first otherwise)."""
    app.router.routes.insert(0, Route(REDOC_BUNDLE, _serve_redoc_bundle, methods=["GET"], include_in_schema=False))
