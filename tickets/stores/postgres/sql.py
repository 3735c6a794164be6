"""The SQL the PostgreSQL store speaks, built from parts that never hold a value (values go as parameters): the
columns, the step that records a write's event, the order of each sort key, the WHERE of the filters, and the
conversions between rows and the engine's tickets, comments and events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pydantic_core

from tickets.engine.chain import canonical_event
from tickets.engine.history import (
    Comment,
    Event,
)
from tickets.engine.models import Ticket, TicketFilters
from tickets.engine.values import fold_text
from tickets.stores.postgres.migrations import MIGRATION_LOCK

FIELDS = ("id", "title", "description", "status", "priority", "assignee", "created_at", "updated_at")
COLUMNS = ", ".join(FIELDS)

# Event ids must be handed out in the order the events become visible, or a poller of the feed could see
# event 11 before event 10 commits, and then never see 10. Every statement that adds an event takes this
# lock first; it is held until its transaction commits, so ids and commits follow one order.
EVENT_LOCK = MIGRATION_LOCK + 2
EVENT_COLUMNS = "id, ticket_id, at, actor, type, changes"
COMMENT_COLUMNS = "id, ticket_id, author, body, internal, created_at"
# The last step of every write: its event, after the lock, from the row the statement changed, with its digest
# chained to the last event's (tickets_last_digest(), a fresh snapshot taken after the lock: see migration 0004).
EVENT_OF = """, locked AS (SELECT pg_advisory_xact_lock({lock}) FROM {rows}),
    ids AS (SELECT {rows}.id AS ticket_id, nextval(pg_get_serial_sequence('events', 'id')) AS id,
        tickets_last_digest() AS previous FROM {rows}, locked)
    INSERT INTO events (id, ticket_id, at, actor, type, changes, closes, digest)
    SELECT ids.id, ids.ticket_id, %(at)s, %(actor)s, %(type)s, %(changes)s::json, %(closes)s,
        sha256(ids.previous || convert_to('{{"id":' || ids.id || ',"ticket_id":' || ids.ticket_id || %(rest)s, 'UTF8'))
    FROM ids"""
# A comment and its event, chained one after the other.
COMMENTED = """WITH changed AS (UPDATE tickets SET updated_at = %(updated_at)s, version = version + 1
        WHERE id = %(id)s AND version = %(version)s RETURNING id),
    locked AS (SELECT pg_advisory_xact_lock(%(lock)s) FROM changed),
    ids AS (SELECT changed.id AS ticket_id, nextval(pg_get_serial_sequence('comments', 'id')) AS comment_id,
        nextval(pg_get_serial_sequence('events', 'id')) AS id, tickets_last_digest() AS previous
        FROM changed, locked),
    made AS (SELECT ids.*, ('{"comment_id":{"from":null,"to":' || comment_id || '}}')::text AS changes,
        sha256(previous || tickets_comment_bytes(comment_id, ticket_id, %(author)s, %(body)s, %(internal)s, %(at)s))
        AS comment_digest FROM ids),
    new AS (INSERT INTO comments (id, ticket_id, author, body, internal, created_at, digest)
        SELECT comment_id, ticket_id, %(author)s, %(body)s, %(internal)s, %(at)s, comment_digest FROM made
        RETURNING id)
    INSERT INTO events (id, ticket_id, at, actor, type, changes, closes, digest)
    SELECT made.id, made.ticket_id, %(at)s, %(actor)s, 'commented', made.changes::json, false,
        sha256(made.comment_digest || tickets_event_bytes(made.id, made.ticket_id, %(at)s, %(actor)s, 'commented',
            made.changes::json))
    FROM made, new RETURNING (changes -> 'comment_id' ->> 'to')::bigint"""
# Comments no `commented` event names (none, unless written by hand): first in the chain.
ORPHAN_COMMENTS = f"""SELECT {COMMENT_COLUMNS}, digest FROM comments c WHERE NOT EXISTS (SELECT 1 FROM events e
    WHERE e.type = 'commented' AND (e.changes -> 'comment_id' ->> 'to')::bigint = c.id) ORDER BY id"""
# The history in the chain's order, each comment (or what is left of it) on the row of its `commented` event.
RECORDS = """SELECT e.id, e.ticket_id, e.at, e.actor, e.type, e.changes, e.digest,
        c.id, c.ticket_id, c.author, c.body, c.internal, c.created_at, c.digest, x.id, x.ticket_id, x.digest
    FROM events e
    LEFT JOIN comments c ON e.type = 'commented' AND c.id = (e.changes -> 'comment_id' ->> 'to')::bigint
    LEFT JOIN erased_comments x ON e.type = 'commented' AND x.id = (e.changes -> 'comment_id' ->> 'to')::bigint
    ORDER BY e.id"""

ORDER_COLUMNS = {
    "id": "id",
    "priority": "priority_rank",
    "status": "status_rank",
    "created_at": "created_at",
    "updated_at": "updated_at",
    "title": "title_key",
}


def json_text(value: Any) -> str:
    """JSON text as the JSON store writes it (compact, non-ASCII as itself)."""
    return pydantic_core.to_json(value).decode()


def event_params(kind: str, changes: dict[str, Any], at: str, actor: str | None) -> dict[str, Any]:
    """The parameters of an event, for EVENT_OF; rest: its canonical bytes after its id and ticket id (which the
    statement gives), made here once (tickets.engine.chain), so that the statement only joins them."""
    changes_json = json_text(changes)
    rest = canonical_event({"id": 0, "ticket_id": 0, "at": at, "actor": actor, "type": kind, "changes": changes})
    return {
        "type": kind,
        "changes": changes_json,
        "at": at,
        "actor": actor,
        "closes": changes.get("status", {}).get("to") == "closed",
        "rest": rest[len(b'{"id":0,"ticket_id":0') :].decode(),
    }


def comment_of(row: Sequence[Any]) -> Comment:
    return dict(zip(COMMENT_COLUMNS.split(", "), row, strict=True))  # type: ignore[return-value]


def event_of(row: Sequence[Any]) -> Event:
    return dict(zip(("id", "ticket_id", "at", "actor", "type", "changes"), row, strict=True))  # type: ignore[return-value]


def ticket_of(row: Sequence[Any]) -> Ticket:
    return dict(zip(FIELDS, row, strict=False))  # type: ignore[return-value]  # a row may go on past the fields


def computed_columns(ticket: Any) -> list[str]:
    """The columns the service computes, with the JSON store's own functions: title_key, search texts."""
    return [ticket["title"].casefold(), fold_text(ticket["title"]), fold_text(ticket["description"])]


def counted_filters_only(filters: TicketFilters) -> bool:
    """Whether ticket_counts can answer how many tickets match (no assignee, no text search)."""
    return filters.assignee is None and not filters.q


def kept_by(filters: TicketFilters, status: str, priority: str) -> bool:
    return (not filters.status or status in filters.status) and (not filters.priority or priority in filters.priority)


def like_pattern(text: str) -> str:
    """A LIKE pattern that finds text anywhere, its own % _ and \\ taken literally."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def where_clause(filters: TicketFilters) -> tuple[str, list[Any]]:
    """The WHERE clause of the filters, and its parameters (never text pasted into SQL)."""
    clauses: list[str] = []
    params: list[Any] = []
    for column, values in (("status", filters.status), ("priority", filters.priority)):
        if len(set(values)) == 1:
            clauses.append(f"{column} = %s")  # equality, so that an index can also give the order
            params.append(values[0])
        elif values:
            clauses.append(f"{column} = ANY(%s)")
            params.append(sorted(set(values)))
    if filters.assignee is not None:
        clauses.append("assignee = %s")
        params.append(filters.assignee)
    if filters.q:
        clauses.append("(search_title LIKE %s OR search_description LIKE %s)")
        params += [like_pattern(fold_text(filters.q))] * 2
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params
