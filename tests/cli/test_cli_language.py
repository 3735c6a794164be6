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


def _french(*args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "LANG": "fr_FR.UTF-8"}
    return subprocess.run([sys.executable, "script.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)


def test_argparse_errors_are_told_in_french(tickets_file: Path) -> None:
    """The one-line error of a bad argument, and its usage line, in French; the rest of the usage is argparse's."""
    bad = _french("list", "--limit", "0", "--file", str(tickets_file))
    usage, *_, error = bad.stderr.splitlines()
    assert bad.returncode == 2 and usage.startswith("utilisation\u00a0: script.py list [-h]")
    assert error == (
        "script.py list\u00a0: erreur\u00a0: argument --limit\u00a0: limite invalide «\u00a00\u00a0»\u00a0: un nombre "
        "entier de 1 à 9223372036854775807 est attendu"
    )
    missing = _french("show")
    assert (
        missing.stderr.splitlines()[-1]
        == "script.py show\u00a0: erreur\u00a0: ces arguments sont obligatoires\u00a0: id"
    )
    unknown = _french("frobnicate")
    assert unknown.stderr.splitlines()[-1].startswith(
        "script.py\u00a0: erreur\u00a0: argument COMMAND\u00a0: choix invalide\u00a0: «\u00a0frobnicate\u00a0» "
        "(valeurs possibles\u00a0: 'stats', 'list',"
    )
    group = _french("sla", "--file", str(tickets_file))
    assert (group.returncode, group.stderr.splitlines()[-1]) == (
        2,
        "script.py sla\u00a0: erreur\u00a0: donnez une commande\u00a0: show, set ou sweep",
    )


def test_the_english_argparse_errors_are_argparse_own() -> None:
    """In English, the line is argparse's, word for word: the catalog's English texts say the same."""
    from tickets.cli.parser import argparse_problem

    for text in (
        "the following arguments are required: id",
        "unrecognized arguments: --zzz",
        "argument COMMAND: invalid choice: 'frobnicate' (choose from 'stats', 'list')",
        "argument --sort: expected one argument",
        "argument --assignee: not allowed with argument --unassigned",
    ):
        told = argparse_problem(text)
        assert not isinstance(told, str) and told.told("en") == text
    english = subprocess.run(
        [sys.executable, "script.py", "show"], cwd=ROOT, env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True
    )
    assert english.stderr.splitlines() == [
        "usage: script.py show [-h] [--file FILE] [--db URL] [--json] id",
        "script.py show: error: the following arguments are required: id",
    ]


def test_store_and_webhook_problems_are_told_in_french(tickets_file: Path, tmp_path: Path) -> None:
    """A file that cannot be read, a webhook URL refused, a copy onto itself, verify's summary: in French."""
    broken = tmp_path / "broken.json"
    broken.write_text('{"next_id": 2, "tickets": [{"id": 1}]}', encoding="utf-8")
    unreadable = _french("list", "--file", str(broken))
    assert (unreadable.returncode, unreadable.stderr) == (
        1,
        f"script.py\u00a0: erreur\u00a0: {broken}\u00a0: tickets[0].title\u00a0: champ obligatoire\n",
    )
    ftp = _french("webhooks", "add", "ftp://example.com/hook", "--file", str(tickets_file))
    assert (ftp.returncode, ftp.stderr) == (
        2,
        "script.py\u00a0: erreur\u00a0: URL\u00a0: l'URL d'un webhook commence par http:// ou https://\n",
    )
    itself = _french("copy", str(tickets_file), str(tickets_file))
    assert (itself.returncode, itself.stderr) == (
        2,
        f"script.py\u00a0: erreur\u00a0: la source et la cible sont le même stockage\u00a0: {tickets_file}\n",
    )
    verified = _french("verify", "--file", str(tickets_file))
    assert verified.returncode == 0
    assert verified.stdout.startswith(f"{tickets_file}\u00a0: historique vérifié\u00a0: ")
    assert "tickets rejoués\u00a0; la chaîne finit à " in verified.stdout
