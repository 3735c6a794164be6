"""HTTP layer: the FastAPI app, thin routes over the engine in script.py."""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Annotated, Any, get_origin

import pydantic_core
from fastapi import Depends, FastAPI, Header, Path, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, BeforeValidator
from starlette.exceptions import HTTPException

from http_rules import KEY_NAME, BodyLimit, DocsStayHome, HeadAndOptions, RequireApiKey
from script import (
    Comment,
    CommentCreate,
    CommentNotFound,
    Event,
    FeedQuery,
    NameIn,
    NewComment,
    Page,
    PreconditionFailed,
    SettingInvalid,
    Stats,
    StatsQuery,
    StoreError,
    Ticket,
    TicketCreate,
    TicketNotFound,
    TicketQuery,
    TicketUpdate,
    check_settings,
    etag_matches,
    etag_of,
    parse_ticket_id,
    ticket_json,
)
from stores import TicketStore, open_store, store_from_environment

# Settings fail closed: an empty TICKETS_API_KEY or a TICKETS_LOCK_TIMEOUT of "nan" stops the server
# before it serves anything, with one line naming the setting (uvicorn prints a SystemExit's message).
try:
    check_settings()
    open_store()  # a file and a database URL both set, or a URL that is not postgresql://
except SettingInvalid as problem:
    raise SystemExit(f"error: {problem}") from None

MAX_BODY_BYTES = 1024 * 1024
TOO_LARGE_DETAIL = f"Content Too Large: the body is over {MAX_BODY_BYTES} bytes (1 MiB)"
JSON = "application/json"


def get_store() -> TicketStore:
    """The store the environment names: TICKETS_DATABASE_URL (PostgreSQL), else TICKETS_FILE (or tickets.json
    beside script.py). Tests replace it through app.dependency_overrides[get_store], as with any dependency."""
    return store_from_environment()


def store() -> TicketStore:
    """get_store(), or what a test put in its place.

    Looked up by hand rather than declared with Depends(): FastAPI's dependency machinery cost a
    GET of one ticket about a fifth of its time (measured, see LEARNING.md) for what is one lookup.
    """
    return app.dependency_overrides.get(get_store, get_store)()

TicketId = Annotated[int, Path(ge=1, description="The ticket's id.", examples=[3]), BeforeValidator(parse_ticket_id)]
CommentId = Annotated[int, Path(ge=1, description="The comment's id.", examples=[7]), BeforeValidator(parse_ticket_id)]


def header_text(value: Any) -> Any:
    """A header as it was meant: curl sends 'Zoé' as UTF-8 bytes, which arrive read as Latin-1 ('ZoÃ©');
    a browser sends Latin-1 itself. UTF-8 when the bytes are UTF-8, else Latin-1 as read."""
    if isinstance(value, str):
        with suppress(UnicodeError):
            return value.encode("latin-1").decode("utf-8")
    return value


ActorHeader = Annotated[
    Annotated[NameIn, BeforeValidator(header_text)] | None,
    Header(alias="X-Actor", description="Who makes the change (1 to 100 characters), recorded in the history. "
                                        "With named API keys it is the key's name, and naming anyone else is a 403."),
]  # fmt: skip


class Forbidden(Exception):
    """The request names someone else than its named API key (a 403)."""


def actor_of(request: Request, claimed: str | None) -> str | None:
    """Who makes this change: the name of the request's named key (and nobody else), else X-Actor, else None."""
    key_name = request.scope.get(KEY_NAME)
    if key_name is None:
        return claimed
    if claimed is not None and claimed != key_name:
        raise Forbidden(f"X-Actor names {claimed!r}, but this API key is {key_name!r}'s")
    return key_name


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """At start-up, the store gets ready (a crashed writer's temporary files removed, tables created or
    upgraded); a store it cannot reach yet is not fatal: requests answer 503 until it can."""
    tickets = store()
    try:
        await tickets.open()
        await tickets.warm_up()
    except StoreError as problem:
        print(f"warning: {problem}", file=sys.stderr)
    yield
    await tickets.close()


# --------------------------------------------------------------------------- documented errors


class Message(BaseModel):
    detail: str


class ValidationIssue(BaseModel):
    type: str
    loc: list[str | int]
    msg: str


class ValidationProblem(BaseModel):
    detail: list[ValidationIssue]


def _error(model: type[BaseModel], description: str, example: Any) -> dict[str, Any]:
    return {"model": model, "description": description, "content": {JSON: {"example": {"detail": example}}}}


BAD_REQUEST = _error(
    ValidationProblem, "Invalid input: body, query parameter, header or id",
    [{"type": "extra_forbidden", "loc": ["body", "prioriy"], "msg": "Extra inputs are not permitted"}],
)  # fmt: skip
NOT_FOUND = _error(Message, "No ticket has this id", "ticket 42 not found")
TOO_LARGE = _error(Message, "The body is over 1 MiB", TOO_LARGE_DETAIL)
STALE = _error(Message, "If-Match does not match the ticket as it is now", "ticket 3 has changed: ...")
FORBIDDEN = _error(Message, "With named API keys: X-Actor or author names someone else than the key's owner",
                   "X-Actor names 'julie.martin', but this API key is 'karim.benali''s")
NO_TICKET_EVER = _error(Message, "No ticket ever had this id", "ticket 42 not found")
NO_COMMENT = _error(Message, "No such ticket, or no such comment on it", "comment 9 of ticket 3 not found")
UNAUTHORIZED = _error(Message, "TICKETS_API_KEY or TICKETS_API_KEYS is set and X-API-Key is missing or wrong",
                      "wrong API key")
UNAVAILABLE = _error(Message, "The tickets file or database cannot be used (the message names the problem)",
                     "tickets.json: the file is empty; ...")


def _header(description: str, example: str) -> dict[str, Any]:
    return {"description": description, "schema": {"type": "string", "example": example}}


IF_NONE_MATCH = {"name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"},
                 "description": "An ETag: 304 without a body when the ticket still has it"}  # fmt: skip
ETAG = {"ETag": _header("Version of the ticket, for If-Match and If-None-Match", '"6f1c2a9e0b7d4c3a8e5f1b2d"')}
LOCATION = {"Location": _header("Where the new ticket lives", "/tickets/17")}
TOTAL = {"X-Total-Count": _header("How many tickets match the filters, before limit and offset", "11")}
TOTAL_OF_TICKET = {"X-Total-Count": _header("How many the ticket has in all, before limit and offset", "4")}
COMMENT_LOCATION = {"Location": _header("Where the new comment lives", "/tickets/3/comments/7")}


# --------------------------------------------------------------------------- the app

# FastAPIOffline: FastAPI with Swagger UI and ReDoc served from the app itself (their files ship in the
# fastapi-offline package), so /docs works without internet and asks no other host for anything.
app = FastAPIOffline(
    title="Tickets de support",
    summary="Support tickets in one JSON file, safe across processes, or in PostgreSQL for several servers.",
    version="1.0.0",
    lifespan=lifespan,
    responses={503: UNAVAILABLE},
    openapi_tags=[
        {"name": "tickets", "description": "Create, read, change and delete support tickets"},
        {"name": "comments", "description": "Replies and internal notes on a ticket"},
        {"name": "history", "description": "Who changed what and when: each ticket's events, and the feed of all"},
        {"name": "statistics", "description": "Counts by status and priority, opened and closed per day"},
        {"name": "service", "description": "Health of the service"},
    ],
    swagger_ui_parameters={"validatorUrl": None},  # the default badge would call validator.swagger.io
)
# --------------------------------------------------------------------------- rules before the routes (http_rules.py)

DOCS_ASSETS = "/static-offline-docs/"  # where FastAPIOffline serves Swagger UI's and ReDoc's files
DOCS_PAGES = ("/docs", "/redoc")
PAGES = ("/", *DOCS_PAGES, "/docs/oauth2-redirect", "/openapi.json")  # GET only, not in the schema
OPEN_PATHS = (*PAGES, "/health")


def _is_open(path: str) -> bool:
    """Paths that need no API key: the home redirect, health and the documentation with its files."""
    return path in OPEN_PATHS or path.startswith(DOCS_ASSETS)


def allowed_methods(scope: Any) -> list[str]:
    """The methods this path answers, from the OpenAPI paths: a concrete path (/tickets/stats) wins
    over a template (/tickets/{ticket_id}), as OpenAPI says. Empty for an unknown path.

    (Starlette's own 405 names only one route's methods, and recent FastAPI's routes none at all.)
    """
    path = scope["path"]
    if path in PAGES or path.startswith(DOCS_ASSETS):
        methods = {"GET"}
    else:
        paths = app.openapi()["paths"]
        template = path if path in paths else next((t for t, pattern in _templates() if pattern.fullmatch(path)), None)
        methods = {m.upper() for m in paths.get(template, {})}
    return sorted(methods | {"HEAD", "OPTIONS"}) if methods else []


@functools.cache
def _templates() -> list[tuple[str, re.Pattern[str]]]:
    return [(t, re.compile(re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(t)))) for t in app.openapi()["paths"] if "{" in t]


app.add_middleware(DocsStayHome, pages=DOCS_PAGES)
app.add_middleware(HeadAndOptions, allowed_methods=allowed_methods)
app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES, detail=TOO_LARGE_DETAIL)
app.add_middleware(RequireApiKey, is_open=_is_open)  # added last, so it runs first


NOT_JSON = "send the body as JSON, with the header Content-Type: application/json"


@app.exception_handler(RequestValidationError)
async def invalid_input(request: Request, exc: RequestValidationError) -> JSONResponse:
    """400, never 422; the offending input is not echoed back. A form or plain text body is told to be JSON."""
    issues = [{"type": e["type"], "loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if any(issue["loc"][:1] == ["body"] for issue in issues) and media_type != JSON and not media_type.endswith("+json"):
        issues = [{"type": "content_type", "loc": ["header", "content-type"], "msg": NOT_JSON}]
    return JSONResponse({"detail": issues}, status.HTTP_400_BAD_REQUEST)


@app.exception_handler(HTTPException)
async def http_error(request: Request, exc: HTTPException) -> Response:
    """Starlette's own errors, with a 400 about the body shaped like the others."""
    if exc.status_code == 400 and isinstance(exc.detail, str):
        issues = [{"type": "body_invalid", "loc": ["body"], "msg": exc.detail}]
        return JSONResponse({"detail": issues}, 400)
    if exc.status_code == 405:
        allowed = ", ".join(allowed_methods(request.scope))
        return JSONResponse({"detail": f"Method Not Allowed: this path answers {allowed}"}, 405,
                            headers={"Allow": allowed})  # fmt: skip
    return JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)


@app.exception_handler(TicketNotFound)
async def not_found(request: Request, exc: TicketNotFound) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status.HTTP_404_NOT_FOUND)


@app.exception_handler(PreconditionFailed)
async def precondition_failed(request: Request, exc: PreconditionFailed) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status.HTTP_412_PRECONDITION_FAILED)


@app.exception_handler(CommentNotFound)
async def comment_not_found(request: Request, exc: CommentNotFound) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status.HTTP_404_NOT_FOUND)


@app.exception_handler(Forbidden)
async def forbidden(request: Request, exc: Forbidden) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status.HTTP_403_FORBIDDEN)


@app.exception_handler(StoreError)
@app.exception_handler(SettingInvalid)
async def store_unavailable(request: Request, exc: StoreError | SettingInvalid) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status.HTTP_503_SERVICE_UNAVAILABLE)


def _one_ticket(body: bytes, status_code: int = 200, etag: str | None = None, **headers: str) -> Response:
    return Response(body, status_code, headers={"ETag": etag or etag_of(body), **headers}, media_type=JSON)


# --------------------------------------------------------------------------- routes

SINGLE_VALUED = sorted({name for model in (TicketQuery, StatsQuery, Page, FeedQuery)
                        for name, field in model.model_fields.items() if get_origin(field.annotation) is not list})


async def each_parameter_once(request: Request) -> None:
    """?assignee=a&assignee=b is ambiguous: a 400, not a silent choice of the last one (async: no I/O)."""
    repeated = [name for name in SINGLE_VALUED if len(request.query_params.getlist(name)) > 1]
    if repeated:
        raise RequestValidationError([{"type": "too_many_values", "loc": ("query", name),
                                       "msg": f"give {name} at most once"} for name in repeated])  # fmt: skip


ONCE = [Depends(each_parameter_once)]


@app.get(
    "/tickets", tags=["tickets"], summary="List tickets", response_model=list[Ticket], dependencies=ONCE,
    responses={200: {"headers": TOTAL}, 400: BAD_REQUEST},
)  # fmt: skip
async def list_tickets(query: Annotated[TicketQuery, Query()]) -> Response:
    """Tickets matching the filters, sorted and paged; X-Total-Count counts the matches before paging."""
    body, total = await store().search_json(query)
    return Response(body, media_type=JSON, headers={"X-Total-Count": str(total)})


@app.post(
    "/tickets", tags=["tickets"], summary="Create a ticket", status_code=status.HTTP_201_CREATED, response_model=Ticket,
    responses={201: {"headers": {**LOCATION, **ETAG}}, 400: BAD_REQUEST, 403: FORBIDDEN, 413: TOO_LARGE},
)  # fmt: skip
async def create_ticket(data: TicketCreate, request: Request, x_actor: ActorHeader = None) -> Response:
    """Create a ticket; its id is new and never reused. Location and ETag name the result."""
    ticket = await store().add(data, actor_of(request, x_actor))
    return _one_ticket(ticket_json(ticket), 201, Location=f"/tickets/{ticket['id']}")


@app.get("/tickets/stats", summary="Count tickets", responses={400: BAD_REQUEST}, dependencies=ONCE, tags=["statistics"])
async def ticket_stats(query: Annotated[StatsQuery, Query()]) -> Stats:
    """How many tickets match the filters, by status and by priority (every key present); and, from the
    history of every ticket (the filters do not apply to it), how many were opened and closed on each
    of the last `days` days (UTC), oldest first, zeros included."""
    return await store().stats(query)


@app.api_route("/tickets/stats", methods=["POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
def stats_is_read_only() -> None:
    """Without this, PATCH /tickets/stats would reach /tickets/{ticket_id} and be a 400 on the id 'stats'."""
    raise HTTPException(status.HTTP_405_METHOD_NOT_ALLOWED, "Method Not Allowed")


@app.get(
    "/tickets/{ticket_id}", tags=["tickets"], summary="Read a ticket", response_model=Ticket,
    responses={200: {"headers": ETAG}, 304: {"description": "If-None-Match names the current ETag", "headers": ETAG},
               400: BAD_REQUEST, 404: NOT_FOUND},
    openapi_extra={"parameters": [IF_NONE_MATCH]},
)  # fmt: skip
async def read_ticket(ticket_id: TicketId, request: Request) -> Response:
    """One ticket with its ETag; 304 without a body when If-None-Match names that ETag."""
    body = await store().get_json(ticket_id)
    etag = etag_of(body)
    # Read here, documented by IF_NONE_MATCH: as a Header() parameter it cost the hottest route ~15 %.
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None and etag_matches(if_none_match, etag, weak=True):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
    return _one_ticket(body, etag=etag)


@app.patch(
    "/tickets/{ticket_id}", tags=["tickets"], summary="Update a ticket", response_model=Ticket,
    responses={200: {"headers": ETAG}, 400: BAD_REQUEST, 403: FORBIDDEN, 404: NOT_FOUND, 412: STALE,
               413: TOO_LARGE},
)  # fmt: skip
async def update_ticket(ticket_id: TicketId, changes: TicketUpdate, request: Request,
                        if_match: Annotated[str | None, Header()] = None, x_actor: ActorHeader = None) -> Response:  # fmt: skip
    """Change some fields (merge patch; null only unassigns). With If-Match, only if the ETag still matches.
    A change that changes nothing records nothing."""
    ticket = await store().update(ticket_id, changes, if_match, actor_of(request, x_actor))
    return _one_ticket(ticket_json(ticket))


@app.delete(
    "/tickets/{ticket_id}", tags=["tickets"], summary="Delete a ticket", status_code=status.HTTP_204_NO_CONTENT,
    responses={400: BAD_REQUEST, 403: FORBIDDEN, 404: NOT_FOUND, 412: STALE},
)  # fmt: skip
async def delete_ticket(ticket_id: TicketId, request: Request, if_match: Annotated[str | None, Header()] = None,
                        x_actor: ActorHeader = None) -> Response:  # fmt: skip
    """Delete a ticket and its comments for good; its id is never given again, its history stays. With If-Match,
    only if the ETag still matches."""
    await store().delete(ticket_id, if_match, actor_of(request, x_actor))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --------------------------------------------------------------------------- comments and history


def _listing(items: list[Any], total: int | None = None) -> Response:
    headers = {} if total is None else {"X-Total-Count": str(total)}
    return Response(pydantic_core.to_json(items), media_type=JSON, headers=headers)


@app.post(
    "/tickets/{ticket_id}/comments", tags=["comments"], summary="Comment on a ticket", status_code=201,
    response_model=Comment,
    responses={201: {"headers": COMMENT_LOCATION}, 400: BAD_REQUEST, 403: FORBIDDEN, 404: NOT_FOUND, 413: TOO_LARGE},
)  # fmt: skip
async def add_comment(ticket_id: TicketId, data: CommentCreate, request: Request,
                      x_actor: ActorHeader = None) -> Response:  # fmt: skip
    """Add a public reply or an internal note (internal: true). The author is the one given, else the
    request's actor; the ticket's updated_at (and ETag) moves, and its history records the comment."""
    actor = actor_of(request, x_actor)
    key_name = request.scope.get(KEY_NAME)
    if key_name is not None and data.author is not None and data.author != key_name:
        raise Forbidden(f"the author is {data.author!r}, but this API key is {key_name!r}'s")
    author = data.author or actor
    if author is None:
        raise RequestValidationError([{"type": "missing", "loc": ("body", "author"),
                                       "msg": "give the author, or name yourself in the X-Actor header"}])  # fmt: skip
    comment = await store().add_comment(ticket_id, NewComment(author, data.body, data.internal), actor or author)
    return Response(pydantic_core.to_json(comment), 201, media_type=JSON,
                    headers={"Location": f"/tickets/{ticket_id}/comments/{comment['id']}"})  # fmt: skip


@app.get(
    "/tickets/{ticket_id}/comments", tags=["comments"], summary="Read a ticket's comments",
    response_model=list[Comment], dependencies=ONCE,
    responses={200: {"headers": TOTAL_OF_TICKET}, 400: BAD_REQUEST, 404: NOT_FOUND},
)  # fmt: skip
async def list_comments(ticket_id: TicketId, page: Annotated[Page, Query()]) -> Response:
    """The ticket's comments, oldest first; X-Total-Count counts them all, before limit and offset."""
    return _listing(*await store().comments(ticket_id, page))


@app.get(
    "/tickets/{ticket_id}/comments/{comment_id}", tags=["comments"], summary="Read a comment",
    response_model=Comment, responses={400: BAD_REQUEST, 404: NO_COMMENT},
)  # fmt: skip
async def read_comment(ticket_id: TicketId, comment_id: CommentId) -> Response:
    """One comment of a ticket: where the Location of a new comment points."""
    return Response(pydantic_core.to_json(await store().comment(ticket_id, comment_id)), media_type=JSON)


@app.get(
    "/tickets/{ticket_id}/events", tags=["history"], summary="Read a ticket's history",
    response_model=list[Event], dependencies=ONCE,
    responses={200: {"headers": TOTAL_OF_TICKET}, 400: BAD_REQUEST, 404: NO_TICKET_EVER},
)  # fmt: skip
async def list_events(ticket_id: TicketId, page: Annotated[Page, Query()]) -> Response:
    """Every creation, change, comment and deletion of the ticket, oldest first, with who and when; also
    after the ticket was deleted. X-Total-Count counts them all, before limit and offset."""
    return _listing(*await store().events(ticket_id, page))


@app.get(
    "/events", tags=["history"], summary="Follow every change (a feed to poll)", response_model=list[Event],
    dependencies=ONCE, responses={400: BAD_REQUEST},
)  # fmt: skip
async def event_feed(query: Annotated[FeedQuery, Query()]) -> Response:
    """Every event of every ticket, in id order. Poll with after = the last id you saw: ids are given in the
    order changes are committed, so you miss none and see none twice, even while writes go on."""
    return _listing(await store().feed(query.after, query.limit))


class Health(BaseModel):
    status: str
    tickets: int


@app.get("/", include_in_schema=False)
async def home() -> RedirectResponse:
    """The documentation is the home page."""
    return RedirectResponse("/docs")


@app.get("/health", summary="Service health", tags=["service"])
async def health() -> Health:
    """ok and the number of tickets; 503 naming the problem when the file or the database cannot be used."""
    return Health(status="ok", tickets=await store().count())


API_KEY_SCHEME = {"type": "apiKey", "in": "header", "name": "X-API-Key",
                  "description": "Needed only when the server has TICKETS_API_KEY set."}  # fmt: skip


def custom_openapi() -> dict[str, Any]:
    """FastAPI's schema, with our 400 in place of the 422 it documents by default, and the API key.

    The key is declared here rather than by a Security() dependency: RequireApiKey checks it before
    the body is read, and a dependency would only cost every request a step that does nothing.
    Swagger UI's Authorize button reads this declaration.
    """
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes,
                             tags=app.openapi_tags)  # fmt: skip
        schema["components"]["securitySchemes"] = {"APIKeyHeader": API_KEY_SCHEME}
        for path, operations in schema["paths"].items():
            for operation in operations.values():
                operation["responses"].pop("422", None)
                if not _is_open(path):
                    operation["security"] = [{"APIKeyHeader": []}]
                    operation["responses"]["401"] = {
                        "description": UNAUTHORIZED["description"],
                        "content": {JSON: {"schema": {"$ref": "#/components/schemas/Message"},
                                           "example": {"detail": "wrong API key"}}},
                    }  # fmt: skip
        for unused in ("HTTPValidationError", "ValidationError"):
            schema["components"]["schemas"].pop(unused, None)
        app.openapi_schema = schema
    return app.openapi_schema


app.openapi = custom_openapi  # type: ignore[method-assign]
