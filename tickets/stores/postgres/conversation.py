"""The conversation and history of the PostgreSQL store's tickets, as read (comments, events, the feed: all of it,
or what a viewer may see) and as corrected (a comment edited or deleted, each with its event). A comment's record
keeps its text as first written (the chain's digests cover it); its current text lives in edited_* columns."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import psycopg

from tickets.engine.errors import CommentNotFound, NotAuthor, TicketNotFound
from tickets.engine.history import Comment, CommentEdit, Event, Page, deletion_changes, edit_changes, edited
from tickets.engine.values import nfc
from tickets.stores.postgres.connections import Connections
from tickets.stores.postgres.sql import (
    CURRENT_COMMENT,
    DELETE_COMMENT,
    EDIT_COMMENT,
    EVENT_LOCK,
    EVENT_OF,
    HIDDEN_EVENT,
    current_comment_of,
    event_of,
    event_params,
)


class Conversation(Connections):
    """Comments and events of the tickets of one database (PostgresStore is built on it)."""

    now: Callable[[], str]  # the store's clock (stores.base.TicketStore)

    async def _rows(self, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        async def read(conn: psycopg.AsyncConnection[Any]) -> list[tuple[Any, ...]]:
            return await (await conn.execute(query, params)).fetchall()

        return await self._read(read)

    async def edit_comment(
        self, ticket_id: int, comment_id: int, changes: CommentEdit, author: str | None, actor: str | None = None
    ) -> Comment:
        async with self._connection() as conn:
            while True:  # again only when the comment was corrected or deleted between our read and our write
                comment = await self._comment_of(conn, ticket_id, comment_id, author)
                corrections = edit_changes(comment, changes)
                if not corrections:
                    return comment  # nothing changes: nothing recorded
                time = self.now()
                new = edited(comment, {"at": time, "changes": corrections})
                cursor = await conn.execute(
                    EDIT_COMMENT + EVENT_OF.format(lock=EVENT_LOCK, rows="changed"),
                    {
                        "id": ticket_id,
                        "comment_id": comment_id,
                        "old_body": comment["body"],
                        "old_internal": comment["internal"],
                        "new_body": new["body"],
                        "new_internal": new["internal"],
                        **event_params("comment_edited", corrections, time, actor),
                    },
                )
                if cursor.rowcount == 1:
                    return new

    async def delete_comment(
        self, ticket_id: int, comment_id: int, author: str | None, actor: str | None = None
    ) -> None:
        async with self._connection() as conn:
            while True:
                comment = await self._comment_of(conn, ticket_id, comment_id, author)
                cursor = await conn.execute(
                    DELETE_COMMENT + EVENT_OF.format(lock=EVENT_LOCK, rows="gone"),
                    {
                        "id": ticket_id,
                        "comment_id": comment_id,
                        "old_internal": comment["internal"],
                        **event_params("comment_deleted", deletion_changes(comment), self.now(), actor),
                    },
                )
                if cursor.rowcount == 1:
                    return

    async def _comment_of(
        self, conn: psycopg.AsyncConnection[Any], ticket_id: int, comment_id: int, author: str | None
    ) -> Comment:
        """A comment as it reads now; NotAuthor when author is given and is not its author."""
        cursor = await conn.execute(
            f"SELECT {CURRENT_COMMENT} FROM comments WHERE ticket_id = %s AND id = %s", (ticket_id, comment_id)
        )
        row = await cursor.fetchone()
        if row is None:
            if not await self._exists(ticket_id):
                raise TicketNotFound(ticket_id)
            raise CommentNotFound(ticket_id, comment_id)
        comment = current_comment_of(row)
        if author is not None and nfc(author) != nfc(comment["author"]):
            raise NotAuthor(ticket_id, comment_id, comment["author"])
        return comment

    # ---- comments and history

    async def comments(self, ticket_id: int, page: Page, internal: bool = True) -> tuple[list[Comment], int]:
        where = "" if internal else " AND NOT coalesce(edited_internal, internal)"
        rows, total = await self._page_of("comments", CURRENT_COMMENT, ticket_id, page, where)
        if total == 0 and not await self._exists(ticket_id):
            raise TicketNotFound(ticket_id)
        return [current_comment_of(row) for row in rows], total

    async def comment(self, ticket_id: int, comment_id: int, internal: bool = True) -> Comment:
        rows = await self._rows(
            f"SELECT {CURRENT_COMMENT} FROM comments WHERE ticket_id = %s AND id = %s", (ticket_id, comment_id)
        )
        hidden = bool(rows) and not internal and rows[0][4]  # a viewer is never shown an internal note
        if not rows or hidden:
            if not await self._exists(ticket_id):
                raise TicketNotFound(ticket_id)
            raise CommentNotFound(ticket_id, comment_id)
        return current_comment_of(rows[0])

    async def events(self, ticket_id: int, page: Page, internal: bool = True) -> tuple[list[Event], int]:
        where = "" if internal else f" AND NOT {HIDDEN_EVENT}"
        rows, total = await self._page_of(
            "events e", "e.id, e.ticket_id, e.at, e.actor, e.type, e.changes", ticket_id, page, where
        )
        if total == 0 and not await self._has_history(ticket_id):
            raise TicketNotFound(ticket_id)
        return [event_of(row) for row in rows], total

    async def feed(self, after: int, limit: int, internal: bool = True) -> list[Event]:
        hidden = "" if internal else f" AND NOT {HIDDEN_EVENT}"
        rows = await self._rows(
            f"SELECT e.id, e.ticket_id, e.at, e.actor, e.type, e.changes FROM events e WHERE e.id > %s{hidden} "
            "ORDER BY e.id LIMIT %s",
            (after, limit),
        )
        return [event_of(row) for row in rows]

    async def _page_of(
        self, table: str, columns: str, ticket_id: int, page: Page, where: str = ""
    ) -> tuple[list[tuple[Any, ...]], int]:
        """A page of a ticket's comments or events, oldest first, and how many it has (where: more conditions)."""
        alias = table.split()[-1] + "."

        async def read(conn: psycopg.AsyncConnection[Any]) -> tuple[list[tuple[Any, ...]], int]:
            cursor = await conn.execute(
                f"SELECT {columns}, count(*) OVER () FROM {table} WHERE {alias}ticket_id = %s{where} "
                f"ORDER BY {alias}id LIMIT %s OFFSET %s",
                (ticket_id, page.limit, page.offset),
            )
            rows = await cursor.fetchall()
            if rows:
                return [row[:-1] for row in rows], rows[0][-1]
            if page.offset == 0:
                return [], 0
            cursor = await conn.execute(
                f"SELECT count(*) FROM {table} WHERE {alias}ticket_id = %s{where}", (ticket_id,)
            )
            return [], (await cursor.fetchone())[0]  # type: ignore[index]

        return await self._read(read)

    async def _exists(self, ticket_id: int) -> bool:
        return bool(await self._rows("SELECT 1 FROM tickets WHERE id = %s", (ticket_id,)))

    async def _has_history(self, ticket_id: int) -> bool:
        """Whether a ticket had this id: it exists, or has events (a viewer may see none of them)."""
        return bool(
            await self._rows(
                "SELECT 1 FROM tickets WHERE id = %s UNION ALL SELECT 1 FROM events WHERE ticket_id = %s LIMIT 1",
                (ticket_id, ticket_id),
            )
        )
