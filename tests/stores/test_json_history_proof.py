"""The JSON store's history, tried as an operator would: backups put back, logs cut, emptied, deleted, replaced by
a FIFO or /dev/zero, edited by hand, two data files in one folder. Each is refused or handled without losing an
acknowledged record or handing an id out twice (issue 14)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import _serving, history_agrees, sync
from tickets.cli.main import main
from tickets.engine.chain import chained, record_bytes
from tickets.engine.errors import StoreUnreadable
from tickets.engine.history import NewComment, Page
from tickets.engine.models import TicketCreate
from tickets.stores.json_file import JsonStore
from tickets.stores.json_file.log_lines import line_of

ROOT = Path(__file__).resolve().parents[2]


def log_of(data_file: Path) -> Path:
    return data_file.parent / json.loads(data_file.read_text(encoding="utf-8"))["history_file"]


def server(data_file: Path) -> JsonStore:
    """A store as a server holds it: its history parsed, and kept current."""
    store = JsonStore(data_file)
    sync(store.warm_up())
    return store


def feed_ids(store: JsonStore) -> list[int]:
    return [e["id"] for e in sync(store.feed(0, 1000))]


def test_a_backup_put_back_under_a_running_server_never_hands_an_id_out_twice(tickets_file: Path) -> None:
    running = server(tickets_file)
    for body in ("un", "deux"):
        sync(running.add_comment(3, NewComment("ana", body)))
    backup = tickets_file.with_name("sauvegarde.json")
    shutil.copyfile(tickets_file, backup)  # cp tickets.json sauvegarde.json
    later = [sync(running.add_comment(3, NewComment("ana", body)))[0] for body in ("trois", "quatre")]
    seen = feed_ids(running)  # a poller read up to here
    shutil.copyfile(backup, tickets_file)  # cp sauvegarde.json tickets.json, under the running server
    assert [c["body"] for c in sync(running.comments(3, Page()))[0]] == ["un", "deux"]  # the restored state
    new, _ = sync(running.add_comment(3, NewComment("ana", "cinq")))
    assert new["id"] > max(c["id"] for c in later)  # no comment id given before the restore is given again
    after = feed_ids(running)
    assert len(after) == len(set(after)) and min(set(after) - set(seen)) > max(seen)  # the poller misses nothing
    fresh = JsonStore(tickets_file)  # every other process agrees
    assert feed_ids(fresh) == after
    aside = (tickets_file.parent / "tickets.json.set-aside.jsonl").read_text(encoding="utf-8")
    assert "trois" in aside and "quatre" in aside  # what was written since the backup is set aside, not destroyed
    assert set(seen) - set(after) == {
        json.loads(line)["event"]["id"] for line in aside.splitlines() if '"event"' in line
    }
    history_agrees(tickets_file)
    ticket = sync(fresh.add(TicketCreate(title="après la restauration")))
    assert ticket["id"] == 17  # no ticket was created after the backup: the next id is the backup's


def test_a_ticket_created_after_the_backup_keeps_its_id_for_itself(tickets_file: Path) -> None:
    store = JsonStore(tickets_file)
    sync(store.add(TicketCreate(title="avant")))
    backup = tickets_file.read_bytes()
    created = sync(store.add(TicketCreate(title="après la sauvegarde")))
    tickets_file.write_bytes(backup)
    assert sync(JsonStore(tickets_file).add(TicketCreate(title="nouveau")))["id"] == created["id"] + 1


@pytest.mark.parametrize(
    "damage",
    ["cut", "empty", "deleted", "fifo", "dev-zero", "path", "another-file"],
)
def test_a_log_that_does_not_match_its_head_is_refused_and_nothing_is_written(
    tickets_file: Path, damage: str, capsys: pytest.CaptureFixture[str]
) -> None:
    store = JsonStore(tickets_file)
    for body in ("un", "deux", "trois"):
        sync(store.add_comment(3, NewComment("ana", body)))
    log = log_of(tickets_file)
    if damage == "cut":
        os.truncate(log, log.stat().st_size - 20)  # truncate -s -20
    elif damage == "empty":
        log.write_bytes(b"")
    elif damage == "deleted":
        log.unlink()
    elif damage == "fifo":
        log.unlink()
        os.mkfifo(log)
    elif damage == "dev-zero":
        log.unlink()
        log.symlink_to("/dev/zero")
    elif damage == "path":
        head = json.loads(tickets_file.read_text(encoding="utf-8"))
        tickets_file.write_text(
            json.dumps({**head, "history_file": "../../etc/passwd"}, ensure_ascii=False, indent=2) + "\n",
            encoding="utf-8",
        )
    elif damage == "another-file":
        shutil.copyfile(log, tickets_file.with_name("autre.json.history.1.jsonl"))
        head = json.loads(tickets_file.read_text(encoding="utf-8"))
        tickets_file.write_text(
            json.dumps({**head, "history_file": "autre.json.history.1.jsonl"}, ensure_ascii=False, indent=2) + "\n",
            encoding="utf-8",
        )
    before = sorted(
        (p.name, p.read_bytes() if p.is_file() and not p.is_symlink() else b"") for p in tickets_file.parent.iterdir()
    )
    for args in (["history", "3"], ["comment", "3", "encore"], ["delete", "3"], ["update", "3", "--title", "x"]):
        assert main([*args, "--file", str(tickets_file)]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and ("history" in err or "log" in err), err  # one line, naming the log
    with _serving(JsonStore(tickets_file)) as client:
        answer = client.get("/tickets/3/comments")
        assert answer.status_code == 503 and "history" in answer.json()["detail"]
        assert client.post("/tickets", json={"title": "x"}).status_code == 503
    after = sorted(
        (p.name, p.read_bytes() if p.is_file() and not p.is_symlink() else b"") for p in tickets_file.parent.iterdir()
    )
    assert after == before  # nothing written, cut or deleted while it is refused


def test_a_log_damaged_further_back_is_found_by_a_full_read(tickets_file: Path) -> None:
    store = JsonStore(tickets_file)
    for body in ("un", "deux", "trois"):
        sync(store.add_comment(3, NewComment("ana", body)))
    log = log_of(tickets_file)
    lines = log.read_bytes().splitlines(keepends=True)
    committed = len(log.read_bytes())
    for damaged, where in (
        ([lines[0], lines[0], *lines[1:]], "line 2"),  # a line repeated
        ([lines[1], lines[0], *lines[2:]], "line 1"),  # two lines swapped
        ([lines[1], *lines[2:]], "line 1"),  # a comment removed
    ):
        data = b"".join(damaged)
        log.write_bytes(data)
        head = json.loads(tickets_file.read_text(encoding="utf-8"))
        tickets_file.write_text(  # the head made to agree with the length, as a careful forger would
            json.dumps({**head, "history_length": len(data)}, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
        with pytest.raises(StoreUnreadable, match=f"{where}: its digest does not follow"):
            sync(JsonStore(tickets_file).warm_up())
        assert main(["verify", "--file", str(tickets_file)]) == 1
        log.write_bytes(b"".join(lines))
        tickets_file.write_text(
            json.dumps({**head, "history_length": committed}, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
    assert main(["verify", "--file", str(tickets_file)]) == 0


def test_a_log_replaced_under_a_running_server_is_read_again_from_its_start(tickets_file: Path) -> None:
    running = server(tickets_file)
    sync(running.add_comment(3, NewComment("ana", "un")))
    log = log_of(tickets_file)
    saved = log.read_bytes()
    sync(running.add_comment(3, NewComment("ana", "deux")))
    head = tickets_file.read_bytes()
    replacement = log.with_name("remplaçant")
    replacement.write_bytes(saved)
    os.replace(replacement, log)  # another inode, shorter: the head no longer matches
    with pytest.raises(StoreUnreadable, match="records were lost"):
        sync(running.comments(3, Page()))
    with pytest.raises(StoreUnreadable, match="records were lost"):
        sync(running.add_comment(3, NewComment("ana", "trois")))
    assert tickets_file.read_bytes() == head and log.read_bytes() == saved


def test_two_data_files_of_one_folder_never_share_a_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """X and X.json side by side, written by the CLI (which tidies old logs at each start)."""
    bare, dotted = tmp_path / "X", tmp_path / "X.json"
    for _ in range(2):
        for path in (bare, dotted):
            for args in (["add", path.name], ["comment", "1", f"dans {path.name}"], ["update", "1", "--title", "x"]):
                assert main([*args, "--file", str(path)]) == 0
    for path in (bare, dotted):
        assert main(["comments", "1", "--json", "--file", str(path)]) == 0
        assert [c["body"] for c in json.loads(capsys.readouterr().out.splitlines()[-1])] == [f"dans {path.name}"] * 2
    for path in (bare, dotted):
        assert main(["verify", "--file", str(path)]) == 0
    assert main(["delete", "1", "--file", str(bare)]) == 0  # a rewrite of X's log leaves X.json's alone
    assert [c["body"] for c in sync(JsonStore(dotted).comments(1, Page()))[0]] == ["dans X.json"] * 2


def test_a_rewritten_log_keeps_its_permissions(tickets_file: Path) -> None:
    store = JsonStore(tickets_file)
    sync(store.add_comment(3, NewComment("ana", "privé")))
    log_of(tickets_file).chmod(0o600)
    sync(store.delete(3))  # written again under its next name
    assert log_of(tickets_file).stat().st_mode & 0o777 == 0o600


def _max_memory_of_show(data_file: Path) -> int:
    """The peak memory (kB) of a CLI process that shows ticket 1 of data_file."""
    program = (
        "import resource, sys; from tickets.cli.main import main; code = main(sys.argv[1:]); "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss); sys.exit(code)"
    )
    done = subprocess.run(
        [sys.executable, "-c", program, "show", "1", "--file", str(data_file)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
        timeout=120,
    )
    return int(done.stdout.splitlines()[-1])


def test_show_reads_only_the_end_of_a_big_log(tmp_path: Path) -> None:
    """A CLI `show` on a store whose log holds 120 MB of comments reads the log's last line, not the log."""
    small = tmp_path / "petit" / "tickets.json"
    small.parent.mkdir()
    sync(JsonStore(small).add(TicketCreate(title="un")))
    big = tmp_path / "grand" / "tickets.json"
    big.parent.mkdir()
    sync(JsonStore(big).add(TicketCreate(title="un")))
    head = json.loads(big.read_text(encoding="utf-8"))
    log = log_of(big)
    previous, lines = bytes.fromhex(head["history_digest"]), [log.read_bytes()]
    for n in range(1, 12_001):  # 12,000 comments of 10 kB and their events, chained as the service chains them
        at = "2026-11-28T09:00:00Z"
        comment = {"id": n, "ticket_id": 1, "author": "ana", "body": "x" * 10_000, "internal": False, "created_at": at}
        event = {"id": n + 1, "ticket_id": 1, "at": at, "actor": "ana", "type": "commented"}
        event["changes"] = {"comment_id": {"from": None, "to": n}}
        for kind, record in (("comment", comment), ("event", event)):
            previous = chained(previous, record_bytes(kind, record))
            lines.append(line_of(kind, record_bytes(kind, record), previous))
    data = b"".join(lines)
    log.write_bytes(data)
    head.update(next_comment_id=12_001, next_event_id=12_002, history_length=len(data), history_digest=previous.hex())
    big.write_text(json.dumps(head, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    assert len(data) > 120_000_000
    assert main(["verify", "--file", str(big)]) == 0  # a history the service itself would have written
    grown = _max_memory_of_show(big) - _max_memory_of_show(small)
    assert grown < 20_000, f"show took {grown} kB more for a 120 MB log"


def test_a_log_put_back_is_seen_at_the_next_request(tickets_file: Path) -> None:
    """The refusal of a damaged log is not remembered as the data file's: the log put back (or damaged
    another way) is read again at the next request, with tickets.json untouched."""
    store = JsonStore(tickets_file)
    sync(store.add_comment(3, NewComment("ana", "un")))
    log = log_of(tickets_file)
    saved = log.read_bytes()
    with _serving(JsonStore(tickets_file)) as client:
        assert client.get("/tickets/3/comments").status_code == 200
        os.truncate(log, len(saved) - 20)
        assert "records were lost" in client.get("/tickets/3/comments").json()["detail"]
        log.unlink()
        os.mkfifo(log)
        assert "not a regular file" in client.get("/tickets/3/comments").json()["detail"]
        log.unlink()
        log.write_bytes(saved)
        answer = client.get("/tickets/3/comments")
        assert answer.status_code == 200 and [c["body"] for c in answer.json()] == ["un"]
