"""The lines of the history log: one record per line, with its chained digest (tickets.engine.chain).

    {"comment":{"id":7,"ticket_id":3,...},"digest":"9f2c…"}
    {"event":{"id":42,"ticket_id":3,...},"digest":"51ab…"}
    {"erased":{"id":7,"ticket_id":3},"digest":"9f2c…"}      a comment deleted with its ticket: its digest stays

A log written before digests existed has lines without "digest"; it is read as it is and written again with
digests at the next write. Parsing is strict: a line the service would not write back identically (an unknown
key, a key twice) is refused, naming its line number.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from pydantic import ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError, with_config
from typing_extensions import NotRequired, TypedDict

from tickets.engine.chain import Record, RecordKind, chained, record_bytes
from tickets.engine.errors import StoreUnreadable, described, first_repeated_key
from tickets.engine.history import Comment, Event
from tickets.engine.messages import Message, Spoken, message

_TAIL = len(b',"digest":"') + 64 + len(b'"}\n')  # what follows the record in a chained line
Digest = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


@with_config(ConfigDict(extra="forbid"))
class Erased(TypedDict):
    id: Annotated[int, Field(ge=1, strict=True)]
    ticket_id: Annotated[int, Field(ge=1, strict=True)]


@with_config(ConfigDict(extra="forbid"))
class _CommentLine(TypedDict):
    comment: Comment
    digest: NotRequired[Digest]


@with_config(ConfigDict(extra="forbid"))
class _EventLine(TypedDict):
    event: Event
    digest: NotRequired[Digest]


@with_config(ConfigDict(extra="forbid"))
class _ErasedLine(TypedDict):
    erased: Erased
    digest: Digest


_ADAPTERS: dict[str, TypeAdapter[Any]] = {
    "event": TypeAdapter(list[_EventLine]),
    "comment": TypeAdapter(list[_CommentLine]),
    "erased": TypeAdapter(list[_ErasedLine]),
}
_ANY_LINE = TypeAdapter(list[_CommentLine | _EventLine | _ErasedLine])


def line_of(kind: str, data: bytes, digest: bytes | None) -> bytes:
    """One line of the log, from the record's canonical JSON and its digest (None: a line of an old log)."""
    tail = b"}\n" if digest is None else b',"digest":"' + digest.hex().encode() + b'"}\n'
    return b'{"' + kind.encode() + b'":' + data + tail


def record_line(record: Record) -> bytes:
    return line_of(record.kind, record_bytes(record.kind, record.data), record.digest)


class Parsed:
    """The committed lines of a log, parsed: each record (with its digest, or None in an old log) and the
    canonical JSON of each (the bytes the API answers)."""

    __slots__ = ("data", "digests", "kinds", "records")

    def __init__(self) -> None:
        self.kinds: list[RecordKind] = []
        self.records: list[dict[str, Any]] = []
        self.data: list[bytes] = []
        self.digests: list[bytes | None] = []

    def as_records(self) -> list[Record]:
        return [
            Record(kind, record, digest or b"")
            for kind, record, digest in zip(self.kinds, self.records, self.digests, strict=True)
        ]


def parse_lines(chunk: bytes, path: Path, first_line: int, previous: bytes | None) -> Parsed:
    """The records of these committed lines (which start at line number first_line + 1 of the log).

    previous: the digest the first line's chain goes on from (GENESIS at the start of a log), or None for a log
    written before digests existed (its lines carry none). A line the service would not write back as it is,
    or whose digest does not follow from the line before it, is a StoreUnreadable naming the line: a record
    was changed, removed, repeated or swapped.
    """
    lines = chunk.splitlines(keepends=True)
    records = _validated(lines)
    parsed = Parsed()
    for index, (line, record) in enumerate(zip(lines, records, strict=True)):
        number = first_line + index + 1
        if record is None:
            raise StoreUnreadable(path, message("store_line", number=number, problem=_problem(line)))
        kind: RecordKind = "event" if "event" in record else "comment" if "comment" in record else "erased"
        data = record[kind]
        text = record.get("digest")
        digest = None if text is None else bytes.fromhex(text)
        # The bytes a chained line's digest covers are the record as written: when the chain holds over them,
        # they are the canonical bytes the service wrote (no need to write the record again to compare).
        canonical = line[len(kind) + 4 : -_TAIL]
        linked = (
            previous is not None
            and kind != "erased"
            and digest is not None
            and line.startswith(b'{"' + kind.encode() + b'":')
            and line.endswith(b'"}\n')
            and chained(previous, canonical) == digest
        )
        if not linked:
            canonical = record_bytes(kind, data)
            if line != line_of(kind, canonical, digest):
                problem = _problem(line) or message("store_line_not_ours")
                raise StoreUnreadable(path, message("store_line", number=number, problem=problem))
            if previous is not None:
                if digest is None:
                    raise StoreUnreadable(
                        path, message("store_line", number=number, problem=message("store_digest_missing"))
                    )
                if kind != "erased" and chained(previous, canonical) != digest:
                    broken = message("store_digest_broken")
                    raise StoreUnreadable(path, message("store_line", number=number, problem=broken))
            elif digest is not None:
                raise StoreUnreadable(
                    path, message("store_line", number=number, problem=message("store_digest_unnamed"))
                )
        if previous is not None:
            previous = digest
        parsed.kinds.append(kind)
        parsed.records.append(data)
        parsed.data.append(canonical)
        parsed.digests.append(digest)
    return parsed


def _validated(lines: list[bytes]) -> list[dict[str, Any] | None]:
    """The record of each line, None for a line that does not match the schema. The service's own lines are
    validated by kind, all at once (one call for thousands of lines); any other line one by one."""
    records: list[Any] = [None] * len(lines)
    groups: dict[str, list[int]] = {"event": [], "comment": [], "erased": [], "other": []}
    for index, line in enumerate(lines):
        kind = next((k for k in ("event", "comment", "erased") if line.startswith(b'{"' + k.encode() + b'":')), "other")
        groups[kind].append(index)
    for kind, adapter in _ADAPTERS.items():
        indexes = groups[kind]
        if not indexes:
            continue
        parsed: list[Any]
        try:
            parsed = adapter.validate_json(b"[" + b",".join([lines[i] for i in indexes]) + b"]")
        except ValidationError:
            parsed = []
        if len(parsed) == len(indexes):
            for i, record in zip(indexes, parsed, strict=True):
                records[i] = record
        else:
            groups["other"] += indexes
    for i in groups["other"]:
        one: list[Any]
        try:
            one = _ANY_LINE.validate_json(b"[" + lines[i] + b"]")
        except ValidationError:
            one = []
        records[i] = one[0] if len(one) == 1 else None
    return records


def _problem(line: bytes) -> Message | Spoken | None:
    """What is wrong with one bad line of the log, in one line (None when it matches the schema)."""
    repeated = first_repeated_key(line)
    if repeated:
        return message("store_key_twice", key=repeated)
    try:
        data = json.loads(line)
    except ValueError as exc:
        return message("store_not_json", problem=exc)
    kind = next((k for k in ("event", "comment", "erased") if isinstance(data, dict) and k in data), None)
    if kind is None:
        return message("store_line_kind")
    try:
        _ANY_LINE.validate_python([data])
    except ValidationError as exc:
        return described(exc.errors(include_url=False)[0])
    return None


def digest_of_line(line: bytes) -> bytes | None:
    """The digest a line of the log carries, read from its end (no parse); None when it carries none."""
    marker = line.rfind(b',"digest":"')
    if marker < 0 or not line.endswith(b'"}\n'):
        return None
    try:
        return bytes.fromhex(line[marker + 11 : -3].decode("ascii"))
    except ValueError:
        return None


def ids_in(lines: bytes) -> tuple[int, int, int]:
    """The highest comment id, event id and created ticket id named by these lines (lines past the committed
    end: a write that crashed, or a history that went on after a backup now put back). Lines that are not
    JSON are skipped: they name no id."""
    comment_id = event_id = ticket_id = 0
    for line in lines.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue
        for kind in ("comment", "erased", "event"):
            data = record.get(kind)
            if isinstance(data, dict) and isinstance(data.get("id"), int):
                if kind == "event":
                    event_id = max(event_id, data["id"])
                    if data.get("type") == "created" and isinstance(data.get("ticket_id"), int):
                        ticket_id = max(ticket_id, data["ticket_id"])
                else:
                    comment_id = max(comment_id, data["id"])
    return comment_id, event_id, ticket_id
