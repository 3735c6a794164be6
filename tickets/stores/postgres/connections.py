"""The connections of the PostgreSQL store: one pool per event loop, failures told as a 503 that names the
problem (never the password), recovery when the server comes back, and the migrations run at first use."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import psycopg
import psycopg.errors
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from tickets.engine.errors import (
    StoreBusy,
    StoreError,
)
from tickets.engine.messages import Message, message
from tickets.stores.postgres.migrations import MIGRATION_LOCK, MIGRATIONS, RENUMBERED, TRIGRAM_INDEXES, VERSIONS

T = TypeVar("T")
POOL_SIZE = 32  # connections per server process at most
CONNECT_TIMEOUT = 5  # seconds for one attempt to reach the server


def safe_url(url: str) -> str:
    """The URL without its password, fit for a message."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        credentials, host = netloc.rsplit("@", 1)
        if ":" in credentials:
            netloc = credentials.split(":", 1)[0] + ":***@" + host
    query = re.sub(r"(^|&)password=[^&]*", r"\1password=***", parts.query)
    return urlunsplit(parts._replace(netloc=netloc, query=query))


class DatabaseUnavailable(StoreError):
    def __init__(self, name: str, problem: Message | str) -> None:
        """problem: a message of the catalog, or what the database said (PostgreSQL's words, as they are)."""
        super().__init__(message("database_unavailable", name=name, problem=problem))


class TablesMissing(DatabaseUnavailable):
    """A table is gone under a running service (its database dropped and created again empty): the next use
    creates the tables again, and a read is tried once more at once."""


# What the statements of store.py and sql.py (and the triggers of the migrations, which run as the service's
# role) do to each table: /health checks the role may still do it. NEXTVAL: the statement takes the next id of
# the table's id sequence itself (USAGE or UPDATE on it). Reading is checked by reading. To follow them when
# they change: a write this list lacks is still a 503 naming it, only /health would not see it coming.
WRITES = {
    "tickets": ("INSERT", "UPDATE", "DELETE"),
    "comments": ("INSERT", "UPDATE", "DELETE", "NEXTVAL"),
    "events": ("INSERT", "NEXTVAL"),
    "ticket_counts": ("INSERT", "DELETE"),
    "sla_counts": ("INSERT", "DELETE"),
    "tag_counts": ("INSERT", "DELETE"),
    "erased_comments": ("INSERT",),
    "sla_policy": ("INSERT", "UPDATE"),
    "webhooks": ("INSERT", "UPDATE", "DELETE", "NEXTVAL"),
    "webhook_attempts": ("INSERT", "DELETE"),
    "idempotency_keys": ("INSERT", "UPDATE", "DELETE"),
}
# One round trip: a row of each table read (LIMIT 1: cheap at any size), and each write the role may not do.
HEALTH_CHECK = (
    "SELECT array(SELECT CASE p WHEN 'NEXTVAL' THEN 'USAGE on sequence ' || pg_get_serial_sequence(t, 'id') "
    "ELSE p || ' on ' || t END FROM unnest(%s::text[], %s::text[]) AS needed (t, p) WHERE NOT CASE p "
    "WHEN 'NEXTVAL' THEN has_sequence_privilege(pg_get_serial_sequence(t, 'id'), 'USAGE, UPDATE') "
    "WHEN 'DELETE' THEN has_table_privilege(t, p) ELSE has_any_column_privilege(t, p) END)"
    + "".join(f", (SELECT 1 FROM {table} LIMIT 1)" for table in [*WRITES, "tickets_schema"])
)


def _problem(error: BaseException) -> str:
    """One line from a psycopg or libpq error (libpq messages never hold the password)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = "; ".join(lines[:2]) if lines else type(error).__name__
    return text.removeprefix("connection failed: ")


class Connections:
    """The connections of one store to its database: a pool per event loop, a quick 503 naming the problem when
    the server does not answer, a fresh pool after it comes back, and the tables created or upgraded at first
    use (migrations.py). PostgresStore is built on it."""

    def __init__(self, url: str, *, lock_timeout: float, pool_size: int) -> None:
        self.url = url
        self.lock_timeout = lock_timeout
        self.name = safe_url(url)
        self.pool_size = pool_size
        self._pool: AsyncConnectionPool | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._migrated = False
        self._tasks: set[asyncio.Future[Any]] = set()
        self._recovery = asyncio.Lock()
        self._outage = True  # nothing known yet: the first use checks the server directly

    def _new_loop(self) -> None:
        """Called when the store is first used on another event loop: what belonged to the old one is dropped."""

    def _pool_of_this_loop(self) -> AsyncConnectionPool:
        """The pool lives on one event loop: a new loop (a CLI command, a test client) gets its own."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._pool, self._loop, self._recovery, self._outage = None, loop, asyncio.Lock(), True
            self._new_loop()
        if self._pool is None:
            self._pool = AsyncConnectionPool(
                self.url,
                min_size=1,
                max_size=self.pool_size,
                open=False,
                timeout=self.lock_timeout,
                kwargs={
                    "autocommit": True,
                    "connect_timeout": CONNECT_TIMEOUT,
                    # in ms; PostgreSQL reads 0 as "wait for ever", so never less than 1
                    # jit off: the service's statements are short; compiling them cost more than they take
                    # (17 ms on a 2 ms count whose estimate crossed jit_above_cost)
                    "options": f"-c lock_timeout={max(1, int(self.lock_timeout * 1000))} -c jit=off",
                },
                name="tickets",
                reconnect_timeout=self.lock_timeout,
            )
        return self._pool

    async def open(self) -> None:
        async with self._connection():
            pass  # connects, and creates or upgrades the tables

    async def close(self) -> None:
        ours = [task for task in self._tasks if task.get_loop() is asyncio.get_running_loop()]
        if ours:  # a read of a burst, a fold of the counts: each bounded by the timeouts above
            await asyncio.wait(ours, timeout=CONNECT_TIMEOUT)
        pool, self._pool, self._loop = self._pool, None, None
        if pool is not None:
            await pool.close()

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A connection from the pool; every database failure becomes a StoreError naming it (a 503)."""
        pool = self._pool_of_this_loop()
        if self._outage:
            pool = await self._recover()
        try:
            if pool.closed:
                await pool.open(wait=False)
            async with pool.connection() as conn:
                if not self._migrated:
                    await self._migrate(conn)
                yield conn
        except PoolTimeout:
            problem = await self._probe()
            self._outage = problem is not None
            raise DatabaseUnavailable(
                self.name,
                problem or message("database_pool_busy", count=self.pool_size, seconds=f"{self.lock_timeout:g}"),
            ) from None
        except psycopg.errors.LockNotAvailable:
            raise StoreBusy(self.name, self.lock_timeout) from None
        except psycopg.errors.UndefinedTable as exc:
            self._migrated = False  # the tables went away (a database made again empty): the next use makes them
            raise TablesMissing(self.name, _problem(exc)) from None
        except psycopg.OperationalError as exc:
            self._outage = True  # the server went away: the next request checks it and starts afresh
            raise DatabaseUnavailable(self.name, _problem(exc)) from None
        except psycopg.Error as exc:
            raise DatabaseUnavailable(self.name, _problem(exc)) from None

    async def _recover(self) -> AsyncConnectionPool:
        """At first use, and after a failure: one direct connection attempt says at once whether the server
        answers (refused, wrong password, no such database: a 503 naming it, without waiting for the pool's
        timeout). When it answers, a fresh pool replaces the one whose connections died with the server."""
        async with self._recovery:
            if self._outage:
                problem = await self._probe()
                if problem is not None:
                    raise DatabaseUnavailable(self.name, problem)
                old, self._pool = self._pool, None
                self._outage = False
                self._migrated = False  # it may be another database now (dropped and created again): check its tables
                if old is not None and not old.closed:
                    self._background(old.close(timeout=1))
        return self._pool_of_this_loop()

    async def _probe(self) -> str | None:
        """None if the server accepts a connection now, else what it said (the password is never in it)."""
        try:
            conn = await psycopg.AsyncConnection.connect(self.url, connect_timeout=CONNECT_TIMEOUT)
        except psycopg.Error as exc:
            return _problem(exc)
        await conn.close()
        return None

    def _background(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _read(self, read: Callable[[psycopg.AsyncConnection[Any]], Awaitable[T]]) -> T:
        """A read, tried once more on a fresh connection when the first one was lost (a restarted server), or on
        tables made again when they were gone."""
        try:
            async with self._connection() as conn:
                return await read(conn)
        except DatabaseUnavailable as problem:
            if not (self._outage or isinstance(problem, TablesMissing)):
                raise
            async with self._connection() as conn:
                return await read(conn)

    async def check_usable(self) -> None:
        """For /health: every table can be read, and written as the service writes it, by this role now (a
        privilege revoked is a 503 naming it, not a 200 while every request fails)."""

        async def check(conn: psycopg.AsyncConnection[Any]) -> list[str]:
            tables = [table for table, writes in WRITES.items() for _ in writes]
            writes = [write for each in WRITES.values() for write in each]
            row = await (await conn.execute(HEALTH_CHECK, (tables, writes))).fetchone()
            return list(row[0]) if row else []

        denied = await self._read(check)
        if denied:
            raise DatabaseUnavailable(self.name, message("database_role_lacks", rights=", ".join(denied)))

    async def _migrate(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Create or upgrade the tables, once per process; servers starting together take turns."""
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            await conn.execute("CREATE TABLE IF NOT EXISTS tickets_schema (version integer NOT NULL)")
            await conn.execute(RENUMBERED)
            cursor = await conn.execute("SELECT version FROM tickets_schema")
            done = {row[0] for row in await cursor.fetchall()}
            if max(done, default=0) > VERSIONS[-1]:
                raise DatabaseUnavailable(self.name, message("database_newer", version=max(done), known=VERSIONS[-1]))
            for number, migration in zip(VERSIONS, MIGRATIONS, strict=True):
                if number not in done:
                    await conn.execute(migration)
                    await conn.execute("INSERT INTO tickets_schema (version) VALUES (%s)", (number,))
            try:
                async with conn.transaction():  # a savepoint: without pg_trgm, the rest stays
                    await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
                    await conn.execute(TRIGRAM_INDEXES)
            except psycopg.Error:
                pass
        self._migrated = True
