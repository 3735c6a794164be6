"""The store as a whole: its SLA policy (show, set) and breach events (sweep), copies between stores, backups and
the proof of its history."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from pydantic import ValidationError

from tickets.cli.inputs import UsageError
from tickets.cli.output import _print_json, policy_text, say
from tickets.engine.errors import StoreError, first_repeated_key, shown, validation_problems
from tickets.engine.messages import Message, message
from tickets.engine.sla import Policy
from tickets.stores.base import TicketStore
from tickets.stores.choice import POSTGRES_SCHEMES, open_store
from tickets.worker.breaches import sweep_once

#: The largest policy file `sla set` reads: the API's largest body (1 MiB).
POLICY_FILE_MAX = 1024 * 1024


async def cmd_sla_show(args: argparse.Namespace, store: TicketStore) -> None:
    policy = await store.policy()
    if args.json:
        return _print_json(policy)
    print(policy_text(policy))


def read_policy(path: str) -> Policy:
    """The policy in the JSON file path ('-': standard input), checked as PUT /sla checks its body: UsageError
    naming the field for a bad policy, StoreError (exit 1) for a file that cannot be read."""
    try:
        if path == "-":
            raw = sys.stdin.buffer.read(POLICY_FILE_MAX + 1)
        else:
            with open(path, "rb") as file:
                raw = file.read(POLICY_FILE_MAX + 1)
    except OSError as exc:
        raise StoreError(message("cli_cannot_read", path=shown(path), reason=exc.strerror or exc)) from None
    where = message("cli_standard_input") if path == "-" else shown(path)
    if len(raw) > POLICY_FILE_MAX:
        raise UsageError(message("cli_policy_too_big", where=where, most=POLICY_FILE_MAX))
    repeated = first_repeated_key(raw)
    if repeated is not None:
        raise UsageError(message("cli_policy_key_twice", where=where, key=repeated))
    try:
        return Policy.model_validate_json(raw)
    except ValidationError as exc:
        raise UsageError(message("field_problem", where=where, problem=validation_problems(exc))) from None


async def cmd_sla_set(args: argparse.Namespace, store: TicketStore) -> None:
    """Put the policy of FILE in place (the CLI acts with the rights of the store's owner, as an admin key)."""
    policy = await store.set_policy(read_policy(args.policy_file))
    if args.json:
        return _print_json(policy)
    targeted = policy.targeted()
    if targeted:
        say("cli_policy_set", store=store.name, timezone=policy.timezone, targeted=", ".join(targeted))
    else:
        say("cli_policy_set_no_target", store=store.name, timezone=policy.timezone)


async def cmd_sla_sweep(args: argparse.Namespace, store: TicketStore) -> None:
    """Write the sla_breached events of the due times passed by now, as a server's background watch does (for a cron
    job beside servers that do not run, say)."""
    written = await sweep_once(store)
    if args.json:
        return _print_json({"events": written})
    say("cli_breach_events_one" if written == 1 else "cli_breach_events", count=written, store=store.name)


async def cmd_copy(args: argparse.Namespace, source: TicketStore) -> None:
    """Every ticket of the source (--file, --db or the environment, or SOURCE) into TARGET, all or nothing."""
    target = open_store(args.settings, **place(args.target))
    next_id, what = await _copy(source, target, args.replace, "cli_copy_same")
    say("cli_copied", what=what, source=source.name, target=target.name, next_id=next_id)


async def cmd_verify(args: argparse.Namespace, store: TicketStore) -> None:
    """The whole history checked; exit 1 naming the first problem."""
    report = await store.verify()
    say("verify_done", store=store.name, summary=report.summary_message())


async def cmd_backup(args: argparse.Namespace, store: TicketStore) -> None:
    """A consistent copy of the store, history and SLA policy included, into a new JSON file."""
    if os.path.lexists(args.dest):
        raise UsageError(message("cli_backup_exists", dest=args.dest))
    target = open_store(args.settings, file=args.dest, environment=False)
    _, what = await _copy(store, target, False, "cli_backup_same")
    say("cli_backed_up", what=what, source=store.name, target=target.name)


async def _copy(source: TicketStore, target: TicketStore, replace: bool, same: str) -> tuple[int, Message]:
    """Everything of source into target (opened and closed here), in one replace_all: the next id, and what was
    copied, counted (same: the catalog's message for a source that is the target). The policy is read first: a
    policy set during the copy is the target's at the next copy."""
    if source.name == target.name:
        raise UsageError(message(same, store=source.name))
    await target.open()
    try:
        policy = await source.policy()
        next_id, tickets, history = await source.export_all()
        await target.replace_all(next_id, tickets, replace=replace, history=history, policy=policy)
    finally:
        await target.close()
    counted = {"tickets": len(tickets), "comments": len(history.comments), "events": len(history.events)}
    return next_id, message("cli_copied_what", **counted)


def place(text: str) -> dict[str, Any]:
    """A copy's SOURCE or TARGET as open_store() takes it: a postgresql:// URL, else the path of a JSON file.
    Named on the command line: TICKETS_DATABASE_URL and TICKETS_FILE play no part."""
    where = {"database_url": text} if text.startswith(POSTGRES_SCHEMES) else {"file": text}
    return {**where, "environment": False}
