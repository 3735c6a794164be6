"""SLA breach events (SPEC.md, "Webhooks and idempotency"; tickets/engine/breaches.py), on both stores with a pinned
clock: a ticket past its first response's due time gets one `sla_breached` event, past its resolution's a second,
and a sweep again writes nothing; a waiting ticket, or one whose priority was lowered, is not breached early; a late
reply or close that comes before any sweep still gets its breach once, at the due time it passed; a change that puts
a due time in the past (a higher priority, a stricter policy) gets it at the change; verify accepts the history and
its replay, and sees a breach told twice."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import psycopg
import pytest

from conftest import PinnedClock
from tickets.engine.breaches import BATCH
from tickets.engine.chain import History, Record, canonical_event, chained
from tickets.engine.history import NewComment, Page
from tickets.engine.models import StatsQuery, TicketCreate, TicketUpdate
from tickets.engine.sla import Policy
from tickets.engine.verify import HistoryProblem
from tickets.engine.workflow import created
from tickets.stores import TicketStore
from tickets.stores.json_file import JsonStore
from tickets.stores.postgres import PostgresStore
from tickets.stores.postgres.derived import derived_values
from tickets.stores.postgres.migrations import FOLDER
from tickets.stores.postgres.sql import DERIVED, FIELDS, ticket_params
from tickets.worker.breaches import LOOK_AGAIN, BreachWatch, sweep_once

POLICY = Policy.model_validate(
    {
        "timezone": "UTC",
        "business_hours": None,
        "targets": {
            "urgent": {"first_response": 30, "resolution": 240},
            "medium": {"first_response": 240, "resolution": 1440},
        },
    }
)
DAY = "2026-11-27T"
T = TypeVar("T")


class Clock(PinnedClock):
    """The store's clock, pinned and moved by the test (to a time of the day)."""

    def set(self, hhmm: str) -> None:
        self.time = f"{DAY}{hhmm}:00Z"


def run(store: TicketStore, work: Callable[[], Awaitable[T]]) -> T:
    """A test's calls in one event loop (the PostgreSQL store keeps a pool per loop), then the pool closed."""

    async def then_close() -> T:
        try:
            return await work()
        finally:
            await store.close()

    return asyncio.run(then_close())


def one_loop(test: Callable[[TicketStore, Clock], Awaitable[None]]) -> Callable[[TicketStore, Clock], None]:
    """A test written as a coroutine, run on one event loop."""

    @functools.wraps(test)
    def wrapper(ticket_store: TicketStore, clock: Clock) -> None:
        run(ticket_store, lambda: test(ticket_store, clock))

    return wrapper


@pytest.fixture
def clock(ticket_store: TicketStore) -> Clock:
    pinned = Clock(f"{DAY}09:00:00Z")
    ticket_store.now = pinned  # type: ignore[method-assign]
    run(ticket_store, lambda: ticket_store.set_policy(POLICY))
    return pinned


async def new_ticket(store: TicketStore, priority: str = "urgent") -> int:
    return (await store.add(TicketCreate(title="VPN en panne", priority=priority)))["id"]


async def breaches(store: TicketStore, ticket_id: int) -> list[tuple[str, str]]:
    """(target, at) of the ticket's breach events, in order."""
    events, _ = await store.events(ticket_id, Page(limit=1000))
    return [(e["changes"]["target"]["to"], e["at"]) for e in events if e["type"] == "sla_breached"]


async def history(store: TicketStore, ticket_id: int) -> list[str]:
    events, _ = await store.events(ticket_id, Page(limit=1000))
    return [e["type"] for e in events]


@one_loop
async def test_one_event_per_target_and_none_again(ticket_store: TicketStore, clock: Clock) -> None:
    ticket_id = await new_ticket(ticket_store)
    clock.set("09:29")
    assert await ticket_store.record_breaches() == 0
    assert await ticket_store.next_breach_at() == f"{DAY}09:30:00Z"
    clock.set("09:31")
    before = await ticket_store.stats(StatsQuery())
    assert await sweep_once(ticket_store) == 1
    assert await ticket_store.stats(StatsQuery()) == before  # per day: only creations and closes count
    events, _ = await ticket_store.events(ticket_id, Page(limit=10))
    assert events[-1] == {
        "id": events[-1]["id"],
        "ticket_id": ticket_id,
        "at": f"{DAY}09:30:00Z",  # when it happened, not when it was seen
        "actor": None,
        "type": "sla_breached",
        "changes": {"target": {"from": None, "to": "first_response"}, "due": {"from": None, "to": f"{DAY}09:30:00Z"}},
    }
    assert (await ticket_store.get(ticket_id))["sla_breached"] is True
    assert (await ticket_store.get(ticket_id))["breach_events"] == ["first_response"]
    assert await sweep_once(ticket_store) == 0
    assert await ticket_store.next_breach_at() == f"{DAY}13:00:00Z"
    clock.set("13:00")
    assert await sweep_once(ticket_store) == 0  # due at 13:00: breached only once it has passed
    clock.set("13:01")
    assert await sweep_once(ticket_store) == 1
    assert await sweep_once(ticket_store) == 0
    assert await breaches(ticket_store, ticket_id) == [
        ("first_response", f"{DAY}09:30:00Z"),
        ("resolution", f"{DAY}13:00:00Z"),
    ]
    assert await ticket_store.next_breach_at() is None
    feed = await ticket_store.feed(0, 1000)
    assert [e["type"] for e in feed if e["ticket_id"] == ticket_id] == ["created", "sla_breached", "sla_breached"]
    assert [e["id"] for e in (await ticket_store.feed(0, 1000, internal=False))] == [e["id"] for e in feed]  # viewers
    await ticket_store.verify()


@one_loop
async def test_a_waiting_ticket_is_not_breached_early(ticket_store: TicketStore, clock: Clock) -> None:
    ticket_id = await new_ticket(ticket_store)
    clock.set("09:10")
    (await ticket_store.update(ticket_id, TicketUpdate(status="waiting")))
    clock.set("11:00")
    assert await sweep_once(ticket_store) == 0
    assert await ticket_store.next_breach_at() is None  # its due times move with the clock while it waits
    (await ticket_store.update(ticket_id, TicketUpdate(status="open")))  # 20 minutes left: due 11:20
    assert await breaches(ticket_store, ticket_id) == []
    clock.set("11:19")
    assert await sweep_once(ticket_store) == 0
    clock.set("11:21")
    assert await sweep_once(ticket_store) == 1
    assert await breaches(ticket_store, ticket_id) == [("first_response", f"{DAY}11:20:00Z")]
    await ticket_store.verify()


@one_loop
async def test_a_lower_priority_moves_the_breach_later(ticket_store: TicketStore, clock: Clock) -> None:
    ticket_id = await new_ticket(ticket_store)
    clock.set("09:20")
    (await ticket_store.update(ticket_id, TicketUpdate(priority="medium")))  # first response due 13:00
    clock.set("09:31")
    assert await sweep_once(ticket_store) == 0
    clock.set("13:01")
    assert await sweep_once(ticket_store) == 1
    assert await breaches(ticket_store, ticket_id) == [("first_response", f"{DAY}13:00:00Z")]
    await ticket_store.verify()


@one_loop
async def test_a_late_reply_before_any_sweep_gets_its_breach_once(ticket_store: TicketStore, clock: Clock) -> None:
    ticket_id = await new_ticket(ticket_store)
    clock.set("09:45")  # nobody swept at 09:30 (the servers were down)
    (await ticket_store.add_comment(ticket_id, NewComment(author="karim.benali", body="On regarde.")))
    assert await history(ticket_store, ticket_id) == ["created", "sla_breached", "commented"]
    assert await breaches(ticket_store, ticket_id) == [("first_response", f"{DAY}09:30:00Z")]
    ticket = await ticket_store.get(ticket_id)
    assert ticket["first_response_at"] == f"{DAY}09:45:00Z" and ticket["sla_breached"] is True
    assert await sweep_once(ticket_store) == 0
    clock.set("14:00")
    (await ticket_store.update(ticket_id, TicketUpdate(status="closed")))  # late too, and still no sweep
    assert (await history(ticket_store, ticket_id))[-2:] == ["sla_breached", "updated"]
    assert (await breaches(ticket_store, ticket_id))[1] == ("resolution", f"{DAY}13:00:00Z")
    (await ticket_store.update(ticket_id, TicketUpdate(status="open")))  # reopened: no breach is told twice
    clock.set("18:00")
    assert await sweep_once(ticket_store) == 0
    assert len(await breaches(ticket_store, ticket_id)) == 2
    await ticket_store.verify()


@one_loop
async def test_a_change_that_misses_a_target_is_the_moment_of_the_breach(
    ticket_store: TicketStore, clock: Clock
) -> None:
    ticket_id = await new_ticket(ticket_store, "medium")  # first response due 13:00
    other = await new_ticket(ticket_store, "medium")
    late = await new_ticket(ticket_store, "medium")
    missed = await new_ticket(ticket_store, "urgent")  # due 09:30
    clock.set("09:45")
    (await ticket_store.update_many([ticket_id, other], TicketUpdate(priority="urgent")))  # now due 09:30: missed
    assert await breaches(ticket_store, ticket_id) == [("first_response", f"{DAY}09:45:00Z")]
    assert await history(ticket_store, other) == ["created", "sla_breached", "updated"]
    # A stricter policy: the medium ticket's first response, due 13:00, was due at 09:30; the urgent one, already
    # breached under the old policy at 09:30 and never swept, keeps that time.
    clock.set("10:00")
    stricter = POLICY.model_copy(update={"targets": {**POLICY.targets, "medium": POLICY.targets["urgent"]}})
    (await ticket_store.set_policy(stricter))
    assert await breaches(ticket_store, late) == [("first_response", f"{DAY}10:00:00Z")]
    assert await breaches(ticket_store, missed) == [("first_response", f"{DAY}09:30:00Z")]
    assert await sweep_once(ticket_store) == 0
    await ticket_store.verify()


@one_loop
async def test_a_policy_change_keeps_the_breaches_of_the_old_one(ticket_store: TicketStore, clock: Clock) -> None:
    ticket_id = await new_ticket(ticket_store)  # first response due 09:30
    clock.set("09:45")
    lenient = POLICY.model_copy(update={"targets": {"urgent": POLICY.targets["medium"]}})
    (await ticket_store.set_policy(lenient))  # due 13:00 now, but it was missed at 09:30
    assert await breaches(ticket_store, ticket_id) == [("first_response", f"{DAY}09:30:00Z")]
    clock.set("13:30")
    assert await sweep_once(ticket_store) == 0  # the same target: never told twice
    await ticket_store.verify()


@one_loop
async def test_a_sweep_takes_a_batch_at_a_time(ticket_store: TicketStore, clock: Clock) -> None:
    ids = [await new_ticket(ticket_store) for _ in range(5)]
    clock.set("09:31")
    assert await ticket_store.record_breaches(2) == 2
    assert await ticket_store.record_breaches(2) == 2
    assert await sweep_once(ticket_store, 2) == 1
    assert [len(await breaches(ticket_store, i)) for i in ids] == [1] * 5
    assert BATCH >= 100
    await ticket_store.verify()


@one_loop
async def test_the_watch_sweeps_at_start_then_at_the_next_due_time(ticket_store: TicketStore, clock: Clock) -> None:
    """The watch's waits are the test's: it asks to sleep until the next due time (the store's clock), and a
    write of this process wakes it."""
    first = await new_ticket(ticket_store)
    clock.set("09:31")
    asked: list[float] = []
    go_on = asyncio.Event()

    async def sleep(seconds: float) -> None:
        asked.append(seconds)
        await go_on.wait()
        go_on.clear()

    async def asked_for(n: int) -> None:
        for _ in range(100_000):  # a bound on the turns of the loop, not a time
            if len(asked) >= n:
                return
            await asyncio.sleep(0)
        raise AssertionError(f"the watch asked to sleep {len(asked)} times, not {n}")

    task = asyncio.create_task(BreachWatch(ticket_store, sleep, look_again=86400).run())  # the 60 s cap: below
    try:
        await asked_for(1)
        assert await breaches(ticket_store, first) == [("first_response", f"{DAY}09:30:00Z")]  # swept at start
        assert asked == [(13 * 60 - (9 * 60 + 31)) * 60]  # then until its resolution is due, 13:00
        second = await new_ticket(ticket_store)  # due 10:01: the write wakes the watch
        await asked_for(2)
        assert asked[1] == 30 * 60
        clock.set("10:02")
        go_on.set()
        await asked_for(3)
        assert await breaches(ticket_store, second) == [("first_response", f"{DAY}10:01:00Z")]
        assert asked[2] == (13 * 60 - (10 * 60 + 2)) * 60
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await ticket_store.verify()


@one_loop
async def test_the_watch_looks_again_within_a_minute(ticket_store: TicketStore, clock: Clock) -> None:
    """Another process's writes tell this one nothing: it looks again every LOOK_AGAIN seconds at most."""
    await new_ticket(ticket_store, "medium")  # due in four hours
    assert await BreachWatch(ticket_store).step() == LOOK_AGAIN == 60


@one_loop
async def test_verify_sees_a_breach_forgotten_or_told_twice(ticket_store: TicketStore, clock: Clock) -> None:
    ticket_id = await new_ticket(ticket_store)
    clock.set("09:31")
    await sweep_once(ticket_store)
    next_id, tickets, kept = await ticket_store.export_all()
    forgotten: list[Any] = [t if t["id"] != ticket_id else {**t, "breach_events": []} for t in tickets]
    await ticket_store.replace_all(next_id, forgotten, replace=True, history=kept)
    with pytest.raises(HistoryProblem, match=r"breach_events are \[\], its sla_breached events name"):
        await ticket_store.verify()
    last = kept.records[-1]  # the breach event, chained again after itself
    again = {**last.data, "id": kept.next_event_id}
    twice = [*kept.records, Record("event", again, chained(last.digest, canonical_event(again)))]
    await ticket_store.replace_all(
        next_id, tickets, replace=True, history=History(kept.next_comment_id, kept.next_event_id + 1, twice)
    )
    with pytest.raises(HistoryProblem, match=r"first_response breach was recorded already, by event"):
        await ticket_store.verify()


@one_loop
async def test_a_ticket_from_before_the_history_may_record_breaches_without_events(
    ticket_store: TicketStore, clock: Clock
) -> None:
    """The shipped sample: its late tickets record their breaches, but its history has not begun, so no event can
    name them. verify accepts them after the first writes, and a later breach still gets its event."""
    ticket_id = await new_ticket(ticket_store)
    clock.set("09:31")
    await sweep_once(ticket_store)
    next_id, tickets, kept = await ticket_store.export_all()
    tickets = [t for t in tickets if t["id"] == ticket_id]
    assert tickets[0]["breach_events"] == ["first_response"]
    await ticket_store.replace_all(next_id, tickets, replace=True, history=History(1, 1, []))  # no history yet
    assert await sweep_once(ticket_store) == 0  # recorded already: nothing to write on start-up
    await ticket_store.update(ticket_id, TicketUpdate(title="VPN toujours en panne"))
    clock.set("13:31")
    await sweep_once(ticket_store)
    assert [target for target, _ in await breaches(ticket_store, ticket_id)] == ["resolution"]
    assert (await ticket_store.verify()).events == 2
    next_id, tickets, kept = await ticket_store.export_all()  # one it names, with its event: still told apart
    await ticket_store.replace_all(
        next_id, [{**t, "breach_events": ["first_response"]} for t in tickets], replace=True, history=kept
    )
    with pytest.raises(HistoryProblem, match=r"breach_events are \['first_response'\], its sla_breached events"):
        await ticket_store.verify()


@pytest.mark.postgres
def test_a_database_from_before_breach_events_is_upgraded(empty_url: str) -> None:
    """The tickets of a database from before migration 8 get their alarm (their next fixed due time), so a ticket
    overdue when the service is upgraded gets its breach event at the first sweep; the others at their time."""
    earlier = sorted(p for p in FOLDER.glob("[0-9][0-9][0-9][0-9]_*.sql") if p.name < "0008")
    clock = Clock(f"{DAY}09:00:00Z")
    tickets = [
        created(TicketCreate(title=f"t{i}", priority=p), i, clock()) for i, p in enumerate(["urgent", "medium"], 1)
    ]
    columns = [c for c in (*FIELDS, *DERIVED) if c not in ("breach_events", "breach_at")]
    with psycopg.connect(empty_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE tickets_schema (version integer NOT NULL)")
        for number, path in enumerate(earlier, start=1):
            conn.execute(path.read_text(encoding="utf-8"))
            conn.execute("INSERT INTO tickets_schema (version) VALUES (%s)", (number,))
        conn.execute("INSERT INTO sla_policy (policy, generation) VALUES (%s::jsonb, 1)", (POLICY.model_dump_json(),))
        for ticket in tickets:
            params = ticket_params(ticket, derived_values(ticket, POLICY))
            conn.execute(
                f"INSERT INTO tickets ({', '.join(columns)}) VALUES ("
                + ", ".join(f"%({c})s{'::jsonb' if c in ('requester', 'paused') else ''}" for c in columns)
                + ")",
                params,
            )
    store = PostgresStore(empty_url)
    store.now = clock  # type: ignore[method-assign]
    clock.set("10:00")

    async def scenario() -> None:
        assert await store.next_breach_at() == f"{DAY}09:30:00Z"
        assert await sweep_once(store) == 1
        assert await breaches(store, 1) == [("first_response", f"{DAY}09:30:00Z")]
        assert await store.next_breach_at() == f"{DAY}13:00:00Z"
        await store.verify()

    run(store, scenario)


def test_sweeps_and_writers_at_once_write_each_breach_once(ticket_store: TicketStore, clock: Clock) -> None:
    """Three store objects on one file or database (as three processes: their own writer, lock or pool) sweep
    while writers reply to, reprioritize and close the same overdue tickets: one event per ticket and target."""
    place = ticket_store.path if isinstance(ticket_store, JsonStore) else ticket_store.url  # type: ignore[attr-defined]
    ids = run(ticket_store, lambda: asyncio.gather(*(new_ticket(ticket_store) for _ in range(60))))
    clock.set("13:30")  # both targets of every ticket are past

    async def scenario() -> None:
        others = [JsonStore(place) if isinstance(ticket_store, JsonStore) else PostgresStore(place) for _ in range(3)]
        for other in others:
            other.now = clock  # type: ignore[method-assign]
        try:
            writes = [
                others[i % 3].add_comment(ticket_id, NewComment(author="karim", body="Vu."))
                if i % 3 == 0
                else others[i % 3].update(ticket_id, TicketUpdate(status="closed" if i % 3 == 1 else "in_progress"))
                for i, ticket_id in enumerate(ids)
            ]
            await asyncio.gather(*writes, *(sweep_once(other, 7) for other in others))
            for other in others:
                await sweep_once(other)
        finally:
            for other in others:
                await other.close()

    asyncio.run(scenario())

    async def check() -> None:
        for ticket_id in ids:
            assert sorted(await breaches(ticket_store, ticket_id)) == [
                ("first_response", f"{DAY}09:30:00Z"),
                ("resolution", f"{DAY}13:00:00Z"),
            ]
            assert (await ticket_store.get(ticket_id))["breach_events"] == ["first_response", "resolution"]
        await ticket_store.verify()

    run(ticket_store, check)
