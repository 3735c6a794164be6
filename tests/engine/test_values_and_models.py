"""The values and models of the engine: statuses and priorities in any case and in French, the bodies of a
creation and an update."""

from __future__ import annotations

import pytest

from tickets.engine.models import TicketCreate, TicketUpdate
from tickets.engine.values import parse_priority, parse_status

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
