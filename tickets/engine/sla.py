"""The SLA clocks: the policy (time zone, business hours, holidays, targets per priority), the business calendar it
makes, and what a ticket's clocks say at a given moment.

The clocks count business time: a calendar maps every instant t to B(t), the business microseconds from a fixed
origin to t (B stands still at night, on weekends and holidays). A target of N business minutes from a ticket's
creation is due at the first instant when the ticket has been *active* for N business minutes: its business time
minus the business time it spent stopped (`waiting` or `closed`, the intervals the ticket keeps in `paused`).
Working in B makes everything a sum: a pause over a weekend costs nothing, a pause from Friday 17:00 to Monday
10:00 costs two business hours, and a change of the policy recomputes every due time from the same stored wall
clock times (GLPI #15605 lost the pauses when its SLA changed).

A ticket's plan (plan_of) is what its stored fields and the policy say, apart from the moment of reading: each
target is either concluded (its event happened: on time or late), pending with a fixed due time, or pending and
moving (the ticket waits: its due time is "now plus what is left", so it never moves earlier while it waits). The
plan is computed from stored times only, never by replaying the history; view() adds the moment of reading.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, available_timezones

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from tickets.engine.messages import Problem, message
from tickets.engine.models import SlaState, Ticket
from tickets.engine.values import Priority

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TARGET_MAX = 10 * 366 * 24 * 60  # ten years of minutes: beyond, a target is a typo
MICRO = 1_000_000
MINUTE = 60 * MICRO
UTC = timezone.utc
_UNIX = datetime(1970, 1, 1, tzinfo=UTC)
_UNIX_NAIVE = datetime(1970, 1, 1)
ORIGIN = date(2020, 1, 1).toordinal()  # B is counted from this local date's midnight (before it: negative)
# The calendar's span: business time is counted from 1970 to 2199 (a due time past it has no date to show, a time
# before it counts from its start). Counting day by day from the year 1 to 9999 took minutes.
FIRST_DAY, LAST_DAY = date(1970, 1, 2).toordinal(), date(2199, 12, 31).toordinal()
HOLIDAY_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
CLOCK_PATTERN = r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$"


def _real_date(value: str) -> str:
    try:
        date.fromisoformat(value)
    except ValueError:
        raise Problem(message("not_a_date", value=value)) from None
    return value


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


Holiday = Annotated[str, StringConstraints(pattern=HOLIDAY_PATTERN), AfterValidator(_real_date)]
ClockTime = Annotated[str, StringConstraints(pattern=CLOCK_PATTERN), Field(examples=["09:00"])]
Minutes = Annotated[int, Field(ge=1, le=TARGET_MAX, strict=True)]


class Target(BaseModel):
    """A priority's targets in business minutes; one left out (or null) has none."""

    model_config = ConfigDict(extra="forbid")

    first_response: Minutes | None = None
    resolution: Minutes | None = None

    @model_validator(mode="after")
    def _answer_before_resolution(self) -> Target:
        # The next pending due time is the first response's until it comes, then the resolution's (the contract):
        # a first response due after the resolution would put a ticket behind one due sooner in sort=due.
        if self.first_response is not None and self.resolution is not None and self.first_response > self.resolution:
            raise Problem(message("response_after_resolution", first=self.first_response, last=self.resolution))
        return self


POLICY_EXAMPLE: dict[str, Any] = {
    "timezone": "Europe/Paris",
    "business_hours": {
        **{day: [["09:00", "12:30"], ["13:30", "18:00"]] for day in WEEKDAYS[:5]},
        "sat": [],
        "sun": [],
    },
    "holidays": ["2026-12-25", "2027-01-01"],
    "targets": {
        "urgent": {"first_response": 30, "resolution": 240},
        "high": {"first_response": 60, "resolution": 480},
        "medium": {"first_response": 240, "resolution": 1440},
        "low": {"first_response": 480, "resolution": 2880},
    },
}


class Policy(BaseModel):
    """The SLA policy: when business time runs, and the targets of each priority."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [POLICY_EXAMPLE]})

    timezone: str = Field(default="UTC", description="An IANA time zone, such as Europe/Paris.")
    business_hours: dict[Weekday, list[tuple[ClockTime, ClockTime]]] | None = Field(
        default=None,
        description="Per day, the ranges [start, end] of business time (HH:MM, local), in order and not "
        "overlapping; a day left out or [] has none. null: every hour counts.",
    )
    holidays: list[Holiday] = Field(default=[], description="Days (YYYY-MM-DD, local) without business time.")
    targets: dict[Priority, Target] = Field(
        default={}, description="Per priority, the targets in business minutes; a priority left out has none."
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value not in _zones():
            raise Problem(message("unknown_zone", value=value[:60]))
        return value

    @field_validator("holidays")
    @classmethod
    def _sorted_holidays(cls, value: list[str]) -> list[str]:
        return sorted(set(value))

    @field_validator("business_hours")
    @classmethod
    def _ordered_ranges(
        cls, value: dict[Weekday, list[tuple[str, str]]] | None
    ) -> dict[Weekday, list[tuple[str, str]]] | None:
        if value is None:
            return None
        for day, ranges in value.items():
            previous_end = -1
            for start, end in ranges:
                if _minutes(start) >= _minutes(end):
                    raise Problem(message("range_backwards", day=day, start=start, end=end))
                if _minutes(start) < previous_end:
                    raise Problem(message("range_overlaps", day=day, start=start, end=end))
                previous_end = _minutes(end)
        if not any(value.values()):
            raise Problem(message("no_business_hours"))
        return {day: value.get(day, []) for day in WEEKDAYS}

    def targets_of(self, priority: str) -> tuple[int | None, int | None]:
        """(first response, resolution) targets of a priority, in minutes."""
        target = self.targets.get(priority)  # type: ignore[call-overload]
        return (None, None) if target is None else (target.first_response, target.resolution)

    def targeted(self) -> list[str]:
        """The priorities that have at least one target."""
        return [p for p, t in self.targets.items() if t.first_response is not None or t.resolution is not None]


NO_POLICY = Policy()


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(available_timezones()) | {"UTC"}


# --------------------------------------------------------------------------- times as integers


def micros(timestamp: str) -> int:
    """A stored time ("2026-11-27T16:50:00Z", maybe with a fraction) as microseconds since 1970 (UTC)."""
    moment = datetime.fromisoformat(timestamp[:-1] + "+00:00" if timestamp.endswith("Z") else timestamp)
    return (moment - _UNIX) // timedelta(microseconds=1)


def timestamp_of(us: int) -> str:
    """Microseconds since 1970 as a stored time: seconds, and a fraction only when there is one."""
    moment = _UNIX_NAIVE + timedelta(microseconds=us)
    # isoformat (not strftime: slower, and it writes the year 1 as "1"): YYYY-MM-DDTHH:MM:SS, then .ffffff when
    # there is a fraction, its zeros at the end left out; twice as fast as formatting each field (a page of
    # waiting tickets shows two due times each that move with the clock)
    text = moment.isoformat()
    return (text.rstrip("0") if moment.microsecond else text) + "Z"


# --------------------------------------------------------------------------- the business calendar

FIRST_US, BEYOND_US = micros("1970-01-02T00:00:00Z"), micros("2199-12-31T00:00:00Z")


class Calendar:
    """B(t) and its inverse for one policy: business microseconds since ORIGIN, day by day.

    The business intervals of each local day are computed in UTC with the zone's rules (so a day of a DST change
    has the hours it really has), and their running sums are kept in one list, extended as dates are asked for.
    One calendar serves every thread (the event loop, the store's writer): a lock keeps the list whole.
    """

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.zone = ZoneInfo(policy.timezone)
        self._holidays = {date.fromisoformat(d).toordinal() for d in policy.holidays}
        hours = policy.business_hours
        self._hours: list[list[tuple[int, int]]] | None = (
            None if hours is None else [[(_minutes(a), _minutes(b)) for a, b in hours.get(d, [])] for d in WEEKDAYS]
        )
        self._first = ORIGIN  # the ordinal of _cum[0]
        self._cum = [0]  # _cum[i]: business microseconds from ORIGIN's midnight to the midnight of day _first + i
        self._days: dict[int, list[tuple[int, int]]] = {}
        self._lock = threading.Lock()

    def intervals(self, ordinal: int) -> list[tuple[int, int]]:
        """The business intervals of a local date, as (start, end) microseconds since 1970 (UTC)."""
        found = self._days.get(ordinal)
        if found is not None:
            return found
        day = date.fromordinal(ordinal)
        if ordinal in self._holidays:
            ranges: list[tuple[int, int]] = []
        elif self._hours is None:
            ranges = [(0, 24 * 60)]
        else:
            ranges = self._hours[day.weekday()]
        found = [(self._utc(day, start), self._utc(day, end)) for start, end in ranges]
        self._days[ordinal] = found
        return found

    def _utc(self, day: date, minute: int) -> int:
        """The first instant at which the local clock reads day and minute or later: an ambiguous time (the clock
        set back) is its first occurrence, a time that does not exist (the clock set forward) is the change."""
        if minute == 24 * 60:
            day, minute = day + timedelta(days=1), 0
        local = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=self.zone)
        late = (local - _UNIX) // timedelta(seconds=1)
        early = (local.replace(fold=1) - _UNIX) // timedelta(seconds=1)
        if early < late:  # in a gap: the clock reads before it at `early`, after it at `late`
            wall = local.replace(tzinfo=None)
            while late - early > 1:
                middle = (early + late) // 2
                if (_UNIX + timedelta(seconds=middle)).astimezone(self.zone).replace(tzinfo=None) >= wall:
                    late = middle
                else:
                    early = middle
        return late * MICRO

    def _total(self, ordinal: int) -> int:
        return sum(end - start for start, end in self.intervals(ordinal))

    def _cover(self, ordinal: int) -> None:
        """Make _cum reach from ordinal to ordinal + 1."""
        ordinal = min(max(ordinal, FIRST_DAY), LAST_DAY - 1)  # dates stop at the years 1 and 9999
        if ordinal < self._first:
            before = [0]
            for o in range(self._first - 1, ordinal - 1, -1):
                before.append(before[-1] - self._total(o))
            base = self._cum[0]
            self._cum = [base + b for b in reversed(before[1:])] + self._cum
            self._first = ordinal
        while self._first + len(self._cum) - 1 <= ordinal + 1:
            o = self._first + len(self._cum) - 1
            self._cum.append(self._cum[-1] + self._total(o))

    def local_ordinal(self, us: int) -> int:
        return (_UNIX + timedelta(microseconds=us)).astimezone(self.zone).toordinal()

    def at(self, us: int) -> int:
        """B(t): business microseconds from the origin to the instant t (microseconds since 1970)."""
        us = min(max(us, FIRST_US), BEYOND_US)
        ordinal = self.local_ordinal(us)
        with self._lock:
            self._cover(ordinal)
            b = self._cum[ordinal - self._first]
        for start, end in self.intervals(ordinal):
            if us <= start:
                break
            b += min(us, end) - start
        return b

    def instant(self, b: int) -> int:
        """The first instant t at which B(t) = b (a due time at the end of a day's hours is that end, not the
        next morning)."""
        with self._lock:
            while b <= self._cum[0]:
                if self._first <= FIRST_DAY:
                    return FIRST_US
                self._cover(self._first - 366)
            while b > self._cum[-1]:
                if self._first + len(self._cum) - 1 >= LAST_DAY:
                    return BEYOND_US  # past the last day a date can have: no due time to show
                self._cover(self._first + len(self._cum) + 365)
            i = bisect.bisect_left(self._cum, b) - 1  # _cum[i] < b <= _cum[i + 1]
            rest, ordinal = b - self._cum[i], self._first + i
        return self._into(ordinal, rest)

    def _into(self, ordinal: int, rest: int) -> int:
        """The instant rest business microseconds into the hours of day ordinal (0 < rest <= the day's total)."""
        for start, end in self.intervals(ordinal):
            if rest <= end - start:
                return start + rest
            rest -= end - start
        raise AssertionError("the running sums and the day's intervals disagree")  # pragma: no cover

    def instants(self, values: Iterable[int]) -> dict[int, int]:
        """instant of each value, in one forward walk of the running sums (a page of waiting tickets: a due time
        each, where a bisect and a lock apiece took some 3 µs)."""
        wanted = sorted(set(values))
        found: dict[int, int] = {}
        if not wanted:
            return found
        if not self._cum[0] < wanted[0] <= wanted[-1] <= self._cum[-1]:
            self.instant(wanted[0])  # the running sums cover both ends (or the ends are past the calendar's limits)
            self.instant(wanted[-1])
        walked: list[tuple[int, int, int]] = []  # (value, rest, ordinal)
        outside: list[int] = []
        with self._lock:
            cum, first = self._cum, self._first
            i = max(bisect.bisect_left(cum, wanted[0]) - 1, 0)
            for b in wanted:
                if b <= cum[0] or b > cum[-1]:
                    outside.append(b)
                    continue
                while cum[i + 1] < b:
                    i += 1
                walked.append((b, b - cum[i], first + i))
        for b in outside:
            found[b] = self.instant(b)
        for b, rest, ordinal in walked:
            found[b] = self._into(ordinal, rest)
        return found

    def before(self, us: int) -> int:
        """The bound k such that a due time b is before the instant t exactly when b < k."""
        b = self.at(us)
        return b + 1 if self.instant(b) < us else b


_CALENDARS: dict[str, Calendar] = {}
_LAST: tuple[Policy, Calendar] | None = None  # the policy asked for last, and its calendar


def calendar_of(policy: Policy) -> Calendar:
    """One calendar per policy, its running sums kept from one request to the next. The policy asked for last is
    known by its identity (nothing changes a policy once made; the stores keep one object per policy text):
    writing it out as the key took 7 us of every page (timeit, the sample policy; 0.13 us now)."""
    global _LAST
    last = _LAST
    if last is not None and last[0] is policy:
        return last[1]
    key = policy.model_dump_json()
    found = _CALENDARS.get(key)
    if found is None:
        if len(_CALENDARS) >= 8:
            _CALENDARS.pop(next(iter(_CALENDARS)))
        found = _CALENDARS[key] = Calendar(policy)
    _LAST = (policy, found)
    return found


# --------------------------------------------------------------------------- a ticket's clocks


@dataclass(frozen=True, slots=True)
class Clock:
    """One target of a ticket: its due time in business microseconds, or what is left of it while the ticket
    waits (moving: due at B(now) + value); and, once its event happened, whether it came late."""

    value: int
    moving: bool = False
    done: bool = False
    late: bool = False
    due_us: int = 0  # a fixed due time as an instant (microseconds since 1970), and as the API shows it
    due_text: str | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    """A ticket's SLA apart from the moment of reading (plan_of): its two clocks (None: no target), whether it
    is already breached for good, its status, and the business minutes its first response and resolution took."""

    first_response: Clock | None
    resolution: Clock | None
    breached: bool
    status: str
    first_response_minutes: float | None = None
    resolution_minutes: float | None = None
    # The next pending due time: the smaller of a fixed business time (due_fixed) and B(now) + what is left while
    # the ticket waits (due_left); both None: nothing pending. Kept here so that a sort reads them, never makes them.
    due_fixed: int | None = None
    due_left: int | None = None
    due_fixed_us: int | None = None  # the instant the first pending fixed due time passes: breached after it

    @property
    def targeted(self) -> bool:
        return self.first_response is not None or self.resolution is not None

    def pending(self) -> tuple[int | None, int | None]:
        """(due_fixed, due_left): the next pending due time, see above."""
        return self.due_fixed, self.due_left


def _pending(clocks: list[Clock | None]) -> tuple[int | None, int | None]:
    fixed = [c.value for c in clocks if c and not c.done and not c.moving]
    left = [c.value for c in clocks if c and not c.done and c.moving]
    return (min(fixed) if fixed else None), (min(left) if left else None)


def _due(created: int, target: int, pauses: list[tuple[int, int | None]]) -> tuple[int, bool]:
    """When a target of `target` business microseconds falls due: (due time, False), or (what is left, True) when
    the ticket is stopped now (a pause without an end) before it fell due."""
    remaining, cursor = target, created
    for start, end in pauses:
        if start - cursor >= remaining:
            break  # due before this pause began
        remaining -= max(0, start - cursor)
        if end is None:
            return remaining, True
        cursor = max(cursor, end)
    return cursor + remaining, False


def _clipped(pauses: list[tuple[int, int | None]], event: int) -> list[tuple[int, int | None]]:
    """The pauses as they were when an event happened: those begun before it, each ending by then."""
    return [(s, event if e is None or e > event else e) for s, e in pauses if s < event]


def _active(created: int, pauses: list[tuple[int, int | None]], event: int) -> int:
    """Business microseconds from creation to the event, the stopped ones left out."""
    stopped = sum((e if e is not None else event) - s for s, e in _clipped(pauses, event))
    return event - created - stopped


def plan_of(ticket: Ticket, policy: Policy, calendar: Calendar | None = None) -> Plan:
    """The SLA of a stored ticket under a policy, apart from the moment of reading."""
    calendar = calendar or calendar_of(policy)
    first_target, resolution_target = policy.targets_of(ticket["priority"])
    created = calendar.at(micros(ticket["created_at"]))
    pauses = [
        (calendar.at(micros(start)), None if end is None else calendar.at(micros(end)))
        for start, end in ticket.get("paused", [])
    ]
    responded, resolved = ticket.get("first_response_at"), ticket.get("resolved_at")
    clocks: list[Clock | None] = []
    # Closing a ticket answers it: a first response still pending is judged at its resolution.
    for target, event in ((first_target, responded or resolved), (resolution_target, resolved)):
        if target is None:
            clocks.append(None)
        elif event is not None:
            event_us = micros(event)
            event_b = calendar.at(event_us)
            due, _ = _due(created, target * MINUTE, _clipped(pauses, event_b))
            due_us = calendar.instant(due)
            clocks.append(Clock(due, done=True, late=event_us > due_us, due_us=due_us, due_text=_shown(due_us)))
        else:
            due, moving = _due(created, target * MINUTE, pauses)
            if moving:
                clocks.append(Clock(due, moving=True))
            else:
                due_us = calendar.instant(due)
                clocks.append(Clock(due, due_us=due_us, due_text=_shown(due_us)))
    minutes = [
        None if event is None else _active(created, pauses, calendar.at(micros(event))) / MINUTE
        for event in (responded, resolved)
    ]
    due_fixed, due_left = _pending(clocks)
    passes = [c.due_us for c in clocks if c is not None and not c.done and not c.moving]
    return Plan(
        clocks[0],
        clocks[1],
        breached=bool(ticket.get("sla_breached")) or any(c is not None and c.late for c in clocks),
        status=ticket["status"],
        first_response_minutes=minutes[0],
        resolution_minutes=minutes[1],
        due_fixed=due_fixed,
        due_left=due_left,
        due_fixed_us=min(passes) if passes else None,
    )


@dataclass(frozen=True, slots=True)
class View:
    """A ticket's SLA as the API shows it at one moment."""

    first_response_due: str | None
    resolution_due: str | None
    sla_state: SlaState

    def fields(self) -> dict[str, Any]:
        return {
            "first_response_due": self.first_response_due,
            "resolution_due": self.resolution_due,
            "sla_state": self.sla_state,
        }


def view(
    plan: Plan,
    calendar: Calendar,
    now: str | int,
    now_b: int | None = None,
    shown: Mapping[int, str | None] | None = None,
) -> View:
    """What a plan shows at the instant now (a stored time, or microseconds since 1970); now_b: B(now), when the
    caller has it (a page of waiting tickets then computes it once, not once a ticket); shown: the due times of
    moving clocks as shown, by business microseconds (moving_shown), when the caller made them for a page."""
    now_us = micros(now) if isinstance(now, str) else now
    texts: list[str | None] = []
    for clock in (plan.first_response, plan.resolution):
        if clock is None:
            texts.append(None)
        elif clock.moving:
            now_b = calendar.at(now_us) if now_b is None else now_b
            due = now_b + clock.value
            texts.append(shown[due] if shown is not None and due in shown else _shown(calendar.instant(due)))
        else:
            texts.append(clock.due_text)
    return View(texts[0], texts[1], state_at(plan, now_us))


def moving_shown(plans: Iterable[Plan], calendar: Calendar, now_b: int) -> dict[int, str | None]:
    """The due times of the moving clocks of plans (waiting tickets) at B(now) = now_b, as view shows them, by
    business microseconds: for view's shown, made in one walk of the calendar for a page."""
    values = [
        now_b + clock.value
        for plan in plans
        for clock in (plan.first_response, plan.resolution)
        if clock is not None and clock.moving
    ]
    return {b: _shown(us) for b, us in calendar.instants(values).items()}


def state_at(plan: Plan, now_us: int) -> SlaState:
    """The SLA state at the instant now_us: a pending fixed due time before it is a breach."""
    return state_of(plan, plan.due_fixed_us is not None and plan.due_fixed_us < now_us)


def state_of(plan: Plan, passed: bool) -> SlaState:
    """none without a target; breached once a target is missed (passed: a pending due time is past); otherwise
    paused while waiting, met once closed, on_track while the clocks run."""
    if not plan.targeted:
        return "none"
    if plan.breached or passed:
        return "breached"
    return "paused" if plan.status == "waiting" else "met" if plan.status == "closed" else "on_track"


def _shown(us: int) -> str | None:
    if us >= BEYOND_US:
        return None  # past the calendar's last day: no date to show
    return timestamp_of(us)


def no_sla() -> View:
    return View(None, None, "none")
