"""The pure functions over tickets: count, filter, sort, page, the current time, and the ETag. They take lists and
return lists or numbers, and know nothing of files, databases or HTTP."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timezone
from typing import Any, TypeVar

import pydantic_core

from tickets.engine.models import Counts, Ticket, TicketFilters
from tickets.engine.values import PRIORITIES, PRIORITY_RANK, STATUS_RANK, STATUSES, Priority, Status, fold_text

T = TypeVar("T")


def count(tickets: Iterable[Ticket]) -> Counts:
    """Count tickets by status and by priority; every key is present."""
    by_status: dict[Status, int] = dict.fromkeys(STATUSES, 0)
    by_priority: dict[Priority, int] = dict.fromkeys(PRIORITIES, 0)
    for t in tickets:
        by_status[t["status"]] += 1
        by_priority[t["priority"]] += 1
    return {"total": sum(by_status.values()), "by_status": by_status, "by_priority": by_priority}


def searchable_text(ticket: Ticket) -> str:
    """Title and description as `q` searches them: case and accents folded."""
    return fold_text(ticket["title"] + "\x00" + ticket["description"])


def filter_tickets(
    tickets: Iterable[Ticket], filters: TicketFilters, text_of: Callable[[Ticket], str] = searchable_text
) -> list[Ticket]:
    """Keep the tickets that match every given filter; text_of may serve cached folded texts.

    One pass per given filter: each is a tight loop, and each works on what the previous one kept.
    """
    kept = list(tickets)
    if filters.status:
        statuses = set(filters.status)
        kept = [t for t in kept if t["status"] in statuses]
    if filters.priority:
        priorities = set(filters.priority)
        kept = [t for t in kept if t["priority"] in priorities]
    if filters.assignee is not None:
        kept = [t for t in kept if t["assignee"] == filters.assignee]
    if filters.q:
        needle = fold_text(filters.q)
        kept = [t for t in kept if needle in text_of(t)]
    return kept


_SORT_FIELD: dict[str, Callable[[Ticket], Any]] = {
    "id": lambda t: t["id"],
    "priority": lambda t: PRIORITY_RANK[t["priority"]],
    "status": lambda t: STATUS_RANK[t["status"]],
    "created_at": lambda t: t["created_at"],
    "updated_at": lambda t: t["updated_at"],
    "title": lambda t: t["title"].casefold(),
}


def sort_tickets(tickets: Iterable[Ticket], sort: str = "id") -> list[Ticket]:
    """Sort by a key of SORT_KEYS ('-' prefix: descending); ties stay in ascending id order."""
    descending, name = sort.startswith("-"), sort.lstrip("-")
    by_id = sorted(tickets, key=_SORT_FIELD["id"])
    # sorted() is stable even with reverse=True, so equal keys keep ascending ids.
    return by_id if name == "id" and not descending else sorted(by_id, key=_SORT_FIELD[name], reverse=descending)


def paginate(items: Sequence[T], limit: int | None = None, offset: int = 0) -> list[T]:
    """The page of items starting at offset, at most limit long."""
    return list(items[offset : None if limit is None else offset + limit])


def now() -> str:
    """The current UTC time in the file's format."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def ticket_json(ticket: Ticket) -> bytes:
    """The ticket as compact JSON, as the API answers it."""
    return pydantic_core.to_json(ticket)


def etag_of(ticket_json: bytes) -> str:
    """A strong ETag derived from the ticket's whole content (its JSON)."""
    return '"' + hashlib.blake2b(ticket_json, digest_size=12).hexdigest() + '"'


def etag_matches(header: str, etag: str, *, weak: bool = False) -> bool:
    """Whether an If-Match (strong) or If-None-Match (weak) header value names this ETag."""
    tags = [tag.strip() for tag in header.split(",")]
    if weak:
        tags = [tag.removeprefix("W/") for tag in tags]
    return "*" in tags or etag in tags
