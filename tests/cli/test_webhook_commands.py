"""Webhooks on the command line, on both stores: add (the secret shown once), list, deliveries, remove, and
`deliver`, the worker that runs beside servers started with TICKETS_WEBHOOKS=off, as a real process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest

from conftest import ROOT, eventually
from tickets.cli.main import main
from webhook_receiver import Receiver, receiving


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], store_args: list[str]) -> Callable[..., tuple[int, str, str]]:
    """Run the CLI on the test's store: (exit code, stdout, stderr); argparse's own exits included."""

    def run(*argv: str) -> tuple[int, str, str]:
        try:
            code = main([*argv, *store_args])
        except SystemExit as exc:
            code = exc.code  # type: ignore[assignment]
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    monkeypatch.setenv("TICKETS_WEBHOOKS_ALLOW_PRIVATE", "1")
    with receiving() as r:
        yield r


def test_a_webhook_is_added_listed_and_removed(cli: Callable[..., tuple[int, str, str]], receiver: Receiver) -> None:
    code, out, _ = cli("webhooks", "list")
    assert code == 0 and out.startswith("No webhook on ")
    code, out, _ = cli("webhooks", "add", receiver.url, "--events", "ticket.created,sla.breached", "--json")
    assert code == 0
    hook = json.loads(out)
    assert hook["secret"].startswith("whsec_") and hook["events"] == ["sla.breached", "ticket.created"]
    code, out, _ = cli("webhooks", "list")
    assert code == 0 and receiver.url in out and "sla.breached,ticket.created" in out and "enabled" in out
    assert hook["secret"] not in out
    code, out, _ = cli("webhooks", "list", "--json")
    assert [h["id"] for h in json.loads(out)] == [hook["id"]] and "secret" not in json.loads(out)[0]
    code, out, _ = cli("webhooks", "deliveries", str(hook["id"]))
    assert code == 0 and "no delivery yet" in out
    assert cli("webhooks", "remove", str(hook["id"]))[:2] == (0, f"Webhook {hook['id']} removed.\n")
    code, _, err = cli("webhooks", "remove", str(hook["id"]))
    assert code == 1 and err == f"script.py: error: webhook {hook['id']} not found\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["webhooks", "add", "ftp://example.org/x"], "URL: a webhook URL starts with http:// or https://"),
        (["webhooks", "add", "http://127.0.0.1:9/x"], "resolves to 127.0.0.1, a loopback address"),
        (["webhooks", "add", "https://example.org/x", "--events", "ticket.exploded"], "--events:"),
        (["webhooks", "remove", "zero"], "webhook id"),
        (["webhooks"], "give a command: list, add, remove or deliveries"),
    ],
)
def test_bad_webhook_commands_are_one_line_and_exit_2(
    cli: Callable[..., tuple[int, str, str]], argv: list[str], message: str
) -> None:
    code, out, err = cli(*argv)
    assert code == 2 and out == "" and message in err
    assert "Traceback" not in err


def test_deliver_is_a_worker_of_its_own(store_args: list[str], receiver: Receiver) -> None:
    """`python script.py deliver` delivers what the CLI writes, then stops cleanly on SIGTERM."""
    env = {**os.environ, "TICKETS_WEBHOOKS_ALLOW_PRIVATE": "1", "TICKETS_WEBHOOK_TIME_SCALE": "0.0001"}
    added = subprocess.run(
        [sys.executable, "script.py", "webhooks", "add", receiver.url, "--json", *store_args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    receiver.secrets.append(json.loads(added.stdout)["secret"])
    worker = subprocess.Popen(
        [sys.executable, "script.py", "deliver", *store_args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for title in ("Imprimante", "VPN"):
            subprocess.run([sys.executable, "script.py", "add", title, *store_args], cwd=ROOT, env=env, check=True)
        eventually(lambda: len(receiver.delivered()) == 2, "the worker's deliveries")
        assert [r.body["data"]["ticket"]["title"] for r in receiver.got] == ["Imprimante", "VPN"]
        assert receiver.unverified == []
    finally:
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err
    assert out.startswith("Delivering the webhooks of ") and out.endswith("Stopped.\n") and err == ""
    shown = deliveries(store_args, env)  # the stop kept the tries it had not saved yet
    assert shown.count("ticket.created") == 2 and " 200 " in shown


def deliveries(store_args: list[str], env: dict[str, str]) -> str:
    command = [sys.executable, "script.py", "webhooks", "deliveries", "1", *store_args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout
