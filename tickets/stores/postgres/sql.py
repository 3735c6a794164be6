"""The SQL the PostgreSQL store speaks, built from parts that never hold a value (values go as parameters): the
columns, the step that records a write's event, the order of each sort key, the WHERE of the filters (the SLA's
from the derived columns and the moment of reading), the page of sort=due, and the conversions between rows and
the engine's tickets, comments and events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pydantic_core

from tickets.engine.breaches import EVENT, Breach
from tickets.engine.chain import canonical_event
from tickets.engine.history import Comment, Event
from tickets.engine.models import CLOCK_FIELDS, PUBLIC_FIELDS, Ticket, TicketFilters
from tickets.engine.rules import Reading
from tickets.engine.sla import micros
from tickets.engine.values import fold_text
from tickets.stores.postgres.derived import DERIVED, person_key
from tickets.stores.postgres.migrations import MIGRATION_LOCK

# The ticket's columns, named as its fields, in the order it stores them (models.complete); then those the service
# computes from it (derived.py). The JSON ones are passed as JSON text, cast in the statement.
FIELDS = (*PUBLIC_FIELDS, *CLOCK_FIELDS)
COLUMNS = ", ".join(FIELDS)
_CASTS = {
    "requester": "::jsonb",
    "paused": "::jsonb",
    "tags": "::text[]",
    "requester_keys": "::text[]",
    "breach_events": "::text[]",
}
WRITTEN = (*FIELDS[1:], *DERIVED)  # what an INSERT gives (the id comes from the sequence)
CHANGEABLE = tuple(c for c in WRITTEN if c != "created_at")  # what an UPDATE may change
_SET = ", ".join(f"{c} = %({c})s{_CASTS.get(c, '')}" for c in CHANGEABLE)

# Event ids must be handed out in the order the events become visible, or a poller of the feed could see
# event 11 before event 10 commits, and then never see 10. Every statement that adds an event takes this
# lock first; it is held until its transaction commits, so ids and commits follow one order.
EVENT_LOCK = MIGRATION_LOCK + 2
EVENT_COLUMNS = "id, ticket_id, at, actor, type, changes"
# The table's lock a write needs, taken first by a transaction that locks rows or takes the event lock before its
# UPDATE (a breach noticed, the sweep): asked for later, it queued behind a CREATE INDEX (a server starting up makes
# its trigram indexes IF NOT EXISTS) that waited for writers waiting for this transaction, a circle PostgreSQL did
# not break.
ROW_EXCLUSIVE = "LOCK TABLE tickets IN ROW EXCLUSIVE MODE"
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
# A ticket's writes: its new row (created at the policy's generation the service computed it with: see
# set_policy in store.py), or its changed row (at the version it read); each followed by EVENT_OF.
INSERT_TICKET = (
    f"WITH new AS (INSERT INTO tickets ({', '.join(WRITTEN)}) SELECT "
    + ", ".join(f"%({c})s{_CASTS.get(c, '')}" for c in WRITTEN)
    + " WHERE tickets_policy_generation() = %(generation)s RETURNING id)"
)
UPDATE_TICKET = (
    f"WITH changed AS (UPDATE tickets SET {_SET}, version = version + 1 "
    "WHERE id = %(id)s AND version = %(version)s RETURNING id)"
)
# A comment and its event, chained one after the other, with the ticket's new row (updated_at, first response).
# The event's changes are made by the service (comment_changes and changes_between, as the JSON store writes
# them) but for the comment's id, which is handed out here, after the lock: changes_rest is what follows it.
COMMENTED = f"""WITH changed AS (UPDATE tickets SET {_SET}, version = version + 1
        WHERE id = %(id)s AND version = %(version)s RETURNING id),
    locked AS (SELECT pg_advisory_xact_lock(%(lock)s) FROM changed),
    ids AS (SELECT changed.id AS ticket_id, nextval(pg_get_serial_sequence('comments', 'id')) AS comment_id,
        nextval(pg_get_serial_sequence('events', 'id')) AS id, tickets_last_digest() AS previous
        FROM changed, locked),
    made AS (SELECT ids.*, ('{{"comment_id":{{"from":null,"to":' || comment_id || %(changes_rest)s)::text AS changes,
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
COMMENT_PREFIX = '{"comment_id":{"from":null,"to":0'
# A comment as it reads now: its corrections applied over the record as first written.
CURRENT_COMMENT = (
    "id, ticket_id, author, coalesce(edited_body, body), coalesce(edited_internal, internal), created_at, edited_at"
)
CURRENT_COMMENT_KEYS = ("id", "ticket_id", "author", "body", "internal", "created_at", "edited_at")
# A correction: the comment as the service read it (or it is read again), then its event.
EDIT_COMMENT = """WITH changed AS (UPDATE comments SET edited_body = %(new_body)s, edited_internal = %(new_internal)s,
        edited_at = %(at)s
    WHERE id = %(comment_id)s AND ticket_id = %(id)s AND coalesce(edited_body, body) = %(old_body)s
        AND coalesce(edited_internal, internal) = %(old_internal)s RETURNING ticket_id AS id)"""
# A comment deleted alone: its record becomes an erased one (the trigger of migration 4 keeps its digest).
DELETE_COMMENT = """WITH gone AS (DELETE FROM comments
    WHERE id = %(comment_id)s AND ticket_id = %(id)s AND coalesce(edited_internal, internal) = %(old_internal)s
    RETURNING ticket_id AS id)"""
# What a viewer may not see (tickets.engine.history.about_internal): an event marked as about an internal note, or
# an older `commented` event whose comment is internal now.
# (Never null: NOT of it keeps the events it does not hide.)
HIDDEN_EVENT = """(e.type IN ('commented', 'comment_edited', 'comment_deleted') AND (
    coalesce(e.changes -> 'internal' ->> 'from', '') = 'true' OR coalesce(e.changes -> 'internal' ->> 'to', '') = 'true'
    OR (e.type = 'commented' AND EXISTS (SELECT 1 FROM comments c
        WHERE c.id = (e.changes -> 'comment_id' ->> 'to')::bigint AND c.ticket_id = e.ticket_id
            AND coalesce(c.edited_internal, c.internal)))))"""
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


NewEvent = tuple[int, str, str | None, str, dict[str, Any]]  # an event to write: ticket_id, at, actor, type, changes


def breach_events(ticket_id: int, breaches: Sequence[Breach]) -> list[NewEvent]:
    """The sla_breached events of a ticket's breaches (tickets.engine.breaches), to write (breaches.write_events)."""
    return [(ticket_id, b.at, None, EVENT, b.changes()) for b in breaches]


def ticket_params(ticket: Ticket | dict[str, Any], derived: list[Any]) -> dict[str, Any]:
    """The parameters of a ticket's row for INSERT_TICKET, UPDATE_TICKET and COMMENTED: its fields (the JSON ones
    as JSON text) and its derived columns (derived.derived_values)."""
    params = {f: ticket[f] for f in FIELDS}  # type: ignore[literal-required]
    params["requester"] = None if ticket["requester"] is None else json_text(ticket["requester"])
    params["paused"] = json_text(ticket["paused"])
    return {**params, **dict(zip(DERIVED, derived, strict=True))}


def copy_row(ticket: Ticket | dict[str, Any], derived: list[Any]) -> list[Any]:
    """A ticket's row for COPY (FIELDS, then DERIVED)."""
    params = ticket_params(ticket, derived)
    return [params[c] for c in (*FIELDS, *DERIVED)]


def comment_changes_rest(changes: dict[str, Any]) -> str:
    """What follows the comment's id in a `commented` event's changes (COMMENTED): changes names comment id 0."""
    text = json_text(changes)
    assert text.startswith(COMMENT_PREFIX), text
    return text[len(COMMENT_PREFIX) :]


def comment_of(row: Sequence[Any]) -> Comment:
    """A comment record as first written (COMMENT_COLUMNS)."""
    return dict(zip(COMMENT_COLUMNS.split(", "), row, strict=True))  # type: ignore[return-value]


def current_comment_of(row: Sequence[Any]) -> Comment:
    """A comment as it reads now (CURRENT_COMMENT)."""
    return dict(zip(CURRENT_COMMENT_KEYS, row, strict=True))  # type: ignore[return-value]


def event_of(row: Sequence[Any]) -> Event:
    return dict(zip(("id", "ticket_id", "at", "actor", "type", "changes"), row, strict=True))  # type: ignore[return-value]


def ticket_of(row: Sequence[Any]) -> Ticket:
    """A complete ticket from a row that starts with COLUMNS (it may go on past them)."""
    ticket = dict(zip(FIELDS, row, strict=False))
    requester = ticket["requester"]
    if requester is not None:  # jsonb keeps its keys in its own order: the stored order again
        ticket["requester"] = {"name": requester["name"], "email": requester.get("email")}
    return ticket  # type: ignore[return-value]


def computed_columns(ticket: Any) -> list[str]:
    """The text columns of migration 1 that the service computes: title_key, search texts."""
    return [ticket["title"].casefold(), fold_text(ticket["title"]), fold_text(ticket["description"])]


def counted_filters_only(filters: TicketFilters) -> bool:
    """Whether ticket_counts can answer how many tickets match (only status and priority filters)."""
    return (
        filters.assignee is None
        and not filters.q
        and filters.requester is None
        and not filters.tag
        and not filters.sla
        and filters.due_before is None
    )


def kept_by(filters: TicketFilters, status: str, priority: str) -> bool:
    return (not filters.status or status in filters.status) and (not filters.priority or priority in filters.priority)


def like_pattern(text: str) -> str:
    """A LIKE pattern that finds text anywhere, its own % _ and \\ taken literally."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


# --------------------------------------------------------------------------- the SLA at the moment of reading
#
# A ticket's state (tickets.engine.sla.state_of) from its derived columns: none unless its priority has a target;
# breached when a target is missed for good (plan_breached) or its next fixed due time is past (due_fixed before
# the bound of now: Calendar.before); else paused, met or on_track by its status.

_STATUSES_OF_STATE = {"paused": ("waiting",), "met": ("closed",), "on_track": ("open", "in_progress")}


def sla_terms(reading: Reading) -> tuple[list[str], int]:
    """The priorities that have a target, and the bound k such that a fixed due time b is past now when b < k."""
    return reading.policy.targeted(), reading.calendar.before(reading.now_us)


def state_case(reading: Reading) -> tuple[str, list[Any]]:
    """A CASE expression giving each row's SLA state now, and its parameters."""
    targeted, bound = sla_terms(reading)
    return (
        "CASE WHEN NOT (priority = ANY(%s::text[])) THEN 'none' "
        "WHEN plan_breached OR due_fixed < %s THEN 'breached' "
        "WHEN status = 'waiting' THEN 'paused' WHEN status = 'closed' THEN 'met' ELSE 'on_track' END",
        [targeted, bound],
    )


def sla_clause(
    states: Sequence[str], reading: Reading, fixed: bool | None = None, buckets: bool = False
) -> tuple[str, list[Any]]:
    """The rows whose SLA state now is one of states, written so that indexes can find them; fixed: whether the
    rows are known to have a due_fixed (True), known to have none (False), or either (None). buckets: for the rows
    of sla_counts that are not at the moment's bucket (sla_count)."""
    targeted, bound = sla_terms(reading)
    if buckets:
        bound = bound >> BUCKET
    parts: list[str] = []
    params: list[Any] = []
    if "none" in states:
        parts.append("NOT (priority = ANY(%s::text[]))")
        params.append(targeted)
    if "breached" in states:
        if fixed is False:
            parts.append("(priority = ANY(%s::text[]) AND plan_breached)")
            params.append(targeted)
        else:
            parts.append("(priority = ANY(%s::text[]) AND (plan_breached OR due_fixed < %s))")
            params += [targeted, bound]
    statuses = sorted({s for state in states for s in _STATUSES_OF_STATE.get(state, ())})
    if statuses:
        not_due = {False: "", True: " AND due_fixed >= %s", None: " AND (due_fixed IS NULL OR due_fixed >= %s)"}
        parts.append(f"(priority = ANY(%s::text[]) AND NOT plan_breached{not_due[fixed]} AND status = ANY(%s::text[]))")
        params += [targeted, *([] if fixed is False else [bound]), statuses]
    clause = "(" + " OR ".join(parts) + ")"
    return (clause.replace("due_fixed", "fixed_bucket") if buckets else clause), params


def where_clause(filters: TicketFilters, reading: Reading | None = None) -> tuple[str, list[Any]]:
    """The WHERE clause of the filters, and its parameters (never text pasted into SQL); the SLA filters need the
    reading (its policy and moment)."""
    clauses, params = conditions(filters, reading)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def conditions(
    filters: TicketFilters,
    reading: Reading | None = None,
    fixed: bool | None = None,
    left: bool | None = None,
    buckets: bool = False,
) -> tuple[list[str], list[Any]]:
    """The conditions of the filters, to be joined with AND, and their parameters; fixed and left: whether the
    rows are known to have a due_fixed, a due_left (True), none (False), or either (None): the conditions on them
    are then written so that their indexes give ranges. buckets: on the rows of sla_counts (sla_count)."""
    clauses: list[str] = []
    params: list[Any] = []
    for column, values in (("status", filters.status), ("priority", filters.priority)):
        if len(set(values)) == 1:
            clauses.append(f"{column} = %s")  # equality, so that an index can also give the order
            params.append(values[0])
        elif values:
            clauses.append(f"{column} = ANY(%s)")
            params.append(sorted(set(values)))
    if filters.unassigned:
        clauses.append("assignee IS NULL")
    elif filters.assignee is not None:
        clauses.append("assignee = %s")
        params.append(filters.assignee)
    if filters.q:
        clauses.append("(search_title LIKE %s OR search_description LIKE %s)")
        params += [like_pattern(fold_text(filters.q))] * 2
    if filters.requester is not None:
        clauses.append("requester_keys @> ARRAY[%s]::text[]")
        params.append(person_key(filters.requester))
    if filters.tag:
        clauses.append("tags @> %s::text[]")
        params.append(sorted(set(filters.tag)))
    if reading is not None and filters.sla:
        clause, more = sla_clause(filters.sla, reading, fixed, buckets)
        clauses.append(clause)
        params += more
    if reading is not None and filters.due_before is not None:
        # the next pending due time, min(due_fixed, B(now) + due_left), is before the bound of due_before
        bound = reading.calendar.before(micros(filters.due_before))
        terms = [(fixed, "due_fixed < %s", bound), (left, "due_left < %s", bound - reading.now_b)]
        if buckets:
            terms = [
                (known, sql.replace("due_", "").replace(" <", "_bucket <"), value >> BUCKET)
                for known, sql, value in terms
            ]
        kept = [(sql, value) for known, sql, value in terms if known is not False]
        clauses.append("(" + (" OR ".join(sql for sql, _ in kept) or "false") + ")")
        params += [value for _, value in kept]
    return clauses, params


# --------------------------------------------------------------------------- counts of the SLA filters
#
# sla_counts (migration 5) counts the tickets by status, priority, plan_breached and the buckets of their due
# columns (2^BUCKET business microseconds each). A row whose buckets are not those of the bounds of the moment
# (Calendar.before of now, of due_before) is wholly in or out of ?sla= and due_before: its n is added; the tickets
# of the buckets that hold a bound are counted one by one (an index range of a few hours of due times).

BUCKET = 32


def counted_by_sla_counts(filters: TicketFilters) -> bool:
    """Whether sla_counts can answer how many tickets match (status, priority, sla and due_before filters only)."""
    return filters.assignee is None and not filters.q and filters.requester is None and not filters.tag


def sla_count(filters: TicketFilters, reading: Reading) -> tuple[str, list[Any]]:
    """A statement counting the tickets that match filters (counted_by_sla_counts), and its parameters; its row:
    (the count, how many rows sla_counts has: when to fold them)."""
    edges: list[tuple[str, int]] = []  # (column, a bound): the bucket holding it is counted ticket by ticket
    if any(state != "none" for state in filters.sla):
        edges.append(("due_fixed", sla_terms(reading)[1]))
    if filters.due_before is not None:
        bound = reading.calendar.before(micros(filters.due_before))
        edges += [("due_fixed", bound), ("due_left", bound - reading.now_b)]
    in_buckets, params = conditions(filters, reading, buckets=True)
    if edges:
        in_buckets.append(
            "NOT ("
            + " OR ".join(f"coalesce({column.replace('due_', '')}_bucket = %s, false)" for column, _ in edges)
            + ")"
        )
        params += [value >> BUCKET for _, value in edges]
    # The tickets of the edge buckets, counted in the three disjoint sets that have a due column (each by its own
    # index, covering what the filters read): fixed alone, left alone, both.
    exact: list[str] = []
    for fixed, left, where in (
        (True, False, "due_fixed IS NOT NULL AND due_left IS NULL"),
        (False, True, "due_left IS NOT NULL AND due_fixed IS NULL"),
        (True, True, "due_fixed IS NOT NULL AND due_left IS NOT NULL"),
    ):
        held = {"due_fixed": fixed, "due_left": left}
        ranges = sorted({(column, value >> BUCKET) for column, value in edges if held[column]})
        if not ranges:
            continue
        clauses, more = conditions(filters, reading, fixed, left)
        exact.append(
            f"(SELECT count(*) FROM tickets WHERE {' AND '.join([where, *clauses])} AND ("
            + " OR ".join(f"({column} >= %s AND {column} < %s)" for column, _ in ranges)
            + "))"
        )
        params += more + [bound for _, bucket in ranges for bound in (bucket << BUCKET, (bucket + 1) << BUCKET)]
    return (
        "SELECT (SELECT coalesce(sum(n), 0) FROM sla_counts WHERE "
        + (" AND ".join(in_buckets) or "true")
        + ")"
        + "".join(f" + {count}" for count in exact)
        + ", (SELECT count(*) FROM sla_counts)",
        params,
    )


# --------------------------------------------------------------------------- sort=due
#
# The key is the next pending due time, min(due_fixed, B(now) + due_left); tickets without one come last (by id) in
# both directions, ties by ascending id (rules.sort_tickets). The rows with a key fall in three disjoint sets, each
# with an exact key its index orders (migration 5): due_fixed alone, due_left alone (B(now) + due_left keeps its
# order), both (rare: a target missed before the ticket began to wait; its key is computed). The first n of the
# page are among the first n of each set: each set gives n, in its index's order, and the merge orders them.


def due_page(filters: TicketFilters, reading: Reading, descending: bool, n: int | None) -> tuple[str, list[Any]]:
    """The ids and keys of the first n tickets in due order (n None: all), and the parameters: a statement whose
    rows are (id, key, part), to be ordered by part, key and id (due_order) and paged."""
    direction = " DESC" if descending else ""
    branches = (
        (True, False, "due_fixed IS NOT NULL AND due_left IS NULL", "due_fixed", "due_fixed"),
        (False, True, "due_left IS NOT NULL AND due_fixed IS NULL", "due_left + %s", "due_left"),
        (True, True, "due_fixed IS NOT NULL AND due_left IS NOT NULL", "least(due_fixed, due_left + %s)", "k"),
    )
    parts: list[str] = []
    params: list[Any] = []
    for fixed, left, condition, key, order in branches:
        clauses, where_params = conditions(filters, reading, fixed, left)
        where = " AND ".join([condition, *clauses])
        parts.append(f"(SELECT id, {key} AS k FROM tickets WHERE {where} ORDER BY {order}{direction}, id LIMIT %s)")
        params += [*([reading.now_b] if "%s" in key else []), *where_params, n]
    clauses, where_params = conditions(filters, reading, False, False)
    where = " AND ".join(["due_fixed IS NULL AND due_left IS NULL", *clauses])
    # The tickets without a due time come after all the others: read only as many as the others leave room for
    # (none when they fill the page: a LIMIT 0 reads nothing).
    room = "ALL" if n is None else "(SELECT greatest(0, %s - count(*)) FROM keyed)"
    statement = (
        "WITH keyed AS (SELECT id, k FROM (" + " UNION ALL ".join(parts) + ") AS branches) "
        "SELECT id, k, 0 AS part FROM keyed "
        f"UNION ALL (SELECT id, NULL::bigint, 1 FROM tickets WHERE {where} ORDER BY id LIMIT {room})"
    )
    return statement, [*params, *where_params, *([] if n is None else [n])]


def due_order(descending: bool) -> str:
    return "part, k" + (" DESC" if descending else "") + ", id"
