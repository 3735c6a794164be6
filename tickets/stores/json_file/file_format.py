"""The file tickets.json itself: its strict parsing (schema, repeated keys, the bare-array form) and how a
ticket is written in it."""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Any

import pydantic_core
from pydantic import ConfigDict, TypeAdapter, ValidationError

from tickets.engine.errors import (
    StoreUnreadable,
    _describe,
    first_repeated_key,
)
from tickets.engine.models import StoreFile, Ticket

# The rare bare-array form is validated by an adapter built on first use (defer_build).
_STORE_OBJECT = TypeAdapter(StoreFile)
_STORE_ARRAY = TypeAdapter(list[Ticket], config=ConfigDict(defer_build=True))

# --------------------------------------------------------------------------- parsing the file


def parse_store(raw: bytes, path: Path) -> tuple[int, dict[int, Ticket], dict[str, Any]]:
    """Validate the bytes of tickets.json: (next_id, tickets by id in id order, the head's other keys:
    the history's counters and log, see json_history.py), or StoreUnreadable.

    Anything the schema does not know is refused, never dropped at the next write: unknown keys
    (pydantic's extra="forbid") and a key repeated in one object (see _repeated_key).
    """
    raw = raw.removeprefix(codecs.BOM_UTF8)
    if not raw.strip():
        raise StoreUnreadable(path, "the file is empty; expected a JSON object with next_id and tickets")
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
        problem = _describe(error)
        if not error["loc"] and error["type"] != "json_invalid":
            problem += ": expected a JSON object with next_id and tickets, or an array of tickets"
        raise StoreUnreadable(path, problem) from None
    repeated = _repeated_key(raw, tickets, 0 if bare_array else 2 + len(head))
    if repeated:
        raise StoreUnreadable(path, f"the key {repeated!r} appears twice in one object; keep one of them")
    by_id = {t["id"]: t for t in sorted(tickets, key=lambda t: t["id"])}
    if len(by_id) != len(tickets):
        raise StoreUnreadable(path, "two tickets have the same id")
    # next_id never goes below max id + 1, so an id is never handed out twice.
    return max(next_id, max(by_id, default=0) + 1), by_id, head


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
    return first_repeated_key(raw)


def _dump_pretty(ticket: Ticket) -> bytes:
    """The ticket as it stands in the file: indented by 2, nested 4 deep in the tickets array."""
    return b"    " + pydantic_core.to_json(ticket, indent=2).replace(b"\n", b"\n    ")


# --------------------------------------------------------------------------- snapshots
