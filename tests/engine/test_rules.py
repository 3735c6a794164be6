"""The pure functions: count, filter, sort and page lists of tickets, with no file."""

from __future__ import annotations

import pytest

from conftest import ticket
from tickets.engine.models import TicketFilters
from tickets.engine.rules import count, filter_tickets, paginate, sort_tickets

# --------------------------------------------------------------------------- pure functions

SAMPLE = [
    ticket(1, status="closed", priority="low", title="beta", assignee="ana"),
    ticket(2, status="open", priority="urgent", title="Alpha", description="VPN en panne"),
    ticket(3, status="in_progress", priority="high", title="gamma", assignee="ana"),
    ticket(4, status="open", priority="urgent", title="alpha", created_at="2026-11-19T09:00:00Z"),
]


def test_count_has_every_key_even_zero() -> None:
    assert count([]) == {
        "total": 0,
        "by_status": {"open": 0, "in_progress": 0, "waiting": 0, "closed": 0},
        "by_priority": {"low": 0, "medium": 0, "high": 0, "urgent": 0},
        "by_tag": {},
        "sla": {"none": 0, "on_track": 0, "paused": 0, "met": 0, "breached": 0},
        "first_response_minutes_median": None,
        "resolution_minutes_median": None,
    }
    stats = count(SAMPLE)
    assert stats["total"] == 4
    assert stats["by_status"] == {"open": 2, "in_progress": 1, "waiting": 0, "closed": 1}
    assert stats["by_priority"] == {"low": 1, "medium": 0, "high": 1, "urgent": 2}


@pytest.mark.parametrize(
    ("filters", "ids"),
    [
        ({}, [1, 2, 3, 4]),
        ({"status": ["open"]}, [2, 4]),
        ({"status": ["open", "fermé"]}, [1, 2, 4]),
        ({"priority": ["urgent", "low"]}, [1, 2, 4]),
        ({"assignee": "ana"}, [1, 3]),
        ({"q": "ALPHA"}, [2, 4]),
        ({"q": "vpn"}, [2]),
        ({"status": ["open"], "q": "nothing"}, []),
    ],
)
def test_filter(filters: dict, ids: list[int]) -> None:
    assert [t["id"] for t in filter_tickets(SAMPLE, TicketFilters.model_validate(filters))] == ids


@pytest.mark.parametrize(
    ("sort", "ids"),
    [
        ("id", [1, 2, 3, 4]),
        ("-id", [4, 3, 2, 1]),
        ("priority", [1, 3, 2, 4]),
        ("-priority", [2, 4, 3, 1]),
        ("status", [2, 4, 3, 1]),
        ("-status", [1, 3, 2, 4]),
        ("title", [2, 4, 1, 3]),
        ("-title", [3, 1, 2, 4]),
        ("created_at", [4, 1, 2, 3]),
        ("-created_at", [1, 2, 3, 4]),
    ],
)
def test_sort_by_rank_with_ties_by_ascending_id(sort: str, ids: list[int]) -> None:
    assert [t["id"] for t in sort_tickets(list(reversed(SAMPLE)), sort)] == ids


def test_paginate() -> None:
    assert [t["id"] for t in paginate(SAMPLE, 2, 1)] == [2, 3]
    assert [t["id"] for t in paginate(SAMPLE, None, 3)] == [4]
    assert paginate(SAMPLE, 5, 10) == []
