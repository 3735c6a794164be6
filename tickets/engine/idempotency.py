"""Idempotency-Key (IETF httpapi draft "The Idempotency-Key HTTP Header Field") on the two creations, POST /tickets
and POST /tickets/{id}/comments: the pure parts, the same for both stores (docs/idempotency.md).

- The header's value: a Structured Field string ("abc", with the escapes \\" and \\\\) or, as If-Match is here,
  bare (abc); 1 to 255 printable ASCII characters.
- A key belongs to the client that sent it (its scope: the name of its API key), and stands for the request it
  came with first: its route (and ticket), its actor and its body as understood (the validated model), as a
  fingerprint, so that key order, spaces and defaults written out change nothing.
- The answer kept for it (status, Location, ETag, body) is written in the same commit as the write it answers,
  and given again for 24 hours by the store's clock; then it is forgotten and the key may be used again.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any

import pydantic_core
from pydantic import Field, StringConstraints
from typing_extensions import TypedDict

from tickets.engine.errors import KeyReused
from tickets.engine.messages import Problem, message
from tickets.engine.values import Timestamp, moment_of, stored_time, time_key

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"  # "true" on an answer given again
TICKET_ETAG = "Ticket-ETag"  # a comment's answer: the commented ticket's new ETag, for a next If-Match
KEPT_FOR = timedelta(hours=24)
KEY_MAX = 255
# The value as a JSON Schema pattern (OpenAPI): bare printable ASCII without spaces, quotes or backslashes, or an
# sf-string (spaces allowed, \" and \\ escaped).
PATTERN = r'^(?:[!#-\[\]-~]{1,255}|"(?:[ !#-\[\]-~]|\\["\\]){1,255}")$'
_BARE = re.compile(r"[!#-\[\]-~]+")
_QUOTED = re.compile(r'"((?:[ !#-\[\]-~]|\\["\\])*)"')


def parse_key(value: str) -> str:
    """The key a header value names; ValueError naming what is wrong with it."""
    value = value.strip(" \t")
    quoted = _QUOTED.fullmatch(value)
    if quoted is not None:
        key = re.sub(r"\\(.)", r"\1", quoted.group(1))
    elif value.startswith('"'):
        raise Problem(message("key_quoted_badly"))
    elif _BARE.fullmatch(value) is not None:
        key = value
    else:
        raise Problem(message("key_invalid"))
    if not 1 <= len(key) <= KEY_MAX:
        raise Problem(message("key_length", most=KEY_MAX, length=len(key)))
    return key


def fingerprint(route: str, actor: str | None, body: Any) -> str:
    """What makes two requests the same, as a SHA-256: the route (with the ticket's id), the actor and the body
    as understood (a JSON value: the validated model's dump), its keys in order."""
    text = json.dumps([route, actor, body], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Keyed:
    """A creation sent with an Idempotency-Key: whose key it is (scope), the key, and the request it stands for
    (its route, for the messages, and its fingerprint)."""

    scope: str
    key: str
    route: str
    fingerprint: str


@dataclass(frozen=True)
class Answer:
    """What a creation answered: its status, its headers (Location, and ETag for a ticket) and its JSON body;
    replayed when it is the answer kept for a key, given again."""

    status: int
    headers: dict[str, str]
    body: bytes
    replayed: bool = field(default=False, compare=False)


def ticket_answer(ticket_id: int, body: bytes, etag: str) -> Answer:
    """The answer of POST /tickets: 201, where the ticket lives, its ETag, the ticket as rendered."""
    return Answer(201, {"Location": f"/tickets/{ticket_id}", "ETag": etag}, body)


def comment_answer(comment: Any, ticket_etag: str) -> Answer:
    """The answer of POST /tickets/{id}/comments: 201, where the comment lives, the ticket's new ETag (a comment
    changes it: a client that comments can then send If-Match without reading the ticket again), the comment."""
    location = f"/tickets/{comment['ticket_id']}/comments/{comment['id']}"
    return Answer(201, {"Location": location, TICKET_ETAG: ticket_etag}, pydantic_core.to_json(comment))


class KeptRecord(TypedDict):
    """An answer kept for a key, as the JSON file writes it (PostgreSQL has a column for each)."""

    scope: str
    key: Annotated[str, StringConstraints(min_length=1, max_length=KEY_MAX)]
    route: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    fingerprint: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    at: Timestamp
    status: Annotated[int, Field(ge=200, le=299, strict=True)]
    headers: dict[str, str]
    body: dict[str, Any]


def kept(keyed: Keyed, answer: Answer, at: str) -> KeptRecord:
    """The record of the answer to keep for keyed, written at `at`."""
    return {
        "scope": keyed.scope,
        "key": keyed.key,
        "route": keyed.route,
        "fingerprint": keyed.fingerprint,
        "at": at,
        "status": answer.status,
        "headers": dict(answer.headers),
        "body": pydantic_core.from_json(answer.body),
    }


def cutoff(now: str) -> str:
    """The oldest time a kept answer may have and still be given: an answer kept at or before it is forgotten."""
    earlier = stored_time(moment_of(now) - KEPT_FOR)
    return earlier if "." in now else earlier[:19] + "Z"  # a clock pinned to whole seconds keeps them


def is_fresh(at: str, now: str) -> bool:
    """Whether an answer kept at `at` is still given at `now` (less than 24 hours later); compared as times, not
    as text (values.time_key)."""
    return time_key(at) > time_key(cutoff(now))


def replay(record: KeptRecord | None, keyed: Keyed, now: str) -> Answer | None:
    """The answer to give again for keyed, or None when the write should go ahead (no answer is kept for its key,
    or it is 24 hours old). KeyReused when the key was used for another request."""
    if record is None or not is_fresh(record["at"], now):
        return None
    if record["fingerprint"] != keyed.fingerprint:
        raise KeyReused(keyed.key, keyed.route, record["route"], record["at"])
    body = pydantic_core.to_json(record["body"])
    return Answer(record["status"], dict(record["headers"]), body, replayed=True)
