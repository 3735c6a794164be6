"""What the command line prints: tables, a ticket, JSON as the API answers it, the statistics with their per-day
bar chart, the SLA policy and an event's changes on one line."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pydantic_core

from tickets.engine.history import Event, commented_id
from tickets.engine.messages import message
from tickets.engine.models import DayCount, Stats
from tickets.engine.settings import user_language
from tickets.engine.sla import Policy
from tickets.engine.values import PRIORITIES


def say(name: str, /, *, flush: bool = False, **values: Any) -> None:
    """Print the catalog's message `name` in the user's language (LC_ALL, LC_MESSAGES, LANG)."""
    print(message(name, **values).told(user_language()), flush=flush)


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


def short_time(timestamp: str | None, zone: str = "UTC") -> str:
    """A time for a narrow column, to the minute: '11-30 10:00Z' in UTC; in another time zone (an IANA name, the
    SLA policy's), its wall-clock time with the zone's abbreviation, or its offset where it has none:
    '11-30 11:00 CET', '06-30 18:00 CEST', '11-30 07:00 -03'; '-' for no time."""
    if timestamp is None:
        return "-"
    if zone != "UTC":
        try:
            local = datetime.fromisoformat(timestamp).astimezone(ZoneInfo(zone))
        except (OverflowError, ValueError):  # past what datetime holds there: said in UTC
            pass
        else:
            return f"{local:%m-%d %H:%M} {local.tzname() or local.strftime('%z')}"
    return f"{timestamp[5:10]} {timestamp[11:16]}Z"


def requester_text(requester: dict[str, Any] | None) -> str:
    """'Claire Dubois <claire.dubois@example.fr>', the name alone without an email, or '-'."""
    if requester is None:
        return "-"
    return requester["name"] if requester.get("email") is None else f"{requester['name']} <{requester['email']}>"


def _field_text(key: str, value: Any) -> str:
    if key == "requester":
        return requester_text(value)
    if key == "tags":
        return ", ".join(value) or "-"
    return "-" if value is None else str(value)


def _show_ticket(ticket: dict[str, Any], etag: str) -> str:
    """A ticket as the API answers it (its SLA included), one field a line, then its ETag."""
    width = max(len(key) for key in ticket) + 2
    lines = [f"{key + ':':{width}}{_field_text(key, value)}" for key, value in ticket.items()]
    return "\n".join([*lines, f"{'etag:':{width}}{etag}"])


def minutes_text(minutes: float | None) -> str:
    """A median in business minutes: '42', '42.5', or '-' when there is none."""
    if minutes is None:
        return "-"
    return f"{minutes:.0f}" if float(minutes).is_integer() else f"{minutes:.1f}"


def stats_text(stats: Stats, bar: str) -> str:
    """The statistics for a person: the counts, the per-day chart, then the SLA, the medians and the tags."""
    rows = [["total", str(stats["total"])]]
    rows += [[f"status {k}", str(v)] for k, v in stats["by_status"].items()]
    rows += [[f"priority {k}", str(v)] for k, v in stats["by_priority"].items()]
    help_desk = [[f"sla {k}", str(v)] for k, v in stats["sla"].items()]
    help_desk += [
        ["first response median", _in_minutes(stats["first_response_minutes_median"])],
        ["resolution median", _in_minutes(stats["resolution_minutes_median"])],
    ]
    help_desk += [[f"tag {k}", str(v)] for k, v in stats["by_tag"].items()] or [["tags", "-"]]
    return "\n".join([_table(rows), "", bar_chart(stats["per_day"], bar), "", _table(help_desk)])


def _in_minutes(minutes: float | None) -> str:
    shown = minutes_text(minutes)
    return shown if minutes is None else f"{shown} business minutes"


def policy_text(policy: Policy) -> str:
    """The SLA policy for a person: time zone, business hours per day, holidays, targets per priority."""
    width = len("business hours:") + 2
    lines = [f"{'time zone:':{width}}{policy.timezone}"]
    if policy.business_hours is None:
        lines.append(f"{'business hours:':{width}}every hour counts")
    else:
        for n, (day, ranges) in enumerate(policy.business_hours.items()):
            label = "business hours:" if n == 0 else ""
            hours = ", ".join(f"{start}-{end}" for start, end in ranges) or "-"
            lines.append(f"{label:{width}}{day} {hours}")
    lines.append(f"{'holidays:':{width}}{', '.join(policy.holidays) or '-'}")
    if not policy.targets:
        lines.append(f"{'targets:':{width}}none (every ticket's SLA state is none)")
        return "\n".join(lines)
    lines.append("targets, in business minutes:")
    rows = [["  PRIORITY", "FIRST RESPONSE", "RESOLUTION"]]
    for priority in PRIORITIES:
        target = policy.targets.get(priority)
        if target is not None:
            rows.append([f"  {priority}", _or_dash(target.first_response), _or_dash(target.resolution)])
    return "\n".join([*lines, _table(rows)])


def _or_dash(value: int | None) -> str:
    return "-" if value is None else str(value)


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
    """A value in an event: JSON (strings quoted, a requester as an object), '-' for null."""
    return "-" if value is None else json.dumps(value, ensure_ascii=False)


def describe_changes(event: Event) -> str:
    """An event's changes on one line: status: "open" -> "closed"; a creation lists its values; a comment's
    events name the comment; a breach names its target and due time."""
    changes = dict(event["changes"])
    if event["type"] in ("commented", "comment_edited", "comment_deleted"):
        comment_id = commented_id(event)
        internal = changes.pop("internal", None)
        changes.pop("comment_id", None)
        if event["type"] == "commented":
            return f"comment {comment_id}" + (" (internal)" if internal else "")
        if event["type"] == "comment_deleted":
            return f"comment {comment_id} deleted" + (" (internal)" if internal else "")
        if internal is not None:
            changes["internal"] = internal
        return f"comment {comment_id}: " + _from_to(changes)
    if event["type"] == "created":
        return ", ".join(f"{field}: {_shown_value(c['to'])}" for field, c in changes.items())
    if event["type"] == "sla_breached":
        named: dict[str, Any] = changes
        target = str(named.get("target", {}).get("to", "?")).replace("_", " ")
        return f"SLA breached: {target} was due {named.get('due', {}).get('to', '?')}"
    return _from_to(changes)


def _from_to(changes: dict[str, Any]) -> str:
    return ", ".join(f"{field}: {_shown_value(c['from'])} -> {_shown_value(c['to'])}" for field, c in changes.items())
