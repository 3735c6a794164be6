"""The JSON-file store: its format, its ids, its reads and atomic writes, across threads and processes."""

from __future__ import annotations

import json
import multiprocessing
import re
import threading
import time
from pathlib import Path

import pytest

from conftest import lock_held_by_another_process, sync, ticket
from tickets.engine.errors import PreconditionFailed, StoreBusy, StoreUnreadable, StoreWriteFailed, TicketNotFound
from tickets.engine.models import STORED_FIELDS, TicketCreate, TicketUpdate
from tickets.engine.rules import count
from tickets.engine.sla import NO_POLICY, Policy
from tickets.stores.json_file import JsonStore
from tickets.stores.json_file import store as json_store


def write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------- the store


def test_test_data_is_valid_and_varied(store: JsonStore) -> None:
    snap = store.snapshot()
    stats = count(snap.tickets.values())
    assert stats["total"] >= 12
    # The test data predates the waiting status: the help desk's tests (tests/api/test_help_desk.py) make their own.
    assert all(n for status, n in stats["by_status"].items() if status != "waiting")
    assert all(stats["by_priority"].values())
    assert snap.next_id > max(snap.tickets)


def test_file_format_is_readable_and_canonical(store: JsonStore, tickets_file: Path) -> None:
    sync(store.add(TicketCreate(title="Clavier qui répète les touches", priority="low")))
    text = tickets_file.read_text(encoding="utf-8")
    data = json.loads(text)
    # Indented by 2, one line per field; a requester, tags and pauses on one line each (compact).
    expected = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    for one in data["tickets"]:
        for key in ("requester", "tags", "paused"):
            if one[key]:
                spread = json.dumps(one[key], ensure_ascii=False, indent=2).replace("\n", "\n      ")
                compact = json.dumps(one[key], ensure_ascii=False, separators=(",", ":"))
                expected = expected.replace(f'"{key}": {spread}', f'"{key}": {compact}', 1)
    assert text == expected
    assert "répète" in text
    assert [t["id"] for t in data["tickets"]] == sorted(t["id"] for t in data["tickets"])
    assert list(data) == [
        "next_id",
        "next_comment_id",
        "next_event_id",
        "history_file",
        "history_length",
        "history_digest",
        "tickets",
    ]
    assert (
        data["history_file"] == "tickets.json.history.1.jsonl"
        and (tickets_file.parent / data["history_file"]).is_file()
    )


def test_missing_file_is_an_empty_store_created_at_first_write(tmp_path: Path) -> None:
    path = tmp_path / "new.json"
    store = JsonStore(path)
    assert store.snapshot().tickets == {}
    assert not path.exists()
    created = sync(store.add(TicketCreate(title="Premier")))
    assert created["id"] == 1
    assert json.loads(path.read_text())["next_id"] == 2


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "empty"),
        (b"  \n", "empty"),
        (b"{not json", "Invalid JSON"),
        (b'{"tickets": []}', "next_id"),
        (b'{"next_id": 2, "tickets": [{"id": 1}]}', "tickets[0].title"),
        (b"42", "expected a JSON object with next_id and tickets"),
        (json.dumps({"next_id": 2, "tickets": [ticket(1, status="done")]}).encode(), "tickets[0].status"),
        (json.dumps({"next_id": 3, "tickets": [ticket(1), ticket(1)]}).encode(), "same id"),
        (json.dumps([{**ticket(1), "id": "1"}]).encode(), "[0].id"),
        (b"\xff\xfe{}", "Invalid JSON"),
    ],
)
def test_unreadable_file_is_refused_and_never_overwritten(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "tickets.json"
    path.write_bytes(content)
    store = JsonStore(path)
    with pytest.raises(StoreUnreadable, match=re.escape(problem)) as error:
        store.snapshot()
    assert str(path) in str(error.value)
    with pytest.raises(StoreUnreadable):
        sync(store.add(TicketCreate(title="Ne doit pas écraser le fichier")))
    assert path.read_bytes() == content


def test_bare_array_loads_and_is_saved_as_object(tmp_path: Path) -> None:
    path = tmp_path / "tickets.json"
    write_json(path, [ticket(4), ticket(2)])
    store = JsonStore(path)
    assert list(store.snapshot().tickets) == [2, 4]
    assert store.snapshot().next_id == 5
    assert sync(store.add(TicketCreate(title="Suivant")))["id"] == 5
    data = json.loads(path.read_text())
    assert data["next_id"] == 6 and [t["id"] for t in data["tickets"]] == [2, 4, 5]


def test_next_id_below_highest_id_is_raised(tmp_path: Path) -> None:
    path = tmp_path / "tickets.json"
    write_json(path, {"next_id": 2, "tickets": [ticket(7)]})
    assert sync(JsonStore(path).add(TicketCreate(title="x")))["id"] == 8


def test_ids_are_never_reused_even_after_deleting_the_highest_across_restarts(tickets_file: Path) -> None:
    first = JsonStore(tickets_file)
    newest = sync(first.add(TicketCreate(title="Dernier")))
    sync(first.delete(newest["id"]))
    again = JsonStore(tickets_file)  # a restart: a new process has a new JsonStore
    assert sync(again.add(TicketCreate(title="Après redémarrage")))["id"] == newest["id"] + 1


def test_update_changes_updated_at_only_when_a_value_changes(store: JsonStore) -> None:
    before = store.snapshot().get(3)
    store.now = lambda: "2030-01-01T00:00:00Z"
    same = sync(store.update(3, TicketUpdate(status=before["status"], title=f"  {before['title']} ")))
    assert same == before
    changed = sync(store.update(3, TicketUpdate(status="fermé")))
    assert changed["status"] == "closed"
    assert changed["updated_at"] == "2030-01-01T00:00:00Z"
    assert changed["created_at"] == before["created_at"] and changed["id"] == 3


def test_unchanged_update_does_not_rewrite_the_file(store: JsonStore, tickets_file: Path) -> None:
    before = tickets_file.stat()
    sync(store.update(1, TicketUpdate(priority=store.snapshot().get(1)["priority"])))
    after = tickets_file.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_unknown_id_raises_not_found(store: JsonStore) -> None:
    with pytest.raises(TicketNotFound, match="ticket 99 not found"):
        sync(store.update(99, TicketUpdate(status="closed")))
    with pytest.raises(TicketNotFound):
        sync(store.delete(99))


def test_if_match_guards_update_and_delete(store: JsonStore) -> None:
    etag = sync(store.get_json(3))[1]
    sync(store.update(3, TicketUpdate(priority="urgent"), if_match=etag))
    with pytest.raises(PreconditionFailed, match="ticket 3 has changed"):
        sync(store.update(3, TicketUpdate(priority="low"), if_match=etag))
    with pytest.raises(PreconditionFailed):
        sync(store.delete(3, if_match=etag))
    assert store.snapshot().get(3)["priority"] == "urgent"
    sync(store.delete(3, if_match=sync(store.get_json(3))[1]))


def test_sees_changes_made_by_hand(store: JsonStore, tickets_file: Path) -> None:
    assert 1 in store.snapshot().tickets
    data = json.loads(tickets_file.read_text())
    data["tickets"][0]["title"] = "Modifié à la main"
    tickets_file.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    assert store.snapshot().get(1)["title"] == "Modifié à la main"


def test_sees_changes_made_by_another_store(tickets_file: Path) -> None:
    reader, writer = JsonStore(tickets_file), JsonStore(tickets_file)
    reader.snapshot()
    created = sync(writer.add(TicketCreate(title="Écrit ailleurs")))
    assert reader.snapshot().get(created["id"])["title"] == "Écrit ailleurs"


def test_failed_write_is_not_acknowledged_and_leaves_the_file(
    store: JsonStore, tickets_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = tickets_file.read_bytes()

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(json_store.os, "fsync", disk_full)
    with pytest.raises(StoreWriteFailed, match="No space left on device"):
        sync(store.add(TicketCreate(title="Perdu")))
    monkeypatch.undo()
    assert tickets_file.read_bytes() == before
    assert list(tickets_file.parent.glob(".*.tmp")) == []
    assert "Perdu" not in [t["title"] for t in store.snapshot().tickets.values()]


def test_write_keeps_the_file_mode(store: JsonStore, tickets_file: Path) -> None:
    tickets_file.chmod(0o640)
    sync(store.add(TicketCreate(title="x")))
    assert tickets_file.stat().st_mode & 0o777 == 0o640


def test_stale_temporary_files_are_removed(store: JsonStore, tickets_file: Path) -> None:
    for name in (".tickets.json.abc123.tmp", ".tickets.json.zz.tmp"):
        (tickets_file.parent / name).write_text('{"half": ')
    assert store.remove_stale_temp_files() == 2
    assert list(tickets_file.parent.glob(".*.tmp")) == []


def test_write_waits_for_another_process_then_says_busy(tickets_file: Path) -> None:
    store = JsonStore(tickets_file, lock_timeout=0.3)
    with lock_held_by_another_process(store.folder):
        before = tickets_file.read_bytes()
        with pytest.raises(StoreBusy, match="store busy"):
            sync(store.add(TicketCreate(title="Bloqué")))
        assert tickets_file.read_bytes() == before
        assert store.snapshot().tickets  # reads never wait for the lock
    assert sync(store.add(TicketCreate(title="Débloqué")))["title"] == "Débloqué"


def test_threads_writing_at_once_lose_nothing(store: JsonStore, tickets_file: Path) -> None:
    start = len(store.snapshot().tickets)
    created: list[int] = []

    def worker(n: int) -> None:
        for i in range(20):
            created.append(sync(store.add(TicketCreate(title=f"thread {n} #{i}")))["id"])

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(created)) == 200
    on_disk = json.loads(tickets_file.read_text())["tickets"]
    assert len(on_disk) == start + 200
    assert set(created) <= {t["id"] for t in on_disk}


def _add_many(path: str, prefix: str, n: int) -> None:
    store = JsonStore(path)
    for i in range(n):
        sync(store.add(TicketCreate(title=f"{prefix} {i}")))


@pytest.mark.slow  # real processes
def test_two_processes_writing_at_once_lose_nothing(tickets_file: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_add_many, args=(str(tickets_file), name, 40)) for name in ("A", "B")]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
        assert w.exitcode == 0
    tickets = JsonStore(tickets_file).snapshot().tickets.values()
    titles = {t["title"] for t in tickets}
    assert {f"{p} {i}" for p in "AB" for i in range(40)} <= titles
    assert len(titles) == 14 + 80


def test_an_unexpected_error_acknowledges_no_change_of_the_batch(
    store: JsonStore, tickets_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = tickets_file.read_bytes()

    def broken(self: json_store.Snapshot) -> list[bytes]:
        raise ValueError("serializer bug")

    monkeypatch.setattr(json_store.Snapshot, "file_chunks", broken)

    async def one_group_commit() -> list[json_store._Pending]:  # of three creations, as concurrent requests make
        batch = [
            json_store._Pending(lambda b, i=i: b.add(TicketCreate(title=f"lot {i}")), time.monotonic() + 5)
            for i in range(3)
        ]
        store._run(batch)
        return batch

    batch = sync(one_group_commit())
    assert all(p.done and isinstance(p.error, ValueError) for p in batch)
    assert tickets_file.read_bytes() == before


def test_a_file_from_before_the_help_desk_loads_and_is_written_whole(store: JsonStore, tickets_file: Path) -> None:
    """The test data predates requesters, tags and the SLA: it loads as is, every ticket shows the defaults, and
    the next write stores every field of every ticket (and no policy, since none was set)."""
    raw = tickets_file.read_text()
    assert "requester" not in raw and "sla_policy" not in raw
    body, _ = sync(store.get_json(3))
    ticket = json.loads(body)
    assert (ticket["requester"], ticket["tags"], ticket["sla_state"]) == (None, [], "none")
    assert sync(store.policy()) == NO_POLICY
    sync(store.update(3, TicketUpdate(add_tags=["imprimante"])))
    written = json.loads(tickets_file.read_text())
    assert "sla_policy" not in written
    assert all(list(t) == list(STORED_FIELDS) for t in written["tickets"])
    assert JsonStore(tickets_file).snapshot().get(3)["tags"] == ["imprimante"]


def test_the_policy_is_kept_in_the_file_head(store: JsonStore, tickets_file: Path) -> None:
    policy = Policy(timezone="Europe/Paris", targets={"urgent": {"first_response": 30}})
    sync(store.set_policy(policy))
    assert json.loads(tickets_file.read_text())["sla_policy"]["timezone"] == "Europe/Paris"
    assert sync(JsonStore(tickets_file).policy()) == policy
    text = tickets_file.read_text().replace('"Europe/Paris"', '"Europe/Nowhere"')
    tickets_file.write_text(text)
    with pytest.raises(StoreUnreadable, match="sla_policy.timezone"):
        JsonStore(tickets_file).snapshot()
