"""SLA breach events in PostgreSQL (tickets.engine.breaches): events written in a batch, chained, in the caller's
transaction; and the sweep, which reads the tickets past their alarm (the breach_at index of migration 8), writes
their events and their record on the ticket in one transaction.

Exactly once with several servers: the sweep locks the rows it reads (FOR UPDATE SKIP LOCKED: a row another
server or a writer holds is left to it), and a writer that changes a ticket names the version it read; both write
the ticket's breach_events with the events, so whoever commits second sees them and writes none. The locks are
always taken in one order, a ticket's row before the event lock, so a sweep and a writer never wait in a circle.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from tickets.engine.breaches import due_breaches, with_breaches
from tickets.engine.chain import canonical_event, chained
from tickets.engine.sla import calendar_of, micros, plan_of, timestamp_of
from tickets.stores.postgres.derived import breach_at
from tickets.stores.postgres.policy import read_policy
from tickets.stores.postgres.sql import (
    COLUMNS,
    EVENT_LOCK,
    ROW_EXCLUSIVE,
    NewEvent,
    breach_events,
    json_text,
    ticket_of,
)

# The tickets whose next breach event is due by a bound (Calendar.before of now), the earliest first, locked; those
# another transaction holds are skipped (it is writing them: it records their breaches itself).
DUE = f"""SELECT {COLUMNS}, version FROM tickets WHERE breach_at < %s ORDER BY breach_at, id LIMIT %s
    FOR UPDATE SKIP LOCKED"""
# What recording a ticket's breaches changes: its record of them, breached for good, its plan and its next alarm.
_RECORDED = """UPDATE tickets AS t SET breach_events = string_to_array(v.breach_events, ','), sla_breached = true,
        plan_breached = v.plan_breached, breach_at = v.breach_at, version = t.version + 1
    FROM unnest(%s::bigint[], %s::text[], %s::boolean[], %s::bigint[])
        AS v (id, breach_events, plan_breached, breach_at)
    WHERE t.id = v.id"""
NEXT = "SELECT min(breach_at) FROM tickets WHERE breach_at IS NOT NULL"
# Ids for n events, taken after the event lock (no other transaction takes one before this one commits).
_IDS = """SELECT tickets_last_digest(),
    array(SELECT nextval(pg_get_serial_sequence('events', 'id')) FROM generate_series(1, %s))"""


async def write_events(conn: psycopg.AsyncConnection[Any], events: Sequence[NewEvent]) -> None:
    """These events, in this order, after the last one: their ids and digests taken under the event lock, held
    until the caller's transaction commits (ids and commits follow one order, as EVENT_OF's do)."""
    if not events:
        return
    await conn.execute("SELECT pg_advisory_xact_lock(%s)", (EVENT_LOCK,))
    previous, ids = await (await conn.execute(_IDS, (len(events),))).fetchone()  # type: ignore[misc]
    rows = []
    for event_id, (ticket_id, at, actor, kind, changes) in zip(sorted(ids), events, strict=True):
        record = {"id": event_id, "ticket_id": ticket_id, "at": at, "actor": actor, "type": kind, "changes": changes}
        previous = chained(previous, canonical_event(record))
        rows.append([event_id, ticket_id, at, actor, kind, json_text(changes), False, previous])
    async with conn.cursor().copy(
        "COPY events (id, ticket_id, at, actor, type, changes, closes, digest) FROM STDIN"
    ) as copy:
        for row in rows:
            await copy.write_row(row)


async def sweep(conn: psycopg.AsyncConnection[Any], now: str, limit: int) -> int | None:
    """Record the breaches due by now of at most limit tickets, in the caller's transaction: how many events, or
    None when the policy changed meanwhile (the caller rolls back and sweeps again)."""
    policy, generation, _ = await read_policy(conn)
    calendar = calendar_of(policy)
    await conn.execute(ROW_EXCLUSIVE)  # the table's lock the UPDATE needs, before any row's (store.ROW_EXCLUSIVE)
    cursor = await conn.execute(DUE, (calendar.before(micros(now)), limit))
    rows = await cursor.fetchall()
    if not rows:
        return 0
    if (await read_policy(conn))[1] != generation:  # read after the locks: a change of policy now waits for them
        return None
    ids, recorded, breached, alarms, events = [], [], [], [], []
    for row in rows:
        ticket = ticket_of(row)
        breaches = due_breaches(ticket, policy, now, calendar=calendar)
        new = with_breaches(ticket, breaches)
        plan = plan_of(new, policy, calendar)
        ids.append(ticket["id"])
        recorded.append(",".join(new["breach_events"]))
        breached.append(plan.breached)
        alarms.append(breach_at(new, plan))
        events += breach_events(ticket["id"], breaches)
    await conn.execute(_RECORDED, (ids, recorded, breached, alarms))
    await write_events(conn, events)
    return len(events)


async def next_at(conn: psycopg.AsyncConnection[Any]) -> str | None:
    """When the next breach event falls due, as a stored time, or None."""
    row = await (await conn.execute(NEXT)).fetchone()
    if row is None or row[0] is None:
        return None
    policy = (await read_policy(conn))[0]
    return timestamp_of(calendar_of(policy).instant(row[0]))
