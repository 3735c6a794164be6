"""The SLA business-hours arithmetic (tickets.engine.sla) with fixed clocks: the sample policy (Europe/Paris,
09:00-12:30 and 13:30-18:00 Monday to Friday, French public holidays) across nights, weekends, holidays, the lunch
break and the DST changes; pauses, priority and policy changes; Calendar.before at its boundaries; the policy's
validation; and hypothesis properties of B(t), its inverse and the due times of a waiting ticket.

Times are written in Paris local time (paris("2026-11-27 17:50")) and compared as the stored UTC strings."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tickets.engine.models import Ticket, complete
from tickets.engine.sla import (
    MINUTE,
    Calendar,
    Policy,
    calendar_of,
    micros,
    plan_of,
    timestamp_of,
    view,
)

PARIS = ZoneInfo("Europe/Paris")
_UNIX = datetime(1970, 1, 1, tzinfo=timezone.utc)
HOUR = 60 * MINUTE
MICRO_S = 1_000_000

FRENCH_HOLIDAYS = [
    *("2026-01-01", "2026-04-06", "2026-05-01", "2026-05-08", "2026-05-14", "2026-05-25"),
    *("2026-07-14", "2026-08-15", "2026-11-01", "2026-11-11", "2026-12-25"),
    *("2027-01-01", "2027-03-29", "2027-05-01", "2027-05-06", "2027-05-08", "2027-05-17"),
    *("2027-07-14", "2027-08-15", "2027-11-01", "2027-11-11", "2027-12-25"),
]
DAY = [["09:00", "12:30"], ["13:30", "18:00"]]
SAMPLE_DICT: dict[str, Any] = {
    "timezone": "Europe/Paris",
    "business_hours": {"mon": DAY, "tue": DAY, "wed": DAY, "thu": DAY, "fri": DAY, "sat": [], "sun": []},
    "holidays": FRENCH_HOLIDAYS,
    "targets": {
        "urgent": {"first_response": 30, "resolution": 240},
        "high": {"first_response": 60, "resolution": 480},
        "medium": {"first_response": 240, "resolution": 1440},
        "low": {"first_response": 480, "resolution": 2880},
    },
}
SAMPLE = Policy.model_validate(SAMPLE_DICT)


def paris(local: str) -> str:
    """A Paris wall-clock time ("2026-11-27 17:50", maybe with seconds and a fraction) as a stored UTC time."""
    moment = datetime.fromisoformat(local).replace(tzinfo=PARIS)
    return timestamp_of((moment - _UNIX) // timedelta(microseconds=1))


def us(local: str) -> int:
    return micros(paris(local))


def ticket(created: str, priority: str = "urgent", status: str = "open", **fields: Any) -> Ticket:
    """A stored ticket created at the Paris time `created`, its other stored times given as Paris times too."""
    for key in ("first_response_at", "resolved_at"):
        if fields.get(key) is not None:
            fields[key] = paris(fields[key])
    fields["paused"] = [[paris(s), None if e is None else paris(e)] for s, e in fields.get("paused", [])]
    at = paris(created)
    data = {"id": 1, "title": "t", "description": "", "status": status, "priority": priority, "assignee": None}
    return complete({**data, "created_at": at, "updated_at": at, **fields})  # type: ignore[typeddict-item]


def shown(t: Ticket, now: str, policy: Policy = SAMPLE) -> tuple[str | None, str | None, str]:
    """(first_response_due, resolution_due, sla_state) of a ticket at the Paris time now."""
    calendar = calendar_of(policy)
    v = view(plan_of(t, policy, calendar), calendar, paris(now))
    return v.first_response_due, v.resolution_due, v.sla_state


def business_minutes(calendar: Calendar, start: str, end: str) -> float:
    return (calendar.at(us(end)) - calendar.at(us(start))) / MINUTE


# --------------------------------------------------------------------------- the calendar of the sample policy


CAL = Calendar(SAMPLE)


@pytest.mark.parametrize(
    ("start", "end", "minutes"),
    [
        ("2026-11-24 17:50", "2026-11-25 09:10", 20),  # a night (Tue to Wed)
        ("2026-11-24 18:00", "2026-11-25 09:00", 0),
        ("2026-11-24 19:00", "2026-11-25 08:00", 0),
        ("2026-11-27 17:50", "2026-11-30 09:10", 20),  # a weekend
        ("2026-11-28 10:00", "2026-11-29 16:00", 0),
        ("2026-11-30 12:20", "2026-11-30 13:40", 20),  # the lunch break
        ("2026-11-30 12:30", "2026-11-30 13:30", 0),
        ("2026-11-30 09:00", "2026-11-30 18:00", 480),  # a whole day
        ("2026-11-10 17:50", "2026-11-12 09:10", 20),  # Wednesday 11 November (Armistice)
        ("2026-12-24 17:50", "2026-12-28 09:10", 20),  # Friday 25 December, then a weekend
        ("2026-05-13 17:00", "2026-05-15 10:00", 120),  # Thursday 14 May 2026 (Ascension)
        ("2026-03-27 17:50", "2026-03-30 09:10", 20),  # the weekend of the spring DST change
        ("2026-10-23 17:50", "2026-10-26 09:10", 20),  # the weekend of the autumn DST change
        ("2026-11-30 09:00", "2026-12-07 09:00", 5 * 480),
    ],
)
def test_business_minutes_of_the_sample_policy(start: str, end: str, minutes: int) -> None:
    assert business_minutes(CAL, start, end) == minutes


@pytest.mark.parametrize(
    ("start", "minutes", "due"),
    [
        ("2026-11-24 17:50", 20, "2026-11-25 09:10"),  # over a night
        ("2026-11-27 17:50", 20, "2026-11-30 09:10"),  # over a weekend
        ("2026-11-30 12:20", 20, "2026-11-30 13:40"),  # over lunch
        ("2026-11-30 12:00", 30, "2026-11-30 12:30"),  # exactly at the end of the morning: 12:30, not 13:30
        ("2026-11-30 17:30", 30, "2026-11-30 18:00"),  # exactly at the end of the day: 18:00, not next morning
        ("2026-11-30 09:00", 480, "2026-11-30 18:00"),
        ("2026-11-30 09:00", 481, "2026-12-01 09:01"),
        ("2026-12-24 17:50", 20, "2026-12-28 09:10"),  # Christmas on a Friday
        ("2026-12-31 17:50", 20, "2027-01-04 09:10"),  # New Year's day on a Friday
        ("2026-03-27 17:50", 20, "2026-03-30 09:10"),  # Friday CET to Monday CEST
        ("2026-10-23 17:50", 20, "2026-10-26 09:10"),  # Friday CEST to Monday CET
        ("2026-11-28 11:00", 1, "2026-11-30 09:01"),  # from a Saturday
    ],
)
def test_instant_of_the_sample_policy(start: str, minutes: int, due: str) -> None:
    assert timestamp_of(CAL.instant(CAL.at(us(start)) + minutes * MINUTE)) == paris(due)


def test_the_dst_weekends_are_seen_in_utc() -> None:
    # Friday 17:50 CET is 16:50Z, Monday 09:10 CEST is 07:10Z: not the same UTC hour of day
    assert paris("2026-03-27 17:50") == "2026-03-27T16:50:00Z"
    assert timestamp_of(CAL.instant(CAL.at(us("2026-03-27 17:50")) + 20 * MINUTE)) == "2026-03-30T07:10:00Z"
    assert timestamp_of(CAL.instant(CAL.at(us("2026-10-23 17:50")) + 20 * MINUTE)) == "2026-10-26T08:10:00Z"


ALL_HOURS_PARIS = Calendar(Policy(timezone="Europe/Paris", business_hours=None))


@pytest.mark.parametrize(("day", "hours"), [("2026-03-28", 24), ("2026-03-29", 23), ("2026-10-25", 25)])
def test_every_hour_counts_on_a_dst_day_as_it_is(day: str, hours: int) -> None:
    d = date.fromisoformat(day)
    assert business_minutes(ALL_HOURS_PARIS, f"{d} 00:00", f"{d + timedelta(days=1)} 00:00") == hours * 60


def test_every_hour_counts_across_the_dst_changes() -> None:
    cal = ALL_HOURS_PARIS
    # Saturday 23:00 CET (22:00Z) plus three hours is 01:00Z, 03:00 CEST
    assert timestamp_of(cal.instant(cal.at(us("2026-03-28 23:00")) + 3 * HOUR)) == "2026-03-29T01:00:00Z"
    # Saturday 23:00 CEST (21:00Z) plus five hours is 02:00Z, 03:00 CET
    assert timestamp_of(cal.instant(cal.at(us("2026-10-24 23:00")) + 5 * HOUR)) == "2026-10-25T02:00:00Z"


def _sunday_hours(*ranges: tuple[str, str]) -> Calendar:
    return Calendar(Policy(timezone="Europe/Paris", business_hours={"sun": [list(r) for r in ranges]}))  # type: ignore[misc]


def _day_total(cal: Calendar, day: str) -> float:
    ordinal = date.fromisoformat(day).toordinal()
    return sum(end - start for start, end in cal.intervals(ordinal)) / MINUTE


@pytest.mark.parametrize(
    ("ranges", "spring", "autumn"),
    [
        ((("01:00", "04:00"),), 120, 240),  # the whole missing / doubled hour inside the range
        ((("00:00", "24:00"),), 23 * 60, 25 * 60),
        ((("02:00", "03:00"),), 0, 120),  # 02:00-03:00 does not exist in spring, happens twice in autumn
        ((("01:00", "02:30"), ("03:00", "05:00")), 60 + 120, None),  # a range ending in the missing hour
        ((("02:30", "03:00"),), 0, None),  # a range inside the missing hour: no time, never negative
        ((("02:15", "02:45"),), 0, None),
        ((("00:00", "02:30"), ("02:30", "05:00")), 4 * 60, None),
    ],
)
def test_hours_that_cross_the_missing_or_doubled_hour(
    ranges: tuple[tuple[str, str], ...], spring: int, autumn: int | None
) -> None:
    cal = _sunday_hours(*ranges)
    assert _day_total(cal, "2026-03-29") == spring
    if autumn is not None:
        assert _day_total(cal, "2026-10-25") == autumn
    for day in ("2026-03-29", "2026-10-25"):
        spans = cal.intervals(date.fromisoformat(day).toordinal())
        assert all(s <= e for s, e in spans), spans  # no negative interval
        assert all(e <= s for (_, e), (s, _) in zip(spans, spans[1:], strict=False)), spans  # ordered, disjoint


def test_a_due_time_on_a_dst_night_with_hours_across_it() -> None:
    cal = _sunday_hours(("01:00", "04:00"))
    # Sunday 29 March 2026: 01:00 CET (00:00Z) to 04:00 CEST (02:00Z) is two hours
    start = us("2026-03-29 01:30")
    assert timestamp_of(cal.instant(cal.at(start) + 90 * MINUTE)) == "2026-03-29T02:00:00Z"
    assert timestamp_of(cal.instant(cal.at(start) + 91 * MINUTE)) == "2026-04-04T23:01:00Z"  # 01:01 CEST
    # Sunday 25 October 2026: 01:00 CEST (23:00Z) to 04:00 CET (03:00Z) is four hours
    start = micros("2026-10-24T23:30:00Z")
    assert timestamp_of(cal.instant(cal.at(start) + 200 * MINUTE)) == "2026-10-25T02:50:00Z"


# --------------------------------------------------------------------------- Calendar.before at its boundaries


@pytest.mark.parametrize(
    ("t", "last_due_before"),
    [
        ("2026-11-30 12:30", "2026-11-30 12:29:59.999999"),  # a due time of 12:30 is not before 12:30
        ("2026-11-30 13:00", "2026-11-30 12:30"),  # lunch: 12:30 is before 13:00
        ("2026-11-30 13:30", "2026-11-30 12:30"),
        ("2026-11-30 13:30:00.000001", "2026-11-30 13:30"),
        ("2026-11-30 18:00", "2026-11-30 17:59:59.999999"),
        ("2026-11-30 20:00", "2026-11-30 18:00"),
        ("2026-12-01 09:00", "2026-11-30 18:00"),
        ("2026-12-25 12:00", "2026-12-24 18:00"),  # a holiday
        ("2026-11-28 12:00", "2026-11-27 18:00"),  # a Saturday
        ("2026-11-30 10:00:00.5", "2026-11-30 10:00:00.499999"),  # a fraction of a second
    ],
)
def test_before_at_a_boundary(t: str, last_due_before: str) -> None:
    bound = CAL.before(us(t))
    last = CAL.at(us(last_due_before))
    assert last < bound  # this due time is before t...
    assert CAL.instant(last) < us(t)
    assert CAL.instant(bound) >= us(t)  # ...and the next business microsecond is not
    assert bound == last + 1


# --------------------------------------------------------------------------- a ticket's clocks


def test_the_example_of_the_issue_friday_evening_waiting_over_the_weekend() -> None:
    """Urgent (30 min / 4 h), created Friday 27 November 2026 at 17:50 in Paris, waiting from 17:55 until the
    requester answers on Monday at 10:00; an agent replies at 10:20, closes at 14:50."""
    from tickets.engine.models import TicketCreate, TicketUpdate
    from tickets.engine.workflow import changed, commented, created

    t = created(TicketCreate(title="VPN", priority="urgent"), 1, paris("2026-11-27 17:50"))
    assert t["created_at"] == "2026-11-27T16:50:00Z"
    # 10 minutes on Friday, then Monday from 09:00: first response at 09:20, resolution 12:30 + 20 min
    assert shown(t, "2026-11-27 17:50") == ("2026-11-30T08:20:00Z", "2026-11-30T12:50:00Z", "on_track")

    t = changed(t, TicketUpdate(status="waiting"), paris("2026-11-27 17:55"), SAMPLE)
    # 25 and 235 minutes left, counted from "now" while it waits: at 17:55, 5 of them still fit on Friday
    assert shown(t, "2026-11-27 17:55") == ("2026-11-30T08:20:00Z", "2026-11-30T12:50:00Z", "paused")
    assert shown(t, "2026-11-28 12:00") == ("2026-11-30T08:25:00Z", "2026-11-30T12:55:00Z", "paused")
    assert shown(t, "2026-11-30 09:10") == ("2026-11-30T08:35:00Z", "2026-11-30T13:05:00Z", "paused")

    t = changed(t, TicketUpdate(status="open"), paris("2026-11-30 10:00"), SAMPLE)
    assert t["paused"] == [["2026-11-27T16:55:00Z", "2026-11-30T09:00:00Z"]]
    # from 10:00: 25 minutes -> 10:25; 235 minutes -> 12:30 (150) then 13:30 + 85 -> 14:55
    assert shown(t, "2026-11-30 10:00") == ("2026-11-30T09:25:00Z", "2026-11-30T13:55:00Z", "on_track")

    t = commented(t, "agent", False, paris("2026-11-30 10:20"), paris("2026-11-30 10:20"), SAMPLE)
    assert t["first_response_at"] == "2026-11-30T09:20:00Z"
    assert not t["sla_breached"]
    assert shown(t, "2026-11-30 11:00") == ("2026-11-30T09:25:00Z", "2026-11-30T13:55:00Z", "on_track")
    assert shown(t, "2026-11-30 14:56") == ("2026-11-30T09:25:00Z", "2026-11-30T13:55:00Z", "breached")

    t = changed(t, TicketUpdate(status="closed"), paris("2026-11-30 14:50"), SAMPLE)
    assert t["resolved_at"] == "2026-11-30T13:50:00Z"
    assert shown(t, "2026-12-07 10:00") == ("2026-11-30T09:25:00Z", "2026-11-30T13:55:00Z", "met")
    plan = plan_of(t, SAMPLE)
    assert plan.first_response_minutes == 5 + 20  # 17:50-17:55 on Friday, 10:00-10:20 on Monday
    assert plan.resolution_minutes == 5 + 150 + 80


def test_the_example_answered_while_still_waiting() -> None:
    t = ticket("2026-11-27 17:50", paused=[["2026-11-27 17:55", None]], status="waiting")
    t = {**t, "first_response_at": paris("2026-11-30 10:00")}  # type: ignore[typeddict-item]
    # the first response came while waiting: its due time froze at the reply, 25 minutes left then
    assert shown(t, "2026-11-30 10:00") == ("2026-11-30T09:25:00Z", "2026-11-30T13:55:00Z", "paused")
    # the resolution still waits: 235 minutes from 16:00 are 120 today and 115 on Tuesday morning
    assert shown(t, "2026-11-30 16:00") == ("2026-11-30T09:25:00Z", "2026-12-01T09:55:00Z", "paused")


@pytest.mark.parametrize(
    ("paused", "first_due"),
    [
        ([], "2026-11-30 11:00"),
        ([["2026-11-27 19:00", "2026-11-30 08:00"]], "2026-11-30 11:00"),  # outside business hours: free
        ([["2026-11-27 18:00", "2026-11-30 09:00"]], "2026-11-30 11:00"),
        ([["2026-11-27 17:00", "2026-11-28 10:00"]], "2026-11-30 12:00"),  # costs Friday's last hour
        ([["2026-11-28 10:00", "2026-11-30 10:00"]], "2026-11-30 12:00"),  # costs Monday's first hour
        ([["2026-11-27 17:00", "2026-11-30 10:00"]], "2026-11-30 14:00"),  # costs two, so after lunch
        ([["2026-11-27 17:00", "2026-11-27 17:30"], ["2026-11-30 12:20", "2026-11-30 13:40"]], "2026-11-30 11:30"),
    ],
)
def test_pauses_that_start_and_end_outside_business_hours(paused: list[list[str]], first_due: str) -> None:
    # medium: 240 minutes; Friday 16:00-18:00 is 120, then Monday from 09:00
    t = ticket("2026-11-27 16:00", "medium", paused=paused)
    assert shown(t, "2026-11-30 08:00")[0] == paris(first_due)


def test_a_priority_change_recomputes_both_due_times_from_created_at() -> None:
    from tickets.engine.models import TicketUpdate
    from tickets.engine.workflow import changed

    t = ticket("2026-11-30 09:00", "medium")
    # 240 min: 09:00-12:30 then 30 more; 1440 min: three whole days, due at Wednesday's 18:00 (not Thursday 09:00)
    assert shown(t, "2026-11-30 09:00") == (paris("2026-11-30 14:00"), paris("2026-12-02 18:00"), "on_track")
    t = changed(t, TicketUpdate(priority="high"), paris("2026-11-30 09:40"), SAMPLE)
    assert shown(t, "2026-11-30 09:40") == (paris("2026-11-30 10:00"), paris("2026-11-30 18:00"), "on_track")
    t = changed(t, TicketUpdate(priority="low"), paris("2026-11-30 09:50"), SAMPLE)
    assert shown(t, "2026-11-30 09:50") == (paris("2026-11-30 18:00"), paris("2026-12-07 18:00"), "on_track")
    assert not t["sla_breached"]
    # a pause taken before the change still counts with the new targets
    t = ticket("2026-11-30 09:00", "medium", paused=[["2026-11-30 09:10", "2026-11-30 10:10"]])
    t = changed(t, TicketUpdate(priority="urgent"), paris("2026-11-30 10:15"), SAMPLE)
    assert shown(t, "2026-11-30 10:15") == (paris("2026-11-30 10:30"), paris("2026-11-30 15:00"), "on_track")


def test_a_priority_raised_past_its_due_time_is_breached_and_stays_so() -> None:
    from tickets.engine.models import TicketUpdate
    from tickets.engine.workflow import changed

    t = ticket("2026-11-30 09:00", "medium")
    t = changed(t, TicketUpdate(priority="urgent"), paris("2026-11-30 10:00"), SAMPLE)
    assert t["sla_breached"]
    t = changed(t, TicketUpdate(priority="medium"), paris("2026-11-30 10:01"), SAMPLE)
    assert t["sla_breached"]
    assert shown(t, "2026-11-30 10:01")[2] == "breached"


def test_a_reopened_ticket_does_not_count_its_closed_time() -> None:
    from tickets.engine.models import TicketUpdate
    from tickets.engine.workflow import changed

    t = ticket("2026-11-30 09:00", "urgent")
    t = changed(t, TicketUpdate(status="closed"), paris("2026-11-30 09:10"), SAMPLE)
    assert t["resolved_at"] == paris("2026-11-30 09:10")
    # closing answers it: both targets met, their due times frozen
    assert shown(t, "2026-11-30 16:00") == (paris("2026-11-30 09:30"), paris("2026-11-30 14:00"), "met")
    t = changed(t, TicketUpdate(status="in_progress"), paris("2026-11-30 14:00"), SAMPLE)
    assert t["resolved_at"] is None
    assert t["paused"] == [[paris("2026-11-30 09:10"), paris("2026-11-30 14:00")]]
    # 10 minutes were used; closed 09:10-14:00 (230 business minutes) is not counted
    assert shown(t, "2026-11-30 14:00") == (paris("2026-11-30 14:20"), paris("2026-11-30 17:50"), "on_track")
    assert shown(t, "2026-11-30 14:21")[2] == "breached"
    t = changed(t, TicketUpdate(status="closed"), paris("2026-11-30 14:15"), SAMPLE)
    assert shown(t, "2026-12-01 09:00") == (paris("2026-11-30 14:20"), paris("2026-11-30 17:50"), "met")
    assert plan_of(t, SAMPLE).resolution_minutes == 10 + 15
    assert plan_of(t, SAMPLE).first_response_minutes is None


def test_a_ticket_reopened_to_waiting_stays_paused() -> None:
    from tickets.engine.models import TicketUpdate
    from tickets.engine.workflow import changed

    t = ticket("2026-11-30 09:00", "urgent")
    t = changed(t, TicketUpdate(status="closed"), paris("2026-11-30 09:10"), SAMPLE)
    t = changed(t, TicketUpdate(status="waiting"), paris("2026-11-30 10:00"), SAMPLE)
    assert t["resolved_at"] is None
    assert t["paused"] == [[paris("2026-11-30 09:10"), None]]
    assert shown(t, "2026-11-30 11:00") == (paris("2026-11-30 11:20"), paris("2026-11-30 15:50"), "paused")


def test_a_late_first_response_is_breached_and_stays_so_after_a_downgrade() -> None:
    from tickets.engine.models import TicketUpdate
    from tickets.engine.workflow import changed, commented

    t = ticket("2026-11-30 09:00", "urgent")
    assert shown(t, "2026-11-30 09:30")[2] == "on_track"  # due at 09:30: not missed yet at 09:30
    assert shown(t, "2026-11-30 09:30:00.000001")[2] == "breached"
    t = commented(t, "agent", True, paris("2026-11-30 09:40"), paris("2026-11-30 09:40"), SAMPLE)  # internal
    assert t["first_response_at"] is None
    assert t["sla_breached"]  # the due time had passed when the note came
    t = ticket("2026-11-30 09:00", "urgent")
    t = commented(t, "agent", False, paris("2026-11-30 09:45"), paris("2026-11-30 09:45"), SAMPLE)
    assert t["first_response_at"] == paris("2026-11-30 09:45")
    assert t["sla_breached"]
    t = changed(t, TicketUpdate(priority="low"), paris("2026-11-30 10:00"), SAMPLE)
    assert t["sla_breached"]
    # under low the reply at 09:45 is well on time, but a missed target stays missed
    assert shown(t, "2026-11-30 10:00") == (paris("2026-11-30 18:00"), paris("2026-12-07 18:00"), "breached")
    t = changed(t, TicketUpdate(status="closed"), paris("2026-11-30 10:05"), SAMPLE)
    assert shown(t, "2026-11-30 10:05")[2] == "breached"


def test_a_reply_on_time_is_met_not_breached() -> None:
    from tickets.engine.workflow import commented

    t = ticket("2026-11-30 09:00", "urgent")
    t = commented(t, "agent", False, paris("2026-11-30 09:30"), paris("2026-11-30 09:30"), SAMPLE)
    assert not t["sla_breached"]
    assert shown(t, "2026-11-30 10:00") == (paris("2026-11-30 09:30"), paris("2026-11-30 14:00"), "on_track")
    late = commented(ticket("2026-11-30 09:00"), "agent", False, paris("2026-11-30 09:30:00.000001"), "x", SAMPLE)
    assert late["sla_breached"]


def test_the_requester_does_not_answer_their_own_ticket() -> None:
    from tickets.engine.workflow import commented

    t = ticket("2026-11-30 09:00", "urgent", requester={"name": "Claire Dubois", "email": "claire@example.fr"})
    t = commented(t, "CLAIRE@example.fr", False, paris("2026-11-30 09:05"), paris("2026-11-30 09:05"), SAMPLE)
    assert t["first_response_at"] is None
    t = commented(t, "claire dubois", False, paris("2026-11-30 09:06"), paris("2026-11-30 09:06"), SAMPLE)
    assert t["first_response_at"] is None
    t = commented(t, "karim", False, paris("2026-11-30 09:07"), paris("2026-11-30 09:07"), SAMPLE)
    assert t["first_response_at"] == paris("2026-11-30 09:07")


@pytest.mark.parametrize("status", ["waiting", "closed"])
def test_a_ticket_created_waiting_or_closed(status: str) -> None:
    from tickets.engine.models import TicketCreate, TicketUpdate
    from tickets.engine.workflow import changed, created

    t = created(TicketCreate(title="t", priority="urgent", status=status), 1, paris("2026-11-30 09:00"))
    assert t["paused"] == [[paris("2026-11-30 09:00"), None]]
    if status == "closed":
        assert t["resolved_at"] == paris("2026-11-30 09:00")
        # closed at once: both targets met at creation
        assert shown(t, "2026-12-07 09:00") == (paris("2026-11-30 09:30"), paris("2026-11-30 14:00"), "met")
        assert plan_of(t, SAMPLE).resolution_minutes == 0
    else:
        assert t["resolved_at"] is None
        assert shown(t, "2026-11-30 11:00") == (paris("2026-11-30 11:30"), paris("2026-11-30 16:00"), "paused")
        assert shown(t, "2026-12-07 11:00")[2] == "paused"
    t = changed(t, TicketUpdate(status="open"), paris("2026-11-30 11:00"), SAMPLE)
    assert t["resolved_at"] is None
    assert t["paused"] == [[paris("2026-11-30 09:00"), paris("2026-11-30 11:00")]]
    assert shown(t, "2026-11-30 11:00") == (paris("2026-11-30 11:30"), paris("2026-11-30 16:00"), "on_track")


def test_a_policy_change_keeps_the_pauses() -> None:
    """GLPI #15605: the time a ticket waited was lost when its SLA changed. Here the pauses are stored as wall
    clock times, and every policy counts them in its own business hours."""
    from tickets.engine.workflow import breached_now

    t = ticket("2026-11-30 09:00", "medium", paused=[["2026-11-30 10:00", "2026-11-30 11:00"]])
    assert shown(t, "2026-11-30 11:00")[0] == paris("2026-11-30 15:00")  # 240 + 60 minutes of pause
    faster = Policy.model_validate({**SAMPLE_DICT, "targets": {"medium": {"first_response": 120}}})
    assert shown(t, "2026-11-30 11:00", faster) == (paris("2026-11-30 12:00"), None, "on_track")
    other = Policy.model_validate(
        {
            "timezone": "America/New_York",
            "business_hours": {d: [["03:00", "11:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
            "targets": {"medium": {"first_response": 120, "resolution": 600}},
        }
    )
    # New York 03:00-11:00 is Paris 09:00-17:00 in winter: 60 + pause 60 + 60 -> 12:00; 600 -> next day 12:00
    assert shown(t, "2026-11-30 11:00", other) == (paris("2026-11-30 12:00"), paris("2026-12-01 12:00"), "on_track")
    # before a policy changes, a target missed under the old one is kept as missed
    assert breached_now(t, faster, paris("2026-11-30 12:01"))["sla_breached"]
    assert not breached_now(t, faster, paris("2026-11-30 12:00"))["sla_breached"]
    assert not breached_now(t, SAMPLE, paris("2026-11-30 12:01"))["sla_breached"]


def test_no_target_is_none() -> None:
    t = ticket("2026-11-30 09:00", "low")
    policy = Policy.model_validate({**SAMPLE_DICT, "targets": {"urgent": {"first_response": 30}}})
    assert shown(t, "2026-11-30 09:00", policy) == (None, None, "none")
    t = ticket("2026-11-30 09:00", "urgent")
    assert shown(t, "2026-11-30 09:00", policy) == (paris("2026-11-30 09:30"), None, "on_track")
    assert shown(t, "2026-11-30 09:00", Policy()) == (None, None, "none")


def test_fractions_of_a_second() -> None:
    t = ticket("2026-11-30 09:00:00.25")
    assert t["created_at"] == "2026-11-30T08:00:00.25Z"
    assert shown(t, "2026-11-30 09:00") == ("2026-11-30T08:30:00.25Z", "2026-11-30T13:00:00.25Z", "on_track")
    assert shown(t, "2026-11-30 09:30:00.25")[2] == "on_track"
    assert shown(t, "2026-11-30 09:30:00.250001")[2] == "breached"
    t = ticket("2026-11-30 09:00:00.25", first_response_at="2026-11-30 09:30:00.250001")
    assert shown(t, "2026-11-30 09:31")[2] == "breached"
    t = ticket("2026-11-30 09:00:00.25", first_response_at="2026-11-30 09:30:00.25")
    assert shown(t, "2026-11-30 09:31")[2] == "on_track"
    assert plan_of(t, SAMPLE).first_response_minutes == 30
    # created at 12:29:59.5: half a second before lunch, the rest after it
    t = ticket("2026-11-30 12:29:59.5")
    assert shown(t, "2026-11-30 12:30")[0] == "2026-11-30T12:59:59.5Z"


# --------------------------------------------------------------------------- the policy's validation


def _error(data: dict[str, Any]) -> tuple[tuple[int | str, ...], str]:
    with pytest.raises(ValidationError) as caught:
        Policy.model_validate({**SAMPLE_DICT, **data})
    errors = caught.value.errors()
    assert len(errors) == 1, errors
    return errors[0]["loc"], str(caught.value)


@pytest.mark.parametrize(
    ("data", "loc", "words"),
    [
        ({"timezone": "Europe/Pariss"}, ("timezone",), ["unknown time zone"]),
        ({"timezone": ""}, ("timezone",), ["unknown time zone"]),
        ({"business_hours": {"mon": [["09:00", "12:30"], ["12:00", "18:00"]]}}, ("business_hours",), ["mon"]),
        ({"business_hours": {"tue": [["13:30", "18:00"], ["09:00", "12:30"]]}}, ("business_hours",), ["tue"]),
        ({"business_hours": {"wed": [["18:00", "09:00"]]}}, ("business_hours",), ["wed", "18:00-09:00"]),
        ({"business_hours": {"thu": [["09:00", "09:00"]]}}, ("business_hours",), ["thu"]),
        ({"business_hours": {"fri": [["24:00", "24:00"]]}}, ("business_hours",), ["fri"]),
        ({"business_hours": {"mon": [["9:00", "12:00"]]}}, ("business_hours", "mon", 0, 0), []),
        ({"business_hours": {"mon": [["09:00", "25:00"]]}}, ("business_hours", "mon", 0, 1), []),
        ({"business_hours": {"mon": [["09:60", "12:00"]]}}, ("business_hours", "mon", 0, 0), []),
        ({"business_hours": {"mon": [["09:00", "24:01"]]}}, ("business_hours", "mon", 0, 1), []),
        ({"business_hours": {"mon": [["09:00"]]}}, ("business_hours", "mon", 0, 1), []),
        ({"business_hours": {}}, ("business_hours",), ["no day has business hours"]),
        ({"business_hours": {d: [] for d in ("mon", "sat")}}, ("business_hours",), ["no day"]),
        ({"business_hours": {"monday": [["09:00", "12:00"]]}}, ("business_hours", "monday", "[key]"), []),
        ({"targets": {"urgent": {"first_response": 0}}}, ("targets", "urgent", "first_response"), []),
        ({"targets": {"urgent": {"resolution": -5}}}, ("targets", "urgent", "resolution"), []),
        ({"targets": {"urgent": {"resolution": "30"}}}, ("targets", "urgent", "resolution"), []),
        ({"targets": {"urgente": {"resolution": 30}}}, ("targets", "urgente", "[key]"), []),
        ({"targets": {"urgent": {"answer": 30}}}, ("targets", "urgent", "answer"), []),
        ({"holidays": ["2026-02-30"]}, ("holidays", 0), ["not a real date"]),
        ({"holidays": ["2026-2-3"]}, ("holidays", 0), []),
        ({"holidays": ["25/12/2026"]}, ("holidays", 0), []),
        ({"workdays": []}, ("workdays",), []),
    ],
)
def test_an_invalid_policy_names_the_field(data: dict[str, Any], loc: tuple[Any, ...], words: list[str]) -> None:
    found, message = _error(data)
    assert found == loc
    assert ".".join(str(part) for part in loc) in message  # the message names the field
    for word in words:
        assert word in message


def test_valid_policies() -> None:
    p = Policy.model_validate({**SAMPLE_DICT, "business_hours": {"sat": [["20:00", "24:00"]]}})
    assert p.business_hours is not None
    assert p.business_hours["sat"] == [("20:00", "24:00")]  # 24:00 as an end; other days none
    assert p.business_hours["mon"] == []
    touching = {"mon": [["00:00", "12:00"], ["12:00", "24:00"]]}
    assert Policy.model_validate({"business_hours": touching}).business_hours is not None
    assert Policy.model_validate({"business_hours": None}).business_hours is None
    assert Policy.model_validate({"holidays": ["2027-01-01", "2026-12-25", "2026-12-25"]}).holidays == [
        "2026-12-25",
        "2027-01-01",
    ]
    assert Policy().timezone == "UTC"
    cal = Calendar(p)
    # Saturday 20:00 to 24:00 Paris: four hours ending at Sunday's midnight
    assert business_minutes(cal, "2026-11-28 00:00", "2026-11-29 00:00") == 240
    assert timestamp_of(cal.instant(cal.at(us("2026-11-28 20:00")) + 240 * MINUTE)) == paris("2026-11-29 00:00")


# --------------------------------------------------------------------------- properties

# Each zone with the local dates of its clock changes in 2026 (UTC and Kolkata have none: Paris's are used).
ZONES = {
    "UTC": ("2026-03-29", "2026-10-25"),
    "Europe/Paris": ("2026-03-29", "2026-10-25"),  # 02:00 -> 03:00, 03:00 -> 02:00
    "America/New_York": ("2026-03-08", "2026-11-01"),
    "Australia/Lord_Howe": ("2026-04-05", "2026-10-04"),  # half-hour changes
    "America/Santiago": ("2026-04-05", "2026-09-06"),  # at midnight: 00:00 does not exist on 6 September
    "Asia/Kolkata": ("2026-03-29", "2026-10-25"),
}
START = micros("2025-06-01T00:00:00Z")
END = micros("2028-06-01T00:00:00Z")
# Range ends on a quarter of an hour, often in the first hours of the day where the clocks change.
CUTS = st.one_of(st.integers(0, 96), st.integers(0, 16)).map(lambda q: q * 15)


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    zone = draw(st.sampled_from(sorted(ZONES)))
    hours: dict[str, list[list[str]]] | None = None
    if draw(st.integers(0, 5)) > 0:
        hours = {}
        for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"):
            cuts = sorted(draw(st.sets(CUTS, max_size=6)))
            cuts = cuts[: len(cuts) // 2 * 2]
            hours[day] = [
                [f"{a // 60:02d}:{a % 60:02d}", f"{b // 60:02d}:{b % 60:02d}"]
                for a, b in zip(cuts[::2], cuts[1::2], strict=True)
            ]
        assume(any(hours.values()))
    holidays = draw(st.lists(st.dates(date(2025, 6, 1), date(2028, 6, 1)).map(str), max_size=20))
    first = draw(st.integers(1, 3000))
    resolution = draw(st.integers(first, 6000))  # a first response is never due after the resolution
    return Policy.model_validate(
        {
            "timezone": zone,
            "business_hours": hours,
            "holidays": holidays,
            "targets": {"urgent": {"first_response": first, "resolution": resolution}},
        }
    )


def instants(policy: Policy) -> st.SearchStrategy[int]:
    """Instants over three years, often within two days of a clock change, sometimes with a fraction."""
    changes = [micros(f"{d}T00:00:00Z") for d in ZONES[policy.timezone]]
    return st.one_of(
        st.integers(START, END),
        st.integers(START // MINUTE, END // MINUTE).map(lambda m: m * MINUTE),
        st.builds(lambda d, m: d + m * MINUTE, st.sampled_from(changes), st.integers(-3000, 3000)),
        st.builds(lambda d, m: d + m, st.sampled_from(changes), st.integers(-2 * 86400 * MICRO_S, 2 * 86400 * MICRO_S)),
    )


FAST = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.data())
def test_at_and_instant_are_inverse(data: st.DataObject) -> None:
    policy = data.draw(policies())
    times = data.draw(st.lists(instants(policy), min_size=1, max_size=8))
    cal = Calendar(policy)
    for t in times:
        b = cal.at(t)
        assert cal.instant(b) <= t
        assert cal.at(cal.instant(b)) == b
    ordered = sorted(times)
    values = [cal.at(t) for t in ordered]
    assert values == sorted(values)  # B is non-decreasing
    for b in sorted({cal.at(t) + d for t in times for d in (-MINUTE, -1, 0, 1, 7 * MINUTE)}):
        assert cal.at(cal.instant(b)) == b


@FAST
@given(st.data())
def test_before_is_the_bound_of_due_times_before_an_instant(data: st.DataObject) -> None:
    policy = data.draw(policies())
    times = data.draw(st.lists(instants(policy), min_size=1, max_size=4))
    deltas = data.draw(st.lists(st.integers(-3 * 60, 3 * 60), max_size=6))
    cal = Calendar(policy)
    for t in times:
        bound = cal.before(t)
        for b in {cal.at(t) + d for d in (-1, 0, 1, *(m * MINUTE for m in deltas))}:
            assert (b < bound) == (cal.instant(b) < t), (b, bound, t)


def _waiting_ticket(created: int, pauses: list[tuple[int, int | None]], responded: int | None) -> Ticket:
    data = {"id": 1, "title": "t", "description": "", "status": "waiting", "priority": "urgent", "assignee": None}
    return complete(
        {  # type: ignore[typeddict-item]
            **data,
            "created_at": timestamp_of(created),
            "updated_at": timestamp_of(created),
            "first_response_at": None if responded is None else timestamp_of(responded),
            "paused": [[timestamp_of(s), None if e is None else timestamp_of(e)] for s, e in pauses],
        }
    )


@st.composite
def waiting_tickets(draw: st.DrawFn, policy: Policy) -> tuple[Ticket, Ticket, int]:
    """A ticket that waits now, the same ticket the moment before it began to wait, and that moment."""
    created = draw(instants(policy))
    cuts = sorted(draw(st.lists(st.integers(0, 20 * 86400 * MICRO_S), min_size=1, max_size=7)))
    cuts = [created + c for c in cuts]
    *closed, start = cuts
    pauses: list[tuple[int, int | None]] = list(zip(closed[::2], closed[1::2], strict=False))
    responded = draw(st.one_of(st.none(), st.integers(created, start)))
    before = _waiting_ticket(created, pauses, responded)
    before = {**before, "status": "open"}  # type: ignore[typeddict-item]
    return before, _waiting_ticket(created, [*pauses, (start, None)], responded), start


def _due_times(policy: Policy, calendar: Calendar, t: Ticket, now: int) -> list[int | None]:
    v = view(plan_of(t, policy, calendar), calendar, now)
    return [None if d is None else micros(d) for d in (v.first_response_due, v.resolution_due)]


@FAST
@given(st.data())
def test_a_due_time_never_moves_earlier_while_the_ticket_waits(data: st.DataObject) -> None:
    policy = data.draw(policies())
    active, waiting, start = data.draw(waiting_tickets(policy))
    offsets = data.draw(st.lists(st.integers(0, 30 * 86400 * MICRO_S), min_size=2, max_size=5))
    cal = Calendar(policy)
    seen = [_due_times(policy, cal, active, start)]  # the moment it began to wait
    for offset in sorted(offsets):
        seen.append(_due_times(policy, cal, waiting, start + offset))
        assert view(plan_of(waiting, policy, cal), cal, start + offset).sla_state in ("paused", "breached")
    for kind in (0, 1):
        dues = [d[kind] for d in seen]
        assert all(d is not None for d in dues)
        assert dues == sorted(dues), dues  # type: ignore[type-var]


@FAST
@given(st.data())
def test_active_minutes_never_exceed_the_business_minutes_from_creation(data: st.DataObject) -> None:
    policy = data.draw(policies())
    _, t, start = data.draw(waiting_tickets(policy))
    resolved = start + data.draw(st.integers(0, 30 * 86400 * MICRO_S))
    t = {**t, "status": "closed", "resolved_at": timestamp_of(resolved)}  # type: ignore[typeddict-item]
    if t["first_response_at"] is None:
        t["first_response_at"] = timestamp_of(resolved)
    cal = Calendar(policy)
    plan = plan_of(t, policy, cal)
    created = cal.at(micros(t["created_at"]))
    assert plan.first_response_minutes is not None and plan.resolution_minutes is not None
    assert 0 <= plan.first_response_minutes <= (cal.at(micros(t["first_response_at"])) - created) / MINUTE
    assert 0 <= plan.resolution_minutes <= (cal.at(resolved) - created) / MINUTE


def _clock_minutes(policy: Policy, day: date) -> int | None:
    """The minutes of UTC during which the local clock shows `day` and a time within its business hours, counted
    one minute at a time; None when the clock is set back that day (the doubled times are taken once, the first
    time, by the calendar: not what this count does)."""
    zone = ZoneInfo(policy.timezone)
    if str(day) in policy.holidays:
        return 0
    hours = policy.business_hours
    ranges = [(0, 24 * 60)] if hours is None else [(_m(a), _m(b)) for a, b in hours[WEEKDAY[day.weekday()]]]
    first = (datetime.combine(day, datetime.min.time(), tzinfo=timezone.utc) - _UNIX) // timedelta(minutes=1) - 16 * 60
    count, offset = 0, None
    for m in range(first, first + 56 * 60):
        local = (_UNIX + timedelta(minutes=m)).astimezone(zone)
        if offset is not None and local.utcoffset() < offset:  # type: ignore[operator]
            return None
        offset = local.utcoffset()
        if local.date() == day and any(a <= local.hour * 60 + local.minute < b for a, b in ranges):
            count += 1
    return count


def _m(clock: str) -> int:
    return int(clock[:2]) * 60 + int(clock[3:])


WEEKDAY = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@FAST
@given(st.data())
def test_a_day_has_the_business_time_its_clock_shows(data: st.DataObject) -> None:
    policy = data.draw(policies())
    cal = Calendar(policy)
    changes = [date.fromisoformat(d) for d in ZONES[policy.timezone]]
    days = data.draw(
        st.lists(
            st.one_of(
                st.builds(lambda d, k: d + timedelta(days=k), st.sampled_from(changes), st.integers(-1, 1)),
                st.dates(date(2025, 6, 1), date(2028, 6, 1)),
            ),
            min_size=1,
            max_size=3,
        )
    )
    for day in days:
        spans = cal.intervals(day.toordinal())
        assert all(s <= e for s, e in spans), spans  # never a negative interval
        assert all(e <= s for (_, e), (s, _) in zip(spans, spans[1:], strict=False)), spans  # ordered, disjoint
        expected = _clock_minutes(policy, day)
        if expected is not None:
            assert sum(e - s for s, e in spans) == expected * MINUTE


def test_a_calendar_shared_by_threads_stays_whole() -> None:
    """The store's writer thread and the event loop use the same calendar (calendar_of): extending its running
    sums from two threads at once appended a day twice, and every later due time was a day off."""
    import sys
    import threading

    policy = Policy.model_validate({"timezone": "Europe/Paris", "business_hours": {"mon": [["09:00", "18:00"]]}})
    far = micros("2030-01-07T12:00:00Z")
    expected = Calendar(policy).at(far)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for _ in range(5):
            cal = Calendar(policy)
            threads = [threading.Thread(target=cal.at, args=(far,)) for _ in range(4)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert cal.at(far) == expected
    finally:
        sys.setswitchinterval(interval)


@pytest.mark.parametrize("created", ["9999-12-31T23:59:59Z", "9999-12-29T10:00:00Z", "0001-01-01T00:00:00Z"])
def test_the_first_and_last_days_a_date_can_have_never_crash(created: str) -> None:
    """A due time past the year 9999 has no date to show (null), one in the year 1 is written with 4 digits."""
    ticket = complete(
        {  # type: ignore[typeddict-item]
            "id": 1,
            "title": "t",
            "description": "",
            "status": "waiting",
            "priority": "low",
            "assignee": None,
            "created_at": created,
            "updated_at": created,
            "paused": [[created, None]],
        }
    )
    for policy in (SAMPLE, Policy(business_hours=None, targets={"low": {"first_response": 10}})):
        for now in (created, "2026-11-27T16:50:00Z", "9999-12-31T23:59:59Z"):
            shown = view(plan_of(ticket, policy), calendar_of(policy), now)
            for due in (shown.first_response_due, shown.resolution_due):
                assert due is None or (len(due) >= 20 and due[4] == "-")


@given(st.integers(min_value=micros("0001-01-01T00:00:00Z"), max_value=micros("9999-12-31T23:59:59.999999Z")))
def test_a_stored_time_is_written_field_by_field_and_read_back(us: int) -> None:
    """timestamp_of (isoformat, for speed) writes what the stored times are: four digits of year from the year 1,
    seconds, and a fraction only when there is one, without its zeros at the end; micros reads it back."""
    moment = _UNIX + timedelta(microseconds=us)
    fraction = f".{moment.microsecond:06d}".rstrip("0") if moment.microsecond else ""
    expected = f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment:%H:%M:%S}{fraction}Z"
    assert timestamp_of(us) == expected
    assert micros(timestamp_of(us)) == us


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_instants_of_a_page_in_one_walk_are_instant_of_each(data: st.DataObject) -> None:
    policy = data.draw(policies())
    times = data.draw(st.lists(instants(policy), min_size=1, max_size=6))
    offsets = st.integers(min_value=-400 * 86400 * MICRO_S, max_value=400 * 86400 * MICRO_S)
    cal = Calendar(policy)
    values = [cal.at(t) + d for t in times for d in data.draw(st.lists(offsets, max_size=5))] + [cal.at(times[0])]
    fresh = Calendar(policy)  # its running sums not extended yet: the walk extends them to both ends
    assert fresh.instants(values) == {b: cal.instant(b) for b in values}


def test_instants_past_the_calendars_limits() -> None:
    far = [-(10**19), 0, CAL.at(us("2026-11-30 09:00")), 10**19]
    assert CAL.instants(far) == {b: CAL.instant(b) for b in far}
