"""What the PostgreSQL store computes from a ticket and writes beside it, so that the database can match, order
and count exactly as the engine's functions do over the JSON file:

- the keys of text: the case-folded title (sort=title), the folded search texts (q), the requester's name and
  email in NFC and case-folded (?requester=, as tickets.engine.values.same_person compares them);
- the SLA plan under the current policy (tickets.engine.sla.plan_of), apart from the moment of reading: the next
  pending due time (fixed, in business microseconds, or what is left of it while the ticket waits), whether a
  target is already missed for good, and the business minutes of its first response and resolution. The moment
  of reading adds the rest in SQL (sql.py: the state, due_before, sort=due);
- when the ticket's next SLA breach event falls due (breach_at, tickets.engine.breaches), for the sweep.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from tickets.engine.breaches import alarm
from tickets.engine.sla import Calendar, Plan, Policy, calendar_of, plan_of
from tickets.engine.values import fold_text

# The columns computed from the ticket's own text, then those of its SLA plan, in the order they are written.
TEXT_KEYS = ("title_key", "search_title", "search_description", "requester_keys")
PLAN_COLUMNS = ("due_fixed", "due_left", "plan_breached", "first_response_minutes", "resolution_minutes")
DERIVED = (*TEXT_KEYS, *PLAN_COLUMNS, "breach_at")


def person_key(name: str) -> str:
    """A name or an email as ?requester= compares it: NFC, case-folded (values.same_person)."""
    return unicodedata.normalize("NFC", name).casefold()


def text_keys(ticket: Any) -> list[Any]:
    """title_key, search_title, search_description, requester_keys."""
    requester = ticket.get("requester")
    keys = [] if requester is None else [requester["name"], *([requester["email"]] if requester["email"] else [])]
    return [
        ticket["title"].casefold(),
        fold_text(ticket["title"]),
        fold_text(ticket["description"]),
        sorted({person_key(k) for k in keys}),
    ]


def plan_values(plan: Plan) -> list[Any]:
    """due_fixed, due_left, plan_breached, first_response_minutes, resolution_minutes of a plan."""
    fixed, left = plan.pending()
    return [fixed, left, plan.breached, plan.first_response_minutes, plan.resolution_minutes]


def breach_at(ticket: Any, plan: Plan) -> int | None:
    """When the ticket's next SLA breach event falls due, in business microseconds (tickets.engine.breaches)."""
    clock = alarm(ticket, plan)
    return None if clock is None else clock.value


def derived_values(ticket: Any, policy: Policy, calendar: Calendar | None = None) -> list[Any]:
    """Every derived column of a complete ticket under a policy, in the order of DERIVED."""
    plan = plan_of(ticket, policy, calendar or calendar_of(policy))
    return [*text_keys(ticket), *plan_values(plan), breach_at(ticket, plan)]


def derived(ticket: Any, policy: Policy) -> dict[str, Any]:
    """The derived columns of a complete ticket under a policy, by name."""
    return dict(zip(DERIVED, derived_values(ticket, policy), strict=True))
