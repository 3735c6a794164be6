"""Several servers on one PostgreSQL database, as if on several hosts: writing at once, killed, or losing
the database mid-storm."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from random import Random
from typing import Any

import httpx
import pytest

from conftest import (
    ROOT,
    contents,
    eventually,
    history_agrees,
    patch_at_once,
    report,
    running_server,
    store_environment,
    sync,
)
from postgres_cluster import Cluster
from tickets.stores.postgres.store import PostgresStore

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


# --------------------------------------------------------------------------- beyond one machine


class Ledger:
    """What the clients were told, ticket by ticket: the last acknowledged state (a title, or None once
    deleted), and the attempts made since then whose answer never came (they may or may not have landed)."""

    def __init__(self) -> None:
        self.acked: dict[int, str | None] = {}
        self.unsure: dict[int, set[str | None]] = {}
        self.lock = threading.Lock()
        self.failed = 0  # requests answered with an error or not at all (while a server or the database was down)
        self.comments: dict[int, int] = {}  # acknowledged comment id -> its ticket
        self.answers = 0  # acknowledged writes: the storm's progress, which the tests wait on

    def progressed(self, writes: int) -> Callable[[], bool]:
        """A condition for eventually(): `writes` more writes acknowledged from now on."""
        goal = self.answers + writes
        return lambda: self.answers >= goal

    def failures(self, count: int) -> Callable[[], bool]:
        """A condition for eventually(): `count` more requests failed from now on."""
        goal = self.failed + count
        return lambda: self.failed >= goal

    def created(self, ticket_id: int, title: str) -> None:
        with self.lock:
            assert ticket_id not in self.acked, f"id {ticket_id} handed out twice"
            self.acked[ticket_id], self.unsure[ticket_id] = title, set()
            self.answers += 1

    def attempt(self, ticket_id: int, state: str | None) -> None:
        self.unsure[ticket_id].add(state)

    def acknowledged(self, ticket_id: int, state: str | None) -> None:
        self.acked[ticket_id], self.unsure[ticket_id] = state, set()
        self.answers += 1

    def check(self, url: str) -> int:
        """Every acknowledged create, update, delete and comment is in the database (or was overtaken by a later
        attempt, or went with its deleted ticket), and the history tells exactly what the tickets went through."""
        _, tickets = contents(url)
        for ticket_id, state in self.acked.items():
            found = tickets[ticket_id]["title"] if ticket_id in tickets else None
            assert found in {state} | self.unsure[ticket_id], f"ticket {ticket_id}: {found!r}, acknowledged {state!r}"
        kept = {c["id"] for c in sync(_export_all(url))[2].comments}
        lost = [c for c, t in self.comments.items() if t in tickets and c not in kept]
        assert not lost, f"acknowledged comments lost: {lost}"
        history_agrees(url)
        return len(self.acked)


async def _export_all(url: str) -> Any:
    store = PostgresStore(url)
    try:
        return await store.export_all()
    finally:
        await store.close()


def _writer(base: str, stop: threading.Event, ledger: Ledger, seed: int) -> None:
    """Creates tickets, then updates and deletes its own, recording every answer in the ledger."""
    mine: list[int] = []
    random = Random(seed)
    with httpx.Client(base_url=base, timeout=60) as http:  # an answer late on a loaded machine is still an answer
        while not stop.is_set():
            try:
                roll = random.random()
                if mine and roll < 0.25:
                    victim = mine.pop(random.randrange(len(mine)))
                    ledger.attempt(victim, None)
                    if http.delete(f"/tickets/{victim}").status_code == 204:
                        ledger.acknowledged(victim, None)
                    else:
                        ledger.failed += 1
                elif mine and roll < 0.35:
                    target = random.choice(mine)
                    response = http.post(
                        f"/tickets/{target}/comments",
                        json={"body": "pendant la tempête"},
                        headers={"X-Actor": "tempête".encode()},
                    )
                    if response.status_code == 201:
                        ledger.comments[response.json()["id"]] = target
                        ledger.answers += 1
                    else:
                        ledger.failed += 1
                elif mine and roll < 0.5:
                    target, title = random.choice(mine), f"modifié {random.random():.6f}"
                    ledger.attempt(target, title)
                    if http.patch(f"/tickets/{target}", json={"title": title}).status_code == 200:
                        ledger.acknowledged(target, title)
                    else:
                        ledger.failed += 1
                else:
                    response = http.post("/tickets", json={"title": "créé pendant la tempête"})
                    if response.status_code == 201:
                        ledger.created(response.json()["id"], "créé pendant la tempête")
                        mine.append(response.json()["id"])
                    else:
                        ledger.failed += 1
            except httpx.TransportError:
                ledger.failed += 1
                time.sleep(0.02)  # a server is down: no busy loop on a refused connection


def _start_writers(bases: list[str], stop: threading.Event, ledger: Ledger, rng: Random) -> list[threading.Thread]:
    """One writer thread per base URL (each with its own seed), started; they write until stop is set."""
    writers = [threading.Thread(target=_writer, args=(base, stop, ledger, rng.randrange(2**32))) for base in bases]
    for w in writers:
        w.start()
    return writers


def test_two_servers_and_cli_processes_on_one_database_lose_nothing(database_url: str, rng: Random) -> None:
    ledger = Ledger()
    with running_server(database_url) as first, running_server(database_url) as second:
        stop = threading.Event()
        writers = _start_writers([first, second] * 3, stop, ledger, rng)
        env = store_environment(database_url)
        clis = [
            subprocess.Popen(
                [sys.executable, str(ROOT / "script.py"), "add", f"CLI {i}", "--json"],
                env=env,
                stdout=subprocess.PIPE,
                text=True,
            )
            for i in range(6)
        ]
        cli_ids = [json.loads(p.communicate(timeout=60)[0])["id"] for p in clis]
        eventually(ledger.progressed(300), "300 more acknowledged writes from the clients")
        stop.set()
        for w in writers:
            w.join(30)
        # What one server wrote, the other reads at once.
        created = httpx.post(f"{first}/tickets", json={"title": "vu par l'autre"}).json()
        assert httpx.get(f"{second}/tickets/{created['id']}").json() == created
    assert not set(cli_ids) & set(ledger.acked), "an id was handed out twice"
    assert set(cli_ids) <= set(contents(database_url)[1])
    assert not any(ledger.unsure.values())  # nothing crashed: every request had its answer
    count = ledger.check(database_url)
    report(
        f"two servers, one database: {count} tickets written by 6 clients through 2 servers plus 6 CLI "
        "processes; every acknowledged create/update/delete found, no id twice"
    )


def test_an_if_match_race_between_two_servers_has_exactly_one_winner(database_url: str) -> None:
    rounds = 20
    with running_server(database_url) as first, running_server(database_url) as second:
        for round_ in range(rounds):
            etag = httpx.get(f"{first}/tickets/1").headers["ETag"]
            barrier = threading.Barrier(2)

            with ThreadPoolExecutor(2) as pool:
                codes = sorted(
                    pool.map(
                        patch_at_once,
                        [first, second],
                        [barrier] * 2,
                        [etag] * 2,
                        [f"alice {round_}", f"bruno {round_}"],
                    )
                )
            assert codes == [200, 412], codes
    report(f"ETag race across two servers on one database: {rounds} rounds, always one 200 and one 412")


@pytest.mark.parametrize("crash", ["kill -9 of a server", "immediate stop of PostgreSQL"])
def test_a_crash_mid_storm_loses_no_acknowledged_write(
    postgres: Cluster, database_url: str, crash: str, rng: Random
) -> None:
    ledger = Ledger()
    rounds = 3
    for _ in range(rounds):
        with running_server(database_url) as first, running_server(database_url) as second:
            stop = threading.Event()
            writers = _start_writers([first, second] * 2, stop, ledger, rng)
            # The crash comes after a random number of acknowledged writes: at a random moment of the storm,
            # wherever a loaded machine has got to, and never before the storm has begun.
            eventually(ledger.progressed(rng.randint(20, 120)), "the storm to be under way")
            if crash.startswith("kill"):
                pass  # leaving this block SIGKILLs both servers' process groups while the writers write
            else:
                postgres.stop("immediate")
                eventually(ledger.failures(4), "the writers to meet the stopped database")
                postgres.start()
                eventually(ledger.progressed(10), "the writers to be served again")
        stop.set()
        for w in writers:
            w.join(30)
    count = ledger.check(database_url)
    assert ledger.failed > 0  # the crash did hit requests in flight
    report(
        f"crash on PostgreSQL ({crash}), {rounds} rounds: {count} tickets and {len(ledger.comments)} comments "
        f"with acknowledged writes, none lost, history agreeing; {ledger.failed} requests failed or went "
        "unanswered during the crashes"
    )


def test_workers_started_together_migrate_once(empty_url: str) -> None:
    with running_server(empty_url, workers=2) as base:
        responses = [httpx.post(f"{base}/tickets", json={"title": f"n{i}"}) for i in range(10)]
        assert {r.status_code for r in responses} == {201}
    assert len(contents(empty_url)[1]) == 10
