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
import threading
from pathlib import Path
from typing import Any

import pydantic_core
from pydantic import ConfigDict, TypeAdapter, ValidationError, with_config
from typing_extensions import TypedDict

from tickets.engine.errors import StoreUnreadable, _describe, first_repeated_key
from tickets.engine.history import Comment, Event, tally


@with_config(ConfigDict(extra="forbid"))
class _CommentLine(TypedDict):
    comment: Comment


@with_config(ConfigDict(extra="forbid"))
class _EventLine(TypedDict):
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


def record_line(kind: str, data: bytes) -> bytes:
    """One line of the log: {"comment": ...} or {"event": ...}, from the record's compact JSON."""
    return b'{"' + kind.encode() + b'":' + data + b"}\n"


def comment_line(comment: Comment) -> bytes:
    return record_line("comment", pydantic_core.to_json(comment))


def event_line(event: Event) -> bytes:
    return record_line("event", pydantic_core.to_json(event))


class Content:
    """What a history holds, parsed: each event and comment as its compact JSON (the bytes the API answers,
    which the garbage collector never has to walk), and the indexes the routes need.

    `events` and `event_ids` are shared, append-only, by the Logs that follow one another: a Log sees
    their first `count` items. A batch or a reader that finds them longer than its own view (another
    version went on from the same one) copies them before adding to them.
    """

    __slots__ = ("comments_of", "count", "days", "event_ids", "events", "events_of")

    def __init__(
        self,
        events: list[bytes] | None = None,
        event_ids: list[int] | None = None,
        count: int = 0,
        events_of: dict[int, tuple[int, ...]] | None = None,
        comments_of: dict[int, tuple[bytes, ...]] | None = None,
        days: dict[str, tuple[int, int]] | None = None,
    ) -> None:
        self.events = events if events is not None else []
        self.event_ids = event_ids if event_ids is not None else []
        self.count = count
        self.events_of = events_of if events_of is not None else {}  # ticket id -> positions in events
        self.comments_of = comments_of if comments_of is not None else {}  # ticket id -> its comments (live tickets)
        self.days = days if days is not None else {}  # UTC date -> (opened, closed)


class Growing:
    """A Content being added to: shared lists appended in place when this view is their end, else copied;
    the dicts are copied once, on the first change, so the Content it started from never changes."""

    def __init__(self, base: Content) -> None:
        if len(base.events) == base.count:
            self.events, self.event_ids = base.events, base.event_ids
        else:
            self.events, self.event_ids = base.events[: base.count], base.event_ids[: base.count]
        self.base, self._dicts_copied = base, False
        self.events_of, self.comments_of, self.days = base.events_of, base.comments_of, base.days

    def _own_dicts(self) -> None:
        if not self._dicts_copied:
            self.events_of, self.comments_of, self.days = dict(self.events_of), dict(self.comments_of), dict(self.days)
            self._dicts_copied = True

    def add_event(self, event: Event, data: bytes) -> None:
        self._own_dicts()
        self.events.append(data)
        self.event_ids.append(event["id"])
        self.events_of[event["ticket_id"]] = (*self.events_of.get(event["ticket_id"], ()), len(self.events) - 1)
        for day, (opened, closed) in tally([event]).items():
            before = self.days.get(day, (0, 0))
            self.days[day] = (before[0] + opened, before[1] + closed)
        if event["type"] == "deleted":
            self.comments_of.pop(event["ticket_id"], None)  # a deleted ticket's comments go with it

    def add_comment(self, comment: Comment, data: bytes) -> None:
        self._own_dicts()
        self.comments_of[comment["ticket_id"]] = (*self.comments_of.get(comment["ticket_id"], ()), data)

    def content(self) -> Content:
        return Content(self.events, self.event_ids, len(self.events), self.events_of, self.comments_of, self.days)


class LogMoved(StoreUnreadable):
    """The log a version names was replaced (written again under its next name by another process) before this
    version's history was read: the version is outdated, and a reader reads the store's current one instead."""


class Log:
    """One committed version of the history, as a snapshot of the store sees it.

    The head (generation, counters, committed end) is read at once, from the log's last lines only. What the
    log holds is parsed on first use (`content()`), from the file itself up to the committed end: a command
    that only reads or adds tickets never parses a history of a hundred thousand lines, and a version never
    needs the one before it. A server parses the history once and then each version's new lines as it reads
    or writes them.
    """

    def __init__(
        self,
        generation: int | None = None,
        next_comment_id: int = 1,
        next_event_id: int = 1,
        end: int = 0,
        identity: tuple[int, int] | None = None,
        content: Content | None = None,
        path: Path | None = None,
    ) -> None:
        self.generation = generation  # None: no log yet
        self.next_comment_id, self.next_event_id = next_comment_id, next_event_id
        self.end = end  # committed bytes of the log file
        self.identity = identity  # (st_dev, st_ino) of the log read, for reading only what was added
        self.path = path  # the log file, where an unparsed content is read from
        self._content = Content() if content is None and path is None else content  # no file: no history yet
        self._lock = threading.Lock()

    @property
    def parsed(self) -> bool:
        return self._content is not None

    def content(self) -> Content:
        content = self._content
        if content is None:
            with self._lock:
                if self._content is None:
                    self._content = _read_content(self.path, self.identity, self.end)  # type: ignore[arg-type]
                content = self._content
        return content

    def head(self, data_file: Path) -> dict[str, Any]:
        """The keys of tickets.json that commit this history; none while there is none (the file then
        stays exactly as a file written before comments and events existed)."""
        if self.generation is None and self.next_comment_id == self.next_event_id == 1:
            return {}
        return {
            "next_comment_id": self.next_comment_id,
            "next_event_id": self.next_event_id,
            "history_file": None if self.generation is None else history_name(data_file, self.generation),
        }

    def feed(self, after: int, limit: int) -> list[bytes]:
        content = self.content()
        start = bisect.bisect_right(content.event_ids, after, 0, content.count)
        return content.events[start : min(start + limit, content.count)]

    def events_of(self, ticket_id: int) -> list[bytes] | None:
        """The ticket's events, oldest first; None when it never had any."""
        content = self.content()
        positions = content.events_of.get(ticket_id)
        return None if positions is None else [content.events[i] for i in positions]

    def comments_of(self, ticket_id: int) -> tuple[bytes, ...]:
        return self.content().comments_of.get(ticket_id, ())

    def everything(self) -> tuple[list[Comment], list[Event]]:
        """Every comment (in id order) and event, parsed, for a copy."""
        content = self.content()
        comments = sorted(
            (pydantic_core.from_json(c) for cs in content.comments_of.values() for c in cs), key=lambda c: c["id"]
        )
        return comments, [pydantic_core.from_json(e) for e in content.events[: content.count]]


# --------------------------------------------------------------------------- reading


def read_log(data_file: Path, head: dict[str, Any], previous: Log | None) -> Log | None:
    """The committed history that tickets.json's head names; None when its log is missing (the caller
    checks whether tickets.json changed meanwhile: a writer may have just replaced the log).

    When the previous version was parsed and comes from the same log, only the lines added since are read
    and parsed (a server). Otherwise only the log's last lines are read, to find its committed end; the
    content is read when first asked for.
    """
    counters = {"next_comment_id": head.get("next_comment_id", 1), "next_event_id": head.get("next_event_id", 1)}
    generation = generation_of(data_file, head.get("history_file"))
    if generation is None:
        return Log(None, counters["next_comment_id"], counters["next_event_id"])
    path = data_file.parent / history_name(data_file, generation)
    try:
        with open(path, "rb") as file:
            st = os.fstat(file.fileno())
            identity = (st.st_dev, st.st_ino)
            if (
                previous is not None
                and previous.parsed
                and previous.generation == generation
                and previous.identity == identity
                and previous.end <= st.st_size
            ):
                file.seek(previous.end)
                added = file.read()
                used = _committed_length(added, counters["next_event_id"])
                content = _with_records(previous.content(), added[:used], path, previous.end)
                end = previous.end + used
            else:
                content, end = None, _committed_end(file, st.st_size, counters["next_event_id"])
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreUnreadable(path, exc.strerror or str(exc)) from None
    return Log(generation, **counters, end=end, identity=identity, content=content, path=path)


TAIL = 1 << 16  # bytes read at a time from the end of the log, to find its committed end


def _committed_end(file: Any, size: int, next_event_id: int) -> int:
    """The committed end of the log, read from its end backwards a block at a time: usually its last line."""
    block = TAIL
    while True:
        start = max(0, size - block)
        file.seek(start)
        tail = file.read(size - start)
        if start > 0:  # the first line of the block may be cut: it starts after the first newline
            cut = tail.find(b"\n") + 1
            if cut == 0:
                block *= 2
                continue
            start, tail = start + cut, tail[cut:]
        used = _committed_length(tail, next_event_id)
        if used or start == 0:
            return start + used
        block *= 2


def _read_content(path: Path, identity: tuple[int, int], end: int) -> Content:
    """The content of a log up to its committed end, read from the file; LogMoved when the file is no longer
    the one this version read (written again under another name, and this one removed)."""
    try:
        with open(path, "rb") as file:
            st = os.fstat(file.fileno())
            if (st.st_dev, st.st_ino) != identity or st.st_size < end:
                raise LogMoved(path, "the history was written again meanwhile; read it again")
            chunk = file.read(end)
    except FileNotFoundError:
        raise LogMoved(path, "the history was written again meanwhile; read it again") from None
    except OSError as exc:
        raise StoreUnreadable(path, exc.strerror or str(exc)) from None
    return _with_records(Content(), chunk, path, 0)


def _with_records(base: Content, chunk: bytes, path: Path, start: int) -> Content:
    """base, with the records of these committed lines of the log (which start at offset start)."""
    if not chunk:
        return base
    growing = Growing(base)
    for record, data in _records(chunk, path, start):
        if "comment" in record:
            growing.add_comment(record["comment"], data)
        else:
            growing.add_event(record["event"], data)
    return growing.content()


def _committed_length(raw: bytes, next_event_id: int) -> int:
    """How many bytes of raw the committed lines take: up to the last event numbered below next_event_id,
    the last line of every commit. Found from the end: what follows it is a write that crashed or is
    under way (ignored, even half-written), and is normally nothing at all."""
    end = raw.rfind(b"\n") + 1
    while end > 0:
        start = raw.rfind(b"\n", 0, end - 1) + 1
        line = raw[start:end]
        if line.startswith(b'{"event":{"id":'):  # every line the service writes starts so
            digits = line[15 : line.find(b",", 15)]
            if digits.isdigit() and int(digits) < next_event_id:
                return end
        elif not line.startswith(b'{"comment":'):  # written by hand: read it as JSON
            event = _loose(line).get("event")
            if isinstance(event, dict) and isinstance(event.get("id"), int) and event["id"] < next_event_id:
                return end
        end = start
    return 0


def _loose(line: bytes) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _records(chunk: bytes, path: Path, start: int) -> list[tuple[dict[str, Any], bytes]]:
    """Each committed line's record and its compact JSON; StoreUnreadable naming the first bad line."""
    lines = chunk.splitlines(keepends=True)
    records = _parse(lines)
    bad = next((index for index, record in enumerate(records) if record is None), None)
    if bad is not None:
        raise StoreUnreadable(path, f"line {_lines_before(path, start) + bad + 1}: {_problem(lines[bad])}")
    return records  # type: ignore[return-value]


def _lines_before(path: Path, offset: int) -> int:
    try:
        with open(path, "rb") as file:
            return file.read(offset).count(b"\n")
    except OSError:
        return 0


_EVENT_LINES = TypeAdapter(list[_EventLine])
_COMMENT_LINES = TypeAdapter(list[_CommentLine])


def _parse(lines: list[bytes]) -> list[tuple[dict[str, Any], bytes] | None]:
    """The record of each line and its compact JSON (as written again), None for a bad line.

    The service's own lines are validated by kind, all at once (one call for thousands of lines); any
    other line, or any line of a group that fails, one by one. A good line matches the schema and
    says exactly what its record says when written again; else it must at least hold no key twice
    (the second would be lost when the log is written again).
    """
    records: list[Any] = [None] * len(lines)
    groups: dict[str, list[int]] = {"event": [], "comment": [], "other": []}
    for index, line in enumerate(lines):
        kind = "event" if line.startswith(b'{"event":') else "comment" if line.startswith(b'{"comment":') else "other"
        groups[kind].append(index)
    for kind, adapter in (("event", _EVENT_LINES), ("comment", _COMMENT_LINES)):
        indexes = groups[kind]
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
            one = _LINES.validate_json(b"[" + lines[i] + b"]")
        except ValidationError:
            one = []
        records[i] = one[0] if len(one) == 1 else None
    result: list[tuple[dict[str, Any], bytes] | None] = []
    for line, record in zip(lines, records, strict=True):
        if record is None:
            result.append(None)
            continue
        kind = "comment" if "comment" in record else "event"
        written = comment_line(record["comment"]) if kind == "comment" else event_line(record["event"])
        bad = written != line and first_repeated_key(line)
        result.append(None if bad else (record, written[len(kind) + 4 : -2]))  # b'{"event":' ... b'}\n'
    return result


def _problem(line: bytes) -> str:
    """What is wrong with one bad line of the log, in one line."""
    repeated = first_repeated_key(line)
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


# --------------------------------------------------------------------------- changing


class LogBatch:
    """What a batch of changes adds to the history: the lines to append, and, when the history was parsed
    already (a server), the content it makes; a command that only adds never parses the history."""

    def __init__(self, log: Log) -> None:
        self.log = log
        self.next_comment_id, self.next_event_id = log.next_comment_id, log.next_event_id
        self.lines: list[bytes] = []  # what to append to the log
        self.rewrite = False  # comments were deleted, or a copy: the log is written again, under its next name
        self._growing: Growing | None = None
        self._base: Content | None = log._content  # parsed already, or None

    def _content(self) -> Growing:
        if self._growing is None:
            self._growing = Growing(self._base if self._base is not None else self.log.content())
        return self._growing

    @property
    def changed(self) -> bool:
        return bool(self.lines) or self.rewrite

    def add_comment(self, comment: Comment) -> None:
        data = pydantic_core.to_json(comment)
        self.next_comment_id = max(self.next_comment_id, comment["id"] + 1)
        self.lines.append(record_line("comment", data))
        if self._base is not None or self._growing is not None:
            self._content().add_comment(comment, data)

    def add_event(self, event: Event) -> None:
        if event["type"] == "deleted" and self.comments_of(event["ticket_id"]):
            self.rewrite = True  # its comments leave the disk too: the log is written again without them
        data = pydantic_core.to_json(event)
        self.next_event_id = max(self.next_event_id, event["id"] + 1)
        self.lines.append(record_line("event", data))
        if self._base is not None or self._growing is not None:
            self._content().add_event(event, data)

    def comments_of(self, ticket_id: int) -> tuple[bytes, ...]:
        """The ticket's comments, including this batch's (this needs the history parsed)."""
        if self._growing is None and self._base is None:
            _replay(self._content(), self.lines)  # this batch's lines so far, on the freshly parsed content
        return self._content().comments_of.get(ticket_id, ())

    def replace_all(
        self, comments: list[Comment], events: list[Event], next_comment_id: int, next_event_id: int
    ) -> None:
        """Everything in place of what the log held (a copy); the next ids never go back."""
        had_log = self.log.generation is not None
        self._base, self._growing, self.lines = Content(), None, []
        for comment in comments:
            self._content().add_comment(comment, pydantic_core.to_json(comment))
        for event in events:
            self._content().add_event(event, pydantic_core.to_json(event))
        self.next_comment_id = max(next_comment_id, self.next_comment_id, *(c["id"] + 1 for c in comments))
        self.next_event_id = max(next_event_id, self.next_event_id, *(e["id"] + 1 for e in events))
        self.rewrite = bool(had_log or comments or events)  # no history: no log file

    def result(
        self, *, end: int, identity: tuple[int, int] | None, path: Path | None, generation: int | None = None
    ) -> Log:
        """The history once this batch is on disk: parsed when it was parsed before (a server), else read from
        the log file when first asked for, like any version read from disk."""
        generation = generation or self.log.generation
        content = self._growing.content() if self._growing is not None else self._base
        return Log(generation, self.next_comment_id, self.next_event_id, end, identity, content, path)

    def all_lines(self) -> list[bytes]:
        """The whole log as it is now, for a rewrite: comments of live tickets and every event, in id order."""
        content = self._content()
        comments = sorted((c for cs in content.comments_of.values() for c in cs), key=_comment_id)
        return [record_line("comment", c) for c in comments] + [record_line("event", e) for e in content.events]


def _comment_id(data: bytes) -> int:
    return int(data[6 : data.index(b",")])  # b'{"id":7,...': compact JSON as pydantic writes it


def _replay(growing: Growing, lines: list[bytes]) -> None:
    """Add lines this service wrote (and so already checked) to a content being built."""
    for line in lines:
        record = json.loads(line)
        if "comment" in record:
            growing.add_comment(record["comment"], pydantic_core.to_json(record["comment"]))
        else:
            growing.add_event(record["event"], pydantic_core.to_json(record["event"]))
