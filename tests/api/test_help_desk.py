"""The help desk through the API, on both stores: requesters, tags, the waiting status, first response and
resolution, the SLA policy and clocks, queues, bulk changes, comment corrections and roles.

The store's clock is pinned (ticket_store.now): every time below is the service's, never the wall clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from conftest import PinnedClock as Clock
from conftest import _serving, history_agrees
from tickets.engine.settings import Settings
from tickets.stores import TicketStore

FRIDAY_1750 = "2026-11-27T16:50:00Z"  # Friday 27 November 2026, 17:50 in Paris
HOURS = [["09:00", "12:30"], ["13:30", "18:00"]]
POLICY: dict[str, Any] = {
    "timezone": "Europe/Paris",
    "business_hours": {**dict.fromkeys(("mon", "tue", "wed", "thu", "fri"), HOURS), "sat": [], "sun": []},
    "holidays": ["2026-12-25", "2027-01-01"],
    "targets": {
        "urgent": {"first_response": 30, "resolution": 240},
        "high": {"first_response": 60, "resolution": 480},
        "medium": {"first_response": 240, "resolution": 1440},
    },
}


@pytest.fixture
def clock(ticket_store: TicketStore) -> Clock:
    clock = Clock(FRIDAY_1750)
    ticket_store.now = clock  # type: ignore[method-assign]
    return clock


@pytest.fixture
def desk(client: TestClient, clock: Clock) -> TestClient:
    """The API with the sample policy set."""
    assert client.put("/sla", json=POLICY).status_code == 200
    return client


def new(client: TestClient, **fields: Any) -> dict[str, Any]:
    response = client.post("/tickets", json={"title": "Imprimante en panne", **fields})
    assert response.status_code == 201, response.text
    return response.json()


# --------------------------------------------------------------------------- requester and tags


def test_requester_and_tags_are_kept_normalized_and_filtered(client: TestClient) -> None:
    ticket = new(
        client,
        requester={"name": "Claire Dubois", "email": " Claire.Dubois@Example.fr "},
        tags=["VPN", " réseau ", "vpn"],
    )
    assert ticket["requester"] == {"name": "Claire Dubois", "email": "Claire.Dubois@Example.fr"}
    assert ticket["tags"] == ["réseau", "vpn"]
    other = new(client, tags=["vpn"])
    for query, expected in [
        ("requester=claire.dubois@example.fr", [ticket["id"]]),
        ("requester=CLAIRE DUBOIS", [ticket["id"]]),
        ("tag=vpn", [ticket["id"], other["id"]]),
        ("tag=vpn,réseau", [ticket["id"]]),
        ("tag=VPN&tag=reseau", []),
    ]:
        response = client.get(f"/tickets?{query}")
        assert [t["id"] for t in response.json()] == expected, query
        assert response.headers["X-Total-Count"] == str(len(expected))
    stats = client.get("/tickets/stats").json()
    assert stats["by_tag"] == {"réseau": 1, "vpn": 2}
    assert client.get("/tickets/stats?tag=réseau").json()["total"] == 1


def test_tags_are_replaced_added_and_removed(client: TestClient) -> None:
    ticket = new(client, tags=["vpn"])
    url = f"/tickets/{ticket['id']}"
    assert client.patch(url, json={"add_tags": ["Réseau", "wifi"]}).json()["tags"] == ["réseau", "vpn", "wifi"]
    assert client.patch(url, json={"remove_tags": ["wifi", "absent"]}).json()["tags"] == ["réseau", "vpn"]
    assert client.patch(url, json={"tags": ["poste"]}).json()["tags"] == ["poste"]
    changes = client.get(f"{url}/events").json()[-1]["changes"]
    assert changes == {"tags": {"from": ["réseau", "vpn"], "to": ["poste"]}}
    before = client.get(url)
    # Removing a tag it does not have changes nothing: no event, same ETag.
    same = client.patch(url, json={"remove_tags": ["absent"]})
    assert same.headers["ETag"] == before.headers["ETag"] and same.json()["updated_at"] == before.json()["updated_at"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"tags": ["a b"]}, "tags"),
        ({"tags": ["x" * 51]}, "tags"),
        ({"tags": [f"t{i}" for i in range(21)]}, "tags"),
        ({"tags": ["vpn"] * 21}, "tags"),  # 21 given, as the schema's maxItems counts them, though 1 once normalized
        ({"tags": [""]}, "tags"),
        ({"requester": {"name": "Claire", "email": "pas-une-adresse"}}, "requester"),
        ({"requester": {"name": " ", "email": None}}, "requester"),
        ({"requester": {"email": "a@b.fr"}}, "requester"),
        ({"requester": {"name": "Claire", "phone": "0102"}}, "requester"),
        ({"first_response_at": "2026-11-27T16:50:00Z"}, "first_response_at"),
        ({"resolved_at": None}, "resolved_at"),
        ({"sla_state": "met"}, "sla_state"),
        ({"resolution_due": None}, "resolution_due"),
        ({"paused": []}, "paused"),
    ],
)
def test_bad_help_desk_fields_are_400_naming_the_field(client: TestClient, body: dict[str, Any], field: str) -> None:
    for response in (client.post("/tickets", json={"title": "t", **body}), client.patch("/tickets/3", json=body)):
        assert response.status_code == 400, response.text
        assert response.json()["detail"][0]["loc"][:2] == ["body", field]


def test_twenty_tags_given_with_repeats_are_kept_once_each(client: TestClient) -> None:
    given = ["VPN", "vpn", " Vpn ", "réseau", "RÉSEAU"] * 4
    assert new(client, tags=given)["tags"] == ["réseau", "vpn"]
    assert client.patch("/tickets/3", json={"tags": given}).json()["tags"] == ["réseau", "vpn"]


def test_adding_past_twenty_tags_is_refused_and_changes_nothing(client: TestClient) -> None:
    ticket = new(client, tags=[f"t{i:02}" for i in range(20)])
    response = client.patch(f"/tickets/{ticket['id']}", json={"add_tags": ["encore"]})
    assert response.status_code == 400
    assert response.json()["detail"] == [
        {
            "type": "invalid_change",
            "loc": ["body", "tags"],
            "msg": f"ticket {ticket['id']}: 21 tags; a ticket has at most 20",
        }
    ]
    assert client.get(f"/tickets/{ticket['id']}").json() == ticket


def test_tags_together_with_add_tags_is_400(client: TestClient) -> None:
    assert client.patch("/tickets/3", json={"tags": ["a"], "add_tags": ["b"]}).status_code == 400
    assert client.patch("/tickets/3", json={"add_tags": ["b"], "remove_tags": ["b"]}).status_code == 400


def test_unassigned_queue(client: TestClient) -> None:
    listed = client.get("/tickets?assignee=none").json()
    assert listed and all(t["assignee"] is None for t in listed)
    everyone = client.get("/tickets").json()
    assert len(listed) == sum(t["assignee"] is None for t in everyone)


# --------------------------------------------------------------------------- waiting, first response, resolution


def test_waiting_is_a_status_in_french_too(client: TestClient) -> None:
    ticket = client.patch("/tickets/3", json={"status": "En attente"}).json()
    assert ticket["status"] == "waiting"
    assert client.get("/tickets?status=en_attente").json() == [ticket]
    assert client.get("/tickets/stats").json()["by_status"]["waiting"] == 1
    ordered = [t["status"] for t in client.get("/tickets?sort=status").json()]
    assert ordered == sorted(ordered, key=["open", "in_progress", "waiting", "closed"].index)


def test_first_response_is_the_first_public_reply_not_by_the_requester(client: TestClient, clock: Clock) -> None:
    ticket = new(client, requester={"name": "Claire Dubois", "email": "claire@example.fr"})
    url = f"/tickets/{ticket['id']}"
    clock.time = "2026-11-27T17:00:00Z"
    client.post(f"{url}/comments", json={"author": "CLAIRE@example.fr", "body": "Toujours en panne"})
    client.post(f"{url}/comments", json={"author": "karim", "body": "Note", "internal": True})
    assert client.get(url).json()["first_response_at"] is None
    clock.time = "2026-11-27T17:05:00Z"
    client.post(f"{url}/comments", json={"author": "karim", "body": "Je regarde."})
    clock.time = "2026-11-27T17:10:00Z"
    client.post(f"{url}/comments", json={"author": "julie", "body": "Moi aussi."})
    assert client.get(url).json()["first_response_at"] == "2026-11-27T17:05:00Z"


def test_resolved_at_is_set_on_close_and_cleared_on_reopen(client: TestClient, clock: Clock) -> None:
    ticket = new(client)
    url = f"/tickets/{ticket['id']}"
    clock.time = "2026-11-30T10:00:00Z"
    assert client.patch(url, json={"status": "closed"}).json()["resolved_at"] == "2026-11-30T10:00:00Z"
    clock.time = "2026-11-30T11:00:00Z"
    assert client.patch(url, json={"status": "open"}).json()["resolved_at"] is None
    created_closed = new(client, status="fermé")
    assert created_closed["resolved_at"] == created_closed["created_at"]


# --------------------------------------------------------------------------- the SLA policy


def test_without_a_policy_every_ticket_has_no_sla(client: TestClient) -> None:
    assert client.get("/sla").json() == {"timezone": "UTC", "business_hours": None, "holidays": [], "targets": {}}
    ticket = client.get("/tickets/3").json()
    assert (ticket["first_response_due"], ticket["resolution_due"], ticket["sla_state"]) == (None, None, "none")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"timezone": "Europe/Parys"}, "timezone"),
        ({"business_hours": {"mon": [["12:30", "09:00"]]}}, "business_hours"),
        ({"business_hours": {"mon": [["09:00", "13:00"], ["12:30", "18:00"]]}}, "business_hours"),
        ({"business_hours": {"mon": [["9h", "12:00"]]}}, "business_hours"),
        ({"business_hours": {"lun": [["09:00", "12:00"]]}}, "business_hours"),
        ({"holidays": ["2026-02-30"]}, "holidays"),
        ({"targets": {"urgent": {"first_response": 0}}}, "targets"),
        ({"targets": {"critique": {"first_response": 10}}}, "targets"),
        ({"targets": {"high": {"first_response": 120, "resolution": 60}}}, "targets"),
        ({"color": "red"}, "color"),
    ],
)
def test_a_bad_policy_is_400_naming_the_field_and_changes_nothing(
    desk: TestClient, change: dict[str, Any], field: str
) -> None:
    response = desk.put("/sla", json={**POLICY, **change})
    assert response.status_code == 400, response.text
    assert response.json()["detail"][0]["loc"][:2] == ["body", field]
    assert desk.get("/sla").json()["timezone"] == "Europe/Paris"


def test_the_friday_evening_ticket_waits_over_the_weekend(desk: TestClient, clock: Clock) -> None:
    """The issue's walk-through: urgent, created Friday 17:50 (Paris), waiting over the weekend, answered Monday."""
    ticket = new(desk, priority="urgent", requester={"name": "Claire Dubois", "email": "claire@example.fr"})
    url = f"/tickets/{ticket['id']}"
    # 10 business minutes left on Friday; Monday starts at 09:00 Paris (08:00 UTC).
    assert (ticket["first_response_due"], ticket["resolution_due"], ticket["sla_state"]) == (
        "2026-11-30T08:20:00Z",
        "2026-11-30T12:50:00Z",
        "on_track",
    )
    clock.time = "2026-11-27T16:55:00Z"  # 17:55: waiting on Claire
    waiting = desk.patch(url, json={"status": "waiting"}).json()
    # 25 minutes left, shown as if it resumed now: 5 on Friday, 20 on Monday.
    assert (waiting["first_response_due"], waiting["sla_state"]) == ("2026-11-30T08:20:00Z", "paused")
    clock.time = "2026-11-28T10:00:00Z"  # Saturday: resuming now would start the 25 minutes on Monday morning
    assert desk.get(url).json()["first_response_due"] == "2026-11-30T08:25:00Z"
    clock.time = "2026-11-30T09:00:00Z"  # Monday 10:00: still waiting, the due time shows "if it resumed now"
    monday = desk.get(url).json()
    assert (monday["first_response_due"], monday["sla_state"]) == ("2026-11-30T09:25:00Z", "paused")
    clock.time = "2026-11-30T09:10:00Z"  # Claire answers: back to work; karim replies at 10:20
    desk.patch(url, json={"status": "in_progress"})
    clock.time = "2026-11-30T09:20:00Z"
    answered = desk.post(f"{url}/comments", json={"author": "karim", "body": "C'est réparé ?"})
    assert answered.status_code == 201
    after = desk.get(url).json()
    assert after["first_response_at"] == "2026-11-30T09:20:00Z"
    assert after["first_response_due"] == "2026-11-30T09:35:00Z"  # frozen once met
    assert after["resolution_due"] == "2026-11-30T14:05:00Z"  # 235 minutes left at 10:10: 140 before lunch, 95 after
    assert after["sla_state"] == "on_track"
    clock.time = "2026-11-30T14:06:00Z"
    assert desk.get(url).json()["sla_state"] == "breached"
    assert ticket["id"] in [t["id"] for t in desk.get("/tickets?sla=breached").json()]


def test_breached_stays_breached_after_a_priority_downgrade(desk: TestClient, clock: Clock) -> None:
    ticket = new(desk, priority="urgent")
    url = f"/tickets/{ticket['id']}"
    clock.time = "2026-11-30T08:21:00Z"  # the first response was due at 08:20
    assert desk.get(url).json()["sla_state"] == "breached"
    lowered = desk.patch(url, json={"priority": "medium"}).json()
    assert lowered["sla_state"] == "breached"
    assert lowered["first_response_due"] == "2026-11-30T12:50:00Z"  # recomputed from created_at: 10 + 230 min
    clock.time = "2026-12-08T08:00:00Z"
    desk.patch(url, json={"status": "closed"})
    assert desk.get(url).json()["sla_state"] == "breached"


def test_a_ticket_closed_in_time_is_met_and_counted(desk: TestClient, clock: Clock) -> None:
    ticket = new(desk, priority="high", tags=["suivi"])
    url = f"/tickets/{ticket['id']}"
    clock.time = "2026-11-30T08:30:00Z"
    desk.post(f"{url}/comments", json={"author": "karim", "body": "Bonjour"})
    clock.time = "2026-11-30T10:00:00Z"
    closed = desk.patch(url, json={"status": "closed"}).json()
    assert closed["sla_state"] == "met"
    stats = desk.get("/tickets/stats?tag=suivi").json()
    assert stats["sla"]["met"] == 1
    assert stats["first_response_minutes_median"] == 40.0  # 10 on Friday, 30 on Monday
    assert stats["resolution_minutes_median"] == 130.0
    assert desk.get("/tickets/stats?status=open").json()["first_response_minutes_median"] is None


def test_tickets_closed_before_the_help_desk_count_as_resolved_at_their_last_change(desk: TestClient) -> None:
    closed = desk.get("/tickets?status=closed").json()  # the test data predates resolved_at
    assert closed and all(t["resolved_at"] == t["updated_at"] for t in closed)
    assert all(t["sla_state"] in ("met", "breached", "none") for t in closed)
    assert all(t["resolution_due"] is None or t["sla_state"] != "on_track" for t in closed)


def test_a_policy_change_moves_due_times_and_keeps_the_waits(desk: TestClient, clock: Clock) -> None:
    ticket = new(desk, priority="urgent")
    url = f"/tickets/{ticket['id']}"
    clock.time = "2026-11-27T16:55:00Z"
    desk.patch(url, json={"status": "waiting"})
    clock.time = "2026-11-27T17:10:00Z"  # 15 minutes waited, 5 of them in business hours (until 18:00 Paris)
    assert desk.patch(url, json={"status": "open"}).json()["first_response_due"] == "2026-11-30T08:25:00Z"
    # Every hour counts now: 30 minutes from 16:50 plus the whole quarter of an hour waited.
    desk.put("/sla", json={**POLICY, "business_hours": None})
    assert desk.get(url).json()["first_response_due"] == "2026-11-27T17:35:00Z"
    assert desk.get(url).json()["sla_state"] == "on_track"
    clock.time = "2026-11-27T17:36:00Z"
    assert desk.get(url).json()["sla_state"] == "breached"


def test_queues_sort_by_due_and_filter_by_state_and_due_time(desk: TestClient, clock: Clock) -> None:
    """Among the tickets tagged `file` (the test data's own tickets are all long overdue)."""
    low = new(desk, priority="low", tags=["file"])  # low has no target in POLICY
    medium = new(desk, priority="medium", tags=["file"])
    urgent = new(desk, priority="urgent", tags=["file"])
    high = new(desk, priority="high", tags=["file"])
    clock.time = "2026-11-27T16:52:00Z"
    waiting = new(desk, priority="urgent", status="waiting", tags=["file"])  # its due time moves with the clock

    def ids(query: str) -> list[int]:
        response = desk.get(f"/tickets?tag=file&{query}")
        assert response.status_code == 200, response.text
        return [t["id"] for t in response.json()]

    # urgent 08:20, waiting 08:22 (30 minutes from now: 8 on Friday, 22 on Monday), high 08:50, medium 12:50;
    # low has no due time: last, in both directions.
    assert ids("sort=due") == [urgent["id"], waiting["id"], high["id"], medium["id"], low["id"]]
    assert ids("sort=-due") == [medium["id"], high["id"], waiting["id"], urgent["id"], low["id"]]
    assert ids("sort=due&limit=2&offset=1") == [waiting["id"], high["id"]]
    assert desk.get("/tickets?tag=file&sort=due&limit=2").headers["X-Total-Count"] == "5"
    clock.time = "2026-11-30T08:10:00Z"  # Monday 09:10: waiting's first response would now be due at 08:40
    assert ids("sort=due") == [urgent["id"], waiting["id"], high["id"], medium["id"], low["id"]]
    assert set(ids("due_before=2026-11-30T08:45:00Z")) == {urgent["id"], waiting["id"]}
    assert set(ids("due_before=2026-11-30T09:00:00Z")) == {urgent["id"], waiting["id"], high["id"]}
    assert ids("sla=paused") == [waiting["id"]]
    assert ids("sla=none") == [low["id"]]
    assert set(ids("sla=on_track,paused")) == {medium["id"], urgent["id"], high["id"], waiting["id"]}
    clock.time = "2026-11-30T08:25:00Z"  # urgent's first response (08:20) is late now
    assert ids("sla=breached") == [urgent["id"]]
    assert desk.get("/tickets/stats?tag=file").json()["sla"] == {
        "none": 1,
        "on_track": 2,
        "paused": 1,
        "met": 0,
        "breached": 1,
    }
    assert desk.get("/tickets?sla=late").status_code == 400
    assert desk.get("/tickets?due_before=demain").status_code == 400


# --------------------------------------------------------------------------- bulk changes


def test_bulk_changes_are_all_or_nothing(client: TestClient, stored: Any) -> None:
    before = stored()
    response = client.patch("/tickets", json={"ids": [3, 999, 5], "changes": {"status": "closed"}})
    assert response.status_code == 404 and "999" in response.json()["detail"]
    assert stored() == before
    response = client.patch("/tickets", json={"ids": [5, 3, 8], "changes": {"status": "closed", "add_tags": ["panne"]}})
    assert response.status_code == 200, response.text
    tickets = response.json()
    assert [t["id"] for t in tickets] == [5, 3, 8]
    assert all(t["status"] == "closed" and "panne" in t["tags"] for t in tickets)
    events = client.get("/events?limit=1000").json()
    assert [e["ticket_id"] for e in events if e["type"] == "updated"] == [5, 3, 8]
    history_agrees(client.app.state.store)  # type: ignore[attr-defined]


def test_a_bulk_change_past_twenty_tags_names_the_field_under_changes(client: TestClient, stored: Any) -> None:
    """The body of a bulk change holds the changes under changes: the 400 points there, as a validation error of
    the same body does (["body", "changes", ...])."""
    full = new(client, tags=[f"t{i:02}" for i in range(19)])
    before = stored()
    response = client.patch("/tickets", json={"ids": [3, full["id"]], "changes": {"add_tags": ["un", "deux"]}})
    assert response.status_code == 400
    assert response.json()["detail"] == [
        {
            "type": "invalid_change",
            "loc": ["body", "changes", "tags"],
            "msg": f"ticket {full['id']}: 21 tags; a ticket has at most 20",
        }
    ]
    assert stored() == before  # all or nothing: ticket 3 did not take them either
    invalid = client.patch("/tickets", json={"ids": [3], "changes": {"tags": ["a b"]}})
    assert invalid.status_code == 400 and invalid.json()["detail"][0]["loc"][:3] == ["body", "changes", "tags"]


@pytest.mark.parametrize(
    "body",
    [
        {"ids": [], "changes": {"status": "closed"}},
        {"ids": [3, 3], "changes": {"status": "closed"}},
        {"ids": list(range(1, 1002)), "changes": {"status": "closed"}},
        {"ids": [3], "changes": {}},
        {"ids": [3], "changes": {"statut": "closed"}},
        {"ids": [0], "changes": {"status": "closed"}},
        {"ids": [3]},
    ],
)
def test_a_bad_bulk_change_is_400(client: TestClient, body: dict[str, Any]) -> None:
    assert client.patch("/tickets", json=body).status_code == 400


def test_a_bulk_change_that_changes_nothing_records_nothing(client: TestClient) -> None:
    status = client.get("/tickets/3").json()["status"]
    before = client.get("/events").json()
    assert client.patch("/tickets", json={"ids": [3], "changes": {"status": status}}).status_code == 200
    assert client.get("/events").json() == before


# --------------------------------------------------------------------------- comments corrected


def test_a_comment_is_corrected_then_deleted_with_events(client: TestClient) -> None:
    comment = client.post("/tickets/3/comments", json={"author": "karim", "body": "Je passe à 14 h."}).json()
    url = f"/tickets/3/comments/{comment['id']}"
    edited = client.patch(url, json={"body": "Je passe à 15 h."})
    assert edited.status_code == 200
    assert edited.json()["body"] == "Je passe à 15 h." and edited.json()["edited_at"] is not None
    assert client.get(url).json() == edited.json()
    assert client.patch(url, json={"internal": True}).json()["internal"] is True
    assert client.delete(url).status_code == 204
    assert client.get(url).status_code == 404
    assert client.delete(url).status_code == 404
    events = client.get("/tickets/3/events").json()
    assert [e["type"] for e in events[-3:]] == ["comment_edited", "comment_edited", "comment_deleted"]
    assert events[-3]["changes"] == {
        "comment_id": {"from": comment["id"], "to": comment["id"]},
        "body": {"from": "Je passe à 14 h.", "to": "Je passe à 15 h."},
    }
    assert events[-1]["changes"]["comment_id"] == {"from": comment["id"], "to": None}
    assert client.patch(url, json={}).status_code in (400, 404)
    history_agrees(client.app.state.store)  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- roles


@pytest.fixture
def keyed(ticket_store: TicketStore) -> Iterator[TestClient]:
    settings = Settings.from_environment(
        {"TICKETS_API_KEYS": "ana:k-ana:admin,karim:k-karim:agent,vera:k-vera:viewer,old:k-old"}
    )
    with _serving(ticket_store, settings) as test_client:
        yield test_client


def as_(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


def test_roles_say_who_may_do_what(keyed: TestClient) -> None:
    assert keyed.put("/sla", json=POLICY, headers=as_("k-karim")).status_code == 403
    assert "agent" in keyed.put("/sla", json=POLICY, headers=as_("k-karim")).json()["detail"]
    assert keyed.put("/sla", json=POLICY, headers=as_("k-ana")).status_code == 200
    assert keyed.put("/sla", json=POLICY, headers=as_("k-old")).status_code == 200  # no role written: admin
    assert keyed.get("/sla", headers=as_("k-vera")).status_code == 200
    assert keyed.patch("/tickets/3", json={"status": "closed"}, headers=as_("k-karim")).status_code == 200
    refused = keyed.patch("/tickets/3", json={"status": "open"}, headers=as_("k-vera"))
    assert refused.status_code == 403 and "viewer" in refused.json()["detail"]
    assert keyed.post("/tickets", json={"title": "x"}, headers=as_("k-vera")).status_code == 403
    assert keyed.get("/tickets/3", headers=as_("k-vera")).status_code == 200


def test_only_the_author_or_an_admin_corrects_a_comment(keyed: TestClient) -> None:
    comment = keyed.post("/tickets/3/comments", json={"body": "Première version"}, headers=as_("k-karim")).json()
    url = f"/tickets/3/comments/{comment['id']}"
    other = keyed.post("/tickets/3/comments", json={"body": "Autre"}, headers=as_("k-old")).json()
    refused = keyed.patch(f"/tickets/3/comments/{other['id']}", json={"body": "x"}, headers=as_("k-karim"))
    assert refused.status_code == 403 and "old" in refused.json()["detail"]
    assert keyed.patch(url, json={"body": "Corrigée"}, headers=as_("k-karim")).status_code == 200
    assert keyed.patch(url, json={"body": "Par l'admin"}, headers=as_("k-ana")).status_code == 200
    assert keyed.delete(url, headers=as_("k-vera")).status_code == 403
    assert keyed.delete(f"/tickets/3/comments/{other['id']}", headers=as_("k-karim")).status_code == 403
    assert keyed.delete(url, headers=as_("k-karim")).status_code == 204
    events = keyed.get("/tickets/3/events", headers=as_("k-ana")).json()
    assert [(e["type"], e["actor"]) for e in events[-3:]] == [
        ("comment_edited", "karim"),
        ("comment_edited", "ana"),
        ("comment_deleted", "karim"),
    ]


def test_a_viewer_never_sees_internal_notes_nor_their_events(keyed: TestClient) -> None:
    public = keyed.post("/tickets/3/comments", json={"body": "Bonjour"}, headers=as_("k-karim")).json()
    note = keyed.post(
        "/tickets/3/comments", json={"body": "Client difficile", "internal": True}, headers=as_("k-karim")
    ).json()
    keyed.patch(f"/tickets/3/comments/{note['id']}", json={"body": "Client pressé"}, headers=as_("k-karim"))
    viewer, agent = as_("k-vera"), as_("k-karim")
    listed = keyed.get("/tickets/3/comments", headers=viewer)
    assert [c["id"] for c in listed.json()] == [public["id"]] and listed.headers["X-Total-Count"] == "1"
    assert keyed.get(f"/tickets/3/comments/{note['id']}", headers=viewer).status_code == 404
    assert keyed.get(f"/tickets/3/comments/{note['id']}", headers=agent).status_code == 200
    seen = keyed.get("/tickets/3/events", headers=viewer)
    texts = seen.text
    assert "Client" not in texts and str(note["id"]) not in [
        str(e["changes"].get("comment_id", {}).get("to")) for e in seen.json()
    ]
    everything = keyed.get("/tickets/3/events", headers=agent).json()
    assert int(seen.headers["X-Total-Count"]) == len(everything) - 2
    feed = keyed.get("/events?limit=1000", headers=viewer).json()
    assert "Client" not in str(feed) and len(feed) == len(keyed.get("/events?limit=1000", headers=agent).json()) - 2


def test_the_etag_changes_when_a_ticket_breaches_not_while_it_waits(desk: TestClient, clock: Clock) -> None:
    ticket = new(desk, priority="urgent")
    url = f"/tickets/{ticket['id']}"
    etag = desk.get(url).headers["ETag"]
    clock.time = "2026-11-30T08:19:00Z"
    assert desk.get(url, headers={"If-None-Match": etag}).status_code == 304
    clock.time = "2026-11-30T08:21:00Z"  # its first response was due at 08:20
    late = desk.get(url, headers={"If-None-Match": etag})
    assert late.status_code == 200 and late.json()["sla_state"] == "breached" and late.headers["ETag"] != etag
    assert desk.patch(url, json={"title": "x"}, headers={"If-Match": etag}).status_code == 412
    waiting = new(desk, priority="urgent", status="waiting")
    url = f"/tickets/{waiting['id']}"
    before = desk.get(url)
    clock.time = "2026-11-30T09:21:00Z"  # an hour later its due times moved, its ETag did not
    after = desk.get(url)
    assert after.json()["first_response_due"] > before.json()["first_response_due"]
    assert after.headers["ETag"] == before.headers["ETag"]
    assert desk.patch(url, json={"status": "open"}, headers={"If-Match": before.headers["ETag"]}).status_code == 200
