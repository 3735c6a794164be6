"""The answers kept for Idempotency-Keys in tickets.json: after the tickets, one line each, absent while none is
kept (a file from before reads and writes as it did), checked as strictly as the rest of the file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conftest import sync
from tickets.engine.errors import StoreUnreadable
from tickets.engine.history import NewComment
from tickets.engine.idempotency import Keyed, fingerprint
from tickets.engine.models import TicketCreate
from tickets.stores.json_file import JsonStore, file_format


def keyed(key: str, route: str = "POST /tickets", body: Any = None) -> Keyed:
    return Keyed("ana", key, route, fingerprint(route, "ana", body or {"title": key}))


def test_a_file_without_kept_answers_is_written_as_before(store: JsonStore, tickets_file: Path) -> None:
    sync(store.add(TicketCreate(title="Sans clé")))
    assert "idempotency" not in json.loads(tickets_file.read_text(encoding="utf-8"))


def test_kept_answers_come_after_the_tickets_one_line_each(store: JsonStore, tickets_file: Path) -> None:
    sync(store.add_keyed(keyed("k:1"), TicketCreate(title="k:1"), "ana"))
    sync(store.add_comment_keyed(keyed("k:2", "POST /tickets/3/comments"), 3, NewComment("ana", "Vu : 14 h"), "ana"))
    text = tickets_file.read_text(encoding="utf-8")
    data = json.loads(text)
    assert list(data)[-2:] == ["tickets", "idempotency"]
    lines = text.split('"idempotency": [\n', 1)[1].splitlines()
    assert [json.loads(line.strip().rstrip(",")) for line in lines[:2]] == data["idempotency"]
    assert lines[2:] == ["  ]", "}"]
    first, second = data["idempotency"]
    assert first["key"] == "k:1" and first["scope"] == "ana" and first["route"] == "POST /tickets"
    assert first["status"] == 201 and first["headers"]["Location"] == f"/tickets/{first['body']['id']}"
    assert second["body"]["body"] == "Vu : 14 h"
    # A new version of the store (another process) reads them back, and writes them again unchanged.
    other = JsonStore(tickets_file)
    sync(other.add(TicketCreate(title="Sans clé")))
    assert json.loads(tickets_file.read_text(encoding="utf-8"))["idempotency"] == data["idempotency"]


def test_the_cheap_count_still_proves_no_key_is_repeated(
    store: JsonStore, tickets_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kept answers hold ':' in keys, times and texts: the count of ':' (file_format._repeated_key) knows them,
    so reading a file with some never needs the slow exact parse."""
    for n in range(3):
        sync(store.add_keyed(keyed(f"a:b:{n}"), TicketCreate(title=f"Réunion à 10:3{n}"), "ana"))

    def slow(raw: Any) -> None:
        raise AssertionError("the exact parse was needed")

    monkeypatch.setattr(file_format, "first_repeated_key", slow)
    assert sync(JsonStore(tickets_file).count()) == 17


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda r: r.update(fingerprint="nope"), "idempotency[0].fingerprint"),
        (lambda r: r.update(status=500), "idempotency[0].status"),
        (lambda r: r.update(extra=1), "idempotency[0].extra"),
        (lambda r: r.pop("body"), "idempotency[0].body"),
        (lambda r: r.update(key=""), "idempotency[0].key"),
    ],
)
def test_a_damaged_kept_answer_is_refused_naming_it(
    store: JsonStore, tickets_file: Path, change: Any, problem: str
) -> None:
    sync(store.add_keyed(keyed("k-1"), TicketCreate(title="k-1"), "ana"))
    data = json.loads(tickets_file.read_text(encoding="utf-8"))
    change(data["idempotency"][0])
    tickets_file.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    with pytest.raises(StoreUnreadable, match=problem.replace("[", r"\[").replace("]", r"\]")):
        sync(JsonStore(tickets_file).count())


def test_a_key_repeated_in_a_kept_answer_is_refused(store: JsonStore, tickets_file: Path) -> None:
    sync(store.add_keyed(keyed("k-1"), TicketCreate(title="k-1"), "ana"))
    text = tickets_file.read_text(encoding="utf-8").replace('"status":201,', '"status":201,"status":201,', 1)
    tickets_file.write_text(text, encoding="utf-8")
    with pytest.raises(StoreUnreadable, match="the key 'status' appears twice"):
        sync(JsonStore(tickets_file).count())
