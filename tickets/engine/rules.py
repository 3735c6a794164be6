"""The pure functions over tickets: count, filter, sort, page, the current time, and the ETag. They take lists and
return lists or numbers, and know nothing of files, databases or HTTP."""

from __future__ import annotations

import hashlib
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, TypeVar

import pydantic_core

from tickets.engine.models import SLA_STATES, Counts, SlaState, Ticket, TicketFilters
from tickets.engine.sla import Plan, Policy, View, calendar_of, micros, moving_shown, plan_of, state_at, view
from tickets.engine.values import (
    PRIORITIES,
    PRIORITY_RANK,
    STATUS_RANK,
    STATUSES,
    Priority,
    Status,
    fold_text,
    stored_time,
    time_key,
)
from tickets.engine.workflow import is_requester, public

T = TypeVar("T")


class Reading:
    """What an answer is rendered with: the SLA policy and the moment of reading (the store's clock)."""

    def __init__(self, policy: Policy, time: str) -> None:
        self.policy, self.time = policy, time
        self.calendar = calendar_of(policy)
        self.now_us = micros(time)
        self._now_b: int | None = None

    def plan(self, ticket: Ticket) -> Plan:
        return plan_of(ticket, self.policy, self.calendar)

    def state(self, plan: Plan) -> SlaState:
        """The SLA state at this moment (cheaper than view: no due time is formatted)."""
        return state_at(plan, self.now_us)

    @property
    def now_b(self) -> int:
        if self._now_b is None:
            self._now_b = self.calendar.at(self.now_us)
        return self._now_b

    def due_key(self, plan: Plan) -> int | None:
        """The next pending due time in business microseconds (sort=due, due_before), or None."""
        fixed, left = plan.due_fixed, plan.due_left
        if left is None:
            return fixed
        moving = self.now_b + left
        return moving if fixed is None or moving < fixed else fixed

    def answer(
        self,
        ticket: Ticket,
        stored_json: bytes | None = None,
        plan: Plan | None = None,
    ) -> tuple[bytes, str]:
        """The ticket as the API answers it (what it stores, then its SLA now), and its ETag."""
        stored_json = stored_json if stored_json is not None else public_json(ticket)
        body, shown = self._shown(stored_json, plan or self.plan(ticket), None)
        return body, _etag(stored_json, shown.sla_state)

    def _shown(self, stored_json: bytes, plan: Plan, moving: Mapping[int, str | None] | None) -> tuple[bytes, View]:
        """What the API answers for a ticket (its stored JSON, then its SLA now), and that SLA; moving: the due
        times of a page's waiting tickets, made at once (moving_shown)."""
        waiting = plan.due_left is not None  # a clock stopped: its due time moves with B(now)
        shown = view(plan, self.calendar, self.now_us, self.now_b if waiting else None, moving)  # B(now) once
        return stored_json[:-1] + b"," + pydantic_core.to_json(shown.fields())[1:], shown

    def etag(self, ticket: Ticket) -> str:
        """The ticket's ETag at this moment: it covers what the ticket stores and its SLA state, which changes
        when a due time passes (a cached copy that says on_track is stale once the ticket is breached). The due
        times a waiting ticket shows move with the clock and are left out: an If-Match taken a minute ago still
        matches while the ticket waits."""
        return _etag(public_json(ticket), self.state(self.plan(ticket)))

    def array(
        self,
        tickets: Iterable[Ticket],
        plan: Callable[[Ticket], Plan] | None = None,
        stored: Callable[[Ticket], bytes] | None = None,
    ) -> bytes:
        """A JSON array of tickets as the API answers them; plan and stored: where their plans and their stored
        JSON come from (a store that keeps them), else computed."""
        tickets = list(tickets)
        plans = [self.plan(t) if plan is None else plan(t) for t in tickets]
        # the due times of waiting tickets move with the clock: those of the page in one walk of the calendar
        moving = self.moving(plans)
        answers = [  # without their ETags (a list has one of its own): 0.1 ms of a page of 50
            self._shown(public_json(t) if stored is None else stored(t), p, moving)[0]
            for t, p in zip(tickets, plans, strict=True)
        ]
        return b"[" + b",".join(answers) + b"]"

    def moving(self, plans: Sequence[Plan]) -> Mapping[int, str | None] | None:
        """The due times the moving clocks of plans show at this moment (None: no plan has one)."""
        if all(p.due_left is None for p in plans):  # what is left of a moving clock (Plan.due_left)
            return None
        return moving_shown(plans, self.calendar, self.now_b)


def _etag(stored_json: bytes, state: str) -> str:
    return etag_of(stored_json + b"\n" + state.encode())


def public_json(ticket: Ticket) -> bytes:
    """What a ticket stores and shows, as compact JSON: the part of its answer its ETag covers."""
    return pydantic_core.to_json(public(ticket))


def count(
    tickets: Iterable[Ticket], reading: Reading | None = None, plan: Callable[[Ticket], Plan] | None = None
) -> Counts:
    """Count tickets by status, priority, tag and SLA state, and the medians of their first response and
    resolution times in business minutes; every status, priority and state is present."""
    by_status: dict[Status, int] = dict.fromkeys(STATUSES, 0)
    by_priority: dict[Priority, int] = dict.fromkeys(PRIORITIES, 0)
    by_tag: dict[str, int] = {}
    sla: dict[SlaState, int] = dict.fromkeys(SLA_STATES, 0)
    first: list[float] = []
    resolved: list[float] = []
    for t in tickets:
        by_status[t["status"]] += 1
        by_priority[t["priority"]] += 1
        for tag in t.get("tags", ()):
            by_tag[tag] = by_tag.get(tag, 0) + 1
        if reading is not None:
            p = plan(t) if plan is not None else reading.plan(t)
            sla[reading.state(p)] += 1
            if p.first_response_minutes is not None:
                first.append(p.first_response_minutes)
            if p.resolution_minutes is not None:
                resolved.append(p.resolution_minutes)
        else:
            sla["none"] += 1
    return {
        "total": sum(by_status.values()),
        "by_status": by_status,
        "by_priority": by_priority,
        "by_tag": dict(sorted(by_tag.items())),
        "sla": sla,
        "first_response_minutes_median": median(first),
        "resolution_minutes_median": median(resolved),
    }


def median(values: list[float]) -> float | None:
    """The median, rounded to a tenth of a minute; None for no values."""
    return round(statistics.median(values), 1) if values else None


def searchable_text(ticket: Ticket) -> str:
    """Title and description as `q` searches them: case and accents folded."""
    return fold_text(ticket["title"] + "\x00" + ticket["description"])


def filter_tickets(
    tickets: Iterable[Ticket],
    filters: TicketFilters,
    text_of: Callable[[Ticket], str] = searchable_text,
    reading: Reading | None = None,
    plan_of_ticket: Callable[[Ticket], Plan] | None = None,
) -> list[Ticket]:
    """Keep the tickets that match every given filter; text_of may serve cached folded texts, plan_of_ticket
    cached plans; the SLA filters need the reading (its policy and moment).

    One pass per given filter: each is a tight loop, and each works on what the previous one kept.
    """
    kept = list(tickets)
    if filters.status:
        statuses = set(filters.status)
        kept = [t for t in kept if t["status"] in statuses]
    if filters.priority:
        priorities = set(filters.priority)
        kept = [t for t in kept if t["priority"] in priorities]
    if filters.unassigned:
        kept = [t for t in kept if t["assignee"] is None]
    elif filters.assignee is not None:
        kept = [t for t in kept if t["assignee"] == filters.assignee]
    if filters.q:
        needle = fold_text(filters.q)
        kept = [t for t in kept if needle in text_of(t)]
    if filters.requester is not None:
        kept = [t for t in kept if is_requester(t, filters.requester)]
    if filters.tag:
        wanted = set(filters.tag)
        kept = [t for t in kept if wanted.issubset(t.get("tags", ()))]
    if (filters.sla or filters.due_before is not None) and reading is not None:
        plan = plan_of_ticket or reading.plan
        if filters.sla:
            states = set(filters.sla)
            kept = [t for t in kept if reading.state(plan(t)) in states]
        if filters.due_before is not None:
            bound = reading.calendar.before(micros(filters.due_before))
            kept = [t for t in kept if (k := reading.due_key(plan(t))) is not None and k < bound]
    return kept


_SORT_FIELD: dict[str, Callable[[Ticket], Any]] = {
    "id": lambda t: t["id"],
    "priority": lambda t: PRIORITY_RANK[t["priority"]],
    "status": lambda t: STATUS_RANK[t["status"]],
    "created_at": lambda t: time_key(t["created_at"]),
    "updated_at": lambda t: time_key(t["updated_at"]),
    "title": lambda t: t["title"].casefold(),
}


def sort_tickets(
    tickets: Iterable[Ticket],
    sort: str = "id",
    reading: Reading | None = None,
    plan_of_ticket: Callable[[Ticket], Plan] | None = None,
) -> list[Ticket]:
    """Sort by a key of SORT_KEYS ('-' prefix: descending); ties stay in ascending id order. due: by the next
    pending due time (the reading's), tickets without one last in both directions."""
    descending, name = sort.startswith("-"), sort.lstrip("-")
    by_id = sorted(tickets, key=_SORT_FIELD["id"])
    if name == "due":
        assert reading is not None, "sort=due needs the reading"
        plan, due_key = plan_of_ticket or reading.plan, reading.due_key

        def key(ticket: Ticket) -> int | None:
            return due_key(plan(ticket))

        with_due = [t for t in by_id if key(t) is not None]
        with_due.sort(key=key, reverse=descending)  # type: ignore[arg-type]
        return with_due + [t for t in by_id if key(t) is None]
    # sorted() is stable even with reverse=True, so equal keys keep ascending ids.
    return by_id if name == "id" and not descending else sorted(by_id, key=_SORT_FIELD[name], reverse=descending)


def paginate(items: Sequence[T], limit: int | None = None, offset: int = 0) -> list[T]:
    """The page of items starting at offset, at most limit long."""
    return list(items[offset : None if limit is None else offset + limit])


def now() -> str:
    """The current UTC time in the file's format, to the microsecond: two changes of a ticket within one second get
    two times, and none is ever later than the clock (history.later_than)."""
    return stored_time(datetime.now(timezone.utc))


def ticket_json(ticket: Ticket) -> bytes:
    """The ticket as compact JSON, as the API answers it."""
    return pydantic_core.to_json(ticket)


def etag_of(ticket_json: bytes) -> str:
    """A strong ETag derived from the ticket's whole content (its JSON)."""
    return '"' + hashlib.blake2b(ticket_json, digest_size=12).hexdigest() + '"'


def etag_matches(header: str, etag: str, *, weak: bool = False) -> bool:
    """Whether an If-Match (strong) or If-None-Match (weak) header value names this ETag. A bare ETag (without
    its quotes, as a shell script may pass it on) is taken as the quoted one, as the command line takes it."""
    tags = [tag.strip() for tag in header.split(",")]
    if weak:
        tags = [tag.removeprefix("W/") for tag in tags]
    return "*" in tags or etag in tags or etag.strip('"') in tags
