"""The command line as people use it: pipes, odd terminals, ETags typed by hand, help texts."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys

import pytest

from conftest import ROOT
from tickets.cli.main import main


def cli(*args: str, env: dict[str, str] | None = None, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "script.py"), *args],
        capture_output=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        **kwargs,
    )


def test_output_piped_into_head_gives_no_traceback(store_args: list[str]) -> None:
    shell = f"{sys.executable} {ROOT / 'script.py'} list {shlex.join(store_args)} | head -1"
    for _ in range(3):  # the reader may close before or after the writer's first write
        run = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, timeout=60)
        assert run.stdout.startswith("ID ")
        assert run.stderr == ""


def test_a_full_disk_on_stdout_is_one_line_and_exit_1(store_args: list[str]) -> None:
    with open("/dev/full", "w") as full:
        run = subprocess.run(
            [sys.executable, str(ROOT / "script.py"), "list", *store_args],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    assert run.returncode == 1
    assert run.stderr == "script.py: error: could not write the output: No space left on device\n"


def test_a_terminal_without_accents_gets_no_traceback(store_args: list[str]) -> None:
    run = cli("list", *store_args, env={"PYTHONIOENCODING": "ascii"})
    assert run.returncode == 0 and run.stderr == b""
    assert b"d?fectueuse" in run.stdout
    as_json = cli("show", "15", "--json", *store_args, env={"PYTHONIOENCODING": "ascii"})
    assert as_json.returncode == 0
    assert b'"Souris sans fil d\\u00e9fectueuse"' in as_json.stdout  # still the same JSON data


def test_show_prints_the_etag_and_if_match_takes_it_with_or_without_quotes(
    capsys: pytest.CaptureFixture[str], store_args: list[str]
) -> None:
    assert main(["show", "3", *store_args]) == 0
    etag = capsys.readouterr().out.splitlines()[-1].split()[-1]
    assert etag.startswith('"') and etag.endswith('"')
    assert main(["update", "3", "--status", "closed", "--if-match", etag.strip('"'), *store_args]) == 0
    assert capsys.readouterr().out == "updated ticket 3\n"
    assert main(["update", "3", "--status", "open", "--if-match", etag, *store_args]) == 1
    err = capsys.readouterr().err
    assert err.startswith("script.py: error: ticket 3 has changed: its ETag is ") and err.endswith(f"not {etag}\n")


def test_show_json_gives_the_etag_for_a_scripts_if_match(
    capsys: pytest.CaptureFixture[str], store_args: list[str]
) -> None:
    assert main(["show", "3", "--json", *store_args]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert main(["show", "3", *store_args]) == 0
    assert shown["etag"] == capsys.readouterr().out.splitlines()[-1].split()[-1]  # the one the table prints
    assert shown["id"] == 3 and list(shown)[-1] == "etag"  # the API's ticket, then its ETag
    assert main(["delete", "3", "--if-match", shown["etag"], *store_args]) == 0


def test_an_update_that_changes_nothing_says_so(capsys: pytest.CaptureFixture[str], store_args: list[str]) -> None:
    assert main(["update", "1", "--status", "in_progress", *store_args]) == 0
    assert capsys.readouterr().out == "ticket 1 unchanged: it already had these values\n"


def test_list_offset(capsys: pytest.CaptureFixture[str], store_args: list[str]) -> None:
    assert main(["list", "--offset", "12", *store_args]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out[1:-1]] == ["14", "15"]
    assert out[-1] == "2 shown, 14 matching, 14 in all"
    with pytest.raises(SystemExit) as refused:
        main(["list", "--offset", "x", *store_args])
    assert refused.value.code == 2
    assert "invalid offset 'x': expected a whole number from 0 to 9223372036854775807" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("command", "values"),
    [
        (
            ["list"],
            [
                "open, in_progress, waiting, closed",
                "low, medium, high, urgent",
                "haute",
                "priority",
                "-priority",
                "due",
                "none, on_track, paused, met, breached",
                "--unassigned",
                "--requester",
                "--tag",
                "--due-before",
                "2026-11-30T09:00:00Z",
            ],
        ),
        (["add"], ["open, in_progress, waiting, closed", "en attente", "low, medium, high, urgent", "fermé", "--tag"]),
        (
            ["update"],
            [
                "open, in_progress, waiting, closed",
                "en attente",
                "low, medium, high, urgent",
                "quotes optional",
                "--no-requester",
                "--add-tag",
                "--remove-tag",
                "all or nothing",
            ],
        ),
        (["comment-edit"], ["--body", "--internal", "--public"]),
        (
            ["sla", "set"],
            ["Europe/Paris", "mon, tue, wed, thu, fri, sat, sun", "low, medium, high, urgent", "standard input"],
        ),
    ],
)
def test_help_lists_the_accepted_values(command: list[str], values: list[str]) -> None:
    run = cli(*command, "--help", text=True)
    assert run.returncode == 0
    for value in values:
        assert value in " ".join(run.stdout.split()), value


@pytest.mark.parametrize(("name", "value"), [("TICKETS_LOCK_TIMEOUT", "nan"), ("TICKETS_API_KEY", "")])
def test_a_bad_setting_stops_the_cli_with_exit_2(store_args: list[str], name: str, value: str) -> None:
    run = cli("stats", *store_args, env={name: value}, text=True)
    assert run.returncode == 2
    assert run.stderr.startswith(f"script.py: error: {name}") and run.stderr.count("\n") == 1


@pytest.mark.parametrize("path", ["/dev/zero", "/nowhere/tickets.json"])
def test_an_unusable_path_is_one_line_and_exit_1(path: str) -> None:
    run = cli("stats", "--file", path, text=True)
    assert run.returncode == 1
    assert run.stderr.count("\n") == 1 and path.split("/")[1] in run.stderr
