"""The SQL the PostgreSQL store speaks, built from parts that never hold a value (values go as parameters): the
columns, the step that records a write's event, the order of each sort key, the WHERE of the filters (the SLA's
from the derived columns and the moment of reading), the page of sort=due, and the conversions between rows and
the engine's tickets, comments and events."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import pydantic_core

from tickets.engine.breaches import EVENT, Breach
from tickets.engine.chain import canonical_event
from tickets.engine.history import Comment, Event
from tickets.engine.models import CLOCK_FIELDS, PUBLIC_FIELDS, Ticket, TicketFilters
from tickets.engine.rules import Reading
from tickets.engine.sla import micros
from tickets.engine.values import PRIORITIES, STATUSES, fold_text
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
    # without their final Z, times of any precision sort right (tickets.engine.values.time_key)
    "created_at": "left(created_at, -1)",
    "updated_at": "left(updated_at, -1)",
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


def planned_once(filters: TicketFilters) -> bool:
    """Whether one plan fits a statement of these filters whatever their values (so it may be prepared, and
    PostgreSQL keep its generic plan): not when a value decides how many rows match (a tag, a requester, a text,
    an assignee's name)."""
    return (
        not filters.tag
        and filters.requester is None
        and not filters.q
        and (filters.assignee is None or filters.unassigned)
    )


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


def statuses_kept(filters: TicketFilters) -> list[str] | None:
    """The statuses a ticket matching the filters can have, when they are not all of them (None): those of
    ?status=, and those of the ?sla= states if each state is one of some statuses (paused, met, on_track; not
    breached, not none)."""
    kept = set(filters.status or STATUSES)
    if filters.sla and all(state in _STATUSES_OF_STATE for state in filters.sla):
        kept &= {s for state in filters.sla for s in _STATUSES_OF_STATE[state]}
    return None if kept == set(STATUSES) else sorted(kept)


def sla_terms(reading: Reading) -> tuple[list[str], int]:
    """The priorities that have a target, and the bound k such that a fixed due time b is past now when b < k."""
    return reading.policy.targeted(), reading.calendar.before(reading.now_us)


def time_bound(kept: bool) -> str:
    """Where a bound of due times goes in a statement. kept: through a sub-select, which the planner reads as an
    unknown value: the statement then gets the same plan for every reading, which PostgreSQL keeps once it is
    prepared (no planning at each page, 0.2 to 0.4 ms at a million tickets), for statements whose plan never
    depends on the bound (ordered walks and ranges of the due indexes); with the value itself, PostgreSQL plans
    again at each page because the plans of the values it sees look cheaper than the one it could keep."""
    return "(SELECT %s::bigint)" if kept else "%s"


def _one_of(column: str, values: Sequence[str]) -> str:
    """A condition on words of the service's own vocabulary (statuses, priorities: never input), written in the
    statement, so that it does not vary from one reading to the next: an equality for one word (an index of
    (status, id) gives that status in id order)."""
    words = sorted(set(values))
    assert all(word in (*STATUSES, *PRIORITIES) for word in words), words
    if len(words) == 1:
        return f"{column} = '{words[0]}'"
    return f"{column} IN ({', '.join(repr(word) for word in words)})"


def _targeted_term(targeted: list[str]) -> str | None:
    """The condition "the ticket's priority has a target": none when every priority has one (a condition always
    true only hides from the planner which index fits), false when none has."""
    if set(targeted) >= set(PRIORITIES):
        return None
    if not targeted:
        return "false"
    return _one_of("priority", targeted)


def state_case(reading: Reading) -> tuple[str, list[Any]]:
    """A CASE expression giving each row's SLA state now, and its parameters."""
    targeted, bound = sla_terms(reading)
    return (
        "CASE WHEN NOT (priority = ANY(%s::text[])) THEN 'none' "
        "WHEN plan_breached OR due_fixed < %s THEN 'breached' "
        "WHEN status = 'waiting' THEN 'paused' WHEN status = 'closed' THEN 'met' ELSE 'on_track' END",
        [targeted, bound],
    )


class Bound(int):
    """A value of the moment of reading in a statement's parameters (bounds_of's, or B(now): now_b), with its
    name: a statement kept for its query (statements.py) is given the values of the next reading in their places.
    It is the int it holds everywhere else; what is computed from it (a bucket) is a plain int."""

    name: str

    def __new__(cls, name: str, value: int) -> Bound:
        bound = super().__new__(cls, value)
        bound.name = name
        return bound


def bounds_of(filters: TicketFilters, reading: Reading) -> dict[str, int]:
    """The bounds of due times that the filters compare with, at the moment of reading, in business microseconds:
    sla, before which a fixed due time is past (the SLA states); fixed and left, due_before's on due_fixed and on
    due_left (the next pending due time, min(due_fixed, B(now) + due_left), is before the bound of due_before).
    Those of the last reading are kept: the statements of a page ask for them a dozen times."""
    global _last_bounds
    last = _last_bounds
    if last is not None and last[0] is reading and last[1] == filters.due_before:
        return last[2]
    found: dict[str, int] = {"sla": Bound("sla", sla_terms(reading)[1])}
    if filters.due_before is not None:
        bound = reading.calendar.before(micros(filters.due_before))
        found |= {"fixed": Bound("fixed", bound), "left": Bound("left", bound - reading.now_b)}
    _last_bounds = (reading, filters.due_before, found)  # one reference, swapped whole
    return found


_last_bounds: tuple[Reading, str | None, dict[str, int]] | None = None  # the last bounds_of's


def sla_clause(
    states: Sequence[str],
    reading: Reading,
    fixed: bool | None = None,
    buckets: bool = False,
    kept: bool = False,
    bound: int | None = None,
) -> tuple[str, list[Any]]:
    """The rows whose SLA state now is one of states, written so that indexes can find them; fixed: whether the
    rows are known to have a due_fixed (True), known to have none (False), or either (None). buckets: for the rows
    of sla_counts (sla_count). kept: the bound as time_bound says. bound: the one of the moment unless given."""
    targeted, bound = (reading.policy.targeted(), bound) if bound is not None else sla_terms(reading)
    if buckets:
        bound = bound >> BUCKET
    term = _targeted_term(targeted)
    at = time_bound(kept)
    parts: list[str] = []
    params: list[Any] = []

    def targeted_and(condition: str, more: list[Any]) -> None:
        if term == "false":
            return  # no priority has a target: no ticket is in this state
        parts.append(f"({term} AND {condition})" if term else f"({condition})")
        params.extend(more)

    if "none" in states and term is not None:  # else every ticket has a target: none is in no state
        parts.append("true" if term == "false" else f"NOT ({term})")
    if "breached" in states:
        if fixed is False:
            targeted_and("plan_breached", [])
        else:
            targeted_and(f"(plan_breached OR due_fixed < {at})", [bound])
    statuses = sorted({s for state in states for s in _STATUSES_OF_STATE.get(state, ())})
    if statuses:
        not_due = {False: "", True: f" AND due_fixed >= {at}", None: f" AND (due_fixed IS NULL OR due_fixed >= {at})"}
        targeted_and(
            f"NOT plan_breached{not_due[fixed]} AND {_one_of('status', statuses)}", [] if fixed is False else [bound]
        )
    clause = "(" + (" OR ".join(parts) or "false") + ")"
    return (clause.replace("due_fixed", "fixed_bucket") if buckets else clause), params


# ?assignee=none, written as migration 13's indexes say it (their predicate): the planner takes an index whose
# predicate the statement's conditions imply as written.
UNASSIGNED = "assignee IS NULL"


def where_clause(
    filters: TicketFilters, reading: Reading | None = None, dense: bool = False, kept: bool = False
) -> tuple[str, list[Any]]:
    """The WHERE clause of the filters, and its parameters (never text pasted into SQL); the SLA filters need the
    reading (its policy and moment); dense and kept: as conditions says."""
    clauses, params = conditions(filters, reading, kept=kept, dense=dense)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def conditions(
    filters: TicketFilters,
    reading: Reading | None = None,
    fixed: bool | None = None,
    left: bool | None = None,
    buckets: bool = False,
    kept: bool = False,
    dense: bool = False,
    bounds: dict[str, int] | None = None,
) -> tuple[list[str], list[Any]]:
    """The conditions of the filters, to be joined with AND, and their parameters; fixed and left: whether the
    rows are known to have a due_fixed, a due_left (True), none (False), or either (None): the conditions on them
    are then written so that their indexes give ranges. buckets: on the rows of sla_counts (sla_count). kept: the
    bounds of due times as time_bound says. dense: the tag and the assignee match many tickets (their counts
    say so): written so that no index finds them (IS TRUE; the tag as a call of arraycontains, the function of @>)
    and the planner does not see their values (a sub-select, as time_bound does), the plan walks the index of the
    order and keeps the entries that match, the same for all values: PostgreSQL keeps it once the statement is
    prepared. A function call is estimated to keep a third of the rows, `(tags @> ...) IS TRUE` 0.5 %: with that,
    any walk looked like a read of the whole index, and one walked the wrong index (LEARNING.md, 2026-11-29).
    bounds: bounds_of's, unless given."""
    if reading is not None and bounds is None:
        bounds = bounds_of(filters, reading)
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
        clauses.append(UNASSIGNED)
    elif filters.assignee is not None:
        clauses.append("(assignee = (SELECT %s::text)) IS TRUE" if dense else "assignee = %s")
        params.append(filters.assignee)
    if filters.q:
        clauses.append("(search_title LIKE %s OR search_description LIKE %s)")
        params += [like_pattern(fold_text(filters.q))] * 2
    if filters.requester is not None:
        clauses.append("requester_keys @> ARRAY[%s]::text[]")
        params.append(person_key(filters.requester))
    if filters.tag:
        clauses.append("arraycontains(tags, (SELECT %s::text[]))" if dense else "tags @> %s::text[]")
        params.append(sorted(set(filters.tag)))
    if reading is not None and filters.sla:
        clause, more = sla_clause(filters.sla, reading, fixed, buckets, kept, bounds["sla"] if bounds else None)
        clauses.append(clause)
        params += more
    if bounds is not None and filters.due_before is not None:
        # the next pending due time, min(due_fixed, B(now) + due_left), is before the bound of due_before
        at = time_bound(kept)
        terms = [(fixed, f"due_fixed < {at}", bounds["fixed"]), (left, f"due_left < {at}", bounds["left"])]
        if buckets:
            terms = [
                (known, sql.replace("due_", "").replace(" <", "_bucket <"), value >> BUCKET)
                for known, sql, value in terms
            ]
        held = [(sql, value) for known, sql, value in terms if known is not False]
        clauses.append("(" + (" OR ".join(sql for sql, _ in held) or "false") + ")")
        params += [value for _, value in held]
    return clauses, params


# --------------------------------------------------------------------------- counts of the SLA filters
#
# sla_counts (migration 5) counts the tickets by status, priority, plan_breached and the buckets of their due
# columns (2^BUCKET business microseconds each). A row whose buckets are not those of the bounds of the moment
# (Calendar.before of now, of due_before) is wholly in or out of ?sla= and due_before: its n is added; in a bucket
# that holds a bound, the tickets from the bound on answer as the bucket's rows do (not before the bound), and only
# those before it are corrected one by one (some 370 index entries at a million tickets for ?sla=breached). The
# store keeps what depends only on the buckets (the sums, and the tickets of each bucket whose answer a bound can
# change: Tally) with the snapshot it read them in, and reads them again only once something was written
# (SlaCount): between two writes, a count reads neither sla_counts nor the tickets of the buckets, and it runs
# no statement at all while the clock has not passed the next due time that changes an answer (SlaCount.answered).

BUCKET = 32
_SETS = {  # the sets with a due column, as sla_counts' rows tell them apart
    "F": ("due_fixed IS NOT NULL AND due_left IS NULL", "fixed_bucket IS NOT NULL AND left_bucket IS NULL"),
    "L": ("due_left IS NOT NULL AND due_fixed IS NULL", "left_bucket IS NOT NULL AND fixed_bucket IS NULL"),
    "B": ("due_fixed IS NOT NULL AND due_left IS NOT NULL", "fixed_bucket IS NOT NULL AND left_bucket IS NOT NULL"),
}


def counted_by_sla_counts(filters: TicketFilters) -> bool:
    """Whether sla_counts can answer how many tickets match (status, priority, sla and due_before filters only)."""
    return filters.assignee is None and not filters.q and filters.requester is None and not filters.tag


# What the store reads: the transactions committed and running (the same rows are seen while it is the same), on
# this run of the server (the ids of transactions go on from one run to the next, but a copy restored from a backup,
# or a standby promoted, could hand out again the ids this process saw, with other rows).
SNAPSHOT = "pg_current_snapshot()::text || ' ' || extract(epoch FROM pg_postmaster_start_time())::text"
# The policy's row (see policy.POLICY_ROW; NULLs when none is set) and the snapshot of this moment: a count of ?sla=
# whose parts were kept in the same snapshot is answered from them (SlaCount.answered), without its statement.
POLICY_SEEN = f"SELECT (SELECT policy::text FROM sla_policy), (SELECT generation FROM sla_policy), {SNAPSHOT}"


class Tally(NamedTuple):
    """The tickets of a bound's bucket, from its start to upto (excluded), whose answer differs from the one its
    rows of sla_counts gave them (that of a bound at the bucket's start), by due time: those the moment of reading
    adds, and those it takes away. The tickets before a bound (not after upto) count (bisect). upto is the due
    time of the next such ticket after the last bound read (or the bucket's end): until the clock reaches it, no
    ticket changes its answer, and the Tally answers alone."""

    added: list[int]
    taken: list[int]
    upto: int

    def before(self, bound: int) -> int:
        assert bound <= self.upto, (bound, self.upto)
        return bisect.bisect_left(self.added, bound) - bisect.bisect_left(self.taken, bound)

    def extended(self, marked: list[int], bound: int) -> Tally:
        """With the tickets read from self.upto (as tally_of says) for a bound in its bucket."""
        more = tally_of(marked, bound, self.upto)
        return Tally(self.added + more.added, self.taken + more.taken, more.upto)


def tally_of(marked: list[int], bound: int, start: int | None = None) -> Tally:
    """The Tally of the tickets sla_count read for a bound from start (the bucket's start unless given): those
    before the bound, then the next one (if any, before the bucket's end), each due time doubled, plus 1 when it
    adds, in order."""
    start = (bound >> BUCKET) << BUCKET if start is None else start
    reach = max(bound, start)
    before = [m for m in marked if m >> 1 < reach]
    assert len(marked) - len(before) <= 1, marked  # the next one, alone
    upto = marked[-1] >> 1 if len(before) < len(marked) else ((bound >> BUCKET) + 1) << BUCKET
    return Tally([m >> 1 for m in before if m & 1], [m >> 1 for m in before if not m & 1], upto)


class SlaKept(NamedTuple):
    """The parts of a count of ?sla= and due_before the store keeps, and the snapshot it read them in."""

    snapshot: str
    sums: int  # over sla_counts
    tallies: list[Tally | None]  # None: not read yet (the count that saw this snapshot first counted instead)
    pairs: list[list[int]] | None  # the due times (fixed, left) of the tickets SlaCount.pairs says, when it does


class SlaCount(NamedTuple):
    """A statement counting the tickets that match filters (sla_count), and what reads its row.

    Its row: its snapshot; [the sums over sla_counts, how many rows it has: when to fold them], or NULL when its
    snapshot is the one the kept parts were read in; for each bound's bucket, in a snapshot not seen before, the
    count of its tickets before the bound (and NULL), else (NULL and) their marked due times, from the bucket's
    start or from where the kept Tally stops, and the next one after the bound; the tickets counted one by one.
    Two statements whose snapshots are the same (the same transactions committed, the same ones running) see the
    same rows; a subquery in a branch of CASE that is not taken never runs."""

    statement: str
    params: list[Any]  # after the snapshot kept, with None where each Tally's upto goes (slots)
    slots: list[tuple[int, int]]  # the places of each Tally's upto
    key: tuple[Any, ...]  # the statements of the parts kept and their parameters: buckets, never the bounds
    bounds: list[int]  # the bound in each bucket with a Tally, in the order of the statement's
    kept_only: bool  # whether every part is kept (none counted one by one at each reading)
    # due_before's bounds (fixed, left), when the tickets with both due times in their buckets are read with them
    # (a few: a target missed before the ticket began to wait), and kept: each is before due_before or not
    pairs: tuple[int, int] | None

    def answered(self, kept: SlaKept | None, snapshot: str) -> int | None:
        """The count from the parts kept alone, without the statement, when they answer it: kept in this snapshot
        (read with the policy: nothing written since), every part kept, each Tally read and reaching its bound;
        else None."""
        if kept is None or kept.snapshot != snapshot or not self.kept_only:
            return None
        total = kept.sums + self._paired(kept.pairs)
        for tally, bound in zip(kept.tallies, self.bounds, strict=True):
            if tally is None or bound > tally.upto:
                return None
            total += tally.before(bound)
        return total

    def _paired(self, pairs: list[list[int]] | None) -> int:
        """How many of the tickets read with their two due times are before due_before's bounds."""
        if self.pairs is None:
            return 0
        assert pairs is not None, "sla_count read no pairs"
        fixed, left = self.pairs
        return sum(1 for due_fixed, due_left in pairs if due_fixed < fixed or due_left < left)

    def arguments(self, kept: SlaKept | None) -> list[Any]:
        """The statement's parameters, given the parts kept (or None)."""
        params = [None if kept is None else kept.snapshot, *self.params]
        if kept is not None:
            for slots, tally in zip(self.slots, kept.tallies, strict=True):
                for slot in slots:
                    params[slot + 1] = None if tally is None else tally.upto
        return params

    def total(self, kept: SlaKept | None, row: tuple[Any, ...]) -> tuple[int, SlaKept, int | None]:
        """The count, the parts to keep, and how many rows sla_counts has (None: not read), from the row."""
        snapshot, read, *parts, counted = row
        pairs = parts.pop() if self.pairs is not None else None
        if read is not None:  # a snapshot not seen before: the tickets before each bound were counted
            befores = parts[0::2]
            kept = SlaKept(snapshot, read[0], [None] * len(befores), pairs)
            return kept.sums + sum(befores) + self._paired(pairs) + counted, kept, read[1]
        assert kept is not None and kept.snapshot == snapshot, "sla_count skipped its parts for another snapshot"
        tallies = [
            tally_of(marked, bound) if tally is None else tally.extended(marked, bound)
            for tally, marked, bound in zip(kept.tallies, parts[1::2], self.bounds, strict=True)
        ]  # reaching their bounds (each read up to its bound, and the next ticket after it)
        total = kept.sums + sum(t.before(b) for t, b in zip(tallies, self.bounds, strict=True)) + counted
        return total + self._paired(pairs), SlaKept(snapshot, kept.sums, list(tallies), pairs), None


def sla_count(filters: TicketFilters, reading: Reading) -> SlaCount:
    """A statement counting the tickets that match filters (counted_by_sla_counts): SlaCount. Its plan never
    depends on the bounds (kept once prepared: time_bound)."""
    at = time_bound(True)
    bounds = bounds_of(filters, reading)
    edges: list[tuple[str, str]] = []  # (column, bound's name): the bucket holding the bound is counted apart
    if any(state != "none" for state in filters.sla):
        edges.append(("due_fixed", "sla"))
    if filters.due_before is not None:
        edges += [("due_fixed", "fixed"), ("due_left", "left")]
    sums, params = [], []  # the sums over sla_counts, and their parameters
    bulk, more = conditions(filters, reading, buckets=True, kept=True, bounds=bounds)
    if edges:
        bulk.append("NOT (" + " OR ".join(f"coalesce({column[4:]}_bucket = {at}, false)" for column, _ in edges) + ")")
        more += [bounds[name] >> BUCKET for _, name in edges]
    sums.append(" AND ".join(bulk) or "true")
    params += more
    tallies: list[str] = []  # the statements of each Tally, and their parameters
    tallies_params: list[Any] = []
    slots: list[tuple[int, int]] = []  # where each Tally's upto goes in tallies_params
    keyed: list[Any] = []  # the parameters of the Tallies that are not bounds of the moment
    values: list[int] = []
    counts: list[str] = []  # the counts of tickets, and their parameters
    counts_params: list[Any] = []
    paired, paired_params, pairs = "", [], None  # due_before's tickets with both due times in its buckets
    for name, (fixed, left) in (("F", (True, False)), ("L", (False, True)), ("B", (True, True))):
        held = {"due_fixed": fixed, "due_left": left}
        mine = [(column, bound) for column, bound in edges if held[column]]
        buckets = {(column, bounds[bound] >> BUCKET) for column, bound in mine}
        if not buckets:
            continue
        where, rows = _SETS[name]
        if name == "B" and sorted(bound for _, bound in mine) == ["fixed", "left"]:
            # due_before alone: the tickets of these buckets read with their due times, kept (SlaCount.pairs)
            clauses, more = conditions(TicketFilters(status=filters.status, priority=filters.priority))
            paired = (
                "(SELECT coalesce(array_agg(ARRAY[due_fixed, due_left]), '{}') FROM tickets WHERE "
                + " AND ".join([where, *clauses])
                + f" AND ((due_fixed >= {at} AND due_fixed < {at}) OR (due_left >= {at} AND due_left < {at}))), "
            )
            paired_params = [
                *more,
                *(edge for _, bucket in sorted(buckets) for edge in (bucket << BUCKET, (bucket + 1) << BUCKET)),
            ]
            pairs = (bounds["fixed"], bounds["left"])
            continue
        if len(mine) > 1:
            # several bounds (in one bucket or not, on one column or both): the tickets of each bucket, one by one
            # at each reading
            clauses, more = conditions(filters, reading, fixed, left, kept=True, bounds=bounds)
            counts.append(
                f"(SELECT count(*) FROM tickets WHERE {' AND '.join([where, *clauses])} AND ("
                + " OR ".join(f"({column} >= {at} AND {column} < {at})" for column, _ in sorted(buckets))
                + "))"
            )
            counts_params += more + [
                edge for _, bucket in sorted(buckets) for edge in (bucket << BUCKET, (bucket + 1) << BUCKET)
            ]
            continue
        ((column, bound),) = mine
        value = bounds[bound]
        bucket = value >> BUCKET
        low, high = bucket << BUCKET, (bucket + 1) << BUCKET
        # The bucket's rows answered as its tickets from the bound on do (their bucket is the bound's: not before
        # it), corrected by the tickets before the bound: their own answer, less the one the rows gave them (that
        # of a bound at the bucket's start). The side before the bound, never the one after: many tickets can fall
        # due at the bound itself (a day's end: due_before=18:00, or a reading after hours). A ticket before the
        # bound answers as it would to any bound after it (the conditions compare its due time with the bound,
        # nothing else does): to the bucket's end. The tickets whose two answers differ are read with their due
        # times (Tally); while nothing is written, a later bound reads only those from where the kept Tally
        # stops (a moving clock: a few), an earlier one none.
        answered, more = conditions(filters, reading, fixed, left, buckets=True, kept=True, bounds=bounds)
        sums.append(" AND ".join([rows, f"{column[4:]}_bucket = {at}", *answered]))
        params += [bucket, *more]
        end, end_params = conditions(filters, reading, fixed, left, kept=True, bounds={**bounds, bound: high})
        start, start_params = conditions(filters, reading, fixed, left, kept=True, bounds={**bounds, bound: low})
        late, early = f"(({' AND '.join(end) or 'true'}) IS TRUE)", f"(({' AND '.join(start) or 'true'}) IS TRUE)"
        # in a snapshot not seen before, the tickets before the bound are counted (the Tally is read at the next
        # count, if nothing is written in between: writes often, the count costs what it did without a Tally)
        tallies.append(
            f"CASE WHEN fresh THEN (SELECT count(*) FILTER (WHERE {late}) - count(*) FILTER (WHERE {early}) "
            f"FROM tickets WHERE {where} AND {column} >= {at} AND {column} < {at}) END, "
            f"CASE WHEN NOT fresh THEN (SELECT coalesce(array_agg(m ORDER BY m), '{{}}') FROM ("
            f"(SELECT {column} * 2 + {late}::int AS m FROM tickets WHERE {where} AND {column} >= coalesce({at}, {at}) "
            f"AND {column} < {at} AND {late} <> {early}) UNION ALL "
            f"(SELECT {column} * 2 + {late}::int FROM tickets WHERE {where} "
            f"AND {column} >= greatest({at}, coalesce({at}, {at})) AND {column} < {at} AND {late} <> {early} "
            f"ORDER BY {column} LIMIT 1)) AS read) END"
        )
        tallies_params += [*end_params, *start_params, low, value]
        read_from = len(tallies_params) + len(end_params)
        tallies_params += [*end_params, None, low, value, *end_params, *start_params]
        slots.append((read_from, len(tallies_params) + len(end_params) + 1))
        tallies_params += [*end_params, value, None, low, high, *end_params, *start_params]
        keyed += [*end_params, low, high, *start_params]
        values.append(value)
    summed = " + ".join(f"coalesce(sum(n) FILTER (WHERE {condition}), 0)" for condition in sums)
    return SlaCount(
        "WITH now AS (SELECT snapshot, snapshot IS DISTINCT FROM %s::text AS fresh "
        f"FROM (SELECT {SNAPSHOT} AS snapshot) AS seen) SELECT snapshot, "
        f"CASE WHEN fresh THEN (SELECT ARRAY[({summed})::bigint, count(*)] FROM sla_counts) END, "
        + "".join(f"{tally}, " for tally in tallies)
        + paired
        + (" + ".join(counts) or "0")
        + " FROM now",
        params + tallies_params + paired_params + counts_params,
        [(len(params) + one, len(params) + other) for one, other in slots],
        (summed, *tallies, paired, *(tuple(p) if isinstance(p, list) else p for p in params + keyed + paired_params)),
        values,
        not counts,
        pairs,
    )


# --------------------------------------------------------------------------- counts of tags and assignees
#
# tag_counts (migration 6) counts the tickets by status, priority, assignee (null: nobody) and tag: a row for each
# of its tags, and one with no tag for the ticket itself. A queue of one tag or one assignee (or both), with
# statuses and priorities, adds a few rows (an index reads those of the tag and assignee).


def counted_by_tag_counts(filters: TicketFilters) -> bool:
    """Whether tag_counts can answer how many tickets match (status, priority, assignee and at most one tag)."""
    return (
        not filters.q
        and filters.requester is None
        and len(set(filters.tag)) <= 1
        and not filters.sla
        and filters.due_before is None
    )


def tag_count(filters: TicketFilters) -> tuple[str, list[Any]]:
    """A statement counting the tickets that match filters (counted_by_tag_counts), and its parameters; its row:
    (the count, how many rows it added up: when to fold them, how many tickets there are)."""
    clauses, params = conditions(
        TicketFilters(status=filters.status, priority=filters.priority)  # the others are this table's own
    )
    clauses.append("tag = %s" if filters.tag else "tag IS NULL")
    params += filters.tag[:1]
    if filters.unassigned:
        clauses.append("assignee IS NULL")
    elif filters.assignee is not None:
        clauses.append("assignee = %s")
        params.append(filters.assignee)
    return (
        "SELECT coalesce(sum(n), 0), count(*), (SELECT coalesce(sum(n), 0) FROM ticket_counts) "
        f"FROM tag_counts WHERE {' AND '.join(clauses)}",
        params,
    )


# --------------------------------------------------------------------------- sort=due
#
# The key is the next pending due time, min(due_fixed, B(now) + due_left); tickets without one come last (by id) in
# both directions, ties by ascending id (rules.sort_tickets). The rows with a key fall in disjoint sets, each with
# an exact key its index orders (migrations 5, 6 and 12): due_fixed alone, due_left alone (B(now) + due_left keeps
# its order), both (a target missed before the ticket began to wait). A ticket with both is due at its fixed due
# time while that is not after B(now) (what is left of a clock is never negative), which is nearly always so (it
# was missed): those are read in due_fixed's order; the few others by a range of due_fixed, their key computed.
# The first n of the page are among the first n of each set: each set gives n, in its index's order, and the page
# is the first of them in the key's order (DUE_PAGE). Only when they do not fill it are the tickets without a due
# time read (due_tail): a page of them would otherwise cost a walk through every ticket the filters refuse.
#
# Each set's n is written into the statement, rounded up to a power of two (a few texts in all): with a parameter,
# PostgreSQL would guess that a tenth of the set is read and find the plan it can keep (a generic plan) a thousand
# times costlier than the ones it makes for each reading, so it would plan the statement again at each page.

NOW_B = time_bound(True)  # B(now), unknown to the planner: one plan for every reading, kept (time_bound)
# The page's limit and offset, unknown to the planner too: with their values, the plans made for each reading
# looked cheaper than the one it could keep (an offset it does not know may skip many rows), and PostgreSQL planned
# ?status=waiting&sort=due again at every page (0.4 ms), once the tickets with both due times had their branches.
PAGE = "(SELECT %s::bigint) OFFSET (SELECT %s::bigint)"
# (fixed, left, the set, its key, the column of its order, the range of due_fixed it takes)
BRANCHES = (
    (True, False, _SETS["F"][0], "due_fixed", "due_fixed", None),
    (False, True, _SETS["L"][0], "due_left + %s", "due_left", None),
    (True, True, _SETS["B"][0], "due_fixed", "due_fixed", f"due_fixed <= {NOW_B}"),
    (True, True, _SETS["B"][0], "least(due_fixed, due_left + %s)", "k", f"due_fixed > {NOW_B}"),
)
NO_DUE = "due_fixed IS NULL AND due_left IS NULL"
BIGINT_MAX = 2**63 - 1


def branch_limit(n: int | None) -> str:
    """How many rows each set gives for the first n of the page, as written in the statement."""
    return "ALL" if n is None else str(max(64, 1 << (n - 1).bit_length()))


def _keyed(
    filters: TicketFilters, reading: Reading, descending: bool, n: int | None, dense: bool, bounded: bool = False
) -> tuple[Callable[[str], str], list[Any]]:
    """The statement of the rows (columns, k) of the sets with a due time that the first n of the page are among
    (given the columns), and its parameters.

    bounded (in ascending order, without filters but ?assignee=none): the waiting set gives only its rows whose
    key is not after the n-th of the fixed set's (written n, as LIMIT is; of its unassigned tickets for
    ?assignee=none, through their index), which are all those that can be among the first n. Its key
    is computed (B(now) + due_left): PostgreSQL sorts what it gives before merging, and so read its n rows in full
    even when none came before the fixed set's, as in the first pages of sort=due (0.73 ms for the page alone at a
    million tickets, 0.68 bounded). Not with filters: the n-th of a filtered set got a plan that read 4,000 index
    entries for a tag (3 ms). Descending, the same bound the other way (the fixed set down to the n-th of the
    waiting set's, every key written less B(now) so that the waiting set's is its index's column) made the page
    alone 0.25 -> 0.18 ms, but no difference the bench could see on a fresh million (1.03 to 1.05 both ways)."""
    direction, limit = (" DESC" if descending else ""), branch_limit(n)
    parts: list[tuple[str, str, str]] = []
    params: list[Any] = []
    bare = bounded and n is not None and not _filtered(_unassigned_aside(filters))
    for fixed, left, condition, key, order, taken in BRANCHES:
        for piece, extra, extra_params in _pieces(filters, reading, fixed, left):
            statuses = statuses_kept(piece)  # written below, in place of ?status='s parameter
            given = piece.model_copy(update={"status": []}) if statuses is not None and piece.status else piece
            clauses, where_params = conditions(given, reading, fixed, left, kept=True, dense=dense)
            ranges, range_params = [condition], []  # what the set's index gives as ranges
            if taken is not None:
                ranges.append(taken)
                range_params.append(Bound("now_b", reading.now_b))
            if bare and left and not fixed:  # not after the n-th of the fixed set (of its unassigned tickets)
                fixed_set = " AND ".join([_SETS["F"][0], *([UNASSIGNED] if filters.unassigned else [])])
                nth = f"SELECT due_fixed FROM tickets WHERE {fixed_set} ORDER BY due_fixed, id"
                nth += f" OFFSET {int(limit) - 1} LIMIT 1"
                ranges.append(f"due_left <= coalesce(({nth}) - %s, {BIGINT_MAX})")
                range_params.append(Bound("now_b", reading.now_b))
            for cell in _cells(statuses, None if order == "k" else USUAL_STATUSES[fixed, left]):
                filtering = [*clauses, *extra, *cell]
                if order == "k" and filtering:
                    # The tickets with both due times whose fixed one is ahead are fewer still: read through the
                    # range of their own index, the filters kept as they come. A filter that an index finds was
                    # ANDed with it: a bitmap of the 666,954 open and in progress tickets for the 51 of the set
                    # (82 ms at a million, ?sla=on_track&sort=due).
                    where = " AND ".join(ranges) + f" AND ({' AND '.join(filtering)}) IS TRUE"
                else:
                    where = " AND ".join([*ranges, *filtering])
                parts.append((where, key, order))
                params += [Bound("now_b", reading.now_b)] if "%s" in key else []
                params += [*range_params, *where_params, *extra_params]

    def union(columns: str) -> str:
        return " UNION ALL ".join(
            f"(SELECT {columns}, {key} AS k FROM tickets WHERE {where} ORDER BY {order}{direction}, id LIMIT {limit})"
            for where, key, order in parts
        )

    return union, params


def _unassigned_aside(filters: TicketFilters) -> TicketFilters:
    """The filters but ?assignee=none: the unassigned tickets of each ordered set have indexes of their own
    (migration 13), which a page reads as it reads a set without filters."""
    return filters.model_copy(update={"assignee": None}) if filters.unassigned else filters


def _filtered(filters: TicketFilters) -> bool:
    """Whether any filter is given (each is None or empty when it is not)."""
    return any(getattr(filters, name) not in (None, []) for name in TicketFilters.model_fields)


# The statuses nearly all the tickets of a set have: the running ones have a fixed due time, the waiting ones what
# is left of their clocks (a ticket that waits with a fixed due time missed it before; a closed one has none).
USUAL_STATUSES = {(True, False): {"open", "in_progress"}, (False, True): {"waiting"}, (True, True): {"waiting"}}


def _cells(statuses: list[str] | None, usual: set[str] | None) -> list[list[str]]:
    """The condition on the statuses kept (None: all) of each branch a set is read in. They are written in the
    statement (one plan for them, kept once it is prepared). When they leave out some of the statuses nearly all
    its tickets have (usual; None: a set read whole, not in order), a set with an index by status (migrations 10
    and 12) gives each status on its own, in order: a status that is a few of its set (the waiting tickets among
    the running) is read without walking the others. Else the set is walked once, in order, keeping its tickets
    of these statuses: nearly all of them."""
    if statuses is None:
        return [[]]
    if usual is None or set(statuses) >= usual:
        return [[_one_of("status", statuses) if statuses else "false"]]
    return [[_one_of("status", [status])] for status in statuses]


def _pieces(
    filters: TicketFilters, reading: Reading, fixed: bool, left: bool
) -> list[tuple[TicketFilters, list[str], list[Any]]]:
    """The disjoint pieces a set of sort=due is read in, each an ordered range of an index: the filters of each,
    and the conditions and parameters it adds to them. One, the filters themselves, unless ?sla= asks for breached
    tickets in the fixed or the waiting set: their breached ones are then read apart (those breached for good:
    migration 11's indexes; those whose fixed due time is past: a range of the fixed set's), and the other states
    asked, if any, from the filters without breached. Else the set's walk keeps its breached tickets among all the
    others: it passed every ticket due after now to find none in sla=breached&sort=-due (20 ms at a million)."""
    if "breached" not in filters.sla or fixed == left:
        return [(filters, [], [])]
    targeted = _targeted_term(reading.policy.targeted())
    others = filters.model_copy(update={"sla": [state for state in filters.sla if state != "breached"]})
    pieces: list[tuple[TicketFilters, list[str], list[Any]]] = [(others, [], [])] if others.sla else []
    if targeted == "false":  # no priority has a target: no ticket is breached
        return pieces
    plain = filters.model_copy(update={"sla": []})
    term = [] if targeted is None else [targeted]
    if not fixed:  # waiting: breached only for good
        return [(plain, [*term, "plan_breached"], []), *pieces]
    at, bound = time_bound(True), Bound("sla", bounds_of(filters, reading)["sla"])
    return [
        (plain, [*term, f"due_fixed < {at}"], [bound]),
        (plain, [*term, f"due_fixed >= {at}", "plan_breached"], [bound]),
        *pieces,
    ]


def due_page(
    filters: TicketFilters, reading: Reading, descending: bool, limit: int | None, offset: int, dense: bool = False
) -> tuple[str, list[Any]]:
    """The tickets of a page in due order that have a due time (COLUMNS), and the parameters; dense: as
    conditions says.

    With filters that a set's walk passes over many tickets to keep (a tag, an assignee, a priority, a text, a
    requester), each set gives the ids its index holds (an index-only walk, that keeps the entries matching the
    filters without reading their rows), and the page's rows are read by id. Without, or with statuses, SLA states,
    due_before and ?assignee=none only (ranges of the indexes: _cells, _pieces, _unassigned_aside), each set gives
    its rows themselves: no row is read twice (0.11 ms for a page at a million tickets, 0.15 ms by ids;
    ?sla=on_track&sort=due 0.61 ms with its rows sent, 0.72 by ids)."""
    n = None if limit is None else offset + limit
    union, params = _keyed(filters, reading, descending, n, dense, bounded=not descending)
    order = "k" + (" DESC" if descending else "")
    if not _filtered(_unassigned_aside(filters).model_copy(update={"status": [], "sla": [], "due_before": None})):
        return (
            f"SELECT {COLUMNS} FROM ({union(COLUMNS)}) AS keyed ORDER BY {order}, id LIMIT {PAGE}",
            [*params, limit, offset],
        )
    return (
        f"SELECT {COLUMNS} FROM (SELECT id, k FROM ({union('id')}) AS keyed ORDER BY {order}, id LIMIT {PAGE}) "
        f"AS page JOIN tickets USING (id) ORDER BY page.{order}, page.id",
        [*params, limit, offset],
    )


def due_tail(
    filters: TicketFilters, reading: Reading, n: int | None, room: int | None, offset: int, dense: bool = False
) -> tuple[str, list[Any]]:
    """The tickets without a due time that end a page in due order (its first n, from offset) which the others did
    not fill: room of them at most, after the first offset - (how many have a due time); and the parameters. There
    are fewer than n with a due time (or the page would be full): each set's n reads them all."""
    union, keyed_params = _keyed(filters, reading, False, n, dense)
    clauses, params = conditions(filters, reading, False, False, kept=True, dense=dense)
    where = " AND ".join([NO_DUE, *clauses])
    return (
        f"SELECT {COLUMNS} FROM tickets WHERE {where} ORDER BY id LIMIT (SELECT %s::bigint) "
        f"OFFSET (SELECT greatest(0, %s - count(*)) FROM ({union('id')}) AS keyed)",
        [*params, room, offset, *keyed_params],
    )
