"""The ticket and what is asked of tickets: the stored ticket and the file's shape, the bodies of a creation and
an update, the filters, order and page of a listing, and the statistics."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
    WithJsonSchema,
    model_validator,
    with_config,
)
from typing_extensions import NotRequired, TypedDict

from tickets.engine.idempotency import KeptRecord
from tickets.engine.messages import Problem, message
from tickets.engine.values import (
    NO_NUL_PATTERN,
    NUMBER_MAX,
    TAGS_MAX,
    Assignee,
    AssigneeIn,
    Description,
    Email,
    Priority,
    PriorityIn,
    SortKey,
    Status,
    StatusIn,
    Tag,
    Timestamp,
    Title,
    TitleIn,
    nfc,
    no_nul,
    split_commas,
)

SlaState = Literal["none", "on_track", "paused", "met", "breached"]
SLA_STATES: tuple[SlaState, ...] = ("none", "on_track", "paused", "met", "breached")


@with_config(ConfigDict(extra="forbid"))
class Requester(TypedDict):
    """Who asked: whom to answer. The email may be unknown (a phone call)."""

    name: Annotated[Assignee, BeforeValidator(nfc)]
    email: Email | None


class RequesterIn(BaseModel):
    """A requester in a request body: the name is required, the email optional."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"name": "Claire Dubois", "email": "claire.dubois@example.fr"}]}
    )

    name: Annotated[AssigneeIn, BeforeValidator(nfc)]
    email: Email | None = None


# At most TAGS_MAX given, as the schema says (maxItems), repeats included: counted after the repeats were dropped,
# 24 tags that were 2 once normalized got a 201 where the schema promised a 400 (schemathesis found it).
Tags = Annotated[list[Tag], Field(max_length=TAGS_MAX), AfterValidator(lambda tags: sorted(set(tags)))]


# The fields a ticket stores and the API shows, in the order both write them; then what the service keeps for the
# SLA clocks (never shown: tickets.engine.sla), and what it computes at each reading.
PUBLIC_FIELDS = (
    "id",
    "title",
    "description",
    "status",
    "priority",
    "assignee",
    "requester",
    "tags",
    "created_at",
    "updated_at",
    "first_response_at",
    "resolved_at",
)
CLOCK_FIELDS = ("paused", "sla_breached", "breach_events")
STORED_FIELDS = (*PUBLIC_FIELDS, *CLOCK_FIELDS)
COMPUTED_FIELDS = ("first_response_due", "resolution_due", "sla_state")
HELP_DESK_DEFAULTS: dict[str, Any] = {
    "requester": None,
    "tags": [],
    "first_response_at": None,
    "resolved_at": None,
    "paused": [],
    "sla_breached": False,
    "breach_events": [],
}


def _distinct(targets: list[str]) -> list[str]:
    if len(set(targets)) != len(targets):
        raise Problem(message("target_twice"))
    return targets


# An unknown key in the file is refused: kept silently, it would vanish at the next write. The help desk's fields
# may be absent from a file written before them (complete() fills them in).
@with_config(ConfigDict(extra="forbid"))
class Ticket(TypedDict):
    """A ticket as stored, in the file and in the database."""

    id: Annotated[int, Field(ge=1, strict=True)]
    title: Title
    description: Description
    status: Status
    priority: Priority
    assignee: Assignee | None
    requester: NotRequired[Requester | None]
    tags: NotRequired[Tags]
    created_at: Timestamp
    updated_at: Timestamp
    first_response_at: NotRequired[Timestamp | None]
    resolved_at: NotRequired[Timestamp | None]
    # When the SLA clocks stopped (waiting or closed) and started again: [from, to], to null while stopped.
    paused: NotRequired[list[Annotated[tuple[Timestamp, Timestamp | None], AfterValidator(list)]]]
    # A target was missed once: the ticket stays breached whatever changes after.
    sla_breached: NotRequired[Annotated[bool, Field(strict=True)]]
    # The targets whose sla_breached event is in the history (tickets.engine.breaches): each gets one, once.
    breach_events: NotRequired[Annotated[list[Literal["first_response", "resolution"]], AfterValidator(_distinct)]]


def complete(ticket: Ticket) -> Ticket:
    """A ticket with every field, in the stored order: one written before the help desk gets its defaults."""
    if tuple(ticket) == STORED_FIELDS:
        return ticket
    full = {**HELP_DESK_DEFAULTS, **ticket}
    if full["status"] == "closed" and "resolved_at" not in ticket:
        # Closed before resolved_at existed: its last change closed it, as far as anyone can tell now.
        full["resolved_at"], full["paused"] = full["updated_at"], [[full["updated_at"], None]]
    return {key: full[key] for key in STORED_FIELDS}  # type: ignore[return-value]


@with_config(ConfigDict(extra="forbid"))
class StoreFile(TypedDict):
    """The object form of tickets.json."""

    next_id: Annotated[int, Field(ge=1, strict=True)]
    # The history (stores/json_file/history_log.py): absent from a file written before comments and events existed.
    next_comment_id: NotRequired[Annotated[int, Field(ge=1, strict=True)]]
    next_event_id: NotRequired[Annotated[int, Field(ge=1, strict=True)]]
    history_file: NotRequired[Annotated[str, StringConstraints(min_length=1, max_length=255)] | None]
    history_length: NotRequired[Annotated[int, Field(ge=0, strict=True)]]  # committed bytes of the log
    history_digest: NotRequired[Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]]  # its last record's
    # The SLA policy (tickets.engine.sla.Policy, validated by the JSON store): absent until one is set.
    sla_policy: NotRequired[dict[str, Any]]
    tickets: list[Ticket]
    # The answers kept for Idempotency-Keys (tickets.engine.idempotency), oldest first: absent while there are none.
    idempotency: NotRequired[list[KeptRecord]]


_EXAMPLE: dict[str, JsonValue] = {
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
    requester: RequesterIn | None = Field(default=None, description="Who asked: name, and email if known.")
    tags: Tags = Field(default=[], description=f"At most {TAGS_MAX} tags: letters, digits, '-' or '_'.")


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
    requester: RequesterIn | None = Field(default=None, description="Who asked; null removes the requester.")
    tags: Tags = Field(default=None, description="The new tags, in place of the old ones.")  # type: ignore[arg-type]
    add_tags: Annotated[list[Tag], Field(max_length=TAGS_MAX)] = Field(
        default=None,  # type: ignore[arg-type]
        description="Tags to add to those the ticket has.",
    )
    remove_tags: Annotated[list[Tag], Field(max_length=TAGS_MAX)] = Field(
        default=None,  # type: ignore[arg-type]
        description="Tags to take away (a tag the ticket does not have is ignored).",
    )

    @model_validator(mode="after")
    def _not_empty(self) -> TicketUpdate:
        if not self.model_fields_set:
            raise Problem(message("update_empty", fields=", ".join(type(self).model_fields)))
        if "tags" in self.model_fields_set and self.model_fields_set & {"add_tags", "remove_tags"}:
            raise Problem(message("tags_both_ways"))
        both = set(self.add_tags or ()) & set(self.remove_tags or ())
        if both:
            raise Problem(message("tag_added_and_removed", tag=sorted(both)[0]))
        return self


BULK_MAX = 1000


class BulkUpdate(BaseModel):
    """Body of a bulk change: the same changes on each of 1 to 1000 distinct tickets."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"ids": [3, 5, 8], "changes": {"status": "closed", "add_tags": ["panne"]}}]},
    )

    ids: Annotated[
        list[Annotated[int, Field(ge=1, le=NUMBER_MAX, strict=True)]],
        Field(min_length=1, max_length=BULK_MAX, json_schema_extra={"uniqueItems": True}),
    ] = Field(description=f"The tickets to change: 1 to {BULK_MAX} distinct ids.")
    changes: TicketUpdate

    @model_validator(mode="after")
    def _distinct(self) -> BulkUpdate:
        seen: set[int] = set()
        for ticket_id in self.ids:
            if ticket_id in seen:
                raise Problem(message("id_twice", ticket_id=ticket_id))
            seen.add(ticket_id)
        return self


_QUERY_TEXT = {"type": "string", "pattern": NO_NUL_PATTERN}


def _no_nul_or_none(value: str | None) -> str | None:
    return value if value is None else no_nul(value)


class TicketFilters(BaseModel):
    """Filters shared by the list, the statistics and the CLI."""

    model_config = ConfigDict(extra="forbid")

    status: Annotated[list[StatusIn], BeforeValidator(split_commas)] = Field(
        default=[], description="Keep these statuses: repeat it or separate with commas; French accepted (en cours)."
    )
    priority: Annotated[list[PriorityIn], BeforeValidator(split_commas)] = Field(
        default=[], description="Keep these priorities: repeat it or separate with commas; French accepted (haute)."
    )
    # A query string has no null: the schema says "string, optional", the Python default is None.
    assignee: Annotated[str | None, AfterValidator(_no_nul_or_none), WithJsonSchema(_QUERY_TEXT)] = Field(
        default=None, description="Exact assignee; none for the unassigned tickets."
    )
    q: Annotated[str | None, AfterValidator(_no_nul_or_none), WithJsonSchema(_QUERY_TEXT)] = Field(
        default=None, description="Text in title or description, ignoring case and accents (reseau finds Réseau)."
    )
    requester: Annotated[str | None, AfterValidator(_no_nul_or_none), WithJsonSchema(_QUERY_TEXT)] = Field(
        default=None, description="The requester's name or email, ignoring case."
    )
    tag: Annotated[list[Tag], BeforeValidator(split_commas)] = Field(
        default=[], description="Keep tickets that have all these tags: repeat it or separate with commas."
    )
    sla: Annotated[list[SlaState], BeforeValidator(split_commas)] = Field(
        default=[], description="Keep tickets in any of these SLA states: " + ", ".join(SLA_STATES) + "."
    )
    due_before: Timestamp | None = Field(
        default=None,
        description="Keep tickets whose next pending due time (first response, else resolution) is before this time.",
    )

    @property
    def unassigned(self) -> bool:
        """?assignee=none asks for the tickets nobody is assigned to."""
        return self.assignee is not None and self.assignee.casefold() == "none"


class TicketQuery(TicketFilters):
    """Filters plus order and page of a listing."""

    sort: SortKey = Field(default="id", description="Sort key; prefix '-' for descending. Ties: ascending id.")
    limit: Annotated[int | None, WithJsonSchema({"type": "integer", "minimum": 1, "maximum": NUMBER_MAX})] = Field(
        default=None, ge=1, le=NUMBER_MAX, description="At most this many tickets (default: all)."
    )
    offset: int = Field(default=0, ge=0, le=NUMBER_MAX, description="Skip this many first.")


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
    by_tag: dict[str, int]
    sla: dict[SlaState, int]
    first_response_minutes_median: float | None
    resolution_minutes_median: float | None


class Stats(Counts):
    per_day: list[DayCount]


DAYS_DEFAULT, DAYS_MAX = 14, 366


class StatsQuery(TicketFilters):
    """The filters of the counts, and how many days of history per_day covers."""

    days: int = Field(
        default=DAYS_DEFAULT,
        ge=1,
        le=DAYS_MAX,
        description="per_day covers this many days (UTC), today included; 1 to 366.",
    )
