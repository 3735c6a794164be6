"""Idempotency-Key on POST /tickets and POST /tickets/{id}/comments, on both stores: a retry gets the first answer
and writes nothing, another request under the key is a 422, a retry while the first is written a 409, the answers
last 24 hours by the store's clock, across restarts, for each API key apart (docs/idempotency.md)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from conftest import PinnedClock as Clock
from conftest import _serving, history_agrees, sync
from tickets.engine.idempotency import PATTERN
from tickets.stores import TicketStore
from tickets.stores.json_file import JsonStore
from tickets.stores.json_file.snapshot import Batch

T0 = "2026-11-28T09:30:00Z"
BODY = {"title": "Imprimante du 2e étage hors service", "priority": "high", "tags": ["impression"]}
KEY = {"Idempotency-Key": "4c9e1a52-7d1f-4b8e-9a57-0c2f6d3e8b41"}
REPLAYED = "Idempotent-Replayed"


@pytest.fixture
def clock(ticket_store: TicketStore) -> Clock:
    clock = Clock(T0)
    ticket_store.now = clock  # type: ignore[method-assign]
    return clock


def place_of(store: TicketStore) -> str:
    return str(store.path) if isinstance(store, JsonStore) else store.url  # type: ignore[attr-defined]


def fresh(store: TicketStore) -> TicketStore:
    """Another store object on the same file or database: another process, or the same one restarted."""
    if isinstance(store, JsonStore):
        return JsonStore(store.path)
    return type(store)(store.url)  # type: ignore[attr-defined, call-arg]


def written(store: TicketStore) -> tuple[Any, ...]:
    """Everything a write changes, read by a new store object: next id, tickets, events and comments."""

    async def read() -> tuple[Any, ...]:
        other = fresh(store)
        try:
            next_id, tickets, history = await other.export_all()
            return next_id, tickets, [e["id"] for e in history.events], [c["id"] for c in history.comments]
        finally:
            await other.close()

    return sync(read())


def kept_keys(store: TicketStore) -> list[str]:
    """The keys whose answers the store keeps now, oldest first."""
    if isinstance(store, JsonStore):
        return [r["key"] for r in json.loads(store.path.read_text(encoding="utf-8")).get("idempotency", [])]
    import psycopg  # only with PostgreSQL (requirements-postgres.txt)

    with psycopg.connect(place_of(store)) as conn:
        return [row[0] for row in conn.execute("SELECT key FROM idempotency_keys ORDER BY at, key")]


def same_answer(first: httpx.Response, again: httpx.Response) -> None:
    assert again.status_code == first.status_code
    assert again.content == first.content
    for header in ("Location", "ETag", "Content-Type"):
        assert again.headers.get(header) == first.headers.get(header), header
    assert REPLAYED not in first.headers
    assert again.headers[REPLAYED] == "true"


# --------------------------------------------------------------------------- replays


def test_a_retry_gets_the_first_answer_and_writes_nothing(client: TestClient, ticket_store: TicketStore) -> None:
    first = client.post("/tickets", json=BODY, headers=KEY)
    assert first.status_code == 201, first.text
    assert first.headers["Location"] == f"/tickets/{first.json()['id']}"
    assert first.json()["title"] == BODY["title"]
    before = written(ticket_store)
    # The same request as understood: another key order, spaces, a default written out, the key quoted.
    retry = client.post(
        "/tickets",
        content=b'{ "tags": ["impression"],\n "priority": "high", "status": "open",'
        b' "title": "Imprimante du 2e \xc3\xa9tage hors service" }',
        headers={"Content-Type": "application/json", "Idempotency-Key": f'"{KEY["Idempotency-Key"]}"'},
    )
    same_answer(first, retry)
    assert written(ticket_store) == before
    if isinstance(ticket_store, JsonStore):
        file = ticket_store.path.read_bytes()
        same_answer(first, client.post("/tickets", json=BODY, headers=KEY))
        assert ticket_store.path.read_bytes() == file  # not even written again
    assert kept_keys(ticket_store) == [KEY["Idempotency-Key"]]


def test_a_keyed_answer_is_the_answer_without_a_key(client: TestClient, clock: Clock) -> None:
    keyed = client.post("/tickets", json=BODY, headers=KEY)
    plain = client.post("/tickets", json=BODY)
    assert set(keyed.headers) - {REPLAYED.lower()} == set(plain.headers)
    assert {k: v for k, v in keyed.json().items() if k != "id"} == {k: v for k, v in plain.json().items() if k != "id"}
    assert client.get(keyed.headers["Location"]).headers["ETag"] == keyed.headers["ETag"]


def test_a_comment_retry_gets_the_first_answer_and_writes_nothing(
    client: TestClient, ticket_store: TicketStore
) -> None:
    body = {"author": "karim.benali", "body": "Le technicien passe à 14 h.", "internal": False}
    first = client.post("/tickets/3/comments", json=body, headers=KEY)
    assert first.status_code == 201, first.text
    assert first.headers["Location"] == f"/tickets/3/comments/{first.json()['id']}"
    before, ticket = written(ticket_store), client.get("/tickets/3")
    assert first.headers["Ticket-ETag"] == ticket.headers["ETag"]
    same_answer(
        first, client.post("/tickets/3/comments", json={"body": body["body"], "author": "karim.benali"}, headers=KEY)
    )
    assert written(ticket_store) == before
    assert client.get("/tickets/3").headers["ETag"] == ticket.headers["ETag"]
    assert client.get("/tickets/3/comments").headers["X-Total-Count"] == "1"


def test_a_retry_after_a_restart_gets_the_first_answer(client: TestClient, ticket_store: TicketStore) -> None:
    ticket = client.post("/tickets", json=BODY, headers=KEY)
    comment = client.post(
        "/tickets/1/comments", json={"author": "zoé", "body": "Vu."}, headers={"Idempotency-Key": "c-1"}
    )
    before = written(ticket_store)
    with _serving(fresh(ticket_store)) as restarted:
        same_answer(ticket, restarted.post("/tickets", json=BODY, headers=KEY))
        again = restarted.post(
            "/tickets/1/comments", json={"author": "zoé", "body": "Vu."}, headers={"Idempotency-Key": "c-1"}
        )
        same_answer(comment, again)
    assert written(ticket_store) == before
    history_agrees(ticket_store)


def test_a_new_sla_policy_keeps_the_answers(client: TestClient) -> None:
    """A change of policy starts the JSON file's version afresh (every plan changes): the kept answers stay."""
    first = client.post("/tickets", json=BODY, headers=KEY)
    policy = {"timezone": "Europe/Paris", "targets": {"high": {"first_response": 60, "resolution": 480}}}
    assert client.put("/sla", json=policy).status_code == 200
    same_answer(first, client.post("/tickets", json=BODY, headers=KEY))  # as first answered, before the policy


def test_a_failed_write_keeps_no_answer(
    client: TestClient, ticket_store: TicketStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ticket and its key's answer are committed together: a failure after the write leaves neither."""
    before = written(ticket_store)
    if isinstance(ticket_store, JsonStore):
        import tickets.stores.json_file.store as json_store

        def refused(source: Any, target: Any) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(json_store.os, "replace", refused)
    else:
        import tickets.stores.postgres.idempotency as pg_idempotency

        # the ticket is inserted, then keeping its answer fails
        monkeypatch.setattr(pg_idempotency, "KEEP", "SELECT %(scope)s::text, 1 / 0")
    failed = client.post("/tickets", json=BODY, headers=KEY)
    assert failed.status_code == 503, failed.text
    monkeypatch.undo()
    assert written(ticket_store)[1:] == before[1:]  # no ticket, no event (a sequence may have moved)
    assert kept_keys(ticket_store) == []
    retry = client.post("/tickets", json=BODY, headers=KEY)
    assert retry.status_code == 201 and REPLAYED not in retry.headers
    assert len(written(ticket_store)[1]) == len(before[1]) + 1


# --------------------------------------------------------------------------- another request under the key


@pytest.mark.parametrize(
    ("method", "url", "body", "headers", "named"),
    [
        ("POST", "/tickets", {**BODY, "priority": "low"}, {}, "another body or actor on POST /tickets"),
        ("POST", "/tickets", BODY, {"X-Actor": "julie.martin"}, "another body or actor on POST /tickets"),
        ("POST", "/tickets/3/comments", {"author": "zoé", "body": "Vu."}, {}, "for POST /tickets;"),
    ],
)
def test_the_key_with_another_request_is_422(
    client: TestClient, ticket_store: TicketStore, method: str, url: str, body: Any, headers: Any, named: str
) -> None:
    first = client.post("/tickets", json=BODY, headers=KEY)
    before = written(ticket_store)
    other = client.request(method, url, json=body, headers={**KEY, **headers})
    assert other.status_code == 422
    detail = other.json()["detail"]
    assert f"Idempotency-Key {KEY['Idempotency-Key']!r} was first used at " in detail and named in detail
    assert "send a new key for a new request" in detail
    assert written(ticket_store) == before
    same_answer(first, client.post("/tickets", json=BODY, headers=KEY))  # the key still stands for the first


def test_a_comment_key_on_another_ticket_is_422(client: TestClient) -> None:
    comment = {"author": "zoé", "body": "Vu."}
    assert client.post("/tickets/3/comments", json=comment, headers=KEY).status_code == 201
    other = client.post("/tickets/4/comments", json=comment, headers=KEY)
    assert other.status_code == 422
    assert "for POST /tickets/3/comments;" in other.json()["detail"]


def test_an_unknown_ticket_keeps_no_answer(client: TestClient, ticket_store: TicketStore) -> None:
    """An error wrote nothing and keeps nothing: the retry is simply answered again."""
    for _ in range(2):
        answer = client.post("/tickets/999/comments", json={"author": "zoé", "body": "Vu."}, headers=KEY)
        assert answer.status_code == 404 and REPLAYED not in answer.headers
    assert kept_keys(ticket_store) == []
    assert client.post("/tickets", json=BODY, headers=KEY).status_code == 201


def test_each_api_key_has_its_own_keys(ticket_store: TicketStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKETS_API_KEYS", "ana:k-ana,karim:k-karim:agent")
    with _serving(ticket_store) as client:
        ana = client.post("/tickets", json=BODY, headers={**KEY, "X-API-Key": "k-ana"})
        karim = client.post("/tickets", json=BODY, headers={**KEY, "X-API-Key": "k-karim"})
        assert ana.status_code == karim.status_code == 201
        assert REPLAYED not in karim.headers and ana.json()["id"] != karim.json()["id"]
        same_answer(ana, client.post("/tickets", json=BODY, headers={**KEY, "X-API-Key": "k-ana"}))
        same_answer(karim, client.post("/tickets", json=BODY, headers={**KEY, "X-API-Key": "k-karim"}))
        other = {**BODY, "title": "Autre chose"}
        assert client.post("/tickets", json=other, headers={**KEY, "X-API-Key": "k-ana"}).status_code == 422
        events = client.get("/events?after=0&limit=1000", headers={"X-API-Key": "k-ana"}).json()
        assert [e["actor"] for e in events if e["type"] == "created"][-2:] == ["ana", "karim"]


# --------------------------------------------------------------------------- bad headers


@pytest.mark.parametrize(
    "value",
    [
        "",
        '""',
        "two words",
        '"unterminated',
        'in"side',
        "back\\slash",
        '"a", "b"',
        "x" * 256,
        '"' + "x" * 256 + '"',
        "clé".encode(),
        b"\x7f",
    ],
)
def test_a_bad_key_is_400_naming_the_header(client: TestClient, ticket_store: TicketStore, value: str | bytes) -> None:
    before = written(ticket_store)
    for url, body in (("/tickets", BODY), ("/tickets/3/comments", {"author": "zoé", "body": "Vu."})):
        answer = client.post(url, json=body, headers={"Idempotency-Key": value})
        assert answer.status_code == 400, (value, answer.text)
        [issue] = answer.json()["detail"]
        assert issue["loc"] == ["header", "Idempotency-Key"] and "Idempotency-Key" in issue["msg"]
    assert written(ticket_store) == before


def test_the_key_given_twice_is_400(client: TestClient, ticket_store: TicketStore) -> None:
    before = written(ticket_store)
    answer = client.post("/tickets", json=BODY, headers=[("Idempotency-Key", "a"), ("Idempotency-Key", "b")])
    assert answer.status_code == 400
    assert answer.json()["detail"][0]["msg"] == "give Idempotency-Key once: it names one request"
    assert written(ticket_store) == before


@pytest.mark.parametrize(
    ("sent", "same"), [('"a b"', '"a b"'), ('"q\\"uote"', '"q\\"uote"'), ("x" * 255, f'"{"x" * 255}"')]
)
def test_quoted_and_bare_keys(client: TestClient, sent: str, same: str) -> None:
    first = client.post("/tickets", json=BODY, headers={"Idempotency-Key": sent})
    assert first.status_code == 201
    same_answer(first, client.post("/tickets", json=BODY, headers={"Idempotency-Key": same}))


# --------------------------------------------------------------------------- 24 hours


def test_an_answer_lasts_24_hours_by_the_stores_clock(
    client: TestClient, ticket_store: TicketStore, clock: Clock
) -> None:
    first = client.post("/tickets", json=BODY, headers=KEY)
    clock.time = "2026-11-28T10:30:00Z"
    assert client.post("/tickets", json=BODY, headers={"Idempotency-Key": "later"}).status_code == 201
    clock.time = "2026-11-29T09:29:59Z"
    same_answer(first, client.post("/tickets", json=BODY, headers=KEY))
    clock.time = "2026-11-29T09:30:00Z"  # 24 hours: forgotten, the key may be used again, for anything
    anew = client.post("/tickets", json={**BODY, "title": "Autre demande"}, headers=KEY)
    assert anew.status_code == 201 and REPLAYED not in anew.headers
    assert anew.json()["id"] != first.json()["id"]
    assert kept_keys(ticket_store) == ["later", KEY["Idempotency-Key"]]
    same_answer(anew, client.post("/tickets", json={**BODY, "title": "Autre demande"}, headers=KEY))
    clock.time = "2026-11-29T10:30:00Z"  # the other key's 24 hours: pruned by the next keyed write
    assert client.post("/tickets", json=BODY, headers={"Idempotency-Key": "next"}).status_code == 201
    assert kept_keys(ticket_store) == [KEY["Idempotency-Key"], "next"]


# --------------------------------------------------------------------------- while the first is written


class Hold:
    """The next keyed write stops inside its commit until released (JSON: in the writer thread, within the batch
    and under the folder's lock; PostgreSQL: within its transaction, after the key's lock)."""

    def __init__(self) -> None:
        self.entered, self.release, self.used = threading.Event(), threading.Event(), False

    def once(self) -> bool:
        first, self.used = not self.used, True
        return first


@pytest.fixture
def held(ticket_store: TicketStore, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hold]:
    hold = Hold()
    if isinstance(ticket_store, JsonStore):
        for name in ("add_answered", "comment_answered"):
            original = getattr(Batch, name)

            def waiting(batch: Batch, *args: Any, _original: Callable[..., Any] = original, **kwargs: Any) -> Any:
                if hold.once():
                    hold.entered.set()
                    assert hold.release.wait(60)
                return _original(batch, *args, **kwargs)

            monkeypatch.setattr(Batch, name, waiting)
    else:
        for name in ("_insert", "_comment"):
            original = getattr(ticket_store, name)

            async def awaiting(*args: Any, _original: Callable[..., Any] = original, **kwargs: Any) -> Any:
                if hold.once():
                    hold.entered.set()
                    assert await asyncio.to_thread(hold.release.wait, 60)
                return await _original(*args, **kwargs)

            monkeypatch.setattr(ticket_store, name, awaiting)
    yield hold
    hold.release.set()


@pytest.mark.parametrize(
    ("url", "body"), [("/tickets", BODY), ("/tickets/3/comments", {"author": "zoé", "body": "J'arrive."})]
)
def test_a_retry_while_the_first_is_written_is_409(
    client: TestClient, ticket_store: TicketStore, held: Hold, url: str, body: Any
) -> None:
    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(client.post, url, json=body, headers=KEY)
        assert held.entered.wait(60)
        retry = client.post(url, json=body, headers=KEY)
        assert retry.status_code == 409
        assert retry.json()["detail"] == (
            f"a request with Idempotency-Key {KEY['Idempotency-Key']!r} is still being answered; retry once it is "
            "done, and get its answer"
        )
        held.release.set()
        answer = first.result(60)
    assert answer.status_code == 201
    same_answer(answer, client.post(url, json=body, headers=KEY))


def test_another_server_during_the_first_write(client: TestClient, ticket_store: TicketStore, held: Hold) -> None:
    """A second server (another store object): on PostgreSQL the key's lock is held, a 409; the JSON file's writers
    take turns under the folder's lock, so the second one finds the first's answer."""
    with _serving(fresh(ticket_store)) as other, ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(client.post, "/tickets", json=BODY, headers=KEY)
        assert held.entered.wait(60)
        second = pool.submit(other.post, "/tickets", json=BODY, headers=KEY)
        if not isinstance(ticket_store, JsonStore):
            assert second.result(60).status_code == 409
        held.release.set()
        answer = first.result(60)
        if isinstance(ticket_store, JsonStore):
            same_answer(answer, second.result(60))
    assert answer.status_code == 201
    assert len(written(ticket_store)[1]) == 15


def test_concurrent_retries_create_one_ticket(client: TestClient, ticket_store: TicketStore) -> None:
    """20 rounds of 8 threads sending the same request with the same key at once: one ticket each round."""
    before = len(written(ticket_store)[1])
    with ThreadPoolExecutor(max_workers=8) as pool:
        for round_ in range(20):
            barrier = threading.Barrier(8)
            headers = {"Idempotency-Key": f"round-{round_}"}

            def send(_: int, headers: dict[str, str] = headers, barrier: threading.Barrier = barrier) -> httpx.Response:
                barrier.wait(60)
                return client.post("/tickets", json=BODY, headers=headers)

            answers = list(pool.map(send, range(8)))
            assert {a.status_code for a in answers} <= {201, 409}, [a.text for a in answers]
            created = [a for a in answers if a.status_code == 201]
            assert len([a for a in created if REPLAYED not in a.headers]) == 1
            assert len({a.content for a in created}) == 1
            assert len(written(ticket_store)[1]) == before + round_ + 1


# --------------------------------------------------------------------------- copies


def test_copies_leave_the_kept_answers_behind(client: TestClient, ticket_store: TicketStore, tmp_path: Path) -> None:
    first = client.post("/tickets", json=BODY, headers=KEY)
    (tmp_path / "copy").mkdir()
    copy = JsonStore(tmp_path / "copy" / "tickets.json")

    async def copy_to(target: TicketStore, replace: bool) -> None:
        source = fresh(ticket_store)
        try:
            next_id, tickets, history = await source.export_all()
            await target.replace_all(next_id, tickets, replace=replace, history=history)
        finally:
            await source.close()
            await target.close()

    sync(copy_to(copy, replace=False))
    assert "idempotency" not in json.loads(copy.path.read_text(encoding="utf-8"))
    with _serving(copy) as copied:
        again = copied.post("/tickets", json=BODY, headers=KEY)
        assert again.status_code == 201 and REPLAYED not in again.headers
    # A copy in place of the store forgets the store's own: they answered for the tickets it replaced.
    sync(copy_to(fresh(ticket_store), replace=True))
    assert kept_keys(ticket_store) == []
    anew = client.post("/tickets", json=BODY, headers=KEY)
    assert anew.status_code == 201 and REPLAYED not in anew.headers and anew.json()["id"] != first.json()["id"]


def test_the_schema_documents_the_header_409_and_422(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/tickets", "/tickets/{ticket_id}/comments"):
        operation = paths[path]["post"]
        [header] = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]
        assert header["in"] == "header" and not header["required"] and "24 hours" in header["description"]
        # a plain string, never "string or null", with its example
        assert header["schema"] == {"type": "string", "pattern": PATTERN, "examples": [header["schema"]["examples"][0]]}
        for code in ("409", "422"):
            answer = operation["responses"][code]
            assert "Idempotency-Key" in answer["description"]
            assert "Idempotency-Key" in answer["content"]["application/json"]["example"]["detail"]
        assert "Idempotent-Replayed" in operation["responses"]["201"]["headers"]
