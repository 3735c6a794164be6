"""What the command line prints: tables, a ticket, JSON as the API answers it, the per-day bar chart and
an event's changes on one line."""

from __future__ import annotations

import json
import sys
from typing import Any

import pydantic_core

from tickets.engine.history import Event
from tickets.engine.models import DayCount, Ticket


def _json_text(data: bytes | Any) -> str:
    """The JSON the API would answer (compact, non-ASCII as itself). On a terminal that cannot show accents,
    non-ASCII characters are written as \\u escapes: still the same JSON data."""
    text = (data if isinstance(data, bytes) else pydantic_core.to_json(data)).decode()
    try:
        text.encode(getattr(sys.stdout, "encoding", None) or "utf-8")
    except (UnicodeEncodeError, LookupError):
        text = json.dumps(json.loads(text), separators=(",", ":"))
    return text


def _print_json(data: bytes | Any) -> None:
    """--json: the JSON the API would answer."""
    print(_json_text(data))


class JsonArray:
    """--json for a list read a page at a time: one JSON array printed as the pages come, so a long list never
    sits whole in memory. Nothing is printed before the first page was read (an error comes alone)."""

    def __init__(self) -> None:
        self.started = False

    def add(self, items: list[Any]) -> None:
        inner = _json_text(items)[1:-1]
        if inner:
            print("," if self.started else "[", inner, sep="", end="")
            self.started = True

    def close(self) -> None:
        print("]" if self.started else "[]")


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows)


def _show_ticket(ticket: Ticket, etag: str) -> str:
    lines = [f"{key + ':':13}{'-' if value is None else value}" for key, value in ticket.items()]
    return "\n".join([*lines, f"{'etag:':13}{etag}"])


BAR_WIDTH = 30


def bar_chart(days: list[DayCount], bar: str = "#") -> str:
    """Opened and closed per day as two bars per line, scaled to the busiest day, zeros included."""
    most = max([1, *(d["opened"] for d in days), *(d["closed"] for d in days)])
    digits = len(str(most))

    def drawn(n: int) -> str:
        return (bar * (0 if n == 0 else max(1, round(n * BAR_WIDTH / most)))).ljust(BAR_WIDTH)

    lines = [f"{'per day (UTC)':<10}  {'opened':<{digits + BAR_WIDTH + 1}}  closed"]
    lines += [
        f"{d['date']:<13}  {d['opened']:>{digits}} {drawn(d['opened'])}  {d['closed']:>{digits}} "
        f"{drawn(d['closed'])}".rstrip()
        for d in days
    ]
    return "\n".join(lines)


def _bar_character() -> str:
    """A full block where the terminal can show it, else '#'."""
    try:
        "\u2588".encode(getattr(sys.stdout, "encoding", None) or "ascii")
    except (UnicodeEncodeError, LookupError):
        return "#"
    return "\u2588"


def _shown_value(value: Any) -> str:
    return "-" if value is None else json.dumps(value, ensure_ascii=False) if isinstance(value, str) else str(value)


def describe_changes(event: Event) -> str:
    """An event's changes on one line: status: "open" -> "closed"; a creation lists its values."""
    if event["type"] == "commented":
        return f"comment {event['changes']['comment_id']['to']}"
    if event["type"] == "created":
        return ", ".join(f"{field}: {_shown_value(c['to'])}" for field, c in event["changes"].items())
    return ", ".join(
        f"{field}: {_shown_value(c['from'])} -> {_shown_value(c['to'])}" for field, c in event["changes"].items()
    )
