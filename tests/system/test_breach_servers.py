"""SLA breach events written by real servers (`uvicorn main:app`), two at once on one store, their clocks pinned past
the due times (TICKETS_NOW): each sweeps at start, and the feed holds exactly one `sla_breached` event per ticket and
target; started again later, one killed with SIGKILL in the middle of its sweep and another started in its place,
still exactly one; `sla sweep` then finds nothing left, verify accepts the history, and a webhook subscribed to
`sla.breached` got every one of them."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
import pytest

from conftest import ROOT, eventually, free_port, kill_group, report, running_server, store_environment
from tickets.engine.models import TicketCreate, TicketUpdate
from tickets.engine.sla import Policy
from tickets.stores import TicketStore
from tickets.stores.json_file import JsonStore
from tickets.stores.postgres import PostgresStore
from webhook_receiver import Receiver, receiving

pytestmark = [pytest.mark.slow]
ENV = {"TICKETS_WEBHOOKS_ALLOW_PRIVATE": "1", "TICKETS_WEBHOOK_TIME_SCALE": "0.001"}
POLICY = Policy.model_validate(
    {
        "timezone": "UTC",
        "business_hours": None,
        "targets": {"urgent": {"first_response": 30, "resolution": 240}, "medium": {"first_response": 240}},
    }
)
DAY = "2026-11-27T"
URGENT, MEDIUM, WAITING = 1100, 400, 40  # tickets of each kind: each sweep takes two commits (BATCH tickets each)


@pytest.fixture(params=["json", "postgres"])
def place(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where the servers keep their tickets: a new file, or a new database (only the tickets seeded below)."""
    return str(tmp_path / "tickets.json") if request.param == "json" else str(request.getfixturevalue("empty_url"))


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as r:
        yield r


def seed(place: str) -> None:
    """At 09:00, the policy and the tickets: urgent ones (first response due 09:30, resolution 13:00), medium ones
    (first response due 13:00, no resolution target), and urgent ones waiting since 09:10 (never breached)."""
    store: TicketStore = PostgresStore(place) if place.startswith("postgresql://") else JsonStore(place)
    store.now = lambda: f"{DAY}09:00:00Z"  # type: ignore[method-assign]

    async def work() -> None:
        try:
            await store.set_policy(POLICY)
            kinds = ["urgent"] * (URGENT + WAITING) + ["medium"] * MEDIUM
            ids = []
            for start in range(0, len(kinds), 200):
                made = await asyncio.gather(
                    *(
                        store.add(TicketCreate(title=f"n{i}", priority=p))
                        for i, p in enumerate(kinds[start : start + 200])
                    )  # type: ignore[arg-type]
                )
                ids += [t["id"] for t in made]
            store.now = lambda: f"{DAY}09:10:00Z"  # type: ignore[method-assign]
            await store.update_many(ids[URGENT : URGENT + WAITING], TicketUpdate(status="waiting"))
        finally:
            await store.close()

    asyncio.run(work())


def breaches(base: str) -> Counter[tuple[int, str]]:
    """How many sla_breached events the feed holds for each (ticket, target)."""
    found: Counter[tuple[int, str]] = Counter()
    after = 0
    with httpx.Client(base_url=base, timeout=30) as http:
        while page := http.get("/events", params={"after": after, "limit": 1000}).json():
            found.update((e["ticket_id"], e["changes"]["target"]["to"]) for e in page if e["type"] == "sla_breached")
            after = page[-1]["id"]
    return found


def cli(place: str, *args: str, now: str) -> str:
    env = {**store_environment(place), "TICKETS_NOW": now}
    done = subprocess.run(
        [sys.executable, "script.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@contextmanager
def servers(place: str, n: int, env: dict[str, str], *, wait: bool = True) -> Iterator[list[subprocess.Popen[bytes]]]:
    """n servers started at the same moment (their sweeps at start race), each killed (SIGKILL) at the end unless
    the test killed it before; their base URLs are base_of(process). wait: until they answer (else: ready())."""
    started = []
    try:
        for _ in range(n):
            port = free_port()
            command = [sys.executable, "-m", "uvicorn", "main:app", "--port", str(port), "--log-level", "warning"]
            process = subprocess.Popen(
                command, cwd=ROOT, env={**store_environment(place), **env}, start_new_session=True
            )
            process.base = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]
            started.append(process)
        if wait:
            ready(*started)
        yield started
    finally:
        for process in started:
            kill_group(process)


def ready(*started: subprocess.Popen[bytes]) -> None:
    for process in started:
        eventually(lambda: _serving(process), "a server to start", 120)  # noqa: B023 (called at once)


def _serving(process: subprocess.Popen[bytes]) -> bool:
    assert process.poll() is None, "a server exited (its port was taken?)"
    try:
        return httpx.get(f"{base_of(process)}/health", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def base_of(process: subprocess.Popen[bytes]) -> str:
    return process.base  # type: ignore[attr-defined]


def test_two_servers_write_each_breach_once_across_kills_and_restarts(place: str, receiver: Receiver) -> None:
    seed(place)
    ten = {**ENV, "TICKETS_NOW": f"{DAY}10:00:00Z"}  # the urgent first responses are late
    two = {**ENV, "TICKETS_NOW": f"{DAY}14:00:00Z"}  # their resolutions, and the medium first responses too
    with running_server(place, env={**ENV, "TICKETS_NOW": f"{DAY}09:10:00Z"}) as base:
        hook = httpx.post(f"{base}/webhooks", json={"url": receiver.url, "events": ["sla.breached"]}).json()
        receiver.secrets.append(hook["secret"])
    with servers(place, 2, ten) as (first, second):
        eventually(lambda: sum(breaches(base_of(second)).values()) >= URGENT, "the first responses' breaches", 300)
        found = breaches(base_of(first))
        last = max(_breach_ids(base_of(first)))
    assert set(found.values()) == {1} and len(found) == URGENT
    assert {target for _, target in found} == {"first_response"}
    # Later: two servers again, one killed with SIGKILL as soon as a new breach shows (in the middle of the sweeps),
    # and another started in its place.
    expected = 2 * URGENT + MEDIUM
    before = None if place.startswith("postgresql://") else os.stat(place).st_mtime_ns
    with servers(place, 2, two, wait=False) as (steady, killed):
        _until_written_after(place, last, before)
        kill_group(killed)  # at the first commit of the sweeps at start (BATCH tickets each): before the others
        partial = _last_event(place) - last
        ready(steady)
        with servers(place, 1, two):
            eventually(lambda: sum(breaches(base_of(steady)).values()) >= expected, "every breach", 300)
            found = breaches(base_of(steady))
    assert set(found.values()) == {1} and len(found) == expected
    assert Counter(target for _, target in found) == {"first_response": URGENT + MEDIUM, "resolution": URGENT}
    assert cli(place, "sla", "sweep", now=f"{DAY}14:00:00Z").startswith("0 SLA breach events written")
    assert "history verified" in cli(place, "verify", now=f"{DAY}14:00:00Z")
    with running_server(place, env=two) as base:  # the webhook: every breach delivered (at least once)
        wanted = set(_breach_ids(base))
        eventually(lambda: wanted <= set(receiver.event_ids()), "every breach to be delivered", 300)
    assert receiver.unverified == []
    assert {r.body["type"] for r in receiver.delivered()} == {"sla.breached"}
    report(
        f"SLA breaches: {expected} written once by two servers on one store, one killed (SIGKILL) when {partial} "
        f"of the {expected - URGENT} of its round were"
    )
    print(f"{expected} breaches written once by two servers ({partial} of round 2 when one was killed); delivered")


def _last_event(place: str) -> int:
    """The id of the last event committed, read directly."""
    if place.startswith("postgresql://"):
        with psycopg.connect(place) as conn:
            row = conn.execute("SELECT max(id) FROM events").fetchone()
        return int(row[0]) if row else 0
    with open(place, "rb") as file:
        return int(json.load(file)["next_event_id"]) - 1


def _until_written_after(place: str, event_id: int, before: int | None, seconds: float = 300) -> None:
    """Return as soon as an event after event_id is committed, looked at as directly and as often as can be (the
    file replaced since its mtime was before, or the events table): a server would answer too late."""
    deadline = time.monotonic() + seconds
    if place.startswith("postgresql://"):
        with psycopg.connect(place, autocommit=True) as conn:
            while (conn.execute("SELECT max(id) FROM events").fetchone() or (0,))[0] <= event_id:
                assert time.monotonic() < deadline, "no new event"
        return
    while os.stat(place).st_mtime_ns == before:
        assert time.monotonic() < deadline, "no new event"


def _breach_ids(base: str) -> list[int]:
    ids, after = [], 0
    with httpx.Client(base_url=base, timeout=30) as http:
        while page := http.get("/events", params={"after": after, "limit": 1000}).json():
            ids += [e["id"] for e in page if e["type"] == "sla_breached"]
            after = page[-1]["id"]
    return ids
