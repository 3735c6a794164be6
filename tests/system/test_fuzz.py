"""Schemathesis against the app's own OpenAPI schema: positive and negative data, every check."""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.core.parameters import ParameterLocation

from conftest import TEST_DATA, report, sync
from tickets.api.app import create_app
from tickets.engine.history import NewComment
from tickets.engine.models import TicketCreate
from tickets.engine.settings import Settings
from tickets.stores.json_file import JsonStore

pytestmark = pytest.mark.slow

CASES: Counter[str] = Counter()  # "run", and each operation's answers: "PATCH /sla 200"
KEY = "fuzz-key"
# The schema is read from the app when this module is collected: the app and its copy of the test data exist
# from then on (the fixture below removes the copy at the end).
FOLDER = Path(tempfile.mkdtemp(prefix="tickets-fuzz-"))
shutil.copyfile(TEST_DATA, FOLDER / "tickets.json")
# A key, so that the authentication checks have something to check.
app = create_app(Settings(api_keys={KEY: None}), store=JsonStore(FOLDER / "tickets.json"))
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.fixture(scope="module", autouse=True)
def fuzzed_store() -> Iterator[Any]:
    yield app.state.store
    shutil.rmtree(FOLDER, ignore_errors=True)
    answers = ", ".join(f"{n}x {what}" for what, n in sorted(CASES.items()) if what.endswith(HELP_DESK_ANSWERS))
    report(
        f"fuzzing: schemathesis ran {CASES['run']} cases (positive and negative), no 5xx, every response "
        f"matched the documented schema; the help desk's routes answered {answers}",
        scope="tests/system/test_fuzz.py",
    )


def real_key(case: schemathesis.Case) -> dict[str, str] | None:
    """Put the real key in place of the random one schemathesis generates, except when the case
    leaves the header out or mangles it on purpose (a negative case that expects a 401)."""
    if "X-API-Key" not in (case.headers or {}):
        return None
    negative = case.meta is not None and case.meta.is_negative_at(ParameterLocation.HEADER)
    return None if negative else {"X-API-Key": KEY}


HELP_DESK_ANSWERS = ("/sla 200", "/tickets 200", "/{comment_id} 200", "/{comment_id} 204")


def new_comment() -> tuple[int, int]:
    """A new ticket with a comment, made through the store as another client would: (ticket id, comment id)."""
    store = app.state.store
    ticket = sync(store.add(TicketCreate(title="Fuzzed comment's ticket"), "fuzz"))
    comment, _ = sync(store.add_comment(ticket["id"], NewComment("fuzz", "Le technicien passe demain."), "fuzz"))
    return ticket["id"], comment["id"]


def live_ids(how_many: int) -> list[int]:
    """The ids of some tickets that exist now (the fuzzing deletes some)."""
    _, tickets = sync(app.state.store.export())
    return [t["id"] for t in tickets][-how_many:]


def aim_at_real_things(case: schemathesis.Case) -> None:
    """Generated ids mostly name nothing (a 404 and no more): in a positive case whose generated id is even, point
    a comment route at a comment that exists, and a bulk change at tickets that exist, so that corrections,
    deletions and bulk changes are fuzzed through to the store."""
    if case.meta is None:
        return
    named = case.path_parameters if isinstance(case.path_parameters, dict) else {}
    generated = str(named.get("comment_id", ""))
    if (
        "{comment_id}" in case.operation.path
        and not case.meta.is_negative_at(ParameterLocation.PATH)
        and generated.isdigit()
        and int(generated) % 2 == 0
    ):
        ticket_id, comment_id = new_comment()
        case.path_parameters = {**named, "ticket_id": ticket_id, "comment_id": comment_id}
    if (case.method.upper(), case.operation.path) == ("PATCH", "/tickets"):
        body = case.body
        if not case.meta.is_negative_at(ParameterLocation.BODY) and isinstance(body, dict):
            ids = body.get("ids")
            if isinstance(ids, list) and ids and isinstance(ids[0], int) and ids[0] % 2 == 0:
                case.body = {**body, "ids": list[Any](live_ids(len(ids)))}


# Rules the schema does not state (a pattern says the shape of a date, not that the 30th of February does not exist;
# a cross-field or list-wide rule; a value that depends on what the store holds): a positive case that breaks one
# of them is rightly a 400 naming it. Each is (where, words of the message). See the report of issue 15's tests.
BEYOND_THE_SCHEMA: list[tuple[tuple[Any, ...], str]] = [
    (("query", "due_before"), "is not a real date"),
    (("body", "holidays"), "is not a real date"),
    (("body", "requester", "email"), "invalid email address"),
    (("body", "changes", "requester", "email"), "invalid email address"),
    (("body",), "give tags (the new list) or add_tags/remove_tags, not both"),
    (("body", "changes"), "give tags (the new list) or add_tags/remove_tags, not both"),
    (("body",), "is both added and removed"),
    (("body", "changes"), "is both added and removed"),
    (("body", "tags"), "a ticket has at most 20"),  # its tags and those added: depends on the ticket
    (("body", "changes", "tags"), "a ticket has at most 20"),  # the same in a bulk change (PATCH /tickets)
    (("body", "timezone"), "unknown time zone"),  # the schema names no list of the IANA zones
    (("body", "business_hours"), "ends before it starts"),  # ranges in order, not overlapping, some hours
    (("body", "business_hours"), "overlaps or precedes the one before it"),
    (("body", "business_hours"), "no day has business hours"),
    (("body", "targets"), "cannot be due after the resolution"),
    # A webhook's URL: the schema says a string starting with http:// or https://, not that it names a host
    # without credentials, nor what the host resolves to (checked at creation: here nothing resolves).
    (("body", "url"), "a webhook URL"),
    (("body", "url"), "of the webhook URL"),
    # A schema defect: FastAPI writes the bound of the ids of PATCH /tickets as the float 9.223372036854776e+18,
    # that is 2**63, where the service's bound is 2**63 - 1 (the path's ticket_id has the exact integer).
    (("body", "ids"), "less than or equal to 9223372036854775807"),
    # The same defect: the bounds of these ids and of the SLA targets are written as floats (1.0, 5270400.0), so
    # schemathesis sends values such as 234.0 (an integer to JSON Schema), which the strict integers refuse.
    (("body", "ids"), "Input should be a valid integer"),
    (("body", "targets"), "Input should be a valid integer"),
    # Text that must hold a visible character (a title, a name, a comment, X-Actor): the schema says it in words
    # (its description), not as the pattern it used to be, a line of invisible characters on the docs pages. So a
    # generated title of spaces or zero-width characters is rightly a 400 (tickets/api/openapi_for_clients.py).
    # Trimmed first, such text of spaces alone is too short rather than blank (minLength counts before trimming).
    (("body",), "must contain a visible character"),
    (("body",), "String should have at least 1 character"),
    (("header", "X-Actor"), "must contain a visible character"),
    (("header", "X-Actor"), "String should have at least 1 character"),
]


def beyond_the_schema(response: Any) -> bool:
    """A 400 whose every complaint is one of BEYOND_THE_SCHEMA."""
    if response.status_code != 400:
        return False
    detail = response.json().get("detail")
    if not isinstance(detail, list) or not detail:
        return False
    return all(
        any(tuple(d.get("loc", ()))[: len(where)] == where and words in d.get("msg", "") for where, words in rules)
        for d in detail
        for rules in [BEYOND_THE_SCHEMA]
    )


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_matches_its_schema(case: schemathesis.Case) -> None:
    CASES["run"] += 1
    aim_at_real_things(case)
    response = case.call(headers=real_key(case))
    CASES[f"{case.method.upper()} {case.operation.path} {response.status_code}"] += 1
    # A generated If-Match names no real version, so 412 is the right answer to otherwise valid data.
    stale = response.status_code == 412 and "if-match" in {k.lower() for k in (case.headers or {})}
    # A comment needs an author, or an actor to take it from (X-Actor, a named key): a rule across the body
    # and a header that the schema cannot state, so a body without author and no X-Actor is rightly a 400.
    anonymous = (
        response.status_code == 400
        and response.json()["detail"][0]["loc"] == ["body", "author"]
        and ("x-actor" not in {k.lower() for k in (case.headers or {})})
    )
    # An Idempotency-Key stands for the first request it came with (the schema's example key, or a short generated
    # one, comes again with other bodies): a 422 naming the key is the right answer to that state of the store.
    reused = response.status_code == 422 and "Idempotency-Key" in response.json()["detail"]
    excluded = (
        [schemathesis.checks.positive_data_acceptance]
        if stale or anonymous or reused or beyond_the_schema(response)
        else []
    )
    case.validate_response(response, excluded_checks=excluded, headers=real_key(case))
