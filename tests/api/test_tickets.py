"""The HTTP API through FastAPI's TestClient, on a temporary copy of the sample data."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from conftest import _serving
from tickets.api.app import create_app
from tickets.api.responses import MAX_BODY_BYTES
from tickets.engine.errors import SettingInvalid
from tickets.engine.models import COMPUTED_FIELDS, PUBLIC_FIELDS
from tickets.engine.values import real_timestamp
from tickets.engine.workflow import public
from tickets.stores import TicketStore

Stored = Callable[[], tuple[int, dict[int, Any]]]  # the `stored` fixture: what the store holds

NEW = {"title": "Badge d'accès refusé", "description": "Le badge ne passe plus au portique B.", "priority": "high"}


# --------------------------------------------------------------------------- list


def test_list_returns_every_ticket_in_id_order(client: TestClient) -> None:
    response = client.get("/tickets")
    assert response.status_code == 200
    ids = [t["id"] for t in response.json()]
    assert ids == sorted(ids) and len(ids) == 14
    assert response.headers["X-Total-Count"] == "14"
    assert list(response.json()[0]) == [*PUBLIC_FIELDS, *COMPUTED_FIELDS]


@pytest.mark.parametrize(
    ("query", "check"),
    [
        ("status=open", lambda t: t["status"] == "open"),
        ("status=ouvert&status=En%20cours", lambda t: t["status"] in ("open", "in_progress")),
        ("priority=URGENT", lambda t: t["priority"] == "urgent"),
        ("assignee=julie.martin", lambda t: t["assignee"] == "julie.martin"),
        ("q=IMPRIMANTE", lambda t: "imprimante" in (t["title"] + t["description"]).lower()),
    ],
)
def test_list_filters(client: TestClient, query: str, check: object) -> None:
    response = client.get(f"/tickets?{query}")
    assert response.status_code == 200
    assert response.json() and all(check(t) for t in response.json())  # type: ignore[operator]
    assert response.headers["X-Total-Count"] == str(len(response.json()))


def test_list_sort_limit_offset_and_total(client: TestClient) -> None:
    everything = client.get("/tickets?sort=-priority").json()
    ranks = ["low", "medium", "high", "urgent"]
    assert [ranks.index(t["priority"]) for t in everything] == sorted(
        (ranks.index(t["priority"]) for t in everything), reverse=True
    )
    urgent_ids = [t["id"] for t in everything if t["priority"] == "urgent"]
    assert urgent_ids == sorted(urgent_ids)  # ties by ascending id, even descending
    page = client.get("/tickets?sort=-priority&limit=3&offset=2")
    assert page.json() == everything[2:5]
    assert page.headers["X-Total-Count"] == "14"


def test_list_sort_by_title_ignores_case(client: TestClient) -> None:
    titles = [t["title"] for t in client.get("/tickets?sort=title").json()]
    assert titles == sorted(titles, key=str.casefold)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=done", "status"),
        ("priority=critical", "priority"),
        ("sort=colour", "sort"),
        ("sort=--id", "sort"),
        ("limit=0", "limit"),
        ("limit=abc", "limit"),
        ("limit=1.5", "limit"),
        ("offset=-1", "offset"),
        ("stauts=open", "stauts"),
    ],
)
def test_list_bad_query_is_400(client: TestClient, query: str, field: str) -> None:
    response = client.get(f"/tickets?{query}")
    assert response.status_code == 400
    assert response.json()["detail"][0]["loc"][:2] == ["query", field]
    assert {"type", "loc", "msg"} == set(response.json()["detail"][0])


# --------------------------------------------------------------------------- create


def test_create_returns_201_location_and_etag(client: TestClient, stored: Stored) -> None:
    response = client.post("/tickets", json={**NEW, "title": "  " + NEW["title"] + "  ", "status": "En cours"})
    assert response.status_code == 201
    ticket = response.json()
    assert ticket["id"] == 17
    assert ticket["title"] == NEW["title"] and ticket["status"] == "in_progress" and ticket["assignee"] is None
    assert ticket["created_at"] == ticket["updated_at"] and ticket["created_at"].endswith("Z")
    assert response.headers["Location"] == "/tickets/17"
    assert response.headers["ETag"] == client.get("/tickets/17").headers["ETag"]
    assert public(stored()[1][17]) == {k: ticket[k] for k in PUBLIC_FIELDS}  # stored before the answer


def test_create_defaults(client: TestClient) -> None:
    ticket = client.post("/tickets", json={"title": "Minimal"}).json()
    assert (ticket["description"], ticket["status"], ticket["priority"], ticket["assignee"]) == (
        "",
        "open",
        "medium",
        None,
    )


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"title": ""},
        {"title": "   "},
        {"title": "x" * 201},
        {"title": 42},
        {"title": ["a"]},
        {"title": None},
        {"title": "ok", "description": "d" * 5001},
        {"title": "ok", "status": "done"},
        {"title": "ok", "priority": 3},
        {"title": "ok", "assignee": ""},
        {"title": "ok", "assignee": "a" * 101},
        {"title": "ok", "prioriy": "high"},
        {"title": "ok", "id": 99},
        {"title": "ok", "created_at": "2026-01-01T00:00:00Z"},
        {"title": "ok", "updated_at": "2026-01-01T00:00:00Z"},
        [],
        "title",
        42,
        None,
    ],
)
def test_create_invalid_body_is_400(client: TestClient, body: object, stored: Stored) -> None:
    before = stored()
    response = client.post("/tickets", json=body)
    assert response.status_code == 400
    assert isinstance(response.json()["detail"], list) and response.json()["detail"][0]["msg"]
    assert stored() == before


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"{not json", "application/json"),
        (b'{"title": "x",}', "application/json"),
        (b"\xff\xfe", "application/json"),
        (b'{"title": NaN}', "application/json"),
        (b'{"title": 1e400}', "application/json"),
        (b"[" * 100_000 + b"]" * 100_000, "application/json"),
    ],
)
def test_create_malformed_request_is_400(client: TestClient, content: bytes, content_type: str) -> None:
    response = client.post("/tickets", content=content, headers={"Content-Type": content_type})
    assert response.status_code == 400
    assert response.json()["detail"][0]["loc"][0] == "body"


@pytest.mark.parametrize(
    ("method", "url", "content", "content_type"),
    [
        ("POST", "/tickets", b'{"title": "x"}', "text/plain"),
        ("POST", "/tickets", b"title=x", "application/x-www-form-urlencoded"),
        ("POST", "/tickets", b"--x\r\n", "multipart/form-data; boundary=x"),
        ("PATCH", "/tickets/1", b"status=closed", None),
    ],
)
def test_body_that_is_not_json_is_400_saying_to_send_json(
    client: TestClient, stored: Stored, method: str, url: str, content: bytes, content_type: str | None
) -> None:
    before = stored()
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.request(method, url, content=content, headers=headers)
    assert response.status_code == 400
    assert response.json()["detail"] == [
        {
            "type": "content_type",
            "loc": ["header", "content-type"],
            "msg": "send the body as JSON, with the header Content-Type: application/json",
        }
    ]
    assert stored() == before


def test_body_over_1_mib_is_413(client: TestClient, stored: Stored) -> None:
    before = stored()
    body = json.dumps({"title": "x", "description": "d" * MAX_BODY_BYTES}).encode()
    response = client.post("/tickets", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert "1 MiB" in response.json()["detail"]

    def chunks():  # no Content-Length: counted as it arrives
        for _ in range(3):
            yield b" " * (MAX_BODY_BYTES // 2)

    response = client.patch("/tickets/1", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert stored() == before


# --------------------------------------------------------------------------- read one


def test_get_one_with_etag_and_304(client: TestClient) -> None:
    response = client.get("/tickets/3")
    assert response.status_code == 200 and response.json()["id"] == 3
    etag = response.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"')
    cached = client.get("/tickets/3", headers={"If-None-Match": etag})
    assert cached.status_code == 304 and cached.content == b"" and cached.headers["ETag"] == etag
    assert client.get("/tickets/3", headers={"If-None-Match": f'W/{etag}, "other"'}).status_code == 304
    assert client.get("/tickets/3", headers={"If-None-Match": '"other"'}).status_code == 200


def test_get_unknown_id_is_404_naming_it(client: TestClient) -> None:
    response = client.get("/tickets/12")  # deleted before: never comes back
    assert response.status_code == 404
    assert response.json() == {"detail": "ticket 12 not found"}


@pytest.mark.parametrize("bad_id", ["abc", "1.5", "1.0", "1e3", "0x10", "٣", "0", "-1", "%20", "+3"])
def test_non_integer_id_is_400(client: TestClient, bad_id: str) -> None:
    for method in ("GET", "PATCH", "DELETE"):
        response = client.request(method, f"/tickets/{bad_id}", json={"status": "closed"})
        assert response.status_code == 400, (method, bad_id)
        assert response.json()["detail"][0]["loc"] == ["path", "ticket_id"]


# --------------------------------------------------------------------------- update


def test_patch_changes_fields_and_etag(client: TestClient) -> None:
    before = client.get("/tickets/3")
    response = client.patch("/tickets/3", json={"status": "fermé", "assignee": "ana.costa"})
    assert response.status_code == 200
    ticket = response.json()
    assert ticket["status"] == "closed" and ticket["assignee"] == "ana.costa"
    assert ticket["created_at"] == before.json()["created_at"]
    assert response.headers["ETag"] != before.headers["ETag"]
    assert client.get("/tickets/3").json() == ticket


def test_patch_null_assignee_unassigns(client: TestClient) -> None:
    assert client.patch("/tickets/1", json={"assignee": None}).json()["assignee"] is None


def test_patch_that_changes_nothing_keeps_updated_at_and_etag(client: TestClient) -> None:
    before = client.get("/tickets/1")
    response = client.patch("/tickets/1", json={"status": before.json()["status"]})
    assert response.status_code == 200
    assert response.json() == before.json()
    assert response.headers["ETag"] == before.headers["ETag"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"title": None},
        {"status": None},
        {"priority": None},
        {"description": None},
        {"title": ""},
        {"status": "done"},
        {"prioriy": "high"},
        {"id": 5},
        {"created_at": "2026-01-01T00:00:00Z"},
        {"updated_at": "2026-01-01T00:00:00Z"},
        [],
        "x",
    ],
)
def test_patch_invalid_body_is_400(client: TestClient, body: object) -> None:
    before = client.get("/tickets/1").json()
    response = client.patch("/tickets/1", json=body)
    assert response.status_code == 400
    assert client.get("/tickets/1").json() == before


def test_patch_unknown_id_is_404(client: TestClient) -> None:
    response = client.patch("/tickets/999", json={"status": "closed"})
    assert response.status_code == 404 and response.json() == {"detail": "ticket 999 not found"}


def test_patch_with_stale_if_match_is_412_and_changes_nothing(client: TestClient) -> None:
    etag = client.get("/tickets/5").headers["ETag"]
    assert client.patch("/tickets/5", json={"priority": "high"}, headers={"If-Match": etag}).status_code == 200
    stale = client.patch("/tickets/5", json={"priority": "low"}, headers={"If-Match": etag})
    assert stale.status_code == 412 and "ticket 5 has changed" in stale.json()["detail"]
    assert client.get("/tickets/5").json()["priority"] == "high"
    assert client.patch("/tickets/999", json={"priority": "low"}, headers={"If-Match": etag}).status_code == 404


def test_a_bare_etag_is_taken_like_the_quoted_one(client: TestClient) -> None:
    """A script that dropped the quotes (as the CLI allows) still gets its 304, its change and its 412."""
    etag = client.get("/tickets/5").headers["ETag"]
    bare = etag.strip('"')
    assert client.get("/tickets/5", headers={"If-None-Match": bare}).status_code == 304
    assert client.get("/tickets/5", headers={"If-None-Match": f"W/{bare}"}).status_code == 304
    assert client.patch("/tickets/5", json={"priority": "high"}, headers={"If-Match": bare}).status_code == 200
    stale = client.patch("/tickets/5", json={"priority": "low"}, headers={"If-Match": bare})
    assert stale.status_code == 412 and "ticket 5 has changed" in stale.json()["detail"]


# --------------------------------------------------------------------------- delete


def test_delete_is_204_then_404(client: TestClient, stored: Stored) -> None:
    response = client.delete("/tickets/2")
    assert response.status_code == 204 and response.content == b""
    assert 2 not in stored()[1]
    assert client.delete("/tickets/2").status_code == 404
    assert client.get("/tickets/2").status_code == 404


def test_delete_with_stale_if_match_is_412(client: TestClient) -> None:
    etag = client.get("/tickets/4").headers["ETag"]
    client.patch("/tickets/4", json={"title": "Changé entre-temps"})
    assert client.delete("/tickets/4", headers={"If-Match": etag}).status_code == 412
    assert client.get("/tickets/4").status_code == 200


def test_deleting_the_highest_id_never_frees_it(client: TestClient) -> None:
    highest = client.post("/tickets", json={"title": "Éphémère"}).json()["id"]
    assert client.delete(f"/tickets/{highest}").status_code == 204
    assert client.post("/tickets", json={"title": "Suivant"}).json()["id"] == highest + 1


# --------------------------------------------------------------------------- stats and health


def test_stats_counts_every_key(client: TestClient) -> None:
    stats = client.get("/tickets/stats").json()
    per_day = stats.pop("per_day")
    assert stats == {
        "total": 14,
        "by_status": {"open": 7, "in_progress": 3, "waiting": 0, "closed": 4},
        "by_priority": {"low": 3, "medium": 5, "high": 3, "urgent": 3},
        "by_tag": {},
        "sla": {"none": 14, "on_track": 0, "paused": 0, "met": 0, "breached": 0},  # no policy: no target
        "first_response_minutes_median": None,
        "resolution_minutes_median": 80.0,  # the 4 closed tickets: 26, 72, 88, 1273 minutes (every hour counts)
    }
    # The test data has no history: 14 days (the default), every one with zeros.
    assert len(per_day) == 14 and all(d["opened"] == d["closed"] == 0 for d in per_day)


def test_stats_with_filters_keeps_zero_keys(client: TestClient) -> None:
    stats = client.get("/tickets/stats?status=fermé").json()
    assert stats["total"] == 4 and stats["by_status"] == {"open": 0, "in_progress": 0, "waiting": 0, "closed": 4}
    assert client.get("/tickets/stats?priority=nope").status_code == 400
    assert client.get("/tickets/stats?sort=id").status_code == 400  # not a filter of the stats


def test_health(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok", "tickets": 14}


@pytest.mark.parametrize("garbage", [b"", b"{oops", b'{"next_id": 1, "tickets": [{"id": "x"}]}'])
def test_unreadable_file_is_503_then_recovers(json_client: TestClient, tickets_file: Path, garbage: bytes) -> None:
    client = json_client
    good = tickets_file.read_bytes()
    tickets_file.write_bytes(garbage)
    for method, url, body in [
        ("GET", "/tickets", None),
        ("GET", "/tickets/1", None),
        ("GET", "/tickets/stats", None),
        ("POST", "/tickets", {"title": "x"}),
        ("PATCH", "/tickets/1", {"status": "closed"}),
        ("DELETE", "/tickets/1", None),
        ("GET", "/health", None),
    ]:
        response = client.request(method, url, json=body)
        assert response.status_code == 503, (method, url)
        assert str(tickets_file) in response.json()["detail"]
    assert tickets_file.read_bytes() == garbage
    tickets_file.write_bytes(good)
    assert client.get("/health").json() == {"status": "ok", "tickets": 14}


# --------------------------------------------------------------------------- documentation


def test_openapi_documents_400_never_422(client: TestClient) -> None:
    """Invalid input is a 400; the only 422 is an Idempotency-Key sent again with another request, on the two
    creations (FastAPI's own 422 of validation errors is documented nowhere)."""
    schema = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in json.dumps(schema)
    operations = {(path, method): op for path, ops in schema["paths"].items() for method, op in ops.items()}
    with_422 = {where for where, op in operations.items() if "422" in op["responses"]}
    assert with_422 == {("/tickets", "post"), ("/tickets/{ticket_id}/comments", "post")}
    for where in with_422:
        assert "Idempotency-Key" in operations[where]["responses"]["422"]["description"]
    assert set(operations[("/tickets", "post")]["responses"]) >= {"201", "400", "413", "503"}
    assert set(operations[("/tickets/{ticket_id}", "patch")]["responses"]) >= {"200", "400", "404", "412", "413"}
    assert set(operations[("/tickets/{ticket_id}", "delete")]["responses"]) >= {"204", "400", "404", "412"}
    assert all(op.get("summary") for op in operations.values())
    assert client.get("/docs").status_code == 200


# --------------------------------------------------------------------------- concurrency


def test_200_concurrent_creates_lose_nothing(client: TestClient, stored: Stored) -> None:
    with ThreadPoolExecutor(max_workers=32) as pool:
        responses = list(pool.map(lambda i: client.post("/tickets", json={"title": f"Concurrent {i}"}), range(200)))
    assert {r.status_code for r in responses} == {201}
    ids = {r.json()["id"] for r in responses}
    assert len(ids) == 200
    kept = set(stored()[1])
    assert ids <= kept and len(kept) == 214


# --------------------------------------------------------------------------- API key


@pytest.fixture
def keyed(ticket_store: TicketStore, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The API with TICKETS_API_KEY set (the settings are read when the app is made)."""
    monkeypatch.setenv("TICKETS_API_KEY", "s3cret-clé".encode().hex())
    with _serving(ticket_store) as keyed_client:
        yield keyed_client


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("GET", "/tickets"),
        ("POST", "/tickets"),
        ("GET", "/tickets/1"),
        ("PATCH", "/tickets/1"),
        ("DELETE", "/tickets/1"),
        ("GET", "/tickets/stats"),
        ("GET", "/tickets/999"),
    ],
)
def test_api_key_required_when_set(keyed: TestClient, method: str, url: str, tickets_file: Path) -> None:
    before = tickets_file.read_bytes()
    missing = keyed.request(method, url, json={"title": "x"})
    assert missing.status_code == 401 and "missing API key" in missing.json()["detail"]
    wrong = keyed.request(method, url, json={"title": "x"}, headers={"X-API-Key": "nope"})
    assert wrong.status_code == 401 and wrong.json() == {"detail": "wrong API key"}
    assert tickets_file.read_bytes() == before


def test_api_key_checked_before_the_body(keyed: TestClient) -> None:
    assert keyed.post("/tickets", content=b"{broken", headers={"Content-Type": "application/json"}).status_code == 401
    big = b" " * (2 * MAX_BODY_BYTES)
    assert keyed.post("/tickets", content=big, headers={"Content-Type": "application/json"}).status_code == 401


def test_right_api_key_opens_and_health_docs_stay_open(keyed: TestClient) -> None:
    key = {"X-API-Key": "s3cret-clé".encode().hex()}
    assert keyed.get("/tickets", headers=key).status_code == 200
    assert keyed.post("/tickets", json={"title": "avec clé"}, headers=key).status_code == 201
    for url in ("/health", "/docs", "/openapi.json"):
        assert keyed.get(url).status_code == 200, url


def test_openapi_declares_the_api_key_for_swagger(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["APIKeyHeader"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "Needed only when the server has a key set: TICKETS_API_KEY (one key for everyone) or "
        "TICKETS_API_KEYS (named keys, name:key,name:key; the request's actor is then the key's name).",
    }
    list_op = schema["paths"]["/tickets"]["get"]
    assert list_op["security"] == [{"APIKeyHeader": []}] and "401" in list_op["responses"]
    assert "security" not in schema["paths"]["/health"]["get"]


def test_no_cors_headers_by_default(client: TestClient) -> None:
    response = client.get("/tickets", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in response.headers


# --------------------------------------------------------------------------- HTTP as users expect it

PATHS = {
    "/tickets": "GET, HEAD, OPTIONS, PATCH, POST",
    "/tickets/3": "DELETE, GET, HEAD, OPTIONS, PATCH",
    "/tickets/stats": "GET, HEAD, OPTIONS",
    "/health": "GET, HEAD, OPTIONS",
    "/docs": "GET, HEAD, OPTIONS",
}


METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


@pytest.mark.parametrize(
    ("path", "method"), [(path, method) for path in PATHS for method in METHODS if method not in PATHS[path]]
)
def test_an_unsupported_method_is_405_with_the_complete_allow_header(
    client: TestClient, path: str, method: str
) -> None:
    response = client.request(method, path, json={"title": "x"})
    assert response.status_code == 405
    assert response.headers["Allow"] == PATHS[path]


@pytest.mark.parametrize(
    ("path", "method"), [(path, method) for path in PATHS for method in METHODS if method in PATHS[path]]
)
def test_a_method_in_the_allow_header_is_answered(client: TestClient, path: str, method: str) -> None:
    body = {"ids": [3], "changes": {"title": "x"}} if (method, path) == ("PATCH", "/tickets") else {"title": "x"}
    response = client.request(method, path, json=body if method in ("POST", "PATCH") else None)
    assert response.status_code in (200, 201, 204), (method, path, response.text)


@pytest.mark.parametrize("path", PATHS)
def test_options_answers_204_with_allow(client: TestClient, path: str) -> None:
    response = client.options(path)
    assert response.status_code == 204
    assert response.headers["Allow"] == PATHS[path]
    assert response.content == b""


@pytest.mark.parametrize("method", ["OPTIONS", "GET", "DELETE", "HEAD"])
def test_an_unknown_path_is_a_404_with_its_detail_and_no_allow(client: TestClient, method: str) -> None:
    response = client.request(method, "/nowhere")
    assert response.status_code == 404
    assert "Allow" not in response.headers
    if method != "HEAD":
        assert response.json() == {"detail": "Not Found"}


@pytest.mark.parametrize(
    "path",
    [
        "/tickets",
        "/tickets/3",
        "/tickets/stats",
        "/health",
        "/docs",
        "/openapi.json",
        "/tickets/99",
        "/tickets?sort=couleur",
    ],
)
def test_head_answers_like_get_without_a_body(client: TestClient, path: str) -> None:
    get, head = client.get(path), client.head(path)
    assert head.status_code == get.status_code
    assert head.content == b""
    for name in ("content-type", "content-length", "etag", "x-total-count"):
        assert head.headers.get(name) == get.headers.get(name), name


def test_root_redirects_to_the_docs(client: TestClient) -> None:
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["Location"] == "/docs"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=open,closed", "status=open&status=closed"),
        ("priority=haute,URGENTE", "priority=high&priority=urgent"),
        ("status=en%20cours,ferm%C3%A9", "status=in_progress&status=closed"),
        ("q=RESEAU", "q=réseau"),
        ("priority=basse&priority=moyenne", "priority=low,medium"),
    ],
)
def test_lists_french_values_and_accents_are_understood(client: TestClient, query: str, expected: str) -> None:
    got, want = client.get(f"/tickets?{query}"), client.get(f"/tickets?{expected}")
    assert got.status_code == want.status_code == 200
    assert got.json() == want.json() and got.json() != []
    assert got.headers["X-Total-Count"] == want.headers["X-Total-Count"]


def test_q_ignores_accents_both_ways(client: TestClient) -> None:
    created = client.post("/tickets", json={"title": "Réseau coupé au 3e étage"}).json()
    for q in ("reseau coupe", "RÉSEAU", "etage", "ÉTAGE"):
        assert created["id"] in [t["id"] for t in client.get("/tickets", params={"q": q}).json()], q


def test_french_priority_in_a_body(client: TestClient) -> None:
    response = client.post("/tickets", json={"title": "Écran noir", "priority": "Haute", "status": "en cours"})
    assert response.status_code == 201
    assert (response.json()["priority"], response.json()["status"]) == ("high", "in_progress")


@pytest.mark.parametrize("title", ["\u200b", " \u200b\u200d ", "\ufeff", "\u2060\u00ad"])
def test_a_title_of_invisible_characters_is_blank(client: TestClient, title: str) -> None:
    response = client.post("/tickets", json={"title": title})
    assert response.status_code == 400
    assert response.json()["detail"][0]["loc"] == ["body", "title"]


def test_openapi_documents_headers_tags_and_real_dates(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    assert set(paths["/tickets"]["post"]["responses"]["201"]["headers"]) == {"Location", "ETag", "Idempotent-Replayed"}
    assert set(paths["/tickets"]["get"]["responses"]["200"]["headers"]) == {"X-Total-Count"}
    for method in ("get", "patch"):
        assert "ETag" in paths["/tickets/{ticket_id}"][method]["responses"]["200"]["headers"]
    assert {tag for ops in paths.values() for op in ops.values() for tag in op.get("tags", [])} == {
        "tickets",
        "comments",
        "history",
        "statistics",
        "sla",
        "webhooks",
        "service",
    }
    ticket = schema["components"]["schemas"]["Ticket"]
    example = ticket["examples"][0]
    for field in ("created_at", "updated_at"):
        assert real_timestamp(example[field]) and ticket["properties"][field]["examples"]


def test_docs_pages_ask_no_other_host(client: TestClient) -> None:
    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        assert "http://" not in html and "https://" not in html, page
        for asset in re.findall(r'(?:src|href)="(/[^"]+)"', html):
            assert client.get(asset).status_code == 200, asset


def test_an_empty_api_key_setting_refuses_to_make_the_app(
    ticket_store: TicketStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fail closed: never an open API (main.py turns this into one line and the server does not start)."""
    monkeypatch.setenv("TICKETS_API_KEY", "")
    with pytest.raises(SettingInvalid, match="TICKETS_API_KEY is set but empty"):
        create_app(store=ticket_store)


def test_an_invalid_lock_timeout_setting_refuses_to_make_the_app(
    ticket_store: TicketStore, monkeypatch: pytest.MonkeyPatch, stored: Stored
) -> None:
    before = stored()
    monkeypatch.setenv("TICKETS_LOCK_TIMEOUT", "nan")
    with pytest.raises(SettingInvalid, match="TICKETS_LOCK_TIMEOUT='nan'"):
        create_app(store=ticket_store)
    assert stored() == before


def test_docs_and_their_assets_stay_open_with_a_key(keyed: TestClient) -> None:
    html = keyed.get("/docs").text
    assets = re.findall(r'(?:src|href)="(/[^"]+)"', html)
    assert assets
    for path in ["/", "/redoc", *assets]:
        assert keyed.get(path, follow_redirects=False).status_code in (200, 307), path
