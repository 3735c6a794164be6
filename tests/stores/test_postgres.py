"""What only the PostgreSQL store has to prove: its tables and migrations, copies both ways, a database that
goes away. The API and CLI suites also run on PostgreSQL (the `client` and `store_args` fixtures)."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest

from conftest import (
    ROOT,
    TEST_DATA,
    _serving,
    contents,
    eventually,
    store_environment,
    sync,
)
from postgres_cluster import PASSWORD, PASSWORD_USER, Cluster
from tickets.cli.main import main
from tickets.engine.errors import StoreError
from tickets.engine.models import TicketCreate
from tickets.engine.rules import Reading, count, now
from tickets.engine.sla import NO_POLICY
from tickets.stores.json_file import JsonStore
from tickets.stores.postgres import sql
from tickets.stores.postgres import store as postgres_store
from tickets.stores.postgres.connections import safe_url
from tickets.stores.postgres.migrations import MIGRATIONS, VERSIONS
from tickets.stores.postgres.store import PostgresStore

pytestmark = pytest.mark.postgres
# The fields of a ticket as the tables of migration 1 held them.
VERSION_1_FIELDS = ("id", "title", "description", "status", "priority", "assignee", "created_at", "updated_at")


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "script.py"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


# --------------------------------------------------------------------------- tables and ids


def test_tables_are_created_at_first_use_and_ids_are_never_reused(postgres: Cluster, empty_url: str) -> None:
    async def add_then_delete_the_highest() -> int:
        store = PostgresStore(empty_url)
        try:
            first = await store.add(TicketCreate(title="Premier"))
            newest = await store.add(TicketCreate(title="Dernier"))
            await store.delete(newest["id"])
            assert first["id"] == 1
            return newest["id"]
        finally:
            await store.close()

    deleted = sync(add_then_delete_the_highest())
    postgres.stop("immediate")  # a crash of the database itself
    postgres.start()
    code = main(["add", "Après redémarrage", "--json", "--db", empty_url])
    assert code == 0
    assert max(contents(empty_url)[1]) > deleted  # never the freed id (a sequence may skip, never go back)
    with postgres.connect(empty_url.split("/")[-1].split("?")[0]) as conn:
        versions = [row[0] for row in conn.execute("SELECT version FROM tickets_schema ORDER BY version")]
        assert versions == VERSIONS  # each file once, by its number


def test_a_database_of_an_older_version_is_upgraded_in_place(
    tickets_file: Path, empty_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, old_tickets = contents(tickets_file)
    with psycopg.connect(empty_url, autocommit=True) as conn:  # the tables as the service made them at version 1
        conn.execute(MIGRATIONS[0])
        conn.execute("CREATE TABLE tickets_schema (version integer NOT NULL); INSERT INTO tickets_schema VALUES (1)")
        for t in old_tickets.values():
            conn.execute(
                f"INSERT INTO tickets ({', '.join(VERSION_1_FIELDS)}, title_key, search_title, search_description) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [t[f] for f in VERSION_1_FIELDS] + sql.computed_columns(t),
            )
        conn.execute("SELECT setval(pg_get_serial_sequence('tickets', 'id'), 17, false)")
    with _serving(PostgresStore(empty_url)) as client:  # today's service upgrades it at first use
        assert client.get("/tickets/stats").json()["total"] == 14
        assert client.delete("/tickets/1").status_code == 204
        assert client.patch("/tickets/3", json={"status": "closed"}, headers={"X-Actor": "ana"}).status_code == 200
        stats = client.get("/tickets/stats").json()
        response = client.get("/tickets?status=closed&limit=1")
        assert client.get("/tickets/5/events").json() == []  # a ticket from before the history: none yet
        events = client.get("/tickets/3/events").json()
        closed_at = client.get("/tickets/3").json()["resolved_at"]  # closing it resolves it (the help desk)
        assert [(e["type"], e["actor"], e["changes"]) for e in events] == [
            (
                "updated",
                "ana",
                {"status": {"from": "open", "to": "closed"}, "resolved_at": {"from": None, "to": closed_at}},
            )
        ]
        assert [e["type"] for e in client.get("/tickets/1/events").json()] == ["deleted"]
        assert client.post("/tickets", json={"title": "après"}).json()["id"] == 17
        stats = client.get("/tickets/stats").json()
    tickets = contents(empty_url)[1].values()
    assert {k: v for k, v in stats.items() if k != "per_day"} == count(
        tickets, Reading(NO_POLICY, now())
    )  # the counts agree with the tickets
    assert response.headers["X-Total-Count"] == str(sum(t["status"] == "closed" for t in tickets))


def test_a_database_whose_migrations_were_numbered_by_their_place_is_renumbered(
    empty_url: str, tickets_file: Path
) -> None:
    """Before versions were the files' numbers, the service recorded their places: 0009 (webhooks) as version 6.
    Such a database is told apart (its webhooks table, no tag_counts), recorded as at version 9, and gets 0006 (and
    what came later)."""
    with psycopg.connect(empty_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE tickets_schema (version integer NOT NULL)")
        # the files of that time: up to 0009, without 0006 (under way then)
        old = [(number, text) for number, text in zip(VERSIONS, MIGRATIONS, strict=True) if number <= 9 and number != 6]
        for place, (_, migration) in enumerate(old, start=1):
            conn.execute(migration)
            conn.execute("INSERT INTO tickets_schema (version) VALUES (%s)", (place,))

    async def upgrade_then_copy() -> list[Any]:
        store = PostgresStore(empty_url)
        try:
            next_id, tickets = await JsonStore(tickets_file).export()
            await store.replace_all(next_id, tickets, replace=False)
            return await store.webhooks.all()  # the webhooks' tables, as they were
        finally:
            await store.close()

    assert sync(upgrade_then_copy()) == []
    with psycopg.connect(empty_url, autocommit=True) as conn:
        versions = [row[0] for row in conn.execute("SELECT version FROM tickets_schema ORDER BY version")]
        assert versions == VERSIONS
        tagged = conn.execute("SELECT sum(n) FROM tag_counts WHERE tag IS NULL").fetchone()
        assert tagged is not None and tagged[0] == 14  # the copy's tickets, counted by migration 6's triggers


def test_the_counts_kept_by_the_database_are_folded_and_stay_exact(
    postgres: Cluster, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(postgres_store, "COMPACT_AFTER", 5)
    with _serving(PostgresStore(database_url)) as client:
        for i in range(20):
            client.post("/tickets", json={"title": f"n{i}", "priority": ["low", "urgent"][i % 2]})
            client.patch(f"/tickets/{[1, 2, 3][i % 3]}", json={"status": ["open", "closed"][i % 2]})
        client.delete("/tickets/4")
        # a total read from ticket_counts (a full page of a status): more than 5 rows, folded in the background
        assert client.get("/tickets?status=open&limit=1").status_code == 200
        name = database_url.split("/")[-1].split("?")[0]

        def folded() -> bool:  # one row per (status, priority) at most
            with postgres.connect(name) as conn:
                return conn.execute("SELECT count(*) FROM ticket_counts").fetchone()[0] <= 12

        eventually(folded, "the background fold of ticket_counts")
        stats = client.get("/tickets/stats").json()
    per_day = stats.pop("per_day")
    assert stats == count(contents(database_url)[1].values(), Reading(NO_POLICY, now()))
    assert per_day[-1]["opened"] == 20 and per_day[-1]["closed"] >= 1  # today's, from the events


def test_the_same_ticket_has_the_same_etag_on_both_stores(tickets_file: Path, database_url: str) -> None:
    with _serving(JsonStore(tickets_file)) as on_file:
        from_file = {i: on_file.get(f"/tickets/{i}").headers.get("ETag") for i in range(1, 17)}
    with _serving(PostgresStore(database_url)) as on_database:
        from_database = {i: on_database.get(f"/tickets/{i}").headers.get("ETag") for i in range(1, 17)}
    assert from_file == from_database and len({e for e in from_file.values() if e}) == 14


# --------------------------------------------------------------------------- copy


def test_copy_to_postgresql_and_back_is_byte_identical(
    tickets_file: Path, empty_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["copy", str(tickets_file), empty_url]) == 0
    assert capsys.readouterr().out.startswith("copied 14 tickets, 0 comments and 0 events from ")
    back, direct = tmp_path / "back.json", tmp_path / "direct.json"
    assert main(["copy", empty_url, str(back)]) == 0
    assert main(["copy", str(tickets_file), str(direct)]) == 0  # the file as the JSON store writes it (whole)
    assert back.read_bytes() == direct.read_bytes()  # ids, timestamps, next id, text, policy, clocks: all of it
    assert [json.loads(back.read_text())["tickets"][i]["id"] for i in (0, -1)] == [1, 15]
    capsys.readouterr()
    assert main(["add", "Suite", "--json", "--db", empty_url]) == 0
    assert json.loads(capsys.readouterr().out)["id"] == 17  # the next id came along


def test_a_copy_carries_comments_and_history_both_ways(
    tickets_file: Path, empty_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    where = ["--file", str(tickets_file)]
    for args in (
        ["add", "Écran noir", "--actor", "zoé"],
        ["comment", "17", "Redémarré, ça repart", "--actor", "zoé"],
        ["comment", "3", "Note interne", "--internal", "--author", "karim"],
        ["update", "17", "--status", "fermé", "--actor", "karim"],
        ["add", "Éphémère"],
        ["comment", "18", "bientôt parti"],
        ["delete", "18", "--actor", "ana"],
    ):
        assert main([*args, *where]) == 0
    assert main(["copy", str(tickets_file), empty_url]) == 0
    assert "2 comments and 7 events" in capsys.readouterr().out  # the deleted ticket's comment is gone
    back, direct = tmp_path / "back.json", tmp_path / "direct.json"
    assert main(["copy", empty_url, str(back)]) == 0
    assert main(["copy", str(tickets_file), str(direct)]) == 0  # as the JSON store copies it (the policy included)
    log = json.loads(back.read_text())["history_file"]
    original = json.loads(tickets_file.read_text())["history_file"]
    assert (log, original) == ("back.json.history.1.jsonl", "tickets.json.history.2.jsonl")  # 2: written again
    assert back.read_bytes() == direct.read_bytes().replace(b"direct.json", b"back.json")
    assert (tmp_path / log).read_bytes() == (tmp_path / original).read_bytes()  # every comment and event, as written
    with _serving(PostgresStore(empty_url)) as client:
        assert [e["type"] for e in client.get("/tickets/18/events").json()] == ["created", "commented", "deleted"]
        assert client.get("/tickets/18/comments").status_code == 404
        assert client.post("/tickets/17/comments", json={"body": "suite", "author": "ana"}).json()["id"] == 4
        assert client.get("/events?after=7").json()[0]["id"] == 8  # the next ids came along too


def test_copy_refuses_a_target_that_holds_tickets_unless_replace(
    tickets_file: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = contents(database_url)
    assert main(["copy", str(tickets_file), database_url]) == 1
    assert "already holds 14 tickets; add --replace" in capsys.readouterr().err
    assert contents(database_url) == before
    small = tickets_file.with_name("small.json")
    small.write_text(json.dumps({"next_id": 3, "tickets": [json.loads(TEST_DATA.read_text())["tickets"][0]]}))
    assert main(["copy", str(small), database_url, "--replace"]) == 0
    next_id, tickets = contents(database_url)
    assert list(tickets) == [1] and next_id == 17  # never below the ids the database already handed out
    assert main(["copy", database_url, str(tickets_file)]) == 1  # the file holds tickets too
    assert "--replace" in capsys.readouterr().err


def test_a_copy_that_fails_midway_changes_nothing(tickets_file: Path, database_url: str) -> None:
    before = contents(database_url)
    _, tickets = sync(JsonStore(tickets_file).export())
    broken = [*tickets[:-1], {**tickets[-1], "status": "lost"}]  # refused by the table's check, at the very end

    async def copy() -> None:
        store = PostgresStore(database_url)
        try:
            await store.replace_all(17, broken, replace=True)
        finally:
            await store.close()

    with pytest.raises(StoreError):
        sync(copy())
    assert contents(database_url) == before


# --------------------------------------------------------------------------- a database that goes away


def test_a_stopped_database_is_a_quick_503_then_the_service_recovers(postgres: Cluster, database_url: str) -> None:
    with _serving(PostgresStore(database_url, lock_timeout=3)) as client:
        assert client.get("/health").status_code == 200
        postgres.stop("fast")
        try:
            for method, url, body in [
                ("GET", "/tickets/1", None),
                ("GET", "/tickets?status=open", None),
                ("POST", "/tickets", {"title": "x"}),
                ("PATCH", "/tickets/1", {"status": "closed"}),
                ("DELETE", "/tickets/2", None),
                ("GET", "/tickets/stats", None),
                ("GET", "/health", None),
            ]:
                # Answered, not hung: a bound far beyond the 3 s setting, so that a loaded machine cannot fail it.
                with ThreadPoolExecutor(1) as pool:
                    response = pool.submit(client.request, method, url, json=body).result(timeout=120)
                assert response.status_code == 503, (method, url, response.text)
                assert "cannot be used" in response.json()["detail"] and "No such file" in response.json()["detail"]
        finally:
            postgres.start()
        assert client.get("/health").json() == {"status": "ok", "tickets": 14}  # back by itself
        assert client.post("/tickets", json={"title": "Après la panne"}).status_code == 201


def test_a_database_restarted_under_a_server_costs_no_read(postgres: Cluster, database_url: str) -> None:
    with _serving(PostgresStore(database_url)) as client:
        for _ in range(5):
            assert client.get("/tickets?limit=2").status_code == 200
        postgres.stop("immediate")
        postgres.start()
        assert client.get("/tickets/1").status_code == 200  # its dead connection replaced at once
        assert client.get("/health").status_code == 200


@pytest.mark.parametrize("problem", ["wrong password", "missing database", "server down"])
def test_an_unusable_database_is_named_in_a_503_and_a_cli_error_without_the_password(
    postgres: Cluster, problem: str, tmp_path: Path
) -> None:
    url = {
        "wrong password": postgres.url("postgres", PASSWORD_USER, "not-" + PASSWORD),
        "missing database": postgres.url("nowhere", PASSWORD_USER, PASSWORD),
        "server down": postgres.url("postgres", PASSWORD_USER, PASSWORD).replace(
            "host=%2Ftmp", "host=%2Fnonexistent%2Ftmp"
        ),
    }[problem]
    expected = {
        "wrong password": "password authentication failed",
        "missing database": 'database "nowhere" does not exist',
        "server down": "No such file or directory",
    }[problem]
    with _serving(PostgresStore(url)) as client:
        for response in (client.get("/health"), client.post("/tickets", json={"title": "x"})):
            assert response.status_code == 503
            assert expected in response.json()["detail"] and PASSWORD not in response.json()["detail"]
            assert safe_url(url) in response.json()["detail"]
    run = cli("stats", "--db", url)
    assert run.returncode == 1 and run.stderr.count("\n") == 1
    assert expected in run.stderr and PASSWORD not in run.stderr


def test_a_file_and_a_database_together_are_refused(tickets_file: Path, database_url: str) -> None:
    run = cli("stats", "--file", str(tickets_file), "--db", database_url)
    assert run.returncode == 2 and "not both" in run.stderr
    env = {**store_environment(database_url), "TICKETS_FILE": str(tickets_file)}
    run = cli("stats", env=env)
    assert run.returncode == 2 and "TICKETS_FILE and TICKETS_DATABASE_URL are both set" in run.stderr
    run = cli("stats", "--file", str(tickets_file), env=store_environment(database_url))
    assert run.returncode == 2 and "--file was given while TICKETS_DATABASE_URL is set" in run.stderr
    run = cli("stats", "--db", "mysql://somewhere/tickets")
    assert run.returncode == 2 and "must start with postgresql://" in run.stderr
    server = subprocess.run(
        [sys.executable, "-c", "import main"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert server.returncode != 0 and "both set" in server.stderr


def _database_of(url: str) -> str:
    return url.split("/")[-1].split("?")[0]


@pytest.mark.parametrize(
    ("revoked", "expected"),
    [
        ("SELECT ON tickets", "permission denied for table tickets"),
        ("SELECT ON comments", "permission denied for table comments"),
        ("SELECT ON events", "permission denied for table events"),
        ("SELECT ON ticket_counts", "permission denied for table ticket_counts"),
        ("SELECT ON erased_comments", "permission denied for table erased_comments"),
        ("INSERT ON events", "its role lacks INSERT on events: grant it"),
        ("UPDATE ON tickets", "its role lacks UPDATE on tickets: grant it"),
        ("INSERT ON erased_comments", "its role lacks INSERT on erased_comments: grant it"),
        ("USAGE ON SEQUENCE events_id_seq", "its role lacks USAGE on sequence public.events_id_seq: grant it"),
    ],
)
def test_health_is_503_naming_a_table_the_service_may_not_use(
    postgres: Cluster, database_url: str, revoked: str, expected: str
) -> None:
    database = _database_of(database_url)
    role, password = f"app_{database}", "app-Pa55word"  # the service's own role, not the superuser
    with postgres.connect(database) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
        conn.execute(f"GRANT USAGE, CREATE ON SCHEMA public TO {role}")
        conn.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}")
        conn.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role}")
    url = postgres.url(database, role, password)
    try:
        with _serving(PostgresStore(url)) as client:
            assert client.get("/health").json() == {"status": "ok", "tickets": 14}
            # every kind of write the service makes, by this role: a ticket, a comment, a deletion that erases it
            created = client.post("/tickets", json={"title": "Nouveau poste"})
            commented = client.post("/tickets/3/comments", json={"body": "vu", "author": "karim"})
            deleted = client.delete("/tickets/3")
            answers = [created.status_code, commented.status_code, deleted.status_code]
            assert answers == [201, 201, 204], created.text + commented.text + deleted.text
            with postgres.connect(database) as conn:
                conn.execute(f"REVOKE {revoked} FROM {role}")
            response = client.get("/health")
            assert response.status_code == 503
            detail = response.json()["detail"]
            assert expected in detail and safe_url(url) in detail and password not in detail
            with postgres.connect(database) as conn:
                conn.execute(f"GRANT {revoked} TO {role}")
            assert client.get("/health").json() == {"status": "ok", "tickets": 14}
    finally:
        with postgres.connect(database) as conn:
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")


def test_a_database_dropped_and_created_again_empty_is_set_up_again(postgres: Cluster, database_url: str) -> None:
    database = _database_of(database_url)
    with _serving(PostgresStore(database_url)) as client:
        assert client.get("/health").json() == {"status": "ok", "tickets": 14}
        postgres.drop(database)  # WITH (FORCE): the server's connections are cut
        gone = client.get("/health")
        assert gone.status_code == 503 and f'database "{database}" does not exist' in gone.json()["detail"]
        with postgres.connect("postgres") as conn:
            conn.execute(f"CREATE DATABASE {database}")  # empty: no tables at all
        created = client.post("/tickets", json={"title": "Première après la restauration"})
        assert created.status_code == 201, created.text
        assert created.json()["id"] == 1
        assert client.get("/health").json() == {"status": "ok", "tickets": 1}
        assert [e["type"] for e in client.get("/tickets/1/events").json()] == ["created"]


def test_tables_dropped_under_a_running_server_are_made_again(postgres: Cluster, database_url: str) -> None:
    database = _database_of(database_url)
    with _serving(PostgresStore(database_url)) as client:
        assert client.get("/health").status_code == 200
        with postgres.connect(database) as conn:  # the connections stay: only the tables go
            conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        assert client.get("/tickets").json() == []  # a read meets the missing table, makes it again, reads again
        assert client.get("/health").json() == {"status": "ok", "tickets": 0}
        assert client.post("/tickets", json={"title": "x"}).status_code == 201
