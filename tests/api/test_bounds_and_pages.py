"""Every number a request carries has a bound in the schema, the same on both stores."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

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
