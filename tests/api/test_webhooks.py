"""Webhooks on both stores, through the API with the delivery worker running as in a server: every message is
verified by a receiver with the `standardwebhooks` package. Retries run on TICKETS_WEBHOOK_TIME_SCALE, so three
days of the Standard Webhooks schedule take seconds; the tests wait for what the worker does, never for a clock."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from conftest import _serving, eventually
from tickets.engine.models import TicketCreate
from tickets.engine.settings import Settings
from tickets.engine.webhooks import RETRY_DELAYS, WebhookCreate, new_secret
from tickets.stores.base import TicketStore
from tickets.worker.delivery import LOOK_FOR_ENDPOINTS, Deliverer, Options, WallClock
from webhook_receiver import Receiver, failing, receiving

SCALE = 0.0001  # 5 s -> 0.5 ms, 5 min -> 30 ms, 30 min -> 0.18 s, 24 h -> 8.6 s


def settings(**env: str) -> Settings:
    return Settings.from_environment(
        {"TICKETS_WEBHOOKS_ALLOW_PRIVATE": "1", "TICKETS_WEBHOOK_TIME_SCALE": str(SCALE), **env}
    )


@pytest.fixture
def api(ticket_store: TicketStore) -> Iterator[TestClient]:
    """The API over each store, delivering to local receivers as a server does."""
    with _serving(ticket_store, settings()) as client:
        yield client


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as r:
        yield r


def subscribe(api: TestClient, receiver: Receiver, events: list[str] | None = None, **more: Any) -> dict[str, Any]:
    answer = api.post("/webhooks", json={"url": receiver.url, "events": events or ["*"], **more})
    assert answer.status_code == 201, answer.text
    hook = answer.json()
    receiver.secrets.append(hook["secret"])
    return hook


def last_event_id(api: TestClient) -> int:
    """The newest event's id (0: none), read through the API: never asyncio.run on the app's store, whose
    PostgreSQL pool belongs to the app's own event loop."""
    after = 0
    while page := api.get("/events", params={"after": after, "limit": 1000}).json():
        after = page[-1]["id"]
    return after


def hook_of(api: TestClient, hook_id: int) -> dict[str, Any]:
    return api.get(f"/webhooks/{hook_id}").json()


def tries_of(api: TestClient, hook_id: int, count: int) -> list[dict[str, Any]]:
    """The endpoint's tries once `count` of them are kept (they are saved with its cursor, soon after they
    happen), oldest first."""
    eventually(lambda: len(api.get(f"/webhooks/{hook_id}/deliveries").json()) >= count, f"{count} tries kept")
    return list(reversed(api.get(f"/webhooks/{hook_id}/deliveries").json()))


# --------------------------------------------------------------------------- the endpoints


def test_a_webhook_is_created_read_changed_and_deleted(api: TestClient, receiver: Receiver) -> None:
    created = api.post(
        "/webhooks", json={"url": receiver.url, "events": ["ticket.created", "*"], "description": " Chat "}
    )
    assert created.status_code == 201
    hook = created.json()
    assert created.headers["location"] == f"/webhooks/{hook['id']}"
    assert hook["secret"].startswith("whsec_") and len(hook["secret"]) > 30
    assert hook["events"] == ["*", "ticket.created"] and hook["description"] == "Chat"
    assert hook["enabled"] is True and hook["disabled_reason"] is None
    assert hook["delivered_up_to"] == last_event_id(api)
    shown = api.get(f"/webhooks/{hook['id']}").json()
    assert "secret" not in shown and "secrets" not in shown and "generation" not in shown
    assert shown == {k: v for k, v in hook.items() if k != "secret"}
    assert [h["id"] for h in api.get("/webhooks").json()] == [hook["id"]]
    changed = api.patch(f"/webhooks/{hook['id']}", json={"events": ["comment.created"], "enabled": False})
    assert changed.status_code == 200
    assert changed.json()["events"] == ["comment.created"] and changed.json()["enabled"] is False
    assert changed.json()["disabled_reason"] == "disabled by an admin"
    assert api.patch(f"/webhooks/{hook['id']}", json={"enabled": True}).json()["disabled_reason"] is None
    assert api.delete(f"/webhooks/{hook['id']}").status_code == 204
    assert api.get(f"/webhooks/{hook['id']}").status_code == 404
    assert api.delete(f"/webhooks/{hook['id']}").json()["detail"] == f"webhook {hook['id']} not found"
    again = api.post("/webhooks", json={"url": receiver.url, "events": ["*"]}).json()
    assert again["id"] > hook["id"]  # ids are never given twice


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://example.org/x", "events": ["*"]}, "url"),
        ({"url": "https://", "events": ["*"]}, "url"),
        ({"url": "htTpS://[", "events": ["*"]}, "url"),  # urlsplit's own ValueError, said as the others
        ({"url": "https://user:pw@example.org/x", "events": ["*"]}, "url"),
        ({"url": "https://example.org/x", "events": []}, "events"),
        ({"url": "https://example.org/x", "events": ["ticket.exploded"]}, "events"),
        ({"url": "https://example.org/x"}, "events"),
        ({"url": "https://example.org/x", "events": ["*"], "secret": "mine"}, "secret"),
        ({"url": "https://example.org/x", "events": ["*"], "description": "x" * 501}, "description"),
    ],
)
def test_a_bad_webhook_is_400_naming_the_field(api: TestClient, body: dict[str, Any], field: str) -> None:
    answer = api.post("/webhooks", json=body)
    assert answer.status_code == 400
    assert field in {str(part) for issue in answer.json()["detail"] for part in issue["loc"]}
    assert api.get("/webhooks").json() == []


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:8000/x", "loopback"),
        ("http://localhost:8000/x", "loopback"),  # a name that resolves to 127.0.0.1
        ("http://[::1]/x", "loopback"),
        ("http://10.0.0.8/x", "private"),
        ("http://192.168.1.20/x", "private"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://224.0.0.1/x", "multicast"),
        ("http://0.0.0.0/x", "unspecified"),
        ("http://nowhere.invalid/x", "does not resolve"),
    ],
)
def test_private_addresses_are_refused(ticket_store: TicketStore, url: str, why: str) -> None:
    with _serving(ticket_store, Settings.from_environment({})) as api:
        answer = api.post("/webhooks", json={"url": url, "events": ["*"]})
        assert answer.status_code == 400
        issue = answer.json()["detail"][0]
        assert issue["loc"] == ["body", "url"] and why in issue["msg"]
        assert api.get("/webhooks").json() == []


def test_an_address_is_checked_again_at_each_delivery(ticket_store: TicketStore, receiver: Receiver) -> None:
    with _serving(ticket_store, settings()) as api:
        hook = subscribe(api, receiver)
    with _serving(ticket_store, settings(TICKETS_WEBHOOKS_ALLOW_PRIVATE="0")) as api:
        refused = api.patch(f"/webhooks/{hook['id']}", json={"url": receiver.url})
        assert refused.status_code == 400 and "loopback" in refused.json()["detail"][0]["msg"]
        api.post("/tickets", json={"title": "Imprimante"})
        eventually(lambda: api.get(f"/webhooks/{hook['id']}/deliveries").json(), "a try")
        first = api.get(f"/webhooks/{hook['id']}/deliveries").json()[-1]
        assert first["status_code"] is None and "127.0.0.1, a loopback address" in first["error"]
    assert receiver.got == []


def test_only_admin_keys_see_or_change_webhooks(ticket_store: TicketStore) -> None:
    keys = {"TICKETS_API_KEYS": "ana:k-ana,karim:k-karim:agent,vera:k-vera:viewer"}
    with _serving(ticket_store, settings(**keys)) as api:
        for key, role in (("k-karim", "agent"), ("k-vera", "viewer")):
            for method, path in (("GET", "/webhooks"), ("POST", "/webhooks"), ("GET", "/webhooks/1/deliveries")):
                answer = api.request(method, path, headers={"X-API-Key": key}, json={})
                assert answer.status_code == 403 and f"role is {role}" in answer.json()["detail"]
        assert api.get("/webhooks", headers={"X-API-Key": "k-ana"}).status_code == 200


# --------------------------------------------------------------------------- delivery


class _NoTickClock(WallClock):
    """A clock whose look for endpoints never comes (its shorter sleeps pass): an endpoint added then comes to the
    worker only from the bell that the routes ring (tickets.worker.bell)."""

    async def sleep(self, seconds: float) -> None:
        if seconds >= LOOK_FOR_ENDPOINTS:
            await asyncio.Event().wait()
        await asyncio.sleep(seconds)


def test_a_webhook_added_in_this_process_is_delivered_without_waiting_for_a_tick(
    ticket_store: TicketStore, receiver: Receiver
) -> None:
    async def work() -> None:
        running = asyncio.create_task(Deliverer(ticket_store, Options(allow_private=True), _NoTickClock()).run())
        try:
            await asyncio.sleep(0.05)  # the worker is under way and has found no endpoint
            secret = new_secret()
            receiver.secrets.append(secret)
            data = WebhookCreate(url=receiver.url, events=["*"])
            await ticket_store.webhooks.create(data, secret, ticket_store.now(), await ticket_store.last_event_id())
            ticket_store.webhooks.tell_changed()  # as the routes do
            await ticket_store.add(TicketCreate(title="Imprimante"))
            await _until(lambda: len(receiver.delivered()) == 1)
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)

    asyncio.run(work())
    assert [r.body["data"]["ticket"]["title"] for r in receiver.delivered()] == ["Imprimante"]


async def _until(condition: Any, seconds: float = 120) -> None:
    """eventually, for a test's own event loop (the worker runs in it)."""
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"still waiting after {seconds:.0f} s")


def test_a_claim_cut_short_by_a_stop_is_given_back(ticket_store: TicketStore) -> None:
    """A server stopped while it takes the claim to deliver (the JSON store's lock is taken in a thread, which
    goes on) does not keep it: the next deliverer of the same process gets it."""

    async def work() -> bool:
        trying = asyncio.create_task(ticket_store.webhooks.claim())
        await asyncio.sleep(0)  # the claim is under way
        trying.cancel()
        try:
            taken = await trying
        except asyncio.CancelledError:
            taken = None
        if taken is not None:  # done before the cancel came
            await taken.release()
        again = await ticket_store.webhooks.claim()
        if again is not None:
            await again.release()
        return again is not None

    assert asyncio.run(work())


def test_every_change_is_delivered_signed_and_in_order(api: TestClient, receiver: Receiver) -> None:
    hook = subscribe(api, receiver)
    # Stopped while the changes are made (its cursor stays), started again after: each message then carries the
    # ticket and the comment as they are when it is sent (a delivery that lags behind the writes).
    assert api.patch(f"/webhooks/{hook['id']}", json={"enabled": False}).status_code == 200
    ticket = api.post("/tickets", json={"title": "Imprimante en panne"}).json()
    url = f"/tickets/{ticket['id']}"
    api.patch(url, json={"status": "in_progress"})
    comment = api.post(f"{url}/comments", json={"author": "karim", "body": "J'arrive"}).json()
    api.patch(f"{url}/comments/{comment['id']}", json={"body": "J'arrive à 14 h"})
    api.delete(f"{url}/comments/{comment['id']}")
    api.delete(url)
    assert api.patch(f"/webhooks/{hook['id']}", json={"enabled": True}).status_code == 200
    types = ["ticket.created", "ticket.updated", "comment.created", "comment.updated", "comment.deleted"]
    types.append("ticket.deleted")
    eventually(lambda: len(receiver.delivered()) == 6, "six deliveries")
    assert receiver.unverified == []
    assert [r.body["type"] for r in receiver.got] == types
    events = api.get(f"{url}/events").json()
    assert receiver.ids() == [f"evt_{e['id']}" for e in events]
    assert [r.body["data"]["event"] for r in receiver.got] == events
    assert [r.body["timestamp"] for r in receiver.got] == [e["at"] for e in events]
    created = receiver.got[0].body["data"]
    assert created["ticket"] is None  # deleted by the time it was sent: the ticket as it is now
    assert "comment" not in created
    assert receiver.got[2].body["data"]["comment"] is None  # the comment was deleted too
    assert all(len(r.signatures) == 1 and r.signatures[0].startswith("v1,") for r in receiver.got)
    eventually(lambda: hook_of(api, hook["id"])["delivered_up_to"] == events[-1]["id"], "the cursor to be saved")
    tries = api.get(f"/webhooks/{hook['id']}/deliveries").json()
    assert [t["message_id"] for t in tries] == [f"evt_{e['id']}" for e in reversed(events)]
    assert {(t["attempt"], t["status_code"], t["error"]) for t in tries} == {(1, 200, None)}


def test_a_delivery_carries_the_ticket_and_the_comment_as_they_are(api: TestClient, receiver: Receiver) -> None:
    subscribe(api, receiver, ["comment.created"])
    api.post("/tickets", json={"title": "VPN"})
    comment = api.post("/tickets/3/comments", json={"author": "zoé", "body": "Réglé", "internal": True}).json()
    eventually(lambda: receiver.delivered(), "the comment's delivery")
    data = receiver.got[0].body["data"]
    assert [r.body["type"] for r in receiver.got] == ["comment.created"]  # only the type it wants
    assert data["comment"] == comment and data["ticket"] == api.get("/tickets/3").json()


def test_a_new_webhook_gets_only_what_is_written_after_it(api: TestClient, receiver: Receiver) -> None:
    api.post("/tickets", json={"title": "Avant"})
    subscribe(api, receiver)
    after = api.post("/tickets", json={"title": "Après"}).json()
    eventually(lambda: receiver.delivered(), "a delivery")
    api.post("/tickets", json={"title": "Encore"})
    eventually(lambda: len(receiver.delivered()) == 2, "a second delivery")
    assert [r.body["data"]["event"]["ticket_id"] for r in receiver.got] == [after["id"], after["id"] + 1]


def test_a_receiver_that_fails_three_times_then_recovers_gets_everything(api: TestClient, receiver: Receiver) -> None:
    receiver.script = failing(3)
    hook = subscribe(api, receiver)
    api.post("/tickets", json={"title": "Un"})
    api.post("/tickets", json={"title": "Deux"})
    eventually(lambda: len(receiver.delivered()) == 2, "both deliveries")
    first, second = receiver.got[0].id, receiver.got[-1].id
    assert [r.id for r in receiver.got] == [first] * 4 + [second]  # the same webhook-id on every try
    assert [r.answered for r in receiver.got] == [500, 500, 500, 200, 200]
    tries = tries_of(api, hook["id"], 5)
    assert [(t["message_id"], t["attempt"], t["status_code"]) for t in tries] == [
        (first, 1, 500),
        (first, 2, 500),
        (first, 3, 500),
        (first, 4, 200),
        (second, 1, 200),
    ]
    assert hook_of(api, hook["id"])["enabled"] is True


@pytest.mark.parametrize("size, connections", [(1000, 1), (200_000, 3)])
def test_an_answer_is_read_so_its_connection_serves_again(
    api: TestClient, receiver: Receiver, size: int, connections: int
) -> None:
    """An answer's body is read and dropped, so the next message goes on the same connection; one longer than
    64 KiB is not read on: its connection is closed, and the next message opens another."""
    receiver.answer_body = b"x" * size
    subscribe(api, receiver)
    for title in ("Un", "Deux", "Trois"):
        api.post("/tickets", json={"title": title})
    eventually(lambda: len(receiver.delivered()) == 3, "three deliveries")
    assert [r.answered for r in receiver.got] == [200, 200, 200]
    assert len(receiver.connections) == connections


def test_retry_after_is_honoured(api: TestClient, receiver: Receiver) -> None:
    """Retry-After: 3600 on a 503 waits 3600 s (0.36 s at this scale), not the schedule's 5 s (0.5 ms)."""
    receiver.script = failing(1, 503, {"Retry-After": "3600"})
    hook = subscribe(api, receiver)
    api.post("/tickets", json={"title": "Un"})
    eventually(lambda: receiver.delivered(), "the delivery")
    tries = tries_of(api, hook["id"], 2)
    assert [(t["attempt"], t["status_code"]) for t in tries] == [(1, 503), (2, 200)]
    assert receiver.got[1].arrived - receiver.got[0].arrived >= 3600 * SCALE - 0.01


def test_a_redirect_is_not_followed(api: TestClient, receiver: Receiver) -> None:
    with receiving() as elsewhere:
        receiver.script = failing(2, 307, {"Location": elsewhere.url})
        hook = subscribe(api, receiver)
        api.post("/tickets", json={"title": "Un"})
        eventually(lambda: receiver.delivered(), "the delivery")
        assert elsewhere.got == []
    tries = tries_of(api, hook["id"], 3)
    assert [t["status_code"] for t in tries] == [307, 307, 200]
    assert tries[0]["error"] == f"redirect to {elsewhere.url} not followed"


def test_410_disables_the_endpoint_and_tells_the_others(api: TestClient, receiver: Receiver) -> None:
    with receiving() as watcher:
        receiver.script = failing(1, 410)
        gone = subscribe(api, receiver)
        subscribe(api, watcher, ["endpoint.disabled"])
        api.post("/tickets", json={"title": "Un"})
        eventually(lambda: watcher.delivered(), "the endpoint.disabled message")
        notice = watcher.got[0].body
        assert notice["type"] == "endpoint.disabled"
        assert notice["data"]["event"]["webhook"]["id"] == gone["id"]
        assert "410" in notice["data"]["event"]["webhook"]["disabled_reason"]
        assert watcher.unverified == []
    hook = hook_of(api, gone["id"])
    assert hook["enabled"] is False and hook["disabled_reason"] == "the receiver answered 410 Gone"
    api.post("/tickets", json={"title": "Deux"})
    assert len(receiver.got) == 1  # disabled: nothing more is tried
    api.patch(f"/webhooks/{gone['id']}", json={"enabled": True})  # enabled again: it starts where it stopped
    eventually(lambda: len(receiver.delivered()) == 2, "the two events")
    assert [r.body["data"]["ticket"]["title"] for r in receiver.delivered()] == ["Un", "Deux"]
    assert receiver.got[0].id == receiver.got[1].id


def test_after_the_whole_schedule_the_endpoint_is_given_up(ticket_store: TicketStore, receiver: Receiver) -> None:
    receiver.script = lambda received: (500, {})
    with _serving(ticket_store, settings(TICKETS_WEBHOOK_TIME_SCALE="0.00001")) as api:
        hook = subscribe(api, receiver)
        api.post("/tickets", json={"title": "Un"})
        eventually(lambda: not hook_of(api, hook["id"])["enabled"], "the endpoint to be given up", 120)
        shown = hook_of(api, hook["id"])
        tries = len(RETRY_DELAYS) + 1
        assert (
            shown["disabled_reason"].startswith(f"{tries} tries of evt_") and "status 500" in shown["disabled_reason"]
        )
        assert len(receiver.got) == tries and len({r.id for r in receiver.got}) == 1
        assert shown["delivered_up_to"] == hook["delivered_up_to"]  # the event was not passed over


def test_a_rotated_secret_signs_beside_the_old_one_for_a_day(api: TestClient, receiver: Receiver) -> None:
    hook = subscribe(api, receiver)
    old = receiver.secrets[0]
    rotated = api.post(f"/webhooks/{hook['id']}/rotate-secret")
    assert rotated.status_code == 200
    new = rotated.json()["secret"]
    assert new.startswith("whsec_") and new != old and "secret" not in hook_of(api, hook["id"])
    receiver.secrets.append(new)
    api.post("/tickets", json={"title": "Un"})
    eventually(lambda: receiver.delivered(), "the delivery")
    assert len(receiver.got[0].signatures) == 2 and receiver.got[0].verified_by == [old, new]
    store = api.app.state.store  # type: ignore[attr-defined]
    store.now = lambda: "2099-01-01T00:00:00Z"  # a day later and more: the old secret no longer signs
    api.post("/tickets", json={"title": "Deux"})
    eventually(lambda: len(receiver.delivered()) == 2, "the second delivery")
    assert len(receiver.got[1].signatures) == 1 and receiver.got[1].verified_by == [new]


def test_redeliver_sends_the_events_again_with_their_ids(api: TestClient, receiver: Receiver) -> None:
    hook = subscribe(api, receiver)
    first = api.post("/tickets", json={"title": "Un"}).json()
    api.post("/tickets", json={"title": "Deux"})
    eventually(lambda: len(receiver.delivered()) == 2, "two deliveries")
    start = receiver.got[0].body["data"]["event"]["id"]
    answer = api.post(f"/webhooks/{hook['id']}/redeliver", params={"from": start})
    assert answer.status_code == 202 and answer.json()["delivered_up_to"] == start - 1
    eventually(lambda: len(receiver.delivered()) == 4, "the events again")
    assert receiver.ids()[2:] == receiver.ids()[:2]
    assert receiver.got[2].body["data"]["event"]["ticket_id"] == first["id"]
    assert api.post(f"/webhooks/{hook['id']}/redeliver").status_code == 400
    assert api.post(f"/webhooks/{hook['id']}/redeliver", params={"from": 0}).status_code == 400
    assert api.post("/webhooks/99/redeliver", params={"from": 1}).status_code == 404


def test_deliveries_are_paged_newest_first(api: TestClient, receiver: Receiver) -> None:
    hook = subscribe(api, receiver)
    for n in range(5):
        api.post("/tickets", json={"title": f"T{n}"})
    eventually(lambda: len(receiver.delivered()) == 5, "five deliveries")
    eventually(lambda: len(api.get(f"/webhooks/{hook['id']}/deliveries").json()) == 5, "five tries kept")
    page = api.get(f"/webhooks/{hook['id']}/deliveries", params={"limit": 2, "offset": 1})
    assert page.headers["x-total-count"] == "5"
    assert [t["message_id"] for t in page.json()] == list(reversed(receiver.ids()))[1:3]
    assert api.get("/webhooks/42/deliveries").status_code == 404
