"""Comments, a ticket's history, the change feed and named keys through the API, on both stores."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from fastapi.testclient import TestClient

from conftest import _serving
from tickets.engine.errors import SettingInvalid
from tickets.engine.settings import Settings
from tickets.engine.values import stored_time
from tickets.stores import TicketStore

# --------------------------------------------------------------------------- the API, on both stores


def test_a_comment_is_created_listed_and_found_at_its_location(client: TestClient) -> None:
    before = client.get("/tickets/3")
    response = client.post("/tickets/3/comments", json={"author": "  karim  ", "body": "Je passe à 14 h."})
    assert response.status_code == 201
    comment = response.json()
    assert comment == {
        "id": comment["id"],
        "ticket_id": 3,
        "author": "karim",
        "body": "Je passe à 14 h.",
        "internal": False,
        "created_at": comment["created_at"],
        "edited_at": None,
    }
    assert response.headers["Location"] == f"/tickets/3/comments/{comment['id']}"
    assert client.get(response.headers["Location"]).json() == comment
    after = client.get("/tickets/3")  # the comment moved updated_at, and so the ETag, even within the same second
    assert after.json()["updated_at"] > before.json()["updated_at"] and after.headers["ETag"] != before.headers["ETag"]
    second = client.post(
        "/tickets/3/comments", json={"body": "Pièce commandée.", "internal": True}, headers={"X-Actor": "julie"}
    ).json()
    assert second["author"] == "julie" and second["internal"] is True and second["id"] > comment["id"]
    assert client.get("/tickets/3").json()["updated_at"] > after.json()["updated_at"]
    listed = client.get("/tickets/3/comments")
    assert listed.json() == [comment, second] and listed.headers["X-Total-Count"] == "2"
    page = client.get("/tickets/3/comments?limit=1&offset=1")
    assert page.json() == [second] and page.headers["X-Total-Count"] == "2"
    assert client.get("/tickets/3/comments?offset=5").json() == []
    assert client.get("/tickets/4/comments").json() == []
    assert client.get("/tickets/3").json() not in (None, {}) and "comments" not in client.get("/tickets/3").json()


@pytest.mark.parametrize(
    ("body", "headers", "where"),
    [
        ({"body": ""}, {"X-Actor": "ana"}, ["body", "body"]),
        ({"body": "  \u200b "}, {"X-Actor": "ana"}, ["body", "body"]),
        ({"body": "x" * 10_001}, {"X-Actor": "ana"}, ["body", "body"]),
        ({"body": "a\x00b"}, {"X-Actor": "ana"}, ["body", "body"]),
        ({"body": "ok"}, {}, ["body", "author"]),  # no author and no actor
        ({"body": "ok", "author": "   "}, {}, ["body", "author"]),
        ({"body": "ok", "author": "a" * 101}, {}, ["body", "author"]),
        ({"body": "ok", "internal": "yes"}, {"X-Actor": "ana"}, ["body", "internal"]),
        ({"body": "ok", "id": 4}, {"X-Actor": "ana"}, ["body", "id"]),
        ({"body": "ok"}, {"X-Actor": "a" * 101}, ["header", "X-Actor"]),
        ({"body": "ok"}, {"X-Actor": "   "}, ["header", "X-Actor"]),
    ],
)
def test_a_bad_comment_is_a_400_naming_the_problem(
    client: TestClient, body: dict[str, Any], headers: dict[str, str], where: list[str]
) -> None:
    response = client.post("/tickets/3/comments", json=body, headers=headers)
    assert response.status_code == 400
    assert where in [issue["loc"] for issue in response.json()["detail"]]
    assert client.get("/tickets/3/comments").json() == [] and client.get("/tickets/3/events").json() == []


def test_comment_routes_answer_404_413_and_400(client: TestClient) -> None:
    assert client.post("/tickets/99/comments", json={"body": "x", "author": "a"}).json() == {
        "detail": "ticket 99 not found"
    }
    assert client.get("/tickets/99/comments").status_code == 404
    assert client.get("/tickets/12/comments").status_code == 404  # 12 was never given in the test data
    assert client.get("/tickets/3/comments/999").json() == {"detail": "comment 999 of ticket 3 not found"}
    assert client.get("/tickets/abc/comments").status_code == 400
    assert client.get("/tickets/3/comments?limit=0").status_code == 400
    assert client.get("/tickets/3/comments?limit=1&limit=2").status_code == 400
    huge = b'{"author": "a", "body": "' + b"x" * (1024 * 1024) + b'"}'
    assert (
        client.post("/tickets/3/comments", content=huge, headers={"Content-Type": "application/json"}).status_code
        == 413
    )
    assert (
        client.post("/tickets/3/comments", content="body=x", headers={"Content-Type": "text/plain"}).status_code == 400
    )
    other = client.post("/tickets/4/comments", json={"body": "x", "author": "a"}).json()["id"]
    assert client.get(f"/tickets/3/comments/{other}").status_code == 404  # another ticket's comment


def test_every_change_is_in_the_history_with_who_and_what(client: TestClient) -> None:
    created = client.post(
        "/tickets", json={"title": "Écran noir", "priority": "haute"}, headers={"X-Actor": "zoé".encode()}
    )
    ticket_id = created.json()["id"]
    assert client.patch(f"/tickets/{ticket_id}", json={"status": "en cours", "assignee": "karim"}).status_code == 200
    assert client.patch(f"/tickets/{ticket_id}", json={"status": "in_progress"}).status_code == 200  # nothing changes
    comment = client.post(f"/tickets/{ticket_id}/comments", json={"body": "vu", "author": "karim"}).json()
    assert client.delete(f"/tickets/{ticket_id}", headers={"X-Actor": "ana"}).status_code == 204
    response = client.get(f"/tickets/{ticket_id}/events")  # still answers after the deletion
    events = response.json()
    assert response.headers["X-Total-Count"] == "4"
    assert [(e["type"], e["actor"]) for e in events] == [
        ("created", "zoé"),
        ("updated", None),
        ("commented", "karim"),
        ("deleted", "ana"),
    ]
    assert events[0]["changes"]["priority"] == {"from": None, "to": "high"}
    assert events[1]["changes"] == {
        "status": {"from": "open", "to": "in_progress"},
        "assignee": {"from": None, "to": "karim"},
    }
    assert events[2]["changes"] == {  # a first public reply: the ticket's first response
        "comment_id": {"from": None, "to": comment["id"]},
        "first_response_at": {"from": None, "to": events[2]["at"]},
    }
    assert events[3]["changes"] == {} and all(e["ticket_id"] == ticket_id for e in events)
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    assert events[0]["at"] == created.json()["created_at"]
    assert client.get(f"/tickets/{ticket_id}/comments").status_code == 404  # gone with the ticket
    assert client.get(f"/tickets/{ticket_id}/events?limit=2&offset=1").json() == events[1:3]
    assert client.get("/tickets/999/events").status_code == 404  # no ticket ever had this id
    assert client.get("/tickets/3/events").json() == []  # made before the history began: none yet, but it exists
    per_day = client.get("/tickets/stats?days=2").json()["per_day"]  # two days: the test may cross midnight
    assert sum(d["opened"] for d in per_day) == 1 and sum(d["closed"] for d in per_day) == 0


def test_the_feed_gives_every_event_once_in_order(client: TestClient) -> None:
    for i in range(5):
        ticket_id = client.post("/tickets", json={"title": f"flux {i}"}).json()["id"]
        client.patch(f"/tickets/{ticket_id}", json={"status": "closed"})
    everything = client.get("/events").json()
    assert len(everything) == 10 and [e["id"] for e in everything] == sorted({e["id"] for e in everything})
    seen, after = [], 0
    while page := client.get(f"/events?after={after}&limit=3").json():
        seen += page
        after = page[-1]["id"]
    assert seen == everything
    assert client.get(f"/events?after={everything[4]['id']}").json() == everything[5:]  # from the middle
    for bad in ("after=-1", "after=x", "limit=0", "limit=1001", "after=1&after=2", "since=3"):
        assert client.get(f"/events?{bad}").status_code == 400, bad
    stats = client.get("/tickets/stats?days=2").json()["per_day"]
    assert len(stats) == 2 and sum(d["opened"] for d in stats) == 5 and sum(d["closed"] for d in stats) == 5
    for bad in ("days=0", "days=367", "days=x"):
        assert client.get(f"/tickets/stats?{bad}").status_code == 400
    assert len(client.get("/tickets/stats?days=366").json()["per_day"]) == 366


def test_named_keys_make_the_actor_and_refuse_anyone_else(
    ticket_store: TicketStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TICKETS_API_KEYS", "zoé:key-of-zoe, karim:key-of-karim")
    with _serving(ticket_store) as client:  # the settings are read when the app is made
        named_keys_make_the_actor(client)
    monkeypatch.setenv("TICKETS_API_KEY", "single")  # both kinds at once: which is meant cannot be guessed
    with pytest.raises(SettingInvalid, match="TICKETS_API_KEYS"):
        Settings.from_environment()


def named_keys_make_the_actor(client: TestClient) -> None:
    zoe, karim = {"X-API-Key": "key-of-zoe"}, {"X-API-Key": "key-of-karim"}
    assert client.post("/tickets/3/comments", json={"body": "x"}).status_code == 401
    assert client.post("/tickets/3/comments", json={"body": "x"}, headers={"X-API-Key": "key-of"}).status_code == 401
    assert client.post("/tickets/3/comments", json={"body": "Bonjour"}, headers=zoe).json()["author"] == "zoé"
    spoofed = client.post("/tickets/3/comments", json={"body": "x", "author": "karim"}, headers=zoe)
    assert spoofed.status_code == 403 and "zoé" in spoofed.json()["detail"]
    assert (
        client.patch("/tickets/3", json={"status": "closed"}, headers={**karim, "X-Actor": "zoé".encode()}).status_code
        == 403
    )
    assert client.delete("/tickets/3", headers={**karim, "X-Actor": "ana"}).status_code == 403
    assert client.post("/tickets", json={"title": "x"}, headers={**karim, "X-Actor": "ana"}).status_code == 403
    assert (
        client.patch("/tickets/3", json={"status": "closed"}, headers={**karim, "X-Actor": "karim"}).status_code == 200
    )
    events = client.get("/tickets/3/events", headers=zoe).json()
    assert [(e["type"], e["actor"]) for e in events] == [("commented", "zoé"), ("updated", "karim")]  # nothing else
    assert len(client.get("/tickets/3/comments", headers=zoe).json()) == 1
    assert client.get("/health").status_code == 200  # still open


def test_the_openapi_schema_documents_the_new_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    post = paths["/tickets/{ticket_id}/comments"]["post"]
    assert set(post["responses"]) >= {"201", "400", "401", "403", "404", "413"}
    assert "Location" in post["responses"]["201"]["headers"]
    assert "X-Total-Count" in paths["/tickets/{ticket_id}/events"]["get"]["responses"]["200"]["headers"]
    assert {p["name"] for p in paths["/events"]["get"]["parameters"]} == {"after", "limit"}
    assert "X-Actor" in {p["name"] for p in paths["/tickets/{ticket_id}"]["patch"]["parameters"]}
    assert client.options("/tickets/3/comments").headers["Allow"] == "GET, HEAD, OPTIONS, POST"
    assert client.head("/events").status_code == 200


NFC, NFD = "zo\u00e9", "zo\u0065\u0301"  # the same name: 'é' as one character, or 'e' and a combining accent


@pytest.mark.parametrize(("key_name", "claimed"), [(NFD, NFC), (NFC, NFD)])
def test_names_are_compared_in_nfc(
    ticket_store: TicketStore, monkeypatch: pytest.MonkeyPatch, key_name: str, claimed: str
) -> None:
    monkeypatch.setenv("TICKETS_API_KEYS", f"{key_name}:key-of-zoe")
    zoe = {"X-API-Key": "key-of-zoe"}
    with _serving(ticket_store) as client:
        acting = client.patch("/tickets/3", json={"status": "closed"}, headers={**zoe, "X-Actor": claimed.encode()})
        assert acting.status_code == 200, acting.text
        writing = client.post("/tickets/3/comments", json={"body": "vu", "author": claimed}, headers=zoe)
        assert writing.status_code == 201, writing.text
        assert writing.json()["author"] == NFC
        events = client.get("/tickets/3/events", headers=zoe).json()
        assert [e["actor"] for e in events] == [NFC, NFC]


def test_actors_and_authors_are_stored_in_nfc(client: TestClient) -> None:
    created = client.post("/tickets", json={"title": "Écran"}, headers={"X-Actor": NFD.encode()}).json()
    comment = client.post(f"/tickets/{created['id']}/comments", json={"body": "vu", "author": NFD}).json()
    assert comment["author"] == NFC
    events = client.get(f"/tickets/{created['id']}/events").json()
    assert [e["actor"] for e in events] == [NFC, NFC]


# --------------------------------------------------------------------------- no time later than the clock

START = datetime(2030, 1, 7, 10, 0, 0, tzinfo=timezone.utc)


def test_a_burst_of_comments_never_puts_updated_at_after_the_clock(
    client: TestClient, ticket_store: TicketStore
) -> None:
    """30 comments in one second (the clock pinned, moving a millisecond each time): each takes the clock's time,
    none is later than it (the old rule, one second more each time, ended 29 s ahead), and each ETag is new."""
    clock = ["2030-01-07T10:00:00Z"]  # a whole second, as an older file or a pinned clock has them
    ticket_store.now = lambda: clock[0]  # type: ignore[method-assign]
    assert client.patch("/tickets/4", json={"assignee": "julie"}).status_code == 200
    etags = {client.get("/tickets/3").headers["ETag"]}
    for n in range(1, 31):
        clock[0] = stored_time(START + timedelta(milliseconds=n))
        assert client.post("/tickets/3/comments", json={"author": "karim", "body": f"relance {n}"}).status_code == 201
        ticket = client.get("/tickets/3")
        assert ticket.json()["updated_at"] == clock[0]  # never after the clock
        etags.add(ticket.headers["ETag"])
    assert len(etags) == 31
    assert clock[0].startswith("2030-01-07T10:00:00.")  # all within one second
    newest = [t["id"] for t in client.get("/tickets?sort=-updated_at&limit=2").json()]
    assert newest == [3, 4]  # "…:00.030000Z" after "…:00Z", though as text '.' sorts before 'Z'
    oldest_last = [t["id"] for t in client.get("/tickets?sort=updated_at").json()][-2:]
    assert oldest_last == [4, 3]


def test_a_clock_that_does_not_move_still_moves_updated_at_and_the_etag(
    client: TestClient, ticket_store: TicketStore
) -> None:
    """A clock pinned to one instant (TICKETS_NOW, a test) cannot give a later time: then each comment moves
    updated_at by one microsecond, the least that still changes the ticket's ETag."""
    ticket_store.now = lambda: "2030-01-07T10:00:00Z"  # type: ignore[method-assign]
    etags = set()
    for n in range(1, 4):
        assert client.post("/tickets/3/comments", json={"author": "karim", "body": f"relance {n}"}).status_code == 201
        ticket = client.get("/tickets/3")
        etags.add(ticket.headers["ETag"])
    assert ticket.json()["updated_at"] == "2030-01-07T10:00:00.000002Z"  # the first one took the clock's time
    assert len(etags) == 3


# --------------------------------------------------------------------------- the ticket's ETag after a comment


def test_a_comment_gives_the_tickets_new_etag_for_a_next_if_match(client: TestClient) -> None:
    """A client that held the ticket's ETag and commented can delete (or change) the ticket with If-Match taken
    from the comment's answer, without reading the ticket again."""
    held = client.get("/tickets/3").headers["ETag"]
    answer = client.post("/tickets/3/comments", json={"author": "karim", "body": "Réglé, je ferme."})
    assert answer.status_code == 201
    new_etag = answer.headers["Ticket-ETag"]
    assert new_etag != held and new_etag == client.get("/tickets/3").headers["ETag"]
    assert client.delete("/tickets/3", headers={"If-Match": held}).status_code == 412  # the comment changed it
    assert client.delete("/tickets/3", headers={"If-Match": new_etag}).status_code == 204


def test_the_ticket_etag_header_is_documented(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/tickets/{ticket_id}/comments"]["post"]
    header = operation["responses"]["201"]["headers"]["Ticket-ETag"]
    assert "If-Match" in header["description"]


def test_correcting_or_deleting_a_comment_leaves_the_tickets_etag(client: TestClient) -> None:
    """Only a new comment changes the ticket (its updated_at): a correction or a deletion is in its history, and
    an ETag held since still matches."""
    comment = client.post("/tickets/3/comments", json={"author": "karim", "body": "Brouillon"}).json()
    etag = client.get("/tickets/3").headers["ETag"]
    assert client.patch(f"/tickets/3/comments/{comment['id']}", json={"body": "Texte final"}).status_code == 200
    assert client.delete(f"/tickets/3/comments/{comment['id']}").status_code == 204
    assert client.patch("/tickets/3", json={"priority": "low"}, headers={"If-Match": etag}).status_code == 200
