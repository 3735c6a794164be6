"""Benchmark: what comments and history cost the writes of the JSON store.

    python benchmarks/bench_history.py               # 10 000 tickets, 5 events and 2 comments each
    python benchmarks/bench_history.py --tickets 10000 --seconds 5 --repeat 3
    python benchmarks/bench_history.py --before 0185008   # an earlier commit with history, on the same log

Three servers side by side in one run, each on its own generated file in a temporary folder:

- before: the service as it was before comments and history (git commit BEFORE, checked out in a
  temporary worktree), on the tickets alone; with --before REV, the service at REV (a commit that has the
  history) on the same tickets and history as today's, to measure a change of today's against it;
- history: today's service on the same tickets with 5 events and 2 comments each in their log;
- fresh: today's service on the tickets alone (its log starts empty).

POST and PATCH rates (the goal: history >= 0.7x before), and the ticket listings, which must not
change (comments and events are not in a ticket's JSON). Runs alternate between the servers; the
table gives medians. Load comes from wrk, 32 connections (bench.py's helpers).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import bench

ROOT = bench.ROOT
sys.path.insert(0, str(ROOT))
from tickets.engine.chain import GENESIS, chained, record_bytes  # noqa: E402
from tickets.stores.json_file.log_lines import line_of  # noqa: E402

BEFORE = "c342640"  # main just before comments and history


def with_history(path: Path, n: int, *, chain: bool = True) -> tuple[int, int]:
    """Give the generated tickets a history: created (as a draft), two comments, two real changes, each
    ticket's events replaying to the ticket as it is. Returns (events, comments).

    chain: the log as today's service writes it (digests, its name, its committed length); else as versions
    before the digests wrote it (for --before such a commit)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    lines: list[bytes] = []
    digest = GENESIS

    def line(kind: str, record: dict) -> bytes:
        nonlocal digest
        canonical = record_bytes(kind, record)
        if not chain:
            return line_of(kind, canonical, None)
        digest = chained(digest, canonical)
        return line_of(kind, canonical, digest)

    event_id = comment_id = 1
    for t in data["tickets"]:
        day = f"2026-11-{14 + t['id'] % 14:02d}"
        draft = {**t, "title": "brouillon", "description": ""}
        steps = [
            (
                "created",
                {f: {"from": None, "to": draft[f]} for f in ("title", "description", "status", "priority", "assignee")},
            ),
            ("commented", None),
            ("commented", None),
            ("updated", {"title": {"from": "brouillon", "to": t["title"]}}),
            ("updated", {"description": {"from": "", "to": t["description"]}}),
        ]
        for minute, (kind, changes) in enumerate(steps):
            at = f"{day}T09:{minute:02d}:00Z"
            if kind == "commented":
                lines.append(
                    line(
                        "comment",
                        {
                            "id": comment_id,
                            "ticket_id": t["id"],
                            "author": "julie.martin",
                            "body": "Le technicien passe dans l'après-midi, merci de laisser le poste allumé.",
                            "internal": comment_id % 2 == 0,
                            "created_at": at,
                        },
                    )
                )
                changes = {"comment_id": {"from": None, "to": comment_id}}
                comment_id += 1
            lines.append(
                line(
                    "event",
                    {
                        "id": event_id,
                        "ticket_id": t["id"],
                        "at": at,
                        "actor": "julie.martin",
                        "type": kind,
                        "changes": changes,
                    },
                )
            )
            event_id += 1
    log = (path.name if chain else path.stem) + ".history.1.jsonl"
    (path.parent / log).write_bytes(b"".join(lines))
    head = {"next_id": data["next_id"], "next_comment_id": comment_id, "next_event_id": event_id, "history_file": log}
    if chain:
        head.update(history_length=(path.parent / log).stat().st_size, history_digest=digest.hex())
    path.write_text(
        json.dumps({**head, "tickets": data["tickets"]}, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return event_id - 1, comment_id - 1


def start_in(folder: Path, place: Path | str) -> tuple[subprocess.Popen, str]:
    """`uvicorn main:app` from a given checkout of the project, on a file or a postgresql:// URL."""
    port = bench.free_port()
    command = [sys.executable, "-m", "uvicorn", "main:app", "--port", str(port), "--log-level", "warning"]
    env = {k: v for k, v in os.environ.items() if k not in ("TICKETS_FILE", "TICKETS_DATABASE_URL")}
    env.update(
        {
            "TICKETS_DATABASE_URL" if str(place).startswith("postgresql://") else "TICKETS_FILE": str(place),
            "PYTHONPATH": str(folder),
        }
    )
    process = subprocess.Popen(command, cwd=folder, env=env)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            bench.httpx.get(f"{base}/tickets/1", timeout=5)
            return process, base
        except bench.httpx.TransportError:
            bench.time.sleep(0.1)
    raise RuntimeError("the server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--before", default=BEFORE, help=f"the commit to compare with (default {BEFORE})")
    parser.add_argument(
        "--before-chained",
        action="store_true",
        help="the commit given by --before already writes digests in its log",
    )
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="the same three servers on PostgreSQL (a server started for the run, in /tmp)",
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed (apt-get install wrk)")
    n = args.tickets
    folder = Path(tempfile.mkdtemp(prefix="tickets-bench-history-"))
    worktree = folder / "before"
    add = ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(worktree), args.before]
    subprocess.run(add, check=True, capture_output=True)
    processes: list[subprocess.Popen] = []
    cluster = None
    try:
        files = {}
        for name in ("before", "history", "fresh"):
            (folder / name / "data").mkdir(parents=True, exist_ok=True)
            files[name] = folder / name / "data" / "tickets.json"
            bench.generate(files[name], n)
        events, comments = with_history(files["history"], n)
        if args.before != BEFORE:  # a commit that has the history: it gets the same log as today's service
            with_history(files["before"], n, chain=args.before_chained)
        places: dict[str, Path | str] = dict(files)
        if args.postgres:  # each file copied into its own database, by the service it is measured with
            sys.path.insert(0, str(ROOT / "tests"))
            from postgres_cluster import Cluster, binaries

            cluster = Cluster(binaries())
            cluster.init(settings="-c shared_buffers=1GB")
            for name, path in files.items():
                places[name] = cluster.url(cluster.new_database())
                checkout = worktree if name == "before" else ROOT
                subprocess.run(
                    [sys.executable, str(checkout / "script.py"), "copy", str(path), str(places[name])],
                    check=True,
                    cwd=checkout,
                    capture_output=True,
                )
        print(
            f"{n} tickets; the history server's log holds {events} events and {comments} comments "
            f"({(files['history'].parent / 'tickets.json.history.1.jsonl').stat().st_size / 1e6:.1f} MB); "
            f"tickets.json is {files['history'].stat().st_size / 1e6:.1f} MB"
        )
        servers = {}
        for name, place in places.items():
            process, base = start_in(worktree if name == "before" else ROOT, place)
            processes.append(process)
            servers[name] = base
        workloads = {
            "POST /tickets": ("/tickets", bench.POST_LUA),
            "PATCH /tickets/{id}": ("/tickets/1", bench.PATCH_LUA % {"n": n}),
            "GET /tickets (all)": ("/tickets", ""),
            "GET /tickets?status=open&limit=50": ("/tickets?status=open&limit=50", ""),
        }
        results: dict[str, dict[str, list[dict[str, float]]]] = {w: {s: [] for s in servers} for w in workloads}
        for _ in range(args.repeat):
            for workload, (path, lua) in workloads.items():
                for name, base in servers.items():
                    results[workload][name].append(bench.wrk(base, path, args.seconds, lua))
        store = "PostgreSQL" if args.postgres else "the JSON file"
        print(f"\n{store}: medians of {args.repeat} alternating runs of {args.seconds} s, 32 connections")
        print(
            f"{'workload':36} {'before':>14} {'history':>14} {'fresh':>14} {'history/before':>15} {'fresh/before':>13}"
        )
        for workload in workloads:
            m = {name: bench.median_run(runs) for name, runs in results[workload].items()}
            cells = [f"{m[s]['rps']:8.0f} req/s" for s in servers]
            errors = sum(m[s]["errors"] for s in servers)
            print(
                f"{workload:36} {cells[0]:>14} {cells[1]:>14} {cells[2]:>14} "
                f"{m['history']['rps'] / m['before']['rps']:14.2f}x {m['fresh']['rps'] / m['before']['rps']:12.2f}x"
                + (f"  ({errors:.0f} errors)" if errors else "")
            )
            print(
                f"{'  p50 / p99 ms':36} "
                + " ".join(f"{m[s]['p50']:6.1f}/{m[s]['p99']:6.1f}".rjust(14) for s in servers)
            )
    finally:
        for process in processes:
            process.terminate()
            process.wait(10)
        if cluster is not None:
            cluster.remove()
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(worktree)], capture_output=True, check=False
        )
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
