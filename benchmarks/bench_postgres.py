"""Benchmark: the PostgreSQL store against the JSON store, and when to switch.

    python benchmarks/bench_postgres.py                    # curve at 1k, 10k, 100k (+1M on PostgreSQL), goals at 1M
    python benchmarks/bench_postgres.py --db postgresql://user@host/bench   # an existing, empty database

Without --db, a throw-away PostgreSQL server is started from Debian's binaries (as the tests do), with
fsync and synchronous_commit on (the defaults) and shared_buffers=1GB. Every server is `uvicorn main:app`
with one worker, loaded by wrk with 32 connections (or the built-in driver); each workload runs --repeat
times, alternating the servers compared, and the tables give medians. Never touches tickets.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path[:0] = [str(Path(__file__).resolve().parent.parent), str(Path(__file__).resolve().parent.parent / "tests")]

from bench import (  # noqa: E402
    CONNECTIONS,
    DELETE_LUA,
    PATCH_LUA,
    POST_BODY,
    POST_LUA,
    ROOT,
    free_port,
    generate,
    load,
    median_run,
    start,
    started,
)
from tickets.stores.postgres import PostgresStore  # noqa: E402

GOALS_SIZE = 1_000_000


def tickets(n: int) -> list[dict]:
    """The same tickets as bench.generate(), without the file."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "t.json"
        generate(path, n)
        return json.loads(path.read_text(encoding="utf-8"))["tickets"]


def fill(url: str, n: int) -> None:
    """n tickets into the database through the store's own copy (all or nothing), then VACUUM ANALYZE."""

    async def copy() -> None:
        store = PostgresStore(url)
        try:
            await store.replace_all(n + 1, tickets(n), replace=True)
        finally:
            await store.close()

    asyncio.run(copy())
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE tickets")


def start_on_database(url: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "main:app", "--port", str(port), "--log-level", "warning"]
    env = {"TICKETS_DATABASE_URL": url, "TICKETS_FILE": "", "PYTHONPATH": str(ROOT)}
    return started(command, port, env)


def get(path: str):
    return lambda w, i: ("GET", path, None)


def post(w: int, i: int) -> tuple[str, str, bytes]:
    return "POST", "/tickets", POST_BODY


def patch(n: int):
    return lambda w, i: (
        "PATCH",
        f"/tickets/{random.randint(1, n)}",
        json.dumps({"title": f"modifié {w} {i}"}).encode(),
    )


def delete(first: int):
    return lambda w, i: ("DELETE", f"/tickets/{first + w + CONNECTIONS * i}", None)


def sequential_ms(base: str, path: str, times: int = 21) -> tuple[float, float]:
    """(median, worst) latency of one request at a time, in ms."""
    samples = []
    with httpx.Client(base_url=base, timeout=120) as http:
        for _ in range(times):
            started_at = time.perf_counter()
            assert http.get(path).status_code == 200
            samples.append((time.perf_counter() - started_at) * 1000)
    return statistics.median(samples), max(samples)


def compare(servers: dict[str, str], path: str, seconds: int, repeat: int, lua: str = "", make=None) -> dict:
    """The same workload on each server, alternating, medians of repeat runs."""
    runs: dict[str, list] = {name: [] for name in servers}
    for _ in range(repeat):
        for name, base in servers.items():
            runs[name].append(load(base, path, seconds, lua, make or get(path)))
    return {name: median_run(r) for name, r in runs.items()}


def curve(url: str, folder: Path, sizes: list[int], seconds: int, repeat: int) -> list[str]:
    rows = []
    for n in sizes:
        cells = {}
        json_file = folder / f"curve-{n}.json"
        servers: dict[str, str] = {}
        procs = []
        try:
            if n <= 100_000:
                generate(json_file, n)
                proc, servers["JSON"] = start("main:app", json_file)
                procs.append(proc)
            fill(url, n)
            proc, servers["PostgreSQL"] = start_on_database(url)
            procs.append(proc)
            gets = compare(servers, f"/tickets/{n // 2}", seconds, repeat)
            posts = compare(servers, "/tickets", seconds, repeat, POST_LUA, post)
            for name in servers:
                cells[name] = f"{posts[name]['rps']:.0f} | {gets[name]['p50']:.2f} | {gets[name]['rps']:.0f}"
        finally:
            for proc in procs:
                proc.kill()
                proc.wait()
            json_file.unlink(missing_ok=True)
        rows.append(f"| {n:_} | {cells.get('JSON', '– | – | –')} | {cells['PostgreSQL']} |".replace("_", " "))
        print(rows[-1], flush=True)
    return rows


def goals(url: str, folder: Path, seconds: int, repeat: int) -> list[str]:
    """The issue's goals at 1 000 000 tickets, each beside what it is measured against, in the same run."""
    lines = []
    json_file, ceiling_file = folder / "json-10k.json", folder / "ceiling-10k.json"
    generate(json_file, 10_000)
    shutil.copyfile(json_file, ceiling_file)
    fill(url, GOALS_SIZE)
    procs = []
    try:
        proc, json_base = start("main:app", json_file)
        procs.append(proc)
        proc, ceiling = start("benchmarks.ceiling:app", ceiling_file)
        procs.append(proc)
        proc, pg = start_on_database(url)
        procs.append(proc)

        def patch_lua(n: int) -> str:
            return PATCH_LUA % {"n": n}

        # Writes: PostgreSQL at 1M against the JSON store at 10k, alternating.
        for name, lua, make in (("POST", POST_LUA, post),):
            r = compare({"pg": pg, "json": json_base}, "/tickets", seconds, repeat, lua, make)
            lines.append(_goal_row(f"{name} (1M on PostgreSQL vs JSON at 10k)", r["pg"], r["json"], "≥ 1.00×"))
        r = {"pg": [], "json": []}
        for _ in range(repeat):
            r["pg"].append(load(pg, "/tickets", seconds, patch_lua(GOALS_SIZE), patch(GOALS_SIZE)))
            r["json"].append(load(json_base, "/tickets", seconds, patch_lua(10_000), patch(10_000)))
        lines.append(
            _goal_row("PATCH (1M on PostgreSQL vs JSON at 10k)", median_run(r["pg"]), median_run(r["json"]), "≥ 1.00×")
        )
        r = {"pg": [], "json": []}
        stride_pg, stride_json = GOALS_SIZE // repeat, 9_000 // repeat
        for k in range(repeat):  # each run deletes its own range of ids
            r["pg"].append(
                load(pg, "/tickets", seconds, DELETE_LUA % {"first": 1 + k * stride_pg}, delete(1 + k * stride_pg))
            )
            r["json"].append(
                load(
                    json_base,
                    "/tickets",
                    seconds,
                    DELETE_LUA % {"first": 1 + k * stride_json},
                    delete(1 + k * stride_json),
                )
            )
        lines.append(
            _goal_row("DELETE (1M on PostgreSQL vs JSON at 10k)", median_run(r["pg"]), median_run(r["json"]), "≥ 1.00×")
        )
        # The ceiling (benchmarks/ceiling.py, tickets in memory, no store) answers in the same time at any size.
        r = {"pg": [], "ceiling": []}
        for _ in range(repeat):
            r["pg"].append(
                load(pg, f"/tickets/{GOALS_SIZE // 2 + 7}", seconds, "", get(f"/tickets/{GOALS_SIZE // 2 + 7}"))
            )
            r["ceiling"].append(load(ceiling, "/tickets/5007", seconds, "", get("/tickets/5007")))
        lines.append(
            _goal_row(
                "GET one (1M on PostgreSQL vs in-memory ceiling at 10k)",
                median_run(r["pg"]),
                median_run(r["ceiling"]),
                "≥ 0.70×",
            )
        )
        page = "/tickets?status=open&sort=-priority&limit=50"
        r = compare({"pg": pg}, page, seconds, repeat)["pg"]
        lines.append(
            f"| filtered page `{page}` under load | {r['rps']:.0f} req/s | p50 {r['p50']:.1f} ms | "
            f"**p99 {r['p99']:.1f} ms** | goal p99 ≤ 50 ms |"
        )
        median, worst = sequential_ms(pg, "/tickets/stats")
        lines.append(
            f"| `/tickets/stats` alone (21 requests) | – | median **{median:.0f} ms** | worst {worst:.0f} ms | "
            "goal ≤ 200 ms |"
        )
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
    return lines


def _goal_row(name: str, ours: dict, other: dict, goal: str) -> str:
    return (
        f"| {name} | {ours['rps']:.0f} req/s (p99 {ours['p99']:.1f} ms) | {other['rps']:.0f} req/s | "
        f"**{ours['rps'] / other['rps']:.2f}×** | goal {goal} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", help="an existing, empty PostgreSQL database (default: a throw-away server)")
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="*", default=[1000, 10_000, 100_000, GOALS_SIZE])
    parser.add_argument("--no-goals", action="store_true")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="tickets-bench-pg-"))
    cluster = None
    try:
        url = args.db
        if url is None:
            from postgres_cluster import Cluster, binaries

            cluster = Cluster(binaries())
            cluster.init(settings="-c shared_buffers=1GB")
            url = cluster.url(cluster.new_database())
        if args.sizes:
            print("\n#### Quand passer à PostgreSQL : écritures (POST, req/s) et lecture d'un ticket (GET one)\n")
            print(
                "| tickets | JSON POST req/s | JSON GET one p50 ms | JSON GET one req/s | PostgreSQL POST req/s | "
                "PostgreSQL GET one p50 ms | PostgreSQL GET one req/s |"
            )
            print("|---:|---:|---:|---:|---:|---:|---:|", flush=True)
            curve(url, folder, args.sizes, args.seconds, args.repeat)
        if not args.no_goals:
            print(f"\n#### Objectifs à {GOALS_SIZE:_} tickets dans PostgreSQL\n".replace("_", " "))
            print("| mesure | PostgreSQL | comparé à | rapport | objectif |")
            print("|---|---:|---:|---:|---|", flush=True)
            for line in goals(url, folder, args.seconds, args.repeat):
                print(line, flush=True)
    finally:
        if cluster is not None:
            cluster.remove()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
