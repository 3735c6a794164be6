"""Promises about the data, tested by trying hard to break them against real processes.

Each test records its figure with conftest.report(); the run prints them at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from random import Random

import httpx
import pytest
from fastapi.testclient import TestClient

from conftest import (
    ROOT,
    eventually,
    history_agrees,
    lock_held_by_another_process,
    patch_at_once,
    report,
    running_server,
    sync,
)
from tickets.stores.json_file import JsonStore
from tickets.stores.json_file import store as json_store

pytestmark = pytest.mark.slow

CRASH_ROUNDS = 10


def generated_file(path: Path, n: int) -> Path:
    tickets = [
        {
            "id": i,
            "title": f"Ticket généré {i}",
            "description": "Poste bloqué au démarrage. " * 4,
            "status": ("open", "in_progress", "closed")[i % 3],
            "priority": ("low", "medium", "high", "urgent")[i % 4],
            "assignee": None if i % 5 else "julie.martin",
            "created_at": "2026-11-20T09:00:00Z",
            "updated_at": "2026-11-20T09:00:00Z",
        }
        for i in range(1, n + 1)
    ]
    path.write_text(json.dumps({"next_id": n + 1, "tickets": tickets}, ensure_ascii=False, indent=2) + "\n")
    return path


def tickets_on_disk(path: Path) -> dict[int, dict]:
    """Parses with the engine's own strict rules: a truncated or invalid file fails here."""
    return json_store.parse_store(path.read_bytes(), path)[1]


# --------------------------------------------------------------------------- 1. crash


def _client_loop(
    base: str,
    stop: threading.Event,
    acked_creates: set,
    acked_deletes: set,
    attempted: set,
    acked_comments: dict,
    seed: int,
) -> None:
    random = Random(seed)
    with httpx.Client(base_url=base, timeout=5) as http:
        while not stop.is_set():
            try:
                roll = random.random()
                if acked_creates - attempted and roll < 0.25:
                    target = random.choice(sorted(acked_creates - attempted))
                    response = http.post(f"/tickets/{target}/comments", json={"body": "avant le crash", "author": "a"})
                    if response.status_code == 201:
                        acked_comments[response.json()["id"]] = target
                elif acked_creates and roll < 0.4:
                    victim = random.choice(sorted(acked_creates - attempted))
                    attempted.add(victim)
                    if http.delete(f"/tickets/{victim}").status_code == 204:
                        acked_deletes.add(victim)
                else:
                    response = http.post("/tickets", json={"title": "créé avant le crash"})
                    if response.status_code == 201:
                        acked_creates.add(response.json()["id"])
            except (httpx.TransportError, IndexError):
                if stop.is_set():
                    return
                time.sleep(0.01)  # the server is down: no busy loop on a refused connection


def test_sigkill_at_random_moments_loses_no_acknowledged_write(tmp_path: Path, rng: Random) -> None:
    path = generated_file(tmp_path / "tickets.json", 3000)
    acked_creates: set[int] = set()
    acked_deletes: set[int] = set()
    attempted: set[int] = set()
    acked_comments: dict[int, int] = {}
    kills = 0
    for round_ in range(CRASH_ROUNDS):
        with running_server(path) as base:
            stop = threading.Event()
            clients = [
                threading.Thread(
                    target=_client_loop,
                    args=(base, stop, acked_creates, acked_deletes, attempted, acked_comments, rng.randrange(2**32)),
                )
                for _ in range(4)
            ]
            for c in clients:
                c.start()
            # The CLI writes at the same time and is killed mid-write too.
            cli = subprocess.Popen(
                [sys.executable, str(ROOT / "script.py"), "add", f"CLI round {round_}", "--file", str(path)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            # The kill comes after a random number of acknowledged writes of this round: a random moment of the
            # storm wherever a loaded machine has got to, never before it has begun.
            goal = len(acked_creates) + len(acked_deletes) + len(acked_comments) + rng.randint(5, 40)
            eventually(
                lambda goal=goal: len(acked_creates) + len(acked_deletes) + len(acked_comments) >= goal,
                "the storm to be under way",
            )
            cli.send_signal(signal.SIGKILL)
            cli.wait()
            # running_server's exit SIGKILLs the server's whole process group while clients are writing.
        kills += 1
        stop.set()
        for c in clients:
            c.join()
        tickets = tickets_on_disk(path)  # always a complete, valid file
        assert acked_creates - attempted <= set(tickets), "an acknowledged create was lost"
        assert not (acked_deletes & set(tickets)), "an acknowledged delete came back"
        events, _ = history_agrees(path)  # each event with its change: none without the other
        kept = {c["id"] for c in sync(JsonStore(path).export_all())[2].comments}
        assert not [c for c, t in acked_comments.items() if t in tickets and c not in kept], "a comment was lost"
    with running_server(path) as base:  # the next start removes what the crashes left
        assert httpx.get(f"{base}/health").status_code == 200
        assert list(tmp_path.glob(".*.tmp")) == []
    report(
        f"crash: {kills} SIGKILLs of server and CLI survived; {len(acked_creates)} acknowledged creates, "
        f"{len(acked_deletes)} deletes and {len(acked_comments)} comments all found as acknowledged, with their "
        f"{events} events and nothing more; file of {len(tickets_on_disk(path))} tickets always complete"
    )


# --------------------------------------------------------------------------- 2. write ordering


def test_fsync_then_rename_then_folder_fsync_then_answer(
    json_client: TestClient, tickets_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = json_client
    calls: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        calls.append("fsync folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync file")
        real_fsync(fd)

    def replace(src: str, dst: str) -> None:
        calls.append("rename")
        real_replace(src, dst)

    client.post("/tickets", json={"title": "crée le journal de l'historique"})  # then every write appends to it
    monkeypatch.setattr(json_store.os, "fsync", fsync)
    monkeypatch.setattr(json_store.os, "replace", replace)
    checked = 0
    writes = [
        [
            ("POST", "/tickets", {"title": f"ordre {i}"}),
            ("PATCH", "/tickets/8", {"title": f"titre {i}"}),
            ("DELETE", f"/tickets/{i + 1}", None),
        ]
        for i in range(1, 6)
    ]
    for method, url, body in sum(writes, []):
        calls.clear()
        response = client.request(method, url, json=body)
        calls.append("answer")
        assert response.status_code < 300
        # The history's lines first (fsync of the log), then the file that commits them.
        assert calls == ["fsync file", "fsync file", "rename", "fsync folder", "answer"], (method, calls)
        checked += 1
    report(
        f"write ordering: {checked} writes checked: fsync(history log) < fsync(file) < rename < fsync(folder) < answer"
    )


# --------------------------------------------------------------------------- 3. multi-process


def test_two_workers_and_cli_processes_lose_nothing(tickets_file: Path) -> None:
    with running_server(tickets_file, workers=2) as base:
        cli = [
            subprocess.Popen(
                [sys.executable, str(ROOT / "script.py"), "add", f"CLI {i}", "--file", str(tickets_file), "--json"],
                stdout=subprocess.PIPE,
            )
            for i in range(6)
        ]

        def post(i: int) -> int:
            with httpx.Client(base_url=base, timeout=30) as http:  # a new connection each: both workers serve
                response = http.post("/tickets", json={"title": f"HTTP {i}"})
                assert response.status_code == 201
                return response.json()["id"]

        with ThreadPoolExecutor(16) as pool:
            http_ids = list(pool.map(post, range(120)))
        cli_ids = []
        for p in cli:
            out, _ = p.communicate(timeout=60)
            assert p.returncode == 0
            cli_ids.append(json.loads(out)["id"])
        ids = http_ids + cli_ids
        assert len(set(ids)) == len(ids) == 126
        on_disk = set(tickets_on_disk(tickets_file))
        assert set(ids) <= on_disk
        seen = [httpx.get(f"{base}/health", headers={"Connection": "close"}).json()["tickets"] for _ in range(30)]
        assert set(seen) == {len(on_disk)}
    report(
        f"multi-process: 2 uvicorn workers + 6 CLI processes, {len(ids)} writes, ids unique, "
        f"{len(seen)} reads on fresh connections all saw {len(on_disk)} tickets"
    )


# --------------------------------------------------------------------------- 7. corrupt file while running


@pytest.mark.parametrize("garbage", [b"\x00\x01garbage", b"", b'{"next_id": 3, "tickets": [{"id": 1, "title": 5}]}'])
def test_file_corrupted_under_a_running_server(tickets_file: Path, garbage: bytes) -> None:
    good = tickets_file.read_bytes()
    with running_server(tickets_file) as base, httpx.Client(base_url=base) as http:
        assert http.get("/health").status_code == 200
        tickets_file.write_bytes(garbage)
        for method, url, body in [
            ("POST", "/tickets", {"title": "x"}),
            ("PATCH", "/tickets/1", {"status": "closed"}),
            ("DELETE", "/tickets/1", None),
            ("GET", "/tickets", None),
            ("GET", "/health", None),
        ]:
            response = http.request(method, url, json=body)
            assert response.status_code == 503 and str(tickets_file) in response.json()["detail"]
        assert tickets_file.read_bytes() == garbage  # byte for byte
        tickets_file.write_bytes(good)
        assert http.get("/health").json() == {"status": "ok", "tickets": 14}
        assert http.post("/tickets", json={"title": "réparé"}).status_code == 201


def test_server_starts_on_a_corrupt_file_and_health_says_why(tmp_path: Path) -> None:
    path = tmp_path / "tickets.json"
    path.write_bytes(b"")
    with running_server(path) as base:
        response = httpx.get(f"{base}/health")
        assert response.status_code == 503 and "empty" in response.json()["detail"]


# --------------------------------------------------------------------------- 8. ETag race


def test_two_clients_patching_with_the_same_if_match_exactly_one_wins(tickets_file: Path) -> None:
    rounds = 20
    with running_server(tickets_file) as base:
        for round_ in range(rounds):
            etag = httpx.get(f"{base}/tickets/1").headers["ETag"]
            barrier = threading.Barrier(2)
            with ThreadPoolExecutor(2) as pool:
                codes = sorted(
                    pool.map(
                        lambda who, b=barrier, e=etag, r=round_: patch_at_once(base, b, e, f"{who} {r}"),
                        ["alice", "bruno"],
                    )
                )
            assert codes == [200, 412], codes
    report(f"ETag race: {rounds} rounds of two simultaneous PATCH with one If-Match: always one 200 and one 412")


# --------------------------------------------------------------------------- 6. hostile input


def raw_request(base: str, data: bytes) -> int:
    """Send bytes as they are (no client library to tidy them up); returns the status code.

    The answer is read while the bytes are still being sent: a server that refuses a 2 MiB body
    from its Content-Length answers and closes early, and a client that sent everything first
    would only see the connection reset.
    """
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:

        def send() -> None:
            with contextlib.suppress(OSError):  # the server may close once it has answered
                sock.sendall(data)

        sender = threading.Thread(target=send)
        sender.start()
        answer = b""
        while b"\r\n" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
        with contextlib.suppress(OSError):  # already closed by the server
            sock.shutdown(socket.SHUT_RDWR)
        sender.join(10)
    return int(answer.split(b" ", 2)[1])


HOSTILE_BODIES = {
    "nested 100000 deep": b"[" * 100_000 + b"]" * 100_000,
    "nested object 100000 deep": b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    "NaN": b'{"title": NaN}',
    "Infinity": b'{"title": "x", "priority": Infinity}',
    "10^400": b'{"title": 1' + b"0" * 400 + b"}",
    "1e400": b'{"title": 1e400}',
    "invalid UTF-8": b'{"title": "\xff\xfe\xc3"}',
    "NUL bytes": b'{"title": "a\x00b"}',
    "NUL outside strings": b'{"title":\x00 "x"}',
    "not an object": b'"title"',
    "2 MiB": b'{"title": "' + b"a" * (2 * 1024 * 1024) + b'"}',
}


def test_hostile_input_gets_a_4xx_and_the_service_goes_on(tickets_file: Path) -> None:
    before = tickets_file.read_bytes()
    cases = 0
    with running_server(tickets_file) as base:
        for name, body in HOSTILE_BODIES.items():
            head = "POST /tickets HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n"
            sized = raw_request(base, head.encode() + b"Content-Length: %d\r\n\r\n" % len(body) + body)
            chunked_body = b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"
            chunked = raw_request(base, head.encode() + b"Transfer-Encoding: chunked\r\n\r\n" + chunked_body)
            for code in (sized, chunked):
                assert 400 <= code < 500, (name, code)
            assert httpx.get(f"{base}/health").status_code == 200, name
            cases += 2
        for content_type in ("text/plain", "application/xml", "multipart/form-data; boundary=x"):
            response = httpx.post(f"{base}/tickets", content=b'{"title": "x"}', headers={"Content-Type": content_type})
            assert response.status_code == 400, content_type
            cases += 1
        for bad_id in ("1e3", "%D9%A3", "0x10", "1.0", "-5", "0", "99999999999999999999999999999999999999x"):
            assert httpx.get(f"{base}/tickets/{bad_id}").status_code == 400, bad_id
            cases += 1
        long_query = b"GET /tickets?q=" + b"x" * 100_000 + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        code = raw_request(base, long_query)
        assert code in (200, 400, 414, 431), code  # answered: a search that finds nothing, or refused
        assert httpx.get(f"{base}/health").status_code == 200
        cases += 1
        assert tickets_file.read_bytes() == before
        assert httpx.post(f"{base}/tickets", json={"title": "encore debout"}).status_code == 201
    report(f"hostile input: {cases} hostile requests, each a 4xx, the next valid request served every time")


# --------------------------------------------------------------------------- 7. reads while writes queue


def _unread_bytes_by_client_port(server_port: int) -> dict[int, int]:
    """The server's side of each TCP connection to server_port (from /proc/net/tcp): client port -> bytes the
    kernel holds that the server has not read yet. 0 means the server process has read the whole request."""
    unread = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state, queues = fields[1], fields[2], fields[3], fields[4]
        if int(local.split(":")[1], 16) == server_port and state == "01":  # ESTABLISHED
            unread[int(remote.split(":")[1], 16)] = int(queues.split(":")[1], 16)
    return unread


def test_reads_answer_while_60_writes_wait_for_another_process(tickets_file: Path) -> None:
    """Queued writes hold no thread: reads keep theirs (before: reads waited until the lock was freed, 8 s once
    the thread pool was full). The writes are sent on raw sockets, and the test waits until the server has read
    every one of them (its side of each connection has nothing left unread) before it reads."""
    import asyncio

    async def send_write(port: int, i: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        body = json.dumps({"title": f"en file {i}"}).encode()
        writer.write(
            b"POST /tickets HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        await writer.drain()
        return reader, writer  # the writer too: a StreamWriter that nobody holds closes its connection

    async def status_of(reader: asyncio.StreamReader) -> int:
        return int((await asyncio.wait_for(reader.readline(), 120)).split()[1])

    async def scenario(base: str, release: Callable[[], None]) -> tuple[list[float], list[int]]:
        port = int(base.rsplit(":", 1)[1])
        writes = [await send_write(port, i) for i in range(60)]
        client_ports = {writer.get_extra_info("sockname")[1] for _, writer in writes}
        deadline = time.monotonic() + 120
        while not all(_unread_bytes_by_client_port(port).get(p) == 0 for p in client_ports):
            assert time.monotonic() < deadline, "the server did not read the 60 writes"
            await asyncio.sleep(0.01)
        delays = []
        async with httpx.AsyncClient(base_url=base, timeout=120) as http:
            for path in ["/health", "/tickets/1", "/tickets?limit=5"] * 3:
                start = time.monotonic()
                assert (await http.get(path)).status_code == 200
                delays.append(time.monotonic() - start)
        # Answered while the lock is still held elsewhere, so while every write waits (none can land before
        # release(): a write answered earlier would be a 503, not the 201 checked below).
        release()
        return delays, [await status_of(reader) for reader, _ in writes]

    with running_server(tickets_file, env={"TICKETS_LOCK_TIMEOUT": "300"}) as base:
        httpx.get(f"{base}/tickets/1")  # the cache is warm, as on a server in use
        # The other process also changes the file: every read must load it again, which takes a thread.
        with lock_held_by_another_process(tickets_file.parent, touch=tickets_file) as release:
            delays, codes = asyncio.run(scenario(base, release))
    assert codes == [201] * 60  # once the lock is free, every queued write lands
    report(
        f"reads under load: 60 writes read by the server and queued behind another process's lock; 9 reads "
        f"answered meanwhile, slowest in {max(delays) * 1000:.0f} ms; then all 60 writes landed"
    )
