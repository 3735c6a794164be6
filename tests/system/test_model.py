"""A hypothesis state machine: the API (and the CLI for some rules) against a plain in-memory model."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from conftest import TEST_DATA, contents, history_agrees, report
from postgres_cluster import Cluster
from tickets.api.app import create_app
from tickets.cli.main import main
from tickets.engine.rules import count, sort_tickets
from tickets.engine.settings import Settings
from tickets.engine.values import VISIBLE_PATTERN
from tickets.stores.json_file import JsonStore
from tickets.stores.postgres import PostgresStore

pytestmark = pytest.mark.slow

titles = st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=1, max_size=40).filter(
    lambda t: re.search(VISIBLE_PATTERN, t)  # the API's own idea of a blank title ('\xad' is one)
)
statuses = st.sampled_from(["open", "in_progress", "closed", "OUVERT", "en cours", "fermé"])
priorities = st.sampled_from(["low", "medium", "high", "urgent", "HIGH"])
CANONICAL = {"ouvert": "open", "en cours": "in_progress", "fermé": "closed"}
STEPS = {"run": 0}


class TicketsMachine(RuleBasedStateMachine):
    ids = Bundle("ids")

    cluster: Cluster | None = None  # set: the machine runs on PostgreSQL, a new database per example

    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp())
        if self.cluster is None:
            self.path = self.folder / "tickets.json"
            shutil.copyfile(TEST_DATA, self.path)
            self.store, self.where = JsonStore(self.path), ["--file", str(self.path)]
        else:
            self.database = self.cluster.new_database(self.cluster.template)
            url = self.cluster.url(self.database)
            self.store, self.where = PostgresStore(url), ["--db", url]
        self.client = TestClient(
            create_app(Settings.from_environment(), store=self.store)
        ).__enter__()  # one event loop for the whole example, as a server has
        data = json.loads(TEST_DATA.read_text())
        self.model = {t["id"]: t for t in data["tickets"]}
        self.next_id = data["next_id"]
        self.events: dict[int, list[str]] = {t: [] for t in self.model}  # the types of each ticket's history
        self.comments: dict[int, list[dict]] = {t: [] for t in self.model}

    def teardown(self) -> None:
        history_agrees(self.store)  # the history, replayed, gives the tickets as they are
        self.client.__exit__(None, None, None)
        if self.cluster is not None:
            self.cluster.drop(self.database)
        shutil.rmtree(self.folder, ignore_errors=True)

    def stored(self) -> tuple[int, dict[int, dict]]:
        return contents(self.store)

    @rule(target=ids, title=titles, status=statuses, priority=priorities)
    def create(self, title: str, status: str, priority: str) -> int:
        STEPS["run"] += 1
        response = self.client.post("/tickets", json={"title": title, "status": status, "priority": priority})
        assert response.status_code == 201
        ticket = response.json()
        assert ticket["id"] == self.next_id
        assert ticket["title"] == title.strip()
        assert ticket["status"] == CANONICAL.get(status.lower(), status.lower())
        self.next_id += 1
        self.model[ticket["id"]] = ticket
        self.events[ticket["id"]], self.comments[ticket["id"]] = ["created"], []
        return ticket["id"]

    @rule(target=ids, title=titles)
    def create_with_cli(self, title: str) -> int:
        STEPS["run"] += 1
        assert main(["add", *self.where, "--", title]) == 0  # "--": titles may start with -
        ticket = self.stored()[1][self.next_id]
        assert ticket["title"] == title.strip()
        self.model[self.next_id] = ticket
        self.events[self.next_id], self.comments[self.next_id] = ["created"], []
        self.next_id += 1
        return ticket["id"]

    @rule(ticket_id=ids, status=statuses, priority=priorities, assignee=st.none() | st.sampled_from(["ana", "bruno"]))
    def patch(self, ticket_id: int, status: str, priority: str, assignee: str | None) -> None:
        STEPS["run"] += 1
        response = self.client.patch(
            f"/tickets/{ticket_id}", json={"status": status, "priority": priority, "assignee": assignee}
        )
        if ticket_id not in self.model:
            assert response.status_code == 404
            return
        assert response.status_code == 200
        old, new = self.model[ticket_id], response.json()
        expected = {
            **old,
            "status": CANONICAL.get(status.lower(), status.lower()),
            "priority": priority.lower(),
            "assignee": assignee,
        }
        if {k: v for k, v in expected.items() if k != "updated_at"} == {
            k: v for k, v in old.items() if k != "updated_at"
        }:
            assert new == old  # nothing changed: same updated_at, and no event
        else:
            assert {k: v for k, v in new.items() if k != "updated_at"} == {
                k: v for k, v in expected.items() if k != "updated_at"
            }
            self.events[ticket_id].append("updated")
        self.model[ticket_id] = new

    @rule(ticket_id=ids, body=titles, internal=st.booleans())
    def comment(self, ticket_id: int, body: str, internal: bool) -> None:
        STEPS["run"] += 1
        response = self.client.post(
            f"/tickets/{ticket_id}/comments", json={"body": body, "internal": internal}, headers={"X-Actor": "ana"}
        )
        if ticket_id not in self.model:
            assert response.status_code == 404
            return
        assert response.status_code == 201
        comment = response.json()
        assert (comment["author"], comment["body"], comment["internal"]) == ("ana", body, internal)
        assert all(comment["id"] > c["id"] for cs in self.comments.values() for c in cs)  # ids only grow
        ticket = self.client.get(f"/tickets/{ticket_id}").json()
        assert ticket["updated_at"] > self.model[ticket_id]["updated_at"]  # moved, always
        self.model[ticket_id] = ticket
        self.comments[ticket_id].append(comment)
        self.events[ticket_id].append("commented")

    @rule(ticket_id=ids)
    def delete(self, ticket_id: int) -> None:
        STEPS["run"] += 1
        response = self.client.delete(f"/tickets/{ticket_id}")
        assert response.status_code == (204 if ticket_id in self.model else 404)
        if self.model.pop(ticket_id, None) is not None:
            self.events[ticket_id].append("deleted")

    @rule(ticket_id=ids)
    def delete_with_cli(self, ticket_id: int) -> None:
        STEPS["run"] += 1
        assert main(["delete", str(ticket_id), *self.where]) == (0 if ticket_id in self.model else 1)
        if self.model.pop(ticket_id, None) is not None:
            self.events[ticket_id].append("deleted")

    @rule(status=statuses)
    def list_filtered(self, status: str) -> None:
        STEPS["run"] += 1
        wanted = CANONICAL.get(status.lower(), status.lower())
        response = self.client.get("/tickets", params={"status": status, "sort": "-priority"})
        expected = sort_tickets([t for t in self.model.values() if t["status"] == wanted], "-priority")
        assert response.json() == expected
        assert response.headers["X-Total-Count"] == str(len(expected))

    @invariant()
    def store_api_and_model_agree(self) -> None:
        next_id, tickets = self.stored()
        assert list(tickets.values()) == sorted(self.model.values(), key=lambda t: t["id"])
        assert next_id == self.next_id
        if self.cluster is None:  # the file itself, as people read it
            assert json.loads(self.path.read_text(encoding="utf-8"))["tickets"] == list(tickets.values())
        assert self.client.get("/tickets").json() == list(tickets.values())
        stats = self.client.get("/tickets/stats").json()
        assert {k: v for k, v in stats.items() if k != "per_day"} == count(self.model.values())

    @invariant()
    def history_and_comments_agree(self) -> None:
        feed = self.client.get("/events?limit=1000").json()
        assert len(feed) == sum(len(kinds) for kinds in self.events.values())
        for ticket_id in {e["ticket_id"] for e in feed}:  # the tickets the example touched
            kinds = self.events[ticket_id]
            assert [e["type"] for e in self.client.get(f"/tickets/{ticket_id}/events").json()] == kinds
            if ticket_id in self.model:
                assert self.client.get(f"/tickets/{ticket_id}/comments").json() == self.comments[ticket_id]
            else:
                assert self.client.get(f"/tickets/{ticket_id}/comments").status_code == 404
        assert sum(d["opened"] for d in self.client.get("/tickets/stats?days=2").json()["per_day"]) == sum(
            kinds.count("created") for kinds in self.events.values()
        )


@pytest.mark.parametrize("kind", ["json", "postgres"])
def test_api_and_cli_agree_with_a_model_of_the_tickets(kind: str, request: pytest.FixtureRequest) -> None:
    """Random sequences of API and CLI steps; after each, the store, the API and a dict agree."""
    cluster = request.getfixturevalue("postgres") if kind == "postgres" else None
    machine = type(f"TicketsMachineOn{kind.title()}", (TicketsMachine,), {"cluster": cluster})
    before = STEPS["run"]
    run_state_machine_as_test(machine, settings=settings(max_examples=25, stateful_step_count=20, deadline=None))
    report(
        f"model check on {kind}: {STEPS['run'] - before} API and CLI steps; store, API, history and model always agreed"
    )
