"""The shape of a ticket as the API answers it, for the OpenAPI schema (the routes send bytes the stores render)."""

from __future__ import annotations

from pydantic import ConfigDict, JsonValue, with_config
from typing_extensions import TypedDict

from tickets.engine.models import Requester, SlaState
from tickets.engine.values import Priority, Status, Timestamp

_TICKET_EXAMPLE: dict[str, JsonValue] = {
    "id": 3,
    "title": "Imprimante du 2e étage hors service",
    "description": "Bourrage papier permanent, le voyant clignote en orange.",
    "status": "in_progress",
    "priority": "high",
    "assignee": "karim.benali",
    "requester": {"name": "Claire Dubois", "email": "claire.dubois@example.fr"},
    "tags": ["impression", "materiel"],
    "created_at": "2026-11-20T09:14:00Z",
    "updated_at": "2026-11-20T10:02:31Z",
    "first_response_at": "2026-11-20T09:40:00Z",
    "resolved_at": None,
    "first_response_due": "2026-11-20T10:14:00Z",
    "resolution_due": "2026-11-23T09:14:00Z",
    "sla_state": "on_track",
}


@with_config(ConfigDict(extra="forbid", json_schema_extra={"examples": [_TICKET_EXAMPLE]}))
class Ticket(TypedDict):
    """A ticket as the API returns it: what it stores, and its SLA as of the moment of the answer."""

    id: int
    title: str
    description: str
    status: Status
    priority: Priority
    assignee: str | None
    requester: Requester | None
    tags: list[str]
    created_at: Timestamp
    updated_at: Timestamp
    first_response_at: Timestamp | None
    resolved_at: Timestamp | None
    first_response_due: Timestamp | None
    resolution_due: Timestamp | None
    sla_state: SlaState
