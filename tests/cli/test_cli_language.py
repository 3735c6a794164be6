"""The command line tells its errors in French for a French LC_ALL, LC_MESSAGES or LANG (as gettext reads them)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def test_the_command_line_answers_in_french_for_a_french_locale(tickets_file: Path) -> None:
    def show(**env: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "script.py", "show", "99", "--file", str(tickets_file)]
        return subprocess.run(command, cwd=ROOT, env={"PATH": "/usr/bin:/bin", **env}, capture_output=True, text=True)

    french = show(LANG="fr_FR.UTF-8")
    assert (french.returncode, french.stderr) == (1, "script.py\u00a0: erreur\u00a0: ticket 99 introuvable\n")
    english = show(LANG="fr_FR.UTF-8", LC_ALL="C.UTF-8")
    assert (english.returncode, english.stderr) == (1, "script.py: error: ticket 99 not found\n")


def test_what_the_command_line_prints_is_french_too(tickets_file: Path) -> None:
    def run(*args: str) -> str:
        command = [sys.executable, "script.py", *args, "--file", str(tickets_file)]
        env = {"PATH": "/usr/bin:/bin", "LANG": "fr_FR.UTF-8"}
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
        return done.stdout

    created = run("add", "Écran noir")
    ticket_id = created.split()[1]
    assert created == f"ticket {ticket_id} créé\u00a0: Écran noir\n"
    assert run("update", ticket_id, "--status", "fermé") == f"ticket {ticket_id} modifié\n"
    assert run("comment", ticket_id, "Câble changé", "--internal", "--author", "karim") == (
        f"note interne 1 ajoutée au ticket {ticket_id}\n"
    )
    assert run("list", "--q", "écran noir").endswith("1 affiché, 1 retenu, 15 en tout\n")


def test_a_setting_refused_is_told_in_french(tickets_file: Path) -> None:
    """Settings fail closed in the user's language: the command line exits with 2, the server does not start."""
    env = {"PATH": "/usr/bin:/bin", "LANG": "fr_FR.UTF-8", "TICKETS_API_KEY": ""}
    cli = subprocess.run(
        [sys.executable, "script.py", "list", "--file", str(tickets_file)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    told = (
        "TICKETS_API_KEY est définie mais vide\u00a0: donnez-lui une valeur, ou retirez-la pour une API locale ouverte"
    )
    assert (cli.returncode, cli.stderr) == (2, f"script.py\u00a0: erreur\u00a0: {told}\n")
    server = subprocess.run(
        [sys.executable, "-c", "import main"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert (server.returncode, server.stderr) == (1, f"erreur\u00a0: {told}\n")
