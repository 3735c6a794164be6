"""A Python client generated from the service's /openapi.json by openapi-python-client, as a client author would
make it, driven against a real server on each store: the schema is proven by the code generated from it.

Generated once per session, offline (from the schema the app makes, with the generator's formatting hooks
switched off: they would run ruff on the generated files, which nothing here reads)."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from conftest import TEST_DATA, report, required_or_skip, running_server
from tickets.api.app import create_app
from tickets.engine.settings import Settings
from tickets.stores.json_file import JsonStore

pytestmark = pytest.mark.slow

try:
    import openapi_python_client  # noqa: F401 - only its presence is checked here; it runs as a program
except ImportError:  # pragma: no cover - depends on the machine
    required_or_skip("the generated client's test needs `pip install -r requirements-dev.txt` (openapi-python-client)")

KEY = "cle-du-client-genere"
PACKAGE = "tickets_client"
CONFIG = f"project_name_override: {PACKAGE}\npackage_name_override: {PACKAGE}\npost_hooks: []\n"
# What a client author calls, by tag: the operation ids of tickets.api.openapi_for_clients.
FUNCTIONS = {
    "tickets": {
        "list_tickets",
        "create_ticket",
        "read_ticket",
        "update_ticket",
        "delete_ticket",
        "bulk_update_tickets",
    },
    "statistics": {"ticket_stats"},
    "comments": {"list_comments", "create_comment", "read_comment", "update_comment", "delete_comment"},
    "history": {"ticket_history", "event_feed"},
    "sla": {"read_sla_policy", "replace_sla_policy"},
    "webhooks": {
        "list_webhooks",
        "create_webhook",
        "read_webhook",
        "update_webhook",
        "delete_webhook",
        "rotate_webhook_secret",
        "list_webhook_deliveries",
        "redeliver_webhook",
    },
    "service": {"health"},
}


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The client package, generated from the schema of an app like the one served (the schema does not depend
    on the store); its folder is on sys.path while the session lasts."""
    folder = tmp_path_factory.mktemp("generated-client")
    data = folder / "data.json"
    data.write_bytes(TEST_DATA.read_bytes())
    schema = create_app(Settings(), store=JsonStore(data)).openapi()
    (folder / "openapi.json").write_text(json.dumps(schema), encoding="utf-8")
    (folder / "config.yaml").write_text(CONFIG, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "openapi_python_client", "generate", "--path", "openapi.json"]
        + ["--config", "config.yaml", "--meta", "none"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # The generator warns (and still succeeds) about what it could not make sense of: there must be nothing.
    assert "Warning" not in done.stdout + done.stderr, done.stdout + done.stderr
    sys.path.insert(0, str(folder))
    try:
        yield folder / PACKAGE
    finally:
        sys.path.remove(str(folder))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def module(name: str) -> ModuleType:
    return importlib.import_module(f"{PACKAGE}.{name}")


def test_the_generated_functions_are_named_after_their_action(generated: Path) -> None:
    found = {
        tag.name: {f.stem for f in tag.glob("*.py") if f.stem != "__init__"}
        for tag in (generated / "api").iterdir()
        if tag.is_dir() and tag.name != "__pycache__"
    }
    assert found == FUNCTIONS
    # One class per enum, used everywhere (not one per place that uses it: ticket_create_status, ...).
    for value, enum in [("in_progress", "status"), ("urgent", "priority"), ("on_track", "sla_state")]:
        defined_in = [f.stem for f in (generated / "models").glob("*.py") if f' = "{value}"' in f.read_text()]
        assert defined_in == [enum], value
    sort_key = module("models.sort_key").SortKey
    assert sort_key.PRIORITY_DESC.value == "-priority" and sort_key.CREATED_AT.value == "created_at"
    report(
        "generated client: "
        + "; ".join(f"{tag}: {', '.join(sorted(names))}" for tag, names in sorted(FUNCTIONS.items()))
    )


@pytest.fixture(params=["json", "postgres"])
def served(request: pytest.FixtureRequest, tickets_file: Path) -> Iterator[str]:
    """A real server (uvicorn main:app) with an API key, on the test data in each store in turn."""
    store = tickets_file if request.param == "json" else request.getfixturevalue("database_url")
    with running_server(store, env={"TICKETS_API_KEY": KEY}) as base:
        yield base


def test_the_generated_client_drives_the_service(generated: Path, served: str) -> None:
    client_module, models, api = module("client"), module("models"), "api"
    tickets = {name: module(f"{api}.tickets.{name}") for name in FUNCTIONS["tickets"]}
    comments = module(f"{api}.comments.create_comment")
    client: Any = client_module.AuthenticatedClient(
        base_url=served, token=KEY, auth_header_name="X-API-Key", prefix="", raise_on_unexpected_status=True
    )
    with client:
        created = tickets["create_ticket"].sync_detailed(
            client=client,
            body=models.TicketCreate(
                title="Imprimante du 3e étage hors service", priority=models.Priority.URGENT, tags=["impression"]
            ),
            x_actor="claire.dubois",
        )
        assert created.status_code == 201, created.content
        ticket = created.parsed
        assert ticket.status == models.Status.OPEN and ticket.priority == models.Priority.URGENT
        assert created.headers["Location"] == f"/tickets/{ticket.id}"
        etag = created.headers["ETag"]

        listed = tickets["list_tickets"].sync_detailed(
            client=client,
            status=[models.Status.OPEN],
            priority=[models.Priority.URGENT, models.Priority.HIGH],
            sort=models.SortKey.ID_DESC,
            limit=2,
        )
        assert listed.status_code == 200
        assert listed.parsed[0].id == ticket.id and len(listed.parsed) <= 2
        assert all(t.status == models.Status.OPEN for t in listed.parsed)
        assert int(listed.headers["X-Total-Count"]) >= len(listed.parsed)

        unchanged = tickets["read_ticket"].sync_detailed(ticket.id, client=client, if_none_match=etag)
        assert (unchanged.status_code, unchanged.content) == (304, b"")

        updated = tickets["update_ticket"].sync_detailed(
            ticket.id,
            client=client,
            body=models.TicketUpdate(status=models.Status.IN_PROGRESS, assignee="karim.benali"),
            if_match=etag,
            x_actor="karim.benali",
        )
        assert updated.status_code == 200 and updated.parsed.status == models.Status.IN_PROGRESS
        stale = tickets["update_ticket"].sync_detailed(
            ticket.id, client=client, body=models.TicketUpdate(priority=models.Priority.LOW), if_match=etag
        )
        assert stale.status_code == 412 and stale.parsed.detail

        commented = comments.sync_detailed(
            ticket.id,
            client=client,
            body=models.CommentCreate(body="Le technicien passe cet après-midi.", author="karim.benali"),
        )
        assert commented.status_code == 201 and commented.parsed.ticket_id == ticket.id

        current = tickets["read_ticket"].sync_detailed(ticket.id, client=client)
        assert current.status_code == 200 and current.headers["ETag"] != updated.headers["ETag"]
        deleted = tickets["delete_ticket"].sync_detailed(ticket.id, client=client, if_match=current.headers["ETag"])
        assert deleted.status_code == 204
        assert tickets["read_ticket"].sync_detailed(ticket.id, client=client).status_code == 404
