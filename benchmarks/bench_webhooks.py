"""Benchmark: what webhooks cost the writes, and how fast delivery goes, against a local receiver.

    python benchmarks/bench_webhooks.py                       # the JSON file, 1 000 tickets, 6 rounds
    python benchmarks/bench_webhooks.py --postgres            # PostgreSQL instead (a throw-away server)
    python benchmarks/bench_webhooks.py --seconds 5 --rounds 7

Each round starts a fresh store and measures, side by side (without the webhook first in even rounds, with it
first in odd ones):
- writes (POST /tickets by wrk, 32 connections) with no webhook, then the same with one endpoint subscribed
  to "*" whose server delivers to a receiver (examples/webhook_receiver.py's way: a separate process that
  verifies every signature with the standardwebhooks package);
- delivery: how many events per second reach the receiver, while the writes run (to the end of the backlog)
  and in a catch-up (redeliver?from=1, no writes); then writes paced at 200 a second (one client), and how long
  after the last one the receiver had them all (it keeps up when that stays well under a second).
Medians over the rounds, and the ratio of write throughput with the webhook to without, from the same run.
Never touches tickets.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx

import bench

ROOT = Path(__file__).resolve().parent.parent
RECEIVER = textwrap.dedent(
    """
    import json, sys
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from standardwebhooks.webhooks import Webhook
    verifier = Webhook('whsec_' + 'MDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAw')
    last = count = 0
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def do_POST(self):
            global verifier
            body = self.rfile.read(int(self.headers["content-length"]))
            try:
                verifier.verify(body, dict(self.headers))
            except Exception:  # the first message, or a new round's webhook: its secret, as the bench wrote it
                verifier = Webhook(open(sys.argv[2]).read().strip())
                verifier.verify(body, dict(self.headers))
            global last, count
            last, count = max(last, json.loads(body)["data"]["event"].get("id", 0)), count + 1
            self.send_response(204)
            self.send_header("content-length", "0")
            self.end_headers()
        def do_GET(self):  # the last event id received, for the bench to tell when delivery caught up
            data = f"{last} {count}".encode()
            self.send_response(200)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        def log_message(self, *args):
            pass
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
    """
)


def server(place: str, folder: Path) -> tuple[subprocess.Popen, str]:
    port = bench.free_port()
    env = {"PYTHONPATH": str(ROOT), "TICKETS_WEBHOOKS_ALLOW_PRIVATE": "1"}
    if place.startswith("postgresql://"):
        env["TICKETS_DATABASE_URL"] = place
    else:
        env["TICKETS_FILE"] = place
    command = [sys.executable, "-m", "uvicorn", "main:app", "--port", str(port), "--log-level", "warning"]
    proc = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env})
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            httpx.get(f"{base}/health", timeout=5)
            return proc, base
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("the server did not start")


def fresh(place: str, folder: Path, round_: int) -> str:
    """A new store for a run: a generated file, or the database emptied (its tables dropped)."""
    if place.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(place, autocommit=True) as conn:
            conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        return place
    path = folder / f"round-{round_}-{time.monotonic_ns()}.json"
    bench.generate(path, 1000)
    return str(path)


def last_event(base: str) -> int:
    after = 0
    while page := httpx.get(f"{base}/events", params={"after": after, "limit": 1000}, timeout=30).json():
        after = page[-1]["id"]
    return after


def received(receiver: str) -> tuple[int, int]:
    """What the receiver got: the highest event id, and how many messages."""
    last, count = httpx.get(receiver, timeout=30).text.split()
    return int(last), int(count)


def caught_up(receiver: str, last: int = 0, count: int = 0) -> float:
    """When the receiver has the event `last` and `count` messages in all (polled every 10 ms)."""
    while True:
        got_last, got_count = received(receiver)
        if got_last >= last and got_count >= count:
            return time.perf_counter()
        time.sleep(0.01)


PACED_RATE = 200  # events a second in the paced phase: what delivery must keep up with


def paced(base: str, receiver: str, rate: int, seconds: int) -> float:
    """Writes at `rate` a second for `seconds` (one client, paced); how long after the last write the receiver
    had them all (the delivery's lag when it keeps up)."""
    with httpx.Client(base_url=base, timeout=30) as client:
        start = time.perf_counter()
        for n in range(rate * seconds):
            wait = start + n / rate - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            client.post("/tickets", json={"title": f"au rythme {n}"})
        last = time.perf_counter()
    return caught_up(receiver, last_event(base)) - last


def one_round(
    place: str, folder: Path, seconds: int, receiver_port: int, secret_file: Path, webhook_first: bool
) -> dict[str, float]:
    """Writes without and with the webhook, in the order given (the rounds alternate it: the second run of a
    round meets what the first left, such as PostgreSQL's checkpoint and vacuum of the dropped tables)."""
    results: dict[str, float] = {}
    receiver = f"http://127.0.0.1:{receiver_port}/"
    for webhook in (True, False) if webhook_first else (False, True):
        where = fresh(place, folder, int(webhook))
        proc, base = server(where, folder)
        try:
            hook_id = 0
            if webhook:
                hook = httpx.post(
                    f"{base}/webhooks", json={"url": f"http://127.0.0.1:{receiver_port}/", "events": ["*"]}
                ).json()
                secret_file.write_text(hook["secret"])
                hook_id = hook["id"]
                time.sleep(1.5)  # the worker looks for new endpoints every second: let it start before the clock
            start_events = last_event(base)
            started = time.perf_counter()
            run = bench.wrk(base, "/tickets", seconds, bench.POST_LUA)
            results["rps_with" if webhook else "rps_without"] = run["rps"]
            if webhook:
                end = last_event(base)
                done = caught_up(receiver, end)
                results["live_events_per_s"] = (end - start_events) / (done - started)
                results["backlog_s"] = done - (started + seconds)
                _, count = received(receiver)
                httpx.post(f"{base}/webhooks/{hook_id}/redeliver", params={"from": 1})
                again = time.perf_counter()
                done = caught_up(receiver, end, count + end)
                results["catch_up_events_per_s"] = end / (done - again)
                results["paced_lag_s"] = paced(base, receiver, PACED_RATE, seconds)
        finally:
            proc.terminate()
            proc.wait(30)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", help="an empty PostgreSQL database (its tables are dropped at each round)")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL on a throw-away server of its own")
    parser.add_argument("--seconds", type=int, default=3, help="length of one wrk run (default 3)")
    parser.add_argument("--rounds", type=int, default=6, help="rounds, each with and without the webhook (default 6)")
    args = parser.parse_args()
    cluster = None
    if args.postgres and not args.db:
        sys.path.insert(0, str(ROOT / "tests"))
        from postgres_cluster import Cluster, binaries

        cluster = Cluster(binaries())  # type: ignore[arg-type]
        cluster.init()
        args.db = cluster.url(cluster.new_database())
    try:
        measure(args)
    finally:
        if cluster is not None:
            cluster.remove()


def measure(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        receiver_port = bench.free_port()
        secret_file = folder / "secret"
        receiver = subprocess.Popen([sys.executable, "-c", RECEIVER, str(receiver_port), str(secret_file)], cwd=ROOT)
        try:
            rounds = [
                one_round(args.db or "", folder, args.seconds, receiver_port, secret_file, n % 2 == 1)
                for n in range(args.rounds)
            ]
        finally:
            receiver.terminate()
    store = "PostgreSQL" if args.db else "JSON file (1,000 tickets)"
    median = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
    ratios = [r["rps_with"] / r["rps_without"] for r in rounds]
    each = ", ".join(f"{x:.2f}" for x in ratios)
    live, backlog = median["live_events_per_s"], median["backlog_s"]
    print(f"{store}, {args.rounds} rounds of {args.seconds} s, wrk 32 connections, medians:")
    print(f"  POST /tickets without a webhook        {median['rps_without']:8.0f} req/s")
    print(f"  POST /tickets with one endpoint on *   {median['rps_with']:8.0f} req/s")
    print(f"  ratio with / without (each round)      {statistics.median(ratios):8.2f}  ({each})")
    print(f"  delivery during the writes             {live:8.0f} events/s (backlog {backlog:.1f} s after the writes)")
    print(f"  delivery catching up (redeliver)       {median['catch_up_events_per_s']:8.0f} events/s")
    print(f"  writes paced at {PACED_RATE}/s: all delivered  {median['paced_lag_s']:8.2f} s after the last write")


if __name__ == "__main__":
    main()
