"""Benchmark: the real server (`uvicorn main:app`) against the framework ceiling (reads) and json-server
(writes), on generated files.

    python benchmarks/bench.py                  # 1 000, 10 000 and 100 000 tickets
    python benchmarks/bench.py 10000 --seconds 5 --repeat 5

Never touches tickets.json: every file is generated in a temporary folder. Load comes from wrk
(Debian package wrk) with 32 connections, or from a built-in asyncio/httpx driver when wrk is
missing. Each workload runs --repeat times, alternating the
ceiling and our server, and the table gives medians: req/s, p50/p99 latency, errors, and the
ratio to the ceiling measured in the same run (absolute numbers drift on shared machines).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
CONNECTIONS = 32

POST_BODY = b'{"title": "Imprimante en panne", "priority": "high"}'
POST_LUA = """wrk.method = "POST"
wrk.body = '{"title": "Imprimante en panne", "priority": "high"}'
wrk.headers["Content-Type"] = "application/json"
"""
# PATCH a random ticket among the first N with a new title each time.
PATCH_LUA = """wrk.headers["Content-Type"] = "application/json"
local n = 0
request = function()
  n = n + 1
  return wrk.format("PATCH", "/tickets/" .. math.random(1, %(n)d), nil, '{"title": "modifié ' .. n .. '"}')
end
"""
# Thread 1 deletes first, first+2, ...; thread 2 first+1, first+3, ...: never the same id twice.
DELETE_LUA = """local threads = 0
setup = function(thread) threads = threads + 1; thread:set("base", %(first)d + threads - 1) end
local n = -1
request = function()
  n = n + 1
  return wrk.format("DELETE", "/tickets/" .. (base + 2 * n))
end
"""


def generate(path: Path, n: int) -> None:
    tickets = [
        {
            "id": i,
            "title": f"Imprimante du {i % 9}e étage en panne n°{i}",
            "description": "L'imprimante affiche une erreur de bourrage mais aucun papier n'est coincé.",
            "status": ("open", "in_progress", "closed")[i % 3],
            "priority": ("low", "medium", "high", "urgent")[i % 4],
            "assignee": None if i % 4 else "julie.martin",
            "created_at": "2026-11-20T09:14:00Z",
            "updated_at": "2026-11-20T09:14:00Z",
        }
        for i in range(1, n + 1)
    ]
    path.write_text(json.dumps({"next_id": n + 1, "tickets": tickets}, ensure_ascii=False, indent=2) + "\n")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(app: str, path: Path) -> tuple[subprocess.Popen, str]:
    """`uvicorn APP` as users start it; uvicorn[standard] brings uvloop and httptools to both apps alike."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", app, "--port", str(port), "--log-level", "warning"]
    return started(command, port, {"TICKETS_FILE": str(path), "PYTHONPATH": str(ROOT)})


JSON_SERVER = ROOT / "benchmarks" / ".json-server"  # installed on first use, ignored by git


def start_json_server(path: Path) -> tuple[subprocess.Popen, str] | None:
    """json-server 0.17.4 (npm), the usual fake REST API over a JSON file, on a copy of the same tickets."""
    if not shutil.which("npm"):
        print("npm not found: json-server is left out (apt-get install npm)")
        return None
    cli = JSON_SERVER / "node_modules" / "json-server" / "lib" / "cli" / "bin.js"
    if not cli.exists():
        subprocess.run(
            ["npm", "install", "--prefix", str(JSON_SERVER), "json-server@0.17.4"], check=True, capture_output=True
        )
    db = path.with_name("json-server-db.json")
    db.write_text(json.dumps({"tickets": json.loads(path.read_text(encoding="utf-8"))["tickets"]}), encoding="utf-8")
    port = free_port()
    return started(["node", str(cli), "--quiet", "--host", "127.0.0.1", "--port", str(port), str(db)], port, {})


def started(command: list[str], port: int, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env})
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            httpx.get(f"{base}/tickets/1", timeout=5)
            return proc, base
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{command} did not start")


def settle(base: str) -> None:
    """Wait until requests still queued from the last run are served, so runs never overlap."""
    for _ in range(300):
        started = time.perf_counter()
        httpx.get(f"{base}/tickets/1", timeout=120)
        if time.perf_counter() - started < 0.05:
            return
        time.sleep(0.2)


def wrk(base: str, path: str, seconds: int, script: str = "") -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(script)
    command = [
        "wrk",
        "-t2",
        f"-c{CONNECTIONS}",
        f"-d{seconds}s",
        "--latency",
        "--timeout",
        "30s",
        "-s",
        lua.name,
        base + path,
    ]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    os.unlink(lua.name)
    settle(base)

    def latency(label: str) -> float:
        m = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)\b", out)
        return float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)] if m else float("nan")

    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return {
        "rps": float(rps.group(1)) if rps else 0.0,
        "p50": latency("50"),
        "p99": latency("99"),
        "errors": (int(non_2xx.group(1)) if non_2xx else 0) + (sum(map(int, sockets.groups())) if sockets else 0),
    }


def drive(base: str, seconds: int, make: Callable[[int, int], tuple[str, str, bytes | None]]) -> dict[str, float]:
    """The built-in driver when wrk is not installed: 32 asyncio tasks with httpx, one connection each.
    make(worker, n) gives the n-th request of a worker: (method, path, JSON body or None)."""

    async def run() -> tuple[list[float], int]:
        latencies: list[float] = []
        errors = 0
        deadline = time.perf_counter() + seconds

        async def worker(w: int) -> None:
            nonlocal errors
            async with httpx.AsyncClient(base_url=base, timeout=30, limits=httpx.Limits(max_connections=1)) as http:
                n = 0
                while time.perf_counter() < deadline:
                    method, path, body = make(w, n)
                    started = time.perf_counter()
                    response = await http.request(
                        method, path, content=body, headers={"Content-Type": "application/json"} if body else None
                    )
                    latencies.append((time.perf_counter() - started) * 1000)
                    errors += response.status_code >= 400
                    n += 1

        await asyncio.gather(*(worker(w) for w in range(CONNECTIONS)))
        return latencies, errors

    latencies, errors = asyncio.run(run())
    settle(base)
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else float("nan")  # noqa: E731
    return {"rps": len(latencies) / seconds, "p50": pick(0.5), "p99": pick(0.99), "errors": errors}


def load(
    base: str, path: str, seconds: int, lua: str, make: Callable[[int, int], tuple[str, str, bytes | None]]
) -> dict:
    """One measured run: wrk with its Lua script when installed, else the built-in driver."""
    return wrk(base, path, seconds, lua) if shutil.which("wrk") else drive(base, seconds, make)


def median_run(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def one_post_ms(base: str, repeat: int = 7) -> float:
    times = []
    with httpx.Client(base_url=base, timeout=60) as http:
        for _ in range(repeat):
            started = time.perf_counter()
            assert http.post("/tickets", json={"title": "mesure"}).status_code == 201
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def bench_size(n: int, seconds: int, repeat: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="tickets-bench-"))
    procs: list[subprocess.Popen] = []
    try:
        ours_file, ceiling_file = folder / "ours.json", folder / "ceiling.json"
        generate(ours_file, n)
        shutil.copyfile(ours_file, ceiling_file)
        size_mb = ours_file.stat().st_size / 1e6
        ceiling_proc, ceiling = start("benchmarks.ceiling:app", ceiling_file)
        ours_proc, ours = start("main:app", ours_file)
        procs += [ceiling_proc, ours_proc]
        json_server = start_json_server(ceiling_file)
        if json_server:
            procs.append(json_server[0])
        post_ms = one_post_ms(ours)
        get = lambda path: lambda w, i: ("GET", path, None)  # noqa: E731
        workloads = [
            ("GET all", "/tickets", "", get("/tickets")),
            ("GET one", f"/tickets/{n // 2}", "", get(f"/tickets/{n // 2}")),
            ("filter status=open", "/tickets?status=open", "", get("/tickets?status=open")),
            ("filter + limit=50", "/tickets?status=open&limit=50", "", get("/tickets?status=open&limit=50")),
            ("POST", "/tickets", POST_LUA, lambda w, i: ("POST", "/tickets", POST_BODY)),
        ]
        results: dict[str, dict[str, dict[str, float]]] = {}
        for name, path, script, make in workloads:
            runs: dict[str, list] = {"ceiling": [], "ours": []}
            for _ in range(repeat):  # alternate, so that both see the same machine
                runs["ceiling"].append(load(ceiling, path, seconds, script, make))
                runs["ours"].append(load(ours, path, seconds, script, make))
            results[name] = {who: median_run(r) for who, r in runs.items()}

        def patch(w: int, i: int) -> tuple[str, str, bytes]:
            return "PATCH", f"/tickets/{random.randint(1, n)}", json.dumps({"title": f"modifié {w} {i}"}).encode()

        results["PATCH"] = {
            "ours": median_run([load(ours, "/tickets", seconds, PATCH_LUA % {"n": n}, patch) for _ in range(repeat)])
        }
        if json_server:  # writes side by side with json-server, alternating as above
            for name, lua, make in (
                ("POST", POST_LUA, lambda w, i: ("POST", "/tickets", POST_BODY)),
                ("PATCH", PATCH_LUA % {"n": n}, patch),
            ):
                runs = {"ours": [], "json-server": []}
                for _ in range(repeat):
                    runs["ours"].append(load(ours, "/tickets", seconds, lua, make))
                    runs["json-server"].append(load(json_server[1], "/tickets", seconds, lua, make))
                results[f"{name} vs json-server"] = {who: median_run(r) for who, r in runs.items()}
        highest = max(t["id"] for t in httpx.get(f"{ours}/tickets?sort=-id&limit=1", timeout=60).json())
        stride = highest // repeat
        deletes = []
        for r in range(repeat):  # each run deletes its own range of ids, so none is deleted twice
            first = 1 + r * stride
            deletes.append(
                load(
                    ours,
                    "/tickets",
                    seconds,
                    DELETE_LUA % {"first": first},
                    lambda w, i, first=first: ("DELETE", f"/tickets/{first + w + CONNECTIONS * i}", None),
                )
            )
        results["DELETE"] = {"ours": median_run(deletes)}
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
        shutil.rmtree(folder, ignore_errors=True)
    count = f"{n:_}".replace("_", " ")
    runs = f"median of {repeat} runs of {seconds} s"
    print(f"\n#### {count} tickets ({size_mb:.1f} MB), {CONNECTIONS} connections, {runs}\n")
    print("| workload | req/s | p50 ms | p99 ms | errors | other req/s | ratio to the other |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        o, c = r["ours"], r.get("ceiling") or r.get("json-server")
        ratio = f"{o['rps'] / c['rps']:.2f}×" if c and c["rps"] else "–"
        other = f"{c['rps']:.0f}" if c else "–"
        print(f"| {name} | {o['rps']:.0f} | {o['p50']:.1f} | {o['p99']:.1f} | {o['errors']:.0f} | {other} | {ratio} |")
    print(f"\nOne POST alone on this file (median of 7, fsynced before the answer): {post_ms:.1f} ms")
    sys.stdout.flush()


def bench_cli(n: int = 100_000, repeat: int = 7) -> None:
    folder = Path(tempfile.mkdtemp(prefix="tickets-bench-"))
    try:
        path = folder / "tickets.json"
        generate(path, n)
        commands = {
            "python script.py stats": [sys.executable, str(ROOT / "script.py"), "stats", "--file", str(path)],
            "bare json.load": [
                sys.executable,
                "-c",
                "import json, sys; json.load(open(sys.argv[1], encoding='utf-8'))",
                str(path),
            ],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(repeat):  # alternate, so that both see the same machine
            for name, command in commands.items():
                started = time.perf_counter()
                subprocess.run(command, check=True, capture_output=True)
                times[name].append(time.perf_counter() - started)
        stats, bare = (statistics.median(times[name]) for name in commands)
        print(
            f"\n#### CLI on {n:_} tickets ({path.stat().st_size / 1e6:.1f} MB), median of {repeat} processes\n".replace(
                "_", " "
            )
        )
        print(
            f"python script.py stats: {stats * 1000:.0f} ms; bare json.load: {bare * 1000:.0f} ms; "
            f"ratio {stats / bare:.2f}×"
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sizes", nargs="*", type=int, default=[1000, 10_000, 100_000])
    parser.add_argument("--seconds", type=int, default=3, help="length of one wrk run (default 3)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per workload and server (default 3)")
    parser.add_argument("--no-cli", action="store_true", help="skip the CLI measurement")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk not found (apt-get install wrk): using the built-in asyncio/httpx driver, itself slower")
    for n in args.sizes:
        bench_size(n, args.seconds, args.repeat)
    if not args.no_cli:
        bench_cli()


if __name__ == "__main__":
    main()
