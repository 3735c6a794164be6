"""The PostgreSQL store: the same tickets and rules as the JSON file, for several servers on several hosts.

- psycopg 3 with its asynchronous connection pool, one per process and event loop; every connection
  is in autocommit, so each statement is its own transaction unless a `transaction()` says otherwise.
- Ids come from an identity column: a sequence never goes back, so an id is never handed out twice,
  even after the highest is deleted and the database restarted.
- If-Match and merges never read then write blindly: each row has a version, and an UPDATE or DELETE
  names the version it read (`WHERE id = %s AND version = %s`); zero rows means somebody else changed
  it in between, and the change is read again and re-checked.
- Sorting and searching use values the service computes with the JSON store's own functions (the
  case-folded title, the folded search text), so both stores order and match exactly alike; every
  text column that is sorted uses the "C" collation, which orders like Python's str.
- Every write computes the new ticket with the engine's workflow (the same functions as the JSON store), and
  writes beside it its SLA plan under the current policy (derived.py); the queues (?sla=, due_before, sort=due)
  and the statistics read those columns with the moment of reading (sql.py), never a ticket's history.
- A comment keeps its record as first written (the chain's digests cover it); a correction is an event, and
  the comment's current text lives in edited_* columns.
- The tables are created and upgraded by the service itself (migrations.py, under an advisory lock).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import date
from typing import Any, TypeVar, cast

import psycopg
import psycopg.errors
from psycopg import sql

from tickets.engine.breaches import Breach, change_breaches, with_breaches
from tickets.engine.chain import History, Record
from tickets.engine.errors import (
    PreconditionFailed,
    StoreError,
    StoreNotEmpty,
    TicketNotFound,
)
from tickets.engine.history import (
    Comment,
    NewComment,
    changes_between,
    closes,
    comment_changes,
    commented_id,
    edited,
    last_days,
    later_than,
    per_day,
)
from tickets.engine.idempotency import Answer, Keyed, comment_answer, ticket_answer
from tickets.engine.models import (
    SLA_STATES,
    SlaState,
    Stats,
    StatsQuery,
    Ticket,
    TicketCreate,
    TicketQuery,
    TicketUpdate,
    complete,
)
from tickets.engine.rules import Reading, etag_matches
from tickets.engine.settings import LOCK_TIMEOUT_DEFAULT
from tickets.engine.sla import Plan, Policy
from tickets.engine.values import PRIORITIES, STATUSES, Priority, Status
from tickets.engine.verify import Report, Verifier
from tickets.engine.workflow import changed, commented, created
from tickets.stores.base import BREACH_BATCH, TicketStore
from tickets.stores.postgres.breaches import next_at, sweep, write_events
from tickets.stores.postgres.connections import POOL_SIZE
from tickets.stores.postgres.conversation import Conversation
from tickets.stores.postgres.derived import DERIVED, derived_values
from tickets.stores.postgres.idempotency import keyed_write
from tickets.stores.postgres.migrations import MIGRATION_LOCK
from tickets.stores.postgres.policy import (
    CHANGE_LOCK,
    POLICY_ROW,
    change_policy,
    parsed,
    policy_of_row,
    read_policy,
)
from tickets.stores.postgres.sql import (
    COLUMNS,
    COMMENT_COLUMNS,
    COMMENTED,
    EVENT_COLUMNS,
    EVENT_LOCK,
    EVENT_OF,
    INSERT_TICKET,
    ORPHAN_COMMENTS,
    POLICY_SEEN,
    RECORDS,
    ROW_EXCLUSIVE,
    UPDATE_TICKET,
    SlaCount,
    SlaKept,
    breach_events,
    comment_changes_rest,
    comment_of,
    copy_row,
    counted_by_sla_counts,
    counted_by_tag_counts,
    counted_filters_only,
    event_of,
    event_params,
    json_text,
    kept_by,
    planned_once,
    state_case,
    tag_count,
    ticket_of,
    ticket_params,
    where_clause,
)
from tickets.stores.postgres.statements import Statements
from tickets.stores.postgres.webhooks import PostgresWebhooks

T = TypeVar("T")
COMPACT_AFTER = 1000  # rows of differences in ticket_counts (or sla_counts) before they are folded
COUNTS = "SELECT status, priority, sum(n), count(*) FROM ticket_counts GROUP BY status, priority"
KEY_ROWS_FOLDED = 100  # rows of tag_counts for the tag and assignee of a count before they are folded
# A tag or an assignee matching at least this share of the tickets is read by walking the index of the order: at a
# million tickets, 1% is some 6,400 index entries for a page of 64, against 10,000 rows to fetch and sort.
DENSE = 0.01
COUNTS_KEPT = 256  # parts of counts of ?sla= and due_before kept (one per queue and bucket of its bounds)
PLANS_KEPT = 20_000  # SLA plans kept for pages (a few pages of every queue; some 10 MB)
COMPACT_LOCK = MIGRATION_LOCK + 1


class PostgresStore(Conversation, TicketStore):
    """Tickets in a PostgreSQL database, named by a postgresql:// URL."""

    def __init__(self, url: str, *, lock_timeout: float = LOCK_TIMEOUT_DEFAULT, pool_size: int = POOL_SIZE) -> None:
        """lock_timeout: how long a write waits for a lock or a connection (TICKETS_LOCK_TIMEOUT)."""
        super().__init__(url, lock_timeout=lock_timeout, pool_size=pool_size)
        self._wanted: list[tuple[int, asyncio.Future[tuple[Any, ...] | None]]] = []  # reads of one ticket, waiting
        self._sla_rows_folded = 0  # rows of sla_counts after the last fold: one per key
        # The parts of each count of ?sla= and due_before that depend only on the buckets of its bounds (sql.py:
        # SlaCount), and the snapshot they were read in: a count in the same snapshot (nothing written or begun
        # since, by any server) reads none of them again, and adds them up for the bounds of its moment.
        self._sla_kept: dict[tuple[Any, ...], SlaKept] = {}
        self._statements = Statements()  # those of the listings read lately, built once for their queries
        self._plans: dict[tuple[Any, ...], Plan] = {}  # SLA plans by the clocks of a ticket (_plan)
        self._plans_policy: Policy | None = None  # the policy they were made under
        self.webhooks = PostgresWebhooks(self)

    def _new_loop(self) -> None:
        self._wanted = []

    # ---- reading

    async def get(self, ticket_id: int) -> Ticket:
        row = await self._row_of(ticket_id)
        if row is None:
            raise TicketNotFound(ticket_id)
        return ticket_of(row)

    def _row_of(self, ticket_id: int) -> asyncio.Future[tuple[Any, ...] | None]:
        """The row of one ticket, read together with the other tickets asked for at the same moment.

        Requests that arrive together are started in the same turn of the event loop: the first one
        schedules the read for the end of that turn, and the read fetches every id asked for by then in
        one query (`WHERE id = ANY(...)`). One round trip for a burst instead of one per request, and each
        still sees every write acknowledged before it arrived (the query starts after).
        """
        loop = asyncio.get_running_loop()
        self._pool_of_this_loop()  # a new loop starts with no reads waiting
        answer: asyncio.Future[tuple[Any, ...] | None] = loop.create_future()
        if not self._wanted:
            loop.call_soon(self._read_wanted)
        self._wanted.append((ticket_id, answer))
        return answer

    def _read_wanted(self) -> None:
        wanted, self._wanted = self._wanted, []
        self._background(self._read_rows(wanted))

    async def _read_rows(self, wanted: list[tuple[int, asyncio.Future[tuple[Any, ...] | None]]]) -> None:
        try:
            rows = await self._rows(f"SELECT {COLUMNS} FROM tickets WHERE id = ANY(%s)", ([i for i, _ in wanted],))
        except Exception as exc:  # noqa: BLE001 -- whatever it is, every request of the burst must get it, or hang
            for _, answer in wanted:
                if not answer.done():
                    answer.set_exception(exc)
            return
        by_id = {row[0]: row for row in rows}
        for ticket_id, answer in wanted:
            if not answer.done():  # a request whose client went away was cancelled
                answer.set_result(by_id.get(ticket_id))

    async def policy(self) -> Policy:
        async def read(conn: psycopg.AsyncConnection[Any]) -> Policy:
            return (await read_policy(conn))[0]

        return await self._read(read)

    async def set_policy(self, policy: Policy) -> Policy:
        async with self._connection() as conn, conn.transaction():
            await conn.execute("SET LOCAL statement_timeout = 0")  # a million tickets take a while
            await write_events(conn, await change_policy(conn, policy, self.now()))
        self._written()
        return policy

    async def search(self, query: TicketQuery) -> tuple[list[Ticket], int]:
        page, total, _ = await self._read(lambda conn: self._search(conn, query))
        return page, total

    async def search_json(self, query: TicketQuery) -> tuple[bytes, int]:
        page, total, reading = await self._read(lambda conn: self._search(conn, query))
        return reading.array(page, lambda ticket: self._plan(ticket, reading)), total

    def _plan(self, ticket: Ticket, reading: Reading) -> Plan:
        """The ticket's SLA plan under the reading's policy, computed once for the clocks it has (a plan is apart
        from the moment of reading, and the same for tickets whose clocks are the same), as the JSON store keeps
        one per version of a ticket: three quarters of the time of a page of 50 went to computing them again."""
        if reading.policy is not self._plans_policy:
            if reading.policy != self._plans_policy:
                self._plans.clear()
            self._plans_policy = reading.policy
        key = (
            ticket["priority"],
            ticket["status"],
            ticket["created_at"],
            ticket["first_response_at"],
            ticket["resolved_at"],
            tuple(map(tuple, ticket["paused"])),
            ticket["sla_breached"],
        )
        found = self._plans.get(key)
        if found is None:
            if len(self._plans) >= PLANS_KEPT:
                del self._plans[next(iter(self._plans))]  # the oldest
            found = self._plans[key] = reading.plan(ticket)
        return found

    async def _reading(self, conn: psycopg.AsyncConnection[Any]) -> Reading:
        return Reading((await read_policy(conn))[0], self.now())

    async def _search(
        self, conn: psycopg.AsyncConnection[Any], query: TicketQuery
    ) -> tuple[list[Ticket], int, Reading]:
        """The page, how many matched, and the reading both were made with (the policy and this moment)."""
        # A tag or an assignee's name decides how a page is best read: a walk through the index of the order that
        # keeps what matches, when many tickets match; the rows that match, found by their own index and sorted,
        # when few do. Their counts (tag_counts) say which, before the page (read with the policy, in one round
        # trip): many, the statement is written for the walk and prepared (its plan kept); few, or no count to
        # tell (a text, a requester, several tags), it is planned for its values each time, never prepared (a
        # plan kept from other values walked the whole table for a tag that matched nothing).
        total, dense, snapshot = None, False, None
        if not planned_once(query) and counted_by_tag_counts(query):
            async with conn.pipeline():
                policy_row = await conn.execute(POLICY_ROW)
                counted = await conn.execute(*tag_count(query))
            reading = Reading(policy_of_row(await policy_row.fetchone())[0], self.now())
            total, dense = self._tag_read(await counted.fetchall())
        elif counted_by_sla_counts(query) and not counted_filters_only(query):
            row = await (await conn.execute(POLICY_SEEN)).fetchone()
            assert row is not None
            reading, snapshot = Reading(policy_of_row(row[:2])[0], self.now()), row[2]
        else:
            reading = await self._reading(conn)
        prepare = None if planned_once(query) or dense else False
        page_sql, page_params = self._statements.page(query, reading, dense)
        counting = None if total is not None else self._counting(query, reading, snapshot)
        if isinstance(counting, int):  # answered from what was kept, nothing written since
            total, counting = counting, None
        if counting is None:
            cursor = await conn.execute(page_sql, page_params, prepare=prepare)
        else:  # the page and its count from the tables of counts in one round trip, the count all but free
            async with conn.pipeline():
                cursor = await conn.execute(page_sql, page_params, prepare=prepare)
                counted = await conn.execute(*counting[:2])
            total = counting[2](await counted.fetchall())
        page = [ticket_of(row) for row in await cursor.fetchall()]
        if query.sort.lstrip("-") == "due" and (query.limit is None or len(page) < query.limit):
            tail_sql, tail_params = self._statements.tail(query, reading, len(page), dense)  # those without one
            cursor = await conn.execute(tail_sql, tail_params, prepare=prepare)
            page += [ticket_of(row) for row in await cursor.fetchall()]
        reached_end = query.limit is None or len(page) < query.limit
        if reached_end and (page or query.offset == 0):
            return page, query.offset + len(page), reading  # the page reached the end: its count says as much
        if total is None:  # counted one by one: only when the page does not tell
            cursor = await conn.execute(*self._statements.count(query, reading), prepare=prepare)
            total = (await cursor.fetchone())[0]  # type: ignore[index]
        return page, total, reading

    def _counting(
        self, query: TicketQuery, reading: Reading, snapshot: str | None = None
    ) -> tuple[str, list[Any], Callable[[list[tuple[Any, ...]]], int]] | int | None:
        """The statement that counts the tickets matching the query from a table of counts (a few rows, whatever the
        size), its parameters, and what reads the total from its rows; the total itself, when the parts of a count
        of ?sla= kept in this snapshot (seen with the policy) answer it; None: they must be counted one by one."""
        if counted_filters_only(query):
            return COUNTS, [], lambda rows: sum(n for (s, p), n in self._folded(rows).items() if kept_by(query, s, p))
        if counted_by_sla_counts(query):
            count = self._statements.sla_count(query, reading)
            kept = self._sla_kept.get(count.key)
            answered = None if snapshot is None else count.answered(kept, snapshot)
            if answered is not None:
                return answered
            return count.statement, count.arguments(kept), lambda rows: self._sla_total(count, kept, rows)
        if counted_by_tag_counts(query):
            return (*tag_count(query), lambda rows: self._tag_read(rows)[0])
        return None

    def _sla_total(self, count: SlaCount, kept: SlaKept | None, rows: list[tuple[Any, ...]]) -> int:
        """The total of sla_count's row; what it read is kept for the next count, with its snapshot."""
        total, now_kept, sla_rows = count.total(kept, rows[0])
        if now_kept is not kept:
            if count.key not in self._sla_kept and len(self._sla_kept) >= COUNTS_KEPT:
                del self._sla_kept[next(iter(self._sla_kept))]  # the oldest
            self._sla_kept[count.key] = now_kept
        if sla_rows is not None and sla_rows > COMPACT_AFTER + self._sla_rows_folded:  # a row per key once folded
            self._background(self._compact())
        return total

    def _tag_read(self, rows: list[tuple[Any, ...]]) -> tuple[int, bool]:
        """How many tickets match a query that tag_counts counts, and whether they are many (DENSE), from the rows
        of tag_count."""
        total, kept, everything = rows[0]
        if kept > KEY_ROWS_FOLDED:  # the rows of this tag and assignee: one per status and priority once folded
            self._background(self._compact())
        return int(total), int(total) >= DENSE * int(everything)

    async def stats(self, query: StatsQuery) -> Stats:
        async def read(conn: psycopg.AsyncConnection[Any]) -> Stats:
            reading = await self._reading(conn)
            where, params = where_clause(query, reading)
            state, state_params = state_case(reading)
            cursor = await conn.execute(
                f"SELECT status, priority, {state}, count(*) FROM tickets{where} GROUP BY 1, 2, 3",
                [*state_params, *params],
            )
            groups = await cursor.fetchall()
            cursor = await conn.execute(
                f"SELECT tag, count(*) FROM tickets CROSS JOIN unnest(tags) AS tag{where} GROUP BY tag", params
            )
            tags = await cursor.fetchall()
            # statistics.median of the values: the mean of the two middle ones (the same one twice for an odd
            # count), both from one sort (MIDDLES); nulls are left out
            cursor = await conn.execute(
                f"SELECT percentile_disc({MIDDLES}) WITHIN GROUP (ORDER BY first_response_minutes), "
                f"percentile_disc({MIDDLES}) WITHIN GROUP (ORDER BY resolution_minutes) FROM tickets{where}",
                params,
            )
            first_middles, resolution_middles = await cursor.fetchone()  # type: ignore[misc]
            first = last_days(query.days, date.fromisoformat(reading.time[:10]))[0]
            cursor = await conn.execute(
                "SELECT left(at, 10), count(*) FILTER (WHERE type = 'created'), "
                "count(*) FILTER (WHERE closes) FROM events "
                "WHERE at >= %s AND (type = 'created' OR closes) GROUP BY 1",
                (first,),
            )
            days = await cursor.fetchall()
            by_status: dict[str, int] = dict.fromkeys(STATUSES, 0)
            by_priority: dict[str, int] = dict.fromkeys(PRIORITIES, 0)
            sla: dict[str, int] = dict.fromkeys(SLA_STATES, 0)
            for status, priority, sla_state, n in groups:
                by_status[status] += n
                by_priority[priority] += n
                sla[sla_state] += n
            return {
                "total": sum(by_status.values()),
                "by_status": cast(dict[Status, int], by_status),
                "by_priority": cast(dict[Priority, int], by_priority),
                "by_tag": dict(sorted(tags)),
                "sla": cast(dict[SlaState, int], sla),
                "first_response_minutes_median": _median(first_middles),
                "resolution_minutes_median": _median(resolution_middles),
                "per_day": per_day(
                    {day: (opened, closed) for day, opened, closed in days},
                    query.days,
                    date.fromisoformat(reading.time[:10]),
                ),
            }

        return await self._read(read)

    async def count(self) -> int:
        return sum((await self._read(self._counts)).values())

    async def last_event_id(self) -> int:
        async def read(conn: psycopg.AsyncConnection[Any]) -> int:
            row = await (await conn.execute("SELECT coalesce(max(id), 0) FROM events")).fetchone()
            return int(row[0]) if row else 0

        return await self._read(read)

    async def _counts(self, conn: psycopg.AsyncConnection[Any]) -> dict[tuple[str, str], int]:
        """How many tickets have each (status, priority), from ticket_counts: a few rows, whatever the size."""
        return self._folded(await (await conn.execute(COUNTS)).fetchall())

    def _folded(self, rows: list[tuple[Any, ...]]) -> dict[tuple[str, str], int]:
        """The counts of COUNTS' rows (and their rows folded, when there are many)."""
        if sum(row[3] for row in rows) > COMPACT_AFTER:
            self._background(self._compact())
        return {(status, priority): int(n) for status, priority, n, _ in rows if n}

    async def _compact(self) -> None:
        """Fold the rows of differences into one per (status, priority), and those of sla_counts and tag_counts
        into one per key; one server at a time does it, and
        writers go on meanwhile (it deletes only rows committed before it started, and adds their sum)."""
        try:
            async with self._connection() as conn, conn.transaction():
                locked = await (await conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (COMPACT_LOCK,))).fetchone()
                if locked and locked[0]:
                    await conn.execute(
                        "WITH gone AS (DELETE FROM ticket_counts RETURNING status, priority, n) "
                        "INSERT INTO ticket_counts SELECT status, priority, sum(n) FROM gone GROUP BY status, priority"
                    )
                    await conn.execute(  # and the counts of the SLA filters, the same way (zeros dropped)
                        "WITH gone AS (DELETE FROM sla_counts RETURNING *) INSERT INTO sla_counts "
                        "SELECT status, priority, plan_breached, fixed_bucket, left_bucket, sum(n) FROM gone "
                        "GROUP BY 1, 2, 3, 4, 5 HAVING sum(n) <> 0"
                    )
                    await conn.execute(
                        "WITH gone AS (DELETE FROM tag_counts RETURNING *) INSERT INTO tag_counts "
                        "SELECT status, priority, assignee, tag, sum(n) FROM gone "
                        "GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0"
                    )
                    cursor = await conn.execute("SELECT count(*) FROM sla_counts")
                    self._sla_rows_folded = (await cursor.fetchone())[0]  # type: ignore[index]
        except StoreError:
            pass  # the next count tries again

    # ---- writing
    #
    # Each write reads what it changes (the ticket, its version and the policy, in one snapshot), computes the new
    # ticket with the engine's workflow (the same functions as the JSON store), and writes it with its derived
    # columns at the version it read; zero rows: somebody else changed it (or the policy changed), read again.

    async def add(self, data: TicketCreate, actor: str | None = None) -> Ticket:
        async with self._connection() as conn:  # never tried twice: a lost answer may hide a done write
            ticket, _ = await self._insert(conn, data, actor)
            return ticket

    async def _insert(
        self, conn: psycopg.AsyncConnection[Any], data: TicketCreate, actor: str | None
    ) -> tuple[Ticket, Reading]:
        """The new ticket, and the reading (its policy and time) it was written with."""
        while True:
            policy, generation, _ = await read_policy(conn)
            time = self.now()
            ticket = created(data, 0, time)
            params = {
                **ticket_params(ticket, derived_values(ticket, policy)),
                "generation": generation,
                **event_params("created", changes_between(None, ticket), time, actor),
            }
            statement = INSERT_TICKET + EVENT_OF.format(lock=EVENT_LOCK, rows="new") + " RETURNING ticket_id"
            row = await (await conn.execute(statement, params)).fetchone()
            if row is not None:  # else the policy changed since it was read
                self._written()
                return {**ticket, "id": row[0]}, Reading(policy, time)

    async def update(
        self, ticket_id: int, changes: TicketUpdate, if_match: str | None = None, actor: str | None = None
    ) -> Ticket:
        async with self._connection() as conn:
            while True:  # again only when somebody else changed the ticket between our read and our write
                old, version, policy = await self._current(conn, ticket_id, if_match)
                time = self.now()
                new = changed(old, changes, time, policy)
                if new is old:
                    return old  # nothing changes: same updated_at, same ETag, no write, no event
                breaches = change_breaches(old, new, time, policy)
                new = with_breaches(new, breaches)
                statement = UPDATE_TICKET + EVENT_OF.format(lock=EVENT_LOCK, rows="changed")
                params = _update_params(old, new, version, policy, actor)
                if await self._write_noticing(conn, ticket_id, version, breaches, statement, params) is not None:
                    self._written()
                    return new

    async def update_many(self, ids: list[int], changes: TicketUpdate, actor: str | None = None) -> list[Ticket]:
        async with self._connection() as conn, conn.transaction():
            await conn.execute(ROW_EXCLUSIVE)  # before the event lock a breach may take (_write_noticing)
            # Locked in id order: two bulk changes of overlapping tickets never wait for each other in a circle.
            cursor = await conn.execute(
                f"SELECT {COLUMNS}, version FROM tickets WHERE id = ANY(%s) ORDER BY id FOR UPDATE", (ids,)
            )
            found = {row[0]: row for row in await cursor.fetchall()}
            missing = next((ticket_id for ticket_id in ids if ticket_id not in found), None)
            if missing is not None:
                raise TicketNotFound(missing)
            policy = (await read_policy(conn))[0]  # after the locks: a change of policy before them is seen
            time = self.now()
            olds = [ticket_of(found[ticket_id]) for ticket_id in ids]
            news = [changed(old, changes, time, policy) for old in olds]  # InvalidChange: nothing written
            statement = UPDATE_TICKET + EVENT_OF.format(lock=EVENT_LOCK, rows="changed")
            done = []
            for old, new in zip(olds, news, strict=True):
                if new is not old:
                    breaches = change_breaches(old, new, time, policy)
                    new = with_breaches(new, breaches)
                    await write_events(conn, breach_events(old["id"], breaches))
                    cursor = await conn.execute(
                        statement, _update_params(old, new, found[old["id"]][-1], policy, actor)
                    )
                    assert cursor.rowcount == 1, "a row locked FOR UPDATE changed under its lock"
                done.append(new)
        self._written()
        return done

    async def delete(self, ticket_id: int, if_match: str | None = None, actor: str | None = None) -> None:
        deleted = event_params("deleted", {}, self.now(), actor)
        statement = "WITH gone AS (DELETE FROM tickets WHERE id = %(id)s{and_version} RETURNING id)" + EVENT_OF
        async with self._connection() as conn:
            if if_match is None:
                cursor = await conn.execute(
                    statement.format(lock=EVENT_LOCK, rows="gone", and_version=""), {"id": ticket_id, **deleted}
                )
                if cursor.rowcount == 0:
                    raise TicketNotFound(ticket_id)
                return
            while True:
                _, version, _ = await self._current(conn, ticket_id, if_match)
                cursor = await conn.execute(
                    statement.format(lock=EVENT_LOCK, rows="gone", and_version=" AND version = %(version)s"),
                    {"id": ticket_id, "version": version, **deleted},
                )
                if cursor.rowcount == 1:
                    return

    async def add_comment(self, ticket_id: int, comment: NewComment, actor: str | None = None) -> tuple[Comment, str]:
        async with self._connection() as conn:
            return await self._comment(conn, ticket_id, comment, actor)

    async def _comment(
        self, conn: psycopg.AsyncConnection[Any], ticket_id: int, comment: NewComment, actor: str | None
    ) -> tuple[Comment, str]:
        while True:
            ticket, version, policy = await self._current(conn, ticket_id, None)
            time = self.now()
            after = commented(
                ticket, comment.author, comment.internal, time, later_than(ticket["updated_at"], time), policy
            )
            breaches = change_breaches(ticket, after, time, policy)
            after = with_breaches(after, breaches)
            # As the JSON store records it: the comment's id (and mark), then what changed on the ticket.
            changes = {**comment_changes(0, comment.internal), **changes_between(ticket, after)}
            row = await self._write_noticing(
                conn,
                ticket_id,
                version,
                breaches,
                COMMENTED,
                {
                    **ticket_params(after, derived_values(after, policy)),
                    "id": ticket_id,
                    "version": version,
                    "author": comment.author,
                    "body": comment.body,
                    "internal": comment.internal,
                    "lock": EVENT_LOCK,
                    **event_params("commented", changes, time, actor),
                    "changes_rest": comment_changes_rest(changes),
                },
            )
            if row is not None:
                self._written()
                new: Comment = {
                    "id": row[0],
                    "ticket_id": ticket_id,
                    "author": comment.author,
                    "body": comment.body,
                    "internal": comment.internal,
                    "created_at": time,
                    "edited_at": None,
                }
                return new, Reading(policy, time).etag(after)

    # ---- Idempotency-Key: the write and its answer kept in one transaction (idempotency.py)

    async def add_keyed(self, keyed: Keyed, data: TicketCreate, actor: str | None = None) -> Answer:
        async def write(conn: psycopg.AsyncConnection[Any]) -> Answer:
            ticket, reading = await self._insert(conn, data, actor)
            return ticket_answer(ticket["id"], *reading.answer(ticket))

        async with self._connection() as conn:
            return await keyed_write(conn, keyed, self.now, write)

    async def add_comment_keyed(
        self, keyed: Keyed, ticket_id: int, comment: NewComment, actor: str | None = None
    ) -> Answer:
        async def write(conn: psycopg.AsyncConnection[Any]) -> Answer:
            return comment_answer(*await self._comment(conn, ticket_id, comment, actor))

        async with self._connection() as conn:
            return await keyed_write(conn, keyed, self.now, write)

    async def _current(
        self, conn: psycopg.AsyncConnection[Any], ticket_id: int, if_match: str | None
    ) -> tuple[Ticket, int, Policy]:
        """The ticket, its version and the policy, in one snapshot; PreconditionFailed when if_match names another
        version."""
        cursor = await conn.execute(
            f"SELECT {COLUMNS}, version, (SELECT policy::text FROM sla_policy) FROM tickets WHERE id = %s",
            (ticket_id,),
        )
        row = await cursor.fetchone()
        if row is None:
            raise TicketNotFound(ticket_id)
        ticket, policy = ticket_of(row), parsed(row[-1])
        if if_match is not None:
            etag = Reading(policy, self.now()).etag(ticket)  # what the ticket stores, and its SLA state now
            if not etag_matches(if_match, etag):
                raise PreconditionFailed(ticket_id, if_match, etag)
        return ticket, row[-2], policy

    async def _write_noticing(
        self,
        conn: psycopg.AsyncConnection[Any],
        ticket_id: int,
        version: int,
        breaches: list[Breach],
        statement: str,
        params: dict[str, Any],
    ) -> tuple[Any, ...] | None:
        """Run a write's statement at the version it read (its row, or None: somebody else changed the ticket),
        after the events of the breaches it noticed (tickets.engine.breaches.change_breaches), in one transaction.
        The ticket's row is locked before the event lock, as the sweep takes them, and so is the table in the mode
        the write needs (ROW_EXCLUSIVE): never in a circle."""
        if not breaches:
            return await _result(await conn.execute(statement, params))
        async with conn.transaction():
            await conn.execute(ROW_EXCLUSIVE)
            cursor = await conn.execute(
                "SELECT 1 FROM tickets WHERE id = %s AND version = %s FOR UPDATE", (ticket_id, version)
            )
            if await cursor.fetchone() is None:
                return None
            await write_events(conn, breach_events(ticket_id, breaches))
            row = await _result(await conn.execute(statement, params))
            assert row is not None, "a row locked FOR UPDATE changed under its lock"
            return row

    # ---- SLA breach events (breaches.py)

    async def record_breaches(self, limit: int = BREACH_BATCH) -> int:
        async with self._connection() as conn:
            while True:
                async with conn.transaction():
                    written = await sweep(conn, self.now(), limit)
                    if written is not None:
                        return written
                    raise psycopg.Rollback  # the policy changed between the bound and the locks: again

    async def next_breach_at(self) -> str | None:
        return await self._read(next_at)

    # ---- copies

    async def export_all(self) -> tuple[int, list[Ticket], History]:
        async with self._connection() as conn, conn.transaction():
            await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")  # one consistent picture
            cursor = await conn.execute(f"SELECT {COLUMNS} FROM tickets ORDER BY id")
            tickets = [ticket_of(row) for row in await cursor.fetchall()]
            records = [record async for record in self._records(conn)]
            next_id, next_comment_id, next_event_id = [
                await self._next_id(conn, table) for table in ("tickets", "comments", "events")
            ]
        history = History(
            max([next_comment_id, *(r.data["id"] + 1 for r in records if r.kind != "event")]),
            max([next_event_id, *(r.data["id"] + 1 for r in records if r.kind == "event")]),
            records,
        )
        return max(next_id, max((t["id"] for t in tickets), default=0) + 1), tickets, history

    async def _records(self, conn: psycopg.AsyncConnection[Any]) -> AsyncIterator[Record]:
        """The history in the chain's order, read in pages by a server-side cursor (in the caller's transaction):
        comments no event names first (none, unless written by hand), then each event after its comment."""
        cursor = await conn.execute(ORPHAN_COMMENTS)
        for row in await cursor.fetchall():
            yield Record("comment", comment_of(row[:6]), row[6])
        async with conn.cursor(name="tickets_history") as rows:
            await rows.execute(RECORDS)
            async for row in rows:
                if row[7] is not None:
                    yield Record("comment", comment_of(row[7:13]), row[13])
                elif row[14] is not None:
                    yield Record("erased", {"id": row[14], "ticket_id": row[15]}, row[16])
                yield Record("event", event_of(row[:6]), row[6])

    async def verify(self) -> Report:
        async with self._connection() as conn, conn.transaction():
            await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            await conn.execute("SET LOCAL statement_timeout = 0")
            next_id, next_comment_id, next_event_id = [
                await self._next_id(conn, table) for table in ("tickets", "comments", "events")
            ]
            verifier = Verifier(self.name, next_id, next_comment_id, next_event_id)
            async for record in self._records(conn):
                verifier.add(record)
            async with conn.cursor(name="tickets_verified") as rows:
                await rows.execute(f"SELECT {COLUMNS} FROM tickets ORDER BY id")
                tickets = [ticket_of(row) async for row in rows]
        return verifier.finish(tickets)

    async def _next_id(self, conn: psycopg.AsyncConnection[Any], table: str = "tickets") -> int:
        cursor = await conn.execute("SELECT pg_get_serial_sequence(%s, 'id')", (table,))
        sequence = (await cursor.fetchone())[0]  # type: ignore[index]
        cursor = await conn.execute(
            sql.SQL("SELECT last_value, is_called FROM {}").format(sql.Identifier(*sequence.split(".", 1)))
        )
        last_value, is_called = await cursor.fetchone()  # type: ignore[misc]
        return last_value + 1 if is_called else last_value

    async def replace_all(
        self,
        next_id: int,
        tickets: list[Ticket],
        *,
        replace: bool,
        history: History | None = None,
        policy: Policy | None = None,
    ) -> None:
        history = history or History()
        async with self._connection() as conn, conn.transaction():
            await conn.execute("SET LOCAL statement_timeout = 0")  # a copy of a million tickets takes a while
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (CHANGE_LOCK,))  # no change of policy meanwhile
            await conn.execute("LOCK TABLE tickets IN ACCESS EXCLUSIVE MODE")  # no write slips in between
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (EVENT_LOCK,))  # nor an event
            held = (await (await conn.execute("SELECT count(*) FROM tickets")).fetchone())[0]  # type: ignore[index]
            if held and not replace:
                raise StoreNotEmpty(self.name, held)
            current = {table: await self._next_id(conn, table) for table in ("tickets", "comments", "events")}
            in_place, generation, _ = await read_policy(conn)
            if policy is not None:  # a new generation: a write that computed its row under the old one starts again
                await conn.execute(
                    "INSERT INTO sla_policy (policy, generation) VALUES (%s::jsonb, %s) ON CONFLICT (one) "
                    "DO UPDATE SET policy = excluded.policy, generation = excluded.generation",
                    (json_text(policy.model_dump(mode="json")), generation + 1),
                )
            sla = policy or in_place
            # Inside the transaction: undone if the copy fails.
            # The kept answers of Idempotency-Keys go too: they answered for tickets that are no longer there.
            await conn.execute("TRUNCATE tickets, comments, events, erased_comments, idempotency_keys")
            async with conn.cursor().copy(f"COPY tickets ({COLUMNS}, {', '.join(DERIVED)}) FROM STDIN") as copy:
                for t in tickets:
                    full = complete(t)
                    await copy.write_row(copy_row(full, derived_values(full, sla)))
            records, current_comments = _as_corrected(history.records)
            async with conn.cursor().copy(
                f"COPY comments ({COMMENT_COLUMNS}, digest, edited_body, edited_internal, edited_at) FROM STDIN"
            ) as copy:
                for r in (r for r in records if r.kind == "comment"):
                    c, now = r.data, current_comments[r.data["id"]]
                    corrected = now.get("edited_at") is not None
                    await copy.write_row(
                        [c["id"], c["ticket_id"], c["author"], c["body"], c["internal"], c["created_at"], r.digest]
                        + ([now["body"], now["internal"], now["edited_at"]] if corrected else [None, None, None])
                    )
            async with conn.cursor().copy("COPY erased_comments (id, ticket_id, digest) FROM STDIN") as copy:
                for r in (r for r in records if r.kind == "erased"):
                    await copy.write_row([r.data["id"], r.data["ticket_id"], r.digest])
            async with conn.cursor().copy(f"COPY events ({EVENT_COLUMNS}, closes, digest) FROM STDIN") as copy:
                for r in (r for r in records if r.kind == "event"):
                    e = r.data
                    await copy.write_row(
                        [
                            e["id"],
                            e["ticket_id"],
                            e["at"],
                            e["actor"],
                            e["type"],
                            json_text(e["changes"]),
                            closes(e),
                            r.digest,
                        ]
                    )
            # Never below what this database already handed out: no id is ever given twice.
            for table, given, rows in (
                ("tickets", next_id, tickets),
                ("comments", history.next_comment_id, [r.data for r in records if r.kind != "event"]),
                ("events", history.next_event_id, [r.data for r in records if r.kind == "event"]),
            ):
                highest = max((row["id"] for row in rows), default=0)
                await conn.execute(
                    "SELECT setval(pg_get_serial_sequence(%s, 'id'), %s, false)",
                    (table, max(given, current[table], highest + 1)),
                )


async def _result(cursor: psycopg.AsyncCursor[Any]) -> tuple[Any, ...] | None:
    """What a write's statement did: the row it returns, or (1,) for one without RETURNING that wrote its row;
    None when it wrote nothing (the version it names is gone)."""
    if cursor.description is None:
        return (1,) if cursor.rowcount == 1 else None
    return await cursor.fetchone()


def _update_params(old: Ticket, new: Ticket, version: int, policy: Policy, actor: str | None) -> dict[str, Any]:
    """The parameters of UPDATE_TICKET and its event."""
    return {
        **ticket_params(new, derived_values(new, policy)),
        "version": version,
        **event_params("updated", changes_between(old, new), new["updated_at"], actor),
    }


# percentile_disc(f) is the ceil(f * n)-th value: 0.5 gives the lower middle (the middle for an odd n), 0.5 + 1e-12
# the upper middle (n / 2 + 1 for an even n, the middle for an odd n), for any n below 10^11.
MIDDLES = "ARRAY[0.5, 0.500000000001]::float8[]"


def _median(middles: list[float] | None) -> float | None:
    """rules.median from the two middle values (the same one twice for an odd count), rounded the same way."""
    return None if middles is None else round((middles[0] + middles[1]) / 2, 1)


def _as_corrected(records: list[Record]) -> tuple[list[Record], dict[int, Comment]]:
    """The records of a history, a comment deleted alone made an erased record (its text leaves, its digest stays),
    and each comment as its corrections leave it (by id)."""
    current: dict[int, Comment] = {r.data["id"]: r.data for r in records if r.kind == "comment"}
    deleted: set[int] = set()
    for r in records:
        comment_id = commented_id(r.data) if r.kind == "event" else None
        if comment_id is None or comment_id not in current:
            continue
        if r.data["type"] == "comment_edited":
            current[comment_id] = edited(current[comment_id], r.data)
        elif r.data["type"] == "comment_deleted":
            deleted.add(comment_id)
    kept = [
        Record("erased", {"id": r.data["id"], "ticket_id": r.data["ticket_id"]}, r.digest)
        if r.kind == "comment" and r.data["id"] in deleted
        else r
        for r in records
    ]
    return kept, current
