"""The versions of the store in memory: Snapshot, one immutable version read from the file, with its
serializations cached; Batch, the working copy that a group of mutations changes before one atomic write."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import chain, repeat
from typing import Any

import pydantic_core

from tickets.engine.chain import History
from tickets.engine.errors import (
    PreconditionFailed,
    StoreNotEmpty,
    TicketNotFound,
)
from tickets.engine.history import (
    Comment,
    Event,
    NewComment,
    Page,
    changes_between,
    comment_changes,
    later_than,
    per_day,
)
from tickets.engine.models import _ALL, Stats, StatsQuery, Ticket, TicketCreate, TicketQuery, TicketUpdate
from tickets.engine.rules import (
    count,
    etag_matches,
    etag_of,
    filter_tickets,
    now,
    paginate,
    searchable_text,
    sort_tickets,
    ticket_json,
)
from tickets.stores.json_file.file_format import _dump_pretty
from tickets.stores.json_file.history_log import Log, LogBatch


class Snapshot:
    """One immutable version of the store, with its serializations cached.

    Each ticket's compact JSON (for answers) and indented JSON (for the file) is computed at most
    once per version of that ticket, so a write re-serializes only what changed.
    """

    def __init__(
        self,
        next_id: int,
        tickets: dict[int, Ticket],
        *,
        key: Any = None,
        log: Log | None = None,
        compact: dict[int, bytes] | None = None,
        pretty: dict[int, bytes] | None = None,
        folded: dict[int, str] | None = None,
    ) -> None:
        self.next_id, self.tickets, self.key = next_id, tickets, key
        self.log = log if log is not None else Log()  # comments and events (json_history.py)
        self._compact = compact if compact is not None else {}
        self._pretty = pretty if pretty is not None else {}
        self._folded = folded if folded is not None else {}  # searchable_text, filled by q searches
        self._all_json: bytes | None = None

    def get(self, ticket_id: int) -> Ticket:
        try:
            return self.tickets[ticket_id]
        except KeyError:
            raise TicketNotFound(ticket_id) from None

    def ticket_json(self, ticket_id: int) -> bytes:
        data = self._compact.get(ticket_id)
        if data is None:
            data = self._compact[ticket_id] = ticket_json(self.get(ticket_id))
        return data

    def etag(self, ticket_id: int) -> str:
        return etag_of(self.ticket_json(ticket_id))

    def list_json(self, tickets: Iterable[Ticket]) -> bytes:
        """A JSON array of these tickets, from the cached serializations."""
        return b"[" + b",".join([self.ticket_json(t["id"]) for t in tickets]) + b"]"

    def search(self, query: TicketQuery) -> tuple[list[Ticket], int]:
        """The page of tickets a query asks for, and how many matched before paging."""
        matched = filter_tickets(self.tickets.values(), query, self._text_of)
        # The snapshot keeps tickets in id order (new ids are the highest): the default sort is free.
        ordered = matched if query.sort == "id" else sort_tickets(matched, query.sort)
        return paginate(ordered, query.limit, query.offset), len(ordered)

    def stats(self, query: StatsQuery) -> Stats:
        """Counts of the tickets that match the filters, and what the history says per day."""
        counts = count(filter_tickets(self.tickets.values(), query, self._text_of))
        return {**counts, "per_day": per_day(self.log.content().days, query.days)}

    def comments(self, ticket_id: int, page: Page) -> tuple[list[Comment], int]:
        self.get(ticket_id)
        comments = self.log.comments_of(ticket_id)
        return _parsed(paginate(comments, page.limit, page.offset)), len(comments)

    def events(self, ticket_id: int, page: Page) -> tuple[list[Event], int]:
        events = self.log.events_of(ticket_id)
        if events is None and ticket_id not in self.tickets:
            raise TicketNotFound(ticket_id)  # no ticket ever had this id (or none since the history began)
        events = events or []
        return _parsed(paginate(events, page.limit, page.offset)), len(events)

    def _text_of(self, ticket: Ticket) -> str:
        text = self._folded.get(ticket["id"])
        if text is None:
            text = self._folded[ticket["id"]] = searchable_text(ticket)
        return text

    def search_json(self, query: TicketQuery) -> tuple[bytes, int]:
        """search() as a JSON array; the plain full listing is serialized once per version."""
        if query == _ALL:
            if self._all_json is None:
                self._all_json = self.list_json(self.tickets.values())
            return self._all_json, len(self.tickets)
        page, total = self.search(query)
        return self.list_json(page), total

    def file_chunks(self) -> Iterable[bytes]:
        """The whole file, in pieces to write one after the other: 2-space indent, id order,
        non-ASCII as itself, final newline. Never joined into one big string: at 100 000 tickets
        that copy alone took longer than writing the file."""
        head = pydantic_core.to_json({"next_id": self.next_id, **self.log.head()}, indent=2)[:-2]
        if not self.tickets:
            return [head + b',\n  "tickets": []\n}\n']
        pretty = self._pretty  # holds only ids of this version (Batch.result drops changed ones)
        if len(pretty) != len(self.tickets):
            for ticket_id, ticket in self.tickets.items():
                if ticket_id not in pretty:
                    pretty[ticket_id] = _dump_pretty(ticket)
        parts = map(pretty.__getitem__, self.tickets)  # C-level iterators: no Python loop per ticket
        return chain(
            (head, b',\n  "tickets": [\n', next(parts)),
            chain.from_iterable(zip(repeat(b",\n"), parts)),
            (b"\n  ]\n}\n",),
        )


# --------------------------------------------------------------------------- the store


class Batch:
    """The working copy that a group of mutations changes before one atomic write."""

    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap
        self.tickets = dict(snap.tickets)
        self.changed: set[int] = set()
        self.replaced = False  # every ticket replaced (a copy): the file is written even when empty
        self.time = now()
        self.history = LogBatch(snap.log)
        # Lines past the log's committed end may name tickets this file no longer counts (a backup put back):
        # their ids are never handed out again.
        self.next_id = max(snap.next_id, self.history.past_ticket_id + 1)

    def _record(self, ticket_id: int, kind: str, changes: dict[str, Any], actor: str | None) -> None:
        event = {
            "id": self.history.next_event_id,
            "ticket_id": ticket_id,
            "at": self.time,
            "actor": actor,
            "type": kind,
            "changes": changes,
        }
        self.history.add_event(event)  # type: ignore[arg-type]

    def current(self, ticket_id: int, if_match: str | None) -> Ticket:
        """The ticket as it is now; PreconditionFailed when if_match names another version."""
        ticket = self.tickets.get(ticket_id)
        if ticket is None:
            raise TicketNotFound(ticket_id)
        if if_match is not None:
            etag = etag_of(ticket_json(ticket))
            if not etag_matches(if_match, etag):
                raise PreconditionFailed(ticket_id, if_match, etag)
        return ticket

    # Each change records its event first: whatever may fail (reading the history) fails before the
    # batch's tickets are touched, so a change is applied whole, with its event, or not at all.

    def add(self, data: TicketCreate, actor: str | None = None) -> Ticket:
        ticket: Ticket = {"id": self.next_id, **data.model_dump(), "created_at": self.time, "updated_at": self.time}  # type: ignore[typeddict-item]
        self._record(ticket["id"], "created", changes_between(None, ticket), actor)
        self.tickets[ticket["id"]] = ticket
        self.next_id += 1
        self.changed.add(ticket["id"])
        return ticket

    def update(
        self, ticket_id: int, changes: TicketUpdate, if_match: str | None = None, actor: str | None = None
    ) -> Ticket:
        old = self.current(ticket_id, if_match)
        new: Ticket = {**old, **changes.model_dump(exclude_unset=True)}  # type: ignore[typeddict-item]
        if new == old:
            return old  # nothing changes: same updated_at, same ETag, no write, no event
        new["updated_at"] = self.time
        self._record(ticket_id, "updated", changes_between(old, new), actor)
        self.tickets[ticket_id] = new
        self.changed.add(ticket_id)
        return new

    def delete(self, ticket_id: int, if_match: str | None = None, actor: str | None = None) -> None:
        self.current(ticket_id, if_match)
        self._record(ticket_id, "deleted", {}, actor)  # reads the history: are there comments to remove?
        del self.tickets[ticket_id]
        self.changed.add(ticket_id)

    def comment(self, ticket_id: int, new: NewComment, actor: str | None = None) -> Comment:
        ticket = self.current(ticket_id, None)
        comment: Comment = {
            "id": self.history.next_comment_id,
            "ticket_id": ticket_id,
            "author": new.author,
            "body": new.body,
            "internal": new.internal,
            "created_at": self.time,
        }
        self.history.add_comment(comment)
        self._record(ticket_id, "commented", comment_changes(comment["id"]), actor)
        self.tickets[ticket_id] = {**ticket, "updated_at": later_than(ticket["updated_at"], self.time)}
        self.changed.add(ticket_id)
        return comment

    def replace_all(self, next_id: int, tickets: list[Ticket], replace: bool, name: str, history: History) -> None:
        if self.tickets and not replace:
            raise StoreNotEmpty(name, len(self.tickets))
        self.tickets = {t["id"]: t for t in sorted(tickets, key=lambda t: t["id"])}
        highest = max(self.tickets, default=0)
        self.next_id = max(next_id, self.next_id, highest + 1)  # no id this file gave is handed out again
        self.history.replace_all(history.records, history.next_comment_id, history.next_event_id)
        self.replaced = True

    def result(self, log: Log) -> Snapshot:
        """The new snapshot, with its history as written, keeping the cached serializations of the
        unchanged tickets."""
        if self.replaced:
            return Snapshot(self.next_id, self.tickets, log=log)
        compact, pretty, folded = dict(self.snap._compact), dict(self.snap._pretty), dict(self.snap._folded)
        complete = len(pretty) == len(self.snap.tickets)  # then keep it complete: no scan at write time
        for ticket_id in self.changed:
            compact.pop(ticket_id, None)
            pretty.pop(ticket_id, None)
            folded.pop(ticket_id, None)
            if complete and ticket_id in self.tickets:
                pretty[ticket_id] = _dump_pretty(self.tickets[ticket_id])
        return Snapshot(self.next_id, self.tickets, log=log, compact=compact, pretty=pretty, folded=folded)


def _parsed(items: Iterable[bytes]) -> list[Any]:
    """Comments or events kept as their JSON, as dicts again."""
    return [pydantic_core.from_json(item) for item in items]
