"""A ticket's conversation and history: comments, events (who changed what, and when), the pages and the feed
that list them, and the pure functions that make events and count them per day."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
    model_validator,
    with_config,
)
from typing_extensions import NotRequired, TypedDict

from tickets.engine.messages import Problem, message
from tickets.engine.models import PUBLIC_FIELDS, DayCount, Ticket
from tickets.engine.values import (
    _NOT_BLANK,
    NUMBER_MAX,
    Assignee,
    AssigneeIn,
    Timestamp,
    moment_of,
    nfc,
    no_nul,
    not_blank,
    stored_time,
    time_key,
)

AUTHOR_MAX, BODY_MAX = 100, 10_000
FEED_LIMIT_DEFAULT, FEED_LIMIT_MAX = 100, 1000
# A ticket's comments or events come in pages: thousands of long comments read at once by a few clients took
# gigabytes and stalled every other request.
PAGE_DEFAULT, PAGE_MAX = 100, 1000
EventType = Literal["created", "updated", "commented", "deleted", "comment_edited", "comment_deleted", "sla_breached"]
COMMENT_EVENTS = ("commented", "comment_edited", "comment_deleted")  # events about one comment, named by comment_id
# What an event's changes name: the fields a ticket stores and shows (its clocks' bookkeeping is derived).
TRACKED_FIELDS = tuple(f for f in PUBLIC_FIELDS if f not in ("id", "created_at", "updated_at"))

# An author or actor: a name of 1-100 visible characters, trimmed, as an assignee. Names given to the service (key
# names, X-Actor, author, --actor) are taken in NFC before anything else: compared and stored alike however typed.
Name = Assignee
NameIn = Annotated[AssigneeIn, BeforeValidator(nfc)]
Body = Annotated[str, StringConstraints(min_length=1, max_length=BODY_MAX), AfterValidator(no_nul)]
BodyIn = Annotated[Body, AfterValidator(not_blank), _NOT_BLANK]

_COMMENT_EXAMPLE: dict[str, JsonValue] = {
    "id": 7,
    "ticket_id": 3,
    "author": "karim.benali",
    "body": "Le technicien passe cet après-midi.",
    "internal": False,
    "created_at": "2026-11-21T16:02:31Z",
}


@with_config(ConfigDict(extra="forbid", json_schema_extra={"examples": [_COMMENT_EXAMPLE]}))
class Comment(TypedDict):
    """A reply on a ticket (internal: a note for the team, not for the requester); edited_at: when it was last
    corrected (absent from the history's records, which keep each comment as it was first written)."""

    id: Annotated[int, Field(ge=1, strict=True)]
    ticket_id: Annotated[int, Field(ge=1, strict=True)]
    author: Name
    body: Body
    internal: Annotated[bool, Field(strict=True)]
    created_at: Timestamp
    edited_at: NotRequired[Timestamp | None]


class CommentEdit(BaseModel):
    """Body of a correction: the new text, or the new internal flag, or both."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"minProperties": 1, "examples": [{"body": "Le technicien passe demain matin."}]},
    )

    body: BodyIn = None  # type: ignore[assignment]
    internal: bool = Field(default=None, strict=True)  # type: ignore[assignment]

    @model_validator(mode="after")
    def _not_empty(self) -> CommentEdit:
        if not self.model_fields_set:
            raise Problem(message("correction_empty"))
        return self


class CommentCreate(BaseModel):
    """Body of a new comment: the author may be left out when the request names its actor."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"author": "karim.benali", "body": "Le technicien passe cet après-midi.", "internal": False}]
        },
    )

    author: NameIn | None = Field(
        default=None, description="Who writes it; by default the request's actor (X-Actor, or the name of the API key)."
    )
    body: BodyIn
    internal: bool = Field(default=False, strict=True, description="A note for the team, not for the requester.")


# "from" is a Python keyword: this TypedDict is spelled as a call.
Change = TypedDict("Change", {"from": Any, "to": Any})

_EVENT_EXAMPLE: dict[str, JsonValue] = {
    "id": 42,
    "ticket_id": 3,
    "at": "2026-11-21T16:02:31Z",
    "actor": "karim.benali",
    "type": "updated",
    "changes": {"status": {"from": "open", "to": "in_progress"}},
}


@with_config(ConfigDict(extra="forbid", json_schema_extra={"examples": [_EVENT_EXAMPLE]}))
class Event(TypedDict):
    """One entry of a ticket's history: who changed what, and when."""

    id: Annotated[int, Field(ge=1, strict=True)]
    ticket_id: Annotated[int, Field(ge=1, strict=True)]
    at: Timestamp
    actor: Name | None
    type: EventType
    changes: dict[str, Change]


class Page(BaseModel):
    """limit and offset of a ticket's comments or history: 100 by default, 1000 at most."""

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(
        default=PAGE_DEFAULT,
        ge=1,
        le=PAGE_MAX,
        description=f"At most this many (1 to {PAGE_MAX}; default {PAGE_DEFAULT}): X-Total-Count says how many in all.",
    )
    offset: int = Field(default=0, ge=0, le=NUMBER_MAX, description="Skip this many first.")


class FeedQuery(BaseModel):
    """Where a poller of the change feed stands, and how much it takes at once."""

    model_config = ConfigDict(extra="forbid")

    after: int = Field(
        default=0, ge=0, le=NUMBER_MAX, description="Only events with a greater id: the last id already seen."
    )
    limit: int = Field(
        default=FEED_LIMIT_DEFAULT,
        ge=1,
        le=FEED_LIMIT_MAX,
        description=f"At most this many events (1 to {FEED_LIMIT_MAX}).",
    )


# --------------------------------------------------------------------------- events, made and counted


def changes_between(old: Ticket | None, new: Ticket | None) -> dict[str, Change]:
    """What an event records: each tracked field whose value differs, {"from": old, "to": new}.

    A creation (old is None) records every initial value; a deletion (new is None) records none.
    """
    if new is None:
        return {}
    fields = [f for f in TRACKED_FIELDS if f in new]  # a ticket of older data may lack the help desk's fields
    if old is None:
        return {f: {"from": None, "to": new[f]} for f in fields}  # type: ignore[literal-required]
    return {f: {"from": old.get(f), "to": new[f]} for f in fields if old.get(f) != new[f]}  # type: ignore[literal-required]


def closes(event: Event) -> bool:
    """Whether this event set the status to closed (a creation as closed counts too)."""
    status = event["changes"].get("status")
    return status is not None and status["to"] == "closed"


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


def per_day(
    counts: dict[str, list[int]] | dict[str, tuple[int, int]], days: int, today: date | None = None
) -> list[DayCount]:
    """One entry per day of the last `days` days, zeros included, from tallied [opened, closed] counts."""
    return [
        {"date": d, "opened": counts[d][0], "closed": counts[d][1]}
        if d in counts
        else {"date": d, "opened": 0, "closed": 0}
        for d in last_days(days, today)
    ]


@dataclass(frozen=True)
class NewComment:
    """A comment to add, its author known (given, or the request's actor)."""

    author: str
    body: str
    internal: bool = False


def comment_changes(comment_id: int, internal: bool = False) -> dict[str, Change]:
    """What a `commented` event records: the new comment's id, and for an internal note a mark saying so (events
    written before the mark existed are told apart by their comment: about_internal)."""
    changes: dict[str, Change] = {"comment_id": {"from": None, "to": comment_id}}
    if internal:
        changes["internal"] = {"from": None, "to": True}
    return changes


def edit_changes(comment: Comment, edit: CommentEdit) -> dict[str, Change]:
    """What a `comment_edited` event records: the comment's id, each changed value from old to new, and its
    internal flag (from, to) whenever it is or was internal; empty when nothing changes."""
    changes: dict[str, Change] = {}
    if edit.body is not None and edit.body != comment["body"]:
        changes["body"] = {"from": comment["body"], "to": edit.body}
    internal = comment["internal"] if edit.internal is None else edit.internal
    if internal != comment["internal"] or (changes and internal):
        changes["internal"] = {"from": comment["internal"], "to": internal}
    return {"comment_id": {"from": comment["id"], "to": comment["id"]}, **changes} if changes else {}


def deletion_changes(comment: Comment) -> dict[str, Change]:
    """What a `comment_deleted` event records: the comment's id (and its mark, for an internal note)."""
    changes: dict[str, Change] = {"comment_id": {"from": comment["id"], "to": None}}
    if comment["internal"]:
        changes["internal"] = {"from": True, "to": None}
    return changes


def edited(comment: Comment, event: Event | dict[str, Any]) -> Comment:
    """A comment as a comment_edited event leaves it."""
    changes = event["changes"]
    new: Comment = {**comment, "edited_at": event["at"]}
    if "body" in changes:
        new["body"] = changes["body"]["to"]
    if "internal" in changes:
        new["internal"] = changes["internal"]["to"]
    return new


def commented_id(event: Event | dict[str, Any]) -> int | None:
    """The comment an event is about (commented, comment_edited, comment_deleted), or None."""
    if event["type"] not in COMMENT_EVENTS:
        return None
    named: Any = event["changes"].get("comment_id", {})
    return named.get("to") if named.get("to") is not None else named.get("from")


def about_internal(event: Event | dict[str, Any], internal_comments: Any = ()) -> bool:
    """Whether a viewer may not see this event: it is about an internal note (its mark, or for an older event,
    its comment among internal_comments, a container of ids)."""
    mark = event["changes"].get("internal") if event["type"] in COMMENT_EVENTS else None
    if mark is not None and (mark.get("from") is True or mark.get("to") is True):
        return True
    return event["type"] == "commented" and commented_id(event) in internal_comments


def later_than(previous: str, time: str) -> str:
    """The new updated_at of a ticket commented at time: time, which the clock gives to the microsecond, so it is
    later than the last change. Only a clock that did not move since (one pinned by a test or TICKETS_NOW, or set
    back) gives one microsecond after previous instead: a comment always moves updated_at, and so the ticket's
    ETag (which covers the ticket's content only), and that step is the smallest there is."""
    if time_key(time) > time_key(previous):
        return time
    return stored_time(moment_of(previous) + timedelta(microseconds=1))
