"""The suite never depends on the shipped tickets.json: a user who edited their tickets still gets green."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT


def test_suite_passes_whatever_the_shipped_tickets_json_holds(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(ROOT, project, ignore=shutil.ignore_patterns(".git", ".venv", ".ci", "__pycache__", "benchmarks",
                                                                 ".pytest_cache", ".hypothesis"))  # fmt: skip
    # What a user's file looks like after the README's examples and some edits of their own.
    edited = {"next_id": 42, "tickets": [
        {"id": 41, "title": "Ticket ajouté par l'équipe", "description": "", "status": "closed", "priority": "urgent",
         "assignee": "ana", "created_at": "2026-11-26T10:00:00Z", "updated_at": "2026-11-26T11:00:00Z"}]}  # fmt: skip
    (project / "tickets.json").write_text(json.dumps(edited, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "tests/test_api.py",
                          "tests/test_script.py"], cwd=project, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:]
