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
- The tables are created and upgraded by the service itself (migrations.py, under an advisory lock).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any, TypeVar, cast

import psycopg
import psycopg.errors
from psycopg import sql

from tickets.engine.chain import History, Record
from tickets.engine.errors import (
    CommentNotFound,
    PreconditionFailed,
    StoreError,
    StoreNotEmpty,
    TicketNotFound,
)
from tickets.engine.history import (
    Comment,
    Event,
    NewComment,
    Page,
    changes_between,
    closes,
    comment_changes,
    last_days,
    later_than,
    per_day,
)
from tickets.engine.models import Stats, StatsQuery, Ticket, TicketCreate, TicketQuery, TicketUpdate
from tickets.engine.rules import etag_matches, etag_of, now, ticket_json
from tickets.engine.settings import LOCK_TIMEOUT_DEFAULT
from tickets.engine.values import PRIORITIES, STATUSES, Priority, Status
from tickets.engine.verify import Report, Verifier
from tickets.stores.base import TicketStore
from tickets.stores.postgres.connections import POOL_SIZE, Connections
from tickets.stores.postgres.migrations import MIGRATION_LOCK
from tickets.stores.postgres.sql import (
    COLUMNS,
    COMMENT_COLUMNS,
    COMMENTED,
    EVENT_COLUMNS,
    EVENT_LOCK,
    EVENT_OF,
    FIELDS,
    ORDER_COLUMNS,
    ORPHAN_COMMENTS,
    RECORDS,
    comment_of,
    computed_columns,
    counted_filters_only,
    event_of,
    event_params,
    json_text,
    kept_by,
    ticket_of,
    where_clause,
)

T = TypeVar("T")
COMPACT_AFTER = 1000  # rows of differences in ticket_counts before they are folded into one per pair
COMPACT_LOCK = MIGRATION_LOCK + 1


class PostgresStore(Connections, TicketStore):
    """Tickets in a PostgreSQL database, named by a postgresql:// URL."""

    def __init__(self, url: str, *, lock_timeout: float = LOCK_TIMEOUT_DEFAULT, pool_size: int = POOL_SIZE) -> None:
        """lock_timeout: how long a write waits for a lock or a connection (TICKETS_LOCK_TIMEOUT)."""
        super().__init__(url, lock_timeout=lock_timeout, pool_size=pool_size)
        self._wanted: list[tuple[int, asyncio.Future[tuple[Any, ...] | None]]] = []  # reads of one ticket, waiting

    def _new_loop(self) -> None:
        self._wanted = []

    async def _rows(self, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        async def read(conn: psycopg.AsyncConnection[Any]) -> list[tuple[Any, ...]]:
            return await (await conn.execute(query, params)).fetchall()

        return await self._read(read)

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

    async def search(self, query: TicketQuery) -> tuple[list[Ticket], int]:
        where, params = where_clause(query)
        descending, name = query.sort.startswith("-"), query.sort.lstrip("-")
        order = ORDER_COLUMNS[name] + (" DESC" if descending else "") + (", id" if name != "id" else "")
        page_sql = f"SELECT {COLUMNS} FROM tickets{where} ORDER BY {order} LIMIT %s OFFSET %s"

        async def read(conn: psycopg.AsyncConnection[Any]) -> tuple[list[Ticket], int]:
            cursor = await conn.execute(page_sql, [*params, query.limit, query.offset])
            page = [ticket_of(row) for row in await cursor.fetchall()]
            reached_end = query.limit is None or len(page) < query.limit
            if reached_end and (page or query.offset == 0):
                return page, query.offset + len(page)  # the page reached the end: no need to count
            if counted_filters_only(query):
                counts = await self._counts(conn)
                return page, sum(n for (s, p), n in counts.items() if kept_by(query, s, p))
            cursor = await conn.execute(f"SELECT count(*) FROM tickets{where}", params)
            return page, (await cursor.fetchone())[0]  # type: ignore[index]

        return await self._read(read)

    async def stats(self, query: StatsQuery) -> Stats:
        if counted_filters_only(query):
            counts = await self._read(self._counts)
            rows = [(s, p, n) for (s, p), n in counts.items() if kept_by(query, s, p)]
        else:
            where, params = where_clause(query)
            rows = await self._rows(
                f"SELECT status, priority, count(*) FROM tickets{where} GROUP BY status, priority", params
            )
        by_status: dict[str, int] = dict.fromkeys(STATUSES, 0)
        by_priority: dict[str, int] = dict.fromkeys(PRIORITIES, 0)
        for status, priority, n in rows:
            by_status[status] += n
            by_priority[priority] += n
        first = last_days(query.days)[0]
        days = await self._rows(
            "SELECT left(at, 10), count(*) FILTER (WHERE type = 'created'), "
            "count(*) FILTER (WHERE closes) FROM events "
            "WHERE at >= %s AND (type = 'created' OR closes) GROUP BY 1",
            (first,),
        )
        return {
            "total": sum(by_status.values()),
            "by_status": cast(dict[Status, int], by_status),
            "by_priority": cast(dict[Priority, int], by_priority),
            "per_day": per_day({day: (opened, closed) for day, opened, closed in days}, query.days),
        }

    async def count(self) -> int:
        return sum((await self._read(self._counts)).values())

    async def _counts(self, conn: psycopg.AsyncConnection[Any]) -> dict[tuple[str, str], int]:
        """How many tickets have each (status, priority), from ticket_counts: a few rows, whatever the size."""
        cursor = await conn.execute(
            "SELECT status, priority, sum(n), count(*) FROM ticket_counts GROUP BY status, priority"
        )
        rows = await cursor.fetchall()
        if sum(row[3] for row in rows) > COMPACT_AFTER:
            self._background(self._compact())
        return {(status, priority): int(n) for status, priority, n, _ in rows if n}

    async def _compact(self) -> None:
        """Fold the rows of differences into one per (status, priority); one server at a time does it, and
        writers go on meanwhile (it deletes only rows committed before it started, and adds their sum)."""
        try:
            async with self._connection() as conn, conn.transaction():
                locked = await (await conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (COMPACT_LOCK,))).fetchone()
                if locked and locked[0]:
                    await conn.execute(
                        "WITH gone AS (DELETE FROM ticket_counts RETURNING status, priority, n) "
                        "INSERT INTO ticket_counts SELECT status, priority, sum(n) FROM gone GROUP BY status, priority"
                    )
        except StoreError:
            pass  # the next count tries again

    # ---- writing

    async def add(self, data: TicketCreate, actor: str | None = None) -> Ticket:
        time = now()
        values = data.model_dump()
        ticket_fields = ("title", "description", "status", "priority", "assignee")
        ticket = cast(Ticket, {"id": 0, **values, "created_at": time, "updated_at": time})
        params = {
            **{f: values[f] for f in ticket_fields},
            "time": time,
            **dict(zip(("title_key", "search_title", "search_description"), computed_columns(values), strict=True)),
            **event_params("created", changes_between(None, ticket), time, actor),
        }
        statement = (
            "WITH new AS (INSERT INTO tickets (title, description, status, priority, assignee, created_at, updated_at, "
            "title_key, search_title, search_description) VALUES (%(title)s, %(description)s, %(status)s, "
            "%(priority)s, %(assignee)s, %(time)s, %(time)s, %(title_key)s, %(search_title)s, %(search_description)s) "
            "RETURNING id)" + EVENT_OF.format(lock=EVENT_LOCK, rows="new") + " RETURNING ticket_id"
        )
        async with self._connection() as conn:  # never tried twice: a lost answer may hide a done write
            row = await (await conn.execute(statement, params)).fetchone()
        assert row is not None  # the INSERT returns its row
        return {**ticket, "id": row[0]}

    async def update(
        self, ticket_id: int, changes: TicketUpdate, if_match: str | None = None, actor: str | None = None
    ) -> Ticket:
        given = changes.model_dump(exclude_unset=True)
        async with self._connection() as conn:
            while True:  # again only when somebody else changed the ticket between our read and our write
                old, version = await self._current(conn, ticket_id, if_match)
                new: Ticket = {**old, **given}  # type: ignore[typeddict-item]
                if new == old:
                    return old  # nothing changes: same updated_at, same ETag, no write, no event
                new["updated_at"] = now()
                title_key, search_title, search_description = computed_columns(new)
                cursor = await conn.execute(
                    "WITH changed AS (UPDATE tickets SET title = %(title)s, description = %(description)s, "
                    "status = %(status)s, priority = %(priority)s, assignee = %(assignee)s, updated_at = %(at)s, "
                    "title_key = %(title_key)s, search_title = %(search_title)s, "
                    "search_description = %(search_description)s, version = version + 1 "
                    "WHERE id = %(id)s AND version = %(version)s RETURNING id)"
                    + EVENT_OF.format(lock=EVENT_LOCK, rows="changed"),
                    {
                        **new,
                        "title_key": title_key,
                        "search_title": search_title,
                        "search_description": search_description,
                        "version": version,
                        **event_params("updated", changes_between(old, new), new["updated_at"], actor),
                    },
                )
                if cursor.rowcount == 1:
                    return new

    async def delete(self, ticket_id: int, if_match: str | None = None, actor: str | None = None) -> None:
        deleted = event_params("deleted", {}, now(), actor)
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
                _, version = await self._current(conn, ticket_id, if_match)
                cursor = await conn.execute(
                    statement.format(lock=EVENT_LOCK, rows="gone", and_version=" AND version = %(version)s"),
                    {"id": ticket_id, "version": version, **deleted},
                )
                if cursor.rowcount == 1:
                    return

    async def add_comment(self, ticket_id: int, comment: NewComment, actor: str | None = None) -> Comment:
        async with self._connection() as conn:
            while True:
                ticket, version = await self._current(conn, ticket_id, None)
                time = now()
                event = event_params("commented", comment_changes(0), time, actor)
                cursor = await conn.execute(
                    COMMENTED,
                    {
                        "id": ticket_id,
                        "version": version,
                        "updated_at": later_than(ticket["updated_at"], time),
                        "author": comment.author,
                        "body": comment.body,
                        "internal": comment.internal,
                        "lock": EVENT_LOCK,
                        **event,
                    },
                )
                row = await cursor.fetchone()
                if row is not None:
                    return {
                        "id": row[0],
                        "ticket_id": ticket_id,
                        "author": comment.author,
                        "body": comment.body,
                        "internal": comment.internal,
                        "created_at": time,
                    }

    # ---- comments and history

    async def comments(self, ticket_id: int, page: Page) -> tuple[list[Comment], int]:
        rows, total = await self._page_of("comments", COMMENT_COLUMNS, ticket_id, page)
        if total == 0 and not await self._exists(ticket_id):
            raise TicketNotFound(ticket_id)
        return [comment_of(row) for row in rows], total

    async def comment(self, ticket_id: int, comment_id: int) -> Comment:
        rows = await self._rows(
            f"SELECT {COMMENT_COLUMNS} FROM comments WHERE ticket_id = %s AND id = %s", (ticket_id, comment_id)
        )
        if not rows:
            if not await self._exists(ticket_id):
                raise TicketNotFound(ticket_id)
            raise CommentNotFound(ticket_id, comment_id)
        return comment_of(rows[0])

    async def events(self, ticket_id: int, page: Page) -> tuple[list[Event], int]:
        rows, total = await self._page_of("events", EVENT_COLUMNS, ticket_id, page)
        if total == 0 and not await self._exists(ticket_id):
            raise TicketNotFound(ticket_id)
        return [event_of(row) for row in rows], total

    async def feed(self, after: int, limit: int) -> list[Event]:
        rows = await self._rows(
            f"SELECT {EVENT_COLUMNS} FROM events WHERE id > %s ORDER BY id LIMIT %s", (after, limit)
        )
        return [event_of(row) for row in rows]

    async def _page_of(self, table: str, columns: str, ticket_id: int, page: Page) -> tuple[list[tuple[Any, ...]], int]:
        """A page of a ticket's comments or events, oldest first, and how many it has."""

        async def read(conn: psycopg.AsyncConnection[Any]) -> tuple[list[tuple[Any, ...]], int]:
            cursor = await conn.execute(
                f"SELECT {columns}, count(*) OVER () FROM {table} WHERE ticket_id = %s ORDER BY id LIMIT %s OFFSET %s",
                (ticket_id, page.limit, page.offset),
            )
            rows = await cursor.fetchall()
            if rows:
                return [row[:-1] for row in rows], rows[0][-1]
            if page.offset == 0:
                return [], 0
            cursor = await conn.execute(f"SELECT count(*) FROM {table} WHERE ticket_id = %s", (ticket_id,))
            return [], (await cursor.fetchone())[0]  # type: ignore[index]

        return await self._read(read)

    async def _exists(self, ticket_id: int) -> bool:
        return bool(await self._rows("SELECT 1 FROM tickets WHERE id = %s", (ticket_id,)))

    async def _current(
        self, conn: psycopg.AsyncConnection[Any], ticket_id: int, if_match: str | None
    ) -> tuple[Ticket, int]:
        """The ticket and its version; PreconditionFailed when if_match names another version."""
        cursor = await conn.execute(f"SELECT {COLUMNS}, version FROM tickets WHERE id = %s", (ticket_id,))
        row = await cursor.fetchone()
        if row is None:
            raise TicketNotFound(ticket_id)
        ticket = ticket_of(row)
        if if_match is not None:
            etag = etag_of(ticket_json(ticket))
            if not etag_matches(if_match, etag):
                raise PreconditionFailed(ticket_id, if_match, etag)
        return ticket, row[-1]

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
        self, next_id: int, tickets: list[Ticket], *, replace: bool, history: History | None = None
    ) -> None:
        history = history or History()
        async with self._connection() as conn, conn.transaction():
            await conn.execute("SET LOCAL statement_timeout = 0")  # a copy of a million tickets takes a while
            await conn.execute("LOCK TABLE tickets IN ACCESS EXCLUSIVE MODE")  # no write slips in between
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (EVENT_LOCK,))  # nor an event
            held = (await (await conn.execute("SELECT count(*) FROM tickets")).fetchone())[0]  # type: ignore[index]
            if held and not replace:
                raise StoreNotEmpty(self.name, held)
            current = {table: await self._next_id(conn, table) for table in ("tickets", "comments", "events")}
            # Inside the transaction: undone if the copy fails.
            await conn.execute("TRUNCATE tickets, comments, events, erased_comments")
            async with conn.cursor().copy(
                f"COPY tickets ({COLUMNS}, title_key, search_title, search_description) FROM STDIN"
            ) as copy:
                for t in tickets:
                    await copy.write_row([t[f] for f in FIELDS] + computed_columns(t))  # type: ignore[literal-required]
            records = history.records
            async with conn.cursor().copy(f"COPY comments ({COMMENT_COLUMNS}, digest) FROM STDIN") as copy:
                for r in (r for r in records if r.kind == "comment"):
                    c = r.data
                    await copy.write_row(
                        [c["id"], c["ticket_id"], c["author"], c["body"], c["internal"], c["created_at"], r.digest]
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
