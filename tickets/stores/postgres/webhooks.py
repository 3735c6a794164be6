"""The webhooks of a PostgreSQL store: the endpoints (table webhooks, one JSON document each, changed under a
row lock) and their tries (table webhook_attempts). The right to deliver is a session advisory lock held on a
connection of its own: PostgreSQL gives it up when that connection ends, the process killed or the network lost.
"""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from tickets.engine.errors import WebhookNotFound
from tickets.engine.history import Page
from tickets.engine.webhooks import Attempt, Stored, WebhookCreate, created
from tickets.stores.postgres.connections import CONNECT_TIMEOUT, Connections
from tickets.stores.postgres.migrations import MIGRATION_LOCK
from tickets.stores.webhook_seam import ATTEMPTS_KEPT, Change, Claim, WebhookStore

DELIVERY_LOCK = MIGRATION_LOCK + 0x100  # one delivering process per database (+1 to +4 are the store's own locks)


class PostgresWebhooks(WebhookStore):
    def __init__(self, db: Connections) -> None:
        self.db = db

    async def create(self, data: WebhookCreate, secret: str, at: str, cursor: int) -> Stored:
        async with self.db._connection() as conn, conn.transaction():
            row = await (await conn.execute("SELECT nextval(pg_get_serial_sequence('webhooks', 'id'))")).fetchone()
            assert row is not None
            hook = created(row[0], data, secret, at, cursor)
            await conn.execute("INSERT INTO webhooks (id, doc) VALUES (%s, %s)", (hook["id"], Jsonb(hook)))
        return hook

    async def all(self) -> list[Stored]:
        async def read(conn: psycopg.AsyncConnection[Any]) -> list[Stored]:
            rows = await (await conn.execute("SELECT doc FROM webhooks ORDER BY id")).fetchall()
            return [row[0] for row in rows]

        return await self.db._read(read)

    async def get(self, hook_id: int) -> Stored:
        async def read(conn: psycopg.AsyncConnection[Any]) -> Any:
            return await (await conn.execute("SELECT doc FROM webhooks WHERE id = %s", (hook_id,))).fetchone()

        row = await self.db._read(read)
        if row is None:
            raise WebhookNotFound(hook_id)
        return row[0]

    async def change(self, hook_id: int, change: Change) -> Stored:
        async with self.db._connection() as conn, conn.transaction():
            row = await (await conn.execute("SELECT doc FROM webhooks WHERE id = %s FOR UPDATE", (hook_id,))).fetchone()
            if row is None:
                raise WebhookNotFound(hook_id)
            new = change(row[0])
            if new is None:
                return row[0]
            await conn.execute("UPDATE webhooks SET doc = %s WHERE id = %s", (Jsonb(new), hook_id))
            return new

    async def delete(self, hook_id: int) -> None:
        async with self.db._connection() as conn:
            cursor = await conn.execute("DELETE FROM webhooks WHERE id = %s", (hook_id,))
            if cursor.rowcount == 0:
                raise WebhookNotFound(hook_id)

    async def record(self, attempts: list[Attempt]) -> None:
        async with self.db._connection() as conn, conn.transaction():
            async with conn.cursor() as cursor:
                await cursor.executemany(
                    "INSERT INTO webhook_attempts (webhook_id, doc) SELECT %s, %s WHERE EXISTS "
                    "(SELECT 1 FROM webhooks WHERE id = %s)",
                    [(a["webhook_id"], Jsonb(a), a["webhook_id"]) for a in attempts],
                )
            for hook_id in {a["webhook_id"] for a in attempts}:  # each endpoint keeps its latest ATTEMPTS_KEPT
                await conn.execute(
                    "DELETE FROM webhook_attempts WHERE webhook_id = %s AND id <= "
                    "(SELECT id FROM webhook_attempts WHERE webhook_id = %s ORDER BY id DESC OFFSET %s LIMIT 1)",
                    (hook_id, hook_id, ATTEMPTS_KEPT),
                )

    async def attempts(self, hook_id: int, page: Page) -> tuple[list[Attempt], int]:
        await self.get(hook_id)  # WebhookNotFound

        async def read(conn: psycopg.AsyncConnection[Any]) -> tuple[list[Attempt], int]:
            rows = await (
                await conn.execute(
                    "SELECT doc, count(*) OVER () FROM webhook_attempts WHERE webhook_id = %s "
                    "ORDER BY id DESC LIMIT %s OFFSET %s",
                    (hook_id, page.limit, page.offset),
                )
            ).fetchall()
            if rows:
                return [row[0] for row in rows], rows[0][1]
            total = await (
                await conn.execute("SELECT count(*) FROM webhook_attempts WHERE webhook_id = %s", (hook_id,))
            ).fetchone()
            return [], total[0] if total else 0

        return await self.db._read(read)

    async def claim(self) -> Claim | None:
        async with self.db._connection():
            pass  # the tables exist (migrated), and a database that cannot be reached is a StoreError here
        try:
            conn = await psycopg.AsyncConnection.connect(self.db.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT)
        except psycopg.Error:
            return None
        try:
            row = await (await conn.execute("SELECT pg_try_advisory_lock(%s)", (DELIVERY_LOCK,))).fetchone()
        except BaseException as exc:  # cancelled (a server stopping) or failed: the lock must not stay taken
            await asyncio.shield(conn.close())
            if isinstance(exc, psycopg.Error):
                return None
            raise
        if not (row and row[0]):
            await conn.close()
            return None
        return _LockClaim(conn)


class _LockClaim(Claim):
    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self.conn = conn

    async def held(self) -> bool:
        try:
            await self.conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False

    async def release(self) -> None:
        await self.conn.close()  # the session's advisory lock goes with it
