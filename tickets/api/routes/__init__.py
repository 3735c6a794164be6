"""One APIRouter per resource. Their order is the order of the routes: /tickets/stats comes before
/tickets/{ticket_id}, which would otherwise take 'stats' for an id."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from tickets.api.query_rules import QueryChecked
from tickets.api.responses import UNAVAILABLE


def resource_router(tag: str, responses: dict[int | str, dict[str, Any]] | None = None) -> APIRouter:
    """A resource's router: its routes refuse a query parameter they do not declare (QueryChecked), and say that
    any of them answers 503 when the store cannot be used. Its routes are made once, at import, and create_app
    puts these same routes in each app it makes."""
    return APIRouter(tags=[tag], route_class=QueryChecked, responses={503: UNAVAILABLE, **(responses or {})})
