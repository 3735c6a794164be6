"""Benchmark: the help desk's queues (sort=due, ?sla=, due_before) against today's daily view
(?status=open&sort=-priority&limit=50), a page of 50 on the same JSON store, in the same run.

    python benchmarks/bench_queues.py                 # 100 000 tickets, 15 rounds
    python benchmarks/bench_queues.py 10000 --rounds 30

Never touches tickets.json: the file is generated in a temporary folder, with the sample SLA policy (Europe/Paris
business hours), a tenth of the tickets waiting (their due times move with the clock) and some closed. The store's
clock is pinned, as in the tests. Each round asks every query once, in an order shuffled at each round; the table
gives the median time of a page and its ratio to the daily view's median in this run (absolute numbers drift on
shared machines). The first line of each query is the cold call: the store computes each ticket's SLA plan once
per version of it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tickets.engine.models import TicketQuery  # noqa: E402
from tickets.engine.sla import POLICY_EXAMPLE  # noqa: E402
from tickets.stores.json_file import JsonStore  # noqa: E402

NOW = "2026-11-30T09:30:00Z"  # Monday 10:30 in Paris
POLICY = POLICY_EXAMPLE  # Europe/Paris, 9:00-12:30 and 13:30-18:00 Monday to Friday
QUERIES = {
    "status=open&sort=-priority (today's view)": {"status": ["open"], "sort": "-priority", "limit": 50},
    "sort=due": {"sort": "due", "limit": 50},
    "sla=breached": {"sla": ["breached"], "limit": 50},
    "sla=on_track,paused&sort=due": {"sla": ["on_track", "paused"], "sort": "due", "limit": 50},
    "due_before=today 18:00": {"due_before": "2026-11-30T17:00:00Z", "limit": 50},
}
# One status or SLA state in due order: its tickets are a few of those with a due time (the waiting ones among the
# running), or all of those of one kind (the waiting ones).
STATUS_QUERIES = {
    "status=open&sort=due": {"status": ["open"], "sort": "due", "limit": 50},
    "status=waiting&sort=due": {"status": ["waiting"], "sort": "due", "limit": 50},
    "sla=on_track&sort=due": {"sla": ["on_track"], "sort": "due", "limit": 50},
    "sla=paused&sort=due": {"sla": ["paused"], "sort": "due", "limit": 50},
    "sla=breached&sort=-due": {"sla": ["breached"], "sort": "-due", "limit": 50},
}
# Each SLA state alone, in the default order (by id): sla=breached is among QUERIES.
SLA_QUERIES = {f"sla={state}": {"sla": [state], "limit": 50} for state in ("on_track", "paused", "met", "none")}


def generate(path: Path, n: int) -> None:
    data = {"next_id": n + 1, "sla_policy": POLICY, "tickets": tickets(n)}
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def tickets(n: int) -> list[dict]:
    """n tickets of a help desk's month (the same for the same n): a tenth waiting, a quarter closed."""
    rng = random.Random(15)
    made = []
    for i in range(1, n + 1):
        day = rng.randrange(1, 30)
        created = f"2026-11-{day:02}T{rng.randrange(6, 17):02}:{rng.randrange(60):02}:00Z"
        status = rng.choices(["open", "in_progress", "waiting", "closed"], [5, 3, 1, 3])[0]
        paused = [[created, None]] if status in ("waiting", "closed") else []
        made.append(
            {
                "id": i,
                "title": f"Imprimante du {i % 9}e étage en panne n°{i}",
                "description": "L'imprimante affiche une erreur de bourrage mais aucun papier n'est coincé.",
                "status": status,
                "priority": rng.choice(["low", "medium", "high", "urgent"]),
                "assignee": None if i % 4 else "julie.martin",
                "requester": {"name": f"Demandeur {i % 500}", "email": f"demandeur{i % 500}@exemple.fr"},
                "tags": sorted(rng.sample(["vpn", "réseau", "impression", "poste", "messagerie"], 2)),
                "created_at": created,
                "updated_at": created,
                "first_response_at": None,
                "resolved_at": created if status == "closed" else None,
                "paused": paused,
                "sla_breached": False,
            }
        )
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("size", nargs="?", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "tickets.json"
        generate(path, args.size)
        store = JsonStore(path)
        store.now = lambda: NOW  # type: ignore[method-assign]
        queries = {
            name: TicketQuery.model_validate(q) for name, q in {**QUERIES, **STATUS_QUERIES, **SLA_QUERIES}.items()
        }
        times: dict[str, list[float]] = {name: [] for name in queries}
        cold: dict[str, float] = {}
        totals: dict[str, int] = {}

        async def run() -> None:
            for name, query in queries.items():
                start = time.perf_counter()
                _, totals[name] = await store.search_json(query)
                cold[name] = time.perf_counter() - start
            order, shuffle = list(queries.items()), random.Random(15).shuffle
            for _ in range(args.rounds):  # in another order each round: a queue's neighbours move its times
                shuffle(order)
                for name, query in order:
                    start = time.perf_counter()
                    await store.search_json(query)
                    times[name].append(time.perf_counter() - start)

        asyncio.run(run())
    base = statistics.median(times[next(iter(queries))])
    print(f"{args.size} tickets in the JSON store, a page of 50, median of {args.rounds} rounds (clock at {NOW})")
    print(f"{'query':45} {'matches':>8} {'cold ms':>9} {'median ms':>10} {'ratio':>6}")
    for name in queries:
        median = statistics.median(times[name])
        print(f"{name:45} {totals[name]:8} {cold[name] * 1000:9.1f} {median * 1000:10.2f} {median / base:6.2f}")


if __name__ == "__main__":
    main()
