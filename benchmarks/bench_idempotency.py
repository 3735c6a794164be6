"""Benchmark: what Idempotency-Key costs POST /tickets, and what a replay costs.

    python benchmarks/bench_idempotency.py                       # the JSON file, 1 000 tickets, 5 rounds
    python benchmarks/bench_idempotency.py --db postgresql://…   # an empty PostgreSQL database instead
    python benchmarks/bench_idempotency.py --seconds 5 --rounds 7

Each round starts a fresh store and a server, and runs wrk (32 connections) three times, one after the other:
- POST /tickets without the header;
- POST /tickets with a new Idempotency-Key on every request (each answer kept: the JSON file grows by one line
  per request, rewritten whole at each write);
- the same request again and again under 512 keys used once before (every answer a replay: nothing written).
Medians over the rounds, the ratio to the writes without a key from the same round, and for the JSON file its
size after the keyed run (how many answers it keeps). Never touches tickets.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

import httpx
from bench_webhooks import fresh, server

import bench

BODY = '{"title": "Imprimante en panne", "priority": "high"}'
# A new key on each request: the thread's number, then a counter (wrk's threads each have their own Lua state).
NEW_KEYS = f"""wrk.method = "POST"
wrk.body = '{BODY}'
wrk.headers["Content-Type"] = "application/json"
local threads = 0
setup = function(thread) threads = threads + 1; thread:set("id", threads) end
local n = 0
request = function()
  n = n + 1
  wrk.headers["Idempotency-Key"] = "bench-" .. id .. "-" .. n
  return wrk.format()
end
"""
# Each thread cycles through 256 keys of its own, used once before: never one key twice in flight.
REPLAYS = f"""wrk.method = "POST"
wrk.body = '{BODY}'
wrk.headers["Content-Type"] = "application/json"
local threads = 0
setup = function(thread) threads = threads + 1; thread:set("id", threads) end
local n = 0
request = function()
  n = n + 1
  wrk.headers["Idempotency-Key"] = "again-" .. id .. "-" .. (n % 256)
  return wrk.format()
end
"""
USED_KEYS = [f"again-{thread}-{n}" for thread in (1, 2) for n in range(256)]  # wrk -t2


def one_round(place: str, folder: Path, seconds: int, round_: int) -> dict[str, float]:
    where = fresh(place, folder, round_)
    proc, base = server(where, folder)
    try:
        results = {"plain": bench.wrk(base, "/tickets", seconds, bench.POST_LUA)["rps"]}
        keyed = bench.wrk(base, "/tickets", seconds, NEW_KEYS)
        results["keyed"], results["keyed_errors"] = keyed["rps"], keyed["errors"]
        if not place:
            data = json.loads(Path(where).read_text(encoding="utf-8"))
            results["kept"] = len(data.get("idempotency", []))
            results["file_mb"] = Path(where).stat().st_size / 1e6
        with httpx.Client(base_url=base, timeout=30) as http:
            for key in USED_KEYS:
                headers = {"Idempotency-Key": key, "Content-Type": "application/json"}
                assert http.post("/tickets", content=BODY, headers=headers).status_code == 201
        replays = bench.wrk(base, "/tickets", seconds, REPLAYS)
        results["replays"], results["replay_errors"] = replays["rps"], replays["errors"]
    finally:
        proc.terminate()
        proc.wait(30)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", help="an empty PostgreSQL database (its tables are dropped at each round)")
    parser.add_argument("--seconds", type=int, default=3, help="length of one wrk run (default 3)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds (default 5)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rounds = [one_round(args.db or "", Path(tmp), args.seconds, n) for n in range(args.rounds)]
    median = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
    store = "PostgreSQL" if args.db else "JSON file (1,000 tickets at the start)"
    print(f"{store}, {args.rounds} rounds of {args.seconds} s, wrk 32 connections, medians:")
    print(f"  POST /tickets without a key            {median['plain']:8.0f} req/s")
    for label, key, errors in (
        ("POST /tickets, a new key each", "keyed", "keyed_errors"),
        ("the same requests again (replays)", "replays", "replay_errors"),
    ):
        each = ", ".join(f"{r[key] / r['plain']:.2f}" for r in rounds)
        ratio = median[key] / median["plain"]
        print(f"  {label:<37}  {median[key]:8.0f} req/s  x{ratio:.2f} ({each}); non-2xx {median[errors]:.0f}")
    if not args.db:
        print(f"  after the keyed run: {median['kept']:.0f} answers kept, tickets.json {median['file_mb']:.1f} MB")


if __name__ == "__main__":
    main()
