"""Ticket engine: models, validation, the JSON-file store and the command-line tool.

This module knows nothing of HTTP. ``main.py`` exposes it as a REST API; ``python script.py``
uses it from the shell. Both go through the same functions and the same rules.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import getpass
import hashlib
import io
import json
import math
import os
import re
import sys
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

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
from typing_extensions import NotRequired, TypedDict

if TYPE_CHECKING:
    from stores import TicketStore

if __name__ == "__main__":
    # `python script.py` runs this file as __main__, and the stores import it as `script`: without
    # this line it would be loaded twice, and an error raised by a store would not be one of ours.
    sys.modules["script"] = sys.modules[__name__]

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


def no_nul(value: str) -> str:
    """No text may hold the NUL character: PostgreSQL cannot store it, and no ticket needs it."""
    if "\x00" in value:
        raise ValueError("must not contain the NUL character (\\u0000)")
    return value


NO_NUL_PATTERN = "^[^\x00]*$"


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
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=TITLE_MAX), AfterValidator(no_nul)]
Description = Annotated[
    str, StringConstraints(max_length=DESCRIPTION_MAX), AfterValidator(no_nul),
    Field(json_schema_extra={"pattern": NO_NUL_PATTERN}),
]  # fmt: skip
Assignee = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=ASSIGNEE_MAX), AfterValidator(no_nul)
]  # fmt: skip
Timestamp = Annotated[
    str, StringConstraints(pattern=TIMESTAMP_PATTERN), AfterValidator(real_timestamp),
    Field(examples=["2026-11-20T09:14:00Z"]),
]  # fmt: skip
# In request bodies, blanks and invisible characters alone do not count; the schema says so too.
# In the schema: some visible character, and no NUL anywhere.
_NOT_BLANK = Field(json_schema_extra={"pattern": f"^[^\x00]*[^{INVISIBLE}\x00][^\x00]*$"})
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
    # The history (json_history.py): absent from a file written before comments and events existed.
    next_comment_id: NotRequired[Annotated[int, Field(ge=1, strict=True)]]
    next_event_id: NotRequired[Annotated[int, Field(ge=1, strict=True)]]
    history_file: NotRequired[Annotated[str, StringConstraints(min_length=1, max_length=255)] | None]
    tickets: list[Ticket]



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


_QUERY_TEXT = {"type": "string", "pattern": NO_NUL_PATTERN}


def _no_nul_or_none(value: str | None) -> str | None:
    return value if value is None else no_nul(value)


class TicketFilters(BaseModel):
    """Filters shared by the list, the statistics and the CLI."""

    model_config = ConfigDict(extra="forbid")

    status: Annotated[list[StatusIn], BeforeValidator(split_commas)] = Field(
        default=[], description="Keep these statuses: repeat it or separate with commas; French accepted (en cours).")
    priority: Annotated[list[PriorityIn], BeforeValidator(split_commas)] = Field(
        default=[], description="Keep these priorities: repeat it or separate with commas; French accepted (haute).")
    # A query string has no null: the schema says "string, optional", the Python default is None.
    assignee: Annotated[str | None, AfterValidator(_no_nul_or_none), WithJsonSchema(_QUERY_TEXT)] = Field(
        default=None, description="Exact assignee.")
    q: Annotated[str | None, AfterValidator(_no_nul_or_none), WithJsonSchema(_QUERY_TEXT)] = Field(
        default=None, description="Text in title or description, ignoring case and accents (reseau finds Réseau).")


class TicketQuery(TicketFilters):
    """Filters plus order and page of a listing."""

    sort: SortKey = Field(default="id", description="Sort key; prefix '-' for descending. Ties: ascending id.")
    limit: Annotated[int | None, WithJsonSchema({"type": "integer", "minimum": 1})] = Field(
        default=None, ge=1, description="At most this many tickets.")
    offset: int = Field(default=0, ge=0, description="Skip this many first.")


_ALL = TicketQuery()


class DayCount(TypedDict):
    """How many tickets were opened and closed on one day (UTC), from the history."""

    date: Annotated[str, Field(examples=["2026-11-27"])]
    opened: int
    closed: int


class Counts(TypedDict):
    total: int
    by_status: dict[Status, int]
    by_priority: dict[Priority, int]


class Stats(Counts):
    per_day: list[DayCount]


DAYS_DEFAULT, DAYS_MAX = 14, 366


class StatsQuery(TicketFilters):
    """The filters of the counts, and how many days of history per_day covers."""

    days: int = Field(default=DAYS_DEFAULT, ge=1, le=DAYS_MAX,
                      description="per_day covers this many days (UTC), today included; 1 to 366.")  # fmt: skip


# --------------------------------------------------------------------------- comments and history

AUTHOR_MAX, BODY_MAX = 100, 10_000
FEED_LIMIT_DEFAULT, FEED_LIMIT_MAX = 100, 1000
EventType = Literal["created", "updated", "commented", "deleted"]
TRACKED_FIELDS = ("title", "description", "status", "priority", "assignee")  # what an event's changes name

# An author or actor: a name of 1-100 visible characters, trimmed, as an assignee.
Name = Assignee
NameIn = AssigneeIn
Body = Annotated[str, StringConstraints(min_length=1, max_length=BODY_MAX), AfterValidator(no_nul)]
BodyIn = Annotated[Body, AfterValidator(not_blank), _NOT_BLANK]

_COMMENT_EXAMPLE = {
    "id": 7, "ticket_id": 3, "author": "karim.benali", "body": "Le technicien passe cet après-midi.",
    "internal": False, "created_at": "2026-11-21T16:02:31Z",
}  # fmt: skip


class Comment(TypedDict):
    """A reply on a ticket (internal: a note for the team, not for the requester)."""

    __pydantic_config__ = ConfigDict(extra="forbid", json_schema_extra={"examples": [_COMMENT_EXAMPLE]})  # type: ignore[misc]

    id: Annotated[int, Field(ge=1, strict=True)]
    ticket_id: Annotated[int, Field(ge=1, strict=True)]
    author: Name
    body: Body
    internal: Annotated[bool, Field(strict=True)]
    created_at: Timestamp


class CommentCreate(BaseModel):
    """Body of a new comment: the author may be left out when the request names its actor."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"author": "karim.benali", "body": "Le technicien passe cet après-midi.", "internal": False}]})  # fmt: skip

    author: NameIn | None = Field(default=None, description="Who writes it; by default the request's actor "
                                                            "(X-Actor, or the name of the API key).")  # fmt: skip
    body: BodyIn
    internal: bool = Field(default=False, strict=True, description="A note for the team, not for the requester.")


# "from" is a Python keyword: this TypedDict is spelled as a call.
Change = TypedDict("Change", {"from": Any, "to": Any})

_EVENT_EXAMPLE = {
    "id": 42, "ticket_id": 3, "at": "2026-11-21T16:02:31Z", "actor": "karim.benali", "type": "updated",
    "changes": {"status": {"from": "open", "to": "in_progress"}},
}  # fmt: skip


class Event(TypedDict):
    """One entry of a ticket's history: who changed what, and when."""

    __pydantic_config__ = ConfigDict(extra="forbid", json_schema_extra={"examples": [_EVENT_EXAMPLE]})  # type: ignore[misc]

    id: Annotated[int, Field(ge=1, strict=True)]
    ticket_id: Annotated[int, Field(ge=1, strict=True)]
    at: Timestamp
    actor: Name | None
    type: EventType
    changes: dict[str, Change]


class Page(BaseModel):
    """limit and offset of a ticket's comments or history."""

    model_config = ConfigDict(extra="forbid")

    limit: Annotated[int | None, WithJsonSchema({"type": "integer", "minimum": 1})] = Field(
        default=None, ge=1, description="At most this many (default: all).")
    offset: int = Field(default=0, ge=0, description="Skip this many first.")


class FeedQuery(BaseModel):
    """Where a poller of the change feed stands, and how much it takes at once."""

    model_config = ConfigDict(extra="forbid")

    after: int = Field(default=0, ge=0, description="Only events with a greater id: the last id already seen.")
    limit: int = Field(default=FEED_LIMIT_DEFAULT, ge=1, le=FEED_LIMIT_MAX,
                       description=f"At most this many events (1 to {FEED_LIMIT_MAX}).")  # fmt: skip


@dataclass
class History:
    """Every comment and event of a store, for a copy; the next ids never go back."""

    next_comment_id: int = 1
    comments: list[Comment] = field(default_factory=list)
    next_event_id: int = 1
    events: list[Event] = field(default_factory=list)


# --------------------------------------------------------------------------- domain errors


class TicketError(Exception):
    """Base of the engine's errors; the message names the problem."""


class TicketNotFound(TicketError):
    def __init__(self, ticket_id: int) -> None:
        super().__init__(f"ticket {ticket_id} not found")
        self.ticket_id = ticket_id


class CommentNotFound(TicketError):
    def __init__(self, ticket_id: int, comment_id: int) -> None:
        super().__init__(f"comment {comment_id} of ticket {ticket_id} not found")


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


class StoreNotEmpty(TicketError):
    def __init__(self, name: str, count: int) -> None:
        super().__init__(f"{name} already holds {count} tickets; add --replace to replace them")


class SettingInvalid(TicketError):
    """A setting from the environment is unusable: the service stops rather than guess (fail closed)."""


# --------------------------------------------------------------------------- pure functions


def count(tickets: Iterable[Ticket]) -> Counts:
    """Count tickets by status and by priority; every key is present."""
    by_status: dict[Status, int] = dict.fromkeys(STATUSES, 0)
    by_priority: dict[Priority, int] = dict.fromkeys(PRIORITIES, 0)
    for t in tickets:
        by_status[t["status"]] += 1
        by_priority[t["priority"]] += 1
    return {"total": sum(by_status.values()), "by_status": by_status, "by_priority": by_priority}


def changes_between(old: Ticket | None, new: Ticket | None) -> dict[str, Change]:
    """What an event records: each tracked field whose value differs, {"from": old, "to": new}.

    A creation (old is None) records every initial value; a deletion (new is None) records none.
    """
    if new is None:
        return {}
    if old is None:
        return {f: {"from": None, "to": new[f]} for f in TRACKED_FIELDS}  # type: ignore[literal-required]
    return {f: {"from": old[f], "to": new[f]} for f in TRACKED_FIELDS if old[f] != new[f]}  # type: ignore[literal-required]


def closes(event: Event) -> bool:
    """Whether this event set the status to closed (a creation as closed counts too)."""
    return event["changes"].get("status", {}).get("to") == "closed"


def tally(events: Iterable[Event], into: dict[str, list[int]] | None = None) -> dict[str, list[int]]:
    """[opened, closed] per day (the date part of `at`, UTC), added to `into` when given."""
    days = into if into is not None else {}
    for event in events:
        opened, closed = event["type"] == "created", closes(event)
        if opened or closed:
            day = days.setdefault(event["at"][:10], [0, 0])
            day[0] += opened
            day[1] += closed
    return days


def last_days(days: int, today: date | None = None) -> list[str]:
    """The dates of the last `days` days, oldest first, today (UTC) included."""
    today = today or datetime.now(timezone.utc).date()
    return [(today - timedelta(days=back)).isoformat() for back in range(days - 1, -1, -1)]


def per_day(counts: dict[str, list[int]] | dict[str, tuple[int, int]], days: int, today: date | None = None
            ) -> list[DayCount]:  # fmt: skip
    """One entry per day of the last `days` days, zeros included, from tallied [opened, closed] counts."""
    return [{"date": d, "opened": counts[d][0], "closed": counts[d][1]} if d in counts
            else {"date": d, "opened": 0, "closed": 0} for d in last_days(days, today)]  # fmt: skip


@dataclass(frozen=True)
class NewComment:
    """A comment to add, its author known (given, or the request's actor)."""

    author: str
    body: str
    internal: bool = False


def comment_changes(comment_id: int) -> dict[str, Change]:
    """What a `commented` event records: the new comment's id."""
    return {"comment_id": {"from": None, "to": comment_id}}


def later_than(previous: str, time: str) -> str:
    """time, or one second after previous when time is not later: a comment always moves updated_at,
    and so the ticket's ETag, even within the second of the last change."""
    if time > previous:
        return time
    moved = datetime.strptime(previous[:19], "%Y-%m-%dT%H:%M:%S") + timedelta(seconds=1)
    return moved.strftime("%Y-%m-%dT%H:%M:%SZ")


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


def _describe(error: Any) -> str:
    """One line from a pydantic error: 'tickets[3].status: Input should be ...'."""
    where = ""
    for part in error["loc"]:
        where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
    return f"{where}: {error['msg']}" if where else error["msg"]


def first_repeated_key(raw: bytes | str) -> str | None:
    """The first key given twice in one object of this JSON, or None (json.loads would keep the last one,
    and the first value would vanish at the next write). None too for text that is not JSON."""
    found: list[str] = []

    def check(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in pairs]
        if len(set(keys)) != len(keys) and not found:
            found.append(next(key for key in keys if keys.count(key) > 1))
        return dict(pairs)

    try:
        json.loads(raw, object_pairs_hook=check)
    except ValueError:
        return None
    return found[0] if found else None


def describe_validation_error(exc: ValidationError) -> str:
    """All the problems of a validation error on one line."""
    return "; ".join(_describe(e) for e in exc.errors(include_url=False))


# --------------------------------------------------------------------------- settings


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
    api_keys()


def api_keys() -> dict[str, str | None]:
    """The keys the API accepts, {key: its name, or None for the one TICKETS_API_KEY}; empty: an open API.
    SettingInvalid when they cannot be used (fail closed). Read on each request, so a test may change them."""
    single, named = os.environ.get("TICKETS_API_KEY"), named_keys()
    if named and single is not None:
        raise SettingInvalid("TICKETS_API_KEY and TICKETS_API_KEYS are both set: keep the named keys, or the one key")
    if single == "":
        raise SettingInvalid("TICKETS_API_KEY is set but empty: give it a value, or unset it for an open local API")
    if single is not None and not _usable_key(single):
        raise SettingInvalid("TICKETS_API_KEY must be printable ASCII (letters, digits, punctuation)")
    return dict(named) if named else ({single: None} if single is not None else {})


def _usable_key(key: str) -> bool:
    # A browser sends 'é' in a header as one Latin-1 byte, curl as two UTF-8 bytes: no key could match both.
    return bool(key) and key.isascii() and key.isprintable()


def named_keys() -> dict[str, str]:
    """TICKETS_API_KEYS=name:key,name:key as {key: name}: each request's actor is its key's name.
    Empty when the variable is unset; SettingInvalid when it cannot be used (fail closed)."""
    text = os.environ.get("TICKETS_API_KEYS")
    return {} if text is None else _parse_named_keys(text)


_NAME = TypeAdapter(NameIn)


@functools.lru_cache(maxsize=4)
def _parse_named_keys(text: str) -> dict[str, str]:
    """The entries are never quoted in a message: they hold the keys."""
    if not text.strip():
        raise SettingInvalid("TICKETS_API_KEYS is set but empty: give name:key,name:key, or unset it")
    keys: dict[str, str] = {}
    for number, entry in enumerate(text.split(","), start=1):
        name, colon, key = entry.partition(":")
        name, key = name.strip(), key.strip()
        if not colon or not name or not key:
            raise SettingInvalid(f"TICKETS_API_KEYS: entry {number} is not name:key (entries are separated by commas)")
        try:
            name = _NAME.validate_python(name)
        except ValidationError:
            raise SettingInvalid(f"TICKETS_API_KEYS: the name of entry {number} must be 1 to {AUTHOR_MAX} visible "
                                 "characters") from None  # fmt: skip
        if not _usable_key(key):
            raise SettingInvalid(f"TICKETS_API_KEYS: the key of entry {number} must be printable ASCII")
        if key in keys:
            raise SettingInvalid(f"TICKETS_API_KEYS: entry {number} repeats the key of entry "
                                 f"{list(keys).index(key) + 1}: each name needs its own key")  # fmt: skip
        if name in keys.values():
            raise SettingInvalid(f"TICKETS_API_KEYS: the name {name!r} is given twice")
        keys[key] = name
    return keys


def default_actor() -> str | None:
    """Who runs the CLI: the login name, when the system knows it and it is a valid name."""
    try:
        return _NAME.validate_python(getpass.getuser())
    except (KeyError, OSError, ImportError, ValidationError):
        return None


# --------------------------------------------------------------------------- command line


class UsageError(Exception):
    """Invalid input on the command line (exit code 2)."""


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


async def cmd_stats(args: argparse.Namespace, store: TicketStore) -> None:
    stats = await store.stats(_validated(StatsQuery, days=args.days))
    if args.json:
        return _print_json(stats)
    rows = [["total", str(stats["total"])]]
    rows += [[f"status {k}", str(v)] for k, v in stats["by_status"].items()]
    rows += [[f"priority {k}", str(v)] for k, v in stats["by_priority"].items()]
    print(_table(rows))
    print()
    print(bar_chart(stats["per_day"], _bar_character()))


BAR_WIDTH = 30


def bar_chart(days: list[DayCount], bar: str = "#") -> str:
    """Opened and closed per day as two bars per line, scaled to the busiest day, zeros included."""
    most = max([1, *(d["opened"] for d in days), *(d["closed"] for d in days)])
    digits = len(str(most))

    def drawn(n: int) -> str:
        return (bar * (0 if n == 0 else max(1, round(n * BAR_WIDTH / most)))).ljust(BAR_WIDTH)

    lines = [f"{'per day (UTC)':<10}  {'opened':<{digits + BAR_WIDTH + 1}}  closed"]
    lines += [f"{d['date']:<13}  {d['opened']:>{digits}} {drawn(d['opened'])}  {d['closed']:>{digits}} "
              f"{drawn(d['closed'])}".rstrip() for d in days]  # fmt: skip
    return "\n".join(lines)


def _bar_character() -> str:
    """A full block where the terminal can show it, else '#'."""
    try:
        "\u2588".encode(getattr(sys.stdout, "encoding", None) or "ascii")
    except (UnicodeEncodeError, LookupError):
        return "#"
    return "\u2588"


async def cmd_list(args: argparse.Namespace, store: TicketStore) -> None:
    query = _validated(
        TicketQuery, status=args.status or [], priority=args.priority or [], assignee=args.assignee,
        q=args.q, sort=args.sort, limit=args.limit, offset=args.offset,
    )  # fmt: skip
    if args.json:
        return _print_json((await store.search_json(query))[0])
    page, total = await store.search(query)
    everything = await store.count()
    if not page:
        print(f"no ticket (0 of {everything})")
        return
    header = [["ID", "STATUS", "PRIORITY", "ASSIGNEE", "UPDATED", "TITLE"]]
    rows = [[str(t["id"]), t["status"], t["priority"], t["assignee"] or "-", t["updated_at"], t["title"]] for t in page]
    print(_table(header + rows))
    print(f"{len(page)} shown, {total} matching, {everything} in all")


async def cmd_show(args: argparse.Namespace, store: TicketStore) -> None:
    data = await store.get_json(args.id)
    if args.json:
        return _print_json(data)
    print(_show_ticket(json.loads(data), etag_of(data)))


def _actor(args: argparse.Namespace) -> str | None:
    """--actor, checked like X-Actor; by default the login name."""
    if args.actor is None:
        return default_actor()
    try:
        return _NAME.validate_python(args.actor)
    except ValidationError as exc:
        raise UsageError("--actor: " + describe_validation_error(exc)) from None


async def cmd_add(args: argparse.Namespace, store: TicketStore) -> None:
    ticket = await store.add(_validated(TicketCreate, **_given_fields(args)), actor=_actor(args))
    if args.json:
        return _print_json(ticket)
    print(f"created ticket {ticket['id']}: {ticket['title']}")


async def cmd_update(args: argparse.Namespace, store: TicketStore) -> None:
    changes = _given_fields(args)
    if args.unassign:
        changes["assignee"] = None
    if not changes:
        raise UsageError("nothing to update; give at least one of --title, --description, --status, "
                         "--priority, --assignee, --unassign")  # fmt: skip
    data = _validated(TicketUpdate, **changes)
    before = await store.get(args.id)
    ticket = await store.update(args.id, data, if_match=args.if_match, actor=_actor(args))
    if args.json:
        return _print_json(ticket)
    if ticket == before:
        print(f"ticket {ticket['id']} unchanged: it already had these values")
    else:
        print(f"updated ticket {ticket['id']}")


async def cmd_delete(args: argparse.Namespace, store: TicketStore) -> None:
    await store.delete(args.id, if_match=args.if_match, actor=_actor(args))
    print(f"deleted ticket {args.id}")


async def cmd_comment(args: argparse.Namespace, store: TicketStore) -> None:
    actor = _actor(args)
    data = _validated(CommentCreate, author=args.author, body=args.text, internal=args.internal)
    author = data.author or actor
    if author is None:
        raise UsageError("give --author (the login name is unknown here)")
    comment = await store.add_comment(args.id, NewComment(author, data.body, data.internal), actor or author)
    if args.json:
        return _print_json(comment)
    print(f"added comment {comment['id']} to ticket {args.id}" + (" (internal)" if comment["internal"] else ""))


async def cmd_comments(args: argparse.Namespace, store: TicketStore) -> None:
    comments, total = await store.comments(args.id, Page(limit=args.limit, offset=args.offset))
    if args.json:
        return _print_json(comments)
    if not total:
        print(f"no comment on ticket {args.id}")
        return
    for c in comments:
        print(f"#{c['id']}  {c['created_at']}  {c['author']}" + ("  (internal)" if c["internal"] else ""))
        print("\n".join("    " + line for line in c["body"].splitlines() or [""]))
    print(f"{len(comments)} shown, {total} in all")


def _shown_value(value: Any) -> str:
    return "-" if value is None else json.dumps(value, ensure_ascii=False) if isinstance(value, str) else str(value)


def describe_changes(event: Event) -> str:
    """An event's changes on one line: status: "open" -> "closed"; a creation lists its values."""
    if event["type"] == "commented":
        return f"comment {event['changes']['comment_id']['to']}"
    if event["type"] == "created":
        return ", ".join(f"{field}: {_shown_value(c['to'])}" for field, c in event["changes"].items())
    return ", ".join(f"{field}: {_shown_value(c['from'])} -> {_shown_value(c['to'])}"
                     for field, c in event["changes"].items())  # fmt: skip


async def cmd_history(args: argparse.Namespace, store: TicketStore) -> None:
    events, total = await store.events(args.id, Page(limit=args.limit, offset=args.offset))
    if args.json:
        return _print_json(events)
    if not total:
        print(f"no history for ticket {args.id} (it was made before the history began)")
        return
    rows = [["EVENT", "AT", "ACTOR", "TYPE", "CHANGES"]]
    rows += [[f"#{e['id']}", e["at"], e["actor"] or "-", e["type"], describe_changes(e)] for e in events]
    print(_table(rows))
    print(f"{len(events)} shown, {total} in all")


async def cmd_copy(args: argparse.Namespace, source: TicketStore) -> None:
    """Every ticket of the source (--file, --db or the environment, or SOURCE) into TARGET, all or nothing."""
    target = _open_store(_place(args.target))
    if source.name == target.name:
        raise UsageError(f"the source and the target are the same store: {source.name}")
    await target.open()
    try:
        next_id, tickets, history = await source.export_all()
        await target.replace_all(next_id, tickets, replace=args.replace, history=history)
    finally:
        await target.close()
    print(f"copied {len(tickets)} tickets, {len(history.comments)} comments and {len(history.events)} events "
          f"from {source.name} to {target.name} (next id {next_id})")


def _place(text: str) -> dict[str, Any]:
    """A copy's SOURCE or TARGET: a postgresql:// URL, else the path of a JSON file."""
    from stores import POSTGRES_SCHEMES

    place = {"database_url": text} if text.startswith(POSTGRES_SCHEMES) else {"file": text}
    return {**place, "environment": False}  # named on the command line: TICKETS_DATABASE_URL plays no part


def _open_store(place: dict[str, Any]) -> TicketStore:
    from stores import open_store  # here, not at the top: the stores import this module

    return open_store(**place)


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
    common.add_argument("--db", metavar="URL", default=argparse.SUPPRESS,
                        help="PostgreSQL database instead of the file (default: $TICKETS_DATABASE_URL)")  # fmt: skip
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print JSON, as the API answers")
    acting = argparse.ArgumentParser(add_help=False)
    acting.add_argument("--actor", help="who makes the change, for the history (default: your login name)")
    paged = argparse.ArgumentParser(add_help=False)
    paged.add_argument("--limit", type=_positive("limit"), help="at most N")
    paged.add_argument("--offset", type=_not_negative("offset"), default=0, help="skip the first N (default 0)")
    guarded = argparse.ArgumentParser(add_help=False)
    guarded.add_argument("--if-match", metavar="ETAG", type=_etag_argument,
                         help="change only if the ticket still has this ETag (as `show` prints it; quotes optional)")

    parser = argparse.ArgumentParser(prog="script.py", description="Support tickets: statistics, listing, edits.")
    parser.add_argument("--file", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--db", default=None, help=argparse.SUPPRESS)
    parser.set_defaults(func=cmd_stats, json=False, days=DAYS_DEFAULT)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    p = sub.add_parser("stats", parents=[common, as_json],
                       help="count tickets by status and priority; opened and closed per day")  # fmt: skip
    p.add_argument("--days", type=_positive("number of days"), default=DAYS_DEFAULT,
                   help=f"days of history per day covers, 1 to {DAYS_MAX} (default {DAYS_DEFAULT})")  # fmt: skip
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

    p = sub.add_parser("add", parents=[common, as_json, acting], help="create a ticket")
    p.add_argument("title", help=f"1 to {TITLE_MAX} characters")
    p.add_argument("--description", help=f"at most {DESCRIPTION_MAX} characters")
    p.add_argument("--priority", help=f"{PRIORITY_HELP} (default medium)")
    p.add_argument("--status", help=f"{STATUS_HELP} (default open)")
    p.add_argument("--assignee", help=f"1 to {ASSIGNEE_MAX} characters")
    p.set_defaults(func=cmd_add)

    p = sub.add_parser("update", parents=[common, as_json, guarded, acting], help="change fields of a ticket")
    p.add_argument("id", type=_positive("ticket id"))
    p.add_argument("--title", help=f"1 to {TITLE_MAX} characters")
    p.add_argument("--description", help=f"at most {DESCRIPTION_MAX} characters")
    p.add_argument("--status", help=STATUS_HELP)
    p.add_argument("--priority", help=PRIORITY_HELP)
    who = p.add_mutually_exclusive_group()
    who.add_argument("--assignee", help=f"1 to {ASSIGNEE_MAX} characters")
    who.add_argument("--unassign", action="store_true", help="remove the assignee")
    p.set_defaults(func=cmd_update)

    p = sub.add_parser("delete", parents=[common, guarded, acting], help="delete a ticket and its comments")
    p.add_argument("id", type=_positive("ticket id"))
    p.set_defaults(func=cmd_delete)

    p = sub.add_parser("comment", parents=[common, as_json, acting], help="comment on a ticket")
    p.add_argument("id", type=_positive("ticket id"))
    p.add_argument("text", help=f"the comment, 1 to {BODY_MAX} characters")
    p.add_argument("--author", help=f"who writes it, 1 to {AUTHOR_MAX} characters (default: the actor)")
    p.add_argument("--internal", action="store_true", help="a note for the team, not for the requester")
    p.set_defaults(func=cmd_comment)

    p = sub.add_parser("comments", parents=[common, as_json, paged], help="show a ticket's comments, oldest first")
    p.add_argument("id", type=_positive("ticket id"))
    p.set_defaults(func=cmd_comments)

    p = sub.add_parser("history", parents=[common, as_json, paged],
                       help="show a ticket's history, oldest first (also after it was deleted)")  # fmt: skip
    p.add_argument("id", type=_positive("ticket id"))
    p.set_defaults(func=cmd_history)

    p = sub.add_parser("copy", help="copy every ticket between a JSON file and a PostgreSQL database",
                       description="Copy every ticket, with its id, timestamps and the next id, all or nothing. "
                       "SOURCE and TARGET are each a JSON file or a postgresql:// URL.")  # fmt: skip
    p.add_argument("source", metavar="SOURCE")
    p.add_argument("target", metavar="TARGET")
    p.add_argument("--replace", action="store_true", help="replace the tickets the target already holds")
    p.set_defaults(func=cmd_copy)
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
        asyncio.run(_execute(args))
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


async def _execute(args: argparse.Namespace) -> None:
    """One event loop for the whole command: the store is opened, used and closed in it."""
    store = _open_store(_place(args.source) if args.func is cmd_copy else {"file": args.file, "database_url": args.db})
    await store.open()
    try:
        await args.func(args, store)
    finally:
        await store.close()


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
