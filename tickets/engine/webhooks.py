"""Webhooks: the endpoints that are told of each change, and the rules of telling them (Standard Webhooks v1).

An endpoint is a URL with the event types it wants. It has a cursor in the event log (`delivered_up_to`): the
events after it are delivered in order, each until it succeeds or the endpoint is given up on. What is sent, how
it is signed (the `standardwebhooks` package's own signing), when a failed try is retried and when an endpoint
is disabled are pure functions of this module; the worker (tickets/worker/delivery.py) does the sending and the
stores keep the endpoints (tickets/stores/webhook_seam.py).
"""

from __future__ import annotations

import base64
import secrets
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Annotated, Any, Literal, cast
from urllib.parse import urlsplit

import pydantic_core
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from standardwebhooks.webhooks import Webhook as Signer
from typing_extensions import NotRequired, TypedDict

from tickets.engine.history import Event
from tickets.engine.messages import Problem, message
from tickets.engine.values import NO_NUL_PATTERN, Timestamp, moment_of, no_nul, time_key

EventName = Literal[
    "ticket.created",
    "ticket.updated",
    "ticket.deleted",
    "comment.created",
    "comment.updated",
    "comment.deleted",
    "sla.breached",
    "endpoint.disabled",
]
EVENT_NAMES: tuple[str, ...] = EventName.__args__  # type: ignore[attr-defined]
ALL = "*"
# The type a webhook is sent for each type of event in the history.
TYPE_OF_EVENT = {
    "created": "ticket.created",
    "updated": "ticket.updated",
    "deleted": "ticket.deleted",
    "commented": "comment.created",
    "comment_edited": "comment.updated",
    "comment_deleted": "comment.deleted",
    "sla_breached": "sla.breached",
}
# Standard Webhooks' schedule: after the first try fails, retry after each of these (seconds); after the last,
# the endpoint is disabled. About three days and four hours in all.
RETRY_DELAYS = (5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 14 * 3600, 20 * 3600, 24 * 3600)
RETRY_AFTER_CODES = frozenset({429, 502, 503, 504})  # Retry-After is honoured on these
RETRY_AFTER_MAX = 24 * 3600  # a Retry-After further away than a day is taken as a day
TIMEOUT = 15.0  # seconds a receiver has to answer
ROTATION_OVERLAP = timedelta(hours=24)  # an old secret keeps signing this long after a rotation
URL_MAX, DESCRIPTION_MAX = 2000, 500


def _web_url(url: str) -> str:
    """An http(s) URL with a host, no credentials and no fragment (the address checks come at creation and at each
    delivery, where the name is resolved: tickets/worker/addresses.py)."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # "htTpS://[": an unclosed IPv6 address
        raise Problem(message("webhook_url_invalid", problem=exc)) from None
    if parts.scheme not in ("http", "https"):
        raise Problem(message("webhook_url_scheme"))
    if not parts.hostname:
        raise Problem(message("webhook_url_host"))
    if parts.username is not None or parts.password is not None:
        raise Problem(message("webhook_url_credentials"))
    if parts.fragment:
        raise Problem(message("webhook_url_fragment"))
    try:
        parts.port  # noqa: B018 (a port out of range raises)
    except ValueError:
        raise Problem(message("webhook_url_port")) from None
    if any(c.isspace() or ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        raise Problem(message("webhook_url_spaces"))
    return url


WebhookUrl = Annotated[
    str,
    StringConstraints(min_length=1, max_length=URL_MAX),
    AfterValidator(_web_url),
    Field(
        description="Where to send: an http:// or https:// URL of a public host (no user name or password).",
        json_schema_extra={"pattern": "^[hH][tT][tT][pP][sS]?://"},  # for the schema; the message says it in words
    ),
]
Description = Annotated[
    str,
    StringConstraints(max_length=DESCRIPTION_MAX, strip_whitespace=True),
    AfterValidator(no_nul),
    Field(json_schema_extra={"pattern": NO_NUL_PATTERN}),
]
Subscribed = Annotated[
    list[EventName | Literal["*"]],
    Field(min_length=1, max_length=len(EVENT_NAMES) + 1, json_schema_extra={"uniqueItems": True}),
    AfterValidator(lambda names: sorted(set(names))),
]
_EXAMPLE: dict[str, Any] = {
    "url": "https://chat.example.org/hooks/support",
    "events": ["ticket.created", "sla.breached"],
}


class WebhookCreate(BaseModel):
    """A new endpoint: where to send, which events ("*": every one), and a note for the team."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_EXAMPLE]})

    url: WebhookUrl
    events: Subscribed = Field(description='Event types to send, or ["*"] for all of them.')
    description: Description = ""


class WebhookUpdate(BaseModel):
    """A change of an endpoint: any of its fields. enabled=true starts a disabled one again where it stopped."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1, "examples": [{"enabled": True}]})

    url: WebhookUrl = None  # type: ignore[assignment]
    events: Subscribed = None  # type: ignore[assignment]
    description: Description = None  # type: ignore[assignment]
    enabled: bool = Field(default=None, strict=True)  # type: ignore[assignment]


class Webhook(TypedDict):
    """An endpoint as the API shows it. delivered_up_to: the id of the last event it is done with (delivered, or
    not one of its types); disabled_reason: why it was disabled (null while enabled)."""

    id: int
    url: str
    events: list[str]
    description: str
    enabled: bool
    disabled_reason: str | None
    created_at: Timestamp
    delivered_up_to: int
    secret: NotRequired[str]  # in the answer of a creation or a rotation only


class Retry(TypedDict):
    """The try an endpoint is at: which message, how many tries failed, when the next one is due (epoch s)."""

    message: str
    attempt: int
    next_at: float


class Stored(Webhook):
    """An endpoint as a store keeps it: with its secrets (the newest first; [secret, until] where until is when an
    old one stops signing, null for the current one), the try it is at, messages of its own to send before the
    next event (endpoint.disabled), and a generation that every change from outside the worker moves on (the
    worker's progress is saved only if it has not moved)."""

    secrets: list[list[Any]]
    retry: Retry | None
    outbox: list[dict[str, Any]]
    generation: int


class Attempt(TypedDict):
    """One try to deliver a message to an endpoint, as GET /webhooks/{id}/deliveries lists it."""

    webhook_id: int
    message_id: str
    event_id: int | None
    type: str
    attempt: int
    at: Timestamp
    status_code: int | None
    error: str | None
    duration_ms: int


PUBLIC = tuple(Webhook.__annotations__)


def public(hook: Stored) -> Webhook:
    """What the API shows of a stored endpoint: never its secrets."""
    return cast(Webhook, {k: v for k, v in hook.items() if k in PUBLIC and k != "secret"})


def new_secret() -> str:
    """A signing secret as Standard Webhooks writes it: whsec_ and 24 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def created(hook_id: int, data: WebhookCreate, secret: str, at: str, cursor: int) -> Stored:
    """A new endpoint, told of the events written after cursor (the last event id when it was made)."""
    return {
        "id": hook_id,
        "url": data.url,
        "events": list[str](data.events),
        "description": data.description,
        "enabled": True,
        "disabled_reason": None,
        "created_at": at,
        "delivered_up_to": cursor,
        "secrets": [[secret, None]],
        "retry": None,
        "outbox": [],
        "generation": 0,
    }


def changed(hook: Stored, changes: WebhookUpdate) -> Stored:
    """The endpoint with a PATCH applied; enabling a disabled one clears its reason and starts its tries again."""
    given = changes.model_dump(exclude_unset=True)
    new: Stored = {**hook, **given, "generation": hook["generation"] + 1}  # type: ignore[typeddict-item]
    if given.get("enabled") and not hook["enabled"]:
        new["disabled_reason"], new["retry"] = None, None
    if given.get("enabled") is False and hook["enabled"]:
        new["disabled_reason"] = "disabled by an admin"
    return new


def rotated(hook: Stored, secret: str, at: str) -> Stored:
    """A new current secret at the time at; the previous one keeps signing for ROTATION_OVERLAP (older ones stop
    at once)."""
    until = stamp(moment_of(at) + ROTATION_OVERLAP)
    return {**hook, "secrets": [[secret, None], [hook["secrets"][0][0], until]], "generation": hook["generation"] + 1}


def rewound(hook: Stored, after: int) -> Stored:
    """Deliver again every event with an id above after (redeliver?from=after+1)."""
    return {**hook, "delivered_up_to": after, "retry": None, "generation": hook["generation"] + 1}


def disabled(hook: Stored, reason: str) -> Stored:
    return {**hook, "enabled": False, "disabled_reason": reason, "retry": None, "generation": hook["generation"] + 1}


def signing_secrets(hook: Stored, moment: str) -> list[str]:
    """The secrets that sign at this moment (a stored time): the current one, and an old one until its time is up."""
    return [secret for secret, until in hook["secrets"] if until is None or time_key(until) > time_key(moment)]


def wants(hook: Stored, message_type: str) -> bool:
    return ALL in hook["events"] or message_type in hook["events"]


def message_id(event_id: int) -> str:
    """webhook-id of an event's message, the same on every try (and on a redelivery), so receivers drop repeats."""
    return f"evt_{event_id}"


def type_of(event: Event) -> str:
    return TYPE_OF_EVENT[event["type"]]


def body(message_type: str, timestamp: str, event: bytes, ticket: bytes | None, comment: bytes | None) -> bytes:
    """A message's body, built from the JSON the API answers: the event, the ticket as it is now (null once deleted)
    and the comment an event is about (null once deleted). timestamp: when it happened (the event's time)."""
    head = pydantic_core.to_json({"type": message_type, "timestamp": timestamp})[:-1]
    data = b'{"event":' + event + b',"ticket":' + (ticket or b"null")
    if comment is not None:
        data += b',"comment":' + comment
    return head + b',"data":' + data + b"}}"


def disabled_message(hook: Stored, reason: str, at: datetime) -> dict[str, Any]:
    """The endpoint.disabled message sent to the other endpoints that want it."""
    return {
        "id": f"msg_endpoint_{hook['id']}_{int(at.timestamp() * 1000)}",
        "type": "endpoint.disabled",
        "body": body(
            "endpoint.disabled",
            stamp(at),
            pydantic_core.to_json({"webhook": public({**hook, "enabled": False, "disabled_reason": reason})}),
            None,
            None,
        ).decode(),
    }


def headers(hook_secrets: list[str], msg_id: str, at: datetime, data: bytes) -> dict[str, str]:
    """The Standard Webhooks headers of one try: id, timestamp, and one v1 signature per secret in force."""
    text = data.decode()
    signatures = " ".join(Signer(secret).sign(msg_id, at, text) for secret in hook_secrets)
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signatures,
    }


Outcome = Literal["delivered", "gone", "retry"]


def outcome(status_code: int | None) -> Outcome:
    """Only a 2xx delivers; 410 Gone disables the endpoint; anything else (a redirect too) is tried again."""
    if status_code is not None and 200 <= status_code < 300:
        return "delivered"
    return "gone" if status_code == 410 else "retry"


def retry_delay(failed: int, status_code: int | None, retry_after: str | None, now: datetime) -> float | None:
    """Seconds to wait after the failed-th failed try (1 = the first), or None: give up. A Retry-After on 429,
    502, 503 or 504 is honoured (seconds or an HTTP date; at most a day) while tries remain."""
    if failed > len(RETRY_DELAYS):
        return None
    if status_code in RETRY_AFTER_CODES and retry_after is not None:
        asked = retry_after_seconds(retry_after, now)
        if asked is not None:
            return min(asked, RETRY_AFTER_MAX)
    return float(RETRY_DELAYS[failed - 1])


def retry_after_seconds(value: str, now: datetime) -> float | None:
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - now).total_seconds())


def stamp(at: datetime) -> str:
    """A stored time (UTC, to the second) of an aware datetime."""
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
