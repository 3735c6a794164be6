"""Promises of the suite itself: it never depends on the shipped tickets.json (a user who edited their
tickets still gets green), and its reliability summary prints only figures of tests that passed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

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
    # The JSON store's half: tickets.json is the JSON store's default; the PostgreSQL half never reads a file.
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-x",
            "-p",
            "no:cacheprovider",
            "tests/api/test_tickets.py",
            "tests/stores/test_json_file.py",
            "tests/cli/test_commands.py",
            "-k",
            "not postgres",
        ],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stdout[-3000:]


def test_the_summary_prints_only_figures_of_tests_that_passed(tmp_path: Path) -> None:
    shutil.copyfile(ROOT / "tests" / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_figures.py").write_text(
        "from conftest import report\n"
        "def test_kept():\n    report('figure of a passing test')\n"
        "def test_dropped():\n    report('figure of a failing test')\n    assert False\n",
        encoding="utf-8",
    )
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert run.returncode == 1, run.stdout[-2000:]  # one test failed on purpose
    summary = run.stdout.split("reliability figures (from tests that passed)")[1].split("short test summary")[0]
    assert "figure of a passing test" in summary
    assert "figure of a failing test" not in summary
