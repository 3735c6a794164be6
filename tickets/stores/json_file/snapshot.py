"""The versions of the store in memory: Snapshot, one immutable version read from the file, with its
serializations cached; Batch, the working copy that a group of mutations changes before one atomic write."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from itertools import chain, repeat
from typing import Any

import pydantic_core

from tickets.engine.breaches import (
    EVENT,
    Breach,
    alarm,
    change_breaches,
    due_breaches,
    policy_breaches,
    with_breaches,
)
from tickets.engine.chain import History
from tickets.engine.errors import (
    CommentNotFound,
    NotAuthor,
    PreconditionFailed,
    StoreNotEmpty,
    TicketNotFound,
)
from tickets.engine.history import (
    Comment,
    CommentEdit,
    Event,
    NewComment,
    Page,
    about_internal,
    changes_between,
    comment_changes,
    deletion_changes,
    edit_changes,
    edited,
    later_than,
    per_day,
)
from tickets.engine.idempotency import Answer, Keyed, comment_answer, kept, replay, ticket_answer
from tickets.engine.models import (
    Stats,
    StatsQuery,
    Ticket,
    TicketCreate,
    TicketFilters,
    TicketQuery,
    TicketUpdate,
    complete,
)
from tickets.engine.rules import (
    Reading,
    count,
    etag_matches,
    filter_tickets,
    paginate,
    public_json,
    searchable_text,
    sort_tickets,
)
from tickets.engine.sla import NO_POLICY, Plan, Policy, micros, plan_of
from tickets.engine.values import nfc
from tickets.engine.workflow import breached_now, changed, commented, created
from tickets.stores.json_file.file_format import _dump_pretty, dump_policy
from tickets.stores.json_file.history_log import Log, LogBatch
from tickets.stores.json_file.idempotency import KeptAnswers
from tickets.stores.json_file.queues import Alarms, Queues, page_by_due


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
        policy: Policy | None = None,
        compact: dict[int, bytes] | None = None,
        pretty: dict[int, bytes] | None = None,
        folded: dict[int, str] | None = None,
        plans: dict[int, Plan] | None = None,
        alarms: Alarms | None = None,
        kept: KeptAnswers | None = None,
    ) -> None:
        self.next_id, self.tickets, self.key = next_id, tickets, key
        self.log = log if log is not None else Log()  # comments and events (history_log.py)
        self.policy = policy  # the SLA policy of the file's head; None: never set
        self.kept = kept if kept is not None else KeptAnswers()  # the answers kept for Idempotency-Keys
        self._compact = compact if compact is not None else {}  # what each ticket stores and shows (public_json)
        self._pretty = pretty if pretty is not None else {}
        self._folded = folded if folded is not None else {}  # searchable_text, filled by q searches
        self._plans = plans if plans is not None else {}  # each ticket's SLA plan under this policy
        self._queues: Queues | None = None
        self._alarms = alarms  # when each ticket's next breach event falls due, built on first use

    @property
    def sla(self) -> Policy:
        return self.policy or NO_POLICY

    def reading(self, time: str) -> Reading:
        return Reading(self.sla, time)

    def plan(self, ticket: Ticket) -> Plan:
        found = self._plans.get(ticket["id"])
        if found is None:
            found = self._plans[ticket["id"]] = plan_of(ticket, self.sla)
        return found

    def get(self, ticket_id: int) -> Ticket:
        try:
            return self.tickets[ticket_id]
        except KeyError:
            raise TicketNotFound(ticket_id) from None

    def stored_json(self, ticket_id: int) -> bytes:
        """What the ticket stores and shows, as compact JSON (cached): its ETag's source."""
        data = self._compact.get(ticket_id)
        if data is None:
            data = self._compact[ticket_id] = public_json(self.get(ticket_id))
        return data

    def answer(self, ticket_id: int, reading: Reading) -> tuple[bytes, str]:
        """The ticket as the API answers it at the reading's moment, and its ETag."""
        ticket = self.get(ticket_id)
        return reading.answer(ticket, self.stored_json(ticket_id), self.plan(ticket))

    def list_json(self, tickets: Iterable[Ticket], reading: Reading) -> bytes:
        """A JSON array of these tickets, from the cached serializations and plans."""
        return reading.array(tickets, self.plan, lambda t: self.stored_json(t["id"]))

    def queues(self) -> Queues:
        """The SLA index of this version (queues.py), built on first use."""
        if self._queues is None:
            self._queues = Queues(self.tickets.values(), self.plan)
        return self._queues

    def alarms(self) -> Alarms:
        """When each ticket's next SLA breach event falls due (queues.Alarms), built on first use."""
        if self._alarms is None:
            self._alarms = Alarms.build(self.tickets.values(), self.plan)
        return self._alarms

    def _matched(self, filters: TicketFilters, reading: Reading) -> list[Ticket]:
        """The tickets that match the filters, in id order; the SLA filters read the index."""
        if not filters.sla and filters.due_before is None:
            return filter_tickets(self.tickets.values(), filters, self._text_of)
        plain = filters.model_copy(update={"sla": [], "due_before": None})
        kept = filter_tickets(self.tickets.values(), plain, self._text_of)
        queues = self.queues()
        ids = queues.in_states(filters.sla, reading) if filters.sla else None
        if filters.due_before is not None:
            due = queues.due_before(filters.due_before, reading)
            ids = due if ids is None else ids & due
        return [t for t in kept if t["id"] in ids]  # type: ignore[operator]

    def search(self, query: TicketQuery, reading: Reading) -> tuple[list[Ticket], int]:
        """The page of tickets a query asks for, and how many matched before paging."""
        matched = self._matched(query, reading)
        if query.sort in ("due", "-due"):
            everything = len(matched) == len(self.tickets)
            page = page_by_due(
                matched, everything, self.queues(), reading, query.sort == "-due", query.limit, query.offset, query.sla
            )
            return page, len(matched)
        # The snapshot keeps tickets in id order (new ids are the highest): the default sort is free.
        ordered = matched if query.sort == "id" else sort_tickets(matched, query.sort)
        return paginate(ordered, query.limit, query.offset), len(ordered)

    def stats(self, query: StatsQuery, reading: Reading) -> Stats:
        """Counts of the tickets that match the filters, and what the history says per day."""
        counts = count(self._matched(query, reading), reading, self.plan)
        return {
            **counts,
            "per_day": per_day(self.log.content().days, query.days, date.fromisoformat(reading.time[:10])),
        }

    def comments(self, ticket_id: int, page: Page, internal: bool = True) -> tuple[list[Comment], int]:
        self.get(ticket_id)
        if internal:
            comments = self.log.comments_of(ticket_id)
            return _comments(paginate(comments, page.limit, page.offset)), len(comments)
        shown = [c for c in _comments(self.log.comments_of(ticket_id)) if not c["internal"]]
        return paginate(shown, page.limit, page.offset), len(shown)

    def internal_comments(self, ticket_id: int) -> set[int]:
        """The ids of the ticket's internal notes (to hide their older, unmarked events from a viewer)."""
        return {c["id"] for c in _comments(self.log.comments_of(ticket_id)) if c["internal"]}

    def events(self, ticket_id: int, page: Page, internal: bool = True) -> tuple[list[Event], int]:
        events = self.log.events_of(ticket_id)
        if events is None and ticket_id not in self.tickets:
            raise TicketNotFound(ticket_id)  # no ticket ever had this id (or none since the history began)
        events = events or []
        if internal:
            return _parsed(paginate(events, page.limit, page.offset)), len(events)
        hidden = self.internal_comments(ticket_id)
        shown = [e for e in _parsed(events) if not about_internal(e, hidden)]
        return paginate(shown, page.limit, page.offset), len(shown)

    def feed(self, after: int, limit: int, internal: bool = True) -> list[Event]:
        """Events after `after`, at most limit; for a viewer, those about internal notes left out."""
        if internal:
            return _parsed(self.log.feed(after, limit))
        shown: list[Event] = []
        hidden: dict[int, set[int]] = {}  # each ticket's internal notes, found once per call
        while len(shown) < limit:
            batch = _parsed(self.log.feed(after, limit))
            if not batch:
                break
            for e in batch:
                notes = hidden.get(e["ticket_id"])
                if notes is None:
                    notes = hidden[e["ticket_id"]] = self.internal_comments(e["ticket_id"])
                if not about_internal(e, notes):
                    shown.append(e)
            after = batch[-1]["id"]
        return shown[:limit]

    def _text_of(self, ticket: Ticket) -> str:
        text = self._folded.get(ticket["id"])
        if text is None:
            text = self._folded[ticket["id"]] = searchable_text(ticket)
        return text

    def search_json(self, query: TicketQuery, reading: Reading) -> tuple[bytes, int]:
        """search() as a JSON array."""
        page, total = self.search(query, reading)
        return self.list_json(page, reading), total

    def file_chunks(self) -> Iterable[bytes]:
        """The whole file, in pieces to write one after the other: 2-space indent, id order,
        non-ASCII as itself, final newline. Never joined into one big string: at 100 000 tickets
        that copy alone took longer than writing the file."""
        head = pydantic_core.to_json({"next_id": self.next_id, **self.log.head()}, indent=2)[:-2]
        if self.policy is not None:
            head += b',\n  "sla_policy": ' + dump_policy(self.policy)
        if not self.tickets:
            return [head + b',\n  "tickets": []' + self.kept.chunk() + b"\n}\n"]
        pretty = self._pretty  # holds only ids of this version (Batch.result drops changed ones)
        if len(pretty) != len(self.tickets):
            for ticket_id, ticket in self.tickets.items():
                if ticket_id not in pretty:
                    pretty[ticket_id] = _dump_pretty(ticket)
        parts = map(pretty.__getitem__, self.tickets)  # C-level iterators: no Python loop per ticket
        return chain(
            (head, b',\n  "tickets": [\n', next(parts)),
            chain.from_iterable(zip(repeat(b",\n"), parts)),
            (b"\n  ]" + self.kept.chunk() + b"\n}\n",),
        )


# --------------------------------------------------------------------------- the store


class Batch:
    """The working copy that a group of mutations changes before one atomic write."""

    def __init__(self, snap: Snapshot, time: str) -> None:
        self.snap = snap
        self.tickets = dict(snap.tickets)
        self.changed: set[int] = set()
        self.replaced = False  # every ticket replaced (a copy): the file is written even when empty
        self.policy = snap.policy
        self.time = time
        self.history = LogBatch(snap.log)
        self.kept = snap.kept
        # Lines past the log's committed end may name tickets this file no longer counts (a backup put back):
        # their ids are never handed out again.
        self.next_id = max(snap.next_id, self.history.past_ticket_id + 1)

    @property
    def sla(self) -> Policy:
        return self.policy or NO_POLICY

    def _record(
        self, ticket_id: int, kind: str, changes: dict[str, Any], actor: str | None, at: str | None = None
    ) -> None:
        event = {
            "id": self.history.next_event_id,
            "ticket_id": ticket_id,
            "at": at or self.time,
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
            etag = Reading(self.sla, self.time).etag(ticket)
            if not etag_matches(if_match, etag):
                raise PreconditionFailed(ticket_id, if_match, etag)
        return ticket

    def _put(self, ticket: Ticket) -> None:
        self.tickets[ticket["id"]] = ticket
        self.changed.add(ticket["id"])

    # Each change records its event first: whatever may fail (reading the history) fails before the
    # batch's tickets are touched, so a change is applied whole, with its event, or not at all.

    def add(self, data: TicketCreate, actor: str | None = None) -> Ticket:
        ticket = created(data, self.next_id, self.time)
        self._record(ticket["id"], "created", changes_between(None, ticket), actor)
        self._put(ticket)
        self.next_id += 1
        return ticket

    def update(
        self, ticket_id: int, changes: TicketUpdate, if_match: str | None = None, actor: str | None = None
    ) -> Ticket:
        old = self.current(ticket_id, if_match)
        new = changed(old, changes, self.time, self.sla)
        if new is old:
            return old  # nothing changes: same updated_at, same ETag, no write, no event
        new = self._breaches(old, new, change_breaches(old, new, self.time, self.sla))
        self._record(ticket_id, "updated", changes_between(old, new), actor)
        self._put(new)
        return new

    def update_many(self, ids: list[int], changes: TicketUpdate, actor: str | None = None) -> list[Ticket]:
        """All or nothing: every new version is made (and may be refused) before any is put in place."""
        olds = [self.current(ticket_id, None) for ticket_id in ids]
        news = [changed(old, changes, self.time, self.sla) for old in olds]
        done = []
        for old, new in zip(olds, news, strict=True):
            if new is not old:
                new = self._breaches(old, new, change_breaches(old, new, self.time, self.sla))
                self._record(new["id"], "updated", changes_between(old, new), actor)
                self._put(new)
            done.append(new)
        return done

    def delete(self, ticket_id: int, if_match: str | None = None, actor: str | None = None) -> None:
        self.current(ticket_id, if_match)
        self._record(ticket_id, "deleted", {}, actor)  # reads the history: are there comments to remove?
        del self.tickets[ticket_id]
        self.changed.add(ticket_id)

    def comment(self, ticket_id: int, new: NewComment, actor: str | None = None) -> tuple[Comment, str]:
        ticket = self.current(ticket_id, None)
        comment: Comment = {
            "id": self.history.next_comment_id,
            "ticket_id": ticket_id,
            "author": new.author,
            "body": new.body,
            "internal": new.internal,
            "created_at": self.time,
        }
        after = commented(
            ticket, new.author, new.internal, self.time, later_than(ticket["updated_at"], self.time), self.sla
        )
        after = self._breaches(ticket, after, change_breaches(ticket, after, self.time, self.sla))
        self.history.add_comment(comment)
        changes = {**comment_changes(comment["id"], new.internal), **changes_between(ticket, after)}
        self._record(ticket_id, "commented", changes, actor)
        self._put(after)
        return {**comment, "edited_at": None}, Reading(self.sla, self.time).etag(after)

    # Idempotency-Key: the answer is kept in the batch, and so written in the same file as the write it answers.

    def keyed(self, keyed: Keyed, write: Callable[[Batch], Answer]) -> Answer:
        """The answer kept for keyed (nothing written), or write's, kept (KeyReused: the key meant another request)."""
        found = replay(self.kept.get(keyed.scope, keyed.key), keyed, self.time)
        if found is not None:
            return found
        answer = write(self)
        self.kept = self.kept.keeping(kept(keyed, answer, self.time))
        return answer

    def add_answered(self, data: TicketCreate, actor: str | None = None) -> Answer:
        ticket = self.add(data, actor)
        return ticket_answer(ticket["id"], *Reading(self.sla, self.time).answer(ticket))

    def comment_answered(self, ticket_id: int, new: NewComment, actor: str | None = None) -> Answer:
        return comment_answer(*self.comment(ticket_id, new, actor))

    def _comment(self, ticket_id: int, comment_id: int, author: str | None) -> Comment:
        """A comment as it is now (corrections applied); NotAuthor when author is given and is not its own."""
        self.current(ticket_id, None)
        found = next((c for c in _comments(self.history.comments_of(ticket_id)) if c["id"] == comment_id), None)
        if found is None:
            raise CommentNotFound(ticket_id, comment_id)
        if author is not None and nfc(author) != nfc(found["author"]):
            raise NotAuthor(ticket_id, comment_id, found["author"])
        return found

    def edit_comment(
        self, ticket_id: int, comment_id: int, edit: CommentEdit, author: str | None, actor: str | None = None
    ) -> Comment:
        comment = self._comment(ticket_id, comment_id, author)
        changes = edit_changes(comment, edit)
        if not changes:
            return comment
        self._record(ticket_id, "comment_edited", changes, actor)
        return edited(comment, {"at": self.time, "changes": changes})

    def delete_comment(self, ticket_id: int, comment_id: int, author: str | None, actor: str | None = None) -> None:
        comment = self._comment(ticket_id, comment_id, author)
        self._record(ticket_id, "comment_deleted", deletion_changes(comment), actor)

    def set_policy(self, policy: Policy) -> Policy:
        """A new SLA policy: a ticket breached under the old one stays breached."""
        if self.policy is not None and self.policy == policy:
            return policy
        for ticket in list(self.tickets.values()):
            judged = breached_now(ticket, self.sla, self.time)
            judged = self._breaches(ticket, judged, policy_breaches(ticket, self.sla, policy, self.time))
            if judged is not ticket:
                self._put(judged)
        self.policy = policy
        self.replaced = True  # every plan changes: the snapshot starts afresh
        return policy

    def _breaches(self, old: Ticket, new: Ticket, breaches: list[Breach]) -> Ticket:
        """Record the events of these breaches of a ticket (before the event of the change that noticed them) and
        the new ticket with them recorded."""
        for breach in breaches:
            self._record(old["id"], EVENT, breach.changes(), None, at=breach.at)
        return with_breaches(new, breaches)

    def record_breaches(self, limit: int) -> int:
        """The sweep: the events of the breaches due by now of at most limit tickets (tickets.engine.breaches);
        how many events."""
        written, now_us = 0, micros(self.time)
        for ticket_id in self.snap.alarms().due(now_us, limit):
            ticket = self.tickets.get(ticket_id)
            if ticket is None:
                continue  # deleted by a write of this batch
            # The version's plan, unless a write of this batch changed the ticket or the policy.
            same = ticket is self.snap.tickets.get(ticket_id) and self.policy is self.snap.policy
            breaches = due_breaches(ticket, self.sla, self.time, plan=self.snap.plan(ticket) if same else None)
            if breaches:
                self._put(self._breaches(ticket, ticket, breaches))
                written += len(breaches)
        return written

    def replace_all(
        self,
        next_id: int,
        tickets: list[Ticket],
        replace: bool,
        name: str,
        history: History,
        policy: Policy | None = None,
    ) -> None:
        if self.tickets and not replace:
            raise StoreNotEmpty(name, len(self.tickets))
        self.tickets = {t["id"]: complete(t) for t in sorted(tickets, key=lambda t: t["id"])}
        highest = max(self.tickets, default=0)
        self.next_id = max(next_id, self.next_id, highest + 1)  # no id this file gave is handed out again
        self.history.replace_all(history.records, history.next_comment_id, history.next_event_id)
        if policy is not None:
            self.policy = policy
        self.kept = KeptAnswers()  # they answered for tickets that are no longer there
        self.replaced = True

    def result(self, log: Log) -> Snapshot:
        """The new snapshot, with its history as written, keeping the cached serializations of the
        unchanged tickets."""
        kept = self.kept.pruned(self.time)
        if self.replaced:
            return Snapshot(self.next_id, self.tickets, log=log, policy=self.policy, kept=kept)
        compact, pretty, folded = dict(self.snap._compact), dict(self.snap._pretty), dict(self.snap._folded)
        plans = dict(self.snap._plans)
        complete_pretty = len(pretty) == len(self.snap.tickets)  # then keep it complete: no scan at write time
        alarmed: dict[int, int | None] = {}
        for ticket_id in self.changed:
            compact.pop(ticket_id, None)
            pretty.pop(ticket_id, None)
            folded.pop(ticket_id, None)
            plans.pop(ticket_id, None)
            if complete_pretty and ticket_id in self.tickets:
                pretty[ticket_id] = _dump_pretty(self.tickets[ticket_id])
            if self.snap._alarms is not None:  # carried to the new version: only the changed tickets again
                ticket = self.tickets.get(ticket_id)
                plan = None if ticket is None else plans.setdefault(ticket_id, plan_of(ticket, self.sla))
                clock = None if ticket is None or plan is None else alarm(ticket, plan)
                alarmed[ticket_id] = None if clock is None else clock.due_us
        alarms = None if self.snap._alarms is None else self.snap._alarms.updated(alarmed)
        return Snapshot(
            self.next_id,
            self.tickets,
            log=log,
            policy=self.policy,
            compact=compact,
            pretty=pretty,
            folded=folded,
            plans=plans,
            alarms=alarms,
            kept=kept,
        )


def _comments(items: Iterable[bytes]) -> list[Comment]:
    """Comments kept as their JSON, as dicts, each with edited_at (null unless corrected)."""
    comments = _parsed(items)
    for comment in comments:
        comment.setdefault("edited_at", None)
    return comments


def _parsed(items: Iterable[bytes]) -> list[Any]:
    """Comments or events kept as their JSON, as dicts again."""
    return [pydantic_core.from_json(item) for item in items]
