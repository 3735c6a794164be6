"""Histories written before digests existed: a JSON log of the previous version (tests/data/before-digests, made
by it) and a PostgreSQL database at migration 3 are read as they are, get their digests (at the next write, or
by migration 4), and verify accepts them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import psycopg
import pytest

from conftest import history_agrees, sync
from tickets.cli.main import main
from tickets.engine.history import NewComment, Page
from tickets.stores.json_file import JsonStore
from tickets.stores.postgres.migrations import MIGRATIONS
from tickets.stores.postgres.store import PostgresStore

BEFORE = Path(__file__).resolve().parents[1] / "data" / "before-digests"


def test_a_log_written_before_digests_is_read_then_written_again_with_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("tickets.json", "tickets.history.2.jsonl"):
        shutil.copyfile(BEFORE / name, tmp_path / name)
    data_file = tmp_path / "tickets.json"
    store = JsonStore(data_file)
    assert [e["type"] for e in sync(store.events(18, Page()))[0]] == ["created", "commented", "deleted"]
    assert [c["body"] for c in sync(store.comments(17, Page()))[0]] == ["Redémarré", "encore"]
    assert main(["verify", "--file", str(data_file)]) == 0
    assert "written before digests: the next write adds them" in capsys.readouterr().out
    sync(JsonStore(data_file).add_comment(3, NewComment("ana", "après la mise à jour")))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tickets.json", "tickets.json.history.3.jsonl"]
    assert main(["verify", "--file", str(data_file)]) == 0
    assert "1 comments erased" in capsys.readouterr().out  # the comment deleted back then: chained as erased
    assert history_agrees(data_file) == (10, 4)


def test_a_database_at_migration_3_gets_its_digests(empty_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    with psycopg.connect(empty_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE tickets_schema (version integer NOT NULL)")
        for number, migration in enumerate(MIGRATIONS[:3], start=1):
            conn.execute(migration)
            conn.execute("INSERT INTO tickets_schema (version) VALUES (%s)", (number,))
        at = "2026-11-20T09:14:00Z"
        for title in ("Écran noir", "Éphémère"):  # as version 3 wrote them
            (ticket_id,) = conn.execute(
                "INSERT INTO tickets (title, description, status, priority, assignee, created_at, updated_at, "
                "title_key, search_title, search_description) VALUES (%s, '', 'open', 'medium', NULL, %s, %s, "
                "%s, %s, '') RETURNING id",
                (title, at, at, title.casefold(), title.casefold()),
            ).fetchone()
            conn.execute(
                "INSERT INTO events (ticket_id, at, actor, type, changes, closes) VALUES (%s, %s, 'zoé', 'created', "
                "%s::json, false)",
                (
                    ticket_id,
                    at,
                    json.dumps(
                        {
                            "title": {"from": None, "to": title},
                            "description": {"from": None, "to": ""},
                            "status": {"from": None, "to": "open"},
                            "priority": {"from": None, "to": "medium"},
                            "assignee": {"from": None, "to": None},
                        },
                        ensure_ascii=False,
                        separators=(",", ":"),
                    ),
                ),
            )
            (comment_id,) = conn.execute(
                "INSERT INTO comments (ticket_id, author, body, internal, created_at) "
                "VALUES (%s, 'karim', 'vu\n\"ok\"', false, %s) RETURNING id",
                (ticket_id, at),
            ).fetchone()
            conn.execute(  # version 3 built `changes` with json_build_object: spaces in its text
                "INSERT INTO events (ticket_id, at, actor, type, changes, closes) SELECT %s, %s, 'karim', 'commented', "
                "json_build_object('comment_id', json_build_object('from', null, 'to', %s::bigint)), false",
                (ticket_id, at, comment_id),
            )
        conn.execute("DELETE FROM tickets WHERE id = 2")  # its comment went with it, back then without a trace
        conn.execute(
            "INSERT INTO events (ticket_id, at, actor, type, changes, closes) "
            "VALUES (2, %s, NULL, 'deleted', '{}', false)",
            (at,),
        )
    assert main(["verify", "--db", empty_url]) == 0  # migration 4 runs at first use
    assert "5 events, 1 comments; 1 comments erased" in capsys.readouterr().out
    assert main(["comment", "1", "après la migration", "--db", empty_url]) == 0
    assert main(["verify", "--db", empty_url]) == 0

    async def events_of_1() -> list[dict[str, object]]:
        store = PostgresStore(empty_url)
        try:
            return (await store.events(1, Page()))[0]  # type: ignore[return-value]
        finally:
            await store.close()

    events = sync(events_of_1())
    assert [e["type"] for e in events] == ["created", "commented", "commented"]
