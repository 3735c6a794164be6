"""The SLA policy in PostgreSQL: its one row (sla_policy, migration 5), and the change of policy, which recomputes
every ticket's derived SLA columns (derived.py) in one transaction.

Writers never wait for a change of policy to begin, yet none leaves a row computed under the old one:

- a change of policy reads the tickets in batches in id order, FOR UPDATE, and writes each batch's new columns
  with a new `version`: a writer that read a ticket (and the policy, in the same snapshot) before the change
  fails its version check and starts again, reading the new policy;
- a new ticket is inserted only if the policy's generation is still the one its columns were computed with
  (tickets_policy_generation(), read under the shared side of POLICY_LOCK, with a snapshot of its own);
- at the end, holding POLICY_LOCK (new tickets wait; those being inserted finish first), the rows this transaction
  did not write (inserted by others meanwhile, behind the batches) are computed again, before the new generation
  commits. No table lock: a writer waiting for a row of the batches holds its lock on the table, and a table lock
  here would wait for it in a circle.
"""

from __future__ import annotations

from typing import Any

import psycopg

from tickets.engine.breaches import alarm, policy_breaches, with_breaches
from tickets.engine.sla import NO_POLICY, Policy, calendar_of, micros, plan_of
from tickets.stores.postgres.derived import breach_at, plan_values
from tickets.stores.postgres.migrations import MIGRATION_LOCK
from tickets.stores.postgres.sql import NewEvent, breach_events, json_text

POLICY_LOCK = MIGRATION_LOCK + 3  # shared by each new ticket's INSERT, exclusive for the end of a change of policy
CHANGE_LOCK = MIGRATION_LOCK + 4  # one change of policy (or copy) at a time
BATCH = 5000
_PARSED: dict[str, Policy] = {}  # a policy's JSON text -> the policy: validated once per process
# What plan_of reads of a ticket, and what the old policy's plan said (to keep its breaches).
_CLOCK_COLUMNS = "id, priority, status, created_at, first_response_at, resolved_at, paused, sla_breached, breach_events"
_READ = f"SELECT {_CLOCK_COLUMNS}, plan_breached, due_fixed, breach_at FROM tickets"
_NEW_COLUMNS = (
    "id bigint, sla_breached boolean, breach_events text[], due_fixed bigint, due_left bigint, plan_breached boolean, "
    "first_response_minutes double precision, resolution_minutes double precision, breach_at bigint"
)
_WRITE = """UPDATE tickets AS t SET sla_breached = v.sla_breached, breach_events = v.breach_events,
        due_fixed = v.due_fixed, due_left = v.due_left, plan_breached = v.plan_breached,
        first_response_minutes = v.first_response_minutes, resolution_minutes = v.resolution_minutes,
        breach_at = v.breach_at, version = t.version + 1
    FROM recomputed AS v WHERE t.id = v.id"""


def parsed(text: str | None) -> Policy:
    """The policy of a row's JSON text (None: no row, no policy)."""
    if text is None:
        return NO_POLICY
    found = _PARSED.get(text)
    if found is None:
        if len(_PARSED) >= 16:
            _PARSED.clear()
        found = _PARSED[text] = Policy.model_validate_json(text)
    return found


POLICY_ROW = "SELECT policy::text, generation FROM sla_policy"


async def read_policy(conn: psycopg.AsyncConnection[Any]) -> tuple[Policy, int, bool]:
    """(the policy, its generation, whether one was set)."""
    return policy_of_row(await (await conn.execute(POLICY_ROW)).fetchone())


def policy_of_row(row: tuple[Any, ...] | None) -> tuple[Policy, int, bool]:
    """read_policy's answer from the row of POLICY_ROW (None: no row)."""
    if row is None:
        return NO_POLICY, 0, False
    return parsed(row[0]), row[1], True


async def change_policy(conn: psycopg.AsyncConnection[Any], policy: Policy, time: str) -> list[NewEvent]:
    """Put the policy in place at the time given, in the caller's transaction: each ticket breached under the old
    policy at that time stays breached (workflow.breached_now), then every derived SLA column follows the new one.
    Nothing when the policy is the one in place. The sla_breached events the change brings
    (tickets.engine.breaches.policy_breaches), recorded on their tickets: the caller writes them before it commits."""
    await conn.execute("SELECT pg_advisory_xact_lock(%s)", (CHANGE_LOCK,))
    old, generation, was_set = await read_policy(conn)
    if was_set and old == policy:
        return []
    recompute = _Recompute(old, policy, time)
    # The new columns gather in a table of this transaction, written to the tickets by one UPDATE: one firing of
    # the counting triggers (sla_counts gets a row per key, not per key and batch).
    await conn.execute(f"CREATE TEMPORARY TABLE recomputed ({_NEW_COLUMNS}) ON COMMIT DROP")
    last = 0
    while True:
        cursor = await conn.execute(f"{_READ} WHERE id > %s ORDER BY id LIMIT %s FOR UPDATE", (last, BATCH))
        rows = await cursor.fetchall()
        if not rows:
            break
        async with conn.cursor().copy("COPY recomputed FROM STDIN") as copy:
            for row in recompute.rows(rows):
                await copy.write_row(row)
        last = rows[-1][0]
    await conn.execute(_WRITE)
    await conn.execute("SELECT pg_advisory_xact_lock(%s)", (POLICY_LOCK,))  # new tickets wait until the commit
    cursor = await conn.execute(
        f"{_READ} WHERE xmin::text <> (pg_current_xact_id()::text::bigint % 4294967296)::text FOR UPDATE"
    )
    rows = await cursor.fetchall()
    if rows:
        await conn.execute("TRUNCATE recomputed")
        async with conn.cursor().copy("COPY recomputed FROM STDIN") as copy:
            for row in recompute.rows(rows):
                await copy.write_row(row)
        await conn.execute(_WRITE)
    await conn.execute(
        "INSERT INTO sla_policy (policy, generation) VALUES (%s::jsonb, %s) "
        "ON CONFLICT (one) DO UPDATE SET policy = excluded.policy, generation = excluded.generation",
        (json_text(policy.model_dump(mode="json")), generation + 1),
    )
    return recompute.events


class _Recompute:
    """The new SLA columns of rows of _READ, from the old policy to the new one at one moment, and the breach events
    the change brings."""

    def __init__(self, old: Policy, new: Policy, time: str) -> None:
        self.old, self.new, self.time, self.calendar = old, new, time, calendar_of(new)
        # Under the old policy, a ticket is breached now when its priority has a target and its plan says so or
        # its next fixed due time is past (the derived columns were computed under it: sql.state_case); it owes
        # breach events when its alarm is past.
        self.targeted = set(old.targeted()) if old.targets else set()
        self.bound = calendar_of(old).before(micros(time))
        self.now_us = micros(time)
        self.events: list[NewEvent] = []

    def rows(self, rows: list[tuple[Any, ...]]) -> list[list[Any]]:
        """Rows of the table recomputed (_NEW_COLUMNS)."""
        made = []
        for row in rows:
            ticket: Any = dict(zip(_CLOCK_COLUMNS.split(", "), row, strict=False))
            plan_breached, due_fixed, alarm_was = row[-3], row[-2], row[-1]
            ticket["sla_breached"] = ticket["sla_breached"] or (
                ticket["priority"] in self.targeted
                and (plan_breached or (due_fixed is not None and due_fixed < self.bound))
            )
            plan = plan_of(ticket, self.new, self.calendar)
            clock = alarm(ticket, plan)
            if (alarm_was is not None and alarm_was < self.bound) or (clock is not None and clock.due_us < self.now_us):
                breaches = policy_breaches(ticket, self.old, self.new, self.time)
                if breaches:
                    ticket = with_breaches(ticket, breaches)
                    plan = plan_of(ticket, self.new, self.calendar)
                    self.events += breach_events(ticket["id"], breaches)
            made.append(
                [
                    ticket["id"],
                    ticket["sla_breached"],
                    ticket["breach_events"],
                    *plan_values(plan),
                    breach_at(ticket, plan),
                ]
            )
        return made
