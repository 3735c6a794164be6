"""A webhook receiver for the tests: an HTTP server in a thread that verifies every signature with the
`standardwebhooks` package, keeps what it got, and answers as the test scripts it (fail N times, 410, a redirect,
Retry-After). It also counts the requests in flight at once: two deliverers at the same time would show."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

Answer = tuple[int, dict[str, str]]  # status code and headers


@dataclass
class Received:
    id: str
    timestamp: str
    signatures: list[str]
    body: dict[str, Any]
    verified_by: list[str]  # which of the receiver's secrets verified it
    answered: int
    arrived: float = 0.0  # time.monotonic() when it came


@dataclass
class Receiver:
    url: str
    secrets: list[str] = field(default_factory=list)
    got: list[Received] = field(default_factory=list)  # every request, answered or not, in arrival order
    unverified: list[str] = field(default_factory=list)  # what failed verification, and why
    script: Callable[[Received], Answer] = lambda received: (200, {})
    in_flight: int = 0
    most_in_flight: int = 0
    hold: threading.Event | None = None  # set: requests wait for it before they answer
    answer_body: bytes = b""  # the body of every answer
    connections: set[int] = field(default_factory=set)  # the sender's ports: one per TCP connection it opened

    def delivered(self) -> list[Received]:
        """The requests answered 2xx."""
        return [r for r in self.got if 200 <= r.answered < 300]

    def ids(self) -> list[str]:
        return [r.id for r in self.delivered()]

    def event_ids(self) -> list[int]:
        return [r.body["data"]["event"]["id"] for r in self.delivered() if r.id.startswith("evt_")]


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet about a connection its client dropped (a deliverer killed with SIGKILL mid-delivery, as the tests
        do on purpose: http.server printed its traceback in the middle of the suite's dots); loud otherwise."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@contextmanager
def receiving(secrets: list[str] | None = None) -> Iterator[Receiver]:
    """A receiver on 127.0.0.1 at a free port, for the length of the block."""
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            with lock:
                receiver.in_flight += 1
                receiver.most_in_flight = max(receiver.most_in_flight, receiver.in_flight)
            self.counted = True
            try:
                self._answer()
            except (OSError, ValueError):  # the sender went away mid-request (a killed server): a cut body
                self._out_of_flight()

        def _out_of_flight(self) -> None:
            with lock:
                if self.counted:
                    receiver.in_flight -= 1
                    self.counted = False

        def _answer(self) -> None:
            arrived = time.monotonic()
            receiver.connections.add(self.client_address[1])
            data = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            verified_by = []
            for secret in receiver.secrets:
                try:
                    Webhook(secret).verify(data, headers)
                    verified_by.append(secret)
                except WebhookVerificationError:
                    pass
            received = Received(
                id=headers.get("webhook-id", ""),
                timestamp=headers.get("webhook-timestamp", ""),
                signatures=headers.get("webhook-signature", "").split(" "),
                body=json.loads(data),
                verified_by=verified_by,
                answered=0,
                arrived=arrived,
            )
            if receiver.hold is not None:
                receiver.hold.wait(60)
            status, extra = receiver.script(received) if verified_by else (401, {})
            received.answered = status
            self._out_of_flight()  # before the answer goes: the sender may send its next one at once
            with lock:
                receiver.got.append(received)
                if not verified_by:
                    receiver.unverified.append(f"{received.id}: no secret verifies {received.signatures}")
            self.send_response(status)
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(receiver.answer_body)))
            self.end_headers()
            self.wfile.write(receiver.answer_body)

        def log_message(self, *args: Any) -> None:
            pass

    server = _Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver = Receiver(f"http://127.0.0.1:{server.server_address[1]}/hook", list(secrets or []))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        if receiver.hold is not None:
            receiver.hold.set()
        server.shutdown()
        server.server_close()


def failing(times: int, status: int = 500, headers: dict[str, str] | None = None) -> Callable[[Received], Answer]:
    """A script: answer status to the first `times` requests, then 200."""
    count = {"n": 0}

    def answer(received: Received) -> Answer:
        count["n"] += 1
        return (status, dict(headers or {})) if count["n"] <= times else (200, {})

    return answer
