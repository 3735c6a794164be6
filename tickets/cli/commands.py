"""The ticket commands: statistics, listing, one ticket, and its creation, changes (one ticket or many at once) and
deletion; each a thin wrapper over one call of the store (the seam the routes use too), printing its answer for a
person or as JSON, as the API answers it."""

from __future__ import annotations

import argparse
import json
from typing import Any

from tickets.cli.inputs import UsageError, actor, listed, validated
from tickets.cli.output import (
    _bar_character,
    _print_json,
    _show_ticket,
    _table,
    say,
    short_time,
    stats_text,
)
from tickets.engine.errors import TicketNotFound
from tickets.engine.messages import message
from tickets.engine.models import BulkUpdate, StatsQuery, Ticket, TicketCreate, TicketQuery, TicketUpdate
from tickets.engine.rules import Reading
from tickets.engine.sla import timestamp_of
from tickets.stores.base import TicketStore

#: The fields every ticket command takes as they are typed (--title, --description, --status, ...).
PLAIN_FIELDS = ("title", "description", "status", "priority", "assignee")


def _plain_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The ticket fields given on the command line as they are (title, description, status, priority, assignee)."""
    return {name: getattr(args, name) for name in PLAIN_FIELDS if getattr(args, name, None) is not None}


def _requester(args: argparse.Namespace) -> dict[str, Any] | None:
    """--requester-name and --requester-email as the API's requester (the name is required with an email)."""
    if args.requester_email is not None and args.requester_name is None:
        raise UsageError(message("cli_email_needs_name"))
    if args.requester_name is None:
        return None
    return {"name": args.requester_name, "email": args.requester_email}


def filters_of(args: argparse.Namespace) -> dict[str, Any]:
    """The filters list and stats were given (main._filter_options), as the API's query takes them; none when the
    command was `script.py` alone."""
    given = vars(args)
    return {
        "status": given.get("status") or [],
        "priority": given.get("priority") or [],
        "assignee": "none" if given.get("unassigned") else given.get("assignee"),
        "q": given.get("q"),
        "requester": given.get("requester"),
        "tag": given.get("tag") or [],
        "sla": given.get("sla") or [],
        "due_before": given.get("due_before"),
    }


async def cmd_stats(args: argparse.Namespace, store: TicketStore) -> None:
    stats = await store.stats(validated(StatsQuery, **filters_of(args), days=args.days))
    if args.json:
        return _print_json(stats)
    print(stats_text(stats, _bar_character()))


def next_due(reading: Reading, ticket: Ticket) -> str | None:
    """The ticket's next pending due time (first response if none yet, else resolution), as sort=due and
    due_before see it; None when nothing is pending."""
    key = reading.due_key(reading.plan(ticket))
    if key is None:
        return None
    try:
        return timestamp_of(reading.calendar.instant(key))
    except (OverflowError, ValueError):  # past the year 9999
        return None


async def cmd_list(args: argparse.Namespace, store: TicketStore) -> None:
    query = validated(TicketQuery, **filters_of(args), sort=args.sort, limit=args.limit, offset=args.offset)
    if args.json:
        return _print_json((await store.search_json(query))[0])
    page, total = await store.search(query)
    everything = await store.count()
    if not page:
        say("cli_no_ticket", everything=everything)
        return
    reading = await store.reading()
    header = [["ID", "STATUS", "PRIORITY", "ASSIGNEE", "UPDATED", "SLA", "DUE", "TITLE"]]
    rows = [
        [
            str(t["id"]),
            t["status"],
            t["priority"],
            t["assignee"] or "-",
            t["updated_at"],
            reading.state(reading.plan(t)),
            short_time(next_due(reading, t), reading.policy.timezone),  # as the team reads its clock
            t["title"],
        ]
        for t in page
    ]
    print(_table(header + rows))
    say("cli_shown_matching", shown=len(page), total=total, everything=everything)


async def cmd_show(args: argparse.Namespace, store: TicketStore) -> None:
    data, etag = await store.get_json(args.id)
    if args.json:  # the ticket as the API answers it, and its ETag (the API's header) for a script's --if-match
        return _print_json({**json.loads(data), "etag": etag})
    print(_show_ticket(json.loads(data), etag))


async def cmd_add(args: argparse.Namespace, store: TicketStore) -> None:
    fields = _plain_fields(args)
    requester = _requester(args)
    if requester is not None:
        fields["requester"] = requester
    if args.tag:
        fields["tags"] = listed(args.tag)
    ticket = await store.add(validated(TicketCreate, {"tags": "--tag"}, **fields), actor=actor(args))
    if args.json:
        return _print_json((await store.render(ticket))[0])
    say("cli_created", ticket_id=ticket["id"], title=ticket["title"])


UPDATE_OPTIONS = (
    "--title, --description, --status, --priority, --assignee, --unassign, --requester-name, --requester-email, "
    "--no-requester, --tags, --add-tag, --remove-tag"
)


def _changes(args: argparse.Namespace) -> TicketUpdate:
    """The changes the update command was given, checked as a PATCH body is."""
    changes = _plain_fields(args)
    if args.unassign:
        changes["assignee"] = None
    if args.no_requester and (args.requester_name is not None or args.requester_email is not None):
        raise UsageError(message("cli_no_requester_with"))
    requester = _requester(args)
    if requester is not None or args.no_requester:
        changes["requester"] = requester
    if args.tags is not None and (args.add_tag or args.remove_tag):
        raise UsageError(message("cli_tags_with_add"))
    if args.tags is not None:
        changes["tags"] = [] if not args.tags.strip() else args.tags.split(",")
    if args.add_tag:
        changes["add_tags"] = listed(args.add_tag)
    if args.remove_tag:
        changes["remove_tags"] = listed(args.remove_tag)
    if not changes:
        raise UsageError(message("cli_nothing_to_update", options=UPDATE_OPTIONS))
    return validated(TicketUpdate, {"tags": "--tags"}, **changes)


async def cmd_update(args: argparse.Namespace, store: TicketStore) -> None:
    changes = _changes(args)
    if len(args.ids) > 1:
        return await _update_many(args, store, changes)
    ticket_id = args.ids[0]
    before = await store.get(ticket_id)
    ticket = await store.update(ticket_id, changes, if_match=args.if_match, actor=actor(args))
    if args.json:
        return _print_json((await store.render(ticket))[0])
    if ticket == before:
        say("cli_unchanged", ticket_id=ticket["id"])
    else:
        say("cli_updated", ticket_id=ticket["id"])


async def _update_many(args: argparse.Namespace, store: TicketStore, changes: TicketUpdate) -> None:
    """update 3 5 8 --status closed: the same changes on every ticket, all or nothing (store.update_many)."""
    if args.if_match is not None:
        raise UsageError(message("cli_if_match_one", count=len(args.ids)))
    bulk: BulkUpdate = validated(BulkUpdate, ids=args.ids, changes=changes)
    before: dict[int, Ticket] = {}
    for ticket_id in bulk.ids:  # only to tell what changed: update_many itself refuses an unknown id
        try:
            before[ticket_id] = await store.get(ticket_id)
        except TicketNotFound:
            pass
    tickets = await store.update_many(bulk.ids, bulk.changes, actor=actor(args))
    if args.json:
        reading = await store.reading()
        return _print_json(reading.array(tickets))
    changed = 0
    for ticket in tickets:
        if ticket == before.get(ticket["id"]):
            say("cli_unchanged", ticket_id=ticket["id"])
        else:
            changed += 1
            say("cli_updated", ticket_id=ticket["id"])
    say("cli_bulk_summary", count=len(tickets), changed=changed, unchanged=len(tickets) - changed)


async def cmd_delete(args: argparse.Namespace, store: TicketStore) -> None:
    await store.delete(args.id, if_match=args.if_match, actor=actor(args))
    say("cli_deleted", ticket_id=args.id)
