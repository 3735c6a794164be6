"""Schemathesis against the app's own OpenAPI schema: positive and negative data, every check."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from conftest import TEST_DATA, report
from tickets.api.app import create_app
from tickets.engine.settings import Settings
from tickets.stores.json_file import JsonStore

pytestmark = pytest.mark.slow

CASES = {"run": 0}
KEY = "fuzz-key"
# The schema is read from the app when this module is collected: the app and its copy of the test data exist
# from then on (the fixture below removes the copy at the end).
FOLDER = Path(tempfile.mkdtemp(prefix="tickets-fuzz-"))
shutil.copyfile(TEST_DATA, FOLDER / "tickets.json")
# A key, so that the authentication checks have something to check.
app = create_app(Settings(api_keys={KEY: None}), store=JsonStore(FOLDER / "tickets.json"))
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.fixture(scope="module", autouse=True)
def fuzzed_store():
    yield app.state.store
    shutil.rmtree(FOLDER, ignore_errors=True)
    report(
        f"fuzzing: schemathesis ran {CASES['run']} cases (positive and negative), no 5xx, every response "
        "matched the documented schema",
        scope="tests/system/test_fuzz.py",
    )


def real_key(case: schemathesis.Case) -> dict[str, str] | None:
    """Put the real key in place of the random one schemathesis generates, except when the case
    leaves the header out or mangles it on purpose (a negative case that expects a 401)."""
    if "X-API-Key" not in (case.headers or {}):
        return None
    header = case.meta.components.get("header") if case.meta else None
    return None if header is not None and header.mode.is_negative else {"X-API-Key": KEY}


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_matches_its_schema(case: schemathesis.Case) -> None:
    CASES["run"] += 1
    response = case.call(headers=real_key(case))
    # A generated If-Match names no real version, so 412 is the right answer to otherwise valid data.
    stale = response.status_code == 412 and "if-match" in {k.lower() for k in (case.headers or {})}
    # A comment needs an author, or an actor to take it from (X-Actor, a named key): a rule across the body
    # and a header that the schema cannot state, so a body without author and no X-Actor is rightly a 400.
    anonymous = (
        response.status_code == 400
        and response.json()["detail"][0]["loc"] == ["body", "author"]
        and ("x-actor" not in {k.lower() for k in (case.headers or {})})
    )
    excluded = [schemathesis.checks.positive_data_acceptance] if stale or anonymous else []
    case.validate_response(response, excluded_checks=excluded, headers=real_key(case))
