"""The server as users start it: a bad setting stops it with one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT


@pytest.mark.slow  # real processes
@pytest.mark.parametrize(("name", "value"), [("TICKETS_API_KEY", ""), ("TICKETS_LOCK_TIMEOUT", "nan")])
def test_the_server_refuses_to_start_on_a_bad_setting_with_one_line(tickets_file: Path, name: str, value: str) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "uvicorn", "main:app", "--port", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TICKETS_FILE": str(tickets_file), name: value},
    )
    assert run.returncode != 0
    assert run.stderr.strip().splitlines() == [run.stderr.strip()] and name in run.stderr
