"""Benchmark: the sweep of SLA breach events (tickets/worker/breaches.py) on a large store: the first sweep, which
writes every breach owed (a store upgraded, or servers down for a while), a quiet sweep (nothing due: what a server
pays every minute), next_breach_at, a sweep a few minutes later (the few breaches since), and for the JSON file what
carrying the index of alarms adds to a write. A sweep reads only the tickets past their alarm (an index); a scan of
every ticket is timed beside it for scale.

    python benchmarks/bench_breaches.py json 100000
    python benchmarks/bench_breaches.py postgres 1000000
    python benchmarks/bench_breaches.py postgres 1000000 --db postgresql://user@host/bench   # an empty database

The tickets are those of benchmarks/bench_queues.py (a help desk's month, the sample policy: Europe/Paris business
hours; a tenth waiting, a quarter closed), the store's clock pinned at its moment (Monday 2026-11-30, 10:30 in
Paris). Without --db, a throw-away PostgreSQL server is started from Debian's binaries, as the tests do. Numbers
drift on shared machines: the ratios within one run are what to compare. Never touches tickets.json.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parent.parent), str(Path(__file__).resolve().parent.parent / "tests")]

from bench_queues import NOW, POLICY, generate, tickets  # noqa: E402

from tickets.engine.models import TicketUpdate  # noqa: E402
from tickets.engine.sla import Policy, micros, timestamp_of  # noqa: E402
from tickets.stores.base import TicketStore  # noqa: E402
from tickets.stores.json_file import JsonStore  # noqa: E402
from tickets.stores.json_file.queues import Alarms  # noqa: E402
from tickets.worker.breaches import sweep_once  # noqa: E402

ROUNDS = 15


async def median_ms(work: Callable[[], Awaitable[Any]], rounds: int = ROUNDS) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        await work()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


class Clock:
    def __init__(self, at: str) -> None:
        self.at = at

    def __call__(self) -> str:
        return self.at

    def advance(self, seconds: int) -> None:
        self.at = timestamp_of(micros(self.at) + seconds * 1_000_000)


async def measure(store: TicketStore, clock: Clock, scan: Callable[[], Awaitable[Any]]) -> list[tuple[str, str]]:
    rows = []
    start = time.perf_counter()
    written = await sweep_once(store)
    took = time.perf_counter() - start
    rows.append(("first sweep (every breach owed)", f"{written} events in {took:.1f} s ({written / took:.0f}/s)"))
    rows.append(("quiet sweep (nothing due), median", f"{await median_ms(store.record_breaches):.2f} ms"))
    rows.append(("next_breach_at, median", f"{await median_ms(store.next_breach_at):.2f} ms"))
    rows.append(("a scan of every ticket, for scale", f"{await median_ms(scan, 3):.0f} ms"))
    later = []
    for _ in range(5):
        clock.advance(300)
        start = time.perf_counter()
        n = await sweep_once(store)
        later.append((n, (time.perf_counter() - start) * 1000))
    rows.append(
        ("a sweep 5 minutes later (5 times)", ", ".join(f"{n} events {ms:.0f} ms" for n, ms in later)),
    )
    return rows


def on_json(size: int) -> list[tuple[str, str]]:
    folder = Path(tempfile.mkdtemp(prefix="bench-breaches-"))
    path = folder / "tickets.json"
    generate(path, size)
    store = JsonStore(path)
    clock = Clock(NOW)
    store.now = clock  # type: ignore[method-assign]

    async def run() -> list[tuple[str, str]]:
        await store.open()
        start = time.perf_counter()
        await store.warm_up()  # as a server: the history parsed, every plan computed
        warm = time.perf_counter() - start
        snap = await store.current()
        start = time.perf_counter()
        Alarms.build(snap.tickets.values(), snap.plan)
        built = time.perf_counter() - start

        async def scan() -> None:
            current = await store.current()
            Alarms.build(current.tickets.values(), current.plan)

        rows = [
            ("warm_up (history, every plan)", f"{warm:.1f} s"),
            ("alarms built from the plans", f"{built * 1000:.0f} ms"),
        ]
        rows += await measure(store, clock, scan)
        ids = list((await store.current()).tickets)[:ROUNDS]
        carried, bare = [], []
        for n, ticket_id in enumerate(ids):  # in turn: without the alarms (as before them), then carried
            (await store.current())._alarms = None
            gc.collect()  # the garbage of the last index built is not charged to the next write
            start = time.perf_counter()
            await store.update(ticket_id, TicketUpdate(title=f"Écran {n} bis"))
            bare.append(time.perf_counter() - start)
            (await store.current()).alarms()
            gc.collect()
            start = time.perf_counter()
            await store.update(ticket_id, TicketUpdate(title=f"Écran {n}"))
            carried.append(time.perf_counter() - start)
        with_alarms, without = statistics.median(carried) * 1000, statistics.median(bare) * 1000
        rows.append(("a write (PATCH title), alarms carried / none", f"{with_alarms:.1f} ms / {without:.1f} ms"))
        return rows

    try:
        return asyncio.run(run())
    finally:
        for file in folder.iterdir():
            file.unlink()
        folder.rmdir()


def on_postgres(size: int, url: str | None) -> list[tuple[str, str]]:
    import psycopg

    from tickets.stores.postgres import PostgresStore

    cluster = None
    if url is None:
        from postgres_cluster import Cluster, binaries

        cluster = Cluster(binaries())  # type: ignore[arg-type]
        cluster.init(settings="-c shared_buffers=1GB")
        url = cluster.url(cluster.new_database())
    store = PostgresStore(url)
    clock = Clock(NOW)
    store.now = clock  # type: ignore[method-assign]

    async def run() -> list[tuple[str, str]]:
        try:
            start = time.perf_counter()
            await store.replace_all(size + 1, tickets(size), replace=True, policy=Policy.model_validate(POLICY))  # type: ignore[arg-type]
            filled = time.perf_counter() - start
            async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                await conn.execute("VACUUM ANALYZE tickets")

            async def scan() -> None:
                async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                    await conn.execute("SELECT count(*) FROM tickets WHERE due_fixed IS NOT NULL AND NOT sla_breached")

            return [("copy in (replace_all)", f"{filled:.0f} s")] + await measure(store, clock, scan)
        finally:
            await store.close()

    try:
        return asyncio.run(run())
    finally:
        if cluster is not None:
            cluster.remove()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("store", choices=["json", "postgres"])
    parser.add_argument("size", nargs="?", type=int, default=100_000)
    parser.add_argument("--db", help="PostgreSQL: an existing, empty database (default: a throw-away server)")
    args = parser.parse_args()
    rows = on_json(args.size) if args.store == "json" else on_postgres(args.size, args.db)
    print(f"\nSLA breach events, {args.size} tickets in the {args.store} store (clock from {NOW})")
    for name, value in rows:
        print(f"{name:48} {value}")


if __name__ == "__main__":
    main()
