"""Every number a request carries has a bound in the schema, the same on both stores; a ticket's comments and
events come in pages by default."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from conftest import _serving, sync
from tickets.engine.chain import History, RecordKind, chain_of
from tickets.stores import TicketStore

BIGINT_MAX = 2**63 - 1  # PostgreSQL's bigint: the largest id, offset or position either store takes


@pytest.mark.parametrize(
    "url",
    [
        f"/tickets?limit={BIGINT_MAX + 1}",
        f"/tickets?offset={BIGINT_MAX + 1}",
        f"/tickets/3/comments?offset={BIGINT_MAX + 1}",
        f"/tickets/3/events?offset={BIGINT_MAX + 1}",
        f"/events?after={BIGINT_MAX + 1}",
        f"/tickets/{BIGINT_MAX + 1}",
        f"/tickets/{BIGINT_MAX + 1}/comments",
        f"/tickets/{BIGINT_MAX + 1}/events",
        f"/tickets/3/comments/{BIGINT_MAX + 1}",
        "/tickets/" + "9" * 5000,
        f"/tickets/stats?days={BIGINT_MAX + 1}",
    ],
)
def test_a_number_out_of_range_is_a_400_naming_it(client: TestClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 400, response.text
    (issue,) = response.json()["detail"]
    assert issue["loc"][0] in ("query", "path") and issue["msg"]


@pytest.mark.parametrize(
    ("url", "code"),
    [
        (f"/tickets?limit={BIGINT_MAX}", 200),
        (f"/tickets?offset={BIGINT_MAX}", 200),
        (f"/tickets?limit={BIGINT_MAX}&offset={BIGINT_MAX}", 200),
        (f"/tickets/3/comments?offset={BIGINT_MAX}", 200),
        (f"/tickets/3/events?offset={BIGINT_MAX}", 200),
        (f"/events?after={BIGINT_MAX}", 200),
        (f"/tickets/{BIGINT_MAX}", 404),
        (f"/tickets/{BIGINT_MAX}/comments", 404),
        (f"/tickets/{BIGINT_MAX}/events", 404),
        (f"/tickets/3/comments/{BIGINT_MAX}", 404),
    ],
)
def test_the_largest_numbers_in_range_are_answered(client: TestClient, url: str, code: int) -> None:
    response = client.get(url)
    assert response.status_code == code, response.text
    if code == 200:
        assert response.json() == [] or url.startswith("/tickets?limit")


def test_writes_to_the_largest_ids_are_404_and_beyond_them_400(client: TestClient) -> None:
    for ticket_id, code in ((BIGINT_MAX, 404), (BIGINT_MAX + 1, 400)):
        assert client.patch(f"/tickets/{ticket_id}", json={"title": "x"}).status_code == code
        assert client.delete(f"/tickets/{ticket_id}").status_code == code
        assert client.post(f"/tickets/{ticket_id}/comments", json={"body": "x", "author": "a"}).status_code == code


def _unbounded(schema: dict[str, Any]) -> bool:
    """An integer without a maximum, alone or as one of the choices of an anyOf."""
    if schema.get("type") == "integer":
        return "maximum" not in schema
    return any(_unbounded(choice) for choice in schema.get("anyOf", []))


def test_every_integer_parameter_has_a_maximum_in_the_schema(client: TestClient) -> None:
    unbounded = [
        f"{method.upper()} {path} {parameter['name']}"
        for path, operations in client.get("/openapi.json").json()["paths"].items()
        for method, operation in operations.items()
        for parameter in operation.get("parameters", [])
        if _unbounded(parameter["schema"])
    ]
    assert unbounded == []


# --------------------------------------------------------------------------- pages of comments and events


def _many_comments(ticket_store: TicketStore, ticket_id: int, how_many: int) -> None:
    """The store's tickets, with how_many comments on one ticket and their events, written in one go."""

    async def fill() -> None:
        next_id, tickets = await ticket_store.export()
        records: list[tuple[RecordKind, dict[str, Any]]] = []
        for n in range(1, how_many + 1):  # each comment just before the event that names it, as they are written
            records.append(
                (
                    "comment",
                    {
                        "id": n,
                        "ticket_id": ticket_id,
                        "author": "karim",
                        "body": f"réponse {n}",
                        "internal": False,
                        "created_at": "2026-11-21T10:00:00Z",
                    },
                )
            )
            records.append(
                (
                    "event",
                    {
                        "id": n,
                        "ticket_id": ticket_id,
                        "at": "2026-11-21T10:00:00Z",
                        "actor": "karim",
                        "type": "commented",
                        "changes": {"comment_id": {"from": None, "to": n}},
                    },
                )
            )
        history = History(how_many + 1, how_many + 1, chain_of(records))
        await ticket_store.replace_all(next_id, tickets, replace=True, history=history)
        await ticket_store.close()

    sync(fill())


def test_comments_and_events_come_in_pages_of_100_at_most_1000(ticket_store: TicketStore) -> None:
    _many_comments(ticket_store, 3, 1005)
    with _serving(ticket_store) as client:
        for kind in ("comments", "events"):
            first = client.get(f"/tickets/3/{kind}")
            assert first.status_code == 200
            assert len(first.json()) == 100 and first.headers["X-Total-Count"] == "1005"
            assert first.json()[0]["id"] == 1 and first.json()[-1]["id"] == 100
            largest = client.get(f"/tickets/3/{kind}?limit=1000&offset=1000")
            assert [item["id"] for item in largest.json()] == [1001, 1002, 1003, 1004, 1005]
            assert len(client.get(f"/tickets/3/{kind}?limit=1000").json()) == 1000
            too_many = client.get(f"/tickets/3/{kind}?limit=1001")
            assert too_many.status_code == 400
            assert too_many.json()["detail"][0]["loc"] == ["query", "limit"]
            assert "1000" in too_many.json()["detail"][0]["msg"]
        assert client.get("/tickets/3/comments/1005").json()["body"] == "réponse 1005"  # beyond the first page
        limit = next(
            p
            for p in client.get("/openapi.json").json()["paths"]["/tickets/{ticket_id}/comments"]["get"]["parameters"]
            if p["name"] == "limit"
        )
        assert limit["schema"]["default"] == 100 and limit["schema"]["maximum"] == 1000
