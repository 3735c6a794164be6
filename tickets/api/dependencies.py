"""What the routes share: the store of the app, the path and header parameters (ids, X-Actor), who the actor of a
request is, the one-value-per-parameter rule, and the shapes of the answers."""

from __future__ import annotations

from contextlib import suppress
from typing import Annotated, Any, get_origin

import pydantic_core
from fastapi import Depends, Header, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BeforeValidator

from tickets.api.http_rules import KEY_NAME, ROLE
from tickets.api.responses import JSON
from tickets.engine.errors import TicketError
from tickets.engine.history import FeedQuery, NameIn, Page
from tickets.engine.messages import Problem, message
from tickets.engine.models import StatsQuery, TicketQuery
from tickets.engine.values import NUMBER_MAX, parse_ticket_id
from tickets.stores.base import TicketStore


def get_store(request: Request) -> TicketStore:
    """The store the app was made with (create_app): read from the app's state by each route, a plain lookup
    rather than Depends(), whose machinery cost a GET of one ticket about a fifth of its time (LEARNING.md)."""
    store: TicketStore = request.app.state.store
    return store


TicketId = Annotated[
    int, Path(ge=1, le=NUMBER_MAX, description="The ticket's id.", examples=[3]), BeforeValidator(parse_ticket_id)
]
CommentId = Annotated[
    int, Path(ge=1, le=NUMBER_MAX, description="The comment's id.", examples=[7]), BeforeValidator(parse_ticket_id)
]


def header_text(value: Any) -> Any:
    """A header as it was meant: curl sends 'Zoé' as UTF-8 bytes, which arrive read as Latin-1 ('ZoÃ©');
    a browser sends Latin-1 itself. UTF-8 when the bytes are UTF-8, else Latin-1 as read."""
    if isinstance(value, str):
        with suppress(UnicodeError):
            return value.encode("latin-1").decode("utf-8")
    return value


ActorHeader = Annotated[
    Annotated[NameIn, BeforeValidator(header_text)] | None,
    Header(
        alias="X-Actor",
        description="Who makes the change (1 to 100 characters), recorded in the history. "
        "With named API keys it is the key's name, and naming anyone else is a 403.",
    ),
]


class Forbidden(TicketError):
    """The request names someone else than its named API key (a 403)."""


def actor_of(request: Request, claimed: str | None) -> str | None:
    """Who makes this change: the name of the request's named key (and nobody else), else X-Actor, else None."""
    key_name = request.scope.get(KEY_NAME)
    if key_name is None:
        return claimed
    if claimed is not None and claimed != key_name:
        raise Forbidden(message("actor_not_key", claimed=claimed, key_name=key_name))
    return key_name


def sees_internal(request: Request) -> bool:
    """Whether the request may see internal notes and their events (every role but viewer)."""
    return request.scope.get(ROLE) != "viewer"


def corrector(request: Request) -> str | None:
    """Whose comments this request may correct: its named key's (an agent's), or anybody's (None: an admin key,
    or no named keys)."""
    return None if request.scope.get(ROLE, "admin") == "admin" else request.scope.get(KEY_NAME)


SINGLE_VALUED = sorted(
    {
        name
        for model in (TicketQuery, StatsQuery, Page, FeedQuery)
        for name, field in model.model_fields.items()
        if get_origin(field.annotation) is not list
    }
)


async def each_parameter_once(request: Request) -> None:
    """?assignee=a&assignee=b is ambiguous: a 400, not a silent choice of the last one (async: no I/O)."""
    repeated = [name for name in SINGLE_VALUED if len(request.query_params.getlist(name)) > 1]
    if repeated:
        raise RequestValidationError(
            [
                {"type": "too_many_values", "loc": ("query", name), "msg": str(once), "ctx": {"error": once}}
                for name in repeated
                for once in [Problem(message("query_once", name=name))]
            ]
        )


ONCE = [Depends(each_parameter_once)]


def one_ticket(answer: tuple[bytes, str], status_code: int = 200, **headers: str) -> Response:
    """A ticket's JSON with its ETag (and any other header): answer is what the store renders (TicketStore.render)."""
    body, etag = answer
    return Response(body, status_code, headers={"ETag": etag, **headers}, media_type=JSON)


def listing(items: list[Any], total: int | None = None) -> Response:
    """A list as JSON, with X-Total-Count when the total is given."""
    headers = {} if total is None else {"X-Total-Count": str(total)}
    return Response(pydantic_core.to_json(items), media_type=JSON, headers=headers)
