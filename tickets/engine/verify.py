"""`verify`: a store's history checked whole, the same way for both stores.

- the chain: every record's digest follows from the one before it (tickets.engine.chain);
- ids only grow, and stay below the next ids the store will hand out;
- every comment is followed by the `commented` event that names it, and every such event follows its comment
  (or what is left of it, when its ticket was deleted);
- replaying each ticket's events gives the ticket as stored: a `created` event first, each change going
  from the value before it, nothing after `deleted`, and a live ticket holding the last value of every field;
- each `sla_breached` event names a target, at most one per ticket and target, and a live ticket records exactly
  the targets its events name (tickets.engine.breaches), and is breached for good once it has one (a ticket from
  before the history may record more: breaches seen before it began).

The records come as an iterable, in chain order, so that a history of a million events is checked without
holding it all in memory.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tickets.engine.breaches import EVENT, FIELD, TARGETS, event_target, recorded
from tickets.engine.chain import GENESIS, Record, chained
from tickets.engine.errors import TicketError
from tickets.engine.history import commented_id
from tickets.engine.models import Ticket


class HistoryProblem(TicketError):
    """The first thing verify found wrong, named."""

    def __init__(self, store: str, problem: str) -> None:
        super().__init__(f"{store}: {problem}")


@dataclass
class Report:
    """What verify checked: counts, the chain's last digest, and what the store adds (records set aside)."""

    tickets: int = 0
    events: int = 0
    comments: int = 0
    erased: int = 0
    digest: bytes = GENESIS
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [
            f"history verified: {self.events} events, {self.comments} comments",
            f"{self.erased} comments erased with their tickets" if self.erased else "",
            f"{self.tickets} tickets replayed",
            f"chain ends at {self.digest.hex()[:16]}",
        ]
        return "; ".join([p for p in parts if p] + self.notes)


class _Name:
    """ "event 12" or "comment 7", written only when a problem is told (verify reads a million records)."""

    __slots__ = ("record",)

    def __init__(self, record: Record | dict[str, Any]) -> None:
        self.record = record

    def __str__(self) -> str:
        if isinstance(self.record, Record):
            kind = "event" if self.record.kind == "event" else "comment"
            return f"{kind} {self.record.data['id']}"
        return f"event {self.record['id']}"


@dataclass
class _Replay:
    """One ticket as its events tell it."""

    fields: dict[str, Any] = field(default_factory=dict)
    created: int | None = None  # the id of its `created` event
    deleted: int | None = None  # the id of its `deleted` event
    erased: dict[int, int] = field(default_factory=dict)  # comment id -> its `commented` event, comment erased
    comments: set[int] = field(default_factory=set)  # the ids of its comments not deleted
    breaches: dict[str, int] = field(default_factory=dict)  # target -> its sla_breached event


def verify_history(
    store: str,
    tickets: Iterable[Ticket],
    records: Iterable[Record],
    *,
    next_id: int,
    next_comment_id: int,
    next_event_id: int,
    check_chain: bool = True,
    head_digest: bytes | None = None,
) -> Report:
    """The report of a history that holds together, or HistoryProblem naming the first thing that does not."""
    verifier = Verifier(store, next_id, next_comment_id, next_event_id, check_chain=check_chain)
    for record in records:
        verifier.add(record)
    return verifier.finish(tickets, head_digest)


class Verifier:
    """verify, one record at a time (a store that reads its history in pages feeds it as it goes).

    check_chain: recompute every digest (False when the reader checked the chain already, as the JSON log's
    parser does).
    """

    def __init__(
        self, store: str, next_id: int, next_comment_id: int, next_event_id: int, *, check_chain: bool = True
    ) -> None:
        self.store, self.check_chain = store, check_chain
        self.next_id, self.next_comment_id, self.next_event_id = next_id, next_comment_id, next_event_id
        self.report = Report()
        self.replays: dict[int, _Replay] = {}
        self.previous, self.last_event, self.last_comment = GENESIS, 0, 0
        self.waiting: Record | None = None  # a comment, until the `commented` event that names it

    def problem(self, text: str) -> HistoryProblem:
        return HistoryProblem(self.store, text)

    def add(self, record: Record) -> None:
        data, report = record.data, self.report
        name = _Name(record)
        if self.check_chain:
            canonical = record.canonical()
            if canonical is not None and chained(self.previous, canonical) != record.digest:
                raise self.problem(
                    f"{name}: its digest does not follow from the record before it "
                    "(a record was changed, removed, repeated or swapped)"
                )
        self.previous = record.digest
        if record.kind != "event":
            if self.waiting is not None:
                raise self.problem(f"comment {self.waiting.data['id']}: no `commented` event follows it")
            if data["id"] <= self.last_comment or data["id"] >= self.next_comment_id:
                raise self.problem(
                    f"{name}: comment ids must only grow and stay below next_comment_id {self.next_comment_id}"
                )
            self.last_comment, self.waiting = data["id"], record
            if record.kind == "erased":
                report.erased += 1
            else:
                report.comments += 1
            return
        report.events += 1
        if data["id"] <= self.last_event or data["id"] >= self.next_event_id:
            raise self.problem(f"{name}: event ids must only grow and stay below next_event_id {self.next_event_id}")
        self.last_event = data["id"]
        _replay(self.problem, self.replays.setdefault(data["ticket_id"], _Replay()), data, self.waiting, self.next_id)
        self.waiting = None

    def finish(self, tickets: Iterable[Ticket], head_digest: bytes | None = None) -> Report:
        """The report, once every record was added: the tickets as stored (in any order) are compared with
        the replay of their events; head_digest is the digest the store names as its last record's."""
        if self.waiting is not None:
            raise self.problem(f"comment {self.waiting.data['id']}: no `commented` event follows it")
        if head_digest is not None and self.previous != head_digest:
            raise self.problem("the last record does not carry the digest the store names as its last")
        self.report.digest = self.previous
        replays = self.replays
        for ticket in tickets:
            self.report.tickets += 1
            replay = replays.pop(ticket["id"], None)
            if replay is not None:
                _compare(self.problem, ticket["id"], ticket, replay)
        for ticket_id, replay in replays.items():
            _compare(self.problem, ticket_id, None, replay)
        return self.report


def _replay(problem: Any, replay: _Replay, event: dict[str, Any], waiting: Record | None, next_id: int) -> None:
    """One event applied to its ticket's replay (waiting: the comment just before it, if any)."""
    name, ticket_id, kind = _Name(event), event["ticket_id"], event["type"]
    if replay.deleted is not None:
        raise problem(f"{name}: ticket {ticket_id} was deleted before, by event {replay.deleted}")
    if kind == "commented":
        comment_id = event["changes"].get("comment_id", {}).get("to")
        if waiting is None or waiting.data["id"] != comment_id:
            raise problem(f"{name}: the comment {comment_id} it names does not come just before it")
        if waiting.data["ticket_id"] != ticket_id:
            raise problem(f"{name}: comment {comment_id} belongs to ticket {waiting.data['ticket_id']}")
        if waiting.kind == "erased":
            replay.erased[comment_id] = event["id"]
        replay.comments.add(comment_id)
        _apply(problem, replay, event, skip=("comment_id", "internal"))  # a first response
        return
    if waiting is not None:
        raise problem(f"comment {waiting.data['id']}: no `commented` event follows it")
    if kind == EVENT:
        target = event_target(event)
        if target not in TARGETS or set(event["changes"]) != {"target", "due"}:
            raise problem(f"{name}: an sla_breached event names its target ({', '.join(TARGETS)}) and due time")
        if target in replay.breaches:
            first = replay.breaches[target]
            raise problem(f"{name}: ticket {ticket_id}'s {target} breach was recorded already, by event {first}")
        replay.breaches[target] = event["id"]
        return
    if kind in ("comment_edited", "comment_deleted"):
        comment_id = commented_id(event)
        if comment_id not in replay.comments:
            raise problem(f"{name}: ticket {ticket_id} has no comment {comment_id} to change")
        if kind == "comment_deleted":
            replay.comments.discard(comment_id)
            replay.erased.pop(comment_id, None)
        return
    if kind == "created":
        if replay.created is not None or replay.fields:
            raise problem(f"{name}: ticket {ticket_id} already had events before its creation")
        if ticket_id >= next_id:
            raise problem(f"{name}: ticket {ticket_id} is not below next_id {next_id}")
        replay.created = event["id"]
    elif kind == "deleted":
        replay.deleted = event["id"]
        return
    _apply(problem, replay, event)


def _apply(problem: Any, replay: _Replay, event: dict[str, Any], skip: tuple[str, ...] = ()) -> None:
    """An event's changes applied to its ticket's replay: each goes from the value the history had."""
    name, ticket_id = _Name(event), event["ticket_id"]
    for key, change in event["changes"].items():
        if key in skip:
            continue
        if key in replay.fields and replay.fields[key] != change["from"]:
            raise problem(
                f"{name}: ticket {ticket_id}'s {key} goes from {change['from']!r}, "
                f"but its history had it at {replay.fields[key]!r}"
            )
        replay.fields[key] = change["to"]


def _compare(problem: Any, ticket_id: int, ticket: Ticket | None, replay: _Replay) -> None:
    """A ticket as stored (None: not stored) against the replay of its events."""
    if replay.deleted is not None:
        if ticket is not None:
            raise problem(f"ticket {ticket_id} is stored, but event {replay.deleted} deleted it")
        return
    if replay.erased:
        comment_id, event_id = next(iter(replay.erased.items()))
        raise problem(
            f"event {event_id}: its comment {comment_id} was erased, but neither it nor ticket {ticket_id} was deleted"
        )
    if ticket is None:
        if replay.created is not None:
            raise problem(f"ticket {ticket_id} was created by event {replay.created}, never deleted, and is missing")
        return
    for key, value in replay.fields.items():
        if ticket.get(key) != value:
            raise problem(f"ticket {ticket_id}: its {key} is {ticket.get(key)!r}, its history says {value!r}")
    # A ticket from before the history began (no `created` event) may record breaches seen before it: events
    # for those can never come (the shipped sample's late tickets). Its events must still be among them.
    named, seen = set(recorded(ticket)), set(replay.breaches)
    if not (named >= seen if replay.created is None else named == seen):
        raise problem(
            f"ticket {ticket_id}: its {FIELD} are {recorded(ticket)!r}, its sla_breached events name "
            f"{[t for t in TARGETS if t in replay.breaches]!r}"
        )
    if replay.breaches and not ticket.get("sla_breached", False):
        raise problem(f"ticket {ticket_id}: it has sla_breached events but is not marked sla_breached")
