"""Comments, history, the change feed and named keys: the pure functions, the routes on both stores, the log
beside tickets.json, and the feed under concurrent writers."""

from __future__ import annotations

import json
import threading
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from conftest import _serving, contents, history_agrees, report, running_server, sync
from tickets.cli.main import main
from tickets.cli.output import BAR_WIDTH, bar_chart
from tickets.engine.errors import SettingInvalid, StoreUnreadable
from tickets.engine.history import NewComment, Page, changes_between, later_than, per_day, tally
from tickets.engine.models import TicketCreate, TicketUpdate
from tickets.engine.settings import Settings
from tickets.stores import TicketStore
from tickets.stores.json_file import JsonStore
from tickets.stores.json_file import history_log as json_history

TICKET = {
    "id": 3,
    "title": "Imprimante",
    "description": "",
    "status": "open",
    "priority": "high",
    "assignee": None,
    "created_at": "2026-11-20T09:14:00Z",
    "updated_at": "2026-11-20T09:14:00Z",
}


# --------------------------------------------------------------------------- pure functions


def test_the_event_diff_names_only_what_changed() -> None:
    created = changes_between(None, TICKET)  # type: ignore[arg-type]
    assert list(created) == ["title", "description", "status", "priority", "assignee"]
    assert created["assignee"] == {"from": None, "to": None} and created["title"] == {"from": None, "to": "Imprimante"}
    closed = {**TICKET, "status": "closed", "assignee": "ana", "updated_at": "2026-11-21T10:00:00Z"}
    assert changes_between(TICKET, closed) == {  # type: ignore[arg-type]
        "status": {"from": "open", "to": "closed"},
        "assignee": {"from": None, "to": "ana"},
    }  # not updated_at
    assert changes_between(TICKET, dict(TICKET)) == {}  # type: ignore[arg-type]
    assert changes_between(TICKET, None) == {}  # type: ignore[arg-type]


def test_per_day_counts_openings_and_closings_with_every_day_present() -> None:
    def event(at: str, kind: str, status: str | None = None) -> Any:
        changes = {"status": {"from": None if kind == "created" else "open", "to": status}} if status else {}
        return {"id": 1, "ticket_id": 1, "at": at, "actor": None, "type": kind, "changes": changes}

    counts = tally(
        [
            event("2026-11-25T23:59:59Z", "created", "open"),
            event("2026-11-26T00:00:00Z", "created", "closed"),
            event("2026-11-26T10:00:00Z", "updated", "closed"),
            event("2026-11-26T11:00:00Z", "updated", "open"),
            event("2026-11-20T10:00:00Z", "created", "open"),
            event("2026-11-26T12:00:00Z", "commented"),
        ]
    )
    days = per_day(counts, 3, today=date(2026, 11, 27))
    assert days == [
        {"date": "2026-11-25", "opened": 1, "closed": 0},
        {"date": "2026-11-26", "opened": 1, "closed": 2},
        {"date": "2026-11-27", "opened": 0, "closed": 0},
    ]
    assert [d["date"] for d in per_day({}, 2, today=date(2026, 3, 1))] == ["2026-02-28", "2026-03-01"]


def test_a_comment_always_moves_updated_at() -> None:
    assert later_than("2026-11-20T09:14:00Z", "2026-11-27T10:00:00Z") == "2026-11-27T10:00:00Z"
    assert later_than("2026-11-27T10:00:00Z", "2026-11-27T10:00:00Z") == "2026-11-27T10:00:01Z"
    assert later_than("2026-12-31T23:59:59Z", "2026-12-31T23:59:59Z") == "2027-01-01T00:00:00Z"


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
    assert events[2]["changes"] == {"comment_id": {"from": None, "to": comment["id"]}}
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


@pytest.mark.parametrize("setting", ["", "zoé", "zoé:", ":key", "a:k,b:k", "a:k1,a:k2", "a:clé", " :k"])
def test_unusable_named_keys_are_refused_without_showing_a_key(setting: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKETS_API_KEYS", setting)
    with pytest.raises(SettingInvalid, match="TICKETS_API_KEYS") as problem:
        Settings.from_environment()
    assert "k1" not in str(problem.value) and "clé" not in str(problem.value)


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


# --------------------------------------------------------------------------- the CLI, on both stores


def test_the_cli_comments_and_shows_the_history(capsys: pytest.CaptureFixture[str], store_args: list[str]) -> None:
    def run(*args: str) -> tuple[int, str, str]:
        code = main([*args, *store_args])
        out, err = capsys.readouterr()
        return code, out, err

    assert run("comment", "3", "Cartouche changée", "--actor", "karim")[:2] == (0, "added comment 1 to ticket 3\n")
    code, out, _ = run("comment", "3", "Note", "--internal", "--author", "julie", "--json")
    assert code == 0 and json.loads(out)["internal"] is True and json.loads(out)["author"] == "julie"
    assert run("update", "3", "--status", "fermé", "--actor", "karim")[0] == 0
    code, out, _ = run("comments", "3")
    assert (
        code == 0 and "#1" in out and "Cartouche changée" in out and "(internal)" in out and "2 shown, 2 in all" in out
    )
    code, out, _ = run("history", "3")
    assert code == 0 and 'status: "open" -> "closed"' in out and "karim" in out and "3 shown, 3 in all" in out
    code, out, _ = run("history", "3", "--json")
    assert [e["type"] for e in json.loads(out)] == ["commented", "commented", "updated"]
    code, out, _ = run("comments", "3", "--json", "--limit", "1", "--offset", "1")
    assert [c["author"] for c in json.loads(out)] == ["julie"]
    code, out, _ = run("stats", "--days", "3")
    assert code == 0 and "per day (UTC)" in out and len([line for line in out.splitlines() if line[:2] == "20"]) == 3
    assert run("comment", "99", "x")[0] == 1
    assert run("history", "99")[0] == 1
    code, _, err = run("comment", "3", "")
    assert code == 2 and "body" in err
    code, _, err = run("comment", "3", "x", "--actor", " ")
    assert code == 2 and "--actor" in err
    assert run("stats", "--days", "400")[0] == 2


def test_the_bar_chart_scales_to_the_busiest_day() -> None:
    chart = bar_chart(
        [{"date": "2026-11-26", "opened": 10, "closed": 0}, {"date": "2026-11-27", "opened": 1, "closed": 5}], "#"
    )
    lines = chart.splitlines()
    assert lines[1].count("#") == BAR_WIDTH and lines[1].endswith(" 0")  # an empty bar for a zero
    assert lines[2].count("#") == BAR_WIDTH // 10 + BAR_WIDTH // 2  # 1 and 5 of a busiest 10


# --------------------------------------------------------------------------- the log beside tickets.json


def test_a_file_from_before_the_history_loads_and_stays_as_it_was(store: JsonStore, tickets_file: Path) -> None:
    before = tickets_file.read_bytes()
    assert sync(store.events(3, Page())) == ([], 0)
    sync(store.update(3, TicketUpdate(status="open")))  # changes nothing: no write, no log
    assert tickets_file.read_bytes() == before
    assert sorted(p.name for p in tickets_file.parent.iterdir()) == ["tickets.json"]


def test_a_crash_between_the_log_and_the_file_leaves_neither_change(store: JsonStore, tickets_file: Path) -> None:
    sync(store.add(TicketCreate(title="avant"), actor="ana"))
    log = tickets_file.parent / json.loads(tickets_file.read_text())["history_file"]
    committed = log.read_bytes()
    # A writer appended its lines and died before tickets.json was replaced (the last one half-written):
    event = json_history.event_line(
        {
            "id": 2,
            "ticket_id": 17,
            "at": "2026-11-27T10:00:00Z",
            "actor": None,
            "type": "updated",
            "changes": {"title": {"from": "avant", "to": "fantôme"}},
        }
    )
    with open(log, "ab") as file:
        file.write(
            json_history.comment_line(
                {
                    "id": 1,
                    "ticket_id": 17,
                    "author": "x",
                    "body": "fantôme",
                    "internal": False,
                    "created_at": "2026-11-27T10:00:00Z",
                }
            )
            + event
            + b'{"ev'
        )
    fresh = JsonStore(tickets_file)  # another process
    assert [e["type"] for e in sync(fresh.events(17, Page()))[0]] == ["created"]
    assert sync(fresh.comments(17, Page())) == ([], 0)
    sync(fresh.add_comment(17, NewComment("ana", "vrai")))  # the next write cuts the dead lines off
    assert log.read_bytes().startswith(committed) and b"fant" not in log.read_bytes()
    assert [c["body"] for c in sync(JsonStore(tickets_file).comments(17, Page()))[0]] == ["vrai"]
    assert history_agrees(tickets_file) == (2, 1)


def test_a_damaged_log_is_refused_with_its_line(store: JsonStore, tickets_file: Path) -> None:
    for title in ("un", "deux"):
        sync(store.add(TicketCreate(title=title)))
    log = tickets_file.parent / json.loads(tickets_file.read_text())["history_file"]
    lines = log.read_bytes().splitlines(keepends=True)
    for damaged, problem in (
        (lines[0].replace(b'"created"', '"créé"'.encode()), "line 1: event.type"),
        (lines[0].replace(b'{"id":1,', b'{"id":1,"id":1,'), "line 1: the key 'id' appears twice"),
        (lines[0].replace(b'"actor":null', b'"actor":null,"extra":1'), "line 1: event.extra"),
    ):
        log.write_bytes(damaged + lines[1])
        fresh = JsonStore(tickets_file)
        assert sync(fresh.get(1))["id"] == 1  # the tickets are still served; the history is read when asked for
        with pytest.raises(StoreUnreadable, match=problem):
            sync(fresh.events(17, Page()))
        with pytest.raises(StoreUnreadable, match=problem):
            sync(fresh.delete(17))  # its comments... the history must be read: refused, nothing written
        with pytest.raises(StoreUnreadable, match=problem):
            sync(fresh.warm_up())  # a server says so at start-up
        assert log.read_bytes() == damaged + lines[1]  # never overwritten


def test_a_copy_of_the_file_under_another_name_does_not_share_its_history(store: JsonStore, tickets_file: Path) -> None:
    sync(store.add(TicketCreate(title="original")))
    backup = tickets_file.with_name("backup.json")
    backup.write_bytes(tickets_file.read_bytes())  # cp tickets.json backup.json
    copy = JsonStore(backup)
    assert sync(copy.events(17, Page())) == ([], 0)  # the history stays with tickets.json
    sync(copy.add(TicketCreate(title="dans la copie")))
    assert json.loads(backup.read_text())["history_file"] == "backup.history.1.jsonl"
    assert [e["ticket_id"] for e in sync(JsonStore(tickets_file).feed(0, 10))] == [17]


def test_deleting_a_ticket_removes_its_comments_from_the_disk(store: JsonStore, tickets_file: Path) -> None:
    sync(store.add_comment(3, NewComment("ana", "mot de passe: hunter2")))
    sync(store.add_comment(4, NewComment("ana", "reste")))
    sync(store.delete(3, actor="ana"))
    names = sorted(p.name for p in tickets_file.parent.iterdir())
    assert names == ["tickets.history.2.jsonl", "tickets.json"]  # written again without them; the old log removed
    text = (tickets_file.parent / names[0]).read_text(encoding="utf-8")
    assert "hunter2" not in text and "reste" in text and '"deleted"' in text
    assert history_agrees(tickets_file) == (3, 1)


def test_history_write_order_log_then_file(
    json_client: TestClient, tickets_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from tickets.stores.json_file import store as json_store

    json_client.post("/tickets", json={"title": "crée le journal"})
    calls: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        name = os.readlink(f"/proc/self/fd/{fd}")
        calls.append("fsync log" if name.endswith(".jsonl") else "fsync other")
        real_fsync(fd)

    def replace(src: str, dst: str) -> None:
        calls.append("rename")
        real_replace(src, dst)

    monkeypatch.setattr(json_store.os, "fsync", fsync)
    monkeypatch.setattr(json_store.os, "replace", replace)
    for method, url, body in (
        ("POST", "/tickets/3/comments", {"body": "x", "author": "a"}),
        ("PATCH", "/tickets/3", {"title": "y"}),
        ("POST", "/tickets", {"title": "z"}),
    ):
        calls.clear()
        assert json_client.request(method, url, json=body).status_code < 300
        assert calls[:2] == ["fsync log", "fsync other"] and calls[2] == "rename", calls


# --------------------------------------------------------------------------- the feed under concurrent writers


def feed_while_writing(bases: list[str], place: Path | str, writers: int = 6, writes: int = 40) -> tuple[int, int, int]:
    """Writers on every server; a poller follows /events with the last id it saw. At the end it must hold every
    event of the store exactly once, in order. Returns (events followed, polls, writes answered with an error).

    A write may fail under heavy load (a 503 after TICKETS_LOCK_TIMEOUT): that is counted, not hidden, and
    changes nothing to what the feed must do."""
    done = threading.Event()
    seen: list[dict[str, Any]] = []
    failed: list[str] = []
    missing = [0]  # events that refused writes did not make
    polls = 0

    def poll() -> None:
        nonlocal polls
        after = 0
        with httpx.Client(base_url=bases[0], timeout=60) as http:
            while True:
                finished = done.is_set()
                response = http.get("/events", params={"after": after, "limit": 50})
                polls += 1
                assert response.status_code == 200, response.text
                page = response.json()
                seen.extend(page)
                if page:
                    after = page[-1]["id"]
                elif finished:
                    return

    def write(n: int) -> None:
        with httpx.Client(base_url=bases[n % len(bases)], timeout=60) as http:
            for i in range(writes):
                created = http.post("/tickets", json={"title": f"w{n}-{i}"}, headers={"X-Actor": f"w{n}"})
                if created.status_code != 201:
                    failed.append(f"POST {created.status_code} {created.text}")
                    missing[0] += 3  # nor its comment and change
                    continue
                ticket_id = created.json()["id"]
                for response in (
                    http.post(f"/tickets/{ticket_id}/comments", json={"body": "vu", "author": f"w{n}"}),
                    http.delete(f"/tickets/{ticket_id}")
                    if i % 3 == 0
                    else http.patch(f"/tickets/{ticket_id}", json={"status": "closed"}),
                ):
                    if response.status_code >= 300:
                        failed.append(f"{response.request.method} {response.status_code} {response.text}")
                        missing[0] += 1

    poller = threading.Thread(target=poll)
    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    poller.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    poller.join()
    with httpx.Client(base_url=bases[0]) as http:
        everything = []
        while page := http.get(
            "/events", params={"after": everything[-1]["id"] if everything else 0, "limit": 1000}
        ).json():
            everything += page
    assert len(everything) == writers * writes * 3 - missing[0], failed[:5]  # one event per acknowledged write
    assert len(failed) < writers * writes, failed[:5]  # most writes went through: the feed was really tested
    ids = [e["id"] for e in seen]
    assert len(ids) == len(set(ids)), "an event was seen twice"
    assert ids == sorted(ids), "the feed went back"
    assert seen == everything, "the poller missed an event"
    history_agrees(place)
    return len(seen), polls, len(failed)


def test_the_feed_misses_nothing_while_two_workers_and_writers_run(tickets_file: Path) -> None:
    with running_server(tickets_file, workers=2) as base:
        followed, polls, failed = feed_while_writing([base], tickets_file)
    report(
        f"feed on the JSON file (2 workers): {followed} events followed by a poller in {polls} polls during "
        f"the writes ({failed} writes refused); none missed, none twice"
    )


def test_the_json_store_keeps_its_history_across_reloads(tickets_file: Path) -> None:
    """Each process reads only what the others added to the log (incrementally), and agrees with a fresh reader."""
    one, two = JsonStore(tickets_file), JsonStore(tickets_file)  # two processes' stores, as it were
    for i in range(5):
        store = (one, two)[i % 2]
        ticket = sync(store.add(TicketCreate(title=f"t{i}"), actor="a"))
        sync(store.add_comment(ticket["id"], NewComment("a", f"c{i}")))
    assert sync(one.feed(0, 100)) == sync(two.feed(0, 100)) == sync(JsonStore(tickets_file).feed(0, 100))
    assert contents(tickets_file)[0] == 22 and history_agrees(tickets_file) == (10, 5)


def test_the_feed_misses_nothing_while_two_servers_write_to_one_database(database_url: str) -> None:
    """Without the event lock, an event id taken by one transaction could commit after a higher one: a poller
    would pass it by for good. Two servers, six writers, one poller."""
    with running_server(database_url) as one, running_server(database_url) as two:
        followed, polls, failed = feed_while_writing([one, two], database_url)
    report(
        f"feed on PostgreSQL (2 servers): {followed} events followed by a poller in {polls} polls during "
        f"the writes ({failed} writes refused); none missed, none twice"
    )


def test_a_store_that_never_reads_its_history_does_not_chain_without_end(store: JsonStore, tickets_file: Path) -> None:
    """Writes on a history never parsed make each version parse from the one before when asked; after
    MAX_UNPARSED of them the history is parsed, so no chain grows with the number of writes."""
    sync(store.add(TicketCreate(title="avant")))  # a log exists: a new store finds it, and does not parse it
    later = JsonStore(tickets_file)
    chained = 0
    for i in range(json_history.MAX_UNPARSED + 20):
        sync(later.add(TicketCreate(title=f"t{i}")))
        chained = max(chained, later.snapshot().log.unparsed)
    assert chained == json_history.MAX_UNPARSED  # it did chain, up to the bound
    assert len(sync(later.feed(0, 1000))) == json_history.MAX_UNPARSED + 21
    assert history_agrees(tickets_file) == (json_history.MAX_UNPARSED + 21, 0)


def test_a_store_that_rereads_another_writers_file_does_not_chain_without_end(tickets_file: Path) -> None:
    """A process that never reads the history while another one writes: each version it reads is parsed from
    the one before only when asked, and never more than MAX_UNPARSED in a row."""
    writer = JsonStore(tickets_file)
    sync(writer.add(TicketCreate(title="avant")))
    reader = JsonStore(tickets_file)
    reader.snapshot()
    longest = 0
    for i in range(json_history.MAX_UNPARSED * 2 + 10):
        sync(writer.add(TicketCreate(title=f"t{i}")))
        if i % 2:
            sync(reader.update(17, TicketUpdate(title=f"lu {i}")))  # its own writes, between the other's
        longest = max(longest, reader.snapshot().log.unparsed)
    assert longest == json_history.MAX_UNPARSED
    assert len(sync(reader.feed(0, 1000))) == len(sync(JsonStore(tickets_file).feed(0, 1000)))
    history_agrees(tickets_file)
