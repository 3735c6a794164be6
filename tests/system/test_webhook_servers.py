"""Webhooks delivered by real servers (`uvicorn main:app`), two at once on one store, killed with SIGKILL in the
middle of a storm of writes: every change reaches the receiver at least once, in order, a repeat always with the
same webhook-id, and never two deliveries at the same time."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from random import Random

import httpx
import pytest

from conftest import eventually, running_server
from webhook_receiver import Receiver, receiving

pytestmark = [pytest.mark.slow]
ENV = {"TICKETS_WEBHOOKS_ALLOW_PRIVATE": "1", "TICKETS_WEBHOOK_TIME_SCALE": "0.001"}


@pytest.fixture(params=["json", "postgres"])
def place(request: pytest.FixtureRequest, tickets_file: Path) -> str:
    """Where the servers keep their tickets: the test's file, or a database."""
    return str(tickets_file) if request.param == "json" else str(request.getfixturevalue("database_url"))


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as r:
        yield r


class Writes:
    """Tickets created by writer threads, and which of them the servers acknowledged."""

    def __init__(self) -> None:
        self.acknowledged: list[int] = []
        self.lock = threading.Lock()

    def count(self) -> int:
        with self.lock:
            return len(self.acknowledged)

    def run(self, bases: list[str], stop: threading.Event, rng: Random) -> None:
        with httpx.Client(timeout=10) as client:
            while not stop.is_set():
                base = rng.choice(bases)
                try:
                    answer = client.post(f"{base}/tickets", json={"title": f"Tempête {rng.random():.6f}"})
                    if answer.status_code == 201:
                        ticket_id = answer.json()["id"]
                        with self.lock:
                            self.acknowledged.append(ticket_id)
                        client.patch(f"{base}/tickets/{ticket_id}", json={"status": "in_progress"})
                except httpx.HTTPError:
                    pass  # a killed server: the request may or may not have landed


def storm(writes: Writes, bases: list[str], rng: Random) -> tuple[threading.Event, list[threading.Thread]]:
    stop = threading.Event()
    threads = [
        threading.Thread(target=writes.run, args=(bases, stop, Random(rng.random())), daemon=True) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    return stop, threads


def test_killed_servers_lose_no_delivery(place: str, receiver: Receiver, rng: Random) -> None:
    writes = Writes()
    with running_server(place, env=ENV) as base:
        hook = httpx.post(f"{base}/webhooks", json={"url": receiver.url, "events": ["*"]}).json()
        receiver.secrets.append(hook["secret"])
    # Round 1: both servers killed at once mid-storm. Round 2: the delivering one may be killed alone, and the
    # other one takes over.
    for round_ in range(2):
        with running_server(place, env=ENV) as first:
            with running_server(place, env=ENV) as second:
                stop, threads = storm(writes, [first, second], rng)
                enough = 40 * (round_ + 1) + rng.randint(0, 40)
                eventually(lambda: writes.count() >= enough, "the storm")  # noqa: B023 (called at once)
                if round_ == 1:
                    pass  # leaving this block kills the second server; the first goes on writing and delivering
            if round_ == 1:
                eventually(lambda: writes.count() >= 150, "more writes on the remaining server")
            stop.set()
            for thread in threads:
                thread.join(30)
    with running_server(place, env=ENV) as base:
        events, after = [], 0
        while page := httpx.get(f"{base}/events", params={"after": after, "limit": 1000}).json():
            events += page
            after = page[-1]["id"]
        wanted = {e["id"] for e in events}
        eventually(lambda: wanted <= set(receiver.event_ids()), "every event to be delivered", 180)
    assert receiver.unverified == []
    got = receiver.delivered()
    assert all(r.id == f"evt_{r.body['data']['event']['id']}" for r in got)  # a repeat has the same webhook-id
    firsts: list[int] = []
    for event_id in receiver.event_ids():
        if event_id not in firsts:
            firsts.append(event_id)
    assert firsts == sorted(firsts)  # in order: a repeat only goes back to where the last saved cursor was
    created = {r.body["data"]["event"]["ticket_id"] for r in got if r.body["type"] == "ticket.created"}
    assert set(writes.acknowledged) <= created
    assert receiver.most_in_flight == 1  # two servers, never two deliveries at once
    repeats = len(got) - len(set(receiver.ids()))
    print(f"{len(events)} events, {len(got)} deliveries ({repeats} repeats after the kills)")
