"""The OpenAPI schema as the service publishes it, and what is read from it: which paths are open without a key
(home, health, the documentation and its files), and which methods a path answers (for 405 and OPTIONS)."""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from tickets.api.openapi_for_clients import for_clients
from tickets.api.responses import JSON, UNAUTHORIZED

DOCS_ASSETS = "/static-offline-docs/"  # where FastAPIOffline serves Swagger UI's and ReDoc's files
DOCS_PAGES = ("/docs", "/redoc")
PAGES = ("/", *DOCS_PAGES, "/docs/oauth2-redirect", "/openapi.json")  # GET only, not in the schema
OPEN_PATHS = (*PAGES, "/health")
API_KEY_SCHEME = {
    "type": "apiKey",
    "in": "header",
    "name": "X-API-Key",
    "description": "Needed only when the server has a key set: TICKETS_API_KEY (one key for everyone) or "
    "TICKETS_API_KEYS (named keys, name:key,name:key; the request's actor is then the key's name).",
}


def is_open(path: str) -> bool:
    """Paths that need no API key: the home redirect, health and the documentation with its files."""
    return path in OPEN_PATHS or path.startswith(DOCS_ASSETS)


def admin_only(method: str, path: str) -> bool:
    """What only an admin key may do: change the SLA policy, and anything about webhooks (their URLs and tries
    are the team's integrations: not for an agent or a viewer)."""
    if path == "/webhooks" or path.startswith("/webhooks/"):
        return True
    return method not in ("GET", "HEAD", "OPTIONS") and path.rstrip("/") == "/sla"


class Paths:
    """The methods each path of an app answers, from its OpenAPI paths (built once, on first use)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def allowed_methods(self, scope: Any) -> list[str]:
        """The methods this path answers: a concrete path (/tickets/stats) wins over a template
        (/tickets/{ticket_id}), as OpenAPI says. Empty for an unknown path.

        (Starlette's own 405 names only one route's methods, and recent FastAPI's routes none at all.)
        """
        path = scope["path"]
        if path in PAGES or path.startswith(DOCS_ASSETS):
            methods = {"GET"}
        else:
            paths = self.app.openapi()["paths"]
            template = (
                path
                if path in paths
                else next((t for t, pattern in self._templates() if pattern.fullmatch(path)), None)
            )
            methods = {m.upper() for m in paths.get(template, {})}
        return sorted(methods | {"HEAD", "OPTIONS"}) if methods else []

    @functools.cache  # noqa: B019 - one Paths per app, living as long as the app
    def _templates(self) -> list[tuple[str, re.Pattern[str]]]:
        paths = self.app.openapi()["paths"]
        return [(t, re.compile(re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(t)))) for t in paths if "{" in t]


def schema_of(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema, with our 400 in place of the 422 it documents by default (the one 422 kept is the
    Idempotency-Key's, on the two creations), and the API key; then made for its readers (for_clients: operation
    ids, named enums, plain headers, rules in words).

    The key is declared here rather than by a Security() dependency: RequireApiKey checks it before
    the body is read, and a dependency would only cost every request a step that does nothing.
    Swagger UI's Authorize button reads this declaration.
    """
    if app.openapi_schema is None:
        documented = tuple(route for route in app.routes if getattr(route, "include_in_schema", False))
        key = (app.title, app.version, app.summary, json.dumps(app.openapi_tags), tuple(map(id, documented)))
        if key not in _SCHEMAS:  # the routes are kept with their schema: no other route can take their ids
            _SCHEMAS[key] = documented, _schema(app.title, app.version, app.summary, documented, app.openapi_tags)
        app.openapi_schema = _SCHEMAS[key][1]
    return app.openapi_schema


# Each schema made, by what it is made of: create_app's apps share their routes, and so their schema, which takes
# 0.16 s to make (the tests make hundreds of apps). Nothing changes a schema once made.
_SCHEMAS: dict[tuple[Any, ...], tuple[tuple[Any, ...], dict[str, Any]]] = {}


def _schema(
    title: str, version: str, summary: str | None, routes: tuple[Any, ...], tags: list[dict[str, Any]] | None
) -> dict[str, Any]:
    """FastAPI's schema of these routes, with the changes schema_of tells."""
    schema = get_openapi(title=title, version=version, summary=summary, routes=list(routes), tags=tags)
    schema["components"]["securitySchemes"] = {"APIKeyHeader": API_KEY_SCHEME}
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            if "HTTPValidationError" in str(operation["responses"].get("422")):  # FastAPI's, never sent
                operation["responses"].pop("422")
            if not is_open(path):
                operation["security"] = [{"APIKeyHeader": []}]
                operation["responses"]["401"] = {
                    "description": UNAUTHORIZED["description"],
                    "content": {
                        JSON: {
                            "schema": {"$ref": "#/components/schemas/Message"},
                            "example": {"detail": "wrong API key"},
                        }
                    },
                }
    for unused in ("HTTPValidationError", "ValidationError"):
        schema["components"]["schemas"].pop(unused, None)
    for_clients(schema)
    return schema
