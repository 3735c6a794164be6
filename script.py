"""Ticket engine: models, validation, the JSON-file store and the command-line tool.

This module knows nothing of HTTP. ``main.py`` exposes it as a REST API; ``python script.py``
uses it from the shell. Both go through the same functions and the same rules.
"""

from __future__ import annotations

import argparse
import asyncio
import codecs
import functools
import hashlib
import io
import json
import math
import os
import re
import secrets
import stat
import sys
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from datetime import datetime, timezone
from itertools import chain, repeat
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic_core
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
    model_validator,
)
from typing_extensions import TypedDict

from folder_lock import FolderLock, LockTimeout

# --------------------------------------------------------------------------- values and rules

Status = Literal["open", "in_progress", "closed"]
Priority = Literal["low", "medium", "high", "urgent"]
STATUSES: tuple[Status, ...] = ("open", "in_progress", "closed")  # workflow order
PRIORITIES: tuple[Priority, ...] = ("low", "medium", "high", "urgent")  # rank order
STATUS_RANK = {s: i for i, s in enumerate(STATUSES)}
PRIORITY_RANK = {p: i for i, p in enumerate(PRIORITIES)}
STATUS_ALIASES = {"ouvert": "open", "en_cours": "in_progress", "ferme": "closed"}
PRIORITY_ALIASES = {"basse": "low", "moyenne": "medium", "haute": "high", "urgente": "urgent"}
SORT_KEYS = ("id", "priority", "status", "created_at", "updated_at", "title")
SortKey = Literal[
    "id", "-id", "priority", "-priority", "status", "-status",
    "created_at", "-created_at", "updated_at", "-updated_at", "title", "-title",
]  # fmt: skip

TITLE_MAX, DESCRIPTION_MAX, ASSIGNEE_MAX = 200, 5000, 100
TIMESTAMP_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$"


def _fold(value: str) -> str:
    """Lower-case, accent-free, underscored form of a user-typed value: 'En cours' -> 'en_cours'."""
    ascii_only = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    return "_".join(ascii_only.strip().lower().replace("-", " ").split())


def parse_status(value: Any) -> Any:
    """Accept a status in any case, in English or French ('fermé', 'en cours'); return the English value."""
    if not isinstance(value, str):
        return value  # the Literal type then reports the wrong type
    folded = STATUS_ALIASES.get(_fold(value), _fold(value))
    if folded not in STATUSES:
        raise ValueError(
            f"unknown status {value!r}; expected one of open, in_progress, closed"
            " (or ouvert, en cours, fermé)"
        )
    return folded


def parse_priority(value: Any) -> Any:
    """Accept a priority in any case, in English or French ('haute'); return the English value."""
    if not isinstance(value, str):
        return value
    folded = PRIORITY_ALIASES.get(_fold(value), _fold(value))
    if folded not in PRIORITIES:
        raise ValueError(
            f"unknown priority {value!r}; expected one of low, medium, high, urgent (or basse, moyenne, haute, urgente)"
        )
    return folded


def split_commas(value: Any) -> Any:
    """?status=open,closed means the same as ?status=open&status=closed."""
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [part for v in value for part in v.split(",")]
    return value


# What a blank title is made of: Unicode's White_Space characters (those trimmed away) and characters
# that show nothing: zero-width spaces and joiners, direction marks, the soft hyphen, the byte-order
# mark. Spelled out rather than \s, whose meaning differs between regex engines, so the schema's
# pattern below means exactly this to any client that reads it.
INVISIBLE = (
    r"\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
    r"\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
)
_BLANK = re.compile(f"[{INVISIBLE}]*")
VISIBLE_PATTERN = f"[^{INVISIBLE}]"


def not_blank(value: str) -> str:
    """A title or assignee made only of invisible characters (spaces, zero-width) counts as blank."""
    if _BLANK.fullmatch(value):
        raise ValueError("must contain a visible character, not only spaces or zero-width characters")
    return value


def real_timestamp(value: str) -> str:
    """The pattern checks the shape; this checks the date and time exist (no month 13, no 25:00)."""
    try:
        datetime.fromisoformat(value[:19])  # the pattern made it YYYY-MM-DDTHH:MM:SS[.f]Z
    except ValueError:
        raise ValueError(f"{value!r} is not a real date and time") from None
    return value


_COMBINING_MARKS = re.compile("[\u0300-\u036f]")


def fold_text(text: str) -> str:
    """The form `q` is matched in: case and accents ignored ('Réseau' -> 'reseau')."""
    return _COMBINING_MARKS.sub("", unicodedata.normalize("NFKD", text)).casefold()


def parse_ticket_id(value: Any) -> Any:
    """Ids typed as text must be plain ASCII digits: '1.0', '1e3', '0x10' or '٣' are refused."""
    if isinstance(value, str) and not (value.isascii() and value.isdigit()):
        raise ValueError(f"invalid ticket id {value!r}: expected a whole number >= 1")
    return value


StatusIn = Annotated[Status, BeforeValidator(parse_status)]
PriorityIn = Annotated[Priority, BeforeValidator(parse_priority)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=TITLE_MAX)]
Description = Annotated[str, StringConstraints(max_length=DESCRIPTION_MAX)]
Assignee = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=ASSIGNEE_MAX)]
Timestamp = Annotated[
    str, StringConstraints(pattern=TIMESTAMP_PATTERN), AfterValidator(real_timestamp),
    Field(examples=["2026-11-20T09:14:00Z"]),
]  # fmt: skip
# In request bodies, blanks and invisible characters alone do not count; the schema says so too.
_NOT_BLANK = Field(json_schema_extra={"pattern": VISIBLE_PATTERN})
TitleIn = Annotated[Title, AfterValidator(not_blank), _NOT_BLANK]
AssigneeIn = Annotated[Assignee, AfterValidator(not_blank), _NOT_BLANK]


_TICKET_EXAMPLE = {
    "id": 3, "title": "Imprimante du 2e étage hors service",
    "description": "Bourrage papier permanent, le voyant clignote en orange.", "status": "in_progress",
    "priority": "high", "assignee": "karim.benali", "created_at": "2026-11-20T09:14:00Z",
    "updated_at": "2026-11-21T16:02:31Z",
}  # fmt: skip


class Ticket(TypedDict):
    """A ticket as stored in the file and returned by the API."""

    # An unknown key in the file is refused: kept silently, it would vanish at the next write.
    __pydantic_config__ = ConfigDict(extra="forbid", json_schema_extra={"examples": [_TICKET_EXAMPLE]})  # type: ignore[misc]

    id: Annotated[int, Field(ge=1, strict=True)]
    title: Title
    description: Description
    status: Status
    priority: Priority
    assignee: Assignee | None
    created_at: Timestamp
    updated_at: Timestamp


class StoreFile(TypedDict):
    """The object form of tickets.json."""

    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]

    next_id: Annotated[int, Field(ge=1, strict=True)]
    tickets: list[Ticket]


# The rare bare-array form is validated by an adapter built on first use (defer_build).
_STORE_OBJECT = TypeAdapter(StoreFile)
_STORE_ARRAY = TypeAdapter(list[Ticket], config=ConfigDict(defer_build=True))

_EXAMPLE = {
    "title": "Imprimante du 2e étage hors service",
    "description": "Bourrage papier permanent, le voyant clignote en orange.",
    "priority": "high",
    "assignee": "karim.benali",
}


class TicketCreate(BaseModel):
    """Body of a creation: only title is required."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_EXAMPLE]})

    title: TitleIn
    description: Description = ""
    status: StatusIn = "open"
    priority: PriorityIn = "medium"
    assignee: AssigneeIn | None = None


class TicketUpdate(BaseModel):
    """Body of a partial update (merge patch): at least one field; null only for assignee."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"minProperties": 1, "examples": [{"status": "in_progress", "assignee": "julie.martin"}]},
    )

    # The defaults are None but the types are not optional: an absent field is left alone,
    # while an explicit null is refused by validation (defaults are not validated).
    title: TitleIn = None  # type: ignore[assignment]
    description: Description = None  # type: ignore[assignment]
    status: StatusIn = None  # type: ignore[assignment]
    priority: PriorityIn = None  # type: ignore[assignment]
    assignee: AssigneeIn | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> TicketUpdate:
        if not self.model_fields_set:
            raise ValueError("the update is empty; give at least one of " + ", ".join(type(self).model_fields))
        return self


class TicketFilters(BaseModel):
    """Filters shared by the list, the statistics and the CLI."""

    model_config = ConfigDict(extra="forbid")

    status: Annotated[list[StatusIn], BeforeValidator(split_commas)] = Field(
        default=[], description="Keep these statuses: repeat it or separate with commas; French accepted (en cours).")
    priority: Annotated[list[PriorityIn], BeforeValidator(split_commas)] = Field(
        default=[], description="Keep these priorities: repeat it or separate with commas; French accepted (haute).")
    # A query string has no null: the schema says "string, optional", the Python default is None.
    assignee: Annotated[str | None, WithJsonSchema({"type": "string"})] = Field(
        default=None, description="Exact assignee.")
    q: Annotated[str | None, WithJsonSchema({"type": "string"})] = Field(
        default=None, description="Text in title or description, ignoring case and accents (reseau finds Réseau).")


class TicketQuery(TicketFilters):
    """Filters plus order and page of a listing."""

    sort: SortKey = Field(default="id", description="Sort key; prefix '-' for descending. Ties: ascending id.")
    limit: Annotated[int | None, WithJsonSchema({"type": "integer", "minimum": 1})] = Field(
        default=None, ge=1, description="At most this many tickets.")
    offset: int = Field(default=0, ge=0, description="Skip this many first.")


_ALL = TicketQuery()


class Stats(TypedDict):
    total: int
    by_status: dict[Status, int]
    by_priority: dict[Priority, int]


# --------------------------------------------------------------------------- domain errors


class TicketError(Exception):
    """Base of the engine's errors; the message names the problem."""


class TicketNotFound(TicketError):
    def __init__(self, ticket_id: int) -> None:
        super().__init__(f"ticket {ticket_id} not found")
        self.ticket_id = ticket_id


class PreconditionFailed(TicketError):
    def __init__(self, ticket_id: int, expected: str, current: str) -> None:
        super().__init__(f"ticket {ticket_id} has changed: its ETag is {current}, not {expected}")


class StoreError(TicketError):
    """The store cannot be used right now (unreadable file, write failure, lock held too long)."""


def shown(path: Path | str) -> str:
    """A path fit for a message: bytes that are not UTF-8 are written as escapes, never an encoding crash."""
    return str(path).encode("utf-8", "backslashreplace").decode("utf-8")


class StoreUnreadable(StoreError):
    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{shown(path)}: {problem}")


class StoreWriteFailed(StoreError):
    def __init__(self, path: Path, error: OSError) -> None:
        super().__init__(f"could not save {shown(path)}: {error.strerror or error}; nothing was changed")


class StoreBusy(StoreError):
    def __init__(self, path: Path, seconds: float) -> None:
        super().__init__(f"store busy: {shown(path)} stayed locked by another process for {seconds:g} s; try again")


class SettingInvalid(TicketError):
    """A setting from the environment is unusable: the service stops rather than guess (fail closed)."""


# --------------------------------------------------------------------------- pure functions


def count(tickets: Iterable[Ticket]) -> Stats:
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


def paginate(items: Sequence[Ticket], limit: int | None = None, offset: int = 0) -> list[Ticket]:
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


# --------------------------------------------------------------------------- parsing the file


def parse_store(raw: bytes, path: Path) -> tuple[int, dict[int, Ticket]]:
    """Validate the bytes of tickets.json: (next_id, tickets by id in id order), or StoreUnreadable.

    Anything the schema does not know is refused, never dropped at the next write: unknown keys
    (pydantic's extra="forbid") and a key repeated in one object (see _repeated_key).
    """
    raw = raw.removeprefix(codecs.BOM_UTF8)
    if not raw.strip():
        raise StoreUnreadable(path, "the file is empty; expected a JSON object with next_id and tickets")
    bare_array = raw.lstrip()[:1] == b"["
    try:
        if bare_array:
            tickets, next_id = _STORE_ARRAY.validate_json(raw), 1
        else:
            data = _STORE_OBJECT.validate_json(raw)
            tickets, next_id = data["tickets"], data["next_id"]
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        problem = _describe(error)
        if not error["loc"] and error["type"] != "json_invalid":
            problem += ": expected a JSON object with next_id and tickets, or an array of tickets"
        raise StoreUnreadable(path, problem) from None
    repeated = _repeated_key(raw, tickets, 0 if bare_array else len(StoreFile.__annotations__))
    if repeated:
        raise StoreUnreadable(path, f"the key {repeated!r} appears twice in one object; keep one of them")
    by_id = {t["id"]: t for t in sorted(tickets, key=_SORT_FIELD["id"])}
    if len(by_id) != len(tickets):
        raise StoreUnreadable(path, "two tickets have the same id")
    # next_id never goes below max id + 1, so an id is never handed out twice.
    return max(next_id, max(by_id, default=0) + 1), by_id


_TICKET_KEYS = len(Ticket.__annotations__)


def _repeated_key(raw: bytes, tickets: list[Ticket], top_keys: int) -> str | None:
    """The name of a key repeated in one object of the file, or None.

    JSON parsers keep the last of two equal keys, so the first value would vanish at the next write.
    Cheap proof first: with no \\u escape in the file, every ':' is either the separator after a key
    or a ':' inside a string value. The parsed data tells how many keys there are (every key is known
    and required) and how many ':' its strings hold (each timestamp has two); if the file has exactly
    that many, no key is repeated. Otherwise an exact, slower parse finds the repeated key.
    """
    if b"\\u" not in raw:
        text_colons = sum(
            "".join([t[field] or "" for t in tickets]).count(":") for field in ("title", "description", "assignee")
        )
        if raw.count(b":") == top_keys + len(tickets) * (_TICKET_KEYS + 4) + text_colons:
            return None
    found: list[str] = []

    def check(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in pairs]
        if len(set(keys)) != len(keys) and not found:
            found.append(next(key for key in keys if keys.count(key) > 1))
        return dict(pairs)

    json.loads(raw, object_pairs_hook=check)
    return found[0] if found else None


def _describe(error: Any) -> str:
    """One line from a pydantic error: 'tickets[3].status: Input should be ...'."""
    where = ""
    for part in error["loc"]:
        where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
    return f"{where}: {error['msg']}" if where else error["msg"]


def describe_validation_error(exc: ValidationError) -> str:
    """All the problems of a validation error on one line."""
    return "; ".join(_describe(e) for e in exc.errors(include_url=False))


def _dump_pretty(ticket: Ticket) -> bytes:
    """The ticket as it stands in the file: indented by 2, nested 4 deep in the tickets array."""
    return b"    " + pydantic_core.to_json(ticket, indent=2).replace(b"\n", b"\n    ")


# --------------------------------------------------------------------------- snapshots


class Snapshot:
    """One immutable version of the store, with its serializations cached.

    Each ticket's compact JSON (for answers) and indented JSON (for the file) is computed at most
    once per version of that ticket, so a write re-serializes only what changed.
    """

    def __init__(self, next_id: int, tickets: dict[int, Ticket], *, key: Any = None,
                 compact: dict[int, bytes] | None = None, pretty: dict[int, bytes] | None = None,
                 folded: dict[int, str] | None = None) -> None:  # fmt: skip
        self.next_id, self.tickets, self.key = next_id, tickets, key
        self._compact = compact if compact is not None else {}
        self._pretty = pretty if pretty is not None else {}
        self._folded = folded if folded is not None else {}  # searchable_text, filled by q searches
        self._all_json: bytes | None = None

    def get(self, ticket_id: int) -> Ticket:
        try:
            return self.tickets[ticket_id]
        except KeyError:
            raise TicketNotFound(ticket_id) from None

    def ticket_json(self, ticket_id: int) -> bytes:
        data = self._compact.get(ticket_id)
        if data is None:
            data = self._compact[ticket_id] = ticket_json(self.get(ticket_id))
        return data

    def etag(self, ticket_id: int) -> str:
        return etag_of(self.ticket_json(ticket_id))

    def list_json(self, tickets: Iterable[Ticket]) -> bytes:
        """A JSON array of these tickets, from the cached serializations."""
        return b"[" + b",".join([self.ticket_json(t["id"]) for t in tickets]) + b"]"

    def search(self, query: TicketQuery) -> tuple[list[Ticket], int]:
        """The page of tickets a query asks for, and how many matched before paging."""
        matched = filter_tickets(self.tickets.values(), query, self._text_of)
        # The snapshot keeps tickets in id order (new ids are the highest): the default sort is free.
        ordered = matched if query.sort == "id" else sort_tickets(matched, query.sort)
        return paginate(ordered, query.limit, query.offset), len(ordered)

    def stats(self, filters: TicketFilters) -> Stats:
        """Counts of the tickets that match the filters."""
        return count(filter_tickets(self.tickets.values(), filters, self._text_of))

    def _text_of(self, ticket: Ticket) -> str:
        text = self._folded.get(ticket["id"])
        if text is None:
            text = self._folded[ticket["id"]] = searchable_text(ticket)
        return text

    def search_json(self, query: TicketQuery) -> tuple[bytes, int]:
        """search() as a JSON array; the plain full listing is serialized once per version."""
        if query == _ALL:
            if self._all_json is None:
                self._all_json = self.list_json(self.tickets.values())
            return self._all_json, len(self.tickets)
        page, total = self.search(query)
        return self.list_json(page), total

    def file_chunks(self) -> Iterable[bytes]:
        """The whole file, in pieces to write one after the other: 2-space indent, id order,
        non-ASCII as itself, final newline. Never joined into one big string: at 100 000 tickets
        that copy alone took longer than writing the file."""
        if not self.tickets:
            return [pydantic_core.to_json({"next_id": self.next_id, "tickets": []}, indent=2) + b"\n"]
        pretty = self._pretty  # holds only ids of this version (Batch.result drops changed ones)
        if len(pretty) != len(self.tickets):
            for ticket_id, ticket in self.tickets.items():
                if ticket_id not in pretty:
                    pretty[ticket_id] = _dump_pretty(ticket)
        parts = map(pretty.__getitem__, self.tickets)  # C-level iterators: no Python loop per ticket
        head = b'{\n  "next_id": %d,\n  "tickets": [\n' % self.next_id
        return chain((head, next(parts)), chain.from_iterable(zip(repeat(b",\n"), parts)), (b"\n  ]\n}\n",))


# --------------------------------------------------------------------------- the store


class Batch:
    """The working copy that a group of mutations changes before one atomic write."""

    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap
        self.next_id = snap.next_id
        self.tickets = dict(snap.tickets)
        self.changed: set[int] = set()
        self.time = now()

    def current(self, ticket_id: int, if_match: str | None) -> Ticket:
        """The ticket as it is now; PreconditionFailed when if_match names another version."""
        ticket = self.tickets.get(ticket_id)
        if ticket is None:
            raise TicketNotFound(ticket_id)
        if if_match is not None:
            etag = etag_of(ticket_json(ticket))
            if not etag_matches(if_match, etag):
                raise PreconditionFailed(ticket_id, if_match, etag)
        return ticket

    def add(self, data: TicketCreate) -> Ticket:
        ticket: Ticket = {"id": self.next_id, **data.model_dump(), "created_at": self.time, "updated_at": self.time}  # type: ignore[typeddict-item]
        self.tickets[ticket["id"]] = ticket
        self.next_id += 1
        self.changed.add(ticket["id"])
        return ticket

    def update(self, ticket_id: int, changes: TicketUpdate, if_match: str | None = None) -> Ticket:
        old = self.current(ticket_id, if_match)
        new: Ticket = {**old, **changes.model_dump(exclude_unset=True)}  # type: ignore[typeddict-item]
        if new == old:
            return old  # nothing changes: same updated_at, same ETag, no write
        new["updated_at"] = self.time
        self.tickets[ticket_id] = new
        self.changed.add(ticket_id)
        return new

    def delete(self, ticket_id: int, if_match: str | None = None) -> None:
        self.current(ticket_id, if_match)
        del self.tickets[ticket_id]
        self.changed.add(ticket_id)

    def result(self) -> Snapshot:
        """The new snapshot, keeping the cached serializations of the unchanged tickets."""
        compact, pretty, folded = dict(self.snap._compact), dict(self.snap._pretty), dict(self.snap._folded)
        complete = len(pretty) == len(self.snap.tickets)  # then keep it complete: no scan at write time
        for ticket_id in self.changed:
            compact.pop(ticket_id, None)
            pretty.pop(ticket_id, None)
            folded.pop(ticket_id, None)
            if complete and ticket_id in self.tickets:
                pretty[ticket_id] = _dump_pretty(self.tickets[ticket_id])
        return Snapshot(self.next_id, self.tickets, compact=compact, pretty=pretty, folded=folded)


class _Pending:
    """A mutation waiting for the next group commit.

    Its waiter is woken once, when the change is done or when it must lead the next commit. A thread
    waits on an Event; a coroutine of the server awaits a future, so queued writes hold no thread.
    """

    __slots__ = ("change", "deadline", "done", "result", "error", "_event", "_loop", "_future")

    def __init__(self, change: Callable[[Batch], Any], deadline: float, loop: asyncio.AbstractEventLoop | None) -> None:
        self.change, self.deadline, self.done, self.result, self.error = change, deadline, False, None, None
        self._loop = loop
        self._event = threading.Event() if loop is None else None
        self._future = loop.create_future() if loop is not None else None

    def wake(self) -> None:
        if self._event is not None:
            self._event.set()
        else:
            self._loop.call_soon_threadsafe(_resolve, self._future)  # type: ignore[union-attr]

    def wait(self) -> None:
        self._event.wait()  # type: ignore[union-attr]

    async def wait_async(self) -> None:
        await self._future  # type: ignore[misc]


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


SAMPLE_FILE = Path(__file__).with_name("tickets.json")


def default_path() -> Path:
    """TICKETS_FILE from the environment, else tickets.json beside this script."""
    return Path(os.environ.get("TICKETS_FILE") or SAMPLE_FILE)


def lock_timeout() -> float:
    """TICKETS_LOCK_TIMEOUT: how long a write waits for another process's lock (default 10 s).

    Anything but a finite number >= 0 is refused (nan would wait forever, a typo would silently
    become the default).
    """
    text = os.environ.get("TICKETS_LOCK_TIMEOUT")
    if text is None:
        return 10.0
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:
        raise SettingInvalid(f"TICKETS_LOCK_TIMEOUT={text!r} is not a number of seconds >= 0")
    return seconds


def check_settings() -> None:
    """Raise SettingInvalid for any unusable setting; run at start-up by the server and the CLI."""
    lock_timeout()
    key = os.environ.get("TICKETS_API_KEY")
    if key == "":
        raise SettingInvalid("TICKETS_API_KEY is set but empty: give it a value, or unset it for an open local API")
    if key is not None and not (key.isascii() and key.isprintable()):
        # A browser sends 'é' in a header as one Latin-1 byte, curl as two UTF-8 bytes: no key could match both.
        raise SettingInvalid("TICKETS_API_KEY must be printable ASCII (letters, digits, punctuation)")


class Store:
    """The tickets file: cached reads, locked and atomic group-committed writes.

    Reads never lock: os.replace makes every version of the file complete, and the cache is
    checked against the file's stat (every write gives the file a unique mtime in nanoseconds).
    Writes from all threads of a process are combined: the leader applies every pending mutation
    under the OS lock of the folder (folder_lock.py), writes the file once, then all are answered.
    A symbolic link is followed: its target is read, locked and replaced, so the link keeps working.
    """

    _instances: dict[Path, Store] = {}
    _instances_lock = threading.Lock()

    def __init__(self, path: Path | str) -> None:
        self.path = Path(os.path.realpath(path))
        self.folder = self.path.parent
        self._lock = FolderLock(self.folder)
        self._cache: Snapshot | None = None
        self._failure: tuple[Any, StoreUnreadable] | None = None
        self._commit_lock = threading.Lock()  # held while a batch is written
        self._leader_busy = False
        self._queue: list[_Pending] = []
        self._queue_lock = threading.Lock()

    @classmethod
    def default(cls) -> Store:
        """The Store of default_path(); cheap enough to call on every request."""
        return _store_for_setting(os.environ.get("TICKETS_FILE"))

    @classmethod
    def for_path(cls, path: Path | str) -> Store:
        """The one Store of this process for a file (the cache and the locks are per file)."""
        real = Path(os.path.realpath(path))
        with cls._instances_lock:
            if real not in cls._instances:
                cls._instances[real] = cls(real)
            return cls._instances[real]

    # ---- reading

    def cached_snapshot(self) -> Snapshot | None:
        """The cached version if the file has not changed since (a stat, no read), else None."""
        cache = self._cache
        return cache if cache is not None and cache.key == self._disk_key() else None

    def snapshot(self) -> Snapshot:
        """The current version of the file, from the cache when the file has not changed."""
        key = self._disk_key()
        cache = self._cache
        if cache is not None and cache.key == key:
            return cache
        if self._failure is not None and self._failure[0] == key:
            raise self._failure[1]
        try:
            snap = self._load(key)
        except StoreUnreadable as exc:
            self._failure = (key, exc)
            raise
        self._cache = snap
        return snap

    def _disk_key(self) -> Any:
        try:
            return _stat_key(os.stat(self.path))
        except FileNotFoundError:
            if not os.path.isdir(self.folder):
                raise self._no_folder() from None
            return "missing"
        except OSError as exc:
            raise StoreUnreadable(self.path, exc.strerror or str(exc)) from None

    def _no_folder(self) -> StoreUnreadable:
        """A path whose folder does not exist is an error, never an empty store."""
        return StoreUnreadable(self.path, f"the folder {shown(self.folder)} does not exist")

    def _load(self, key: Any) -> Snapshot:
        if key == "missing":
            return Snapshot(1, {}, key=key)
        try:
            # O_NONBLOCK: a FIFO put in the file's place must not block the open; it is refused below.
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            return Snapshot(1, {}, key="missing")
        except OSError as exc:
            raise StoreUnreadable(self.path, exc.strerror or str(exc)) from None
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):  # /dev/zero would be read until memory runs out
            os.close(fd)
            raise StoreUnreadable(self.path, _not_a_file(st.st_mode))
        with open(fd, "rb") as file:
            try:
                raw = file.read()
            except OSError as exc:
                raise StoreUnreadable(self.path, exc.strerror or str(exc)) from None
        next_id, tickets = parse_store(raw, self.path)
        return Snapshot(next_id, tickets, key=_stat_key(st))

    # ---- writing

    def add(self, data: TicketCreate) -> Ticket:
        """Create a ticket; its id comes from next_id and is never reused."""
        return self.commit(lambda batch: batch.add(data))

    def update(self, ticket_id: int, changes: TicketUpdate, *, if_match: str | None = None) -> Ticket:
        """Merge changes into a ticket; updated_at moves only when a value changes."""
        return self.commit(lambda batch: batch.update(ticket_id, changes, if_match))

    def delete(self, ticket_id: int, *, if_match: str | None = None) -> None:
        """Delete a ticket for good."""
        self.commit(lambda batch: batch.delete(ticket_id, if_match))

    def commit(self, change: Callable[[Batch], Any]) -> Any:
        """Apply one mutation in the next group commit, and return its result once it is on disk.

        One thread at a time leads: it takes every queued mutation, commits them as one batch,
        then hands the lead to the oldest mutation queued meanwhile. The others just wait, so a
        batch holds everything that arrived during the previous write.
        """
        pending, leading = self._enqueue(change, None)
        if not leading:
            pending.wait()
        if not pending.done:  # first in, or handed the lead: commit the queue
            self._lead()
        if pending.error is not None:
            raise pending.error
        return pending.result

    async def commit_async(self, change: Callable[[Batch], Any]) -> Any:
        """commit() for the server's event loop: a waiting write holds no thread, only the leader does,
        so reads keep their threads however many writes queue behind another process's lock.

        Shielded: a client that goes away does not cancel its change halfway, nor leave the queue
        without a leader when the lead was handed to it.
        """
        work = asyncio.ensure_future(self._commit_async(change))
        work.add_done_callback(lambda done: done.cancelled() or done.exception())  # read, even if nobody waits
        return await asyncio.shield(work)

    async def _commit_async(self, change: Callable[[Batch], Any]) -> Any:
        pending, leading = self._enqueue(change, asyncio.get_running_loop())
        if not leading:
            await pending.wait_async()
        if not pending.done:
            await asyncio.to_thread(self._lead)
        if pending.error is not None:
            raise pending.error
        return pending.result

    def _enqueue(self, change: Callable[[Batch], Any], loop: asyncio.AbstractEventLoop | None) -> tuple[_Pending, bool]:
        pending = _Pending(change, time.monotonic() + lock_timeout(), loop)
        with self._queue_lock:
            self._queue.append(pending)
            leading, self._leader_busy = not self._leader_busy, True
        return pending, leading

    def _lead(self) -> None:
        with self._queue_lock:
            batch, self._queue = self._queue, []
        try:
            with self._commit_lock:
                self._run(batch)
        finally:
            for p in batch:
                p.wake()
            with self._queue_lock:
                if self._queue:
                    self._queue[0].wake()  # not done: it wakes up as the next leader
                else:
                    self._leader_busy = False

    def _run(self, pending: list[_Pending]) -> None:
        """Lock, load, apply every pending change, write once, unlock; then mark them done.

        The lock is awaited until the earliest deadline of the batch, so no write waits much longer
        than TICKETS_LOCK_TIMEOUT from its arrival, even when it queued behind an earlier batch.
        """
        try:
            self._acquire(min(p.deadline for p in pending))
            try:
                batch = Batch(self.snapshot())
                for p in pending:
                    try:
                        p.result = p.change(batch)
                    except TicketError as exc:
                        p.error = exc
                if batch.changed:
                    self._save(batch.result())
            finally:
                self._lock.release()
        except Exception as exc:  # whatever went wrong, no change of the batch is acknowledged
            error = StoreWriteFailed(self.path, exc) if isinstance(exc, OSError) else exc
            for p in pending:
                p.error = p.error or error
        finally:
            for p in pending:
                p.done = True

    def _acquire(self, deadline: float) -> None:
        try:
            self._lock.acquire(deadline)
        except LockTimeout:
            raise StoreBusy(self.path, lock_timeout()) from None
        except FileNotFoundError:
            raise self._no_folder() from None
        except OSError as exc:
            raise StoreUnreadable(self.folder, exc.strerror or str(exc)) from None

    def _save(self, snap: Snapshot) -> None:
        """Write the whole file atomically: unique temp file, fsync, os.replace, fsync of the folder.

        os.replace is the point of no return: nothing after it may turn the answer into a failure,
        since the change is then in place (a client told "failed" would retry and duplicate it).
        """
        tmp = self.folder / f".{self.path.name}.{secrets.token_hex(8)}.tmp"
        # Mode 0o666 through the umask, like any new file; an existing file's mode is kept below.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        try:
            try:
                with suppress(FileNotFoundError):
                    os.fchmod(fd, os.stat(self.path).st_mode & 0o7777)
                with open(fd, "wb", buffering=1 << 20, closefd=False) as file:
                    file.writelines(snap.file_chunks())
                # A unique mtime tells every process's cache that the file changed, even when the
                # new file reuses an old inode number and has the same size.
                os.utime(fd, ns=(time.time_ns(), time.time_ns()))
                os.fsync(fd)
                os.replace(tmp, self.path)
            except BaseException:
                with suppress(FileNotFoundError):
                    os.unlink(tmp)
                self._cache = None  # re-read whatever is on disk next time
                raise
            # Past os.replace, the change is in place: nothing below may turn the answer into a failure.
            try:
                snap.key = _stat_key(os.fstat(fd))  # after the rename, which moves ctime
                self._cache = snap
            except OSError:
                self._cache = None
        finally:
            os.close(fd)
        try:
            _fsync_dir(self.folder)
        except OSError as exc:  # the new file is in place and readable: say so, do not call it a failure
            print(f"warning: {shown(self.folder)}: fsync of the folder failed ({exc.strerror}); the change is "
                  "applied but may not survive a power cut", file=sys.stderr)  # fmt: skip

    def remove_stale_temp_files(self) -> int:
        """Delete temporary files left by a crashed writer; returns how many.

        Done under the lock of the folder, which every live writer holds while its temp file exists,
        and only when nobody holds it: a live writer's temp file is never touched.
        """
        prefix, removed = f".{self.path.name}.", 0
        if self.path.exists() and not self.path.is_file():
            return 0  # a folder, a device or a FIFO in the file's place: nothing to clean, nothing created
        try:
            with self._commit_lock:
                self._lock.acquire(time.monotonic())
                try:
                    for name in os.listdir(self.folder):  # no glob: 'tickets[1].json' is a plain name
                        if name.startswith(prefix) and name.endswith(".tmp"):
                            with suppress(FileNotFoundError):
                                os.unlink(self.folder / name)
                                removed += 1
                finally:
                    self._lock.release()
        except (LockTimeout, OSError):
            pass  # a live writer holds the lock: its temp file is not stale
        return removed


def _not_a_file(mode: int) -> str:
    kind = "a folder" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else "a device or special file"
    return f"not a regular file but {kind}; TICKETS_FILE or --file must name a JSON file"


@functools.lru_cache(maxsize=8)
def _store_for_setting(setting: str | None) -> Store:
    """Store.default() keyed by the raw TICKETS_FILE value: no path work per request."""
    return Store.for_path(setting or SAMPLE_FILE)


def _stat_key(st: os.stat_result) -> tuple[int, int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- command line


class UsageError(Exception):
    """Invalid input on the command line (exit code 2)."""


def _store(args: argparse.Namespace) -> Store:
    return Store.for_path(args.file or default_path())


def _validated(model: type[BaseModel], **values: Any) -> Any:
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise UsageError(describe_validation_error(exc)) from None


def _print_json(data: bytes | Any) -> None:
    """--json: the JSON the API would answer (compact, non-ASCII as itself). On a terminal that cannot
    show accents, non-ASCII characters are written as \\u escapes: still the same JSON data."""
    text = (data if isinstance(data, bytes) else pydantic_core.to_json(data)).decode()
    try:
        text.encode(getattr(sys.stdout, "encoding", None) or "utf-8")
    except (UnicodeEncodeError, LookupError):
        text = json.dumps(json.loads(text), separators=(",", ":"))
    print(text)


def _etag_argument(value: str) -> str:
    """--if-match takes the ETag as `show` prints it, with or without its quotes."""
    value = value.strip()
    return value if value.startswith(('"', "W/")) or value == "*" else f'"{value}"'


def _given_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The ticket fields given on the command line (title, description, status, priority, assignee)."""
    return {name: getattr(args, name) for name in TicketUpdate.model_fields if getattr(args, name) is not None}


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows)


def _show_ticket(ticket: Ticket, etag: str) -> str:
    lines = [f"{key + ':':13}{'-' if value is None else value}" for key, value in ticket.items()]
    return "\n".join([*lines, f"{'etag:':13}{etag}"])


def cmd_stats(args: argparse.Namespace) -> None:
    stats = count(_store(args).snapshot().tickets.values())
    if args.json:
        return _print_json(stats)
    rows = [["total", str(stats["total"])]]
    rows += [[f"status {k}", str(v)] for k, v in stats["by_status"].items()]
    rows += [[f"priority {k}", str(v)] for k, v in stats["by_priority"].items()]
    print(_table(rows))


def cmd_list(args: argparse.Namespace) -> None:
    query = _validated(
        TicketQuery, status=args.status or [], priority=args.priority or [], assignee=args.assignee,
        q=args.q, sort=args.sort, limit=args.limit, offset=args.offset,
    )  # fmt: skip
    snap = _store(args).snapshot()
    page, total = snap.search(query)
    if args.json:
        return _print_json(snap.list_json(page))
    if not page:
        print(f"no ticket (0 of {len(snap.tickets)})")
        return
    header = [["ID", "STATUS", "PRIORITY", "ASSIGNEE", "UPDATED", "TITLE"]]
    rows = [[str(t["id"]), t["status"], t["priority"], t["assignee"] or "-", t["updated_at"], t["title"]] for t in page]
    print(_table(header + rows))
    print(f"{len(page)} shown, {total} matching, {len(snap.tickets)} in all")


def cmd_show(args: argparse.Namespace) -> None:
    snap = _store(args).snapshot()
    ticket = snap.get(args.id)
    if args.json:
        return _print_json(snap.ticket_json(args.id))
    print(_show_ticket(ticket, snap.etag(args.id)))


def cmd_add(args: argparse.Namespace) -> None:
    ticket = _store(args).add(_validated(TicketCreate, **_given_fields(args)))
    if args.json:
        return _print_json(ticket)
    print(f"created ticket {ticket['id']}: {ticket['title']}")


def cmd_update(args: argparse.Namespace) -> None:
    changes = _given_fields(args)
    if args.unassign:
        changes["assignee"] = None
    if not changes:
        raise UsageError("nothing to update; give at least one of --title, --description, --status, "
                         "--priority, --assignee, --unassign")  # fmt: skip
    store = _store(args)
    before = store.snapshot().tickets.get(args.id)
    ticket = store.update(args.id, _validated(TicketUpdate, **changes), if_match=args.if_match)
    if args.json:
        return _print_json(ticket)
    if ticket == before:
        print(f"ticket {ticket['id']} unchanged: it already had these values")
    else:
        print(f"updated ticket {ticket['id']}")


def cmd_delete(args: argparse.Namespace) -> None:
    _store(args).delete(args.id, if_match=args.if_match)
    print(f"deleted ticket {args.id}")


def _positive(what: str) -> Callable[[str], int]:
    """An argparse type for whole numbers >= 1 that names the bad value."""

    def convert(text: str) -> int:
        if not (text.isascii() and text.isdigit()) or int(text) < 1:
            raise argparse.ArgumentTypeError(f"invalid {what} {text!r}: expected a whole number >= 1")
        return int(text)

    return convert


def _not_negative(what: str) -> Callable[[str], int]:
    """An argparse type for whole numbers >= 0."""

    def convert(text: str) -> int:
        if not (text.isascii() and text.isdigit()):
            raise argparse.ArgumentTypeError(f"invalid {what} {text!r}: expected a whole number >= 0")
        return int(text)

    return convert


STATUS_HELP = "open, in_progress, closed (or ouvert, en cours, fermé)"
PRIORITY_HELP = "low, medium, high, urgent (or basse, moyenne, haute, urgente)"


def build_parser() -> argparse.ArgumentParser:
    """The CLI: `python script.py` alone prints the statistics."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--file", type=Path, default=argparse.SUPPRESS,
                        help="tickets file (default: $TICKETS_FILE or tickets.json beside script.py)")  # fmt: skip
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print JSON, as the API answers")
    guarded = argparse.ArgumentParser(add_help=False)
    guarded.add_argument("--if-match", metavar="ETAG", type=_etag_argument,
                         help="change only if the ticket still has this ETag (as `show` prints it; quotes optional)")

    parser = argparse.ArgumentParser(prog="script.py", description="Support tickets: statistics, listing, edits.")
    parser.add_argument("--file", type=Path, default=None, help=argparse.SUPPRESS)
    parser.set_defaults(func=cmd_stats, json=False)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    p = sub.add_parser("stats", parents=[common, as_json], help="count tickets by status and priority")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("list", parents=[common, as_json], help="list tickets, filtered and sorted")
    p.add_argument("--status", action="append", help=f"keep this status (repeatable, or a,b): {STATUS_HELP}")
    p.add_argument("--priority", action="append", help=f"keep this priority (repeatable, or a,b): {PRIORITY_HELP}")
    p.add_argument("--assignee", help="exact assignee")
    p.add_argument("--q", help="text in title or description, ignoring case and accents")
    p.add_argument("--sort", default="id", help=f"one of {', '.join(SORT_KEYS)}; prefix - for descending (default id)")
    p.add_argument("--limit", type=_positive("limit"), help="at most N tickets")
    p.add_argument("--offset", type=_not_negative("offset"), default=0, help="skip the first N tickets (default 0)")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("show", parents=[common, as_json], help="show one ticket")
    p.add_argument("id", type=_positive("ticket id"))
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("add", parents=[common, as_json], help="create a ticket")
    p.add_argument("title", help=f"1 to {TITLE_MAX} characters")
    p.add_argument("--description", help=f"at most {DESCRIPTION_MAX} characters")
    p.add_argument("--priority", help=f"{PRIORITY_HELP} (default medium)")
    p.add_argument("--status", help=f"{STATUS_HELP} (default open)")
    p.add_argument("--assignee", help=f"1 to {ASSIGNEE_MAX} characters")
    p.set_defaults(func=cmd_add)

    p = sub.add_parser("update", parents=[common, as_json, guarded], help="change fields of a ticket")
    p.add_argument("id", type=_positive("ticket id"))
    p.add_argument("--title", help=f"1 to {TITLE_MAX} characters")
    p.add_argument("--description", help=f"at most {DESCRIPTION_MAX} characters")
    p.add_argument("--status", help=STATUS_HELP)
    p.add_argument("--priority", help=PRIORITY_HELP)
    who = p.add_mutually_exclusive_group()
    who.add_argument("--assignee", help=f"1 to {ASSIGNEE_MAX} characters")
    who.add_argument("--unassign", action="store_true", help="remove the assignee")
    p.set_defaults(func=cmd_update)

    p = sub.add_parser("delete", parents=[common, guarded], help="delete a ticket")
    p.add_argument("id", type=_positive("ticket id"))
    p.set_defaults(func=cmd_delete)
    return parser


def _join_option_values(argv: list[str]) -> list[str]:
    """Let `--sort -priority` work as typed: argparse would take '-priority' for an option."""
    joined: list[str] = []
    for arg in argv:
        if joined and joined[-1] == "--sort" and arg.startswith("-") and arg != "--":
            joined[-1] = f"--sort={arg}"
        else:
            joined.append(arg)
    return joined


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code: 0 done, 1 not found or store unusable, 2 invalid input.

    Whatever happens to the output (a pipe closed by `head`, a full disk, a terminal without
    accents), the user gets one line on stderr or nothing, never a traceback.
    """
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="replace")  # '?' for what the terminal cannot show
    args = build_parser().parse_args(_join_option_values(list(sys.argv[1:] if argv is None else argv)))
    try:
        check_settings()
        store = _store(args)
        store.remove_stale_temp_files()
        args.func(args)
        sys.stdout.flush()
    except (UsageError, SettingInvalid) as exc:
        return _fail(str(exc), 2)
    except TicketError as exc:
        return _fail(str(exc), 1)
    except BrokenPipeError:  # `script.py list | head -1`: the reader has all it wanted
        _silence_stdout()
        return 1
    except OSError as exc:  # > /dev/full
        _silence_stdout()
        return _fail(f"could not write the output: {exc.strerror or exc}", 1)
    return 0


def _fail(message: str, code: int) -> int:
    print(f"script.py: error: {message}", file=sys.stderr)
    return code


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that Python's final flush of the unwritable output stays quiet."""
    with suppress(OSError, ValueError, io.UnsupportedOperation):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


if __name__ == "__main__":
    sys.exit(main())
