"""The history of a tickets file: its comments and events, in a log beside it, one JSON object per line.

tickets.json stays small and stays the one commit point. Its head names the log and how far the log
is committed:

    "next_comment_id": 8, "next_event_id": 42, "history_file": "tickets.history.1.jsonl",

A write appends the lines of its comments and events to the log and fsyncs it, then replaces
tickets.json (which now counts them) as before. A crash between the two leaves lines past the
committed end: readers ignore them (they stop at the event numbered next_event_id - 1, the last
line of every commit) and the next writer cuts them off. So a change and its event are always on
disk together or not at all, and rewriting tickets.json never costs the size of its history.

Deleting a ticket deletes its comments: the log is then written again without them, under the next
name (tickets.history.2.jsonl), and the new tickets.json names it; the old log is removed once the
new tickets.json is in place. A copy into the file works the same way. The log's name carries the
data file's own name, so a tickets.json copied elsewhere by hand never shares its history.
"""

from __future__ import annotations

import bisect
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pydantic_core
from pydantic import ConfigDict, TypeAdapter, ValidationError
from typing_extensions import TypedDict

from script import Comment, Event, StoreUnreadable, _describe, tally


class _CommentLine(TypedDict):
    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]
    comment: Comment


class _EventLine(TypedDict):
    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]
    event: Event


_LINES = TypeAdapter(list[_CommentLine | _EventLine])


def history_prefix(data_file: Path) -> str:
    """tickets.json -> tickets: the logs of this file are tickets.history.N.jsonl."""
    return data_file.name.removesuffix(".json")


def history_name(data_file: Path, generation: int) -> str:
    return f"{history_prefix(data_file)}.history.{generation}.jsonl"


def generation_of(data_file: Path, name: str | None) -> int | None:
    """The generation of a log this data file names, or None when the name is not one of its own logs
    (a tickets.json copied by hand under another name: its history stays with the original)."""
    if name is None:
        return None
    match = re.fullmatch(re.escape(history_prefix(data_file)) + r"\.history\.([1-9][0-9]{0,8})\.jsonl", name)
    return int(match.group(1)) if match else None


def comment_line(comment: Comment) -> bytes:
    return b'{"comment":' + pydantic_core.to_json(comment) + b"}\n"


def event_line(event: Event) -> bytes:
    return b'{"event":' + pydantic_core.to_json(event) + b"}\n"


@dataclass
class Log:
    """One committed version of the history, as a snapshot of the store sees it.

    The containers are never changed once a Log is made: a batch copies what it changes (LogBatch).
    """

    generation: int | None = None  # None: no log yet
    next_comment_id: int = 1
    next_event_id: int = 1
    events: list[Event] = field(default_factory=list)  # every event, in id order
    events_of: dict[int, tuple[Event, ...]] = field(default_factory=dict)  # by ticket id
    comments_of: dict[int, tuple[Comment, ...]] = field(default_factory=dict)  # by ticket id, of live tickets
    days: dict[str, tuple[int, int]] = field(default_factory=dict)  # (opened, closed) per UTC date
    end: int = 0  # committed bytes of the log file
    identity: tuple[int, int] | None = None  # (st_dev, st_ino) of the log read, for reading only what was added

    def head(self, data_file: Path) -> dict[str, Any]:
        """The keys of tickets.json that commit this history; none while there is none (the file then
        stays exactly as a file written before comments and events existed)."""
        if self.generation is None and self.next_comment_id == self.next_event_id == 1:
            return {}
        return {"next_comment_id": self.next_comment_id, "next_event_id": self.next_event_id,
                "history_file": None if self.generation is None else history_name(data_file, self.generation)}

    def feed(self, after: int, limit: int) -> list[Event]:
        start = bisect.bisect_right(self.events, after, key=lambda e: e["id"])
        return self.events[start : start + limit]


# --------------------------------------------------------------------------- reading


def read_log(data_file: Path, head: dict[str, Any], previous: Log | None) -> Log | None:
    """The committed history that tickets.json's head names; None when its log is missing (the caller
    checks whether tickets.json changed meanwhile: a writer may have just replaced the log).

    Only the lines added since `previous` are read when it came from the same log.
    """
    counters = {"next_comment_id": head.get("next_comment_id", 1), "next_event_id": head.get("next_event_id", 1)}
    generation = generation_of(data_file, head.get("history_file"))
    if generation is None:
        return Log(**counters)
    path = data_file.parent / history_name(data_file, generation)
    try:
        with open(path, "rb") as file:
            st = os.fstat(file.fileno())
            identity = (st.st_dev, st.st_ino)
            base = previous if (previous is not None and previous.generation == generation
                                and previous.identity == identity and previous.end <= st.st_size) else None  # fmt: skip
            start = base.end if base is not None else 0
            file.seek(start)
            raw = file.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreUnreadable(path, exc.strerror or str(exc)) from None
    if base is None:
        base = Log(generation=generation, identity=identity)
    records, used = _committed(raw, counters["next_event_id"], path, start)
    return _extended(replace(base, **counters, end=start + used, identity=identity), records)


def _committed(raw: bytes, next_event_id: int, path: Path, start: int) -> tuple[list[dict[str, Any]], int]:
    """The records of the committed lines of raw, and how many bytes they take.

    Committed lines end with the last event numbered below next_event_id (every commit ends with an
    event); what follows is a write that crashed or is still under way, and is ignored, even
    half-written. A bad line before that point is damage, and the history is refused.
    """
    lines = raw[: raw.rfind(b"\n") + 1].splitlines(keepends=True)
    records = _parse(lines)
    last = None
    for index, record in enumerate(records):
        event = record.get("event") if record is not None else None
        if event is not None and event["id"] < next_event_id:
            last = index
    if last is None:
        return [], 0
    bad = next((index for index, record in enumerate(records[: last + 1]) if record is None), None)
    if bad is not None:
        raise StoreUnreadable(path, f"line {_lines_before(path, start) + bad + 1}: {_problem(lines[bad])}")
    return records[: last + 1], sum(len(line) for line in lines[: last + 1])  # type: ignore[return-value]


def _lines_before(path: Path, offset: int) -> int:
    with open(path, "rb") as file:
        return file.read(offset).count(b"\n")


def _parse(lines: list[bytes]) -> list[dict[str, Any] | None]:
    """The record of each line, None for a bad one.

    All at once when they are good (one call for thousands of lines), else line by line. A good line
    matches the schema and says exactly what its record says when written again; else it must at
    least hold no key twice (the second would be lost when the log is written again).
    """
    try:
        records: list[dict[str, Any] | None] = _LINES.validate_json(b"[" + b",".join(lines) + b"]")  # type: ignore[assignment]
    except ValidationError:
        records = []
    if len(records) != len(lines):
        records = []
        for line in lines:
            try:
                parsed = _LINES.validate_json(b"[" + line + b"]")
            except ValidationError:
                parsed = []
            records.append(parsed[0] if len(parsed) == 1 else None)  # type: ignore[arg-type]
    for index, (line, record) in enumerate(zip(lines, records, strict=True)):
        if record is not None:
            written = comment_line(record["comment"]) if "comment" in record else event_line(record["event"])
            if written != line and _repeated(line):
                records[index] = None
    return records


def _problem(line: bytes) -> str:
    """What is wrong with one bad line of the log, in one line."""
    repeated = _repeated(line)
    if repeated:
        return f"the key {repeated!r} appears twice in one object; keep one of them"
    try:
        data = json.loads(line)
    except ValueError as exc:
        return f"not JSON ({exc})"
    kind = next((k for k in ("event", "comment") if isinstance(data, dict) and k in data), None)
    if kind is None:
        return 'expected {"comment": {...}} or {"event": {...}} on each line'
    try:
        TypeAdapter(_EventLine if kind == "event" else _CommentLine).validate_python(data)
    except ValidationError as exc:
        return _describe(exc.errors(include_url=False)[0])
    return "not one comment or event of this service"


def _repeated(line: bytes) -> str | None:
    found: list[str] = []

    def check(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in pairs]
        if len(set(keys)) != len(keys) and not found:
            found.append(next(key for key in keys if keys.count(key) > 1))
        return dict(pairs)

    try:
        json.loads(line, object_pairs_hook=check)
    except ValueError:
        return None
    return found[0] if found else None


def _extended(log: Log, records: Iterable[dict[str, Any]]) -> Log:
    """log with these records added (its containers are copied first: the previous Log stays as it was)."""
    batch = LogBatch(log)
    for record in records:
        if "comment" in record:
            batch.keep_comment(record["comment"])
        else:
            batch.keep_event(record["event"])
    return batch.result(end=log.end, identity=log.identity)


# --------------------------------------------------------------------------- changing


class LogBatch:
    """The history as a batch of changes makes it: copied on first change, then changed in place."""

    def __init__(self, log: Log) -> None:
        self.log = log
        self.next_comment_id, self.next_event_id = log.next_comment_id, log.next_event_id
        self.lines: list[bytes] = []  # what to append to the log
        self.rewrite = False  # comments were deleted: the log is written again, under its next name
        self._copied = False

    def _copy(self) -> None:
        if not self._copied:
            log = self.log
            self.events = list(log.events)
            self.events_of = dict(log.events_of)
            self.comments_of = dict(log.comments_of)
            self.days = dict(log.days)
            self._copied = True

    @property
    def changed(self) -> bool:
        return bool(self.lines) or self.rewrite

    def comments(self, ticket_id: int) -> tuple[Comment, ...]:
        return (self.comments_of if self._copied else self.log.comments_of).get(ticket_id, ())

    def add_comment(self, comment: Comment) -> None:
        self.keep_comment(comment)
        self.next_comment_id = max(self.next_comment_id, comment["id"] + 1)
        self.lines.append(comment_line(comment))

    def add_event(self, event: Event) -> None:
        self.keep_event(event)
        self.next_event_id = max(self.next_event_id, event["id"] + 1)
        self.lines.append(event_line(event))

    def keep_comment(self, comment: Comment) -> None:
        self._copy()
        self.comments_of[comment["ticket_id"]] = (*self.comments_of.get(comment["ticket_id"], ()), comment)

    def keep_event(self, event: Event) -> None:
        self._copy()
        self.events.append(event)
        self.events_of[event["ticket_id"]] = (*self.events_of.get(event["ticket_id"], ()), event)
        counts = tally([event])
        for day, (opened, closed) in counts.items():
            before = self.days.get(day, (0, 0))
            self.days[day] = (before[0] + opened, before[1] + closed)
        if event["type"] == "deleted":
            self.forget_comments(event["ticket_id"])

    def forget_comments(self, ticket_id: int) -> None:
        """A deleted ticket's comments go; if any were in the log, the log is written again without them."""
        self._copy()
        if self.comments_of.pop(ticket_id, None) and self.log.comments_of.get(ticket_id):
            self.rewrite = True

    def replace_all(self, comments: list[Comment], events: list[Event], next_comment_id: int, next_event_id: int
                    ) -> None:  # fmt: skip
        """Everything in place of what the log held (a copy); the next ids never go back."""
        had_log = self.log.generation is not None
        self._copied, self.log = False, replace(self.log, events=[], events_of={}, comments_of={}, days={})
        for comment in comments:
            self.keep_comment(comment)
        for event in events:
            self.keep_event(event)
        self.next_comment_id = max(next_comment_id, self.next_comment_id, *(c["id"] + 1 for c in comments))
        self.next_event_id = max(next_event_id, self.next_event_id, *(e["id"] + 1 for e in events))
        self.lines, self.rewrite = [], bool(had_log or comments or events)  # no history: no log file

    def result(self, *, end: int, identity: tuple[int, int] | None, generation: int | None = None) -> Log:
        log = self.log
        if not self._copied:
            return replace(log, next_comment_id=self.next_comment_id, next_event_id=self.next_event_id, end=end,
                           identity=identity, generation=generation or log.generation)  # fmt: skip
        return Log(generation=generation or log.generation, next_comment_id=self.next_comment_id,
                   next_event_id=self.next_event_id, events=self.events, events_of=self.events_of,
                   comments_of=self.comments_of, days=self.days, end=end, identity=identity)  # fmt: skip

    def all_lines(self) -> list[bytes]:
        """The whole log as it is now, for a rewrite: comments of live tickets and every event, in id order."""
        self._copy()
        comments = sorted((c for cs in self.comments_of.values() for c in cs), key=lambda c: c["id"])
        return [comment_line(c) for c in comments] + [event_line(e) for e in self.events]
