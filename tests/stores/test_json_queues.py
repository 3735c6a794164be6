"""The JSON store's SLA index (tickets.stores.json_file.queues): a page in due order, as Queues.by_due reads it
(a merge of its sorted lists, or the wanted tickets' own due times sorted when the merge would pass too many
others), is the page a plain sort of the wanted tickets by their due key gives, whatever the tickets, the clock,
the SLA states asked for and the other filters."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tickets.engine.models import SLA_STATES, Ticket, complete
from tickets.engine.rules import Reading
from tickets.engine.sla import MINUTE, POLICY_EXAMPLE, Policy, micros, timestamp_of
from tickets.stores.json_file.queues import Queues

START = micros("2026-11-23T07:00:00Z")  # Monday 08:00 in Paris: the tickets come over the next two weeks
SPAN = 14 * 24 * 60 * MINUTE
STATUSES = ("open", "in_progress", "waiting", "closed")
PRIORITIES = ("low", "medium", "high", "urgent")
# the sample policy, with no target for low: its tickets are in the state none
POLICY = Policy.model_validate(
    {**POLICY_EXAMPLE, "targets": {k: v for k, v in POLICY_EXAMPLE["targets"].items() if k != "low"}}
)


@st.composite
def tickets(draw: st.DrawFn, ticket_id: int) -> Ticket:
    """A ticket as the store keeps it: created in the two weeks, maybe answered, maybe breached for good, and
    waiting or closed since some moment after its creation (its clocks stopped then)."""
    created = START + draw(st.integers(0, SPAN))
    status = draw(st.sampled_from(STATUSES))
    since = created + draw(st.integers(0, 3 * 24 * 60)) * MINUTE
    answered = draw(st.none() | st.integers(created, since))
    data: dict[str, Any] = {
        "id": ticket_id,
        "title": "t",
        "description": "",
        "status": status,
        "priority": draw(st.sampled_from(PRIORITIES)),
        "assignee": None,
        "created_at": timestamp_of(created),
        "updated_at": timestamp_of(since),
        "first_response_at": None if answered is None else timestamp_of(answered),
        "resolved_at": timestamp_of(since) if status == "closed" else None,
        "paused": [[timestamp_of(since), None]] if status in ("waiting", "closed") else [],
        "sla_breached": draw(st.booleans()),
    }
    return complete(data)  # type: ignore[arg-type]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_a_page_in_due_order_is_the_wanted_tickets_sorted_by_their_due_key(data: st.DataObject) -> None:
    made = [data.draw(tickets(i)) for i in range(1, data.draw(st.integers(0, 80)) + 1)]
    reading = Reading(POLICY, timestamp_of(START + data.draw(st.integers(0, SPAN + 7 * 24 * 60 * MINUTE))))
    plans = {t["id"]: reading.plan(t) for t in made}
    queues = Queues(made, lambda t: plans[t["id"]])
    states = data.draw(st.lists(st.sampled_from(SLA_STATES), unique=True, max_size=3))
    in_states = [t["id"] for t in made if not states or reading.state(plans[t["id"]]) in states]
    # the other filters (a status, a tag...) keep some of them; None: every ticket matched
    others = data.draw(st.none() | st.sets(st.sampled_from([t["id"] for t in made]) if made else st.nothing()))
    wanted = None if others is None and len(in_states) == len(made) else set(in_states) & (others or set(in_states))
    descending = data.draw(st.booleans())
    count = data.draw(st.none() | st.integers(1, 60))

    keyed = [
        (key, i) for i in (in_states if wanted is None else wanted) if (key := reading.due_key(plans[i])) is not None
    ]
    keyed.sort(key=(lambda ki: (-ki[0], ki[1])) if descending else None)
    expected = [i for _, i in keyed][:count]

    assert queues.by_due(wanted, reading, descending, count, states) == expected
