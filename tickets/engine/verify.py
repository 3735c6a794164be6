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
from tickets.engine.messages import Language, Message, message
from tickets.engine.models import Ticket


class HistoryProblem(TicketError):
    """The first thing verify found wrong, named."""

    def __init__(self, store: str, problem: Message) -> None:
        super().__init__(message("history_problem", store=store, problem=problem))


@dataclass
class Report:
    """What verify checked: counts, the chain's last digest, and what the store adds (records set aside)."""

    tickets: int = 0
    events: int = 0
    comments: int = 0
    erased: int = 0
    digest: bytes = GENESIS
    notes: list[Message] = field(default_factory=list)

    def summary(self, language: Language = "en") -> str:
        return self.summary_message().told(language)

    def summary_message(self) -> Message:
        """What was checked, on one line, as a message of the catalog."""
        parts = [
            message("verify_counts", events=self.events, comments=self.comments),
            message("verify_erased", erased=self.erased) if self.erased else None,
            message("verify_replayed", tickets=self.tickets),
            message("verify_chain_end", digest=self.digest.hex()[:16]),
        ]
        return message("problems", problems=[p for p in parts if p is not None] + self.notes)


class _Name:
    """ "event 12" or "comment 7", written only when a problem is told (verify reads a million records)."""

    __slots__ = ("record",)

    def __init__(self, record: Record | dict[str, Any]) -> None:
        self.record = record

    def told(self, language: Language = "en") -> str:
        if isinstance(self.record, Record):
            kind = "verify_event" if self.record.kind == "event" else "verify_comment"
            return message(kind, id=self.record.data["id"]).told(language)
        return message("verify_event", id=self.record["id"]).told(language)

    def __str__(self) -> str:
        return self.told("en")


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

    def problem(self, told: Message) -> HistoryProblem:
        return HistoryProblem(self.store, told)

    def add(self, record: Record) -> None:
        data, report = record.data, self.report
        name = _Name(record)
        if self.check_chain:
            canonical = record.canonical()
            if canonical is not None and chained(self.previous, canonical) != record.digest:
                raise self.problem(message("verify_chain_broken", name=name))
        self.previous = record.digest
        if record.kind != "event":
            if self.waiting is not None:
                raise self.problem(message("verify_no_commented", comment_id=self.waiting.data["id"]))
            if data["id"] <= self.last_comment or data["id"] >= self.next_comment_id:
                raise self.problem(message("verify_comment_ids", name=name, next_id=self.next_comment_id))
            self.last_comment, self.waiting = data["id"], record
            if record.kind == "erased":
                report.erased += 1
            else:
                report.comments += 1
            return
        report.events += 1
        if data["id"] <= self.last_event or data["id"] >= self.next_event_id:
            raise self.problem(message("verify_event_ids", name=name, next_id=self.next_event_id))
        self.last_event = data["id"]
        _replay(self.problem, self.replays.setdefault(data["ticket_id"], _Replay()), data, self.waiting, self.next_id)
        self.waiting = None

    def finish(self, tickets: Iterable[Ticket], head_digest: bytes | None = None) -> Report:
        """The report, once every record was added: the tickets as stored (in any order) are compared with
        the replay of their events; head_digest is the digest the store names as its last record's."""
        if self.waiting is not None:
            raise self.problem(message("verify_no_commented", comment_id=self.waiting.data["id"]))
        if head_digest is not None and self.previous != head_digest:
            raise self.problem(message("verify_last_digest"))
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
        raise problem(message("verify_after_delete", name=name, ticket_id=ticket_id, deleted=replay.deleted))
    if kind == "commented":
        comment_id = event["changes"].get("comment_id", {}).get("to")
        if waiting is None or waiting.data["id"] != comment_id:
            raise problem(message("verify_comment_not_before", name=name, comment_id=comment_id))
        if waiting.data["ticket_id"] != ticket_id:
            other = waiting.data["ticket_id"]
            raise problem(message("verify_comment_elsewhere", name=name, comment_id=comment_id, other=other))
        if waiting.kind == "erased":
            replay.erased[comment_id] = event["id"]
        replay.comments.add(comment_id)
        _apply(problem, replay, event, skip=("comment_id", "internal"))  # a first response
        return
    if waiting is not None:
        raise problem(message("verify_no_commented", comment_id=waiting.data["id"]))
    if kind == EVENT:
        target = event_target(event)
        if target not in TARGETS or set(event["changes"]) != {"target", "due"}:
            raise problem(message("verify_breach_shape", name=name, targets=", ".join(TARGETS)))
        if target in replay.breaches:
            first = replay.breaches[target]
            told = message("verify_breach_twice", name=name, ticket_id=ticket_id, target=target, first=first)
            raise problem(told)
        replay.breaches[target] = event["id"]
        return
    if kind in ("comment_edited", "comment_deleted"):
        comment_id = commented_id(event)
        if comment_id not in replay.comments:
            raise problem(message("verify_no_such_comment", name=name, ticket_id=ticket_id, comment_id=comment_id))
        if kind == "comment_deleted":
            replay.comments.discard(comment_id)
            replay.erased.pop(comment_id, None)
        return
    if kind == "created":
        if replay.created is not None or replay.fields:
            raise problem(message("verify_events_before_creation", name=name, ticket_id=ticket_id))
        if ticket_id >= next_id:
            raise problem(message("verify_id_not_below", name=name, ticket_id=ticket_id, next_id=next_id))
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
            had = replay.fields[key]
            told = message(
                "verify_change_from", name=name, ticket_id=ticket_id, key=key, before=change["from"], had=had
            )
            raise problem(told)
        replay.fields[key] = change["to"]


def _compare(problem: Any, ticket_id: int, ticket: Ticket | None, replay: _Replay) -> None:
    """A ticket as stored (None: not stored) against the replay of its events."""
    if replay.deleted is not None:
        if ticket is not None:
            raise problem(message("verify_deleted_but_stored", ticket_id=ticket_id, deleted=replay.deleted))
        return
    if replay.erased:
        comment_id, event_id = next(iter(replay.erased.items()))
        told = message("verify_erased_not_deleted", event_id=event_id, comment_id=comment_id, ticket_id=ticket_id)
        raise problem(told)
    if ticket is None:
        if replay.created is not None:
            raise problem(message("verify_missing", ticket_id=ticket_id, created=replay.created))
        return
    for key, value in replay.fields.items():
        if ticket.get(key) != value:
            stored = ticket.get(key)
            raise problem(message("verify_field_differs", ticket_id=ticket_id, key=key, stored=stored, value=value))
    # A ticket from before the history began (no `created` event) may record breaches seen before it: events
    # for those can never come (the shipped sample's late tickets). Its events must still be among them.
    named, seen = set(recorded(ticket)), set(replay.breaches)
    if not (named >= seen if replay.created is None else named == seen):
        named_by_events = [t for t in TARGETS if t in replay.breaches]
        told = message(
            "verify_breaches_differ", ticket_id=ticket_id, field=FIELD, recorded=recorded(ticket), named=named_by_events
        )
        raise problem(told)
    if replay.breaches and not ticket.get("sla_breached", False):
        raise problem(message("verify_not_breached", ticket_id=ticket_id))
