"""The help desk in PostgreSQL (SPEC.md, "Help desk"): the same random day of a help desk played on both stores
with one pinned clock gives the same tickets, the same history (digests included), and the same answers to every
queue (sla, due_before, sort=due, tags, requesters, unassigned) and statistics; bulk changes are all or nothing;
comment corrections keep the chain; a database from before the help desk is upgraded; copies carry the policy
and the clocks."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import pytest

from tickets.engine.errors import CommentNotFound, InvalidChange, NotAuthor, TicketNotFound
from tickets.engine.history import CommentEdit, NewComment, Page
from tickets.engine.models import SLA_STATES, StatsQuery, Ticket, TicketCreate, TicketQuery, TicketUpdate, complete
from tickets.engine.rules import Reading, count, filter_tickets, median, paginate, sort_tickets
from tickets.engine.sla import NO_POLICY, Policy, micros, timestamp_of
from tickets.stores import TicketStore
from tickets.stores.json_file import JsonStore
from tickets.stores.postgres import policy as postgres_policy
from tickets.stores.postgres import sql as postgres_sql
from tickets.stores.postgres import store as postgres_store
from tickets.stores.postgres.derived import derived_values
from tickets.stores.postgres.migrations import MIGRATIONS, VERSIONS
from tickets.stores.postgres.sql import DERIVED, FIELDS, ticket_of
from tickets.stores.postgres.statements import Statements
from tickets.stores.postgres.store import PostgresStore

pytestmark = pytest.mark.postgres
T = TypeVar("T")
DAYS = {day: [["09:00", "12:30"], ["13:30", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
POLICY = Policy.model_validate(
    {
        "timezone": "Europe/Paris",
        "business_hours": {**DAYS, "sat": [], "sun": []},
        "holidays": ["2026-12-25", "2027-01-01"],
        "targets": {
            "urgent": {"first_response": 30, "resolution": 240},
            "high": {"first_response": 60, "resolution": 480},
            "medium": {"first_response": 240},
        },
    }
)
# The same hours, other targets: a change of policy midway (low gets a target, urgent loses its first response).
OTHER_POLICY = POLICY.model_copy(
    update={
        "targets": {
            "urgent": Policy.model_validate({"targets": {"urgent": {"resolution": 120}}}).targets["urgent"],
            "low": Policy.model_validate({"targets": {"low": {"first_response": 90, "resolution": 600}}}).targets[
                "low"
            ],
            "medium": POLICY.targets["medium"],
        }
    }
)
FRIDAY = "2026-11-27T16:50:00Z"  # 17:50 in Paris: ten business minutes before the weekend
STEPS = [60, 20 * 60, 2 * 3600, 17 * 3600, 2 * 86400, 30, 7 * 60]  # seconds the clock moves between two writes


class Clock:
    """One pinned clock for both stores: tests move it, nothing reads the wall clock."""

    def __init__(self, at: str) -> None:
        self.us = micros(at)

    def __call__(self) -> str:
        return timestamp_of(self.us)

    def advance(self, seconds: float) -> None:
        self.us += int(seconds * 1_000_000)


LOOP: list[asyncio.AbstractEventLoop] = []  # one event loop per test: each store keeps its connections


def sync(coroutine: Coroutine[Any, Any, T]) -> T:
    return LOOP[0].run_until_complete(coroutine)


def both(stores: list[TicketStore], method: str, *args: Any, **kwargs: Any) -> list[Any]:
    """The same call of a method on each store; what each answered, or raised."""

    async def one(store: TicketStore) -> Any:
        try:
            return await getattr(store, method)(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 -- compared between the stores
            return exc

    return [sync(one(store)) for store in stores]


def agree(stores: list[TicketStore], method: str, *args: Any, **kwargs: Any) -> Any:
    """The same call on each store: the answer, the same from each (or the same error, raised)."""
    answers = both(stores, method, *args, **kwargs)
    first = answers[0]
    for other in answers[1:]:
        if isinstance(first, Exception):
            assert type(other) is type(first) and str(other) == str(first), (first, other)
        else:
            assert other == first, (first, other)
    if isinstance(first, Exception):
        raise first
    return first


@pytest.fixture
def stores(tmp_path: Path, empty_url: str) -> Iterator[list[TicketStore]]:
    clock = Clock(FRIDAY)
    made: list[TicketStore] = [JsonStore(tmp_path / "tickets.json"), PostgresStore(empty_url)]
    for store in made:
        store.now = clock
    LOOP[:] = [asyncio.new_event_loop()]
    try:
        yield made
    finally:
        for store in made:
            sync(store.close())
        LOOP.pop().close()


def _clock(stores: list[TicketStore]) -> Clock:
    return stores[0].now  # type: ignore[return-value]


def _random_day(stores: list[TicketStore], rng: random.Random, writes: int) -> None:
    """writes random writes of a help desk on both stores, checking they answer alike."""
    clock = _clock(stores)
    people = ["Claire Dubois", "Zoé Martin", "KARIM.benali@example.fr"]
    comments: list[tuple[int, int]] = []
    for step in range(writes):
        clock.advance(rng.choice(STEPS))
        ids = [t["id"] for t in agree(stores, "search", TicketQuery())[0]]
        action = rng.random()
        if not ids or action < 0.25:
            requester = rng.choice([None, {"name": "Claire Dubois", "email": "karim.benali@example.fr"}])
            data = TicketCreate.model_validate(
                {
                    "title": f"Panne n°{step}",
                    "priority": rng.choice(["low", "medium", "high", "urgent"]),
                    "status": rng.choice(["open", "open", "open", "waiting", "closed"]),
                    "assignee": rng.choice([None, "julie"]),
                    "requester": requester,
                    "tags": rng.sample(["vpn", "imprimante", "réseau", "onboarding"], rng.randint(0, 2)),
                }
            )
            agree(stores, "add", data, actor="ana")
        elif action < 0.55:
            change = rng.choice(
                [
                    {"status": "waiting"},
                    {"status": "open"},
                    {"status": "closed"},
                    {"status": "in_progress"},
                    {"priority": rng.choice(["low", "medium", "high", "urgent"])},
                    {"add_tags": ["vpn"]},
                    {"remove_tags": ["vpn"], "assignee": None},
                    {"requester": {"name": "Zoé Martin"}},
                ]
            )
            ticket_id = rng.choice(ids)
            agree(stores, "update", ticket_id, TicketUpdate.model_validate(change), actor="ana")
        elif action < 0.65:
            chosen = rng.sample(ids, min(len(ids), rng.randint(1, 4)))
            change = rng.choice([{"status": "waiting"}, {"status": "closed"}, {"add_tags": ["panne"]}])
            agree(stores, "update_many", chosen, TicketUpdate.model_validate(change), actor="bulk")
        elif action < 0.9:
            ticket_id = rng.choice(ids)
            new = NewComment(rng.choice(people), f"réponse {step}", rng.random() < 0.3)
            comment, _ = agree(stores, "add_comment", ticket_id, new, actor="ana")  # and the same ETag
            comments.append((ticket_id, comment["id"]))
        elif comments:
            ticket_id, comment_id = rng.choice(comments)
            if rng.random() < 0.3:
                agree(stores, "delete_comment", ticket_id, comment_id, None, actor="admin")
                comments.remove((ticket_id, comment_id))
            else:
                edit = CommentEdit.model_validate(
                    rng.choice([{"body": f"corrigé {step}"}, {"internal": rng.random() < 0.5}, {"body": "même"}])
                )
                agree(stores, "edit_comment", ticket_id, comment_id, edit, None, actor="admin")
        if step == writes // 2:
            agree(stores, "set_policy", OTHER_POLICY)


QUERIES: list[dict[str, Any]] = [
    {},
    {"sort": "due"},
    {"sort": "-due"},
    {"sort": "due", "limit": 5},
    {"sort": "-due", "limit": 4, "offset": 3},
    {"sort": "due", "limit": 3, "offset": 40},
    {"sort": "due", "status": ["open", "waiting"]},
    {"sla": ["breached"]},
    {"sla": ["breached"], "limit": 3},
    {"sla": ["breached"], "sort": "-due", "limit": 6},
    {"sla": ["on_track", "paused"], "sort": "due"},
    {"sla": ["met", "none"], "sort": "-priority"},
    {"sla": ["paused"]},
    {"assignee": "none", "sort": "due"},
    {"requester": "claire dubois"},
    {"requester": "KARIM.BENALI@EXAMPLE.FR", "limit": 2},
    {"requester": "zoé martin"},
    {"tag": ["vpn"]},
    {"tag": ["vpn", "panne"], "sort": "-due"},
    {"sort": "status"},
    # pages past the first 64 of each set (their limit is a power of two), and past every ticket
    {"sort": "due", "limit": 70, "offset": 2},
    {"sort": "-due", "limit": 100, "offset": 5},
    {"sort": "due", "limit": 5, "offset": 500},
    # X-Total-Count from tag_counts: a tag, an assignee, both, with statuses and priorities; several tags counted
    {"tag": ["vpn"], "limit": 1},
    {"assignee": "none", "tag": ["vpn"], "sort": "due", "limit": 2},
    {"assignee": "julie", "limit": 1, "sort": "-due"},
    {"assignee": "julie", "tag": ["panne"], "status": ["open", "waiting"], "priority": ["urgent"], "limit": 1},
    {"assignee": "none", "status": ["waiting"], "limit": 1},
    {"tag": ["vpn", "panne"], "limit": 1},
    {"tag": ["absente"], "sort": "due", "limit": 1},
    # one status in id order (the index of status and id), and the SLA states of one status
    {"status": ["waiting"], "limit": 2},
    {"sla": ["paused"], "limit": 2, "offset": 1},
    {"sla": ["met"], "limit": 1},
]


def _queries_agree(stores: list[TicketStore], rng: random.Random) -> None:
    clock = _clock(stores)
    due_before = [timestamp_of(clock.us + rng.randint(-3 * 86400, 5 * 86400) * 1_000_000) for _ in range(4)]
    queries = [
        *QUERIES,
        *({"due_before": d, "sort": "due"} for d in due_before),
        *({"due_before": d, "limit": 1, "sla": rng.sample(SLA_STATES, 2)} for d in due_before),
        *({"sla": [state], "limit": 1} for state in SLA_STATES),  # X-Total-Count from sla_counts
        {"sla": ["on_track", "breached"], "status": ["open"], "priority": ["urgent", "high"], "limit": 1},
        {"due_before": due_before[0]},
        {"due_before": due_before[1], "limit": 1, "priority": ["urgent"]},
    ]
    policy = agree(stores, "policy")
    tickets = sync(stores[0].export())[1]
    for raw in queries:
        query = TicketQuery.model_validate(raw)
        page, total = agree(stores, "search", query)
        answer = agree(stores, "search_json", query)
        # and both are the engine's own answer
        reading = Reading(policy, clock())
        matched = filter_tickets(tickets, query, reading=reading)
        ordered = sort_tickets(matched, query.sort, reading)
        assert [t["id"] for t in page] == [t["id"] for t in paginate(ordered, query.limit, query.offset)], raw
        assert total == len(ordered) == answer[1], raw
        stats_query = StatsQuery.model_validate({k: v for k, v in raw.items() if k not in ("sort", "limit", "offset")})
        stats = agree(stores, "stats", stats_query)
        assert {k: v for k, v in stats.items() if k != "per_day"} == count(matched, reading), raw


@pytest.mark.parametrize(("seed", "dense"), [(1, 0.0), (2, 1.1), (3, postgres_store.DENSE)])
def test_a_random_help_desk_day_is_the_same_on_both_stores(
    stores: list[TicketStore], seed: int, dense: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(postgres_store, "COMPACT_AFTER", 5)  # the counts are folded along the way
    monkeypatch.setattr(postgres_store, "KEY_ROWS_FOLDED", 2)
    monkeypatch.setattr(postgres_store, "PLANS_KEPT", 3 * seed)  # the plans kept for pages: the oldest go
    # a tag or an assignee read as matching many tickets (an index walked in order), few (the planner's choice)
    monkeypatch.setattr(postgres_store, "DENSE", dense)
    rng = random.Random(seed)
    agree(stores, "set_policy", POLICY)
    _random_day(stores, rng, 90)
    clock = _clock(stores)
    for moved in (0, 3600, 3 * 86400):  # the same tickets read later: due times pass, states change
        clock.advance(moved)
        _queries_agree(stores, rng)
    exports = both(stores, "export_all")
    assert exports[0][:2] == exports[1][:2]  # tickets with their clocks, next id
    records = [[(r.kind, r.data, r.digest) for r in e[2].records] for e in exports]
    assert records[0] == records[1]  # the history, byte for byte: the same digests
    for store in stores:
        sync(store.verify())
    viewer = TicketQuery()
    for ticket in sync(stores[0].search(viewer))[0]:
        agree(stores, "comments", ticket["id"], Page(), internal=False)
        agree(stores, "events", ticket["id"], Page(), internal=False)
    agree(stores, "feed", 0, 1000, internal=False)
    assert sync(stores[1].feed(0, 1000, internal=True)) == sync(stores[0].feed(0, 1000, internal=True))


@pytest.mark.parametrize(
    "targets",
    [
        {p: {"first_response": 30, "resolution": 240} for p in ("low", "medium", "high", "urgent")},  # every one
        {},  # none: every ticket's state is none
        {"low": {"resolution": 600}},
    ],
)
def test_the_queues_agree_whichever_priorities_have_a_target(
    stores: list[TicketStore], targets: dict[str, Any]
) -> None:
    """The SLA filters say nothing of the priorities when all or none have a target (sql.sla_clause): the same
    answers as the engine's."""
    rng = random.Random(13)
    agree(stores, "set_policy", POLICY)
    _random_day(stores, rng, 40)
    agree(
        stores, "set_policy", POLICY.model_copy(update={"targets": Policy.model_validate({"targets": targets}).targets})
    )
    for moved in (0, 2 * 86400):
        _clock(stores).advance(moved)
        _queries_agree(stores, rng)


def test_counts_of_the_sla_filters_are_exact_wherever_the_bound_falls_in_its_bucket(
    stores: list[TicketStore],
) -> None:
    """X-Total-Count of ?sla= and due_before when many tickets fall due in the buckets of sla_counts that hold the
    bounds: read minute after minute, the bound moves through a bucket (2^32 business microseconds, some 72
    minutes), each side of it counted in turn (sql.sla_count), in the three sets (fixed, waiting, both)."""
    clock = _clock(stores)
    agree(stores, "set_policy", POLICY)
    clock.us = micros("2026-11-30T08:00:00Z")  # Monday 9:00 in Paris
    for i in range(60):
        priority = ["urgent", "high"][i % 2]
        ticket = agree(stores, "add", TicketCreate(title=f"n{i}", priority=priority, status="open"))
        if i % 5 == 0:  # waiting: its clocks stop (due_left)
            agree(stores, "update", ticket["id"], TicketUpdate(status="waiting"))
        clock.advance(90)
    agree(stores, "update", 1, TicketUpdate(status="open"))  # back from waiting: late, breached for good
    clock.advance(3 * 3600)
    agree(stores, "update", 1, TicketUpdate(status="waiting"))  # a fixed due time and what is left: both sets
    start = clock.us
    for minute in range(0, 200, 7):
        clock.us = start - 3 * 3600_000_000 + minute * 60_000_000
        reading = Reading(POLICY, clock())
        tickets = sync(stores[0].export())[1]
        for raw in (
            {"sla": ["breached"]},
            {"sla": ["on_track", "paused"]},
            {"sla": ["on_track"], "priority": ["urgent"]},
            {"due_before": timestamp_of(clock.us + 40 * 60_000_000)},
            {"due_before": timestamp_of(clock.us + 40 * 60_000_000), "sla": ["on_track", "breached"]},
        ):
            query = TicketQuery.model_validate({**raw, "limit": 1})
            expected = len(filter_tickets(tickets, query, reading=reading))
            assert agree(stores, "search", query)[1] == expected, (minute, raw)


AROUND_THE_64TH = ((64, 0), (50, 14), (1, 63), (2, 63))  # pages that end at a branch's n, or cross it


def _paged_as_the_engine(
    stores: list[TicketStore],
    raw: dict[str, Any],
    ordered: list[Ticket],
    pages: tuple[tuple[int, int], ...],
    *context: Any,
    counted: bool = True,
) -> None:
    """Each page (limit, offset) of the query raw is the same from both stores, the engine's own page of ordered
    (its matching tickets in its order); counted: and X-Total-Count is how many they are."""
    for limit, offset in pages:
        page, total = agree(stores, "search", TicketQuery.model_validate({**raw, "limit": limit, "offset": offset}))
        expected = [t["id"] for t in paginate(ordered, limit, offset)]
        assert [t["id"] for t in page] == expected, (*context, raw, limit, offset)
        if counted:
            assert total == len(ordered), (*context, raw, limit, offset)


def _fifteen_waiting(stores: list[TicketStore]) -> Clock:
    """The policy set; on Monday 9:00 in Paris, 15 urgent tickets, put to wait one minute after another (29 to 15
    of their 30 minutes left); the clock then at 9:15."""
    clock = _clock(stores)
    agree(stores, "set_policy", POLICY)
    clock.us = micros("2026-11-30T08:00:00Z")  # Monday 9:00 in Paris
    waiting = [agree(stores, "add", TicketCreate(title=f"w{i}", priority="urgent"))["id"] for i in range(15)]
    for ticket_id in waiting:  # waiting one minute after another: 29 to 15 of their 30 minutes left
        clock.advance(60)
        agree(stores, "update", ticket_id, TicketUpdate(status="waiting"))
    return clock


def test_pages_in_due_order_merge_the_waiting_tickets_among_many_others(stores: list[TicketStore]) -> None:
    """sort=due without filters reads the waiting tickets only up to the n-th key of the others (sql._keyed,
    bounded): with more than a branch's n of those (64), pages whose tickets mix both, before, across and after
    that n-th key, are the engine's own."""
    clock = _fifteen_waiting(stores)
    for i in range(75):  # due every 30 seconds from 9:45, among the waiting tickets' due times (10:07 to 10:21)
        agree(stores, "add", TicketCreate(title=f"n{i}", priority="urgent"))
        clock.advance(30)
    reading = Reading(POLICY, clock())
    tickets = sync(stores[0].export())[1]
    ordered = sort_tickets(tickets, "due", reading)
    ranks = [i for i, t in enumerate(ordered) if t["status"] == "waiting"]
    assert ranks[0] < 64 < ranks[-1], ranks  # on both sides of the 64th
    pages = ((50, 0), (20, 40), (5, 55), (10, 60), (30, 50), (64, 0), (3, 88))
    _paged_as_the_engine(stores, {"sort": "due"}, ordered, pages)


def test_pages_in_descending_due_order_merge_the_others_among_many_waiting(stores: list[TicketStore]) -> None:
    """sort=-due with more than a branch's n (64) waiting tickets, which come first, and running ones among them:
    pages before, across and after the n-th waiting key are the engine's own."""
    clock = _clock(stores)
    agree(stores, "set_policy", POLICY)
    clock.us = micros("2026-11-30T08:00:00Z")  # Monday 9:00 in Paris
    waiting = [agree(stores, "add", TicketCreate(title=f"w{i}", priority="high"))["id"] for i in range(80)]
    for ticket_id in waiting:  # waiting ten seconds after another: 60 minutes to 47 left for their first response
        clock.advance(10)
        agree(stores, "update", ticket_id, TicketUpdate(status="waiting"))
    for i in range(30):  # due every 30 seconds from 10:13, among the waiting tickets' (10:15 to 10:28)
        agree(stores, "add", TicketCreate(title=f"n{i}", priority="high"))
        clock.advance(30)
    reading = Reading(POLICY, clock())
    tickets = sync(stores[0].export())[1]
    ordered = sort_tickets(tickets, "-due", reading)
    ranks = [i for i, t in enumerate(ordered) if t["status"] != "waiting"]
    assert ranks[0] < 64 < ranks[-1], ranks  # on both sides of the 64th
    pages = ((50, 0), (20, 40), (5, 55), (10, 60), (30, 50), (64, 0), (3, 100))
    _paged_as_the_engine(stores, {"sort": "-due"}, ordered, pages)


def test_a_descending_page_keeps_a_fixed_due_time_equal_to_the_nth_waiting_one(stores: list[TicketStore]) -> None:
    """sort=-due: a running ticket due at the very key of the n-th (64th) waiting one, with a smaller id, is the
    n-th of the page, at the end of what each set gives."""
    clock = _clock(stores)
    agree(stores, "set_policy", POLICY)
    clock.us = micros("2026-11-30T08:50:00Z")  # Monday 9:50 in Paris
    early = [agree(stores, "add", TicketCreate(title=f"e{i}", priority="urgent"))["id"] for i in range(20)]
    clock.advance(300)
    for ticket_id in early:  # 25 minutes left: due before the others
        agree(stores, "update", ticket_id, TicketUpdate(status="waiting"))
    clock.us = micros("2026-11-30T09:00:00Z")  # 10:00, and the clock stands still
    running = agree(stores, "add", TicketCreate(title="due at 10:30", priority="urgent"))["id"]
    for priority, many in (("high", 63), ("urgent", 1)):  # waiting at once: 60 minutes left, then 30 (10:30)
        for i in range(many):
            ticket_id = agree(stores, "add", TicketCreate(title=f"w{i}", priority=priority))["id"]
            agree(stores, "update", ticket_id, TicketUpdate(status="waiting"))
    reading = Reading(POLICY, clock())
    ordered = sort_tickets(sync(stores[0].export())[1], "-due", reading)
    assert ordered[63]["id"] == running and ordered[64]["status"] == "waiting"  # before the waiting one due with it
    _paged_as_the_engine(stores, {"sort": "-due"}, ordered, AROUND_THE_64TH, counted=False)


def test_an_ascending_page_keeps_a_waiting_key_equal_to_the_nth_fixed_one(stores: list[TicketStore]) -> None:
    """sort=due reads the waiting keys up to the n-th fixed due time, that one included (sql._keyed, bounded): a
    waiting ticket due at that very time, with a smaller id, is the n-th of the page."""
    clock = _clock(stores)
    agree(stores, "set_policy", POLICY)
    clock.us = micros("2026-11-30T08:40:00Z")  # Monday 9:40 in Paris
    for i in range(63):  # due from 10:10 to 10:30, before the others
        agree(stores, "add", TicketCreate(title=f"r{i}", priority="urgent"))
        clock.advance(19)
    clock.us = micros("2026-11-30T09:00:00Z")  # 10:00, and the clock stands still
    waiting = agree(stores, "add", TicketCreate(title="waits with 30 minutes left", priority="urgent"))["id"]
    agree(stores, "update", waiting, TicketUpdate(status="waiting"))
    for i in range(10):  # due at 10:30 with it, their ids after its
        agree(stores, "add", TicketCreate(title=f"n{i}", priority="urgent"))
    reading = Reading(POLICY, clock())
    ordered = sort_tickets(sync(stores[0].export())[1], "due", reading)
    assert ordered[63]["id"] == waiting and ordered[64]["status"] == "open"  # before the others due with it
    _paged_as_the_engine(stores, {"sort": "due"}, ordered, AROUND_THE_64TH, counted=False)


def test_pages_of_the_unassigned_in_due_order_bound_their_waiting_tickets_by_their_own(
    stores: list[TicketStore],
) -> None:
    """?assignee=none&sort=due reads the unassigned waiting tickets only up to the n-th key of the unassigned others
    (sql._keyed, bounded; migration 13), not of all the others: with the assigned ones due first, a bound taken from
    every ticket would leave out waiting tickets due before the unassigned n-th. Pages across it, in both
    directions, are the engine's own."""
    clock = _fifteen_waiting(stores)
    for i in range(150):  # due every 15 seconds from 9:45, one in two assigned
        agree(stores, "add", TicketCreate(title=f"n{i}", priority="urgent", assignee="ana" if i % 2 else None))
        clock.advance(15)
    reading = Reading(POLICY, clock())
    tickets = sync(stores[0].export())[1]
    for sort in ("due", "-due"):
        raw = {"assignee": "none", "sort": sort}
        ordered = sort_tickets(filter_tickets(tickets, TicketQuery.model_validate(raw), reading=reading), sort, reading)
        if sort == "due":  # the unassigned waiting tickets on both sides of the 64th; the assigned ones' 64th before
            ranks = [i for i, t in enumerate(ordered) if t["status"] == "waiting"]
            assert ranks[0] < 64 < ranks[-1], ranks
            everyone = sort_tickets([t for t in tickets if t["status"] != "waiting"], sort, reading)
            first_waiting = reading.now_b + reading.plan(ordered[ranks[0]]).due_left  # type: ignore[operator]
            assert reading.plan(everyone[63]).due_fixed < first_waiting, "a bound from every ticket would cut some"
        pages = ((50, 0), (20, 40), (5, 55), (10, 60), (30, 50), (64, 0), (3, 87))
        _paged_as_the_engine(stores, raw, ordered, pages)


def test_pages_in_due_order_read_the_tickets_with_both_due_times_in_order(stores: list[TicketStore]) -> None:
    """Tickets that began to wait once a target was missed have both due times; sort=due reads those whose fixed
    due time is not after now in its order, and the others (the clock set back) by their computed key (sql.BRANCHES):
    with more than a branch's n (64) of them among as many others, pages in both directions, with filters, are the
    engine's own."""
    clock = _clock(stores)
    agree(stores, "set_policy", POLICY)
    clock.us = micros("2026-11-30T08:00:00Z")  # Monday 9:00 in Paris
    ids = []
    for i in range(150):  # first responses due every 20 seconds from 9:30
        ids.append(agree(stores, "add", TicketCreate(title=f"t{i}", priority="urgent", tags=["vpn"] * (i % 2)))["id"])
        clock.advance(20)
    clock.us = micros("2026-11-30T09:20:00Z")  # 10:20: every first response missed
    for ticket_id in ids[::3] + ids[1::3]:  # two thirds wait: a fixed due time (missed) and what is left
        agree(stores, "update", ticket_id, TicketUpdate(status="waiting"))
    raws: list[dict[str, Any]] = [
        {},
        {"status": ["waiting"]},
        {"status": ["open", "in_progress"]},  # each on its own in the third set too (nearly all its tickets wait)
        {"sla": ["on_track", "met"]},
        {"sla": ["breached"]},
        {"tag": ["vpn"]},
        {"assignee": "none", "status": ["open", "waiting"]},
    ]
    # a file edited by hand: some of them open with their clock still stopped (the third set, not waiting)
    next_id, tickets = sync(stores[0].export())
    edited = [
        Ticket(**{**t, "status": "open"}) if t["status"] == "waiting" and t["id"] % 5 == 0 else t for t in tickets
    ]
    for store in stores:
        sync(store.replace_all(next_id, edited, replace=True, policy=POLICY))
    for moment in ("2026-11-30T09:20:00Z", "2026-11-30T08:10:00Z"):  # then 9:10: the fixed due times are ahead
        clock.us = micros(moment)
        reading = Reading(POLICY, clock())
        tickets = sync(stores[0].export())[1]
        plans = [reading.plan(t) for t in tickets]
        paired = [p for p in plans if None not in p.pending()]
        assert len(paired) == 100 and len(tickets) - len(paired) == 50
        assert 10 < sum(p.status == "open" for p in paired) < 50
        ahead = [p for p in paired if p.due_fixed is not None and p.due_fixed > reading.now_b]
        assert len(ahead) == (0 if moment.endswith("09:20:00Z") else 100), len(ahead)
        for raw in raws:
            for sort in ("due", "-due"):
                matched = filter_tickets(tickets, TicketQuery.model_validate(raw), reading=reading)
                ordered = sort_tickets(matched, sort, reading)
                pages = ((50, 0), (10, 60), (30, 50), (64, 0), (5, 70), (100, 0), (3, 140))
                _paged_as_the_engine(stores, {**raw, "sort": sort}, ordered, pages, moment)


def test_pages_of_some_statuses_in_due_order_read_each_status_on_its_own(stores: list[TicketStore]) -> None:
    """sort=due with statuses or SLA states of some statuses reads each status of a set on its own (sql._keyed,
    migration 10): pages across the 64 of a status, in both directions, with other filters, are the engine's."""
    clock = _clock(stores)
    agree(stores, "set_policy", POLICY)
    clock.us = micros("2026-11-30T08:00:00Z")  # Monday 9:00 in Paris
    rng = random.Random(10)
    for i in range(180):
        priority = rng.choice(["urgent", "high", "medium", "low"])
        tags = ["vpn"] if i % 3 == 0 else []
        ticket = agree(stores, "add", TicketCreate(title=f"t{i}", priority=priority, tags=tags))
        clock.advance(rng.choice([20, 40, 600]))
        # most running, a few waiting, some closed; some waiting or closed once their first target passed
        status = rng.choice(["open", "open", "in_progress", "waiting", "closed"] if i % 2 else ["open", "in_progress"])
        if status != "open":
            agree(stores, "update", ticket["id"], TicketUpdate(status=status))
    clock.advance(3 * 3600)  # targets pass: breached tickets in every set
    urgent = [t["id"] for t in sync(stores[0].export())[1] if t["priority"] == "urgent" and t["status"] == "open"]
    for ticket_id in urgent[:8]:  # waiting once their first response is late: a fixed and a moving due time
        agree(stores, "update", ticket_id, TicketUpdate(status="waiting"))
    high = [t["id"] for t in sync(stores[0].export())[1] if t["priority"] == "high" and t["status"] == "open"]
    for i, ticket_id in enumerate(high[-12:]):  # answered late: breached for good, their resolution still ahead
        agree(stores, "add_comment", ticket_id, NewComment("ana", "réponse", False), actor="ana")
        if i % 2:
            agree(stores, "update", ticket_id, TicketUpdate(status="waiting"))
    reading = Reading(POLICY, clock())
    tickets = sync(stores[0].export())[1]
    paired = [t for t in tickets if None not in reading.plan(t).pending()]
    assert len(paired) >= 2, paired  # the third set (sql.BRANCHES)
    plans = [reading.plan(t) for t in tickets]  # breached for good, in each set: a fixed due time ahead, a moving one
    ahead = [p for p in plans if p.breached and p.due_left is None and (p.due_fixed_us or 0) > reading.now_us]
    moving = [p for p in plans if p.breached and p.due_left is not None and p.due_fixed is None]
    assert len(ahead) >= 2 and len(moving) >= 2, (ahead, moving)
    counted = {status: sum(t["status"] == status for t in tickets) for status in ("open", "in_progress", "waiting")}
    assert max(counted.values()) > 64 and min(counted.values()) > 5, counted  # past a branch's 64
    raws: list[dict[str, Any]] = [
        {"status": ["waiting"]},
        {"status": ["open"]},
        {"status": ["in_progress", "waiting"]},
        {"status": ["closed"]},  # none has a due time: the tail alone
        {"status": ["open", "in_progress", "closed"]},
        {"sla": ["on_track"]},
        {"sla": ["paused"]},
        {"sla": ["paused", "met"]},
        {"sla": ["on_track", "paused"], "status": ["waiting", "closed"]},
        {"sla": ["paused"], "status": ["open"]},  # no status left: nothing
        {"status": ["waiting", "open"], "tag": ["vpn"]},
        {"status": ["open"], "priority": ["urgent", "medium"], "assignee": "none"},
        # breached: those breached for good apart from those whose fixed due time is past (sql._pieces)
        {"sla": ["breached"]},
        {"sla": ["breached", "paused"]},
        {"sla": ["breached", "on_track"], "status": ["open", "waiting"]},
        {"sla": ["breached", "none"], "priority": ["high", "low"]},
        {"sla": ["breached", "met"], "tag": ["vpn"]},
    ]
    for raw in raws:
        for sort in ("due", "-due"):
            matched = filter_tickets(tickets, TicketQuery.model_validate(raw), reading=reading)
            ordered = sort_tickets(matched, sort, reading)
            pages = ((50, 0), (10, 60), (30, 50), (64, 0), (5, 70), (100, 0), (3, 170))
            _paged_as_the_engine(stores, {**raw, "sort": sort}, ordered, pages)


def test_counts_of_the_sla_filters_see_every_write_of_another_server(empty_url: str) -> None:
    """The parts of a count of ?sla= a server keeps (store.py: _sla_kept, with the snapshot they were read in) are
    used only while nothing was written: another server's write, and a transaction still open then committed, are
    counted at once. Between them, a count reads the sums over sla_counts once, then the due times of its bound's
    bucket (a Tally), then nothing: no statement, until the clock passes the next due time that changes a ticket's
    state (the Tally reads it ahead) or leaves the bucket."""
    clock = Clock(FRIDAY)
    LOOP[:] = [asyncio.new_event_loop()]
    one, other = PostgresStore(empty_url), PostgresStore(empty_url)
    seen: list[str] = []  # for each count: read (the sums), kept (a statement, the sums kept), none (no statement)
    counted = one._sla_total

    def spy(count: Any, kept: Any, rows: list[tuple[Any, ...]]) -> int:
        seen.append("read" if rows[0][1] is not None else "kept")
        return counted(count, kept, rows)

    one._sla_total = spy  # type: ignore[method-assign]
    try:
        for store in (one, other):
            store.now = clock
        sync(other.set_policy(POLICY))
        for i in range(8):
            sync(other.add(TicketCreate(title=f"n{i}", priority=["urgent", "high"][i % 2])))
        clock.advance(3 * 86400)  # Monday 17:50 in Paris: all late since the morning, far from the bound's bucket
        breached = TicketQuery(sla=["breached"], limit=1)
        on_track = TicketQuery(sla=["on_track"], limit=1)

        def totals() -> tuple[int, int]:
            found = []
            for query in (breached, on_track):
                before = len(seen)
                found.append(sync(one.search(query))[1])
                if len(seen) == before:
                    seen.append("none")
            return found[0], found[1]

        assert totals() == (8, 0) and seen == ["read", "read"]
        assert totals() == (8, 0) and seen[-2:] == ["kept", "kept"]  # nothing written: the sums kept
        assert totals() == (8, 0) and seen[-2:] == ["none", "none"]  # and the Tallies: no statement
        sync(other.add(TicketCreate(title="new", priority="urgent")))  # due tomorrow morning
        sync(other.add(TicketCreate(title="new", priority="high")))
        assert totals() == (8, 2) and seen[-2:] == ["read", "read"]
        sync(other.delete(1))
        assert totals() == (7, 2) and seen[-2:] == ["read", "read"]
        with psycopg.connect(empty_url) as conn:
            conn.execute("DELETE FROM tickets WHERE id IN (2, 9)")  # a transaction left open
            # not committed: not counted (the snapshot is the same: its rows are those of a transaction to come)
            assert totals() == (7, 2) and seen[-2:] == ["kept", "kept"]
            assert totals() == (7, 2) and seen[-2:] == ["none", "none"]
            conn.commit()
            assert totals() == (6, 1) and seen[-2:] == ["read", "read"]
        # Tuesday, nothing written: the bound moves into a new bucket (the sums read again), on in it (its due times
        # read: a Tally, up to the next one that changes a state, ticket 10's at 9:50 in Paris), past that due time
        # (read on), then back (nothing read)
        moves = [("2026-12-01T08:30:00Z", (6, 1), "read"), ("2026-12-01T08:35:00Z", (6, 1), "kept")]
        moves += [("2026-12-01T08:45:00Z", (6, 1), "none"), ("2026-12-01T08:55:00Z", (7, 0), "kept")]
        moves += [("2026-12-01T08:41:00Z", (6, 1), "none")]
        buckets = set()
        for at, expected, kind in moves:
            clock.us = micros(at)
            buckets.add(Reading(POLICY, clock()).calendar.before(clock.us) >> postgres_sql.BUCKET)
            assert totals() == expected and seen[-2:] == [kind, kind], at
        assert len(buckets) == 1  # one bucket, away from Monday's
    finally:
        for store in (one, other):
            sync(store.close())
        LOOP.pop().close()


def test_a_statement_kept_for_its_query_is_the_one_built_at_each_reading() -> None:
    """statements.py builds the statements of a listing once for its query, policy and buckets of its bounds, then
    gives them the values of each reading (sql.Bound): what it gives is what is built afresh for that reading, as
    the clock moves within a bucket and into others, for the page, the end of a page in due order and the counts."""
    kept = Statements()
    queries = [
        TicketQuery.model_validate(raw)
        for raw in (
            {"sla": ["breached"], "limit": 50},
            {"sort": "due", "limit": 50, "offset": 20},
            {"sort": "-due", "limit": 50},
            {"status": ["waiting"], "sort": "due", "limit": 50},
            {"sla": ["breached"], "sort": "-due", "limit": 50},
            {"sla": ["on_track", "paused"], "sort": "due", "limit": 50},
            {"sla": ["paused", "none"], "priority": ["urgent", "low"], "sort": "-due", "limit": 20, "offset": 40},
            {"due_before": "2026-11-30T16:00:00Z", "limit": 50, "offset": 50},
            {"due_before": "2026-12-01T09:00:00Z", "sla": ["on_track", "breached"], "sort": "-due", "limit": 10},
            {"status": ["open"], "sort": "-priority", "limit": 50},
            {"assignee": "none", "tag": ["vpn"], "sort": "due", "limit": 50},
            {"q": "imprimante", "requester": "julie", "sort": "updated_at"},
        )
    ]
    start = micros("2026-11-30T08:00:00Z")  # Monday 9:00 in Paris
    for minutes in (0, 1, 7, 75, 600, 24 * 60, 24 * 60 + 1, 3 * 24 * 60):
        reading = Reading(POLICY, timestamp_of(start + minutes * 60_000_000 + 123))
        for query in queries:
            for dense in (False, True):
                assert kept.page(query, reading, dense) == Statements().page(query, reading, dense), query
                assert kept.tail(query, reading, 3, dense) == Statements().tail(query, reading, 3, dense), query
            assert kept.count(query, reading) == Statements().count(query, reading), query
            if postgres_sql.counted_by_sla_counts(query):
                assert kept.sla_count(query, reading) == postgres_sql.sla_count(query, reading), query


def test_derived_columns_follow_the_policy_at_every_write(stores: list[TicketStore], empty_url: str) -> None:
    rng = random.Random(7)
    agree(stores, "set_policy", POLICY)
    _random_day(stores, rng, 40)
    with psycopg.connect(empty_url) as conn:
        policy = OTHER_POLICY
        rows = conn.execute(f"SELECT {', '.join(FIELDS)}, {', '.join(DERIVED)} FROM tickets ORDER BY id").fetchall()
        for row in rows:
            ticket = ticket_of(row)
            assert list(row[len(FIELDS) :]) == derived_values(ticket, policy), ticket["id"]


def test_a_change_of_policy_keeps_the_breaches_of_the_old_one(stores: list[TicketStore]) -> None:
    clock = _clock(stores)
    agree(stores, "set_policy", POLICY)
    urgent = agree(stores, "add", TicketCreate(title="Serveur tombé", priority="urgent"))
    clock.advance(3 * 86400 + 3600)  # Monday: its 30 business minutes are long gone
    assert [t["id"] for t in agree(stores, "search", TicketQuery(sla=["breached"]))[0]] == [urgent["id"]]
    agree(stores, "set_policy", POLICY.model_copy(update={"targets": {}}))  # no target left
    assert sync(stores[1].get(urgent["id"]))["sla_breached"] is True
    assert agree(stores, "stats", StatsQuery())["sla"]["none"] == 1
    agree(stores, "set_policy", POLICY)  # the target back: breached for good
    assert agree(stores, "stats", StatsQuery())["sla"]["breached"] == 1
    assert agree(stores, "set_policy", POLICY) == POLICY  # the same policy: nothing to do


def test_a_bulk_change_is_all_or_nothing(stores: list[TicketStore]) -> None:
    for title in ("un", "deux", "trois"):
        agree(stores, "add", TicketCreate(title=title, tags=[f"t{i}" for i in range(18)]))
    before = agree(stores, "export_all")
    with pytest.raises(TicketNotFound, match="ticket 9 not found"):
        agree(stores, "update_many", [3, 9, 1, 8], TicketUpdate(status="closed"), actor="bulk")
    with pytest.raises(InvalidChange, match="21 tags"):
        agree(stores, "update_many", [1, 2], TicketUpdate(add_tags=["a", "b", "c"]), actor="bulk")
    assert agree(stores, "export_all") == before  # nothing changed, no event
    agree(stores, "update", 2, TicketUpdate(status="closed"))
    done = agree(stores, "update_many", [3, 2, 1], TicketUpdate(status="closed"), actor="bulk")
    assert [t["id"] for t in done] == [3, 2, 1] and {t["status"] for t in done} == {"closed"}
    events = sync(stores[1].feed(0, 100))
    assert [(e["ticket_id"], e["type"], e["actor"]) for e in events[-2:]] == [
        (3, "updated", "bulk"),  # in the order of ids
        (1, "updated", "bulk"),
    ]


def test_comment_corrections_are_events_and_the_chain_holds(stores: list[TicketStore]) -> None:
    clock = _clock(stores)
    agree(stores, "add", TicketCreate(title="VPN", requester={"name": "Claire Dubois"}))
    note, _ = agree(stores, "add_comment", 1, NewComment("karim", "note interne", True))
    reply, _ = agree(stores, "add_comment", 1, NewComment("Karim", "Le technicien passe."))
    assert sync(stores[1].get(1))["first_response_at"] == reply["created_at"]
    updated_at = sync(stores[1].get(1))["updated_at"]
    clock.advance(60)
    with pytest.raises(NotAuthor, match="only its author or an admin key"):
        agree(stores, "edit_comment", 1, reply["id"], CommentEdit(body="x"), "julie")
    same = agree(stores, "edit_comment", 1, reply["id"], CommentEdit(body="Le technicien passe."), "Karim")
    assert same == reply  # nothing changes: nothing recorded
    fixed = agree(stores, "edit_comment", 1, reply["id"], CommentEdit(body="Il passe demain."), "Karim")
    assert fixed["body"] == "Il passe demain." and fixed["edited_at"] == clock()
    agree(stores, "edit_comment", 1, note["id"], CommentEdit(internal=False), None)
    agree(stores, "delete_comment", 1, reply["id"], "Karim")
    with pytest.raises(CommentNotFound):
        agree(stores, "comment", 1, reply["id"])
    assert agree(stores, "comments", 1, Page())[1] == 1
    types = [e["type"] for e in agree(stores, "events", 1, Page())[0]]
    assert types == ["created", "commented", "commented", "comment_edited", "comment_edited", "comment_deleted"]
    exports = both(stores, "export_all")
    assert [(r.kind, r.digest) for r in exports[0][2].records] == [(r.kind, r.digest) for r in exports[1][2].records]
    for store in stores:
        report = sync(store.verify())
        assert report.erased == 1
    assert sync(stores[1].get(1))["updated_at"] == updated_at  # a correction leaves the ticket as it is


def test_a_copy_carries_the_policy_clocks_and_corrections_both_ways(
    stores: list[TicketStore], tmp_path: Path, postgres: Any
) -> None:
    json_store, pg = stores
    rng = random.Random(11)
    agree(stores, "set_policy", POLICY)
    _random_day(stores, rng, 40)

    async def copy(source: TicketStore, target: TicketStore) -> None:
        next_id, tickets, history = await source.export_all()
        await target.replace_all(next_id, tickets, replace=True, history=history, policy=await source.policy())

    back = JsonStore(tmp_path / "back.json")
    again = PostgresStore(postgres.url(postgres.new_database()))
    for store in (back, again):
        store.now = json_store.now
    sync(copy(pg, back))
    sync(copy(back, again))
    copies: list[TicketStore] = [json_store, pg, back, again]
    stores += [back, again]  # closed with the others
    agree(copies, "policy")
    agree(copies, "export_all")
    _queries_agree(copies, rng)
    for ticket in sync(pg.search(TicketQuery()))[0]:
        agree(copies, "comments", ticket["id"], Page())
    for each in copies:
        sync(each.verify())


def test_a_database_from_before_the_help_desk_is_upgraded(empty_url: str) -> None:
    created, changed = "2026-11-20T09:14:00Z", "2026-11-21T10:15:30.25Z"
    old_tickets = [
        {
            "id": i,
            "title": "Écran",
            "description": "",
            "status": status,
            "priority": "high",
            "assignee": None,
            "created_at": created,
            "updated_at": changed,
        }
        for i, status in enumerate(("open", "closed", "in_progress"), start=1)
    ]
    with psycopg.connect(empty_url, autocommit=True) as conn:  # the tables as version 4 made them, and its rows
        conn.execute("CREATE TABLE tickets_schema (version integer NOT NULL)")
        for number, migration in enumerate(MIGRATIONS[:4], start=1):
            conn.execute(migration)
            conn.execute("INSERT INTO tickets_schema (version) VALUES (%s)", (number,))
        for t in old_tickets:
            conn.execute(
                "INSERT INTO tickets (id, title, description, status, priority, assignee, created_at, updated_at, "
                "title_key, search_title, search_description) VALUES (%s, %s, '', %s, 'high', NULL, %s, %s, "
                "'écran', 'ecran', '')",
                (t["id"], t["title"], t["status"], t["created_at"], t["updated_at"]),
            )
    store = PostgresStore(empty_url)
    store.now = lambda: "2026-11-23T10:00:00Z"
    LOOP[:] = [asyncio.new_event_loop()]
    try:
        # as the JSON store reads a file from before (models.complete): an old closed ticket resolved at its last
        # change; and the derived columns those of no policy, to the bit
        assert sync(store.export())[1] == [complete(t) for t in old_tickets]  # type: ignore[arg-type]
        with psycopg.connect(empty_url) as conn:
            rows = conn.execute(f"SELECT {', '.join(DERIVED)} FROM tickets ORDER BY id").fetchall()
        assert [list(row) for row in rows] == [derived_values(complete(t), NO_POLICY) for t in old_tickets]  # type: ignore[arg-type]
        assert rows[1][DERIVED.index("resolution_minutes")] == (micros(changed) - micros(created)) / 60_000_000
        assert sync(store.policy()) == NO_POLICY
        assert sync(store.stats(StatsQuery()))["sla"]["none"] == 3
        sync(store.update(1, TicketUpdate(status="waiting", tags=["écran"])))
        sync(store.set_policy(POLICY))
        reading = Reading(POLICY, store.now())
        due = [t["id"] for t in sort_tickets(sync(store.export())[1], "due", reading)]
        assert [t["id"] for t in sync(store.search(TicketQuery(sort="due")))[0]] == due == [1, 3, 2]  # a tie: by id
        assert sync(store.stats(StatsQuery()))["by_status"]["waiting"] == 1
        assert [t["id"] for t in sync(store.search(TicketQuery(sort="status")))[0]] == [3, 1, 2]
        sync(store.verify())
    finally:
        sync(store.close())
        LOOP.pop().close()


def test_a_database_of_the_help_desk_gets_the_counts_of_tags_and_assignees(stores: list[TicketStore]) -> None:
    """Migration 6 counts the tickets already there by status, priority, assignee and tag: a help desk's database
    from before it answers X-Total-Count of its tags and assignees as the engine does."""
    json_store, pg = stores
    agree(stores, "set_policy", POLICY)
    _random_day(stores, random.Random(17), 40)
    url = pg.url  # type: ignore[attr-defined]
    with psycopg.connect(url, autocommit=True) as conn:  # back to the day before migration 6, its tickets kept
        conn.execute(
            "DROP TABLE tag_counts; DROP FUNCTION tickets_tag_counted() CASCADE; DROP INDEX tickets_by_status; "
            "DELETE FROM tickets_schema WHERE version = 6"
        )
        conn.execute(MIGRATIONS[VERSIONS.index(6)])
        conn.execute("INSERT INTO tickets_schema (version) VALUES (6)")
    tickets = sync(json_store.export())[1]
    reading = Reading(POLICY, _clock(stores)())
    for raw in (
        {"tag": ["vpn"], "limit": 1},
        {"assignee": "none", "tag": ["onboarding"], "limit": 1},
        {"assignee": "julie", "status": ["open", "waiting"], "limit": 1},
    ):
        query = TicketQuery.model_validate(raw)
        assert agree(stores, "search", query)[1] == len(filter_tickets(tickets, query, reading=reading)), raw


def test_writes_during_a_change_of_policy_are_computed_under_the_new_one(
    empty_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A change of policy reads the tickets in batches while others write: each row ends up computed under the
    policy in place at the end (the version check, the generation check of new tickets, the last sweep)."""
    monkeypatch.setattr(postgres_policy, "BATCH", 7)  # many batches: writers slip in between them
    clock = Clock(FRIDAY)
    store = PostgresStore(empty_url)
    store.now = clock
    LOOP[:] = [asyncio.new_event_loop()]

    async def scenario() -> None:
        await store.set_policy(POLICY)
        for i in range(60):
            await store.add(TicketCreate(title=f"n{i}", priority=["low", "medium", "high", "urgent"][i % 4]))
        clock.advance(3600)

        async def writer(first: int) -> None:
            for i in range(first, 60, 3):
                await store.update(i + 1, TicketUpdate(status=["waiting", "closed", "in_progress"][i % 3]))
                await store.add(TicketCreate(title=f"pendant {i}", priority="urgent"))

        await asyncio.gather(store.set_policy(OTHER_POLICY), writer(0), writer(1), writer(2))

    try:
        sync(scenario())
        with psycopg.connect(empty_url) as conn:
            rows = conn.execute(f"SELECT {', '.join(FIELDS)}, {', '.join(DERIVED)} FROM tickets ORDER BY id").fetchall()
        assert len(rows) == 120
        for row in rows:
            assert list(row[len(FIELDS) :]) == derived_values(ticket_of(row), OTHER_POLICY), row[0]
        sync(store.verify())
    finally:
        sync(store.close())
        LOOP.pop().close()


def test_the_median_of_the_database_is_statistics_median(empty_url: str) -> None:
    rng = random.Random(5)
    with psycopg.connect(empty_url) as conn:
        for n in [*range(1, 40), 1000, 1001]:
            values = [rng.choice([rng.random() * 500, 17.3, 42.0]) for _ in range(n)]
            row = conn.execute(
                f"SELECT percentile_disc({postgres_store.MIDDLES}) WITHIN GROUP (ORDER BY x) "
                "FROM unnest(%s::float8[]) AS x",
                (values,),
            ).fetchone()
            assert row is not None and postgres_store._median(row[0]) == median(values), n
        row = conn.execute(
            f"SELECT percentile_disc({postgres_store.MIDDLES}) WITHIN GROUP (ORDER BY x) "
            "FROM unnest('{}'::float8[]) AS x"
        ).fetchone()
        assert row is not None and postgres_store._median(row[0]) is None
