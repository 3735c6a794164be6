"""The conversation and the history of a ticket: add a comment, correct or delete one, read them and the
ticket's events, a page at a time; each a thin wrapper over one call of the store."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Generic, TypeVar

from tickets.cli.inputs import UsageError, actor, validated
from tickets.cli.output import JsonArray, _print_json, _table, describe_changes, say
from tickets.engine.history import PAGE_MAX, CommentCreate, CommentEdit, Event, NewComment, Page
from tickets.engine.messages import message
from tickets.stores.base import TicketStore

T = TypeVar("T")


async def cmd_comment(args: argparse.Namespace, store: TicketStore) -> None:
    acting = actor(args)
    data = validated(CommentCreate, author=args.author, body=args.text, internal=args.internal)
    author = data.author or acting
    if author is None:
        raise UsageError(message("cli_give_author"))
    comment, _ = await store.add_comment(args.id, NewComment(author, data.body, data.internal), acting or author)
    if args.json:
        return _print_json(comment)
    say("cli_note_added" if comment["internal"] else "cli_comment_added", comment_id=comment["id"], ticket_id=args.id)


async def cmd_comment_edit(args: argparse.Namespace, store: TicketStore) -> None:
    """Correct a comment's text or internal flag. The CLI acts with the rights of the store's owner, as an admin
    key: any author's comment (author=None)."""
    changes = {"body": args.body} if args.body is not None else {}
    if args.internal is not None:
        changes["internal"] = args.internal
    if not changes:
        raise UsageError(message("cli_nothing_to_change"))
    edit = validated(CommentEdit, **changes)
    before = await store.comment(args.id, args.comment_id)
    comment = await store.edit_comment(args.id, args.comment_id, edit, author=None, actor=actor(args))
    if args.json:
        return _print_json(comment)
    if comment == before:
        say("cli_comment_unchanged", comment_id=comment["id"], ticket_id=args.id)
    else:
        edited = "cli_note_edited" if comment["internal"] else "cli_comment_edited"
        say(edited, comment_id=comment["id"], ticket_id=args.id)


async def cmd_comment_delete(args: argparse.Namespace, store: TicketStore) -> None:
    """Delete a comment, whoever wrote it (the store's owner's rights, as an admin key)."""
    await store.delete_comment(args.id, args.comment_id, author=None, actor=actor(args))
    say("cli_comment_deleted", comment_id=args.comment_id, ticket_id=args.id)


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
            marks = ("  (internal)" if c["internal"] else "") + (
                f"  (edited {c['edited_at']})" if c.get("edited_at") else ""
            )
            print(f"#{c['id']}  {c['created_at']}  {c['author']}{marks}")
            print("\n".join("    " + line for line in c["body"].splitlines() or [""]))
    if args.json:
        return as_json.close()
    if not pages.total:
        say("cli_no_comment", ticket_id=args.id)
        return
    say("cli_shown_total", shown=shown, total=pages.total)


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
        say("cli_no_history", ticket_id=args.id)
        return
    rows = [["EVENT", "AT", "ACTOR", "TYPE", "CHANGES"]]
    rows += [[f"#{e['id']}", e["at"], e["actor"] or "-", e["type"], describe_changes(e)] for e in events]
    print(_table(rows))
    say("cli_shown_total", shown=len(events), total=pages.total)
