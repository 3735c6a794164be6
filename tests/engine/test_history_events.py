"""The pure functions of the history: the event diff, the counts per day, updated_at after a comment."""

from __future__ import annotations

from datetime import date
from typing import Any

from tickets.engine.history import changes_between, later_than, per_day, tally

TICKET = {
    "id": 3,
    "title": "Imprimante",
    "description": "",
    "status": "open",
    "priority": "high",
    "assignee": None,
    "created_at": "2026-11-20T09:14:00Z",
    "updated_at": "2026-11-20T09:14:00Z",
}


# --------------------------------------------------------------------------- pure functions


def test_the_event_diff_names_only_what_changed() -> None:
    created = changes_between(None, TICKET)  # type: ignore[arg-type]
    assert list(created) == ["title", "description", "status", "priority", "assignee"]
    assert created["assignee"] == {"from": None, "to": None} and created["title"] == {"from": None, "to": "Imprimante"}
    closed = {**TICKET, "status": "closed", "assignee": "ana", "updated_at": "2026-11-21T10:00:00Z"}
    assert changes_between(TICKET, closed) == {  # type: ignore[arg-type]
        "status": {"from": "open", "to": "closed"},
        "assignee": {"from": None, "to": "ana"},
    }  # not updated_at
    assert changes_between(TICKET, dict(TICKET)) == {}  # type: ignore[arg-type]
    assert changes_between(TICKET, None) == {}  # type: ignore[arg-type]


def test_per_day_counts_openings_and_closings_with_every_day_present() -> None:
    def event(at: str, kind: str, status: str | None = None) -> Any:
        changes = {"status": {"from": None if kind == "created" else "open", "to": status}} if status else {}
        return {"id": 1, "ticket_id": 1, "at": at, "actor": None, "type": kind, "changes": changes}

    counts = tally(
        [
            event("2026-11-25T23:59:59Z", "created", "open"),
            event("2026-11-26T00:00:00Z", "created", "closed"),
            event("2026-11-26T10:00:00Z", "updated", "closed"),
            event("2026-11-26T11:00:00Z", "updated", "open"),
            event("2026-11-20T10:00:00Z", "created", "open"),
            event("2026-11-26T12:00:00Z", "commented"),
        ]
    )
    days = per_day(counts, 3, today=date(2026, 11, 27))
    assert days == [
        {"date": "2026-11-25", "opened": 1, "closed": 0},
        {"date": "2026-11-26", "opened": 1, "closed": 2},
        {"date": "2026-11-27", "opened": 0, "closed": 0},
    ]
    assert [d["date"] for d in per_day({}, 2, today=date(2026, 3, 1))] == ["2026-02-28", "2026-03-01"]


def test_a_comment_takes_the_clock_when_it_moved() -> None:
    assert later_than("2026-11-20T09:14:00Z", "2026-11-27T10:00:00Z") == "2026-11-27T10:00:00Z"
    # within one second, the clock's fraction is later: it is taken as it is (the old rule gave 10:00:01)
    assert later_than("2026-11-27T10:00:00Z", "2026-11-27T10:00:00.001Z") == "2026-11-27T10:00:00.001Z"
    assert later_than("2026-11-27T10:00:00.5Z", "2026-11-27T10:00:00.52Z") == "2026-11-27T10:00:00.52Z"


def test_a_comment_moves_updated_at_by_a_microsecond_when_the_clock_did_not_move() -> None:
    assert later_than("2026-11-27T10:00:00Z", "2026-11-27T10:00:00Z") == "2026-11-27T10:00:00.000001Z"
    assert later_than("2026-11-27T10:00:00.5Z", "2026-11-27T10:00:00Z") == "2026-11-27T10:00:00.500001Z"
    assert later_than("2026-12-31T23:59:59.999999Z", "2026-12-31T23:59:59Z") == "2027-01-01T00:00:00.000000Z"
