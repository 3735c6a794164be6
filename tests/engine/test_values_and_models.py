"""The values and models of the engine: statuses and priorities in any case and in French, the bodies of a
creation and an update."""

from __future__ import annotations

import re

import pytest

from tickets.engine.models import TicketCreate, TicketUpdate
from tickets.engine.rules import now, sort_tickets
from tickets.engine.values import TIMESTAMP_PATTERN, moment_of, parse_priority, parse_status, stored_time, time_key

# --------------------------------------------------------------------------- values


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("open", "open"),
        ("OPEN", "open"),
        ("ouvert", "open"),
        ("Ouvert", "open"),
        ("in_progress", "in_progress"),
        ("In_Progress", "in_progress"),
        ("en cours", "in_progress"),
        ("en_cours", "in_progress"),
        ("En Cours", "in_progress"),
        ("fermé", "closed"),
        ("ferme", "closed"),
        ("FERMÉ", "closed"),
        ("closed", "closed"),
    ],
)
def test_status_accepts_case_and_french(typed: str, stored: str) -> None:
    assert parse_status(typed) == stored


@pytest.mark.parametrize("typed", ["", "done", "opened", "fermée", "attente"])
def test_unknown_status_names_the_value(typed: str) -> None:
    with pytest.raises(ValueError, match="unknown status"):
        parse_status(typed)


def test_priority_accepts_any_case_and_refuses_unknown() -> None:
    assert parse_priority("URGENT") == "urgent"
    with pytest.raises(ValueError, match="'critical'"):
        parse_priority("critical")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"title": "   "},
        {"title": "x" * 201},
        {"title": 5},
        {"title": "ok", "description": "x" * 5001},
        {"title": "ok", "assignee": ""},
        {"title": "ok", "assignee": "a" * 101},
        {"title": "ok", "prioriy": "high"},
        {"title": "ok", "id": 3},
        {"title": "ok", "created_at": "2026-11-20T09:00:00Z"},
        {"title": "ok", "status": None},
    ],
)
def test_invalid_creation_is_refused(body: dict) -> None:
    with pytest.raises(ValueError):
        TicketCreate.model_validate(body)


def test_creation_trims_title_and_fills_defaults() -> None:
    data = TicketCreate.model_validate({"title": "  Écran noir  "})
    assert data.model_dump() == {
        "title": "Écran noir",
        "description": "",
        "status": "open",
        "priority": "medium",
        "assignee": None,
        "requester": None,
        "tags": [],
    }


@pytest.mark.parametrize("body", [{}, {"title": None}, {"status": None}, {"priority": None}, {"description": None}])
def test_update_refuses_empty_and_null_except_assignee(body: dict) -> None:
    with pytest.raises(ValueError):
        TicketUpdate.model_validate(body)


def test_update_allows_null_assignee() -> None:
    assert TicketUpdate.model_validate({"assignee": None}).model_dump(exclude_unset=True) == {"assignee": None}


# --------------------------------------------------------------------------- times with a fraction of a second

IN_ORDER = [
    "2026-11-27T09:59:59.999999Z",
    "2026-11-27T10:00:00Z",  # an older file's whole second
    "2026-11-27T10:00:00.000001Z",
    "2026-11-27T10:00:00.5Z",
    "2026-11-27T10:00:00.52Z",
    "2026-11-27T10:00:01Z",
]


def test_times_of_any_precision_compare_as_times() -> None:
    assert sorted(IN_ORDER) != IN_ORDER  # as plain text, "…:00.5Z" sorts before "…:00Z"
    assert sorted(IN_ORDER, key=time_key) == IN_ORDER
    assert [moment_of(t) for t in IN_ORDER] == sorted(moment_of(t) for t in IN_ORDER)


def test_the_service_writes_times_to_the_microsecond() -> None:
    assert stored_time(moment_of("2026-11-27T10:00:00.25Z")) == "2026-11-27T10:00:00.250000Z"
    assert stored_time(moment_of("2026-11-27T10:00:00Z")) == "2026-11-27T10:00:00.000000Z"
    assert stored_time(moment_of("2026-11-27T10:00:00.000001Z")) == "2026-11-27T10:00:00.000001Z"


def test_the_clock_reads_to_the_microsecond_and_stores_valid_times() -> None:
    times = [now() for _ in range(50)]
    assert [time_key(t) for t in times] == sorted(time_key(t) for t in times)
    assert all(re.fullmatch(TIMESTAMP_PATTERN, t) for t in times)
    assert all(stored_time(moment_of(t)) == t for t in times)
    assert times == sorted(times)  # of one width, they compare right as plain text too


def test_sort_by_updated_at_mixes_whole_seconds_and_fractions() -> None:
    base = {"description": "", "status": "open", "priority": "medium", "assignee": None, "created_at": IN_ORDER[0]}
    tickets = [{**base, "id": n, "title": str(n), "updated_at": t} for n, t in enumerate(reversed(IN_ORDER), 1)]
    newest_first = [t["updated_at"] for t in sort_tickets(tickets, "-updated_at")]  # type: ignore[arg-type]
    assert newest_first == IN_ORDER[::-1]
