"""The history of a tickets file: its comments and events, in a log beside it, one record per line, each
carrying a digest chained to the line before it (log_lines.py, tickets.engine.chain).

tickets.json stays small and stays the one commit point. Its head names the log, how long it is committed,
and the digest of its last committed record:

    "next_comment_id": 8, "next_event_id": 42, "history_file": "tickets.json.history.1.jsonl",
    "history_length": 10240, "history_digest": "51ab…",

A write appends its lines to the log and fsyncs it, then replaces tickets.json (which now counts them) as
before. A crash between the two leaves lines past the committed end: readers ignore them. They are never
destroyed: the next writer moves them to tickets.json.set-aside.jsonl, and hands out no id they name. The same
happens to the lines a tickets.json put back from a backup no longer counts: no id given before the restore is
given again, and the records written since the backup stay on disk.

Every load checks what is cheap: the log named is a plain name of this file's own, a regular file, at least as
long as committed, and its last committed line carries the head's digest; anything else is refused (503, CLI
exit 1), and nothing is written, cut or deleted while it is. A process that reads the log whole (a server at
start-up, `verify`) checks every link of the chain.

Deleting a ticket deletes its comments: the log is then written again with an "erased" line (the comment's
digest, nothing else) in place of each, under the next name (tickets.json.history.2.jsonl), and the new
tickets.json names it; the old log is removed once the new tickets.json is in place. A copy into the file works
the same way. A log's name carries its data file's whole name: two data files of one folder never share one.
"""

from __future__ import annotations

import bisect
import os
import re
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import pydantic_core

from tickets.engine.chain import GENESIS, Record, RecordKind, chain_of, chained, record_bytes
from tickets.engine.errors import StoreUnreadable
from tickets.engine.history import Comment, Event, commented_id, edited, tally
from tickets.engine.messages import message
from tickets.stores.json_file.log_lines import (
    Parsed,
    digest_of_line,
    ids_in,
    line_of,
    parse_lines,
    record_line,
)

BLOCK = 8 << 20  # bytes of the log read at a time by verify
_GENERATION = r"\.history\.([1-9][0-9]{0,8})\.jsonl"


def history_name(data_file: Path, generation: int) -> str:
    """tickets.json -> tickets.json.history.N.jsonl: the whole name, so that X and X.json never share a log."""
    return f"{data_file.name}.history.{generation}.jsonl"


def set_aside_name(data_file: Path) -> str:
    """Where lines past the committed end go (a crashed write, or records a restored backup does not count)."""
    return f"{data_file.name}.set-aside.jsonl"


def generation_of(data_file: Path, name: str | None) -> int | None:
    """The generation of a log of this data file, or None when the name is not one of its own logs."""
    match = re.fullmatch(re.escape(data_file.name) + _GENERATION, name or "")
    return int(match.group(1)) if match else None


def legacy_generation_of(data_file: Path, name: str | None) -> int | None:
    """The same, for the names of logs written before digests (tickets.history.N.jsonl, the .json cut off)."""
    match = re.fullmatch(re.escape(data_file.name.removesuffix(".json")) + _GENERATION, name or "")
    return int(match.group(1)) if match else None


class Content:
    """What a history holds, parsed: each event and comment as its compact JSON (the bytes the API answers,
    which the garbage collector never has to walk), and the indexes the routes need.

    `events` and `event_ids` are shared, append-only, by the Logs that follow one another: a Log sees
    their first `count` items. A batch or a reader that finds them longer than its own view (another
    version went on from the same one) copies them before adding to them.
    """

    __slots__ = ("comments_of", "count", "days", "event_ids", "events", "events_of", "lines")

    def __init__(
        self,
        events: list[bytes] | None = None,
        event_ids: list[int] | None = None,
        count: int = 0,
        events_of: dict[int, tuple[int, ...]] | None = None,
        comments_of: dict[int, tuple[bytes, ...]] | None = None,
        days: dict[str, tuple[int, int]] | None = None,
        lines: int = 0,
    ) -> None:
        self.events = events if events is not None else []
        self.event_ids = event_ids if event_ids is not None else []
        self.count = count
        self.events_of = events_of if events_of is not None else {}  # ticket id -> positions in events
        self.comments_of = comments_of if comments_of is not None else {}  # ticket id -> its comments (live tickets)
        self.days = days if days is not None else {}  # UTC date -> (opened, closed)
        self.lines = lines  # records in the log (erased comments included)


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
        self.lines = base.lines

    def _own_dicts(self) -> None:
        if not self._dicts_copied:
            self.events_of, self.comments_of, self.days = dict(self.events_of), dict(self.comments_of), dict(self.days)
            self._dicts_copied = True

    def add(self, kind: str, record: Any, data: bytes) -> None:
        self.lines += 1
        if kind == "event":
            self.add_event(record, data)
        elif kind == "comment":
            self.add_comment(record, data)

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
        elif event["type"] in ("comment_edited", "comment_deleted"):
            self._corrected(event)

    def _corrected(self, event: Event) -> None:
        """A comment as its correction leaves it (its record in the log keeps it as first written), or gone."""
        comment_id, kept = commented_id(event), []
        for data in self.comments_of.get(event["ticket_id"], ()):
            comment = pydantic_core.from_json(data)
            if comment["id"] != comment_id:
                kept.append(data)
            elif event["type"] == "comment_edited":
                kept.append(pydantic_core.to_json(edited(comment, event)))
        self.comments_of[event["ticket_id"]] = tuple(kept)

    def add_comment(self, comment: Comment, data: bytes) -> None:
        self._own_dicts()
        self.comments_of[comment["ticket_id"]] = (*self.comments_of.get(comment["ticket_id"], ()), data)

    def content(self) -> Content:
        return Content(
            self.events, self.event_ids, len(self.events), self.events_of, self.comments_of, self.days, self.lines
        )


class LogMoved(StoreUnreadable):
    """The log a version names was replaced (written again under its next name by another process) before this
    version's history was read: the version is outdated, and a reader reads the store's current one instead."""


class Log:
    """One committed version of the history, as a snapshot of the store sees it.

    The head (name, counters, committed end and digest) comes from tickets.json and is checked against the
    log's last committed line at once. What the log holds is parsed on first use (`content()`), from the file
    itself up to the committed end, every link checked: a command that only reads or adds tickets never parses
    a history of a hundred thousand lines. A server parses the history once and then each version's new lines.
    """

    def __init__(
        self,
        name: str | None = None,
        next_comment_id: int = 1,
        next_event_id: int = 1,
        end: int = 0,
        digest: bytes = GENESIS,
        *,
        chained: bool = True,
        identity: tuple[int, int] | None = None,
        content: Content | None = None,
        path: Path | None = None,
        generation: int | None = None,
    ) -> None:
        self.name = name  # None: no log yet
        self.generation = generation
        self.next_comment_id, self.next_event_id = next_comment_id, next_event_id
        self.end = end  # committed bytes of the log file
        self.digest = digest  # of the last committed record
        self.chained = chained  # False: a log written before digests (upgraded at the next write)
        self.identity = identity  # (st_dev, st_ino) of the log read
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
                    parsed = self._read_parsed()
                    self._content = _with_parsed(Content(), parsed)
                content = self._content
        return content

    def records(self) -> list[Record]:
        """Every committed record in chain order, with its digest (for a copy, a backup, a rewrite); a log
        written before digests gets them now, its comments put just before the events that name them."""
        if self.path is None:
            return []
        parsed = self._read_parsed()
        if self.chained:
            return parsed.as_records()
        return chain_of(_in_chain_order(parsed))

    def iter_records(self) -> Iterator[Record]:
        """Every committed record in chain order, read and checked a block at a time (verify: a history of a
        million records is never held whole)."""
        if not self.chained or self.path is None:
            yield from self.records()
            return
        with self._committed_file() as file:
            position, lines, previous, rest = 0, 0, GENESIS, b""
            while position < self.end:
                block = rest + file.read(min(BLOCK, self.end - position))
                position = file.tell()
                cut = len(block) if position >= self.end else block.rfind(b"\n") + 1
                parsed = parse_lines(block[:cut], self.path, lines, previous)
                rest = block[cut:]
                if parsed.kinds:
                    previous = parsed.digests[-1] or previous
                    lines += len(parsed.kinds)
                yield from parsed.as_records()
        self._check_last(previous)

    def _read_parsed(self) -> Parsed:
        """The committed lines, read from the file and checked link by link."""
        with self._committed_file() as file:
            chunk = file.read(self.end)
        parsed = parse_lines(chunk, self.path, 0, GENESIS if self.chained else None)  # type: ignore[arg-type]
        if self.chained:
            self._check_last((parsed.digests[-1] if parsed.digests else None) or GENESIS)
        return parsed

    @contextmanager
    def _committed_file(self) -> Iterator[IO[bytes]]:
        """The log file this version read, open; LogMoved when it is no longer that file (written again under
        another name, and this one removed)."""
        assert self.path is not None and self.identity is not None
        try:
            file = _open_log(self.path)
        except FileNotFoundError:
            raise LogMoved(self.path, message("store_log_moved")) from None
        except OSError as exc:
            raise StoreUnreadable(self.path, exc.strerror or str(exc)) from None
        with file:
            st = os.fstat(file.fileno())
            if (st.st_dev, st.st_ino) != self.identity or st.st_size < self.end:
                raise LogMoved(self.path, message("store_log_moved"))
            yield file

    def _check_last(self, digest: bytes) -> None:
        if digest != self.digest:
            raise StoreUnreadable(self.path, message("store_last_digest"))  # type: ignore[arg-type]

    def head(self) -> dict[str, Any]:
        """The keys of tickets.json that commit this history; none while there is none (the file then
        stays exactly as a file written before comments and events existed)."""
        if self.name is None and self.next_comment_id == self.next_event_id == 1:
            return {}
        head: dict[str, Any] = {
            "next_comment_id": self.next_comment_id,
            "next_event_id": self.next_event_id,
            "history_file": self.name,
        }
        if self.name is not None:
            head["history_length"] = self.end
            head["history_digest"] = self.digest.hex()
        return head

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

    def still_on_disk(self) -> bool:
        """Whether the log is still the file this version read, as long as it was (one stat): else the
        version is read again, and checked again."""
        if self.path is None:
            return True
        try:
            st = os.stat(self.path)
        except OSError:
            return False
        return (st.st_dev, st.st_ino) == self.identity and st.st_size >= self.end

    def past_end(self) -> bytes:
        """What the log holds past its committed end: normally nothing; lines of a write that crashed, or
        records that a tickets.json put back from a backup no longer counts."""
        if self.path is None:
            return b""
        try:
            with _open_log(self.path) as file:
                st = os.fstat(file.fileno())
                if (st.st_dev, st.st_ino) != self.identity or st.st_size <= self.end:
                    return b""
                file.seek(self.end)
                return file.read()
        except OSError:
            return b""


def _in_chain_order(parsed: Parsed) -> list[tuple[RecordKind, dict[str, Any]]]:
    """The records of a log written before digests, in the chain's order: events by id, each comment just
    before the `commented` event naming it (a comment no event names comes first; one deleted with its ticket
    back then is left as erased)."""
    comments = {r["id"]: r for kind, r in zip(parsed.kinds, parsed.records, strict=True) if kind == "comment"}
    events = sorted((r for kind, r in zip(parsed.kinds, parsed.records, strict=True) if kind == "event"), key=_id)
    named = {e["changes"]["comment_id"]["to"] for e in events if e["type"] == "commented"}
    items: list[tuple[RecordKind, dict[str, Any]]] = [
        ("comment", c) for i, c in sorted(comments.items()) if i not in named
    ]
    for event in events:
        if event["type"] == "commented":
            named_id = event["changes"]["comment_id"]["to"]
            comment = comments.get(named_id)
            items.append(
                ("comment", comment) if comment else ("erased", {"id": named_id, "ticket_id": event["ticket_id"]})
            )
        items.append(("event", event))
    return items


def _id(record: dict[str, Any]) -> int:
    return int(record["id"])


# --------------------------------------------------------------------------- reading


def _open_log(path: Path) -> IO[bytes]:
    """The log, opened without blocking (a FIFO in its place must not hang the open) and refused unless it is a
    regular file (/dev/zero would be read until memory runs out)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise StoreUnreadable(path, message("store_log_not_a_file"))
    return open(fd, "rb")


def read_log(data_file: Path, head: dict[str, Any], previous: Log | None) -> Log | None:
    """The committed history that tickets.json's head names, checked against it; None when its log is missing
    (the caller checks whether tickets.json changed meanwhile: a writer may have just replaced the log).

    When the previous version was parsed and comes from the same log, which still holds it unchanged, only the
    lines added since are read and checked (a server). Otherwise only the last committed line is read; the
    content is read when first asked for.
    """
    counters = {"next_comment_id": head.get("next_comment_id", 1), "next_event_id": head.get("next_event_id", 1)}
    name = head.get("history_file")
    chained = "history_digest" in head
    if name is None:
        if "history_length" in head or chained:
            raise StoreUnreadable(data_file, message("store_history_needs_file"))
        return Log(None, **counters)
    generation = (generation_of if chained else legacy_generation_of)(data_file, name)
    if generation is None:
        raise StoreUnreadable(data_file, message("store_history_name", name=name, example=history_name(data_file, 1)))
    path = data_file.parent / name
    try:
        with _open_log(path) as file:
            st = os.fstat(file.fileno())
            identity = (st.st_dev, st.st_ino)
            if chained:
                log = _checked(data_file, path, file, st.st_size, head, previous, identity, generation)
            else:
                log = _legacy(path, file, st.st_size, counters["next_event_id"], identity, generation, name)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreUnreadable(path, exc.strerror or str(exc)) from None
    log.next_comment_id, log.next_event_id = counters["next_comment_id"], counters["next_event_id"]
    return log


def _checked(
    data_file: Path,
    path: Path,
    file: IO[bytes],
    size: int,
    head: dict[str, Any],
    previous: Log | None,
    identity: tuple[int, int],
    generation: int,
) -> Log:
    end, digest = head.get("history_length", 0), bytes.fromhex(head["history_digest"])
    if size < end:
        raise StoreUnreadable(path, message("store_log_short", data_file=data_file.name, size=size, end=end))
    if _digest_ending_at(file, end) != digest:
        raise StoreUnreadable(path, message("store_log_other", data_file=data_file.name, end=end))
    content = None
    if (
        previous is not None
        and previous.parsed
        and previous.chained
        and previous.name == head["history_file"]
        and previous.identity == identity
        and previous.end <= end
        and _digest_ending_at(file, previous.end) == previous.digest
    ):
        file.seek(previous.end)
        base = previous.content()
        parsed = parse_lines(file.read(end - previous.end), path, base.lines, previous.digest)
        content = _with_parsed(base, parsed)
    return Log(
        head["history_file"],
        end=end,
        digest=digest,
        identity=identity,
        content=content,
        path=path,
        generation=generation,
    )


def _digest_ending_at(file: IO[bytes], end: int) -> bytes | None:
    """The digest of the line that ends at byte end (GENESIS at 0), read backwards a block at a time."""
    if end == 0:
        return GENESIS
    block = 4096
    while True:
        start = max(0, end - block)
        file.seek(start)
        raw = file.read(end - start)
        if not raw.endswith(b"\n"):
            return None
        cut = raw.rfind(b"\n", 0, len(raw) - 1)
        if cut >= 0 or start == 0:
            return digest_of_line(raw[cut + 1 :])
        block *= 4


def _legacy(
    path: Path, file: IO[bytes], size: int, next_event_id: int, identity: tuple[int, int], generation: int, name: str
) -> Log:
    """A log written before digests: its committed end is found from its end, as it was then."""
    end = _committed_end(file, size, next_event_id)
    return Log(name, end=end, chained=False, identity=identity, path=path, generation=generation)


TAIL = 1 << 16  # bytes read at a time from the end of an old log, to find its committed end


def _committed_end(file: IO[bytes], size: int, next_event_id: int) -> int:
    """The committed end of an old log, read from its end backwards a block at a time: usually its last line."""
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


def _committed_length(raw: bytes, next_event_id: int) -> int:
    """How many bytes of raw an old log's committed lines take: up to the last event numbered below
    next_event_id, the last line of every commit."""
    end = raw.rfind(b"\n") + 1
    while end > 0:
        start = raw.rfind(b"\n", 0, end - 1) + 1
        line = raw[start:end]
        if line.startswith(b'{"event":{"id":'):
            digits = line[15 : line.find(b",", 15)]
            if digits.isdigit() and int(digits) < next_event_id:
                return end
        end = start
    return 0


def _with_parsed(base: Content, parsed: Parsed) -> Content:
    """base, with these parsed records added."""
    if not parsed.kinds:
        return base
    growing = Growing(base)
    for kind, record, data in zip(parsed.kinds, parsed.records, parsed.data, strict=True):
        growing.add(kind, record, data)
    return growing.content()


# --------------------------------------------------------------------------- changing


class LogBatch:
    """What a batch of changes adds to the history: its records (chained when written), and, when the history
    was parsed already (a server), the content it makes; a command that only adds never parses the history.

    Lines past the committed end are looked at first: no id they name is handed out again.
    """

    def __init__(self, log: Log) -> None:
        self.log = log
        self.past = log.past_end()
        comment_id, event_id, self.past_ticket_id = ids_in(self.past)
        self.next_comment_id = max(log.next_comment_id, comment_id + 1)
        self.next_event_id = max(log.next_event_id, event_id + 1)
        self.added: list[tuple[RecordKind, dict[str, Any], bytes]] = []  # this batch's records, in order
        self.erasing: set[int] = set()  # tickets deleted with their comments
        self.erasing_comments: set[int] = set()  # comments deleted alone
        self.replacement: list[Record] | None = None  # a copy: these records in place of the log's
        self.rewrite = not log.chained and log.name is not None  # an old log is written again, with digests
        self._growing: Growing | None = None
        self._base: Content | None = log._content  # parsed already, or None

    def _content(self) -> Growing:
        if self._growing is None:
            self._growing = Growing(self._base if self._base is not None else self.log.content())
        return self._growing

    @property
    def changed(self) -> bool:
        return bool(self.added) or self.rewrite

    def _add(self, kind: RecordKind, record: dict[str, Any]) -> None:
        data = record_bytes(kind, record)
        self.added.append((kind, record, data))
        if self._base is not None or self._growing is not None:
            self._content().add(kind, record, data)

    def add_comment(self, comment: Comment) -> None:
        self.next_comment_id = max(self.next_comment_id, comment["id"] + 1)
        self._add("comment", comment)  # type: ignore[arg-type]

    def add_event(self, event: Event) -> None:
        if event["type"] == "deleted" and self.comments_of(event["ticket_id"]):
            self.rewrite = True  # its comments leave the disk too: the log is written again without them
            self.erasing.add(event["ticket_id"])
        elif event["type"] == "comment_deleted":
            self.rewrite = True  # the comment leaves the disk: the log is written again, its digest kept alone
            self.erasing_comments.add(commented_id(event))  # type: ignore[arg-type]
        self.next_event_id = max(self.next_event_id, event["id"] + 1)
        self._add("event", event)  # type: ignore[arg-type]

    def comments_of(self, ticket_id: int) -> tuple[bytes, ...]:
        """The ticket's comments, including this batch's (this needs the history parsed)."""
        if self._growing is None and self._base is None:
            growing = self._content()  # freshly parsed: this batch's records so far go on it
            for kind, record, data in self.added:
                growing.add(kind, record, data)
        return self._content().comments_of.get(ticket_id, ())

    def replace_all(self, records: list[Record], next_comment_id: int, next_event_id: int) -> None:
        """These records in place of what the log held (a copy); the next ids never go back."""
        had_log = self.log.name is not None
        self._base, self._growing, self.added, self.erasing = Content(), None, [], set()
        self.erasing_comments = set()
        growing = self._content()
        for record in records:
            growing.add(record.kind, record.data, record_bytes(record.kind, record.data))
        self.replacement = records
        comment_ids = [r.data["id"] + 1 for r in records if r.kind != "event"]
        event_ids = [r.data["id"] + 1 for r in records if r.kind == "event"]
        self.next_comment_id = max(next_comment_id, self.next_comment_id, *comment_ids)
        self.next_event_id = max(next_event_id, self.next_event_id, *event_ids)
        self.rewrite = bool(had_log or records)  # no history: no log file

    def appended(self) -> tuple[list[bytes], bytes]:
        """The lines to append after the committed end, chained from its digest, and the last digest."""
        lines, digest = [], self.log.digest
        for kind, _, data in self.added:
            digest = chained(digest, data)
            lines.append(line_of(kind, data, digest))
        return lines, digest

    def whole(self) -> tuple[list[bytes], bytes]:
        """The whole log as it is now, for a rewrite: the records in chain order, each comment of a deleted
        ticket left as its digest alone; and the last digest."""
        records = self.replacement if self.replacement is not None else self.log.records()
        digest = records[-1].digest if records else GENESIS
        lines = [record_line(self._erased(record)) for record in records]
        for kind, data, canonical in self.added:
            digest = chained(digest, canonical)
            lines.append(record_line(self._erased(Record(kind, data, digest))))
        return lines, digest

    def _erased(self, record: Record) -> Record:
        if record.kind == "comment" and (
            record.data["ticket_id"] in self.erasing or record.data["id"] in self.erasing_comments
        ):
            return Record("erased", {"id": record.data["id"], "ticket_id": record.data["ticket_id"]}, record.digest)
        return record

    def result(
        self,
        *,
        name: str | None,
        end: int,
        digest: bytes,
        identity: tuple[int, int] | None,
        path: Path | None,
        generation: int | None,
    ) -> Log:
        """The history once this batch is on disk: parsed when it was parsed before (a server), else read from
        the log file when first asked for, like any version read from disk."""
        content = self._growing.content() if self._growing is not None else self._base
        if content is None and path is None:
            content = Content()
        return Log(
            name,
            self.next_comment_id,
            self.next_event_id,
            end,
            digest,
            identity=identity,
            content=content,
            path=path,
            generation=generation,
        )

    def unchanged(self) -> Log:
        log = self.log
        return Log(
            log.name,
            self.next_comment_id,
            self.next_event_id,
            log.end,
            log.digest,
            chained=log.chained,
            identity=log.identity,
            content=log._content,
            path=log.path,
            generation=log.generation,
        )
