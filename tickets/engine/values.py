"""The values a ticket is made of: statuses and priorities (with their French spellings), the rules for text,
ids and timestamps, and the annotated types that carry those rules into every model."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

from tickets.engine.messages import Problem, message

Status = Literal["open", "in_progress", "waiting", "closed"]
Priority = Literal["low", "medium", "high", "urgent"]
STATUSES: tuple[Status, ...] = ("open", "in_progress", "waiting", "closed")  # workflow order
PRIORITIES: tuple[Priority, ...] = ("low", "medium", "high", "urgent")  # rank order
STATUS_RANK = {s: i for i, s in enumerate(STATUSES)}
PRIORITY_RANK = {p: i for i, p in enumerate(PRIORITIES)}
STATUS_ALIASES = {"ouvert": "open", "en_cours": "in_progress", "en_attente": "waiting", "ferme": "closed"}
PRIORITY_ALIASES = {"basse": "low", "moyenne": "medium", "haute": "high", "urgente": "urgent"}
SORT_KEYS = ("id", "priority", "status", "created_at", "updated_at", "title", "due")
SortKey = Literal[
    "id",
    "-id",
    "priority",
    "-priority",
    "status",
    "-status",
    "created_at",
    "-created_at",
    "updated_at",
    "-updated_at",
    "title",
    "-title",
    "due",
    "-due",
]

TITLE_MAX, DESCRIPTION_MAX, ASSIGNEE_MAX = 200, 5000, 100
# The largest id, offset or position a request may name: PostgreSQL's bigint, so that both stores answer a number
# the same way (a 400 beyond it, never a database error).
NUMBER_MAX = 2**63 - 1
TIMESTAMP_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$"


def _fold(value: str) -> str:
    """Lower-case, accent-free, underscored form of a user-typed value: 'En cours' -> 'en_cours'."""
    ascii_only = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    return "_".join(ascii_only.strip().lower().replace("-", " ").split())


def _parse_choice(value: Any, kind: str, choices: tuple[str, ...], aliases: dict[str, str], french: str) -> Any:
    """A value of choices typed in any case, in English or French: the English value, else a ValueError
    naming the value and listing the choices. A non-string is returned as it is, for the type to refuse."""
    if not isinstance(value, str):
        return value
    folded = aliases.get(_fold(value), _fold(value))
    if folded not in choices:
        raise Problem(message("unknown_choice", kind=kind, value=value, choices=", ".join(choices), french=french))
    return folded


def parse_status(value: Any) -> Any:
    """Accept a status in any case, in English or French ('fermé', 'en cours'); return the English value."""
    return _parse_choice(value, "status", STATUSES, STATUS_ALIASES, "ouvert, en cours, en attente, fermé")


def parse_priority(value: Any) -> Any:
    """Accept a priority in any case, in English or French ('haute'); return the English value."""
    return _parse_choice(value, "priority", PRIORITIES, PRIORITY_ALIASES, "basse, moyenne, haute, urgente")


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
        raise Problem(message("blank_text"))
    return value


def no_nul(value: str) -> str:
    """No text may hold the NUL character: PostgreSQL cannot store it, and no ticket needs it."""
    if "\x00" in value:
        raise Problem(message("nul_in_text"))
    return value


NO_NUL_PATTERN = "^[^\x00]*$"


def real_timestamp(value: str) -> str:
    """The pattern checks the shape; this checks the date and time exist (no month 13, no 25:00)."""
    try:
        datetime.fromisoformat(value[:19])  # the pattern made it YYYY-MM-DDTHH:MM:SS[.f]Z
    except ValueError:
        raise Problem(message("not_a_time", value=value)) from None
    return value


def time_key(timestamp: str) -> str:
    """What a stored time sorts and compares by: its text without the final Z. As they are, "…:00Z" sorts after
    "…:00.5Z" ('.' comes before 'Z'); without the Z, "…:00" < "…:00.5" < "…:00.52" < "…:01", whatever the precision
    (times may carry a fraction, older ones have whole seconds). Also in SQL: left(column, -1) (COLLATE "C")."""
    return timestamp[:-1]


def stored_time(moment: datetime) -> str:
    """A moment as the service writes it (UTC), to the microsecond, always six digits: "2026-11-27T10:00:00.250000Z".
    Of one width, the times the service writes compare right even as plain text (a client's sort); only an older
    whole second ("…:00Z") needs time_key beside them."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def moment_of(timestamp: str) -> datetime:
    """A stored time as an aware UTC datetime (any fraction of 1 to 6 digits, which Python 3.10 cannot parse)."""
    whole = datetime.strptime(timestamp[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    fraction = timestamp[20:-1]
    return whole + timedelta(microseconds=int(fraction.ljust(6, "0"))) if fraction else whole


_COMBINING_MARKS = re.compile("[\u0300-\u036f]")


def fold_text(text: str) -> str:
    """The form `q` is matched in: case and accents ignored ('Réseau' -> 'reseau')."""
    return _COMBINING_MARKS.sub("", unicodedata.normalize("NFKD", text)).casefold()


def nfc(value: Any) -> Any:
    """A name in Unicode NFC: 'é' typed as one character or as 'e' and a combining accent is the same name, so
    names compare (and are stored) alike. A non-string is returned as it is, for the type to refuse."""
    return unicodedata.normalize("NFC", value) if isinstance(value, str) else value


def parse_ticket_id(value: Any) -> Any:
    """Ids typed as text must be plain ASCII digits: '1.0', '1e3', '0x10' or '٣' are refused."""
    if isinstance(value, str) and not (value.isascii() and value.isdigit()):
        raise Problem(message("invalid_id", value=value[:30], most=NUMBER_MAX))
    return value


StatusIn = Annotated[Status, BeforeValidator(parse_status)]
PriorityIn = Annotated[Priority, BeforeValidator(parse_priority)]
Title = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=TITLE_MAX), AfterValidator(no_nul)
]
Description = Annotated[
    str,
    StringConstraints(max_length=DESCRIPTION_MAX),
    AfterValidator(no_nul),
    Field(json_schema_extra={"pattern": NO_NUL_PATTERN}),
]
Assignee = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=ASSIGNEE_MAX), AfterValidator(no_nul)
]
Timestamp = Annotated[
    str,
    StringConstraints(pattern=TIMESTAMP_PATTERN),
    AfterValidator(real_timestamp),
    Field(examples=["2026-11-20T09:14:00Z"]),
]
# In request bodies, blanks and invisible characters alone do not count; the schema says so too.
# In the schema: some visible character, and no NUL anywhere.
_NOT_BLANK = Field(json_schema_extra={"pattern": f"^[^\x00]*[^{INVISIBLE}\x00][^\x00]*$"})
TitleIn = Annotated[Title, AfterValidator(not_blank), _NOT_BLANK]
AssigneeIn = Annotated[Assignee, AfterValidator(not_blank), _NOT_BLANK]


# --------------------------------------------------------------------------- help desk: tags and requesters

TAG_MAX, TAGS_MAX, EMAIL_MAX = 50, 20, 254
TAG_PATTERN = r"^[\w-]{1,50}$"


def parse_tag(value: Any) -> Any:
    """A tag as stored: trimmed, NFC, lower-case; 1-50 letters (accents allowed), digits, '-' or '_'."""
    if not isinstance(value, str):
        return value
    tag = unicodedata.normalize("NFC", value.strip()).lower()
    if not 1 <= len(tag) <= TAG_MAX or not re.fullmatch(r"[\w-]+", tag):
        raise Problem(message("invalid_tag", value=value[:60], most=TAG_MAX))
    return tag


def tag_list(value: Any) -> Any:
    """A list of tags as stored: each normalized, repeats dropped, sorted."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return sorted({parse_tag(v) for v in value})
    return value


_EMAIL = re.compile(r"[^@\s\x00]{1,64}@[^@\s.\x00]+(\.[^@\s.\x00]+)+")


def parse_email(value: Any) -> Any:
    """An address as people type it: something@domain.tld, no spaces, trimmed (not a full RFC 5322 parser:
    the service never sends mail, it only has to find the requester again)."""
    if not isinstance(value, str):
        return value
    email = unicodedata.normalize("NFC", value.strip())
    if len(email) > EMAIL_MAX or not _EMAIL.fullmatch(email):
        raise Problem(message("invalid_email", value=value[:60]))
    return email


def same_person(a: str, b: str) -> bool:
    """Names and email addresses compare without case, in NFC."""
    return unicodedata.normalize("NFC", a).casefold() == unicodedata.normalize("NFC", b).casefold()


Tag = Annotated[str, BeforeValidator(parse_tag), Field(json_schema_extra={"pattern": TAG_PATTERN}, examples=["vpn"])]
Email = Annotated[str, BeforeValidator(parse_email), Field(examples=["claire.dubois@example.fr"])]
