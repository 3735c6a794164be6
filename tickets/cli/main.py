"""The command line's edge: the argparse parser, and main(), which reads the settings, opens the store, runs
one command and turns every error into one line on stderr and an exit code (0 done, 1 not found or store
unusable, 2 invalid input)."""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import sys
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from tickets.cli.commands import cmd_add, cmd_delete, cmd_list, cmd_show, cmd_stats, cmd_update
from tickets.cli.conversation import cmd_comment, cmd_comment_delete, cmd_comment_edit, cmd_comments, cmd_history
from tickets.cli.inputs import UsageError
from tickets.cli.maintenance import (
    cmd_backup,
    cmd_copy,
    cmd_sla_set,
    cmd_sla_show,
    cmd_sla_sweep,
    cmd_verify,
    place,
)
from tickets.cli.parser import Parser
from tickets.cli.webhooks import webhook_parsers
from tickets.engine import messages as catalog
from tickets.engine.errors import AddressRefused, InvalidChange, SettingInvalid, TicketError
from tickets.engine.history import AUTHOR_MAX, BODY_MAX, PAGE_MAX
from tickets.engine.messages import message as text
from tickets.engine.models import BULK_MAX, DAYS_DEFAULT, DAYS_MAX, SLA_STATES
from tickets.engine.settings import Settings, user_language
from tickets.engine.sla import WEEKDAYS
from tickets.engine.values import (
    ASSIGNEE_MAX,
    DESCRIPTION_MAX,
    NUMBER_MAX,
    PRIORITIES,
    PRIORITY_ALIASES,
    SORT_KEYS,
    STATUSES,
    TAG_MAX,
    TAGS_MAX,
    TITLE_MAX,
    Timestamp,
)
from tickets.stores.choice import open_store

TIME = TypeAdapter(Timestamp)


def _etag_argument(value: str) -> str:
    """--if-match takes the ETag as `show` prints it, with or without its quotes."""
    value = value.strip()
    return value if value.startswith(('"', "W/")) or value == "*" else f'"{value}"'


def _time(text: str) -> str:
    """--due-before takes a time as the API does: UTC, such as 2026-11-30T09:00:00Z."""
    try:
        return TIME.validate_python(text)
    except ValidationError:
        shown = text if len(text) <= 30 else text[:27] + "..."
        raise argparse.ArgumentTypeError(
            catalog.message("cli_invalid_time", value=shown).told(user_language())
        ) from None


def _whole_number(what: str, minimum: int, maximum: int = NUMBER_MAX) -> Callable[[str], int]:
    """An argparse type for whole numbers from minimum to maximum that names the bad value (argparse then
    exits with 2, the code of invalid input); what: the catalog's name of what it is (what_limit)."""

    def convert(text: str) -> int:
        digits = text.isascii() and text.isdigit()
        # Compared as text first: int() of thousands of digits is slow, then refused (sys.get_int_max_str_digits).
        if not digits or len(text.lstrip("0")) > len(str(maximum)) or not minimum <= int(text) <= maximum:
            shown = text if len(text) <= 30 else text[:27] + "..."
            told = catalog.message(
                "cli_invalid_number", what=catalog.message(what), value=shown, minimum=minimum, maximum=maximum
            )
            raise argparse.ArgumentTypeError(told.told(user_language()))
        return int(text)

    return convert


def _positive(what: str) -> Callable[[str], int]:
    return _whole_number(what, 1)


def _not_negative(what: str) -> Callable[[str], int]:
    return _whole_number(what, 0)


STATUS_HELP = f"{', '.join(STATUSES)} (or ouvert, en cours, en attente, fermé); waiting stops the SLA clocks"
PRIORITY_HELP = f"{', '.join(PRIORITIES)} (or {', '.join(PRIORITY_ALIASES)})"
TAG_HELP = f"1 to {TAG_MAX} letters, digits, - or _, lower-cased; at most {TAGS_MAX} a ticket"
SLA_HELP = ", ".join(SLA_STATES)


def _ticket_fields(p: argparse.ArgumentParser) -> None:
    """The options of add and update that set a requester."""
    p.add_argument("--requester-name", metavar="NAME", help=f"who asked, 1 to {ASSIGNEE_MAX} characters")
    p.add_argument("--requester-email", metavar="EMAIL", help="the requester's email (name@domain.tld); needs the name")


def _filter_options() -> argparse.ArgumentParser:
    """The filters of list and stats, those of GET /tickets and /tickets/stats (commands.filters_of reads them)."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--status", action="append", help=f"keep this status (repeatable, or a,b): {STATUS_HELP}")
    p.add_argument("--priority", action="append", help=f"keep this priority (repeatable, or a,b): {PRIORITY_HELP}")
    who = p.add_mutually_exclusive_group()
    who.add_argument("--assignee", help="exact assignee (none: the unassigned tickets)")
    who.add_argument("--unassigned", action="store_true", help="only the tickets nobody is assigned to")
    p.add_argument("--q", help="text in title or description, ignoring case and accents")
    p.add_argument("--requester", metavar="R", help="the requester's name or email, ignoring case")
    p.add_argument(
        "--tag", action="append", help="keep the tickets that have this tag (repeatable, or a,b: all of them)"
    )
    p.add_argument(
        "--sla", action="append", metavar="STATE", help=f"keep these SLA states (repeatable, or a,b): {SLA_HELP}"
    )
    p.add_argument(
        "--due-before",
        metavar="TIME",
        type=_time,
        help="keep the tickets whose next due time (first response, else resolution) is before TIME, "
        "a UTC time such as 2026-11-30T09:00:00Z",
    )
    return p


def build_parser() -> argparse.ArgumentParser:
    """The CLI: `python script.py` alone prints the statistics."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--file",
        type=Path,
        default=argparse.SUPPRESS,
        help="tickets file (default: $TICKETS_FILE or tickets.json beside script.py)",
    )
    common.add_argument(
        "--db",
        metavar="URL",
        default=argparse.SUPPRESS,
        help="PostgreSQL database instead of the file (default: $TICKETS_DATABASE_URL)",
    )
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print JSON, as the API answers")
    acting = argparse.ArgumentParser(add_help=False)
    acting.add_argument("--actor", help="who makes the change, for the history (default: your login name)")
    paged = argparse.ArgumentParser(add_help=False)
    paged.add_argument(
        "--limit", type=_positive("what_limit"), help=f"at most N (default: all, read {PAGE_MAX} at a time)"
    )
    paged.add_argument("--offset", type=_not_negative("what_offset"), default=0, help="skip the first N (default 0)")
    guarded = argparse.ArgumentParser(add_help=False)
    guarded.add_argument(
        "--if-match",
        metavar="ETAG",
        type=_etag_argument,
        help="change only if the ticket still has this ETag (as `show` prints it; quotes optional)",
    )

    filtered = _filter_options()

    parser: argparse.ArgumentParser = Parser(
        prog="script.py", description="Support tickets: statistics, listing, edits."
    )
    parser.add_argument("--file", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--db", default=None, help=argparse.SUPPRESS)
    parser.set_defaults(func=cmd_stats, json=False, days=DAYS_DEFAULT)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    p = sub.add_parser(
        "stats",
        parents=[common, as_json, filtered],
        help="count tickets by status and priority; opened and closed per day",
        description="Count the tickets (all, or those the filters keep, as list keeps them) by status, priority, "
        "SLA state and tag, with the median first-response and resolution times; opened and closed per day come "
        "from the whole history, whatever the filters.",
    )
    p.add_argument(
        "--days",
        type=_whole_number("what_days", 1, DAYS_MAX),
        default=DAYS_DEFAULT,
        help=f"how many days the opened/closed per day chart covers, today included: 1 to {DAYS_MAX} "
        f"(default {DAYS_DEFAULT})",
    )
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("list", parents=[common, as_json, filtered], help="list tickets, filtered and sorted")
    p.add_argument(
        "--sort",
        default="id",
        help=f"one of {', '.join(SORT_KEYS)}; prefix - for descending (default id); due: the nearest next due "
        "time first, tickets without one last",
    )
    p.add_argument("--limit", type=_positive("what_limit"), help="at most N tickets")
    p.add_argument(
        "--offset", type=_not_negative("what_offset"), default=0, help="skip the first N tickets (default 0)"
    )
    p.set_defaults(func=cmd_list)

    p = sub.add_parser(
        "show", parents=[common, as_json], help="show one ticket: its fields, requester, tags, SLA and ETag"
    )
    p.add_argument("id", type=_positive("what_ticket_id"))
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("add", parents=[common, as_json, acting], help="create a ticket")
    p.add_argument("title", help=f"1 to {TITLE_MAX} characters")
    p.add_argument("--description", help=f"at most {DESCRIPTION_MAX} characters")
    p.add_argument("--priority", help=f"{PRIORITY_HELP} (default medium)")
    p.add_argument("--status", help=f"{STATUS_HELP} (default open)")
    p.add_argument("--assignee", help=f"1 to {ASSIGNEE_MAX} characters")
    _ticket_fields(p)
    p.add_argument("--tag", action="append", help=f"a tag (repeatable, or a,b): {TAG_HELP}")
    p.set_defaults(func=cmd_add)

    p = sub.add_parser(
        "update",
        parents=[common, as_json, guarded, acting],
        help="change fields of a ticket, or of several at once (all or nothing)",
        description=f"Change fields of one ticket, or the same fields of up to {BULK_MAX} tickets at once: "
        "all or nothing (an unknown id changes none of them).",
    )
    p.add_argument("ids", metavar="ID", nargs="+", type=_positive("what_ticket_id"), help="the ticket, or several")
    p.add_argument("--title", help=f"1 to {TITLE_MAX} characters")
    p.add_argument("--description", help=f"at most {DESCRIPTION_MAX} characters")
    p.add_argument("--status", help=STATUS_HELP)
    p.add_argument("--priority", help=PRIORITY_HELP)
    who = p.add_mutually_exclusive_group()
    who.add_argument("--assignee", help=f"1 to {ASSIGNEE_MAX} characters")
    who.add_argument("--unassign", action="store_true", help="remove the assignee")
    _ticket_fields(p)
    p.add_argument("--no-requester", action="store_true", help="remove the requester")
    p.add_argument("--tags", metavar="T,T", help=f"the new tags, in place of the old ones ('' for none): {TAG_HELP}")
    p.add_argument("--add-tag", action="append", metavar="T", help="add this tag (repeatable, or a,b)")
    p.add_argument("--remove-tag", action="append", metavar="T", help="take this tag away (repeatable, or a,b)")
    p.set_defaults(func=cmd_update)

    p = sub.add_parser("delete", parents=[common, guarded, acting], help="delete a ticket and its comments")
    p.add_argument("id", type=_positive("what_ticket_id"))
    p.set_defaults(func=cmd_delete)

    p = sub.add_parser("comment", parents=[common, as_json, acting], help="comment on a ticket")
    p.add_argument("id", type=_positive("what_ticket_id"))
    p.add_argument("text", help=f"the comment, 1 to {BODY_MAX} characters")
    p.add_argument("--author", help=f"who writes it, 1 to {AUTHOR_MAX} characters (default: the actor)")
    p.add_argument("--internal", action="store_true", help="a note for the team, not for the requester")
    p.set_defaults(func=cmd_comment)

    p = sub.add_parser("comments", parents=[common, as_json, paged], help="show a ticket's comments, oldest first")
    p.add_argument("id", type=_positive("what_ticket_id"))
    p.set_defaults(func=cmd_comments)

    p = sub.add_parser(
        "history",
        parents=[common, as_json, paged],
        help="show a ticket's history, oldest first (also after it was deleted)",
    )
    p.add_argument("id", type=_positive("what_ticket_id"))
    p.set_defaults(func=cmd_history)

    p = sub.add_parser(
        "comment-edit",
        parents=[common, as_json, acting],
        help="correct a comment's text, or make it internal or public",
        description="Correct a comment; the history records the old and new values. The command line acts with "
        "the rights of the store's owner: any author's comment.",
    )
    p.add_argument("id", type=_positive("what_ticket_id"))
    p.add_argument("comment_id", metavar="COMMENT_ID", type=_positive("what_comment_id"))
    p.add_argument("--body", metavar="TEXT", help=f"the new text, 1 to {BODY_MAX} characters")
    shown_to = p.add_mutually_exclusive_group()
    shown_to.add_argument(
        "--internal", dest="internal", action="store_const", const=True, help="make it a note for the team"
    )
    shown_to.add_argument(
        "--public", dest="internal", action="store_const", const=False, help="make it visible to the requester"
    )
    p.set_defaults(func=cmd_comment_edit)

    p = sub.add_parser(
        "comment-delete",
        parents=[common, acting],
        help="delete a comment (the history records it)",
    )
    p.add_argument("id", type=_positive("what_ticket_id"))
    p.add_argument("comment_id", metavar="COMMENT_ID", type=_positive("what_comment_id"))
    p.set_defaults(func=cmd_comment_delete)

    p = sub.add_parser(
        "copy",
        help="copy the tickets, their comments and history, and the SLA policy between a JSON file and a PostgreSQL "
        "database",
        description="Copy every ticket (with its id, timestamps and the next id), every comment and event of the "
        "history (its chain of digests kept) and the SLA policy, all or nothing. Webhooks and the answers kept for "
        "Idempotency-Key are not copied: they belong to one installation. "
        "SOURCE and TARGET are each a JSON file or a postgresql:// URL.",
    )
    p.add_argument("source", metavar="SOURCE")
    p.add_argument("target", metavar="TARGET")
    p.add_argument("--replace", action="store_true", help="replace the tickets the target already holds")
    p.set_defaults(func=cmd_copy)

    p = sub.add_parser(
        "verify",
        parents=[common],
        help="check the whole history: its chain of digests, its ids, and each ticket against its events",
    )
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser(
        "backup",
        parents=[common],
        help="write a consistent copy of the store (tickets and history) into a new JSON file",
        description="Write the tickets, comments and events, as of one moment, into DEST (a new JSON file, "
        "with its history log beside it), which `verify` accepts. From PostgreSQL too.",
    )
    p.add_argument("dest", metavar="DEST", help="the new JSON file (its log is written beside it)")
    p.set_defaults(func=cmd_backup)

    _sla_parsers(sub, common, as_json)
    webhook_parsers(sub, common, as_json, _positive)
    return parser


def _sla_parsers(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
    as_json: argparse.ArgumentParser,
) -> None:
    """sla show, sla set FILE, sla sweep."""
    sla = sub.add_parser(
        "sla",
        parents=[common],
        help="show or set the SLA policy (business hours, holidays, targets per priority); write breach events",
        description="The SLA policy every ticket's due times follow. Its targets are business minutes; the clocks "
        "stop while a ticket is waiting (en attente) or closed.",
    )
    sla.set_defaults(func=None, sla_parser=sla, group_commands=text("cli_or", some="show, set", last="sweep"))
    commands = sla.add_subparsers(title="commands", metavar="COMMAND")
    p = commands.add_parser("show", parents=[common, as_json], help="print the policy")
    p.set_defaults(func=cmd_sla_show)
    p = commands.add_parser(
        "set",
        parents=[common, as_json],
        help="put the policy of a JSON file in place",
        description="Put the policy of FILE in place; every ticket's due times follow it at once, and a ticket "
        "already breached stays breached. FILE is a JSON object with: timezone (an IANA name such as Europe/Paris, "
        f'default UTC); business_hours, per day ({", ".join(WEEKDAYS)}) a list of ["HH:MM", "HH:MM"] ranges in '
        "order, or null for every hour; holidays, a list of YYYY-MM-DD dates; targets, per priority "
        f"({', '.join(PRIORITIES)}) an object with first_response and resolution in business minutes.",
    )
    p.add_argument("policy_file", metavar="FILE", help="the policy as JSON; - reads it from standard input")
    p.set_defaults(func=cmd_sla_set)
    p = commands.add_parser(
        "sweep",
        parents=[common, as_json],
        help="write the sla_breached events of the due times passed by now",
        description="Write an sla_breached event for each ticket and target whose due time passed unmet and has "
        "none yet (a server does it in the background; each is written once, whoever writes it).",
    )
    p.set_defaults(func=cmd_sla_sweep)


def _join_option_values(argv: list[str]) -> list[str]:
    """Let `--sort -priority` work as typed: argparse would take '-priority' for an option."""
    joined: list[str] = []
    for arg in argv:
        if joined and joined[-1] == "--sort" and arg.startswith("-") and arg != "--":
            joined[-1] = f"--sort={arg}"
        else:
            joined.append(arg)
    return joined


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code: 0 done, 1 not found or store unusable, 2 invalid input.

    Whatever happens to the output (a pipe closed by `head`, a full disk, a terminal without
    accents), the user gets one line on stderr or nothing, never a traceback.
    """
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="replace")  # '?' for what the terminal cannot show
    parser = build_parser()
    args = parser.parse_args(_join_option_values(list(sys.argv[1:] if argv is None else argv)))
    if args.func is None:  # `sla` or `webhooks` alone
        commands = getattr(args, "group_commands", None) or text("cli_or", some="show", last="set")
        args.sla_parser.error(text("cli_give_command", commands=commands).told(user_language()))
    try:
        args.settings = Settings.from_environment()
        asyncio.run(_execute(args))
        sys.stdout.flush()
    except (UsageError, SettingInvalid, InvalidChange, AddressRefused) as exc:
        return _fail(_told(exc), 2)
    except TicketError as exc:
        return _fail(_told(exc), 1)
    except BrokenPipeError:  # `script.py list | head -1`: the reader has all it wanted
        _silence_stdout()
        return 1
    except OSError as exc:  # > /dev/full
        _silence_stdout()
        return _fail(text("cli_output_failed", reason=exc.strerror or exc).told(user_language()), 1)
    return 0


async def _execute(args: argparse.Namespace) -> None:
    """One event loop for the whole command: the store is opened, used and closed in it."""
    where = place(args.source) if args.func is cmd_copy else {"file": args.file, "database_url": args.db}
    store = open_store(args.settings, **where)
    await store.open()
    try:
        await args.func(args, store)
    finally:
        await store.close()


def _told(exc: Exception) -> str:
    """An error's message in the user's language (LC_ALL, LC_MESSAGES, LANG), when the catalog has it."""
    return exc.told(user_language()) if isinstance(exc, TicketError) else str(exc)


def _fail(message: str, code: int) -> int:
    print(text("cli_error", problem=message).told(user_language()), file=sys.stderr)
    return code


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that Python's final flush of the unwritable output stays quiet."""
    with suppress(OSError, ValueError, io.UnsupportedOperation):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
