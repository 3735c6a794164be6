"""Benchmark: the real server (`uvicorn main:app`) against the framework ceiling, on generated files.

    python benchmarks/bench.py                 # 1 000, 10 000 and 100 000 tickets
    python benchmarks/bench.py 10000 --seconds 5

Never touches tickets.json: every file is generated in a temporary folder. Uses wrk (Debian package)
for the load, 32 connections; prints req/s, p50/p99 latency, errors, and each figure as a ratio to the
ceiling measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
CONNECTIONS = 32

LUA = {
    "post": 'wrk.method = "POST"\nwrk.body = \'{"title": "Imprimante en panne", "priority": "high"}\'\n'
            'wrk.headers["Content-Type"] = "application/json"\n',
    "patch": 'wrk.headers["Content-Type"] = "application/json"\nlocal n = 0\n'
             "request = function()\n  n = n + 1\n  local id = math.random(1, {n})\n"
             '  return wrk.format("PATCH", "/tickets/" .. id, nil, \'{{"title": "modifié \' .. n .. \'"}}\')\nend\n',
    # Thread 1 deletes ids 1, 3, 5...; thread 2 ids 2, 4, 6...: no id twice, 404s only once ids run out.
    "delete": "local threads = 0\nsetup = function(thread) threads = threads + 1; thread:set('base', threads) end\n"
              "local n = -1\nrequest = function()\n  n = n + 1\n"
              "  return wrk.format(\"DELETE\", \"/tickets/\" .. (n * 2 + base))\nend\n",
}  # fmt: skip


def generate(path: Path, n: int) -> None:
    tickets = [{"id": i, "title": f"Imprimante du {i % 9}e étage en panne n°{i}",
                "description": "L'imprimante affiche une erreur de bourrage mais aucun papier n'est coincé.",
                "status": ("open", "in_progress", "closed")[i % 3], "priority": ("low", "medium", "high", "urgent")[i % 4],
                "assignee": None if i % 4 else "julie.martin", "created_at": "2026-11-20T09:14:00Z",
                "updated_at": "2026-11-20T09:14:00Z"} for i in range(1, n + 1)]  # fmt: skip
    path.write_text(json.dumps({"next_id": n + 1, "tickets": tickets}, ensure_ascii=False, indent=2) + "\n")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(app: str, path: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", app, "--port", str(port), "--log-level", "warning"],
                            cwd=ROOT, env={**os.environ, "TICKETS_FILE": str(path), "PYTHONPATH": str(ROOT)})  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            httpx.get(f"{base}/tickets/1", timeout=5)
            return proc, base
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{app} did not start")


def wrk(url: str, seconds: float, script: str | None = None) -> dict[str, float]:
    command = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{max(1, round(seconds))}s", "--latency", "--timeout", "30s", url]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(script or "")
    out = subprocess.run([*command, "-s", lua.name], capture_output=True, text=True).stdout
    os.unlink(lua.name)

    def latency(label: str) -> float:
        m = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)\b", out)
        return float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)] if m else float("nan")

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "p50": latency("50"),
            "p99": latency("99"), "errors": int(errors.group(1)) if errors else 0
            + (sum(map(int, socket_errors.groups())) if socket_errors else 0)}  # fmt: skip


def one_post_ms(base: str, repeat: int = 7) -> float:
    times = []
    with httpx.Client(base_url=base, timeout=60) as http:
        for _ in range(repeat):
            t = time.perf_counter()
            assert http.post("/tickets", json={"title": "mesure"}).status_code == 201
            times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def bench_size(n: int, seconds: float) -> None:
    folder = Path(tempfile.mkdtemp(prefix="tickets-bench-"))
    try:
        ours_file, ceiling_file = folder / "ours.json", folder / "ceiling.json"
        generate(ours_file, n)
        shutil.copyfile(ours_file, ceiling_file)
        reads = {"GET all": "/tickets", "GET one": "/tickets/{mid}", "filter status=open": "/tickets?status=open",
                 "filter + limit=50": "/tickets?status=open&limit=50"}  # fmt: skip
        results: dict[str, dict] = {}
        ceiling_proc, ceiling = start("benchmarks.ceiling:app", ceiling_file)
        try:
            for name, url in reads.items():
                results[name] = {"ceiling": wrk(ceiling + url.format(mid=n // 2), seconds)}
            results["POST"] = {"ceiling": wrk(ceiling + "/tickets", seconds, LUA["post"])}
        finally:
            ceiling_proc.kill()
        proc, ours = start("main:app", ours_file)
        try:
            for name, url in reads.items():
                results[name]["ours"] = wrk(ours + url.format(mid=n // 2), seconds)
            results["POST"]["ours"] = wrk(ours + "/tickets", seconds, LUA["post"])
            results["PATCH"] = {"ours": wrk(ours + "/tickets/1", seconds, LUA["patch"].format(n=n))}
            results["DELETE"] = {"ours": wrk(ours + "/tickets/1", seconds, LUA["delete"])}
            post_ms = one_post_ms(ours)
        finally:
            proc.kill()
        print(f"\n## {n} tickets ({ours_file.stat().st_size / 1e6:.1f} MB), {CONNECTIONS} connections, {seconds:g} s each\n")
        print("| workload | req/s | p50 ms | p99 ms | errors | ceiling req/s | ratio to ceiling |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for name, r in results.items():
            o, c = r["ours"], r.get("ceiling")
            ratio = f"{o['rps'] / c['rps']:.2f}×" if c else "–"
            ceiling_rps = f"{c['rps']:.0f}" if c else "–"
            print(f"| {name} | {o['rps']:.0f} | {o['p50']:.1f} | {o['p99']:.1f} | {o['errors']} | {ceiling_rps} | {ratio} |")
        print(f"\nOne POST alone (median of 7, fsynced): {post_ms:.1f} ms")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def bench_cli(n: int = 100_000, repeat: int = 5) -> None:
    folder = Path(tempfile.mkdtemp(prefix="tickets-bench-"))
    try:
        path = folder / "tickets.json"
        generate(path, n)

        def median_s(command: list[str]) -> float:
            times = []
            for _ in range(repeat):
                t = time.perf_counter()
                subprocess.run(command, check=True, capture_output=True)
                times.append(time.perf_counter() - t)
            return statistics.median(times)

        stats = median_s([sys.executable, str(ROOT / "script.py"), "stats", "--file", str(path)])
        bare = median_s([sys.executable, "-c", "import json, sys; json.load(open(sys.argv[1], encoding='utf-8'))",
                         str(path)])  # fmt: skip
        print(f"\n## CLI on {n} tickets (median of {repeat} processes)\n")
        print(f"python script.py stats: {stats * 1000:.0f} ms; bare json.load: {bare * 1000:.0f} ms; "
              f"ratio {stats / bare:.2f}×")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sizes", nargs="*", type=int, default=[1000, 10_000, 100_000])
    parser.add_argument("--seconds", type=int, default=3)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    for n in args.sizes:
        bench_size(n, args.seconds)
    bench_cli()


if __name__ == "__main__":
    main()
