"""`python script.py verify` and `backup DEST`, on both stores: a history that holds together is accepted with a
one-line summary, the first thing wrong is named (exit 1), and a backup is a copy that verify accepts."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from conftest import _serving, history_agrees
from tickets.cli.main import main
from tickets.engine.settings import Settings
from tickets.stores.base import TicketStore
from tickets.stores.json_file import JsonStore
from tickets.stores.postgres.store import PostgresStore

# Text the SQL recipe must escape exactly as the service does: quotes, backslashes, control characters, a line
# separator, letters outside ASCII and outside the BMP.
AWKWARD = 'guillemets " et \\ barre, tab\t, fin\n, \x01\x1f\x7f, \u2028, zoé, 🎫, </script>'


def write_a_day(store_args: list[str]) -> None:
    for args in (
        ["add", "Écran noir", "--actor", "zoé", "--priority", "high"],
        ["comment", "17", AWKWARD, "--actor", "zoé"],
        ["comment", "3", "note interne", "--internal", "--author", "karim"],
        ["update", "17", "--status", "fermé", "--actor", "karim"],
        ["add", "Éphémère"],
        ["comment", "18", "bientôt parti"],
        ["delete", "18", "--actor", "ana"],  # its comment is erased; its digest stays
        ["update", "3", "--assignee", AWKWARD[:100].replace("\n", " ").replace("\t", " ")],
    ):
        assert main([*args, *store_args]) == 0, args


def test_verify_accepts_a_history_the_service_wrote(store_args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    write_a_day(store_args)
    capsys.readouterr()
    assert main(["verify", *store_args]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "history verified: 8 events, 2 comments; 1 comments erased" in out, out


def test_a_backup_is_a_copy_that_verify_accepts(
    store_args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_a_day(store_args)
    dest = tmp_path / "sauvegardes" / "2026-11-28.json"
    dest.parent.mkdir()
    assert main(["backup", str(dest), *store_args]) == 0
    assert "backed up 15 tickets, 2 comments and 8 events" in capsys.readouterr().out
    assert main(["verify", "--file", str(dest)]) == 0
    assert history_agrees(dest) == (8, 2)
    assert main(["backup", str(dest), *store_args]) == 2  # never over an existing file
    assert "already exists" in capsys.readouterr().err


def test_both_stores_compute_the_same_digests(tickets_file: Path, empty_url: str, tmp_path: Path) -> None:
    """The SQL recipe and the Python one agree: a history written partly in each store, carried across by
    copies, is verified link by link by each (each recomputes every digest the other made)."""
    write_a_day(["--file", str(tickets_file)])
    assert main(["copy", str(tickets_file), empty_url]) == 0
    for args in (["comment", "17", AWKWARD + " (PostgreSQL)"], ["update", "17", "--title", AWKWARD[:200]]):
        assert main([*args, "--db", empty_url]) == 0
    back = tmp_path / "retour.json"
    assert main(["copy", empty_url, str(back)]) == 0
    assert main(["verify", "--db", empty_url]) == 0
    assert main(["verify", "--file", str(back)]) == 0
    history_agrees(back)


def test_verify_names_the_first_problem_in_postgresql(database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    write_a_day(["--db", database_url])
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE comments SET body = 'réécrit' WHERE id = 1")  # changed behind the service's back
    capsys.readouterr()
    assert main(["verify", "--db", database_url]) == 1
    assert "comment 1: its digest does not follow" in capsys.readouterr().err
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE comments SET body = %s WHERE id = 1", (AWKWARD,))
        conn.execute("UPDATE tickets SET title = 'autre' WHERE id = 17")  # a ticket its events do not give
    assert main(["verify", "--db", database_url]) == 1
    assert "ticket 17: its title is 'autre'" in capsys.readouterr().err


def test_verify_names_the_first_problem_in_the_json_file(
    tickets_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_a_day(["--file", str(tickets_file)])
    data = json.loads(tickets_file.read_text(encoding="utf-8"))
    data["tickets"] = [{**t, "priority": "low"} if t["id"] == 17 else t for t in data["tickets"]]
    tickets_file.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["verify", "--file", str(tickets_file)]) == 1
    assert "ticket 17: its priority is 'low', its history says 'high'" in capsys.readouterr().err


@pytest.mark.parametrize("broken", [False, True])
def test_health_tells_the_verification_done_at_start_up(ticket_store: TicketStore, broken: bool) -> None:
    with _serving(ticket_store) as client:
        assert client.post("/tickets", json={"title": "vérifiée"}).status_code == 201
    if broken:
        if isinstance(ticket_store, JsonStore):
            data = json.loads(ticket_store.path.read_text(encoding="utf-8"))
            data["tickets"][-1]["title"] = "changée à la main"
            ticket_store.path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        else:
            assert isinstance(ticket_store, PostgresStore)
            with psycopg.connect(ticket_store.url, autocommit=True) as conn:
                conn.execute("UPDATE tickets SET title = 'changée à la main' WHERE id = 17")
    store = JsonStore(ticket_store.path) if isinstance(ticket_store, JsonStore) else PostgresStore(ticket_store.url)
    with _serving(store, Settings(verify_on_start=True)) as client:
        health = client.get("/health")
        assert health.status_code == 200
        verification = health.json()["verification"]
    if broken:
        assert verification["ok"] is False and "ticket 17: its title is 'changée à la main'" in verification["problem"]
    else:
        assert verification["ok"] is True and "history verified: 1 events" in verification["summary"]


def test_settings_read_the_verify_switch() -> None:
    assert Settings.from_environment({"TICKETS_VERIFY_ON_START": "1"}).verify_on_start
    assert not Settings.from_environment({}).verify_on_start
    with pytest.raises(Exception, match="TICKETS_VERIFY_ON_START='oui': expected 1"):
        Settings.from_environment({"TICKETS_VERIFY_ON_START": "oui"})
