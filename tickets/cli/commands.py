"""The commands: each a thin wrapper over one call of the store (the seam the routes use too), printing its
answer for a person or as JSON."""

from __future__ import annotations

import argparse
import getpass
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Generic, TypeVar

from pydantic import (
    BaseModel,
    ValidationError,
)

from tickets.cli.output import (
    JsonArray,
    _bar_character,
    _print_json,
    _show_ticket,
    _table,
    bar_chart,
    describe_changes,
)
from tickets.engine.errors import describe_validation_error
from tickets.engine.history import PAGE_MAX, CommentCreate, Event, NewComment, Page
from tickets.engine.models import StatsQuery, TicketCreate, TicketQuery, TicketUpdate
from tickets.engine.settings import NAME
from tickets.stores.base import TicketStore
from tickets.stores.choice import POSTGRES_SCHEMES, open_store

T = TypeVar("T")


class UsageError(Exception):
    """Invalid input on the command line (exit code 2)."""


def _validated(model: type[BaseModel], **values: Any) -> Any:
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise UsageError(describe_validation_error(exc)) from None


def _given_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The ticket fields given on the command line (title, description, status, priority, assignee)."""
    return {name: getattr(args, name) for name in TicketUpdate.model_fields if getattr(args, name, None) is not None}


async def cmd_stats(args: argparse.Namespace, store: TicketStore) -> None:
    stats = await store.stats(_validated(StatsQuery, days=args.days))
    if args.json:
        return _print_json(stats)
    rows = [["total", str(stats["total"])]]
    rows += [[f"status {k}", str(v)] for k, v in stats["by_status"].items()]
    rows += [[f"priority {k}", str(v)] for k, v in stats["by_priority"].items()]
    print(_table(rows))
    print()
    print(bar_chart(stats["per_day"], _bar_character()))


async def cmd_list(args: argparse.Namespace, store: TicketStore) -> None:
    query = _validated(
        TicketQuery,
        status=args.status or [],
        priority=args.priority or [],
        assignee=args.assignee,
        q=args.q,
        sort=args.sort,
        limit=args.limit,
        offset=args.offset,
    )
    if args.json:
        return _print_json((await store.search_json(query))[0])
    page, total = await store.search(query)
    everything = await store.count()
    if not page:
        print(f"no ticket (0 of {everything})")
        return
    header = [["ID", "STATUS", "PRIORITY", "ASSIGNEE", "UPDATED", "TITLE"]]
    rows = [[str(t["id"]), t["status"], t["priority"], t["assignee"] or "-", t["updated_at"], t["title"]] for t in page]
    print(_table(header + rows))
    print(f"{len(page)} shown, {total} matching, {everything} in all")


async def cmd_show(args: argparse.Namespace, store: TicketStore) -> None:
    data, etag = await store.get_json(args.id)
    if args.json:
        return _print_json(data)
    print(_show_ticket(json.loads(data), etag))


def default_actor() -> str | None:
    """Who runs the CLI: the login name, when the system knows it and it is a valid name."""
    try:
        return NAME.validate_python(getpass.getuser())
    except (KeyError, OSError, ImportError, ValidationError):
        return None


def _actor(args: argparse.Namespace) -> str | None:
    """--actor, checked like X-Actor; by default the login name."""
    if args.actor is None:
        return default_actor()
    try:
        return NAME.validate_python(args.actor)
    except ValidationError as exc:
        raise UsageError("--actor: " + describe_validation_error(exc)) from None


async def cmd_add(args: argparse.Namespace, store: TicketStore) -> None:
    ticket = await store.add(_validated(TicketCreate, **_given_fields(args)), actor=_actor(args))
    if args.json:
        return _print_json(ticket)
    print(f"created ticket {ticket['id']}: {ticket['title']}")


async def cmd_update(args: argparse.Namespace, store: TicketStore) -> None:
    changes = _given_fields(args)
    if args.unassign:
        changes["assignee"] = None
    if not changes:
        raise UsageError(
            "nothing to update; give at least one of --title, --description, --status, "
            "--priority, --assignee, --unassign"
        )
    data = _validated(TicketUpdate, **changes)
    before = await store.get(args.id)
    ticket = await store.update(args.id, data, if_match=args.if_match, actor=_actor(args))
    if args.json:
        return _print_json(ticket)
    if ticket == before:
        print(f"ticket {ticket['id']} unchanged: it already had these values")
    else:
        print(f"updated ticket {ticket['id']}")


async def cmd_delete(args: argparse.Namespace, store: TicketStore) -> None:
    await store.delete(args.id, if_match=args.if_match, actor=_actor(args))
    print(f"deleted ticket {args.id}")


async def cmd_comment(args: argparse.Namespace, store: TicketStore) -> None:
    actor = _actor(args)
    data = _validated(CommentCreate, author=args.author, body=args.text, internal=args.internal)
    author = data.author or actor
    if author is None:
        raise UsageError("give --author (the login name is unknown here)")
    comment = await store.add_comment(args.id, NewComment(author, data.body, data.internal), actor or author)
    if args.json:
        return _print_json(comment)
    print(f"added comment {comment['id']} to ticket {args.id}" + (" (internal)" if comment["internal"] else ""))


#: How many comments or events the CLI reads at once: the API's largest page.
CLI_PAGE = PAGE_MAX


class _Pages(Generic[T]):
    """The comments or events of the ticket args.id from --offset on, at most --limit (default: all of them),
    read a page of CLI_PAGE at a time: the API pages them, the CLI shows everything unless told otherwise.
    total: how many the ticket has, as the last page read said."""

    def __init__(self, read: Callable[[int, Page], Awaitable[tuple[list[T], int]]], args: argparse.Namespace) -> None:
        self.read, self.ticket_id, self.limit, self.offset = read, args.id, args.limit, args.offset
        self.total = 0

    async def __aiter__(self) -> AsyncIterator[list[T]]:
        left, offset = self.limit, self.offset
        while True:
            size = CLI_PAGE if left is None else min(left, CLI_PAGE)
            items, self.total = await self.read(self.ticket_id, Page(limit=size, offset=offset))
            yield items
            offset += len(items)
            left = None if left is None else left - len(items)
            if len(items) < size or left == 0 or offset >= self.total:
                return


async def cmd_comments(args: argparse.Namespace, store: TicketStore) -> None:
    pages, shown, as_json = _Pages(store.comments, args), 0, JsonArray()
    async for comments in pages:
        shown += len(comments)
        if args.json:
            as_json.add(comments)
            continue
        for c in comments:
            print(f"#{c['id']}  {c['created_at']}  {c['author']}" + ("  (internal)" if c["internal"] else ""))
            print("\n".join("    " + line for line in c["body"].splitlines() or [""]))
    if args.json:
        return as_json.close()
    if not pages.total:
        print(f"no comment on ticket {args.id}")
        return
    print(f"{shown} shown, {pages.total} in all")


async def cmd_history(args: argparse.Namespace, store: TicketStore) -> None:
    pages, events, as_json = _Pages(store.events, args), list[Event](), JsonArray()
    async for page in pages:
        if args.json:
            as_json.add(page)
        else:
            events += page  # a few hundred bytes each: the table is aligned over all of them
    if args.json:
        return as_json.close()
    if not pages.total:
        print(f"no history for ticket {args.id} (it was made before the history began)")
        return
    rows = [["EVENT", "AT", "ACTOR", "TYPE", "CHANGES"]]
    rows += [[f"#{e['id']}", e["at"], e["actor"] or "-", e["type"], describe_changes(e)] for e in events]
    print(_table(rows))
    print(f"{len(events)} shown, {pages.total} in all")


async def cmd_copy(args: argparse.Namespace, source: TicketStore) -> None:
    """Every ticket of the source (--file, --db or the environment, or SOURCE) into TARGET, all or nothing."""
    target = open_store(args.settings, **place(args.target))
    next_id, what = await _copy(source, target, args.replace, "the source and the target are the same store")
    print(f"copied {what} from {source.name} to {target.name} (next id {next_id})")


async def cmd_verify(args: argparse.Namespace, store: TicketStore) -> None:
    """The whole history checked; exit 1 naming the first problem."""
    report = await store.verify()
    print(f"{store.name}: {report.summary()}")


async def cmd_backup(args: argparse.Namespace, store: TicketStore) -> None:
    """A consistent copy of the store, history included, into a new JSON file."""
    if os.path.lexists(args.dest):
        raise UsageError(f"{args.dest} already exists; a backup goes into a new file")
    target = open_store(args.settings, file=args.dest, environment=False)
    _, what = await _copy(store, target, False, "the backup cannot be the store itself")
    print(f"backed up {what} from {store.name} to {target.name}")


async def _copy(source: TicketStore, target: TicketStore, replace: bool, same: str) -> tuple[int, str]:
    """Everything of source into target (opened and closed here): the next id, and what was copied, counted."""
    if source.name == target.name:
        raise UsageError(f"{same}: {source.name}")
    await target.open()
    try:
        next_id, tickets, history = await source.export_all()
        await target.replace_all(next_id, tickets, replace=replace, history=history)
    finally:
        await target.close()
    return next_id, f"{len(tickets)} tickets, {len(history.comments)} comments and {len(history.events)} events"


def place(text: str) -> dict[str, Any]:
    """A copy's SOURCE or TARGET as open_store() takes it: a postgresql:// URL, else the path of a JSON file.
    Named on the command line: TICKETS_DATABASE_URL and TICKETS_FILE play no part."""
    where = {"database_url": text} if text.startswith(POSTGRES_SCHEMES) else {"file": text}
    return {**where, "environment": False}
