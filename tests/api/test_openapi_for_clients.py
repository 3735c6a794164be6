"""The OpenAPI schema as client generators and the docs pages read it (tickets/api/openapi_for_clients.py):
operation ids, named enums, plain headers, rules in words, array defaults, and a true 400 example per route.
tests/system/test_generated_client.py proves the same with a generated client."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tickets.api.openapi_for_clients import BAD_REQUEST_EXAMPLES, NOT_BLANK_WORDS, OPERATION_IDS


@pytest.fixture
def schema(json_client: TestClient) -> dict[str, Any]:
    return json_client.get("/openapi.json").json()


def operations(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{m.upper()} {path}": op for path, ops in schema["paths"].items() for m, op in ops.items()}


def test_every_operation_is_named_after_its_action(schema: dict[str, Any]) -> None:
    named = {where: op["operationId"] for where, op in operations(schema).items()}
    assert named == OPERATION_IDS
    assert len(set(named.values())) == len(named)
    assert named["GET /tickets"] == "list_tickets" and named["POST /tickets/{ticket_id}/comments"] == "create_comment"


def test_each_enum_is_one_named_schema_used_everywhere(schema: dict[str, Any]) -> None:
    components = schema["components"]["schemas"]
    assert components["Status"]["enum"] == ["open", "in_progress", "waiting", "closed"]
    assert components["Priority"]["enum"] == ["low", "medium", "high", "urgent"]
    assert components["SlaState"]["enum"] == ["none", "on_track", "paused", "met", "breached"]
    sort = components["SortKey"]
    assert dict(zip(sort["enum"], sort["x-enum-varnames"], strict=True))["-created_at"] == "CREATED_AT_DESC"
    text = json.dumps(schema)
    for name in ("Status", "Priority", "SlaState", "SortKey"):  # the values are written once: in the named schema
        assert text.count(json.dumps(components[name]["enum"])) == 1, name
    assert components["Ticket"]["properties"]["status"] == {"$ref": "#/components/schemas/Status"}
    assert components["TicketCreate"]["properties"]["priority"] == {
        "$ref": "#/components/schemas/Priority",
        "default": "medium",
    }


def test_headers_are_plain_strings_spelled_canonically_and_described(schema: dict[str, Any]) -> None:
    headers = {
        p["name"]: p for op in operations(schema).values() for p in op.get("parameters", []) if p["in"] == "header"
    }
    assert set(headers) == {"If-Match", "If-None-Match", "X-Actor", "Idempotency-Key"}
    for name, header in headers.items():
        assert header["schema"]["type"] == "string" and "anyOf" not in header["schema"], name
        assert header["description"] and not header["required"], name
    assert "412" in headers["If-Match"]["description"]
    assert headers["X-Actor"]["schema"] == {
        "type": "string",
        "minLength": 1,
        "maxLength": 100,
        "pattern": "^[^\\u0000]*$",
    }


def test_rules_on_text_are_said_in_words_not_invisible_characters(schema: dict[str, Any]) -> None:
    text = json.dumps(schema, ensure_ascii=False)
    for invisible in ("\x00", "\u200b", "\\u200b", "\\x0b", "\ufeff"):
        assert invisible not in text, repr(invisible)
    title = schema["components"]["schemas"]["TicketCreate"]["properties"]["title"]
    assert title["pattern"] == "^[^\\u0000]*$" and NOT_BLANK_WORDS in title["description"]
    optional_query = [
        f"{where} {p['name']}"
        for where, op in operations(schema).items()
        for p in op.get("parameters", [])
        if p["in"] == "query" and "anyOf" in p["schema"]
    ]
    assert optional_query == []  # a query string has no null: "string or null" said nothing more


def test_array_parameters_have_no_empty_default(schema: dict[str, Any]) -> None:
    status = next(p for p in schema["paths"]["/tickets"]["get"]["parameters"] if p["name"] == "status")
    assert status["schema"] == {
        "type": "array",
        "items": {"$ref": "#/components/schemas/Status"},
        "description": status["description"],
    }


def test_the_largest_number_is_also_said_in_words(schema: dict[str, Any]) -> None:
    """2^63 - 1 is exact in the schema, but the pages (JavaScript) show it rounded: each parameter says it."""
    bounded = [
        (where, p)
        for where, op in operations(schema).items()
        for p in op.get("parameters", [])
        if p["schema"].get("maximum") == 2**63 - 1
    ]
    assert len(bounded) >= 10  # ids, limit, offset, after…
    for where, parameter in bounded:
        assert "9223372036854775807 (2^63 - 1)" in parameter["description"], (where, parameter["name"])


def test_the_key_scheme_names_both_settings(schema: dict[str, Any]) -> None:
    description = schema["components"]["securitySchemes"]["APIKeyHeader"]["description"]
    assert "TICKETS_API_KEY " in description and "TICKETS_API_KEYS" in description


# A request that gets each route's documented 400: the example is what that route answers.
MISTAKES: dict[str, tuple[str, str, Any]] = {
    "list_tickets": ("GET", "/tickets?status=fini", None),
    "ticket_stats": ("GET", "/tickets/stats?days=0", None),
    "create_ticket": ("POST", "/tickets", {"title": "Imprimante", "prioriy": "high"}),
    "bulk_update_tickets": ("PATCH", "/tickets", {"ids": [3, 3], "changes": {"status": "closed"}}),
    "read_ticket": ("GET", "/tickets/abc", None),
    "update_ticket": ("PATCH", "/tickets/3", {"status": "fini"}),
    "delete_ticket": ("DELETE", "/tickets/abc", None),
    "create_comment": ("POST", "/tickets/3/comments", {"body": "  ", "author": "karim.benali"}),
    "list_comments": ("GET", "/tickets/3/comments?limit=5000", None),
    "read_comment": ("GET", "/tickets/3/comments/x", None),
    "update_comment": ("PATCH", "/tickets/3/comments/1", {"internal": "yes"}),
    "delete_comment": ("DELETE", "/tickets/3/comments/x", None),
    "ticket_history": ("GET", "/tickets/3/events?limit=5000", None),
    "event_feed": ("GET", "/events?after=-1", None),
    "replace_sla_policy": ("PUT", "/sla", {"timezone": "Mars/Olympus"}),
    "create_webhook": ("POST", "/webhooks", {"url": "ftp://hooks.example.fr", "events": ["ticket.created"]}),
    "read_webhook": ("GET", "/webhooks/abc", None),
    "delete_webhook": ("DELETE", "/webhooks/abc", None),
    "rotate_webhook_secret": ("POST", "/webhooks/abc/rotate-secret", None),
    "update_webhook": ("PATCH", "/webhooks/1", {"enabled": "maybe"}),
    "list_webhook_deliveries": ("GET", "/webhooks/1/deliveries?limit=0", None),
    "redeliver_webhook": ("POST", "/webhooks/1/redeliver?from=0", None),
}


def test_every_route_that_documents_a_400_has_its_own_example(schema: dict[str, Any]) -> None:
    with_400 = {op["operationId"] for op in operations(schema).values() if "400" in op["responses"]}
    # GET /webhooks takes no input: its 400 (the webhooks router's) has no mistake to show, so no example.
    assert with_400 - {"list_webhooks"} == set(BAD_REQUEST_EXAMPLES) == set(MISTAKES)
    listing = schema["paths"]["/webhooks"]["get"]["responses"]["400"]["content"]["application/json"]
    assert "example" not in listing


@pytest.mark.parametrize("operation_id", sorted(MISTAKES))
def test_each_400_example_is_what_the_route_answers(
    json_client: TestClient, schema: dict[str, Any], operation_id: str
) -> None:
    method, url, body = MISTAKES[operation_id]
    [operation] = [op for op in operations(schema).values() if op["operationId"] == operation_id]
    documented = operation["responses"]["400"]["content"]["application/json"]["example"]
    response = json_client.request(method, url, json=body)
    assert (response.status_code, response.json()) == (400, documented)


def test_redoc_is_served_without_its_remote_logo(json_client: TestClient) -> None:
    """ReDoc's bundle drew Redocly's logo from cdn.redoc.ly, which the pages' policy refuses (a console error on
    every load): the app serves the bundle with an empty picture of its own instead."""
    html = json_client.get("/redoc").text
    [bundle] = [src for src in re.findall(r'src="(/[^"]+)"', html) if "redoc" in src]
    answer = json_client.get(bundle)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/javascript")
    assert b"cdn.redoc.ly" not in answer.content and b'alt:"redocly logo"' in answer.content
    assert json_client.get("/static-offline-docs/swagger-ui-bundle.js").status_code == 200  # the rest as before
