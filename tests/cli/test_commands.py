"""The command line through main([...]), on both stores: every command, its output and its exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT
from tickets.cli import conversation
from tickets.cli.main import main
from tickets.cli.output import BAR_WIDTH, bar_chart
from tickets.engine.rules import Reading, count
from tickets.engine.sla import NO_POLICY

# --------------------------------------------------------------------------- the CLI


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_without_arguments_prints_stats(
    capsys: pytest.CaptureFixture[str], tickets_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TICKETS_FILE", str(tickets_file))
    code, out, _ = run(capsys)
    assert code == 0
    assert "total" in out and "14" in out and "in_progress" in out


def test_cli_stats_json_is_the_api_shape(
    capsys: pytest.CaptureFixture[str], store_args: list[str], stored: Callable[[], Any]
) -> None:
    code, out, _ = run(capsys, "stats", "--json", *store_args)
    assert code == 0
    stats = json.loads(out)
    assert len(stats.pop("per_day")) == 14
    assert stats == count(stored()[1].values(), Reading(NO_POLICY, "2026-11-28T00:00:00Z"))  # no policy: no clock


def test_cli_list_filters_and_sorts_as_typed(capsys: pytest.CaptureFixture[str], store_args: list[str]) -> None:
    code, out, _ = run(
        capsys,
        "list",
        *store_args,
        "--status",
        "ouvert",
        "--status",
        "en cours",
        "--sort",
        "-priority",
        "--limit",
        "3",
        "--json",
    )
    assert code == 0
    rows = json.loads(out)
    assert len(rows) == 3
    assert [r["priority"] for r in rows] == ["urgent", "urgent", "high"]
    assert {r["status"] for r in rows} <= {"open", "in_progress"}


def test_cli_list_table(capsys: pytest.CaptureFixture[str], store_args: list[str]) -> None:
    code, out, _ = run(capsys, "list", *store_args, "--q", "imprimante")
    assert code == 0
    assert "Imprimante du 2e étage" in out and out.splitlines()[0].split()[:3] == ["ID", "STATUS", "PRIORITY"]


def test_cli_add_update_show_delete(capsys: pytest.CaptureFixture[str], store_args: list[str]) -> None:
    f = store_args
    code, out, _ = run(capsys, "add", "Écran qui clignote", "--priority", "HIGH", "--assignee", "ana", "--json", *f)
    created = json.loads(out)
    assert code == 0 and created["id"] == 17 and created["priority"] == "high"
    code, out, _ = run(capsys, "update", "17", "--status", "fermé", "--unassign", "--json", *f)
    assert code == 0 and json.loads(out)["status"] == "closed" and json.loads(out)["assignee"] is None
    code, out, _ = run(capsys, "show", "17", *f)
    assert code == 0 and "closed" in out and "Écran qui clignote" in out
    assert run(capsys, "delete", "17", *f)[:2] == (0, "deleted ticket 17\n")
    code, _, err = run(capsys, "delete", "17", *f)
    assert code == 1 and err == "script.py: error: ticket 17 not found\n"


@pytest.mark.parametrize(
    "argv",
    [
        ["add", "x", "--priority", "critical"],
        ["add", "   "],
        ["update", "3"],
        ["update", "3", "--status", "done"],
        ["list", "--sort", "colour"],
        ["list", "--limit", "0"],
        ["show", "abc"],
        ["show", "0"],
        ["update", "3", "--assignee", "a", "--unassign"],
        ["frobnicate"],
    ],
)
def test_cli_invalid_input_exits_2_with_a_message(
    capsys: pytest.CaptureFixture[str], store_args: list[str], stored: Callable[[], Any], argv: list[str]
) -> None:
    before = stored()
    try:
        code = main([*argv, *store_args])
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2
    assert "error:" in err and "Traceback" not in err
    assert stored() == before


def test_cli_unreadable_file_exits_1(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_bytes(b"")
    code, _, err = run(capsys, "stats", "--file", str(path))
    assert code == 1
    assert err.startswith("script.py: error: ") and str(path) in err and "empty" in err
    assert path.read_bytes() == b""


def test_cli_as_a_real_process(tickets_file: Path) -> None:
    env = {**os.environ, "TICKETS_FILE": str(tickets_file)}
    done = subprocess.run([sys.executable, str(ROOT / "script.py")], env=env, capture_output=True, text=True)
    assert done.returncode == 0 and "total" in done.stdout
    bad = subprocess.run(
        [sys.executable, str(ROOT / "script.py"), "show", "999"], env=env, capture_output=True, text=True
    )
    assert bad.returncode == 1
    assert bad.stderr == "script.py: error: ticket 999 not found\n"


# --------------------------------------------------------------------------- the CLI, on both stores


def test_the_cli_comments_and_shows_the_history(capsys: pytest.CaptureFixture[str], store_args: list[str]) -> None:
    def run(*args: str) -> tuple[int, str, str]:
        code = main([*args, *store_args])
        out, err = capsys.readouterr()
        return code, out, err

    assert run("comment", "3", "Cartouche changée", "--actor", "karim")[:2] == (0, "added comment 1 to ticket 3\n")
    code, out, _ = run("comment", "3", "Note", "--internal", "--author", "julie", "--json")
    assert code == 0 and json.loads(out)["internal"] is True and json.loads(out)["author"] == "julie"
    assert run("update", "3", "--status", "fermé", "--actor", "karim")[0] == 0
    code, out, _ = run("comments", "3")
    assert (
        code == 0 and "#1" in out and "Cartouche changée" in out and "(internal)" in out and "2 shown, 2 in all" in out
    )
    code, out, _ = run("history", "3")
    assert code == 0 and 'status: "open" -> "closed"' in out and "karim" in out and "3 shown, 3 in all" in out
    code, out, _ = run("history", "3", "--json")
    assert [e["type"] for e in json.loads(out)] == ["commented", "commented", "updated"]
    code, out, _ = run("comments", "3", "--json", "--limit", "1", "--offset", "1")
    assert [c["author"] for c in json.loads(out)] == ["julie"]
    code, out, _ = run("stats", "--days", "3")
    assert code == 0 and "per day (UTC)" in out and len([line for line in out.splitlines() if line[:2] == "20"]) == 3
    assert run("comment", "99", "x")[0] == 1
    assert run("history", "99")[0] == 1
    code, _, err = run("comment", "3", "")
    assert code == 2 and "body" in err
    code, _, err = run("comment", "3", "x", "--actor", " ")
    assert code == 2 and "--actor" in err
    with pytest.raises(SystemExit) as refused:  # argparse's own error: the bound is in the parser
        run("stats", "--days", "400")
    assert refused.value.code == 2


def test_the_bar_chart_scales_to_the_busiest_day() -> None:
    chart = bar_chart(
        [{"date": "2026-11-26", "opened": 10, "closed": 0}, {"date": "2026-11-27", "opened": 1, "closed": 5}], "#"
    )
    lines = chart.splitlines()
    assert lines[1].count("#") == BAR_WIDTH and lines[1].endswith(" 0")  # an empty bar for a zero
    assert lines[2].count("#") == BAR_WIDTH // 10 + BAR_WIDTH // 2  # 1 and 5 of a busiest 10


BIGINT_MAX = 2**63 - 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["list", "--limit", str(BIGINT_MAX + 1)], f"invalid limit '{BIGINT_MAX + 1}'"),
        (["list", "--offset", str(BIGINT_MAX + 1)], f"invalid offset '{BIGINT_MAX + 1}'"),
        (["show", str(BIGINT_MAX + 1)], f"invalid ticket id '{BIGINT_MAX + 1}'"),
        (["comments", "3", "--offset", "9" * 5000], "invalid offset '999999999999999999999999999..."),
        (["history", str(BIGINT_MAX + 1)], "invalid ticket id"),
        (["stats", "--days", "367"], "invalid number of days '367': expected a whole number from 1 to 366"),
    ],
)
def test_cli_numbers_out_of_range_exit_2_with_one_line(
    capsys: pytest.CaptureFixture[str], store_args: list[str], argv: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as refused:
        main([*argv, *store_args])
    err = capsys.readouterr().err
    assert refused.value.code == 2
    assert message in err and err.splitlines()[-1].startswith("script.py ") and len(err.splitlines()[-1]) < 200
    if "days" not in message:
        assert f"to {BIGINT_MAX}" in err


def test_cli_largest_numbers_in_range_are_answered(capsys: pytest.CaptureFixture[str], store_args: list[str]) -> None:
    assert run(capsys, "list", "--limit", str(BIGINT_MAX), "--offset", str(BIGINT_MAX), *store_args)[0] == 0
    assert run(capsys, "comments", "3", "--limit", str(BIGINT_MAX), "--offset", str(BIGINT_MAX), *store_args)[0] == 0
    code, _, err = run(capsys, "show", str(BIGINT_MAX), *store_args)
    assert code == 1 and err == f"script.py: error: ticket {BIGINT_MAX} not found\n"


def test_cli_comments_and_history_show_everything_a_page_at_a_time(
    capsys: pytest.CaptureFixture[str], store_args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(conversation, "CLI_PAGE", 2)  # the API's largest page is 1000: five comments make three pages
    for n in range(1, 6):
        assert run(capsys, "comment", "3", f"réponse {n}", "--actor", "karim", *store_args)[0] == 0
    code, out, _ = run(capsys, "comments", "3", *store_args)
    assert code == 0 and [f"réponse {n}" in out for n in range(1, 6)] == [True] * 5
    assert out.splitlines()[-1] == "5 shown, 5 in all"
    code, out, _ = run(capsys, "comments", "3", "--json", *store_args)
    assert [c["body"] for c in json.loads(out)] == [f"réponse {n}" for n in range(1, 6)]
    code, out, _ = run(capsys, "comments", "3", "--json", "--limit", "3", "--offset", "1", *store_args)
    assert [c["body"] for c in json.loads(out)] == ["réponse 2", "réponse 3", "réponse 4"]
    code, out, _ = run(capsys, "history", "3", "--limit", "4", *store_args)
    assert out.splitlines()[-1] == "4 shown, 5 in all" and len(out.splitlines()) == 6
    code, out, _ = run(capsys, "history", "3", "--json", *store_args)
    assert [e["type"] for e in json.loads(out)] == ["commented"] * 5
    assert run(capsys, "comments", "4", "--json", *store_args)[1] == "[]\n"
    assert run(capsys, "comments", "3", "--offset", "9", *store_args)[1] == "0 shown, 5 in all\n"
    code, out, err = run(capsys, "comments", "99", "--json", *store_args)
    assert (code, out, err) == (1, "", "script.py: error: ticket 99 not found\n")


def test_cli_names_are_taken_in_nfc(capsys: pytest.CaptureFixture[str], store_args: list[str]) -> None:
    nfd, nfc = "zo\u0065\u0301", "zo\u00e9"
    assert run(capsys, "comment", "3", "vu", "--actor", nfd, *store_args)[0] == 0
    assert run(capsys, "comment", "3", "lu", "--author", nfd, "--actor", "karim", *store_args)[0] == 0
    code, out, _ = run(capsys, "comments", "3", "--json", *store_args)
    assert [c["author"] for c in json.loads(out)] == [nfc, nfc]
    code, out, _ = run(capsys, "history", "3", "--json", *store_args)
    assert [e["actor"] for e in json.loads(out)] == [nfc, "karim"]


def test_help_says_what_stats_days_and_copy_do(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["stats", "--help"])
    stats_help = " ".join(capsys.readouterr().out.split())
    assert "--days DAYS how many days the opened/closed per day chart covers, today included" in stats_help
    with pytest.raises(SystemExit):
        main(["copy", "--help"])
    copy_help = " ".join(capsys.readouterr().out.split())
    assert "every comment and event of the history" in copy_help and "the SLA policy" in copy_help
    assert "Webhooks and the answers kept for Idempotency-Key are not copied" in copy_help
