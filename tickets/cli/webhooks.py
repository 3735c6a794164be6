"""The webhooks from the command line: list, add, remove, their tries, and `deliver`, the delivery worker that
runs beside the servers (TICKETS_WEBHOOKS=off) for larger set-ups."""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Callable
from contextlib import suppress

from tickets.cli.inputs import listed, validated
from tickets.cli.output import _print_json, _table, say, short_time
from tickets.engine.history import PAGE_MAX, Page
from tickets.engine.messages import message
from tickets.engine.webhooks import EVENT_NAMES, WebhookCreate, new_secret, public
from tickets.stores.base import TicketStore
from tickets.worker import addresses


async def cmd_webhooks_list(args: argparse.Namespace, store: TicketStore) -> None:
    hooks = [public(hook) for hook in await store.webhooks.all()]
    if args.json:
        return _print_json(hooks)
    if not hooks:
        say("cli_no_webhook", store=store.name)
        return
    rows = [["ID", "URL", "EVENTS", "STATE", "DELIVERED UP TO"]]
    for hook in hooks:
        state = "enabled" if hook["enabled"] else f"disabled: {hook['disabled_reason']}"
        rows.append([str(hook["id"]), hook["url"], ",".join(hook["events"]), state, str(hook["delivered_up_to"])])
    print(_table(rows))


async def cmd_webhooks_add(args: argparse.Namespace, store: TicketStore) -> None:
    data = validated(
        WebhookCreate,
        {"url": "URL", "events": "--events", "description": "--description"},
        url=args.url,
        events=listed([args.events]),
        description=args.description,
    )
    await addresses.check(data.url, args.settings.webhooks_allow_private)
    secret = new_secret()
    hook = await store.webhooks.create(data, secret, store.now(), await store.last_event_id())
    if args.json:
        return _print_json({**public(hook), "secret": secret})
    say("cli_webhook_added", hook_id=hook["id"], url=hook["url"], events=", ".join(hook["events"]))
    say("cli_webhook_secret", secret=secret)


async def cmd_webhooks_remove(args: argparse.Namespace, store: TicketStore) -> None:
    await store.webhooks.delete(args.webhook_id)
    say("cli_webhook_removed", hook_id=args.webhook_id)


async def cmd_webhooks_deliveries(args: argparse.Namespace, store: TicketStore) -> None:
    tries, total = await store.webhooks.attempts(args.webhook_id, Page(limit=args.limit, offset=0))
    if args.json:
        return _print_json(tries)
    if not tries:
        say("cli_webhook_no_try", hook_id=args.webhook_id)
        return
    rows = [["AT", "MESSAGE", "TYPE", "TRY", "RESULT", "MS"]]
    for t in tries:
        result = str(t["status_code"]) if t["status_code"] is not None else "-"
        if t["error"]:
            result += f" {t['error']}"
        rows.append([short_time(t["at"]), t["message_id"], t["type"], str(t["attempt"]), result, str(t["duration_ms"])])
    print(_table(rows))
    if total > len(tries):
        say("cli_webhook_newest", shown=len(tries), total=total)


async def cmd_deliver(args: argparse.Namespace, store: TicketStore) -> None:
    """Deliver until interrupted (Ctrl-C, SIGTERM): the same loop a server runs, as a worker of its own."""
    # Imported here, not above: the worker brings httpx, and loading it cost every other command 0.15 s.
    from tickets.worker.runner import work

    say("cli_delivering", store=store.name, flush=True)
    task = asyncio.create_task(work(store, args.settings))
    loop = asyncio.get_running_loop()
    for stop in (signal.SIGINT, signal.SIGTERM):
        with suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(stop, task.cancel)
    with suppress(asyncio.CancelledError):
        await task
    say("cli_stopped")


def webhook_parsers(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
    as_json: argparse.ArgumentParser,
    positive: Callable[[str], Callable[[str], int]],
) -> None:
    """webhooks list|add|remove|deliveries, and deliver (positive: the CLI's converter of whole numbers >= 1)."""

    hooks = sub.add_parser(
        "webhooks",
        parents=[common],
        help="list, add or remove the webhooks, and read their delivery tries",
        description="Webhooks: URLs told of every change, signed as Standard Webhooks says.",
    )
    hooks.set_defaults(
        func=None, sla_parser=hooks, group_commands=message("cli_or", some="list, add, remove", last="deliveries")
    )
    commands = hooks.add_subparsers(title="commands", metavar="COMMAND")
    p = commands.add_parser("list", parents=[common, as_json], help="every webhook")
    p.set_defaults(func=cmd_webhooks_list)
    p = commands.add_parser(
        "add",
        parents=[common, as_json],
        help="add a webhook; prints its secret, shown only then",
        description="Add a webhook: it is told of every event written from now on.",
    )
    p.add_argument("url", metavar="URL", help="where to send: an http:// or https:// URL")
    p.add_argument(
        "--events",
        default="*",
        help=f"the event types, separated by commas (default *: all of them): {', '.join(EVENT_NAMES)}",
    )
    p.add_argument("--description", default="", help="a note for the team")
    p.set_defaults(func=cmd_webhooks_add)
    p = commands.add_parser("remove", parents=[common], help="delete a webhook")
    p.add_argument("webhook_id", metavar="ID", type=positive("what_webhook_id"))
    p.set_defaults(func=cmd_webhooks_remove)
    p = commands.add_parser("deliveries", parents=[common, as_json], help="a webhook's tries, the newest first")
    p.add_argument("webhook_id", metavar="ID", type=positive("what_webhook_id"))
    p.add_argument(
        "--limit", type=positive("what_limit"), default=50, help=f"at most N (default 50, at most {PAGE_MAX})"
    )
    p.set_defaults(func=cmd_webhooks_deliveries)

    p = sub.add_parser(
        "deliver",
        parents=[common],
        help="deliver the webhooks, as a worker beside the servers (until Ctrl-C)",
        description="Deliver the webhooks until interrupted: run it beside servers started with "
        "TICKETS_WEBHOOKS=off. One process delivers at a time; another one started waits and takes over.",
    )
    p.set_defaults(func=cmd_deliver)
