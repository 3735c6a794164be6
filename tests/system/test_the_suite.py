"""Promises of the suite itself: it never depends on the shipped tickets.json (a user who edited their
tickets still gets green), its reliability summary prints only figures of tests that passed, and each PostgreSQL
test gets a database as new."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from conftest import ROOT, contents, sync
from postgres_cluster import Cluster
from tickets.cli.main import main
from tickets.stores.postgres import PostgresStore

POLICY_FILE = ROOT / "examples" / "politique.json"

pytestmark = pytest.mark.slow


def test_suite_passes_whatever_the_shipped_tickets_json_holds(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(
        ROOT,
        project,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", ".ci", "__pycache__", "benchmarks", ".pytest_cache", ".hypothesis"
        ),
    )
    # What a user's file looks like after the README's examples and some edits of their own.
    edited = {
        "next_id": 42,
        "tickets": [
            {
                "id": 41,
                "title": "Ticket ajouté par l'équipe",
                "description": "",
                "status": "closed",
                "priority": "urgent",
                "assignee": "ana",
                "created_at": "2026-11-26T10:00:00Z",
                "updated_at": "2026-11-26T11:00:00Z",
            }
        ],
    }
    (project / "tickets.json").write_text(json.dumps(edited, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    # The tests that start the server or the CLI in the project's folder (where tickets.json is the default), and
    # the JSON store's own; the JSON half only: the PostgreSQL half never reads a file. The API's tests run on
    # copies of tests/data in their own folders (the fixture tickets_file): the whole of them here cost 25 s.
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-x",
            "-n",
            "0",  # in this process: two workers of its own, beside the suite's two, cost it time and gave nothing
            "-p",
            "no:cacheprovider",
            "tests/api/test_startup.py",
            "tests/stores/test_json_file.py",
            "tests/cli/test_commands.py",
            "tests/system/test_readme.py::test_the_readme_examples_print_what_the_readme_shows",
            "-k",
            "not postgres",
        ],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stdout[-3000:]


def nested_suite(tmp_path: Path, tests: str) -> subprocess.CompletedProcess[str]:
    """Run these tests with the suite's conftest.py in a project of their own (its shipped tickets.json beside)."""
    project = tmp_path / "project"
    (project / "tests").mkdir(parents=True)
    shutil.copyfile(ROOT / "tests" / "conftest.py", project / "tests" / "conftest.py")
    (project / "tickets.json").write_text('{"next_id": 1, "tickets": []}\n', encoding="utf-8")
    (project / "tests" / "test_nested.py").write_text(tests, encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        # Only the plugins conftest.py needs: loading every installed one (hypothesis, schemathesis…) took 4 s.
        env={**os.environ, "PYTHONPATH": str(ROOT), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
    )


def test_a_test_that_writes_the_shipped_file_is_refused_and_named(tmp_path: Path) -> None:
    run = nested_suite(
        tmp_path,
        "import os\n"
        "from conftest import SHIPPED\n"
        "def test_reads():\n    assert SHIPPED.read_text()\n"
        "def test_removes_a_folder_of_its_own(tmp_path):\n"  # rmtree removes by name within the folder's descriptor
        "    (tmp_path / 'own').mkdir()\n    (tmp_path / 'own' / 'tickets.json').write_text('{}')\n"
        "    import shutil\n    shutil.rmtree(tmp_path / 'own')\n"
        "def test_writes():\n    try:\n        SHIPPED.write_text('{}')\n    except PermissionError:\n        pass\n"
        "def test_replaces(tmp_path):\n    (tmp_path / 'x').write_text('{}')\n"
        "    try:\n        os.replace(tmp_path / 'x', SHIPPED)\n    except PermissionError:\n        pass\n",
    )
    assert run.returncode == 1, run.stdout[-2000:]
    assert "tests wrote the shipped tickets.json" in run.stdout
    assert (
        "test_nested.py::test_writes: open" in run.stdout and "test_nested.py::test_replaces: os.rename" in run.stdout
    )
    reported = run.stdout.split("tests wrote the shipped tickets.json")[1]
    assert "test_reads" not in reported and "test_removes_a_folder_of_its_own" not in reported
    assert (tmp_path / "project" / "tickets.json").read_text() == '{"next_id": 1, "tickets": []}\n'  # not written


def test_another_process_writing_the_shipped_file_meanwhile_is_not_the_tests_fault(tmp_path: Path) -> None:
    """The user edits tickets.json, or a server the README started on it sweeps SLA breaches into it, while the
    suite runs: the suite stays green."""
    run = nested_suite(
        tmp_path,
        "import subprocess, sys\n"
        "from conftest import SHIPPED\n"
        "def test_meanwhile():\n"
        "    subprocess.run([sys.executable, '-c', f'open({str(SHIPPED)!r}, \"w\").write(\"{{}}\")'], check=True)\n"
        "    assert SHIPPED.read_text() == '{}'\n",
    )
    assert run.returncode == 0, run.stdout[-2000:]


def test_the_summary_prints_only_figures_of_tests_that_passed(tmp_path: Path) -> None:
    run = nested_suite(
        tmp_path,
        "from conftest import report\n"
        "def test_kept():\n    report('figure of a passing test')\n"
        "def test_dropped():\n    report('figure of a failing test')\n    assert False\n",
    )
    assert run.returncode == 1, run.stdout[-2000:]  # one test failed on purpose
    summary = run.stdout.split("reliability figures (from tests that passed)")[1].split("short test summary")[0]
    assert "figure of a passing test" in summary
    assert "figure of a failing test" not in summary


def test_a_database_given_back_is_as_new_for_the_next_test(postgres: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    """The PostgreSQL tests' databases are reset and reused (a copy of the template costs up to half a second): the
    next test must get what a fresh copy is, under a name no test used, and a database whose schema a test changed
    must never be reused."""
    monkeypatch.setenv("TICKETS_NOW", "2026-11-30T09:30:00Z")
    used, fresh = postgres.database(postgres.template), postgres.new_database(postgres.template)
    for args in (
        ["add", "De trop"],
        ["comment", "1", "Une réponse"],
        ["delete", "2"],
        ["sla", "set", str(POLICY_FILE)],
    ):
        assert main([*args, "--db", postgres.url(used)]) == 0
    left_open = psycopg.connect(postgres.url(used))  # a connection the test forgot: cut, as a drop would
    again = postgres.give_back(used, postgres.template)  # reset and kept, under a new name
    assert again is not None and again not in (used, fresh)
    assert postgres.database(postgres.template) == again  # the next test gets it
    with pytest.raises(psycopg.OperationalError):
        left_open.execute("SELECT 1")
    left_open.close()
    with pytest.raises(psycopg.OperationalError, match="does not exist"):
        psycopg.connect(postgres.url(used))  # the old name is gone: a process left behind finds nothing

    def after_the_same_changes(name: str) -> tuple[object, ...]:
        url = postgres.url(name)
        for args in (["add", "Nouveau"], ["comment", "3", "Suite"], ["delete", "5"]):
            assert main([*args, "--db", url]) == 0
        with psycopg.connect(url) as conn:
            columns = conn.execute("SELECT count(*) FROM information_schema.columns").fetchone()
        return contents(url), sync(history(url)), columns

    assert after_the_same_changes(again) == after_the_same_changes(fresh)  # ids, rows, events and their chain

    postgres.give_back(fresh, postgres.template)

    with postgres.connect(again) as conn:
        conn.execute("ALTER TABLE tickets ADD COLUMN extra integer")
    kept = list(postgres.spares[postgres.template])
    assert postgres.give_back(again, postgres.template) is None  # dropped, not kept
    assert postgres.spares[postgres.template] == kept

    empty = postgres.database()
    assert main(["add", "Premier", "--db", postgres.url(empty)]) == 0  # its tables made at first use
    empty_again = postgres.give_back(empty)  # its schemas dropped and public made again, kept
    assert empty_again is not None and postgres.database() == empty_again
    with postgres.connect(empty_again) as conn:
        assert conn.execute("SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace").fetchone() == (
            0,
        )
    assert main(["add", "Premier", "--db", postgres.url(empty_again)]) == 0
    assert list(contents(postgres.url(empty_again))[1]) == [1]
    postgres.give_back(empty_again)


async def history(url: str) -> object:
    store = PostgresStore(url)
    try:
        return (await store.export_all())[2]
    finally:
        await store.close()
