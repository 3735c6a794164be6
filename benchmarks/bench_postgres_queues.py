"""Benchmark: the help desk's queues in PostgreSQL (sort=due, ?sla=, due_before) against today's daily view
(?status=open&sort=-priority&limit=50), a page of 50 with its X-Total-Count, on the same database, in the same run;
and what filling and changing the SLA policy of that many tickets takes.

    python benchmarks/bench_postgres_queues.py                    # 1 000 000 tickets, 50 rounds
    python benchmarks/bench_postgres_queues.py 100000 --rounds 100
    python benchmarks/bench_postgres_queues.py --db postgresql://user@host/bench   # an existing, empty database

The tickets are those of benchmarks/bench_queues.py (the JSON store's benchmark: the sample policy, Europe/Paris
business hours, a tenth waiting, a quarter closed), copied in by the store's own replace_all (which computes every
ticket's SLA columns), then VACUUM ANALYZE. Without --db, a throw-away server is started from Debian's binaries
(as the tests do) with shared_buffers=1GB. The store's clock is pinned, as in the tests. Each round asks every
query once, in an order shuffled at each round, through the store (search_json: the page rendered as the API sends
it), once every statement has run six times (psycopg prepares a statement at its fifth run); the table gives the
median time of a page, its ratio to the daily view's median in this run, and the median of the ratios round by
round (absolute numbers drift on shared machines: the load averages before and after the rounds are printed).
Never touches tickets.json.

    python benchmarks/bench_postgres_queues.py --db URL --filled   # measure again a database filled before
    python benchmarks/bench_postgres_queues.py --db URL --filled --moving 1   # the clock moves 1 s at each page
    python benchmarks/bench_postgres_queues.py --db URL --filled --only 'sort=-due'   # one queue beside the daily view

With the clock pinned, the counts of ?sla= are those of a server between two writes, before the next due time that
changes a ticket's state: their parts are kept (store.py), no statement runs. --moving S makes the store's clock
move S seconds at each page, as a real server's does: a count then reads the due times the clock passed (at a
million tickets, several a second). The queues of a round share the machine's caches: a slow one makes the next
slower, the daily view included (with the old code's 157 ms queue in the round, its daily view took 2.5 ms, not
1.7), and the order counts too: with the queues in turn, adding four to the round moved every ratio by 0.03 to
0.05 (2026-11-29). Compare old and new code on queues both answer quickly (--only).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import NamedTuple

sys.path[:0] = [str(Path(__file__).resolve().parent.parent), str(Path(__file__).resolve().parent.parent / "tests")]

from bench_queues import NOW, POLICY, QUERIES, SLA_QUERIES, STATUS_QUERIES, tickets  # noqa: E402

from tickets.engine.models import StatsQuery, TicketQuery  # noqa: E402
from tickets.engine.sla import Policy, micros, timestamp_of  # noqa: E402
from tickets.stores.postgres import PostgresStore  # noqa: E402

MORE_QUERIES = {
    "sort=-due": {"sort": "-due", "limit": 50},
    "sla=breached&sort=due": {"sla": ["breached"], "sort": "due", "limit": 50},
    "assignee=none&tag=vpn&sort=due": {"assignee": "none", "tag": ["vpn"], "sort": "due", "limit": 50},
    "assignee=none&sort=due": {"assignee": "none", "sort": "due", "limit": 50},
    "tag=vpn&sort=due": {"tag": ["vpn"], "sort": "due", "limit": 50},
    **STATUS_QUERIES,
    **SLA_QUERIES,
}
# The policy changed once the tickets are in: other targets (every ticket's due times move).
OTHER_POLICY = {**POLICY, "targets": {"urgent": {"first_response": 20, "resolution": 180}, "low": {"resolution": 4000}}}


async def fill(store: PostgresStore, n: int, url: str) -> dict[str, float]:
    """The tickets in (timed), VACUUM ANALYZE, then a change of policy (timed) and back."""
    made = tickets(n)
    start = time.perf_counter()
    await store.replace_all(n + 1, made, replace=True, policy=Policy.model_validate(POLICY))  # type: ignore[arg-type]
    filled = time.perf_counter() - start
    del made
    import psycopg

    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute("VACUUM ANALYZE tickets")
    start = time.perf_counter()
    await store.set_policy(Policy.model_validate(OTHER_POLICY))
    changed = time.perf_counter() - start
    await store.set_policy(Policy.model_validate(POLICY))
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute("VACUUM ANALYZE tickets")
    return {"copy in (replace_all)": filled, "set_policy": changed}


class Measured(NamedTuple):
    times: dict[str, list[float]]  # seconds of each round, by query
    totals: dict[str, int]  # X-Total-Count, by query
    stats: float  # seconds of /tickets/stats without a filter
    load: tuple[tuple[float, float, float], tuple[float, float, float]]  # load averages before and after the rounds


async def measure(store: PostgresStore, rounds: int, only: list[str] | None = None) -> Measured:
    daily = next(iter(QUERIES))  # today's view: every ratio is to it
    queries = {
        name: TicketQuery.model_validate(q)
        for name, q in {**QUERIES, **MORE_QUERIES}.items()
        if only is None or name == daily or name in only
    }
    times: dict[str, list[float]] = {name: [] for name in queries}
    totals: dict[str, int] = {}
    for _ in range(6):  # warm the cache, and let the statements be prepared (psycopg: from the 5th run)
        for name, query in queries.items():
            _, totals[name] = await store.search_json(query)
    before = os.getloadavg()
    order, shuffle = list(queries.items()), random.Random(15).shuffle
    for _ in range(rounds):  # in another order each round: a queue's neighbours moved its times by some 5 %
        shuffle(order)
        for name, query in order:
            start = time.perf_counter()
            await store.search_json(query)
            times[name].append(time.perf_counter() - start)
    after = os.getloadavg()
    start = time.perf_counter()
    await store.stats(StatsQuery())
    return Measured(times, totals, time.perf_counter() - start, (before, after))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("size", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--moving", type=float, default=0, help="seconds the clock moves at each page (default: 0)")
    parser.add_argument("--db", help="an existing, empty PostgreSQL database (default: a throw-away server)")
    parser.add_argument(
        "--filled", action="store_true", help="with --db: a database this script filled before, measured as it is"
    )
    parser.add_argument(
        "--only",
        action="append",
        metavar="QUERY",
        help="measure only this queue (its name in the table, repeat for more) beside today's view",
    )
    args = parser.parse_args()
    if args.filled and args.db is None:
        parser.error("--filled needs --db")
    unknown = set(args.only or ()) - set(QUERIES) - set(MORE_QUERIES)
    if unknown:
        parser.error(f"unknown queue: {', '.join(sorted(unknown))}")
    cluster = None
    url = args.db
    if url is None:
        from postgres_cluster import Cluster, binaries

        cluster = Cluster(binaries())  # type: ignore[arg-type]
        cluster.init(settings="-c shared_buffers=1GB")
        url = cluster.url(cluster.new_database())
    try:
        store = PostgresStore(url)
        store.now = Clock(args.moving)  # type: ignore[method-assign]

        async def run() -> tuple[dict[str, float], Measured]:
            try:
                setup = {} if args.filled else await fill(store, args.size, url)
                return setup, await measure(store, args.rounds, args.only)
            finally:
                await store.close()

        setup, measured = asyncio.run(run())
    finally:
        if cluster is not None:
            cluster.remove()
    for name, seconds in setup.items():
        print(f"{name}: {seconds:.1f} s for {args.size} tickets")
    print(f"stats, no filter (by_tag, sla, medians): {measured.stats * 1000:.0f} ms")
    daily = measured.times[next(iter(measured.times))]
    base = statistics.median(daily)
    size = sum(measured.totals[name] for name in measured.totals if name == "sort=due") or args.size
    clock = f"clock at {NOW}" if not args.moving else f"clock from {NOW}, {args.moving:g} s more at each page"
    print(f"\n{size} tickets in PostgreSQL, a page of 50, median of {args.rounds} rounds ({clock})")
    before, after = measured.load
    print(f"load average (1, 5, 15 min) on {os.cpu_count()} cores: before {_load(before)}, after {_load(after)}")
    print(f"{'query':45} {'matches':>8} {'median ms':>10} {'ratio':>6} {'by round':>9}")
    for name, seconds in measured.times.items():
        median = statistics.median(seconds)
        by_round = statistics.median(t / d for t, d in zip(seconds, daily, strict=True))
        print(f"{name:45} {measured.totals[name]:8} {median * 1000:10.2f} {median / base:6.2f} {by_round:9.2f}")


class Clock:
    """The store's clock: NOW, moving step seconds at each reading (pinned when step is 0)."""

    def __init__(self, step: float) -> None:
        self.us, self.step = micros(NOW), int(step * 1_000_000)

    def __call__(self) -> str:
        self.us += self.step
        return timestamp_of(self.us - self.step)


def _load(averages: tuple[float, float, float]) -> str:
    return " ".join(f"{a:.1f}" for a in averages)


if __name__ == "__main__":
    main()
