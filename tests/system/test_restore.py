"""A backup of tickets.json put back under a 2-worker server and CLI writers that keep writing (issue 14): no id is
ever handed out twice, a poller of /events from before the restore misses nothing it should see, and every
event written between the backup and the restore is in the set-aside file, not destroyed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from conftest import ROOT, eventually, history_agrees, running_server, store_environment
from tickets.stores.json_file.folder_lock import FolderLock

pytestmark = pytest.mark.slow


def test_a_backup_put_back_under_running_servers_and_cli_writers(tickets_file: Path) -> None:
    with running_server(tickets_file, workers=2) as base, httpx.Client(base_url=base, timeout=30) as http:
        stop, stop_polling = threading.Event(), threading.Event()
        errors: list[str] = []
        polled: list[int] = []
        acknowledged: list[int] = []  # comment ids answered 201, before and after the restore

        def poll() -> None:
            after = 0
            while not stop_polling.is_set():
                page = http.get("/events", params={"after": after, "limit": 1000}).json()
                polled.extend(e["id"] for e in page)
                after = page[-1]["id"] if page else after

        def comment(who: str) -> None:
            while not stop.is_set():
                answer = http.post("/tickets/3/comments", json={"body": who, "author": who})
                if answer.status_code != 201:
                    errors.append(answer.text)
                    return
                acknowledged.append(answer.json()["id"])

        def cli_writer() -> None:
            env = store_environment(tickets_file)
            while not stop.is_set():
                done = subprocess.run(
                    [sys.executable, "script.py", "comment", "4", "en ligne de commande"],
                    cwd=ROOT,
                    env=env,
                    capture_output=True,
                    text=True,
                )
                if done.returncode:
                    errors.append(done.stderr)
                    return

        threads = [threading.Thread(target=t, args=a) for t, a in ((poll, ()), (comment, ("a",)), (comment, ("b",)))]
        threads.append(threading.Thread(target=cli_writer))
        for thread in threads:
            thread.start()
        try:
            eventually(lambda: len(acknowledged) >= 20, "20 comments before the backup")
            backup = tickets_file.with_name("sauvegarde.json")
            shutil.copyfile(tickets_file, backup)  # cp tickets.json sauvegarde.json, while they write
            backed_up = json.loads(backup.read_text(encoding="utf-8"))["next_event_id"] - 1
            count = len(acknowledged)
            eventually(lambda: len(acknowledged) >= count + 20, "20 comments after the backup")
            # cp sauvegarde.json tickets.json (through a temporary name, so no reader sees a half-copied file).
            # The test holds the folder's lock for that moment, so that the instant of the restore is exact:
            # every write is wholly before it or wholly after it.
            lock = FolderLock(tickets_file.parent)
            lock.acquire(time.monotonic() + 30)
            try:
                shutil.copyfile(backup, tickets_file.with_name("restauré.tmp"))
                os.replace(tickets_file.with_name("restauré.tmp"), tickets_file)
                given = {json.loads(line)["event"]["id"] for line in _log_past(tickets_file, backed_up)}
            finally:
                lock.release()
            count = len(acknowledged)
            eventually(lambda: len(acknowledged) >= count + 20, "20 comments after the restore")
            stop.set()
            for thread in threads[1:]:
                thread.join(60)
            last = _last_event(http)
            eventually(lambda: polled and polled[-1] == last, "the poller caught up")
        finally:
            stop.set()
            stop_polling.set()
            for thread in threads:
                thread.join(60)
        assert not errors, errors
        final = [e["id"] for e in http.get("/events", params={"limit": 1000}).json()]
        while len(final) % 1000 == 0 and final:
            more = [e["id"] for e in http.get("/events", params={"after": final[-1], "limit": 1000}).json()]
            if not more:
                break
            final += more
    assert len(final) == len(set(final)) and final == sorted(final)  # no event id twice
    assert len(acknowledged) == len(set(acknowledged))  # no comment id twice
    written_since_restore = {i for i in final if i > max(given)}
    assert written_since_restore and written_since_restore <= set(polled)  # the poller missed none of them
    aside = tickets_file.with_name("tickets.json.set-aside.jsonl").read_text(encoding="utf-8")
    aside_events = {json.loads(line)["event"]["id"] for line in aside.splitlines() if line.startswith('{"event"')}
    assert given <= aside_events  # every event written between the backup and the restore: set aside
    assert not (given & set(final))
    history_agrees(tickets_file)


def _log_past(data_file: Path, event_id: int) -> list[str]:
    """The event lines of the live log past event_id (read under the lock: what the restore leaves behind)."""
    head = json.loads(data_file.with_name("sauvegarde.json").read_text(encoding="utf-8"))
    lines = (data_file.parent / head["history_file"]).read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.startswith('{"event"') and json.loads(line)["event"]["id"] > event_id]


def _last_event(http: httpx.Client) -> int:
    after = 0
    while True:
        page = http.get("/events", params={"after": after, "limit": 1000}).json()
        if not page:
            return after
        after = page[-1]["id"]
