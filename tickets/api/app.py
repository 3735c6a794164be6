"""The app factory: the FastAPI app over one store, with its rules before the routes, its routers, its error
handlers and its OpenAPI schema. main.py exposes create_app() for `uvicorn main:app`; tests make their own."""

from __future__ import annotations

import functools
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from tickets.api import errors
from tickets.api.docs_pages import serve_docs_files
from tickets.api.http_rules import BodyLimit, CountInFlight, DocsStayHome, HeadAndOptions, Load, RequireApiKey
from tickets.api.openapi import DOCS_PAGES, Paths, admin_only, is_open, schema_of
from tickets.api.responses import MAX_BODY_BYTES, TOO_LARGE_DETAIL
from tickets.api.routes import comments, events, service, sla, stats, tickets, webhooks
from tickets.engine.errors import StoreError
from tickets.engine.settings import Settings
from tickets.engine.verify import HistoryProblem
from tickets.stores.base import TicketStore
from tickets.stores.choice import open_store
from tickets.worker.runner import background

TAGS = [
    {"name": "tickets", "description": "Create, read, change and delete support tickets"},
    {"name": "comments", "description": "Replies and internal notes on a ticket"},
    {"name": "history", "description": "Who changed what and when: each ticket's events, and the feed of all"},
    {"name": "statistics", "description": "Counts by status, priority, tag and SLA state; opened and closed per day"},
    {"name": "sla", "description": "The SLA policy: business hours, holidays, targets per priority"},
    {"name": "webhooks", "description": "Endpoints told of every change, signed (Standard Webhooks); admin keys only"},
    {"name": "service", "description": "Health of the service"},
]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """At start-up, the store gets ready (a crashed writer's temporary files removed, tables created or
    upgraded); a store it cannot reach yet is not fatal: requests answer 503 until it can."""
    store: TicketStore = app.state.store
    try:
        await store.open()
        await store.warm_up()
        if app.state.settings.verify_on_start:
            app.state.verification = {"ok": True, "summary": (await store.verify()).summary()}
    except (StoreError, HistoryProblem) as problem:
        print(f"warning: {problem}", file=sys.stderr)
        if app.state.settings.verify_on_start:
            app.state.verification = {"ok": False, "problem": str(problem)}
    async with background(store, app.state.settings, app.state.load.busy):
        yield
    await store.close()


def create_app(settings: Settings | None = None, *, store: TicketStore | None = None) -> FastAPI:
    """The API over store, or over the store the settings name (by default, this process's environment).

    Raises SettingInvalid for settings that cannot be used (fail closed): the server does not start.
    """
    settings = Settings.from_environment() if settings is None else settings
    store = open_store(settings) if store is None else store
    # FastAPIOffline: FastAPI with Swagger UI and ReDoc served from the app itself (their files ship in the
    # fastapi-offline package), so /docs works without internet and asks no other host for anything.
    app = FastAPIOffline(
        title="Tickets de support",
        summary="Support tickets in one JSON file, safe across processes, or in PostgreSQL for several servers.",
        version="1.0.0",
        lifespan=lifespan,
        openapi_tags=TAGS,
        swagger_ui_parameters={"validatorUrl": None},  # the default badge would call validator.swagger.io
    )
    app.state.settings, app.state.store = settings, store
    serve_docs_files(app)
    app.state.verification = None  # the result of TICKETS_VERIFY_ON_START, told by /health
    # The statistics first: /tickets/stats must not be taken for /tickets/{ticket_id}. The routers' own routes,
    # not include_router: FastAPI (0.165) would build every included route again for each app, at its first
    # request (0.24 s an app); these were built once, at import, and serve every app made here.
    for router in (
        stats.router,
        tickets.router,
        comments.router,
        events.router,
        sla.router,
        webhooks.router,
        service.router,
    ):
        app.router.routes.extend(router.routes)
    paths = Paths(app)
    app.state.load = Load()
    app.add_middleware(DocsStayHome, pages=DOCS_PAGES)
    app.add_middleware(HeadAndOptions, allowed_methods=paths.allowed_methods)
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES, detail=TOO_LARGE_DETAIL)
    app.add_middleware(CountInFlight, load=app.state.load)
    app.add_middleware(  # added last, so it runs first
        RequireApiKey, keys=settings.api_keys, is_open=is_open, roles=settings.key_roles, admin_only=admin_only
    )
    errors.install(app, paths.allowed_methods)
    app.openapi = functools.partial(schema_of, app)  # type: ignore[method-assign]
    return app
