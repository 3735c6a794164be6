"""The production recipe (deploy/): nginx in front of several uvicorn backends, started by deploy/start.sh on
PostgreSQL and on the JSON file. Clients that never finish their headers do not stop the service, a backend killed
mid-storm costs no acknowledged write and no duplicate, and the limits the recipe promises are really set.

Needs nginx (Debian: apt-get install nginx); .ci/run installs it.
"""

from __future__ import annotations

import os
import re
import resource
import selectors
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from random import Random

import httpx
import pytest

from conftest import (
    ROOT,
    TEST_DATA,
    contents,
    eventually,
    free_port,
    history_agrees,
    report,
    required_or_skip,
    store_environment,
)
from tickets.api.responses import MAX_BODY_BYTES, TOO_LARGE_DETAIL

pytestmark = pytest.mark.slow

DEPLOY = ROOT / "deploy"
NGINX = shutil.which("nginx") or next((p for p in ["/usr/sbin/nginx"] if Path(p).exists()), None)
if NGINX is None:
    required_or_skip("nginx is not installed (sudo apt-get install nginx): the production recipe's tests are skipped")

BACKENDS = 3
SLOW_HEADERS = 1_500  # connections that send part of their headers and then nothing
SLOW_BODIES = 100  # connections that send their headers and part of their body, then nothing
NORMAL_GETS = 150


# --------------------------------------------------------------------------- the recipe, as deploy/start.sh runs it


@dataclass
class Recipe:
    """deploy/start.sh running in its own session: nginx on `base`, the backends on `ports`."""

    store: Path | str
    run_dir: Path
    ports: list[int]
    base: str
    process: subprocess.Popen[bytes]
    output: Path
    seen: set[int] = field(default_factory=set)  # every pid the recipe has had: none may outlive it

    def output_text(self) -> str:
        return self.output.read_text(errors="replace")

    def backend_pid(self, port: int) -> int:
        pid = int((self.run_dir / f"backend-{port}.pid").read_text())
        self.seen.add(pid)
        return pid

    def nginx_pids(self) -> list[int]:
        """nginx's master and its workers."""
        master = int((self.run_dir / "nginx.pid").read_text())
        workers = [int(p) for p in Path(f"/proc/{master}/task/{master}/children").read_text().split()]
        self.seen.update([master, *workers])
        return [master, *workers]

    def processes(self) -> list[int]:
        """nginx's processes and the backends, as they are now."""
        return [*self.nginx_pids(), *(self.backend_pid(port) for port in self.ports)]

    def config(self) -> str:
        return (self.run_dir / "nginx.conf").read_text()

    def stop(self) -> int:
        """SIGTERM to start.sh, as systemd would (Ctrl-C does the same); its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(60)

    def kill(self) -> None:
        """The safety net: start.sh and every process it was seen to start (each in a session of its own), killed."""
        for pid in [self.process.pid, *self.seen]:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(30)


def alive(pid: int) -> bool:
    """Is this process still there (a zombie is not)?"""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def start_recipe(store: Path | str, folder: Path) -> Recipe:
    """deploy/start.sh on free loopback ports, until it prints that it is ready. A port found free may be taken
    before the backend or nginx binds it: then start.sh stops, and it is started again on other ports."""
    for attempt in range(3):
        run_dir, output = folder / f"run-{attempt}", folder / f"start-{attempt}.log"
        ports = [free_port() for _ in range(BACKENDS)]
        listen = free_port()
        command = [
            str(DEPLOY / "start.sh"),
            "--listen",
            f"127.0.0.1:{listen}",
            "--backend-ports",
            ",".join(map(str, ports)),
            "--run-dir",
            str(run_dir),
        ]
        env = {**store_environment(store), "TICKETS_PYTHON": sys.executable, "TICKETS_NGINX": str(NGINX)}
        with output.open("wb") as out:
            process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        recipe = Recipe(store, run_dir, ports, f"http://127.0.0.1:{listen}", process, output)
        eventually(
            lambda: "ready: " in recipe.output_text() or process.poll() is not None,  # noqa: B023
            "deploy/start.sh to say it is ready",
        )
        if process.poll() is None:
            recipe.processes()  # noted in recipe.seen: all must end with start.sh
            return recipe
        recipe.kill()
    raise AssertionError(f"deploy/start.sh did not start:\n{recipe.output_text()}")


@pytest.fixture(scope="module", params=["json", "postgres"])
def recipe(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recipe]:
    """The recipe on each store in turn: a copy of the test data in a JSON file, then in a new database."""
    folder = tmp_path_factory.mktemp(f"recipe-{request.param}")
    if request.param == "json":
        store: Path | str = folder / "tickets.json"
        shutil.copyfile(TEST_DATA, store)
        drop = None
    else:
        cluster = request.getfixturevalue("postgres")
        name = cluster.new_database(cluster.template)
        store, drop = cluster.url(name), lambda: cluster.drop(name)
    running = start_recipe(store, folder)
    try:
        yield running
    finally:
        running.kill()
        if drop:
            drop()


# --------------------------------------------------------------------------- what the recipe says


def directives(config: str) -> dict[str, list[str]]:
    """The simple directives of an nginx configuration (one per line), by name: their values, in order."""
    found: dict[str, list[str]] = {}
    for line in config.splitlines():
        code = line.split("#", 1)[0].strip()
        if code.endswith(";") and not code.startswith("'"):
            name, _, value = code[:-1].partition(" ")
            found.setdefault(name, []).append(" ".join(value.split()))
    return found


def split_upstream(config: str) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(the directives of the upstream block, those of the rest)."""
    block = re.search(r"\n( *)upstream \w+ \{\n(.*?)\n\1\}", config, re.S)
    assert block, "no upstream block in the configuration"
    return directives(block[2]), directives(config.replace(block[0], ""))


def option(command: list[str], name: str) -> str | None:
    """The value given to an option in a command line (`--name value`), or None."""
    return command[command.index(name) + 1] if name in command else None


def number(command: list[str], name: str) -> int:
    """The number given to an option that must be there."""
    value = option(command, name)
    assert value is not None, f"{name} missing from {shlex.join(command)}"
    return int(value)


def unit_command(unit: Path) -> list[str]:
    """ExecStart of a systemd unit file, as a command line."""
    text = unit.read_text().replace("\\\n", " ")
    line = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    return shlex.split(line.removeprefix("ExecStart="))


def test_the_recipe_sets_its_limits(recipe: Recipe) -> None:
    upstream, server = split_upstream(recipe.config())
    assert server["client_header_timeout"] == ["10s"]
    assert server["client_body_timeout"] == ["10s"]
    assert server["send_timeout"] == ["10s"]
    assert server["keepalive_timeout"] == ["15s"]
    assert server["client_max_body_size"] == ["1m"] and MAX_BODY_BYTES == 1024 * 1024
    assert server["proxy_http_version"] == ["1.1"]
    assert {'Connection ""', "X-Forwarded-For $remote_addr", "X-Real-IP $remote_addr"} <= set(
        server["proxy_set_header"]
    )
    assert server["proxy_next_upstream"] == ["error timeout"], "never non_idempotent: a POST is not sent twice"
    assert [s.split()[0] for s in upstream["server"]] == [f"127.0.0.1:{port}" for port in recipe.ports]
    assert upstream["keepalive"] == ["16"]
    nginx_keep_alive = int(upstream["keepalive_timeout"][0].removesuffix("s"))
    workers = int(server["worker_processes"][0])
    assert int(server["worker_connections"][0]) >= SLOW_HEADERS + SLOW_BODIES + 2 * NORMAL_GETS

    # nginx's workers really have the descriptors (not the common 1,024).
    for pid in recipe.nginx_pids()[1:]:
        limits = Path(f"/proc/{pid}/limits").read_text()
        soft = re.search(r"Max open files\s+(\d+)", limits)
        assert soft and int(soft[1]) >= 2 * (SLOW_HEADERS + SLOW_BODIES), limits

    # Each backend: loopback only, trusting the forwarded headers of nginx alone, with its limits; and the systemd
    # unit starts backends exactly so.
    unit = unit_command(DEPLOY / "systemd" / "tickets@.service")
    for port in recipe.ports:
        command = Path(f"/proc/{recipe.backend_pid(port)}/cmdline").read_text().split("\0")
        assert option(command, "--host") == "127.0.0.1"
        assert "--proxy-headers" in command and "--proxy-headers" in unit
        assert option(command, "--forwarded-allow-ips") == option(unit, "--forwarded-allow-ips") == "127.0.0.1"
        for name in ("--limit-concurrency", "--timeout-keep-alive", "--timeout-graceful-shutdown"):
            assert number(command, name) == number(unit, name), name
    limit = number(unit, "--limit-concurrency")
    # nginx closes an idle connection first; its idle connections (per worker) take at most a quarter of the limit.
    assert number(unit, "--timeout-keep-alive") > nginx_keep_alive
    assert limit >= 4 * workers * int(upstream["keepalive"][0])

    # --limit-concurrency, seen: a backend holding that many connections answers 503 at once, then 200 again.
    port = recipe.ports[0]
    crowd = [socket.create_connection(("127.0.0.1", port)) for _ in range(limit)]
    try:
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=30).status_code == 503
    finally:
        for connection in crowd:
            connection.close()
    eventually(lambda: httpx.get(f"http://127.0.0.1:{port}/health", timeout=30).status_code == 200, "the 200 back")

    # 1 MiB passes nginx (the service answers, here 400 for a description too long); one byte more is the same 413
    # as the service's own, announced or chunked.
    padding = MAX_BODY_BYTES - len('{"title": "x", "description": ""}')
    body = ('{"title": "x", "description": "' + "a" * padding + '"}').encode()
    assert len(body) == MAX_BODY_BYTES
    headers = {"Content-Type": "application/json"}
    assert httpx.post(f"{recipe.base}/tickets", content=body, headers=headers).status_code == 400
    for too_large in (body + b" ", iter([body[:500_000], body[500_000:], b" "])):
        answer = httpx.post(f"{recipe.base}/tickets", content=too_large, headers=headers)
        assert (answer.status_code, answer.json()) == (413, {"detail": str(TOO_LARGE_DETAIL)})
        assert answer.headers["Content-Type"] == "application/json"


# --------------------------------------------------------------------------- slow clients


def enough_descriptors(needed: int) -> None:
    """This process may open `needed` sockets: its soft limit raised up to the hard one if need be."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return
    if hard != resource.RLIM_INFINITY and hard < needed:
        required_or_skip(f"this test opens {needed} connections, the hard descriptor limit is {hard} (ulimit -Hn)")
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def open_slow(port: int, count: int, data: bytes) -> list[tuple[socket.socket, float]]:
    """count connections to nginx that send data and then nothing; each with the time it was opened."""
    opened = []
    for _ in range(count):
        connection = socket.create_connection(("127.0.0.1", port), timeout=30)
        connection.sendall(data)
        connection.setblocking(False)
        opened.append((connection, time.monotonic()))
    return opened


def closed_by_server(connections: list[tuple[socket.socket, float]], seconds: float) -> list[float]:
    """Wait until the server has closed every connection (end of stream or reset); how long each lived."""
    selector = selectors.DefaultSelector()
    for connection, opened in connections:
        selector.register(connection, selectors.EVENT_READ, opened)
    lived: list[float] = []
    deadline = time.monotonic() + seconds
    while len(lived) < len(connections):
        assert time.monotonic() < deadline, f"{len(connections) - len(lived)} slow connections still open"
        for key, _ in selector.select(timeout=1):
            connection = key.fileobj
            assert isinstance(connection, socket.socket)
            try:
                if connection.recv(65536):
                    continue  # an answer (408) before the end: read on
            except ConnectionResetError:
                pass
            lived.append(time.monotonic() - key.data)
            selector.unregister(connection)
            connection.close()
    return lived


def still_open(connections: list[tuple[socket.socket, float]]) -> int:
    """How many of the connections the server has not closed yet (nothing to read on them)."""
    with selectors.DefaultSelector() as selector:
        for connection, _ in connections:
            selector.register(connection, selectors.EVENT_READ)
        return len(connections) - len(selector.select(timeout=0))


# nginx holds the slow clients, whatever the store behind it: one store is enough for the 10 s they take to be cut.
@pytest.mark.parametrize("recipe", ["json"], indirect=True)
def test_slow_clients_do_not_stop_normal_gets(recipe: Recipe) -> None:
    enough_descriptors(SLOW_HEADERS + SLOW_BODIES + 500)
    port = int(recipe.base.rsplit(":", 1)[1])
    slow = open_slow(port, SLOW_HEADERS, b"GET /tickets HTTP/1.1\r\nHost: tickets\r\nX-Never-Ends: ")
    slow += open_slow(
        port,
        SLOW_BODIES,
        b"POST /tickets HTTP/1.1\r\nHost: tickets\r\nContent-Type: application/json\r\n"
        b'Content-Length: 100\r\n\r\n{"title": ',
    )
    try:
        timings = []
        # Each GET on a new connection, as a new client comes: the failure was that none could be accepted.
        with httpx.Client(base_url=recipe.base, timeout=30, limits=httpx.Limits(max_keepalive_connections=0)) as http:
            for n in range(NORMAL_GETS):
                started = time.perf_counter()
                answer = http.get("/tickets/1" if n % 2 else "/tickets?limit=20")
                timings.append(time.perf_counter() - started)
                assert answer.status_code == 200, answer.text
        assert still_open(slow) == len(slow), "the slow clients were cut off before the GETs were measured"
        timings.sort()
        p99 = timings[int(0.99 * len(timings)) - 1]
        assert p99 < 1, f"p99 {p99:.3f} s with {len(slow)} slow connections open"
        # nginx cuts them off after client_header_timeout / client_body_timeout (10 s), not before.
        lived = closed_by_server(slow, seconds=60)
        assert min(lived) >= 9.5, f"a slow connection was closed after {min(lived):.1f} s"
    finally:
        for connection, _ in slow:
            connection.close()
    report(
        f"production recipe ({recipe_kind(recipe)}): {SLOW_HEADERS} connections with unfinished headers and "
        f"{SLOW_BODIES} with unfinished bodies open; {NORMAL_GETS} GETs on new connections, p50 "
        f"{timings[len(timings) // 2] * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms; nginx cut them off after "
        f"{min(lived):.1f}-{max(lived):.1f} s"
    )


def recipe_kind(recipe: Recipe) -> str:
    return "PostgreSQL" if str(recipe.store).startswith("postgresql://") else "JSON file"


# --------------------------------------------------------------------------- a backend killed mid-storm


class Storm:
    """Writers that create tickets through nginx, each ticket with a title of its own, and a reader of one ticket;
    what they were told."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.acknowledged: set[str] = set()  # titles answered 201
        self.failed: dict[str, str] = {}  # title -> the answer (a status or an error) of a create not acknowledged
        self.reads: Counter[int | str] = Counter()  # the answer (a status or an error) of every GET
        # Eight writers over three backends: at most moments each backend has writes in flight.
        self.threads = [threading.Thread(target=self._write, args=(f"w{n}",)) for n in range(8)]
        self.threads.append(threading.Thread(target=self._read))

    def __enter__(self) -> Storm:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(120)

    def acknowledged_more(self, count: int) -> Callable[[], bool]:
        """A condition for eventually(): count more writes acknowledged from now on."""
        goal = len(self.acknowledged) + count
        return lambda: len(self.acknowledged) >= goal

    def _write(self, name: str) -> None:
        with httpx.Client(base_url=self.base, timeout=60) as http:
            for n in range(1, 10**9):
                if self.stop.is_set():
                    return
                title = f"tempête {name} {n}"
                try:
                    answer: int | str = http.post("/tickets", json={"title": title}).status_code
                except httpx.TransportError as error:
                    answer = type(error).__name__
                with self.lock:
                    if answer == 201:
                        self.acknowledged.add(title)
                    else:
                        self.failed[title] = str(answer)

    def _read(self) -> None:
        with httpx.Client(base_url=self.base, timeout=60) as http:
            while not self.stop.is_set():
                try:
                    self.reads[http.get("/tickets/1").status_code] += 1
                except httpx.TransportError as error:
                    self.reads[type(error).__name__] += 1


def test_killing_a_backend_loses_no_acknowledged_write_and_duplicates_none(recipe: Recipe, rng: Random) -> None:
    """kill -9 of a backend chosen at random, mid-storm, and again once start.sh has started it again, until a kill
    has met a write in flight (a create left unanswered; at most 5 kills). nginx must not pass such a POST to another
    backend. A GET that meets the dead backend is passed to another, and served; only one whose answer had begun
    when its backend died can be cut off (nginx cannot start it again), at most one per kill."""
    before = len(contents(recipe.store)[1])
    victim, kills = rng.choice(recipe.ports), 0
    with Storm(recipe.base) as storm:
        eventually(storm.acknowledged_more(40), "the storm to be under way")
        while kills < 5 and not storm.failed:
            killed = recipe.backend_pid(victim)
            os.kill(killed, signal.SIGKILL)
            kills += 1
            eventually(storm.acknowledged_more(50), "writes acknowledged after the kill")
            # start.sh starts the dead backend again (systemd's Restart=always does the same).
            eventually(lambda: recipe.backend_pid(victim) != killed, "start.sh to start the backend again")  # noqa: B023
            eventually(lambda: healthy(f"http://127.0.0.1:{victim}"), "the backend to be back")
    _, tickets = contents(recipe.store)
    titles = Counter(t["title"] for t in tickets.values())
    twice = [title for title, count in titles.items() if count > 1 and title.startswith("tempête ")]
    assert not twice, f"written twice: {twice[:5]}"
    lost = storm.acknowledged - set(titles)
    assert not lost, f"acknowledged writes lost: {sorted(lost)[:5]}"
    unanswered_landed = {title for title in titles if title.startswith("tempête ")} - storm.acknowledged
    assert unanswered_landed <= set(storm.failed), "a ticket nobody asked for"
    assert len(tickets) == before + len(storm.acknowledged) + len(unanswered_landed)
    failures = Counter(storm.failed.values())
    cut_off = storm.reads["RemoteProtocolError"]
    assert set(storm.reads) <= {200, "RemoteProtocolError"} and cut_off <= kills, f"reads: {dict(storm.reads)}"
    # Last, as it may fail for two reasons: 5 kills that all fell between two writes, or a nginx that passed every
    # POST it had sent to the killed backend on to another one (non_idempotent) without writing any twice yet.
    assert storm.failed, f"{kills} kills, and no create was left unanswered"
    history_agrees(recipe.store)
    report(
        f"production recipe ({recipe_kind(recipe)}): kill -9 of one of {BACKENDS} backends mid-storm ({kills}x); "
        f"{len(storm.acknowledged)} acknowledged creates all found, once each; {len(storm.failed)} unanswered "
        f"({dict(failures)}), {len(unanswered_landed)} of which landed; {len(tickets) - before} new tickets in all; "
        f"{sum(storm.reads.values())} reads, all 200 but {cut_off} cut off mid-answer by the kill"
    )


def healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/health", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


# --------------------------------------------------------------------------- a clean stop


def test_sigterm_stops_nginx_and_every_backend(recipe: Recipe) -> None:
    assert all(alive(pid) for pid in recipe.processes())
    status = recipe.stop()
    assert status == 0, recipe.output_text()
    assert recipe.output_text().rstrip().endswith("stopped")
    assert not [pid for pid in recipe.seen if alive(pid)], "processes outlived deploy/start.sh"
