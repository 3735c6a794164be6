"""The history: a ticket's events, and the feed of every change to poll."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, Response

from tickets.api.dependencies import (
    ONCE,
    TicketId,
    get_store,
    listing,
    sees_internal,
)
from tickets.api.responses import (
    BAD_REQUEST,
    NO_TICKET_EVER,
    TOTAL_OF_TICKET,
)
from tickets.api.routes import resource_router
from tickets.engine.history import Event, FeedQuery, Page

router = resource_router("history")


@router.get(
    "/tickets/{ticket_id}/events",
    summary="Read a ticket's history",
    response_model=list[Event],
    dependencies=ONCE,
    responses={200: {"headers": TOTAL_OF_TICKET}, 400: BAD_REQUEST, 404: NO_TICKET_EVER},
)
async def list_events(request: Request, ticket_id: TicketId, page: Annotated[Page, Query()]) -> Response:
    """Every creation, change, comment and deletion of the ticket, oldest first, with who and when; also
    after the ticket was deleted. X-Total-Count counts them all, before limit and offset."""
    return listing(*await get_store(request).events(ticket_id, page, sees_internal(request)))


@router.get(
    "/events",
    summary="Follow every change (a feed to poll)",
    response_model=list[Event],
    dependencies=ONCE,
    responses={400: BAD_REQUEST},
)
async def event_feed(request: Request, query: Annotated[FeedQuery, Query()]) -> Response:
    """Every event of every ticket, in id order. Poll with after = the last id you saw: ids are given in the
    order changes are committed, so you miss none and see none twice, even while writes go on."""
    return listing(await get_store(request).feed(query.after, query.limit, sees_internal(request)))
