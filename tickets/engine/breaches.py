"""SLA breach events: when a ticket's first response or resolution due time passes unmet, an `sla_breached` event
goes into its history, once per ticket and target, the same in both stores.

The event is `{"type": "sla_breached", "actor": null, "changes": {"target": {"from": null, "to": "first_response"},
"due": {"from": null, "to": "2026-11-27T10:30:00Z"}}}` (the target named as a comment's events name their comment),
and its `at` is the moment the breach happened: the due time it passed, or the moment of the change that put the
due time in the past (a higher priority, a ticket reopened, a stricter policy). A breach noticed late (no server
ran at that moment) keeps the time it happened, so an event's `at` may be earlier than the event before it.

Which targets already have their event is kept with the ticket, in the same commit as the event: its hidden field
`breach_events` (like `paused` and `sla_breached`, never shown by the API). A breach is noticed by whichever comes
first: the sweep of the background worker (due_breaches), or a write to the ticket (change_breaches). A target
concluded before (met, or late in data written before these events existed) is never given one afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from tickets.engine.history import Change
from tickets.engine.models import Ticket
from tickets.engine.sla import Calendar, Clock, Plan, Policy, calendar_of, micros, plan_of, timestamp_of

Target = Literal["first_response", "resolution"]
TARGETS: tuple[Target, ...] = ("first_response", "resolution")
FIELD = "breach_events"  # the hidden stored field: the targets whose sla_breached event is in the history
EVENT = "sla_breached"
BATCH = 1000  # tickets a sweep handles in one commit at most (the worker sweeps again until none is left)


@dataclass(frozen=True, slots=True)
class Breach:
    """A target whose due time passed unmet: its due time, and when the breach happened (both stored times)."""

    target: Target
    due: str
    at: str

    def changes(self) -> dict[str, Change]:
        """What its event records."""
        return {"target": {"from": None, "to": self.target}, "due": {"from": None, "to": self.due}}


def recorded(ticket: Ticket | dict[str, Any]) -> list[str]:
    """The targets of the ticket whose breach event is written already."""
    return list(ticket.get("breach_events") or ())


def _clocks(plan: Plan) -> list[tuple[Target, Clock]]:
    return [(t, c) for t, c in zip(TARGETS, (plan.first_response, plan.resolution), strict=True) if c is not None]


def _pending_fixed(plan: Plan, ticket: Ticket | dict[str, Any]) -> list[tuple[Target, Clock]]:
    """The targets still to come, with a due time that does not move (the ticket does not wait), and no event yet."""
    done = recorded(ticket)
    return [(t, c) for t, c in _clocks(plan) if not c.done and not c.moving and t not in done]


def alarm(ticket: Ticket | dict[str, Any], plan: Plan) -> Clock | None:
    """The clock of the ticket's next breach event: the nearest fixed due time of a target still to come without
    its event (its business time: Clock.value; its instant: Clock.due_us); None when no such target."""
    pending = _pending_fixed(plan, ticket)
    return min((c for _, c in pending), key=lambda c: c.value) if pending else None


def due_breaches(
    ticket: Ticket, policy: Policy, now: str, plan: Plan | None = None, calendar: Calendar | None = None
) -> list[Breach]:
    """The breach events a ticket owes at the moment now (the sweep): each target still to come whose fixed due
    time is before now and has no event yet, at its due time. A ticket that waits has no fixed due time (it moves
    with the clock), and one whose due time moved later is judged by its due time now: neither is breached early."""
    plan = plan or plan_of(ticket, policy, calendar or calendar_of(policy))
    now_us = micros(now)
    return [Breach(t, _text(c), _text(c)) for t, c in _pending_fixed(plan, ticket) if c.due_us < now_us]


def change_breaches(old: Ticket, new: Ticket, at: str, policy: Policy) -> list[Breach]:
    """The breach events a change made at the time at brings to light, for the targets without one yet:

    - a target whose due time had passed before the change (the sweep had not written it yet: a server was
      down, or the change came first): at its due time;
    - a target the change itself misses (a higher priority puts its due time in the past, a reopened ticket's
      first response is pending again after its due time, a reply or a close judged late under the new
      priority): at the time of the change.
    """
    if not policy.targets:
        return []
    calendar = calendar_of(policy)
    at_us = micros(at)
    before = dict(_clocks(plan_of(old, policy, calendar)))
    after = dict(_clocks(plan_of(new, policy, calendar)))
    done = recorded(old)
    found: list[Breach] = []
    for target in TARGETS:
        if target in done:
            continue
        was, now = before.get(target), after.get(target)
        if was is not None and not was.done and not was.moving and was.due_us < at_us:
            found.append(Breach(target, _text(was), _text(was)))
        elif was is not None and was.done and was.late:
            continue  # concluded late before these events existed: never given one afterwards
        elif now is not None and _missed(now, at_us):
            found.append(Breach(target, _text(now), at))
    return found


def policy_breaches(ticket: Ticket, old: Policy, new: Policy, at: str) -> list[Breach]:
    """The breach events a change of policy at the time at brings: the targets already past their due time under
    the old policy (at their due time), then those the new policy puts in the past (at the change). Targets
    concluded before are judged again by the new policy (tickets.engine.sla) but given no event."""
    found = due_breaches(ticket, old, at) if old.targets else []
    if not new.targets:
        return found
    named = {b.target for b in found}
    later = due_breaches(_with(ticket, found), new, at)
    return found + [Breach(b.target, b.due, at) for b in later if b.target not in named]


def with_breaches(ticket: Ticket, breaches: list[Breach]) -> Ticket:
    """The ticket once the events of these breaches are written: their targets recorded, and breached for good."""
    if not breaches:
        return ticket
    return {**_with(ticket, breaches), "sla_breached": True}


def _with(ticket: Ticket, breaches: list[Breach]) -> Ticket:
    if not breaches:
        return ticket
    targets = set(recorded(ticket)) | {b.target for b in breaches}
    return {**ticket, "breach_events": [t for t in TARGETS if t in targets]}


def _missed(clock: Clock, at_us: int) -> bool:
    return (clock.done and clock.late) or (not clock.done and not clock.moving and clock.due_us < at_us)


def _text(clock: Clock) -> str:
    return clock.due_text or timestamp_of(clock.due_us)


def event_target(event: dict[str, Any]) -> Any:
    """The target an sla_breached event names (None when it names none)."""
    named = event["changes"].get("target")
    return named.get("to") if isinstance(named, dict) else None
