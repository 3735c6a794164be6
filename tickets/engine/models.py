"""The ticket and what is asked of tickets: the stored ticket and the file's shape, the bodies of a creation and
an update, the filters, order and page of a listing, and the statistics."""

from __future__ import annotations

from typing import Annotated

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

from tickets.engine.values import (
    NO_NUL_PATTERN,
    NUMBER_MAX,
    Assignee,
    AssigneeIn,
    Description,
    Priority,
    PriorityIn,
    SortKey,
    Status,
    StatusIn,
    Timestamp,
    Title,
    TitleIn,
    no_nul,
    split_commas,
)

_TICKET_EXAMPLE: dict[str, JsonValue] = {
    "id": 3,
    "title": "Imprimante du 2e étage hors service",
    "description": "Bourrage papier permanent, le voyant clignote en orange.",
    "status": "in_progress",
    "priority": "high",
    "assignee": "karim.benali",
    "created_at": "2026-11-20T09:14:00Z",
    "updated_at": "2026-11-21T16:02:31Z",
}


# An unknown key in the file is refused: kept silently, it would vanish at the next write.
@with_config(ConfigDict(extra="forbid", json_schema_extra={"examples": [_TICKET_EXAMPLE]}))
class Ticket(TypedDict):
    """A ticket as stored in the file and returned by the API."""

    id: Annotated[int, Field(ge=1, strict=True)]
    title: Title
    description: Description
    status: Status
    priority: Priority
    assignee: Assignee | None
    created_at: Timestamp
    updated_at: Timestamp


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
    tickets: list[Ticket]


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
        default=[], description="Keep these statuses: repeat it or separate with commas; French accepted (en cours)."
    )
    priority: Annotated[list[PriorityIn], BeforeValidator(split_commas)] = Field(
        default=[], description="Keep these priorities: repeat it or separate with commas; French accepted (haute)."
    )
    # A query string has no null: the schema says "string, optional", the Python default is None.
    assignee: Annotated[str | None, AfterValidator(_no_nul_or_none), WithJsonSchema(_QUERY_TEXT)] = Field(
        default=None, description="Exact assignee."
    )
    q: Annotated[str | None, AfterValidator(_no_nul_or_none), WithJsonSchema(_QUERY_TEXT)] = Field(
        default=None, description="Text in title or description, ignoring case and accents (reseau finds Réseau)."
    )


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
