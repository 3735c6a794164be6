"""Idempotency-Key through two real servers (`uvicorn main:app`) on one store: the same request sent at once by
many clients to both servers creates one ticket, and a server started later gives the same answer again."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from conftest import contents, running_server

pytestmark = [pytest.mark.slow]
ENV = {"TICKETS_WEBHOOKS": "off"}
ROUNDS, CLIENTS = 20, 8


@pytest.fixture(params=["json", "postgres"])
def place(request: pytest.FixtureRequest, tickets_file: Path) -> str:
    """Where the servers keep their tickets: the test's file, or a database."""
    return str(tickets_file) if request.param == "json" else str(request.getfixturevalue("database_url"))


def test_two_servers_create_one_ticket_per_key(place: str) -> None:
    body = {"title": "Badge refusé à l'entrée du parking", "priority": "urgent"}
    with running_server(place, env=ENV) as first, running_server(place, env=ENV) as second:
        bases = [first, second]
        before = len(contents(place)[1])
        with ThreadPoolExecutor(max_workers=CLIENTS) as pool, httpx.Client(timeout=30) as http:
            for round_ in range(ROUNDS):
                barrier = threading.Barrier(CLIENTS)
                key = {"Idempotency-Key": f"parking-{round_}"}

                def send(n: int, key: dict[str, str] = key, barrier: threading.Barrier = barrier) -> httpx.Response:
                    barrier.wait(60)
                    return http.post(f"{bases[n % 2]}/tickets", json=body, headers=key)

                answers = list(pool.map(send, range(CLIENTS)))
                assert {a.status_code for a in answers} <= {201, 409}, [a.text for a in answers]
                created = [a for a in answers if a.status_code == 201]
                assert len([a for a in created if "Idempotent-Replayed" not in a.headers]) == 1
                assert len({(a.content, a.headers["Location"], a.headers["ETag"]) for a in created}) == 1
                # Every client gets the answer in the end: a 409 is retried once the first is done.
                again = http.post(f"{bases[round_ % 2]}/tickets", json=body, headers=key)
                assert again.headers["Idempotent-Replayed"] == "true" and again.content == created[0].content
        tickets = contents(place)[1]
        assert len(tickets) == before + ROUNDS
        last = again
    with running_server(place, env=ENV) as restarted:  # a server started later, after both stopped
        replayed = httpx.post(f"{restarted}/tickets", json=body, headers={"Idempotency-Key": f"parking-{ROUNDS - 1}"})
        assert replayed.content == last.content and replayed.headers["ETag"] == last.headers["ETag"]
        assert replayed.headers["Idempotent-Replayed"] == "true"
    assert len(contents(place)[1]) == before + ROUNDS
