"""Every route refuses a query parameter it does not declare (a typo is never silently ignored): a 400 naming it,
in the same words on every route. The routes are read from the app itself, so a new one is checked too."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from conftest import TEST_DATA
from tickets.api.app import create_app
from tickets.api.openapi import PAGES
from tickets.api.query_rules import QueryChecked, declared_query_names
from tickets.api.routes.stats import stats_is_read_only
from tickets.engine.settings import Settings
from tickets.stores.json_file import JsonStore

APP = create_app(Settings.from_environment(), store=JsonStore(TEST_DATA))  # never started: no file is read
# Every route of the app (those of the included routers too), but the documentation pages (they are not the API,
# and Swagger UI's OAuth redirect page is given query parameters of its own) and the one route that only answers 405
# (a method the path does not answer is refused as such, whatever the query).
ROUTES = [
    (method, context.route)
    for context in iter_route_contexts(APP.routes)
    if isinstance(context.route, APIRoute)
    and context.route.path not in PAGES
    and context.route.endpoint is not stats_is_read_only
    for method in sorted(context.route.methods)
]


def concrete(path: str) -> str:
    """The route's path with each {parameter} given as 1 (an id: it need not exist, the check comes first)."""
    return re.sub(r"\{[^}]+\}", "1", path)


def test_every_route_of_the_app_is_checked() -> None:
    assert len(ROUTES) > 20
    assert all(isinstance(route, QueryChecked) for _, route in ROUTES)


@pytest.mark.parametrize(("method", "route"), ROUTES, ids=[f"{m} {r.path}" for m, r in ROUTES])
def test_an_unknown_query_parameter_is_a_400_naming_it(client: TestClient, method: str, route: APIRoute) -> None:
    declared = declared_query_names(route.dependant)
    response = client.request(method, f"{concrete(route.path)}?stauts=open&force=true")
    assert response.status_code == 400, response.text
    detail = response.json()["detail"]
    assert [issue["loc"] for issue in detail] == [["query", "stauts"], ["query", "force"]]
    assert {issue["type"] for issue in detail} == {"extra_forbidden"}
    takes = f"this route takes {', '.join(sorted(declared))}" if declared else "this route takes none"
    assert detail[0]["msg"] == f"unknown query parameter 'stauts': {takes}"


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("DELETE", "/tickets/15?force=true"),
        ("POST", "/tickets?stauts=open"),
        ("PATCH", "/tickets/3?foo=1"),
        ("GET", "/tickets/3?foo=1"),
        ("POST", "/tickets/3/comments?limit=1"),
        ("GET", "/health?verbose=1"),
    ],
)
def test_an_unknown_query_parameter_changes_nothing(client: TestClient, stored: object, method: str, url: str) -> None:
    before = stored()  # type: ignore[operator]
    response = client.request(method, url, json={"title": "Nouveau", "body": "Bonjour", "author": "zoe"})
    assert response.status_code == 400
    assert response.json()["detail"][0]["loc"][0] == "query"
    assert stored() == before  # type: ignore[operator]


def test_head_is_checked_like_get(client: TestClient) -> None:
    response = client.head("/tickets/3?foo=1")
    assert response.status_code == 400 and response.content == b""


def test_known_parameters_still_pass_and_repeats_of_a_known_list_too(client: TestClient) -> None:
    response = client.get("/tickets?status=open&status=closed&sort=-id&limit=2&offset=0")
    assert response.status_code == 200 and len(response.json()) == 2
    assert client.get("/tickets/3/comments?limit=5&offset=0").status_code == 200
    assert client.get("/events?after=0&limit=1").status_code == 200
    assert client.get("/tickets/stats?days=3").status_code == 200


def test_the_refusal_is_told_in_french_when_asked(client: TestClient) -> None:
    response = client.delete("/tickets/3?force=true", headers={"Accept-Language": "fr"})
    assert response.status_code == 400
    assert response.json()["detail"] == [
        {
            "type": "extra_forbidden",
            "loc": ["query", "force"],
            "msg": "paramètre de requête inconnu «\u00a0force\u00a0»\u00a0: cette route n'en accepte aucun",
        }
    ]


@pytest.mark.parametrize("method", ["PUT", "POST", "PATCH", "DELETE"])
@pytest.mark.parametrize("path", ["/tickets/stats", "/health", "/tickets/3"])
def test_a_method_the_path_does_not_answer_is_a_405_whatever_the_query(
    client: TestClient, method: str, path: str
) -> None:
    allowed = client.options(path).headers["Allow"]
    if method in allowed:
        return
    response = client.request(method, f"{path}?foo=1&assignee=")
    assert response.status_code == 405 and response.headers["Allow"] == allowed
