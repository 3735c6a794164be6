"""Fixtures: every test works on its own temporary copy of the test data set, tests/data/tickets.json.

The shipped tickets.json is the users' to edit: no test reads it or depends on what it holds.
"""

from __future__ import annotations

import asyncio
import fcntl
import multiprocessing
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from fastapi.testclient import TestClient

from tickets.api.app import create_app
from tickets.engine.settings import Settings
from tickets.stores import TicketStore
from tickets.stores.json_file import JsonStore

try:  # psycopg is installed by requirements-dev.txt (through requirements-postgres.txt)
    from postgres_cluster import Cluster, binaries
    from tickets.stores.postgres import PostgresStore
except ImportError:
    Cluster = binaries = PostgresStore = None  # type: ignore[assignment,misc]

ROOT = Path(__file__).resolve().parent.parent

# The suite reads the service's messages in English, whatever the language of the machine that runs it (a French
# LANG would make the command line answer in French): a test that wants French asks for it.
os.environ["LC_ALL"] = "C.UTF-8"
SHIPPED = ROOT / "tickets.json"
T = TypeVar("T")
TEST_DATA = Path(__file__).resolve().parent / "data" / "tickets.json"  # fixed: 14 tickets, ids 1-15 without 12


def required_or_skip(reason: str) -> None:
    """Skip a module whose tool (a browser, a database server) is missing on this machine, saying how to install
    it; but fail when TICKETS_TESTS_REQUIRE_ALL=1, as .ci/run sets it: there, a skipped test is a failure."""
    if os.environ.get("TICKETS_TESTS_REQUIRE_ALL") == "1":
        pytest.fail(f"{reason} (TICKETS_TESTS_REQUIRE_ALL=1: this test may not be skipped)", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


# What would change a file: opened to write (open() or os.open()), replaced, renamed, removed or truncated.
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
# Each event's paths, by position, with the position of the folder descriptor a relative path is in (or None):
# shutil.rmtree, for one, removes the files of a temporary folder by name within the folder's descriptor.
_CHANGING_EVENTS = {"os.rename": ((0, 2), (1, 3)), "os.remove": ((0, 1),), "os.truncate": ((0, None),)}
SHIPPED_WRITES: list[str] = []  # what the tests of this run did to the shipped tickets.json (none, we check)


def _is_shipped(path: object, dir_fd: object = None) -> bool:
    if isinstance(path, int) or path is None:  # a file descriptor: opened before, by path
        return False
    try:
        name = os.fsdecode(path)  # type: ignore[arg-type]
        if isinstance(dir_fd, int) and not os.path.isabs(name):
            name = os.path.join(os.readlink(f"/proc/self/fd/{dir_fd}"), name)
        return os.path.abspath(name) == str(SHIPPED)
    except (TypeError, ValueError, OSError):
        return False


def _guard_shipped_file(event: str, args: tuple[Any, ...]) -> None:
    """An audit hook (sys.addaudithook): a test of this process that opens the shipped tickets.json to write it,
    or replaces, renames, removes or truncates it, is refused on the spot (the write does not happen) and
    recorded, naming the test, for the end of the run. Reading it is allowed, and so is anyone else writing it:
    the user editing it in their editor, or a server the README started on it (its SLA sweep writes)."""
    if event == "open":
        path, mode, flags = args
        writes = any(c in mode for c in "wax+") if isinstance(mode, str) else bool(flags & _WRITE_FLAGS)
        targets = [(path, None)] if writes else []
    elif event in _CHANGING_EVENTS:
        targets = [(args[at], None if fd_at is None else args[fd_at]) for at, fd_at in _CHANGING_EVENTS[event]]
    else:
        return
    if any(_is_shipped(path, dir_fd) for path, dir_fd in targets):
        test = os.environ.get("PYTEST_CURRENT_TEST", "outside any test").rsplit(" (", 1)[0]
        SHIPPED_WRITES.append(f"{test}: {event} {[path for path, _ in targets]!r}")
        raise PermissionError(f"tests may not write the shipped {SHIPPED} ({test})")


sys.addaudithook(_guard_shipped_file)


@pytest.fixture(autouse=True, scope="session")
def shipped_file_is_never_written() -> Iterator[None]:
    """No test opens the shipped tickets.json for writing (the audit hook above watches this process; a process a
    test starts gets TICKETS_FILE set to a temporary file by no_default_file). Its bytes are not compared: the user
    may edit it, or a server run on it may write it, while the suite runs."""
    yield
    assert not SHIPPED_WRITES, "tests wrote the shipped tickets.json:\n" + "\n".join(SHIPPED_WRITES)


@pytest.fixture(autouse=True)
def no_default_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Even code that forgets the override uses a temporary file, never the shipped one."""
    monkeypatch.setenv("TICKETS_FILE", str(tmp_path / "default-tickets.json"))
    monkeypatch.setenv("TICKETS_LOCK_TIMEOUT", "10")


@pytest.fixture
def tickets_file(tmp_path: Path) -> Path:
    """A copy of the test data (14 tickets, ids 1-15 without 12, next_id 17)."""
    copy = tmp_path / "tickets.json"
    shutil.copyfile(TEST_DATA, copy)
    return copy


def ticket(id: int, **fields: object) -> dict:
    """A valid ticket with this id, and these fields in place of the defaults."""
    base = {
        "id": id,
        "title": f"Ticket {id}",
        "description": "",
        "status": "open",
        "priority": "medium",
        "assignee": None,
        "created_at": "2026-11-20T09:00:00Z",
        "updated_at": "2026-11-20T09:00:00Z",
    }
    return {**base, **fields}


def sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Call a store's method (a coroutine) from a test, as the CLI does."""
    return asyncio.run(coroutine)


@pytest.fixture
def store(tickets_file: Path) -> JsonStore:
    """The JSON store on the test data, for the tests of the file itself."""
    return JsonStore(tickets_file)


@contextmanager
def _serving(store: TicketStore, settings: Settings | None = None) -> Iterator[TestClient]:
    """The API over this store, with these settings (by default, the test's environment), in a TestClient."""
    with TestClient(create_app(settings or Settings.from_environment(), store=store)) as test_client:
        yield test_client


# --------------------------------------------------------------------------- both stores


@pytest.fixture(scope="session")
def postgres() -> Iterator[Cluster]:
    """One PostgreSQL server for the whole session, with a template database holding the test data."""
    if PostgresStore is None:
        required_or_skip(
            "psycopg is not installed (pip install -r requirements-postgres.txt): PostgreSQL tests skipped"
        )
    bin_dir = binaries()
    if bin_dir is None:
        required_or_skip("PostgreSQL is not installed (sudo apt-get install postgresql): its tests are skipped")
    cluster = Cluster(bin_dir)  # type: ignore[arg-type]
    try:
        cluster.init()
        cluster.template = cluster.new_database()
        sync(_copy(JsonStore(TEST_DATA), PostgresStore(cluster.url(cluster.template))))
        yield cluster
    finally:
        cluster.remove()


async def _copy(source: TicketStore, target: TicketStore) -> None:
    try:
        next_id, tickets = await source.export()
        await target.replace_all(next_id, tickets, replace=False)
    finally:
        await target.close()


@pytest.fixture
def database_url(postgres: Cluster) -> Iterator[str]:
    """A database of its own holding the test data (14 tickets, ids 1-15 without 12, next id 17), as new."""
    name = postgres.database(postgres.template)
    yield postgres.url(name)
    postgres.give_back(name, postgres.template)


@pytest.fixture
def empty_url(postgres: Cluster) -> Iterator[str]:
    """A database of its own with no tables at all, as new."""
    name = postgres.database()
    yield postgres.url(name)
    postgres.give_back(name)


@pytest.fixture(params=["json", "postgres"])
def ticket_store(request: pytest.FixtureRequest, tickets_file: Path) -> TicketStore:
    """The test data in each store in turn: a test that takes it runs once on each."""
    if request.param == "json":
        return JsonStore(tickets_file)
    return PostgresStore(request.getfixturevalue("database_url"))


@pytest.fixture
def client(ticket_store: TicketStore) -> Iterator[TestClient]:
    """The API on the test data, once on each store."""
    with _serving(ticket_store) as test_client:
        yield test_client


@pytest.fixture
def json_client(store: JsonStore) -> Iterator[TestClient]:
    """The API on the JSON store only, for tests about the file."""
    with _serving(store) as test_client:
        yield test_client


@pytest.fixture
def store_args(ticket_store: TicketStore) -> list[str]:
    """The CLI's option naming the test's store: --file PATH or --db URL."""
    return ["--file", str(ticket_store.path)] if isinstance(ticket_store, JsonStore) else ["--db", ticket_store.url]


def contents(place: TicketStore | Path | str) -> tuple[int, dict[int, Any]]:
    """What a store holds, read by a new store object as another process would: (next_id, tickets by id).
    place: a store (its file or database is read again), a file's path or a postgresql:// URL."""
    if isinstance(place, TicketStore):
        place = place.path if isinstance(place, JsonStore) else place.url

    async def export() -> tuple[int, list[Any]]:
        fresh = PostgresStore(place) if str(place).startswith("postgresql://") else JsonStore(place)
        try:
            return await fresh.export()
        finally:
            await fresh.close()

    next_id, tickets = sync(export())
    return next_id, {t["id"]: t for t in tickets}


def history_agrees(place: TicketStore | Path | str) -> tuple[int, int]:
    """Check what a store holds against its history, read as another process would; (events, comments).

    Replaying each ticket's events from its creation gives the ticket as it is (so no acknowledged change
    lacks its event, and no event tells of a change that is not there); each `updated` starts from what
    the previous event left; a deleted ticket is gone with its comments; every comment has its
    `commented` event and every such event of a live ticket its comment; event ids only grow. The store's
    own `verify` accepts it too.
    """
    if isinstance(place, TicketStore):
        place = place.path if isinstance(place, JsonStore) else place.url

    async def export() -> tuple[int, list[Any], Any]:
        fresh = PostgresStore(place) if str(place).startswith("postgresql://") else JsonStore(place)
        try:
            await fresh.verify()  # the chain, the ids, each comment with its event, each ticket its replay
            return await fresh.export_all()
        finally:
            await fresh.close()

    _, tickets, history = sync(export())
    now = {t["id"]: t for t in tickets}
    ids = [e["id"] for e in history.events]
    assert ids == sorted(set(ids)), "event ids must only grow"
    comments = {c["id"]: c for c in history.comments}
    commented: set[int] = set()
    replayed: dict[int, dict[str, Any] | None] = {}
    for e in history.events:
        state = replayed.get(e["ticket_id"])
        if e["type"] == "created":
            replayed[e["ticket_id"]] = {field: change["to"] for field, change in e["changes"].items()}
        elif e["ticket_id"] in replayed and state is not None:
            if e["type"] == "updated":
                assert e["changes"], f"event {e['id']} records a change of nothing"
                for field, change in e["changes"].items():
                    assert state[field] == change["from"], f"event {e['id']}: {field} was not {change['from']!r}"
                    state[field] = change["to"]
            elif e["type"] == "commented":
                commented.add(e["changes"]["comment_id"]["to"])
                for field, change in e["changes"].items():  # a first response
                    if field not in ("comment_id", "internal"):
                        state[field] = change["to"]
            elif e["type"] == "comment_deleted":
                commented.discard(e["changes"]["comment_id"]["from"])
            elif e["type"] == "deleted":
                replayed[e["ticket_id"]] = None
    for ticket_id, state in replayed.items():
        if state is None:
            assert ticket_id not in now, f"ticket {ticket_id} has a deleted event but is still there"
        else:
            assert ticket_id in now, f"ticket {ticket_id} is gone without a deleted event"
            assert {f: now[ticket_id][f] for f in state} == state, f"ticket {ticket_id} differs from its history"
    for comment in comments.values():
        assert comment["ticket_id"] in now, f"comment {comment['id']} outlived its ticket"
        assert comment["id"] in commented or comment["ticket_id"] not in replayed, (
            f"comment {comment['id']} has no event"
        )
    for comment_id in commented:
        ticket_id = next(
            e["ticket_id"]
            for e in history.events
            if e["type"] == "commented" and e["changes"]["comment_id"]["to"] == comment_id
        )
        assert comment_id in comments or replayed.get(ticket_id) is None, f"comment {comment_id} was lost"
    return len(history.events), len(comments)


@pytest.fixture
def stored(ticket_store: TicketStore) -> Callable[[], tuple[int, dict[int, Any]]]:
    """contents() of the test's store, to call before and after what the test does."""
    return lambda: contents(ticket_store)


# --------------------------------------------------------------------------- real servers and figures

FIGURES: list[tuple[str, str]] = []  # (figure, the test or module whose success it needs)
OUTCOMES: dict[str, bool] = {}  # test id -> passed (every phase)


def report(figure: str, scope: str | None = None) -> None:
    """Record a figure that the run prints at the end (kills survived, cases run, ...), but only if
    the test that measured it passed: by default the current test; a module path for a whole module."""
    current = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" (", 1)[0]
    FIGURES.append((figure, scope or current))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    """A failing browser test leaves a screenshot and the console log of each page it opened beside its temporary
    files, and its report names them: the next red run explains itself."""
    test_report = yield
    visits = getattr(item, "browser_visits", [])
    if test_report.failed and visits:
        folder = item.browser_evidence_folder  # type: ignore[attr-defined]
        saved = [str(path) for n, v in enumerate(visits) for path in v.save_evidence(folder, f"page-{n + 1}")]
        test_report.sections.append(("browser evidence", "\n".join(saved)))
        test_report.longrepr = (
            f"{test_report.longrepr}\n\nbrowser evidence (screenshot, console log): {', '.join(saved)}"
        )
    return test_report


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test on PostgreSQL (its server fixture, or the postgres half of the store fixtures) gets the postgres
    marker: `-m "not postgres"` runs the suite without a database server."""
    for item in items:
        params = getattr(item, "callspec", None)
        on_postgres = params is not None and "postgres" in params.params.values()
        if on_postgres or {"postgres", "database_url", "empty_url"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.postgres)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    OUTCOMES[report.nodeid] = OUTCOMES.get(report.nodeid, True) and not report.failed


def pytest_sessionfinish(session: pytest.Session) -> None:
    """In a worker of pytest-xdist: its figures go to the main process, which prints them (pytest_testnodedown)."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["figures"] = [list(figure) for figure in FIGURES]


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """In the main process of pytest-xdist: the figures of a worker that finished (the outcomes of its tests came
    here one by one, as pytest_runtest_logreport)."""
    FIGURES.extend((figure, scope) for figure, scope in getattr(node, "workeroutput", {}).get("figures", []))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    passed = []
    for figure, scope in FIGURES:
        tests = [ok for nodeid, ok in OUTCOMES.items() if nodeid == scope or nodeid.startswith(scope + "::")]
        if tests and all(tests):
            passed.append(figure)
    if passed:
        terminalreporter.section("reliability figures (from tests that passed)")
        for figure in passed:
            terminalreporter.write_line(figure)


def eventually(condition: Callable[[], object], what: str, seconds: float = 120) -> None:
    """Wait for real state that another thread or process is about to change: polled, bounded by a limit far
    beyond what a loaded machine needs (a hang, not a speed), never a fixed sleep."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"still waiting after {seconds:.0f} s for {what}"
        time.sleep(0.01)


@pytest.fixture
def rng() -> random.Random:
    """The random source of a storm, seeded: the seed is printed (pytest shows it with a failure), and
    TICKETS_TEST_SEED=N replays the same choices."""
    seed = int(os.environ.get("TICKETS_TEST_SEED") or random.SystemRandom().randrange(2**32))
    print(f"random seed {seed} (replay the choices with TICKETS_TEST_SEED={seed})")
    return random.Random(seed)


class PinnedClock:
    """A store's clock, pinned and moved by the test: store.now = clock; clock.time = "…Z" moves it."""

    def __init__(self, time: str) -> None:
        self.time = time

    def __call__(self) -> str:
        return self.time


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_server(store: Path | str, *, workers: int = 1, env: dict[str, str] | None = None) -> Iterator[str]:
    """`uvicorn main:app` in its own process group on a free port, as users start it, on a tickets file or a
    postgresql:// URL.

    A port found free can be taken by another program before uvicorn binds it: then uvicorn exits at
    once, and the server is started again on another port.
    """
    for _attempt in range(3):
        port = free_port()
        command = [sys.executable, "-m", "uvicorn", "main:app", "--port", str(port), "--log-level", "warning"]
        if workers > 1:
            command += ["--workers", str(workers)]
        process = subprocess.Popen(
            command, cwd=ROOT, env={**store_environment(store), **(env or {})}, start_new_session=True
        )
        base = f"http://127.0.0.1:{port}"
        if _wait_until_serving(base, process):
            break
        kill_group(process)
    else:
        raise RuntimeError("the server did not start")
    try:
        yield base
    finally:
        kill_group(process)


def store_environment(store: Path | str) -> dict[str, str]:
    """This process's environment, naming the store: TICKETS_FILE, or TICKETS_DATABASE_URL (and no TICKETS_FILE)."""
    env = dict(os.environ)
    if str(store).startswith("postgresql://"):
        env.pop("TICKETS_FILE", None)
        env["TICKETS_DATABASE_URL"] = str(store)
    else:
        env["TICKETS_FILE"] = str(store)
    return env


def _wait_until_serving(base: str, process: subprocess.Popen, seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while process.poll() is None and time.monotonic() < deadline:
        try:
            httpx.get(f"{base}/health", timeout=1)
            return True
        except httpx.TransportError:
            time.sleep(0.05)
    return False


def kill_group(process: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    """Kill the server and its workers at once, as a crash would."""
    if process.poll() is None:
        os.killpg(process.pid, sig)
    process.wait(10)


def patch_at_once(base: str, barrier: threading.Barrier, etag: str, title: str) -> int:
    """PATCH ticket 1 with If-Match as soon as the other thread of the barrier is ready too."""
    with httpx.Client(base_url=base) as http:
        barrier.wait()
        return http.patch("/tickets/1", json={"title": title}, headers={"If-Match": etag}).status_code


# --------------------------------------------------------------------------- another process holding the lock


def _hold_store_lock(folder: str, ready, release, touch: str | None, temp_file: str | None) -> None:
    """In a child process: take the store's lock (an flock on the data file's folder) as the CLI or another
    worker would, optionally change a file (touch) or leave a half-written temp file, then hold on."""
    fd = os.open(folder, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    if touch:
        os.utime(touch)  # a change: every server must read the file again
    if temp_file:
        Path(temp_file).write_text('{"half": ')
    ready.set()
    release.wait(600)  # a safety net only: the test releases it, or its exit does
    os.close(fd)


@contextmanager
def lock_held_by_another_process(
    folder: Path, *, touch: Path | None = None, temp_file: Path | None = None
) -> Iterator[Callable[[], None]]:
    """While inside, another process holds the store's lock; the value lets the block release it early."""
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(
        target=_hold_store_lock, args=(str(folder), ready, release, touch and str(touch), temp_file and str(temp_file))
    )
    holder.start()
    try:
        assert ready.wait(30), "the other process did not take the lock"
        yield release.set
    finally:
        release.set()
        holder.join(30)
