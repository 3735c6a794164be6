"""Idempotency-Key in PostgreSQL (table idempotency_keys, migration 0007): a keyed creation and the answer kept
for it are one transaction, so either both are there or neither is.

The transaction first takes a transaction-level advisory lock on the key (pg_try_advisory_xact_lock): held by
another transaction, the first request is still being written, a KeyInFlight (409) at once. Held by this one, the
row of the key is read after the lock, so a request that came after the first committed sees its answer, on any
server. The primary key (scope, key) stays the last guard: should a fresh answer for the key be there when this
one is written, this write is undone and the next try gives that answer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
import pydantic_core

from tickets.engine.errors import KeyInFlight
from tickets.engine.idempotency import Answer, KeptRecord, Keyed, cutoff, replay
from tickets.stores.postgres.sql import json_text

KEPT = "SELECT route, fingerprint, at, status, headers, body::text FROM idempotency_keys WHERE scope = %s AND key = %s"
# A few of the oldest answers past their 24 hours, those no other transaction holds: a write never waits on them.
PRUNE = (
    "DELETE FROM idempotency_keys WHERE (scope, key) IN (SELECT scope, key FROM idempotency_keys "
    "WHERE left(at, -1) <= left(%s, -1) ORDER BY at LIMIT 100 FOR UPDATE SKIP LOCKED)"
)
# In place of a forgotten answer for the key (24 hours old); zero rows: a fresh one is there.
KEEP = (
    "INSERT INTO idempotency_keys (scope, key, route, fingerprint, at, status, headers, body) "
    "VALUES (%(scope)s, %(key)s, %(route)s, %(fingerprint)s, %(at)s, %(status)s, %(headers)s::jsonb, %(body)s::json) "
    "ON CONFLICT (scope, key) DO UPDATE SET route = excluded.route, fingerprint = excluded.fingerprint, "
    "at = excluded.at, status = excluded.status, headers = excluded.headers, body = excluded.body "
    "WHERE left(idempotency_keys.at, -1) <= left(%(cutoff)s, -1)"  # as times (values.time_key)
)
TRIES = 2


class _Raced(Exception):
    """An answer for the key was committed between this transaction's read and its own (see the docstring)."""


def lock_of(keyed: Keyed) -> int:
    """The key's advisory lock: 64 bits of a digest of (scope, key), in the one-bigint key space (the service's
    other advisory locks are small numbers, or pairs of 32-bit keys, which PostgreSQL keeps apart)."""
    digest = hashlib.blake2b(f"{keyed.scope}\0{keyed.key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


async def keyed_write(
    conn: psycopg.AsyncConnection[Any],
    keyed: Keyed,
    now: Callable[[], str],
    write: Callable[[psycopg.AsyncConnection[Any]], Awaitable[Answer]],
) -> Answer:
    """The answer kept for keyed (nothing written; KeyReused for another request), or write's answer, committed
    with it in one transaction; KeyInFlight while another transaction writes for the key. now: the store's clock."""
    for _ in range(TRIES):
        try:
            async with conn.transaction():
                return await _once(conn, keyed, now(), write)
        except _Raced:
            continue
    raise KeyInFlight(keyed.key)


async def _once(
    conn: psycopg.AsyncConnection[Any],
    keyed: Keyed,
    time: str,
    write: Callable[[psycopg.AsyncConnection[Any]], Awaitable[Answer]],
) -> Answer:
    locked = await (await conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (lock_of(keyed),))).fetchone()
    if not (locked and locked[0]):
        raise KeyInFlight(keyed.key)
    row = await (await conn.execute(KEPT, (keyed.scope, keyed.key))).fetchone()
    found = replay(_record(keyed, row), keyed, time)
    if found is not None:
        return found
    oldest = cutoff(time)
    await conn.execute(PRUNE, (oldest,))
    answer = await write(conn)
    cursor = await conn.execute(
        KEEP,
        {
            "scope": keyed.scope,
            "key": keyed.key,
            "route": keyed.route,
            "fingerprint": keyed.fingerprint,
            "at": time,
            "status": answer.status,
            "headers": json_text(answer.headers),
            "body": answer.body.decode(),
            "cutoff": oldest,
        },
    )
    if cursor.rowcount != 1:
        raise _Raced
    return answer


def _record(keyed: Keyed, row: tuple[Any, ...] | None) -> KeptRecord | None:
    if row is None:
        return None
    route, fingerprint, at, status, headers, body = row
    return {
        "scope": keyed.scope,
        "key": keyed.key,
        "route": route,
        "fingerprint": fingerprint,
        "at": at,
        "status": status,
        "headers": headers,
        "body": pydantic_core.from_json(body),
    }
