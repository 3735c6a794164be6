"""The chain that makes a history prove itself: every comment and event carries a digest chained to the record
before it, the same in both stores, so that a record changed, removed, repeated or swapped is found.

The recipe (docs/history.md shows it as a short script):

    digest(record) = SHA-256( digest(previous record) + canonical bytes of record )

- the first record's previous digest is 32 zero bytes; digests are written as 64 lowercase hex digits;
- the canonical bytes of a record are its compact JSON, UTF-8, non-ASCII characters as themselves, keys in the
  order the API gives them: a comment {id, ticket_id, author, body, internal, created_at}, an event {id,
  ticket_id, at, actor, type, changes} (`changes` as it was recorded);
- the order of the records is the order of the events (their ids), each comment just before the `commented`
  event that names it: the order in which they were written;
- a comment deleted with its ticket leaves its digest behind (an "erased" record): the chain goes on from it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

import pydantic_core

from tickets.engine.history import Comment, Event

GENESIS = bytes(32)  # the previous digest of the first record
COMMENT_KEYS = ("id", "ticket_id", "author", "body", "internal", "created_at")
EVENT_KEYS = ("id", "ticket_id", "at", "actor", "type", "changes")
RecordKind = Literal["comment", "event", "erased"]


def canonical_comment(comment: Comment | dict[str, Any]) -> bytes:
    return pydantic_core.to_json({key: comment[key] for key in COMMENT_KEYS})  # type: ignore[literal-required]


def canonical_event(event: Event | dict[str, Any]) -> bytes:
    return pydantic_core.to_json({key: event[key] for key in EVENT_KEYS})  # type: ignore[literal-required]


def record_bytes(kind: str, data: dict[str, Any]) -> bytes:
    """The JSON a record is stored as: its canonical bytes; for an erased comment, its id and its ticket's."""
    if kind == "event":
        return canonical_event(data)
    if kind == "comment":
        return canonical_comment(data)
    return b'{"id":%d,"ticket_id":%d}' % (data["id"], data["ticket_id"])


def chained(previous: bytes, canonical: bytes) -> bytes:
    """The digest of a record whose canonical bytes follow a record of digest previous (raw bytes)."""
    return hashlib.sha256(previous + canonical).digest()


@dataclass(frozen=True)
class Record:
    """One link of the chain: a comment, an event, or what is left of a comment deleted with its ticket
    ({"id": comment id, "ticket_id": ...}); digest is the raw 32 bytes."""

    kind: RecordKind
    data: Any  # a Comment, an Event, or {"id", "ticket_id"} of an erased comment
    digest: bytes

    def canonical(self) -> bytes | None:
        """The bytes its digest covers; None for an erased comment (only its digest is left)."""
        if self.kind == "comment":
            return canonical_comment(self.data)
        if self.kind == "event":
            return canonical_event(self.data)
        return None


def chain_of(items: list[tuple[RecordKind, dict[str, Any]]], previous: bytes = GENESIS) -> list[Record]:
    """Records chained from previous, for a history written before digests existed (its upgrade; a comment
    deleted back then is chained as erased, over its id and its ticket's)."""
    records = []
    for kind, data in items:
        previous = chained(previous, record_bytes(kind, data))
        records.append(Record(kind, data, previous))
    return records


@dataclass
class History:
    """Every record of a store's history in chain order, for a copy or a backup; the next ids never go back."""

    next_comment_id: int = 1
    next_event_id: int = 1
    records: list[Record] = field(default_factory=list)

    @property
    def comments(self) -> list[dict[str, Any]]:
        return [r.data for r in self.records if r.kind == "comment"]

    @property
    def events(self) -> list[dict[str, Any]]:
        return [r.data for r in self.records if r.kind == "event"]
