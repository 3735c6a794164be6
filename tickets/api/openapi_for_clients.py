"""The OpenAPI schema made for its readers: client generators (openapi-python-client and the like) and the two
documentation pages. FastAPI's schema is right but awkward to them; each function below fixes one thing, on the
schema as a whole, so that no route has to know (docs/api.md, "Pour les auteurs de clients", tells the result).

- operation ids named after the action (list_tickets), not FastAPI's list_tickets_tickets_get;
- one named schema per enum (Status, Priority, SlaState, SortKey with readable member names), not a copy inline
  in every place that uses it;
- header parameters as plain strings with their canonical spelling (If-Match) and a description: FastAPI writes
  an optional header as "string or null" (a generated client then refuses None) and as the Python name (if-match);
  optional query parameters as plain values too (due_before was "string or null");
- rules on text said in words: the patterns that spelled "some visible character" were a line of invisible
  characters in Swagger UI and ReDoc (the validation is the service's, unchanged);
- no empty-list default on the array query parameters (ReDoc shows it as Default: "");
- each route's example of a 400 is one that route gives;
- the largest number (2^63 - 1) also said in words: the pages are JavaScript, whose numbers round it (ReDoc
  showed 9223372036854776000).
"""

from __future__ import annotations

from typing import Any, get_args

from tickets.api.responses import JSON
from tickets.engine.models import SLA_STATES
from tickets.engine.values import INVISIBLE, NUMBER_MAX, PRIORITIES, STATUSES, SortKey

# "METHOD path" -> operationId: the function name a generated client gives each route.
OPERATION_IDS = {
    "GET /tickets": "list_tickets",
    "POST /tickets": "create_ticket",
    "PATCH /tickets": "bulk_update_tickets",
    "GET /tickets/stats": "ticket_stats",
    "GET /tickets/{ticket_id}": "read_ticket",
    "PATCH /tickets/{ticket_id}": "update_ticket",
    "DELETE /tickets/{ticket_id}": "delete_ticket",
    "GET /tickets/{ticket_id}/comments": "list_comments",
    "POST /tickets/{ticket_id}/comments": "create_comment",
    "GET /tickets/{ticket_id}/comments/{comment_id}": "read_comment",
    "PATCH /tickets/{ticket_id}/comments/{comment_id}": "update_comment",
    "DELETE /tickets/{ticket_id}/comments/{comment_id}": "delete_comment",
    "GET /tickets/{ticket_id}/events": "ticket_history",
    "GET /events": "event_feed",
    "GET /sla": "read_sla_policy",
    "PUT /sla": "replace_sla_policy",
    "GET /webhooks": "list_webhooks",
    "POST /webhooks": "create_webhook",
    "GET /webhooks/{webhook_id}": "read_webhook",
    "PATCH /webhooks/{webhook_id}": "update_webhook",
    "DELETE /webhooks/{webhook_id}": "delete_webhook",
    "POST /webhooks/{webhook_id}/rotate-secret": "rotate_webhook_secret",
    "GET /webhooks/{webhook_id}/deliveries": "list_webhook_deliveries",
    "POST /webhooks/{webhook_id}/redeliver": "redeliver_webhook",
    "GET /health": "health",
}

SORT_KEYS: tuple[str, ...] = get_args(SortKey)
# name -> (values, the name of each value in a generated client or None for the value itself, description)
ENUMS: dict[str, tuple[tuple[str, ...], list[str] | None, str]] = {
    "Status": (
        STATUSES,
        None,
        "A ticket's status, in workflow order. Requests may also spell it in any case, or in French "
        "(ouvert, en cours, en attente, fermé); answers always give these values.",
    ),
    "Priority": (
        PRIORITIES,
        None,
        "A ticket's priority, lowest first. Requests may also spell it in any case, or in French "
        "(basse, moyenne, haute, urgente); answers always give these values.",
    ),
    "SlaState": (SLA_STATES, None, "Where a ticket stands against its SLA targets."),
    "SortKey": (
        SORT_KEYS,
        [key.lstrip("-").upper() + ("_DESC" if key.startswith("-") else "") for key in SORT_KEYS],
        "A sort key; with a leading '-', descending. Ties are broken by ascending id.",
    ),
}

# lower-case name -> (canonical name, description when the route gives none)
HEADERS = {
    "if-match": (
        "If-Match",
        "The ETag the change is meant for (with or without its quotes): when the ticket no longer has it, the "
        "answer is a 412 and nothing changes. Without it, the change applies (last writer wins).",
    ),
    "if-none-match": ("If-None-Match", "An ETag: the answer is a 304 without a body when the ticket still has it."),
    "x-actor": ("X-Actor", "Who makes the change, recorded in the history."),
    "idempotency-key": ("Idempotency-Key", "A key of your own for this request, so that a retry writes nothing twice."),
}

# The pattern that spelled "some visible character, no NUL" (tickets.engine.values), and what is said instead.
NOT_BLANK_PATTERN = f"^[^\x00]*[^{INVISIBLE}\x00][^\x00]*$"
NOT_BLANK_WORDS = (
    "At least one visible character: spaces and invisible characters (zero-width spaces and joiners, direction "
    "marks, the soft hyphen) alone count as blank. No NUL character."
)
# "no NUL" as a pattern that shows as text: the escape \u0000, not the character itself.
NO_NUL_PATTERN = "^[^\\u0000]*$"

# operationId -> the 400 that route gives for a typical mistake (tests/api/test_openapi_for_clients.py sends it).
BAD_REQUEST_EXAMPLES: dict[str, list[dict[str, Any]]] = {
    "list_tickets": [
        {
            "type": "value_error",
            "loc": ["query", "status", 0],
            "msg": "unknown status 'fini'; expected one of open, in_progress, waiting, closed "
            "(or ouvert, en cours, en attente, fermé)",
        }
    ],
    "ticket_stats": [
        {"type": "greater_than_equal", "loc": ["query", "days"], "msg": "Input should be greater than or equal to 1"}
    ],
    "create_ticket": [{"type": "extra_forbidden", "loc": ["body", "prioriy"], "msg": "Extra inputs are not permitted"}],
    "bulk_update_tickets": [{"type": "value_error", "loc": ["body"], "msg": "the id 3 is given twice"}],
    "read_ticket": [
        {
            "type": "value_error",
            "loc": ["path", "ticket_id"],
            "msg": "invalid id 'abc': expected a whole number from 1 to 9223372036854775807",
        }
    ],
    "update_ticket": [
        {
            "type": "value_error",
            "loc": ["body", "status"],
            "msg": "unknown status 'fini'; expected one of open, in_progress, waiting, closed "
            "(or ouvert, en cours, en attente, fermé)",
        }
    ],
    "delete_ticket": [
        {
            "type": "value_error",
            "loc": ["path", "ticket_id"],
            "msg": "invalid id 'abc': expected a whole number from 1 to 9223372036854775807",
        }
    ],
    "create_comment": [
        {
            "type": "value_error",
            "loc": ["body", "body"],
            "msg": "must contain a visible character, not only spaces or zero-width characters",
        }
    ],
    "list_comments": [
        {"type": "less_than_equal", "loc": ["query", "limit"], "msg": "Input should be less than or equal to 1000"}
    ],
    "read_comment": [
        {
            "type": "value_error",
            "loc": ["path", "comment_id"],
            "msg": "invalid id 'x': expected a whole number from 1 to 9223372036854775807",
        }
    ],
    "update_comment": [{"type": "bool_type", "loc": ["body", "internal"], "msg": "Input should be a valid boolean"}],
    "delete_comment": [
        {
            "type": "value_error",
            "loc": ["path", "comment_id"],
            "msg": "invalid id 'x': expected a whole number from 1 to 9223372036854775807",
        }
    ],
    "ticket_history": [
        {"type": "less_than_equal", "loc": ["query", "limit"], "msg": "Input should be less than or equal to 1000"}
    ],
    "event_feed": [
        {"type": "greater_than_equal", "loc": ["query", "after"], "msg": "Input should be greater than or equal to 0"}
    ],
    "replace_sla_policy": [
        {
            "type": "value_error",
            "loc": ["body", "timezone"],
            "msg": "unknown time zone 'Mars/Olympus': expected an IANA name such as Europe/Paris or UTC",
        }
    ],
    "create_webhook": [
        {"type": "value_error", "loc": ["body", "url"], "msg": "a webhook URL starts with http:// or https://"}
    ],
    "read_webhook": [
        {
            "type": "int_parsing",
            "loc": ["path", "webhook_id"],
            "msg": "Input should be a valid integer, unable to parse string as an integer",
        }
    ],
    "delete_webhook": [
        {
            "type": "int_parsing",
            "loc": ["path", "webhook_id"],
            "msg": "Input should be a valid integer, unable to parse string as an integer",
        }
    ],
    "rotate_webhook_secret": [
        {
            "type": "int_parsing",
            "loc": ["path", "webhook_id"],
            "msg": "Input should be a valid integer, unable to parse string as an integer",
        }
    ],
    "update_webhook": [{"type": "bool_type", "loc": ["body", "enabled"], "msg": "Input should be a valid boolean"}],
    "list_webhook_deliveries": [
        {"type": "greater_than_equal", "loc": ["query", "limit"], "msg": "Input should be greater than or equal to 1"}
    ],
    "redeliver_webhook": [
        {"type": "greater_than_equal", "loc": ["query", "from"], "msg": "Input should be greater than or equal to 1"}
    ],
}


def for_clients(schema: dict[str, Any]) -> None:
    """Everything above, in place, on a schema FastAPI made."""
    name_operations(schema)
    name_enums(schema)
    plain_headers(schema)
    rules_in_words(schema)
    no_empty_array_defaults(schema)
    bad_request_examples(schema)
    largest_number_in_words(schema)


def _operations(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(f"{m.upper()} {path}", op) for path, ops in schema["paths"].items() for m, op in ops.items()]


def _parameters(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """Every parameter of every operation (path, query and header)."""
    return [parameter for _, operation in _operations(schema) for parameter in operation.get("parameters", [])]


def name_operations(schema: dict[str, Any]) -> None:
    """Each operation's id from OPERATION_IDS; a route missing there is a mistake found at once."""
    for where, operation in _operations(schema):
        if where not in OPERATION_IDS:
            raise LookupError(f"{where} has no operation id: name it in OPERATION_IDS ({__name__})")
        operation["operationId"] = OPERATION_IDS[where]


def _walk(node: Any) -> list[dict[str, Any]]:
    """Every object in a JSON document, the outer ones first."""
    found: list[dict[str, Any]] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            found.append(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def name_enums(schema: dict[str, Any]) -> None:
    """Every inline copy of one of ENUMS becomes a reference to its named schema (its description and default
    kept beside the reference)."""
    by_values = {values: name for name, (values, _, _) in ENUMS.items()}

    def named(node: Any) -> Any:
        if isinstance(node, list):
            return [named(item) for item in node]
        if not isinstance(node, dict):
            return node
        name = by_values.get(tuple(node.get("enum", ())))
        if name is not None:
            kept = {k: node[k] for k in ("description", "default") if k in node}
            return {"$ref": f"#/components/schemas/{name}", **kept}
        return {key: named(value) for key, value in node.items()}

    schema["paths"] = named(schema["paths"])
    schema["components"]["schemas"] = named(schema["components"]["schemas"])
    for name, (values, var_names, description) in ENUMS.items():
        enum: dict[str, Any] = {"type": "string", "enum": list(values), "title": name, "description": description}
        if var_names is not None:
            enum["x-enum-varnames"] = var_names
        schema["components"]["schemas"][name] = enum


def plain_headers(schema: dict[str, Any]) -> None:
    """Header parameters spelled canonically, each with a description; header and query parameters as plain
    values, never "or null" (a header or a query string has no null: one leaves the parameter out)."""
    for parameter in _parameters(schema):
        if parameter["in"] == "header":
            name, description = HEADERS.get(parameter["name"].lower(), (parameter["name"], ""))
            parameter["name"] = name
            parameter.setdefault("description", parameter["schema"].get("description") or description)
        branches = [b for b in parameter["schema"].get("anyOf", []) if b.get("type") != "null"]
        if len(branches) == 1 and parameter["in"] in ("header", "query"):
            outer = {k: v for k, v in parameter["schema"].items() if k not in ("anyOf", "title", "description")}
            parameter["schema"] = {**outer, **branches[0]}
        parameter["schema"].pop("title", None)
        if parameter["in"] == "header":
            parameter["schema"].pop("description", None)


def rules_in_words(schema: dict[str, Any]) -> None:
    """The "some visible character" pattern said in the description instead (the NUL rule stays a pattern, with
    the NUL written as an escape); any other pattern holding a NUL gets the escape too."""
    for node in _walk(schema):
        pattern = node.get("pattern")
        if not isinstance(pattern, str) or "\x00" not in pattern:
            continue
        if pattern == NOT_BLANK_PATTERN:
            node["pattern"] = NO_NUL_PATTERN
            node["description"] = (
                f"{node['description']} {NOT_BLANK_WORDS}" if "description" in node else NOT_BLANK_WORDS
            )
        else:
            node["pattern"] = pattern.replace("\x00", "\\u0000")
    for parameter in _parameters(schema):  # a parameter's description is the one the pages show
        if NOT_BLANK_WORDS in parameter["schema"].get("description", ""):
            parameter["schema"].pop("description")
            parameter["description"] = f"{parameter.get('description', '')} {NOT_BLANK_WORDS}".strip()


def no_empty_array_defaults(schema: dict[str, Any]) -> None:
    """An array query parameter left out filters nothing: no default [] (ReDoc shows it as Default: "")."""
    for parameter in _parameters(schema):
        if parameter["schema"].get("type") == "array" and parameter["schema"].get("default") == []:
            parameter["schema"].pop("default")


def bad_request_examples(schema: dict[str, Any]) -> None:
    """Each route's 400 shows a mistake that route can have; a route with none to show (GET /webhooks takes no
    input) shows no example rather than another route's."""
    for _, operation in _operations(schema):
        if "400" not in operation["responses"]:
            continue
        answer = operation["responses"]["400"]  # FastAPI shares its content between routes: a copy
        shown = {k: v for k, v in answer["content"][JSON].items() if k != "example"}
        example = BAD_REQUEST_EXAMPLES.get(operation["operationId"])
        if example is not None:
            shown["example"] = {"detail": example}
        answer["content"] = {JSON: shown}


LARGEST_WORDS = f"Largest: {NUMBER_MAX} (2^63 - 1)."


def largest_number_in_words(schema: dict[str, Any]) -> None:
    """Where a number may go up to NUMBER_MAX, the description says it exactly: JavaScript's numbers cannot hold
    it, so the pages show it rounded (the schema's maximum stays exact for the generators)."""
    for parameter in _parameters(schema):  # a parameter's description is the one the pages show
        if parameter["schema"].get("maximum") == NUMBER_MAX:
            parameter["description"] = f"{parameter.get('description', '')} {LARGEST_WORDS}".strip()
    for node in _walk(schema["components"]["schemas"]):
        for inner in (node, node.get("items") or {}):
            if inner.get("maximum") == NUMBER_MAX and LARGEST_WORDS not in node.get("description", ""):
                node["description"] = f"{node.get('description', '')} {LARGEST_WORDS}".strip()
