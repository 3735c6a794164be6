"""The help desk's queues over one version of the JSON store: which tickets are in each SLA state, which are due
before a time, and the order of their due times, without computing anything per ticket at each request.

A version's tickets do not change, and the clock changes only two things: a running ticket whose fixed due time
passes becomes breached, and a waiting ticket's due time is B(now) plus what it has left. So the index keeps, once
per version: the tickets whose state does not depend on the clock, the running ones sorted by their fixed due
time (those before now are breached: a binary search), and the due times in order, fixed ones and waiting ones
apart (a waiting ticket's key is what it has left: adding B(now) to each keeps their order). A request then merges
two sorted lists up to the page it needs.

Alarms, kept the same way, says when each ticket's next SLA breach event falls due (tickets.engine.breaches).
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Callable, Iterable
from itertools import islice

from tickets.engine.breaches import alarm
from tickets.engine.models import SlaState, Ticket
from tickets.engine.rules import Reading
from tickets.engine.sla import Plan, micros


class Queues:
    """The SLA index of one version (built on first use, from its cached plans)."""

    def __init__(self, tickets: Iterable[Ticket], plan: Callable[[Ticket], Plan]) -> None:
        self.fixed_state: dict[SlaState, set[int]] = {"none": set(), "breached": set(), "paused": set(), "met": set()}
        self.on_track: set[int] = set()  # running, nothing pending with a fixed due time: on track whatever the time
        running: list[tuple[int, int]] = []  # (the instant its first pending fixed due time passes, id)
        self.waiting: set[int] = set()  # the running ones that wait: paused until that instant
        self.fixed: list[tuple[int, int]] = []  # (due_fixed, id): sort=due's keys that do not move
        self.left: list[tuple[int, int]] = []  # (due_left, id): those of waiting tickets, to add B(now) to
        self.keys: dict[int, tuple[int | None, int | None]] = {}  # id: (due_fixed, due_left), of those with one
        self.breached_fixed: list[tuple[int, int]] = []  # those of the tickets breached for good, apart
        self.breached_left: list[tuple[int, int]] = []
        for ticket in tickets:
            p, ticket_id = plan(ticket), ticket["id"]
            if p.due_fixed is not None:
                self.fixed.append((p.due_fixed, ticket_id))
                if p.breached:
                    self.breached_fixed.append((p.due_fixed, ticket_id))
            if p.due_left is not None:
                self.left.append((p.due_left, ticket_id))
                if p.breached:
                    self.breached_left.append((p.due_left, ticket_id))
            if p.due_fixed is not None or p.due_left is not None:
                self.keys[ticket_id] = (p.due_fixed, p.due_left)
            if not p.targeted:
                self.fixed_state["none"].add(ticket_id)
            elif p.breached:
                self.fixed_state["breached"].add(ticket_id)
            elif p.due_fixed_us is not None:
                running.append((p.due_fixed_us, ticket_id))  # waiting or not: breached once it passes
                if p.status == "waiting":
                    self.waiting.add(ticket_id)
            elif p.status == "waiting":
                self.fixed_state["paused"].add(ticket_id)
            elif p.status == "closed":
                self.fixed_state["met"].add(ticket_id)
            else:
                self.on_track.add(ticket_id)
        running.sort()
        self.running_ids = [ticket_id for _, ticket_id in running]
        self.running_due = [due for due, _ in running]
        for keys in (self.fixed, self.left, self.breached_fixed, self.breached_left):
            keys.sort()
        # the same, latest first, ties by ascending id
        self.fixed_down, self.left_down, self.breached_fixed_down, self.breached_left_down = (
            sorted(keys, key=lambda kt: (-kt[0], kt[1]))
            for keys in (self.fixed, self.left, self.breached_fixed, self.breached_left)
        )

    def in_states(self, states: Iterable[SlaState], reading: Reading) -> set[int]:
        """The ids of the tickets in any of these states at the reading's moment."""
        found: set[int] = set()
        passed = bisect.bisect_left(self.running_due, reading.now_us)  # running_due[:passed] < now
        for state in set(states):
            if state in self.fixed_state:
                found |= self.fixed_state[state]
            if state == "breached":
                found.update(self.running_ids[:passed])
            elif state in ("on_track", "paused"):
                if state == "on_track":
                    found |= self.on_track
                found.update(
                    ticket_id
                    for ticket_id in self.running_ids[passed:]
                    if (ticket_id in self.waiting) == (state == "paused")
                )
        return found

    def due_before(self, time: str, reading: Reading) -> set[int]:
        """The ids of the tickets whose next pending due time is before time."""
        bound = reading.calendar.before(micros(time))
        fixed = self.fixed[: bisect.bisect_left(self.fixed, (bound,))]
        left = self.left[: bisect.bisect_left(self.left, (bound - reading.now_b,))]
        return {ticket_id for _, ticket_id in fixed} | {ticket_id for _, ticket_id in left}

    def by_due(
        self,
        wanted: set[int] | None,
        reading: Reading,
        descending: bool,
        count: int | None,
        states: Iterable[SlaState] = (),
    ) -> list[int]:
        """The ids of the wanted tickets (None: all) that have a due time, nearest first (latest first when
        descending; ties by ascending id), at most count of them; states: the SLA states the wanted tickets are
        in (?sla=; none: any).

        The due times the wanted tickets can be among (_sources) are merged in order, keeping the wanted tickets,
        for as long as that costs less than sorting the wanted tickets' own due times (_keys_of) and merging
        those: the waiting tickets of ?status=waiting come after every running ticket already late."""
        fixed, left = self._sources(reading, descending, set(states))
        if wanted is not None:
            chosen = self._merged(fixed, left, wanted, reading, descending, count, len(wanted) // 4)
            if chosen is not None:
                return chosen
            fixed, left = self._keys_of(wanted, descending)
        return self._merged(fixed, left, None, reading, descending, count, None) or []

    def _keys_of(self, wanted: set[int], descending: bool) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """The fixed and the waiting due times of the wanted tickets, in by_due's order. The page is the one the
        sources give: the wanted tickets are in the states asked for, and a due time the sources leave out for
        one of them (the waiting one of a ticket late by its fixed one) is never its nearer. Sorted from a lookup
        per wanted ticket, not kept by a pass over every source (the 8,000 waiting tickets among 100,000: 53 ms
        for that pass)."""
        fixed: list[tuple[int, int]] = []
        left: list[tuple[int, int]] = []
        keys = self.keys
        for ticket_id in wanted:
            found = keys.get(ticket_id)
            if found is not None:
                if found[0] is not None:
                    fixed.append((found[0], ticket_id))
                if found[1] is not None:
                    left.append((found[1], ticket_id))
        order = (lambda kt: (-kt[0], kt[1])) if descending else None
        fixed.sort(key=order)
        left.sort(key=order)
        return fixed, left

    def _sources(
        self, reading: Reading, descending: bool, states: set[SlaState]
    ) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """The fixed and the waiting due times (in by_due's order) of every ticket that can be in one of these SLA
        states (none: any). Without breached, a fixed due time before now is not among them: it is breached.
        Breached alone (none and met have no due time): those before now, and those of the tickets breached for
        good; without that, sla=breached&sort=-due passed every ticket due after now to keep none."""
        fixed, left = (self.fixed_down, self.left_down) if descending else (self.fixed, self.left)
        if not states or (states & {"on_track", "paused"} and "breached" in states):
            return fixed, left
        bound = reading.calendar.before(reading.now_us)  # a fixed due time before it is past

        def after(keys: list[tuple[int, int]]) -> int:  # how many come before the first one past (descending)
            return bisect.bisect_right(keys, -bound, key=lambda kt: -kt[0])

        if "breached" not in states:
            return (fixed[: after(fixed)] if descending else fixed[bisect.bisect_left(fixed, (bound,)) :]), left
        if descending:
            breached = self.breached_fixed_down
            return breached[: after(breached)] + fixed[after(fixed) :], self.breached_left_down
        breached = self.breached_fixed
        before = bisect.bisect_left(fixed, (bound,))
        return fixed[:before] + breached[bisect.bisect_left(breached, (bound,)) :], self.breached_left

    def _merged(
        self,
        fixed: list[tuple[int, int]],
        left: list[tuple[int, int]],
        wanted: set[int] | None,
        reading: Reading,
        descending: bool,
        count: int | None,
        budget: int | None,
    ) -> list[int] | None:
        """The first count wanted tickets (None: all) of the two lists, merged in order; None once the merge has
        passed budget tickets (None: no limit)."""
        now_b = reading.now_b
        moving = ((key + now_b, ticket_id) for key, ticket_id in left)
        if descending:
            merged = heapq.merge(
                ((-k, i) for k, i in fixed), ((-k, i) for k, i in moving), key=lambda kt: (kt[0], kt[1])
            )
        else:
            merged = heapq.merge(fixed, moving)
        seen: set[int] = set()
        chosen: list[int] = []
        for key, ticket_id in merged:
            if budget is not None:
                budget -= 1
                if budget < 0:
                    return None
            if ticket_id in seen or (wanted is not None and ticket_id not in wanted):
                continue  # a ticket with both keys, met again
            if descending:  # a ticket with both keys: its key is the nearer of the two, which comes second
                fixed_key, left_key = self.keys[ticket_id]
                if fixed_key is not None and left_key is not None and -key != min(fixed_key, left_key + now_b):
                    continue
            seen.add(ticket_id)
            chosen.append(ticket_id)
            if count is not None and len(chosen) >= count:
                break
        return chosen


def page_by_due(
    matched: list[Ticket],
    everything: bool,
    queues: Queues,
    reading: Reading,
    descending: bool,
    limit: int | None,
    offset: int,
    states: Iterable[SlaState] = (),
) -> list[Ticket]:
    """The page of the matched tickets (in id order; everything: they are all the version's; in one of states
    when some are given) by due time, those without one last in id order."""
    by_id = {t["id"]: t for t in matched}
    wanted = None if everything else set(by_id)
    end = None if limit is None else offset + limit
    ordered = queues.by_due(wanted, reading, descending, end, states)
    if end is None or len(ordered) < end:
        keyed = set(ordered) if end is None else set(queues.by_due(wanted, reading, descending, None, states))
        ordered += [t["id"] for t in matched if t["id"] not in keyed]
    return [by_id[i] for i in islice(ordered, offset, end)]


class Alarms:
    """When each ticket's next SLA breach event falls due (tickets.engine.breaches.alarm): (instant, id) in order,
    so that the sweep finds the tickets past theirs with a binary search, never a look at every ticket.

    Built once from a version's plans, then carried from one version to the next this process writes (updated):
    only the changed tickets are looked at again.
    """

    __slots__ = ("at_of", "keys")

    def __init__(self, keys: list[tuple[int, int]], at_of: dict[int, int]) -> None:
        self.keys, self.at_of = keys, at_of  # sorted (instant, id); id -> its instant

    @classmethod
    def build(cls, tickets: Iterable[Ticket], plan: Callable[[Ticket], Plan]) -> Alarms:
        at_of: dict[int, int] = {}
        for ticket in tickets:
            clock = alarm(ticket, plan(ticket))
            if clock is not None:
                at_of[ticket["id"]] = clock.due_us
        return cls(sorted((at, ticket_id) for ticket_id, at in at_of.items()), at_of)

    def updated(self, changed: dict[int, int | None]) -> Alarms:
        """A copy with these tickets' instants (None: no alarm, or the ticket is gone)."""
        keys, at_of = list(self.keys), dict(self.at_of)
        for ticket_id, at in changed.items():
            old = at_of.pop(ticket_id, None)
            if old is not None:
                del keys[bisect.bisect_left(keys, (old, ticket_id))]
            if at is not None:
                at_of[ticket_id] = at
                bisect.insort(keys, (at, ticket_id))
        return Alarms(keys, at_of)

    def due(self, now_us: int, limit: int) -> list[int]:
        """The ids of at most limit tickets whose alarm is before the instant now_us, the earliest first."""
        return [ticket_id for _, ticket_id in self.keys[: min(bisect.bisect_left(self.keys, (now_us,)), limit)]]

    def next_at(self) -> int | None:
        """The earliest alarm, as an instant (microseconds since 1970), or None."""
        return self.keys[0][0] if self.keys else None
