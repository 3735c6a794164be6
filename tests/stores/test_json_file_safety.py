"""The JSON store against hostile files, paths and lock games: nothing lost, nothing misreported."""

from __future__ import annotations

import errno
import json
import multiprocessing
import os
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from random import Random

import pytest

from conftest import TEST_DATA, _serving, eventually, lock_held_by_another_process, report, sync
from tickets.engine.errors import StoreBusy, StoreUnreadable, StoreWriteFailed
from tickets.engine.models import TicketCreate
from tickets.stores.json_file import JsonStore
from tickets.stores.json_file import history_log as json_history
from tickets.stores.json_file import store as json_store

# --------------------------------------------------------------------------- lock games


def _add_many(path: str, count: int, out: multiprocessing.Queue) -> None:
    store = JsonStore(path)
    for i in range(count):
        out.put(sync(store.add(TicketCreate(title=f"process {os.getpid()} ticket {i}")))["id"])


@pytest.mark.slow  # real processes
def test_deleting_and_replacing_lock_files_never_breaks_mutual_exclusion(tickets_file: Path, rng: Random) -> None:
    """`rm *.lock` or `git clean -X` while three processes write: every acknowledged create is kept, ids unique.

    The lock is an flock on the folder, which no command deletes: the store makes no lock file at all, so the
    vandal below never finds one it did not make itself, while it deletes and replaces such names all along."""
    ctx = multiprocessing.get_context("spawn")
    out: multiprocessing.Queue = ctx.Queue()
    writers = [ctx.Process(target=_add_many, args=(str(tickets_file), 40, out)) for _ in range(3)]
    stop = threading.Event()
    names = (tickets_file.name + ".lock", ".lock", "tickets.lock")
    made: set[str] = set()  # the lock files the vandal made itself
    found: list[str] = []  # lock files somebody else made: the store, if it used one
    rounds = [0]

    def vandal() -> None:  # deletes, recreates and replaces anything that looks like a lock file
        while not stop.is_set():
            for path in tickets_file.parent.glob("*.lock"):
                if path.name not in made:
                    found.append(path.name)
                path.unlink(missing_ok=True)
                made.discard(path.name)
            for name in names:
                if rng.random() < 0.5:
                    made.add(name)
                    (tickets_file.parent / name).write_text("")
            rounds[0] += 1
            time.sleep(0.001)  # a pause between two rounds of vandalism, not a wait for anything

    thread = threading.Thread(target=vandal)
    thread.start()
    try:
        for w in writers:
            w.start()
        acked = [out.get(timeout=120) for _ in range(120)]
        for w in writers:
            w.join(60)
    finally:
        stop.set()
        thread.join()
    on_disk = json_store.parse_store(tickets_file.read_bytes(), tickets_file)[1]
    assert len(set(acked)) == 120, "an id was handed out twice"
    assert set(acked) <= set(on_disk), "an acknowledged create is missing"
    assert rounds[0] > 0 and found == [], f"the store made lock files: {found}"
    report(
        f"lock games: 3 processes, 120 creates while lock files were deleted and replaced ({rounds[0]} rounds); "
        "all kept, ids unique, no lock file made by the store"
    )


def test_stale_temp_cleanup_never_deletes_a_live_writers_temp_file(tickets_file: Path) -> None:
    temp = tickets_file.parent / ".tickets.json.0123456789abcdef.tmp"
    with lock_held_by_another_process(tickets_file.parent, temp_file=temp):  # a live writer and its temp file
        (tickets_file.parent / "tickets.json.lock").unlink(missing_ok=True)
        assert JsonStore(tickets_file).remove_stale_temp_files() == 0
        assert temp.exists()
    assert JsonStore(tickets_file).remove_stale_temp_files() == 1  # now the writer is gone: it is stale


# --------------------------------------------------------------------------- data outside the schema


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (lambda d: {**d, "version": 2}, "version"),
        (lambda d: {**d, "tickets": [{**d["tickets"][0], "color": "red"}, *d["tickets"][1:]]}, "color"),
    ],
)
def test_unknown_keys_are_refused_and_the_file_is_never_overwritten(tickets_file: Path, edit, named: str) -> None:
    data = json.loads(tickets_file.read_text(encoding="utf-8"))
    tickets_file.write_text(json.dumps(edit(data), ensure_ascii=False, indent=2), encoding="utf-8")
    before = tickets_file.read_bytes()
    with pytest.raises(StoreUnreadable, match=named):
        sync(JsonStore(tickets_file).add(TicketCreate(title="x")))
    assert tickets_file.read_bytes() == before


@pytest.mark.parametrize(
    ("old", "new", "named"),
    [
        (b'"title": ', b'"title": "first", "title": ', "title"),  # a key twice in one ticket
        (b'"title": ', b'"\\u0074itle": "first", "title": ', "title"),  # the same key, once escaped
        (
            b'{\n  "next_id"',
            b'{\n  "tickets": [{"id": 99, "title": "lost", "description": "", "status": "open", '
            b'"priority": "low", "assignee": null, "created_at": "2026-11-20T09:14:00Z", '
            b'"updated_at": "2026-11-20T09:14:00Z"}],\n  "next_id"',
            "tickets",
        ),  # two tickets arrays
    ],
)
def test_a_repeated_key_is_refused_and_the_file_is_never_overwritten(
    tickets_file: Path, old: bytes, new: bytes, named: str
) -> None:
    before = tickets_file.read_bytes().replace(old, new, 1)
    tickets_file.write_bytes(before)
    with pytest.raises(StoreUnreadable, match=f"the key '{named}' appears twice"):
        sync(JsonStore(tickets_file).add(TicketCreate(title="x")))
    assert tickets_file.read_bytes() == before


def test_colons_and_escapes_in_text_are_not_taken_for_repeated_keys(tmp_path: Path) -> None:
    path = tmp_path / "tickets.json"
    store = JsonStore(path)
    sync(store.add(TicketCreate(title='Erreur "title": 12:30', description='clé "a":1, \\u0041 et\ttab')))
    text = path.read_text(encoding="utf-8").replace("Erreur", "\\u00c9rreur")  # an escape in the file
    path.write_text(text, encoding="utf-8")
    assert JsonStore(path).snapshot().tickets[1]["title"] == 'Érreur "title": 12:30'


@pytest.mark.parametrize("stamp", ["2026-13-45T99:99:99Z", "2026-02-30T10:00:00Z", "2026-11-20T24:00:00Z"])
def test_impossible_dates_in_the_file_are_refused(tickets_file: Path, stamp: str) -> None:
    text = tickets_file.read_text(encoding="utf-8").replace("2026-11-16T08:12:00Z", stamp, 1)
    tickets_file.write_text(text, encoding="utf-8")
    with pytest.raises(StoreUnreadable, match="not a real date"):
        JsonStore(tickets_file).snapshot()


# --------------------------------------------------------------------------- the point of no return


def test_a_failure_after_the_rename_is_not_reported_as_a_failure(
    store: JsonStore, tickets_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def full_disk(folder: Path) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    sync(store.add(TicketCreate(title="crée le journal")))  # its history's log exists: the next write appends
    monkeypatch.setattr(json_store, "_fsync_dir", full_disk)
    ticket = sync(store.add(TicketCreate(title="Écrit malgré tout")))  # acknowledged: it is in the file
    assert ticket["id"] in json_store.parse_store(tickets_file.read_bytes(), tickets_file)[1]
    assert "fsync of the folder failed" in capsys.readouterr().err


def test_a_failure_before_the_rename_changes_nothing(
    store: JsonStore, tickets_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = tickets_file.read_bytes()

    def full_disk(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(StoreWriteFailed, match="nothing was changed"):
        sync(store.add(TicketCreate(title="x")))
    assert tickets_file.read_bytes() == before
    assert [p.name for p in tickets_file.parent.iterdir()] == ["tickets.json"]


# --------------------------------------------------------------------------- symbolic links and odd paths


def test_a_symlink_is_followed_and_stays_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "data" / "tickets.json"
    real.parent.mkdir()
    shutil.copyfile(TEST_DATA, real)
    link = tmp_path / "tickets.json"
    link.symlink_to(real)
    created = sync(JsonStore(link).add(TicketCreate(title="Par le lien")))
    assert link.is_symlink() and link.resolve() == real
    assert JsonStore(real).snapshot().tickets[created["id"]]["title"] == "Par le lien"
    again = sync(JsonStore(real).add(TicketCreate(title="Par le vrai chemin")))
    assert again["id"] in JsonStore(link).snapshot().tickets  # one file for everybody
    assert JsonStore(link).path == JsonStore(real).path == real  # one file, one folder lock, whatever the name


def _fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe.json"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (lambda tmp: tmp, "a folder"),
        (lambda tmp: Path("/dev/null"), "a device"),
        (lambda tmp: Path("/dev/zero"), "a device"),
        (_fifo, "a FIFO"),
    ],
    ids=["folder", "dev-null", "dev-zero", "fifo"],
)
def test_a_path_that_is_not_a_regular_file_is_refused_and_nothing_is_created(tmp_path: Path, make, kind: str) -> None:
    path = make(tmp_path)
    folder = path.parent
    before = sorted(os.listdir(folder))
    store = JsonStore(path)
    store.remove_stale_temp_files()
    for attempt in (store.snapshot, lambda: sync(store.add(TicketCreate(title="x")))):
        with pytest.raises(StoreUnreadable, match=f"not a regular file but {kind}"):
            attempt()
    assert sorted(os.listdir(folder)) == before


def test_a_missing_folder_is_an_error_not_an_empty_store(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "tickets.json"
    for attempt in (JsonStore(path).snapshot, lambda: sync(JsonStore(path).add(TicketCreate(title="x")))):
        with pytest.raises(StoreUnreadable, match="the folder .*nowhere does not exist"):
            attempt()
    assert not path.parent.exists()


@pytest.mark.parametrize("name", ["tickets[1].json", "t**.json", "t?.json"])
def test_a_file_name_with_glob_characters_works_and_its_stale_temps_are_cleaned(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    store = JsonStore(path)
    sync(store.add(TicketCreate(title="Nom étrange")))
    (tmp_path / f".{name}.0123456789abcdef.tmp").write_text("{")
    (tmp_path / ".other.json.0123456789abcdef.tmp").write_text("{")  # another file's: left alone
    assert store.remove_stale_temp_files() == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [name, ".other.json.0123456789abcdef.tmp", json_history.history_name(path, 1)]
    )
    assert JsonStore(path).snapshot().tickets[1]["title"] == "Nom étrange"


def test_a_new_file_gets_the_mode_the_umask_gives(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        sync(JsonStore(tmp_path / "new.json").add(TicketCreate(title="x")))
    finally:
        os.umask(old)
    assert (tmp_path / "new.json").stat().st_mode & 0o777 == 0o644


def test_a_non_utf8_path_gets_a_json_503(tmp_path: Path) -> None:
    path = Path(os.fsdecode(bytes(tmp_path) + b"/missing-\xff/tickets.json"))
    with _serving(JsonStore(path)) as client:
        for response in (client.get("/health"), client.post("/tickets", json={"title": "x"})):
            assert response.status_code == 503
            assert "missing-\\udcff" in response.json()["detail"]


# --------------------------------------------------------------------------- bounded waits


@pytest.fixture
def lock_held_elsewhere(tickets_file: Path):
    with lock_held_by_another_process(tickets_file.parent):
        yield


class ManualClock:
    """The clock of a store and its lock, moved only by the test: monotonic() is its reading, and sleep(s) waits
    (really, but bounded) until the test has moved it s further. `sleeping` counts who waits on it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeping = 0
        self._moved = threading.Condition()

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._moved:
            target, self.sleeping = self.now + seconds, self.sleeping + 1
            try:
                assert self._moved.wait_for(lambda: self.now >= target, timeout=120), "the test never moved the clock"
            finally:
                self.sleeping -= 1

    def move_to(self, when: float) -> None:
        with self._moved:
            self.now = when
            self._moved.notify_all()


def test_a_write_queued_behind_a_waiting_batch_gives_up_at_its_own_deadline(
    tickets_file: Path, lock_held_elsewhere: None
) -> None:
    """Writes that queue behind a batch already waiting get the deadline TICKETS_LOCK_TIMEOUT from their own
    arrival (not twice that): told on a clock the test moves, so a busy machine cannot change the answer."""
    clock = ManualClock()
    store = JsonStore(tickets_file, lock_timeout=1, clock=clock)
    gave_up: dict[str, float] = {}

    def add(name: str) -> None:
        with pytest.raises(StoreBusy):
            sync(store.add(TicketCreate(title=f"bloqué {name}")))
        gave_up[name] = clock.now

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(add, "first")  # arrives at 0: its batch waits for the lock until 1
        eventually(lambda: clock.sleeping == 1, "the first batch to wait for the lock")
        clock.move_to(0.5)
        second = pool.submit(add, "second")  # arrives at 0.5, queued behind the waiting batch
        eventually(lambda: store._writes.qsize() == 1, "the second write to queue")
        clock.move_to(1.0)
        first.result(timeout=60)
        assert not second.done()  # its own deadline is 1.5: it is now waiting for the lock
        clock.move_to(1.5)
        second.result(timeout=60)
    assert gave_up == {"first": 1.0, "second": 1.5}
