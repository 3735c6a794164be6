"""The statistics: counts by status and priority, opened and closed per day."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, status
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from tickets.api.dependencies import (
    ONCE,
    get_store,
)
from tickets.api.responses import (
    BAD_REQUEST,
)
from tickets.api.routes import resource_router
from tickets.engine.models import Stats, StatsQuery

router = resource_router("statistics")


@router.get("/tickets/stats", summary="Count tickets", responses={400: BAD_REQUEST}, dependencies=ONCE)
async def ticket_stats(request: Request, query: Annotated[StatsQuery, Query()]) -> Stats:
    """How many tickets match the filters, by status and by priority (every key present); and, from the
    history of every ticket (the filters do not apply to it), how many were opened and closed on each
    of the last `days` days (UTC), oldest first, zeros included."""
    return await get_store(request).stats(query)


def stats_is_read_only() -> None:
    """Without this, PATCH /tickets/stats would reach /tickets/{ticket_id} and be a 400 on the id 'stats'."""
    raise HTTPException(status.HTTP_405_METHOD_NOT_ALLOWED, "Method Not Allowed")


# A plain APIRoute, not QueryChecked: a method the path does not answer is a 405 whatever its query says.
router.add_api_route(
    "/tickets/stats",
    stats_is_read_only,
    methods=["POST", "PUT", "PATCH", "DELETE"],
    include_in_schema=False,
    route_class_override=APIRoute,
)
