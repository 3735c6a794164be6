"""The history log beside tickets.json: committed by the file's rename, its crash tail cut, damage refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from conftest import contents, history_agrees, sync
from tickets.engine.chain import chained, record_bytes
from tickets.engine.errors import StoreUnreadable
from tickets.engine.history import NewComment, Page
from tickets.engine.models import TicketCreate, TicketUpdate
from tickets.stores.json_file import JsonStore
from tickets.stores.json_file import history_log as json_history
from tickets.stores.json_file.log_lines import line_of

# --------------------------------------------------------------------------- the log beside tickets.json


def test_a_file_from_before_the_history_loads_and_stays_as_it_was(store: JsonStore, tickets_file: Path) -> None:
    before = tickets_file.read_bytes()
    assert sync(store.events(3, Page())) == ([], 0)
    sync(store.update(3, TicketUpdate(status="open")))  # changes nothing: no write, no log
    assert tickets_file.read_bytes() == before
    assert sorted(p.name for p in tickets_file.parent.iterdir()) == ["tickets.json"]


def _line(kind: str, record: dict[str, Any], previous: bytes) -> bytes:
    """A line as the service writes it, chained to previous."""
    return line_of(kind, record_bytes(kind, record), chained(previous, record_bytes(kind, record)))


def test_a_crash_between_the_log_and_the_file_leaves_neither_change(store: JsonStore, tickets_file: Path) -> None:
    sync(store.add(TicketCreate(title="avant"), actor="ana"))
    head = json.loads(tickets_file.read_text())
    log = tickets_file.parent / head["history_file"]
    committed = log.read_bytes()
    # A writer appended its lines and died before tickets.json was replaced (the last one half-written):
    ghost = (
        _line(
            "comment",
            {
                "id": 1,
                "ticket_id": 17,
                "author": "x",
                "body": "fantôme",
                "internal": False,
                "created_at": "2026-11-27T10:00:00Z",
            },
            bytes.fromhex(head["history_digest"]),
        )
        + b'{"ev'
    )
    with open(log, "ab") as file:
        file.write(ghost)
    fresh = JsonStore(tickets_file)  # another process
    assert [e["type"] for e in sync(fresh.events(17, Page()))[0]] == ["created"]
    assert sync(fresh.comments(17, Page())) == ([], 0)
    comment, _ = sync(fresh.add_comment(17, NewComment("ana", "vrai")))  # the next write sets the dead lines aside
    assert comment["id"] == 2  # never an id a line past the committed end names
    assert log.read_bytes().startswith(committed) and b"fant" not in log.read_bytes()
    assert (tickets_file.parent / "tickets.json.set-aside.jsonl").read_bytes() == ghost + b"\n"  # not destroyed
    assert [c["body"] for c in sync(JsonStore(tickets_file).comments(17, Page()))[0]] == ["vrai"]
    assert history_agrees(tickets_file) == (2, 1)


def test_a_damaged_log_is_refused_with_its_line(store: JsonStore, tickets_file: Path) -> None:
    for title in ("un", "deux"):
        sync(store.add(TicketCreate(title=title)))
    log = tickets_file.parent / json.loads(tickets_file.read_text())["history_file"]
    lines = log.read_bytes().splitlines(keepends=True)
    for damaged, problem in (
        (lines[0].replace(b'"created"', b'"updated"'), "line 1: its digest does not follow"),  # found by reading
        (lines[0].replace(b'"un"', b'"UN"'), "line 1: its digest does not follow"),
        (
            lines[0].replace(b'{"id":1,', b'{"id":1,"id":1,'),
            r"last committed record \(ending at byte \d+\) does not carry",
        ),
    ):
        log.write_bytes(damaged + lines[1])
        fresh = JsonStore(tickets_file)
        with pytest.raises(StoreUnreadable, match=problem):
            sync(fresh.warm_up())  # a server says so at start-up
        with pytest.raises(StoreUnreadable, match=problem):
            sync(fresh.add(TicketCreate(title="trois")))  # nothing is written while the log is refused
        assert log.read_bytes() == damaged + lines[1]  # never overwritten


def test_a_copy_of_the_file_under_another_name_does_not_share_its_history(store: JsonStore, tickets_file: Path) -> None:
    sync(store.add(TicketCreate(title="original")))
    backup = tickets_file.with_name("backup.json")
    backup.write_bytes(tickets_file.read_bytes())  # cp tickets.json backup.json
    copy = JsonStore(backup)
    with pytest.raises(StoreUnreadable, match="is not a log of this file.*python script.py copy"):
        sync(copy.add(TicketCreate(title="dans la copie")))  # never writes into tickets.json's log
    assert [e["ticket_id"] for e in sync(JsonStore(tickets_file).feed(0, 10))] == [17]


def test_deleting_a_ticket_removes_its_comments_from_the_disk(store: JsonStore, tickets_file: Path) -> None:
    sync(store.add_comment(3, NewComment("ana", "mot de passe: hunter2")))
    sync(store.add_comment(4, NewComment("ana", "reste")))
    sync(store.delete(3, actor="ana"))
    names = sorted(p.name for p in tickets_file.parent.iterdir())
    assert names == ["tickets.json", "tickets.json.history.2.jsonl"]  # written again without them; the old removed
    text = (tickets_file.parent / names[1]).read_text(encoding="utf-8")
    assert "hunter2" not in text and "reste" in text and '"deleted"' in text
    assert text.startswith('{"erased":{"id":1,"ticket_id":3},"digest":"')  # its digest stays: the chain goes on
    assert history_agrees(tickets_file) == (3, 1)


def test_history_write_order_log_then_file(
    json_client: TestClient, tickets_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from tickets.stores.json_file import store as json_store

    json_client.post("/tickets", json={"title": "crée le journal"})
    calls: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        name = os.readlink(f"/proc/self/fd/{fd}")
        calls.append("fsync log" if name.endswith(".jsonl") else "fsync other")
        real_fsync(fd)

    def replace(src: str, dst: str) -> None:
        calls.append("rename")
        real_replace(src, dst)

    monkeypatch.setattr(json_store.os, "fsync", fsync)
    monkeypatch.setattr(json_store.os, "replace", replace)
    for method, url, body in (
        ("POST", "/tickets/3/comments", {"body": "x", "author": "a"}),
        ("PATCH", "/tickets/3", {"title": "y"}),
        ("POST", "/tickets", {"title": "z"}),
    ):
        calls.clear()
        assert json_client.request(method, url, json=body).status_code < 300
        assert calls[:2] == ["fsync log", "fsync other"] and calls[2] == "rename", calls


def test_the_json_store_keeps_its_history_across_reloads(tickets_file: Path) -> None:
    """Each process reads only what the others added to the log (incrementally), and agrees with a fresh reader."""
    one, two = JsonStore(tickets_file), JsonStore(tickets_file)  # two processes' stores, as it were
    for i in range(5):
        store = (one, two)[i % 2]
        ticket = sync(store.add(TicketCreate(title=f"t{i}"), actor="a"))
        sync(store.add_comment(ticket["id"], NewComment("a", f"c{i}")))
    assert sync(one.feed(0, 100)) == sync(two.feed(0, 100)) == sync(JsonStore(tickets_file).feed(0, 100))
    assert contents(tickets_file)[0] == 22 and history_agrees(tickets_file) == (10, 5)


def stands_alone(log: json_history.Log) -> bool:
    """A version of the history that needs none before it: parsed, or read from its own file when asked."""
    return log.parsed or (log.path is not None and not any(isinstance(v, json_history.Log) for v in vars(log).values()))


def test_a_store_that_never_reads_its_history_does_not_chain_without_end(store: JsonStore, tickets_file: Path) -> None:
    """Writes on a history never parsed: each version is read from the log file when asked, never from the
    version before it, so nothing grows with the number of writes (a chain once reached a RecursionError)."""
    sync(store.add(TicketCreate(title="avant")))  # a log exists: a new store finds it, and does not parse it
    later = JsonStore(tickets_file)
    for i in range(250):
        sync(later.add(TicketCreate(title=f"t{i}")))
        log = later.snapshot().log
        assert not log.parsed and stands_alone(log), i  # a command that only adds never parses the history
    assert len(sync(later.feed(0, 1000))) == 251
    assert history_agrees(tickets_file) == (251, 0)


def test_a_store_that_rereads_another_writers_file_does_not_chain_without_end(tickets_file: Path) -> None:
    """A process that never reads the history while another one writes: every version it reads stands alone."""
    writer = JsonStore(tickets_file)
    sync(writer.add(TicketCreate(title="avant")))
    reader = JsonStore(tickets_file)
    reader.snapshot()
    for i in range(250):
        sync(writer.add(TicketCreate(title=f"t{i}")))
        if i % 2:
            sync(reader.update(17, TicketUpdate(title=f"lu {i}")))  # its own writes, between the other's
        assert stands_alone(reader.snapshot().log), i
    assert len(sync(reader.feed(0, 1000))) == len(sync(JsonStore(tickets_file).feed(0, 1000)))
    history_agrees(tickets_file)


def test_a_reader_whose_log_was_written_again_reads_the_new_one(tickets_file: Path) -> None:
    """A process holds a version whose history it has not parsed; another process deletes a ticket with
    comments, which writes the log again under its next name and removes the old one: the reader's next
    history read gives the new history, not an error."""
    writer = JsonStore(tickets_file)
    sync(writer.add_comment(3, NewComment("ana", "un commentaire")))
    reader = JsonStore(tickets_file)
    held = reader.snapshot()
    assert not held.log.parsed
    sync(writer.delete(3))  # its comment leaves the disk: the log is written again, the old one removed
    assert not (tickets_file.parent / json_history.history_name(tickets_file, held.log.generation or 0)).exists()
    with pytest.raises(json_history.LogMoved):
        held.log.content()  # the version it held is outdated
    assert [e["type"] for e in sync(reader.events(3, Page()))[0]] == ["commented", "deleted"]
    history_agrees(tickets_file)
