"""The file tickets.json itself: its strict parsing (schema, repeated keys, the bare-array form) and how a
ticket is written in it."""

from __future__ import annotations

import codecs
import json
from pathlib import Path
from typing import Any

import pydantic_core
from pydantic import ConfigDict, TypeAdapter, ValidationError

from tickets.engine.errors import (
    StoreUnreadable,
    described,
    first_repeated_key,
)
from tickets.engine.messages import message
from tickets.engine.models import StoreFile, Ticket, complete
from tickets.engine.sla import Policy

# The rare bare-array form is validated by an adapter built on first use (defer_build).
_STORE_OBJECT = TypeAdapter(StoreFile)
_STORE_ARRAY = TypeAdapter(list[Ticket], config=ConfigDict(defer_build=True))

# --------------------------------------------------------------------------- parsing the file


def parse_store(raw: bytes, path: Path) -> tuple[int, dict[int, Ticket], dict[str, Any]]:
    """Validate the bytes of tickets.json: (next_id, tickets by id in id order, each with every field
    (tickets.engine.models.complete), the head's other keys: the history's counters and log, see
    history_log.py, and the SLA policy as a Policy), or StoreUnreadable.

    Anything the schema does not know is refused, never dropped at the next write: unknown keys
    (pydantic's extra="forbid") and a key repeated in one object (see _repeated_key).
    """
    raw = raw.removeprefix(codecs.BOM_UTF8)
    if not raw.strip():
        raise StoreUnreadable(path, message("store_empty_file"))
    bare_array = raw.lstrip()[:1] == b"["
    try:
        if bare_array:
            tickets, next_id, head = _STORE_ARRAY.validate_json(raw), 1, {}
        else:
            data = _STORE_OBJECT.validate_json(raw)
            tickets, next_id = data["tickets"], data["next_id"]
            head = {key: value for key, value in data.items() if key not in ("tickets", "next_id")}
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        problem = described(error)
        if not error["loc"] and error["type"] != "json_invalid":
            problem = message("store_not_an_object", problem=problem)
        raise StoreUnreadable(path, problem) from None
    repeated = _repeated_key(raw, tickets, 0 if bare_array else 2 + len(head), head)
    if repeated:
        raise StoreUnreadable(path, message("store_key_twice", key=repeated))
    if "sla_policy" in head:
        try:
            head["sla_policy"] = Policy.model_validate(head["sla_policy"])
        except ValidationError as exc:
            raise StoreUnreadable(path, described(exc.errors(include_url=False)[0], "sla_policy.")) from None
    by_id = {t["id"]: complete(t) for t in sorted(tickets, key=lambda t: t["id"])}
    if len(by_id) != len(tickets):
        raise StoreUnreadable(path, message("store_same_id"))
    # next_id never goes below max id + 1, so an id is never handed out twice.
    return max(next_id, max(by_id, default=0) + 1), by_id, head


def _repeated_key(raw: bytes, tickets: list[Ticket], top_keys: int, head: dict[str, Any]) -> str | None:
    """The name of a key repeated in one object of the file, or None.

    JSON parsers keep the last of two equal keys, so the first value would vanish at the next write.
    Cheap proof first: with no \\u escape in the file, every ':' is either the separator after a key
    or a ':' inside a string value. The parsed data tells how many keys there are and how many ':' its
    strings hold (each timestamp has two); if the file has exactly that many, no key is repeated.
    Otherwise an exact, slower parse finds the repeated key.
    """
    if b"\\u" not in raw:
        keys = sum(map(len, tickets)) + 2 * sum(1 for t in tickets if t.get("requester"))
        texts = "".join([t["title"] + t["description"] + (t["assignee"] or "") + _requester_text(t) for t in tickets])
        timestamps = sum(
            2 + bool(t.get("first_response_at")) + bool(t.get("resolved_at")) + _pause_times(t) for t in tickets
        )
        expected = top_keys + keys + texts.count(":") + 2 * timestamps
        expected += _colons_in(head.get("sla_policy")) + _colons_in(head.get("idempotency"))
        if raw.count(b":") == expected:
            return None
    return first_repeated_key(raw)


def _requester_text(ticket: Ticket) -> str:
    requester = ticket.get("requester")
    return "" if not requester else requester["name"] + (requester["email"] or "")


def _pause_times(ticket: Ticket) -> int:
    return sum(1 + (end is not None) for _, end in ticket.get("paused", ()))


def _colons_in(value: Any) -> int:
    """The ':' a parsed JSON value is written with: one per key, and those inside its strings."""
    if isinstance(value, dict):
        return sum(1 + key.count(":") + _colons_in(item) for key, item in value.items())
    if isinstance(value, list):
        return sum(_colons_in(item) for item in value)
    return value.count(":") if isinstance(value, str) else 0


def dump_policy(policy: Policy) -> bytes:
    """The SLA policy as it stands in the file's head: one line per setting, per day and per priority, so
    that a change of the hours of one day is one line of a diff."""
    data = policy.model_dump(mode="json")

    def inline(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))

    def block(mapping: dict[str, Any]) -> str:
        if not mapping:
            return "{}"
        items = [f'      "{key}": {inline(value)}' for key, value in mapping.items()]
        return "{\n" + ",\n".join(items) + "\n    }"

    hours = data["business_hours"]
    lines = [
        f'    "timezone": {inline(data["timezone"])}',
        f'    "business_hours": {"null" if hours is None else block(hours)}',
        f'    "holidays": {inline(data["holidays"])}',
        f'    "targets": {block(data["targets"])}',
    ]
    return ("{\n" + ",\n".join(lines) + "\n  }").encode()


_INLINE = (b"requester", b"tags", b"paused")


def _dump_pretty(ticket: Ticket) -> bytes:
    """The ticket as it stands in the file: indented by 2, nested 4 deep in the tickets array, one line per field
    (its requester, tags and pauses written compactly on theirs). A JSON string never holds a raw newline, so
    the indented form of a value is found only where that value is."""
    text = pydantic_core.to_json(ticket, indent=2)
    for key in _INLINE:
        value = ticket.get(key.decode())
        if value:
            nested = pydantic_core.to_json(value, indent=2).replace(b"\n", b"\n  ")
            text = text.replace(b'"%s": %s' % (key, nested), b'"%s": %s' % (key, pydantic_core.to_json(value)), 1)
    return b"    " + text.replace(b"\n", b"\n    ")


# --------------------------------------------------------------------------- snapshots
