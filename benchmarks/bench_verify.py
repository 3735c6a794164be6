"""Benchmark: `python script.py verify` on a history of a million events (the goal: under 30 s here).

    python benchmarks/bench_verify.py                      # 200 000 tickets: 1 000 000 events, 400 000 comments
    python benchmarks/bench_verify.py --tickets 20000 --repeat 3
    python benchmarks/bench_verify.py --postgres           # the same history copied into PostgreSQL too

The tickets are generated (bench.py) and given the history of bench_history.py (each ticket created, commented
twice, changed twice; chained as the service chains it), in a temporary folder, never tickets.json. verify runs
as a user runs it, in its own process; the table gives the median wall time and the peak memory.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bench_history

import bench

ROOT = bench.ROOT


def timed(command: list[str]) -> tuple[float, int, str]:
    """Wall seconds, peak memory (MB) and the output line of one command (its own process)."""
    program = (
        "import resource, subprocess, sys; done = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
        "print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
        "print((done.stdout or done.stderr).strip())"
    )
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", program, *command], capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - start
    code, peak_kb = done.stdout.splitlines()[0].split()
    if code != "0":
        sys.exit(f"verify failed: {done.stdout}")
    return seconds, int(peak_kb) // 1024, done.stdout.splitlines()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres", action="store_true", help="also verify the same history in PostgreSQL")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="tickets-bench-verify-"))
    data_file = folder / "tickets.json"
    bench.generate(data_file, args.tickets)
    events, comments = bench_history.with_history(data_file, args.tickets)
    log = folder / f"{data_file.name}.history.1.jsonl"
    print(f"{args.tickets} tickets, {events} events, {comments} comments; log {log.stat().st_size / 1e6:.0f} MB")
    places = {"JSON file": ["--file", str(data_file)]}
    cluster = None
    if args.postgres:
        sys.path.insert(0, str(ROOT / "tests"))
        from postgres_cluster import Cluster, binaries

        cluster = Cluster(binaries())
        cluster.init(settings="-c shared_buffers=1GB")
        url = cluster.url(cluster.new_database())
        subprocess.run([sys.executable, "script.py", "copy", str(data_file), url], check=True, cwd=ROOT)
        places["PostgreSQL"] = ["--db", url]
    try:
        for name, where in places.items():
            runs = [timed([sys.executable, "script.py", "verify", *where]) for _ in range(args.repeat)]
            seconds = statistics.median(r[0] for r in runs)
            peak = max(r[1] for r in runs)
            print(f"{name:10} verify: median {seconds:6.1f} s of {args.repeat}, peak memory {peak} MB")
            print(f"           {runs[-1][2]}")
    finally:
        if cluster is not None:
            cluster.remove()


if __name__ == "__main__":
    main()
