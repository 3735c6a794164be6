"""What a change does to a ticket beyond the fields it names, the same in both stores: the SLA clocks stop while
a ticket waits or is closed (its `paused` intervals), closing sets resolved_at and reopening clears it, the first
public reply by someone other than the requester sets first_response_at, tags are added and removed, and a target
missed once stays missed (sla_breached)."""

from __future__ import annotations

from typing import Any

from tickets.engine.errors import InvalidChange
from tickets.engine.models import CLOCK_FIELDS, Ticket, TicketCreate, TicketUpdate, complete
from tickets.engine.sla import Policy, micros, plan_of, state_at
from tickets.engine.values import TAGS_MAX, same_person

STOPPED = ("waiting", "closed")  # the statuses in which the SLA clocks stand still


def created(data: TicketCreate, ticket_id: int, at: str) -> Ticket:
    """A new ticket made of a creation's body, at the time at."""
    values = data.model_dump()
    stopped = values["status"] in STOPPED
    ticket = {
        "id": ticket_id,
        **values,
        "created_at": at,
        "updated_at": at,
        "first_response_at": None,
        "resolved_at": at if values["status"] == "closed" else None,
        "paused": [[at, None]] if stopped else [],
        "sla_breached": False,
        "breach_events": [],
    }
    return complete(ticket)  # type: ignore[arg-type]


def changed(old: Ticket, changes: TicketUpdate, at: str, policy: Policy) -> Ticket:
    """The ticket with the changes applied at the time at; the old one itself when nothing changes."""
    given = changes.model_dump(exclude_unset=True)
    if changes.requester is not None:  # whole, its email included even when left out (null)
        given["requester"] = changes.requester.model_dump()
    tags = set(given.pop("tags", old["tags"]))
    tags |= set(given.pop("add_tags", None) or ())
    tags -= set(given.pop("remove_tags", None) or ())
    if len(tags) > TAGS_MAX:
        raise InvalidChange(old["id"], f"{len(tags)} tags; a ticket has at most {TAGS_MAX}", "tags")
    new: Ticket = {**old, **given, "tags": sorted(tags)}  # type: ignore[typeddict-item]
    if new == old:
        return old
    _moved(old, new, at)
    new["updated_at"] = at
    return _judged(old, new, at, policy)


def commented(ticket: Ticket, author: str, internal: bool, at: str, updated_at: str, policy: Policy) -> Ticket:
    """The ticket once a comment is added: updated_at moves; a first public reply from someone other than the
    requester is its first response."""
    new: Ticket = {**ticket, "updated_at": updated_at}
    if new["first_response_at"] is None and not internal and not is_requester(ticket, author):
        new["first_response_at"] = at
    return _judged(ticket, new, at, policy)


def is_requester(ticket: Ticket, who: str) -> bool:
    """Whether who (a name or an email, any case, NFC) is the ticket's requester: ?requester=, first responses."""
    requester = ticket.get("requester")
    if requester is None:
        return False
    return same_person(who, requester["name"]) or (
        requester["email"] is not None and same_person(who, requester["email"])
    )


def _moved(old: Ticket, new: Ticket, at: str) -> None:
    """A change of status stops the clocks (waiting, closed) or starts them again, and closes or reopens."""
    was, now = old["status"] in STOPPED, new["status"] in STOPPED
    if now and not was:
        new["paused"] = [*old["paused"], [at, None]]  # type: ignore[list-item]
    elif was and not now and old["paused"] and old["paused"][-1][1] is None:
        new["paused"] = [*old["paused"][:-1], [old["paused"][-1][0], at]]  # type: ignore[list-item]
    if new["status"] == "closed" and old["status"] != "closed":
        new["resolved_at"] = at
    elif new["status"] != "closed":
        new["resolved_at"] = None


def _judged(old: Ticket, new: Ticket, at: str, policy: Policy) -> Ticket:
    """A target missed before the change, or by it (a late reply, a late close, a higher priority whose due time
    has passed), stays missed: the ticket is breached for good."""
    if not new["sla_breached"] and policy.targets and (_breached(old, policy, at) or _breached(new, policy, at)):
        return {**new, "sla_breached": True}
    return new


def breached_now(ticket: Ticket, policy: Policy, at: str) -> Ticket:
    """The ticket with sla_breached set if its SLA is breached at the time at (before a policy changes)."""
    if not ticket["sla_breached"] and policy.targets and _breached(ticket, policy, at):
        return {**ticket, "sla_breached": True}
    return ticket


def _breached(ticket: Ticket, policy: Policy, at: str) -> bool:
    return state_at(plan_of(ticket, policy), micros(at)) == "breached"


def public(ticket: Ticket | dict[str, Any]) -> dict[str, Any]:
    """The stored fields the API shows (the clocks' own bookkeeping left out)."""
    return {k: v for k, v in ticket.items() if k not in CLOCK_FIELDS}
