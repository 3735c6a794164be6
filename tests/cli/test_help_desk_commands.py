"""The help desk on the command line, on both stores: requesters, tags, the waiting status, bulk changes (all or
nothing), the queues (list filters, sort due), the SLA policy (sla show / set), stats, comment corrections, and
copies that carry the policy. The clock is pinned with TICKETS_NOW: Friday 2026-11-27 17:50 in Paris."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tickets.cli.commands import filters_of
from tickets.cli.main import build_parser, main
from tickets.cli.output import short_time
from tickets.engine.models import StatsQuery
from tickets.engine.rules import Reading, count, filter_tickets
from tickets.engine.sla import Policy, micros, timestamp_of

FRIDAY = "2026-11-27T16:50:00Z"  # 17:50 in Paris: ten business minutes left that day
MONDAY_0930 = "2026-11-30T08:30:00Z"  # 09:30 in Paris
MONDAY_LUNCH = "2026-11-30T12:00:00Z"  # 13:00 in Paris
HOURS = [["09:00", "12:30"], ["13:30", "18:00"]]
POLICY: dict[str, Any] = {
    "timezone": "Europe/Paris",
    "business_hours": {"mon": HOURS, "tue": HOURS, "wed": HOURS, "thu": HOURS, "fri": HOURS, "sat": [], "sun": []},
    "holidays": ["2026-12-25", "2027-01-01"],
    "targets": {  # low has none
        "urgent": {"first_response": 30, "resolution": 240},
        "high": {"first_response": 60, "resolution": 480},
        "medium": {"first_response": 240, "resolution": 1440},
    },
}


@pytest.fixture(autouse=True)
def friday(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKETS_NOW", FRIDAY)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], store_args: list[str]) -> Callable[..., tuple[int, str, str]]:
    """Run the CLI on the test's store: (exit code, stdout, stderr); argparse's own exits included."""

    def run(*argv: str) -> tuple[int, str, str]:
        try:
            code = main([*argv, *store_args])
        except SystemExit as exc:
            code = exc.code  # type: ignore[assignment]
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "politique.json"
    path.write_text(json.dumps(POLICY))
    return path


@pytest.fixture
def with_policy(cli: Callable[..., tuple[int, str, str]], policy_file: Path) -> None:
    code, out, err = cli("sla", "set", str(policy_file))
    assert (code, err) == (0, "") and "Europe/Paris, targets for urgent, high, medium" in out


def fields(out: str) -> dict[str, str]:
    """`show`'s lines as {field: text}."""
    pairs = [line.split(":", 1) for line in out.splitlines()]
    return {key: value.strip() for key, value in pairs}


def ids_of(out: str) -> list[int]:
    return [t["id"] for t in json.loads(out)]


# --------------------------------------------------------------------------- add, show, update


@pytest.mark.usefixtures("with_policy")
def test_add_with_a_requester_and_tags_then_show_prints_the_help_desk_fields(cli: Callable[..., Any]) -> None:
    code, out, _ = cli(
        "add",
        "VPN en panne",
        "--priority",
        "haute",
        "--requester-name",
        "Claire Dubois",
        "--requester-email",
        "claire.dubois@example.fr",
        "--tag",
        "VPN",
        "--tag",
        "réseau,télétravail",
    )
    assert (code, out) == (0, "created ticket 17: VPN en panne\n")
    code, out, _ = cli("show", "17")
    shown = fields(out)
    assert code == 0
    assert shown["requester"] == "Claire Dubois <claire.dubois@example.fr>"
    assert shown["tags"] == "réseau, télétravail, vpn"
    assert shown["first_response_at"] == "-" and shown["resolved_at"] == "-"
    assert shown["first_response_due"] == "2026-11-30T08:50:00Z"  # 10 min on Friday, 50 on Monday from 9:00
    assert shown["resolution_due"] == "2026-11-30T16:50:00Z"  # 480 min: across Monday's lunch break
    assert shown["sla_state"] == "on_track"
    assert shown["etag"].startswith('"')
    assert list(shown)[-1] == "etag"

    with pytest.MonkeyPatch.context() as later:
        later.setenv("TICKETS_NOW", MONDAY_0930)
        assert cli("comment", "17", "On regarde", "--actor", "karim")[0] == 0
        later.setenv("TICKETS_NOW", MONDAY_LUNCH)
        assert cli("update", "17", "--status", "fermé")[0] == 0
        shown = fields(cli("show", "17")[1])
    assert shown["first_response_at"] == MONDAY_0930 and shown["resolved_at"] == MONDAY_LUNCH
    assert shown["sla_state"] == "met"


def test_a_ticket_without_requester_or_tags_shows_dashes(cli: Callable[..., Any]) -> None:
    shown = fields(cli("show", "3")[1])
    assert shown["requester"] == "-" and shown["tags"] == "-" and shown["sla_state"] == "none"
    assert shown["first_response_due"] == "-" and shown["resolution_due"] == "-"
    assert cli("add", "Sans courriel", "--requester-name", "Paul")[0] == 0
    assert fields(cli("show", "17")[1])["requester"] == "Paul"


def without_etag(shown: dict[str, Any]) -> dict[str, Any]:
    """show --json without the ETag it adds: the ticket as the API answers it."""
    return {field: value for field, value in shown.items() if field != "etag"}


def etag_of_17(cli: Callable[..., Any]) -> str:
    """Ticket 17's ETag, as the human output of show prints it."""
    return next(line.split()[-1] for line in cli("show", "17")[1].splitlines() if line.startswith("etag:"))


@pytest.mark.usefixtures("with_policy")
def test_add_and_update_json_is_what_the_api_answers(cli: Callable[..., Any]) -> None:
    code, out, _ = cli("add", "Écran", "--tag", "poste", "--json")
    created = json.loads(out)
    assert code == 0 and {**created, "etag": etag_of_17(cli)} == json.loads(cli("show", "17", "--json")[1])
    assert created["sla_state"] == "on_track" and created["tags"] == ["poste"]
    assert not {"paused", "sla_breached", "breach_events"} & set(created)  # the store's bookkeeping is not shown
    code, out, _ = cli("update", "17", "--status", "en attente", "--json")
    updated = json.loads(out)
    assert code == 0 and {**updated, "etag": etag_of_17(cli)} == json.loads(cli("show", "17", "--json")[1])
    assert updated["status"] == "waiting" and updated["sla_state"] == "paused"


def test_update_the_requester_and_the_tags(cli: Callable[..., Any], stored: Callable[[], Any]) -> None:
    assert cli("update", "3", "--requester-name", "Ana", "--requester-email", "ana@example.fr", "--tags", "a,b")[0] == 0
    ticket = stored()[1][3]
    assert ticket["requester"] == {"name": "Ana", "email": "ana@example.fr"} and ticket["tags"] == ["a", "b"]
    assert cli("update", "3", "--add-tag", "c", "--add-tag", "d,e", "--remove-tag", "a")[1] == "updated ticket 3\n"
    assert stored()[1][3]["tags"] == ["b", "c", "d", "e"]
    assert cli("update", "3", "--remove-tag", "zzz")[1] == "ticket 3 unchanged: it already had these values\n"
    assert cli("update", "3", "--tags", "", "--no-requester")[0] == 0
    ticket = stored()[1][3]
    assert ticket["requester"] is None and ticket["tags"] == []


def test_the_waiting_status_in_english_and_french(cli: Callable[..., Any], stored: Callable[[], Any]) -> None:
    assert cli("update", "3", "--status", "En attente")[0] == 0
    assert cli("update", "5", "--status", "waiting")[0] == 0
    assert cli("add", "Attente", "--status", "en_attente")[0] == 0
    assert [i for i, t in stored()[1].items() if t["status"] == "waiting"] == [3, 5, 17]
    assert ids_of(cli("list", "--status", "en attente", "--json")[1]) == [3, 5, 17]
    assert "status waiting      3" in cli("stats")[1]


# --------------------------------------------------------------------------- several tickets at once


def test_update_several_tickets_at_once(cli: Callable[..., Any], stored: Callable[[], Any]) -> None:
    code, out, _ = cli("update", "8", "3", "5", "--status", "in_progress", "--add-tag", "panne", "--actor", "karim")
    assert code == 0
    assert out.splitlines() == [  # 8 was in progress already, but had no tag: it changes too
        "updated ticket 8",
        "updated ticket 3",
        "updated ticket 5",
        "3 tickets: 3 updated, 0 unchanged",
    ]
    tickets = stored()[1]
    assert all(tickets[i]["status"] == "in_progress" and tickets[i]["tags"] == ["panne"] for i in (3, 5, 8))
    code, out, _ = cli("update", "3", "1", "--status", "in_progress")
    assert out.splitlines() == [
        "ticket 3 unchanged: it already had these values",
        "ticket 1 unchanged: it already had these values",
        "2 tickets: 0 updated, 2 unchanged",
    ]
    code, out, _ = cli("update", "9", "4", "--priority", "low", "--json")
    answered = json.loads(out)
    assert code == 0 and [t["id"] for t in answered] == [9, 4] and {t["priority"] for t in answered} == {"low"}
    assert answered == [without_etag(json.loads(cli("show", str(i), "--json")[1])) for i in (9, 4)]
    code, out, _ = cli("history", "3", "--json")
    assert [(e["type"], e["actor"]) for e in json.loads(out)] == [("updated", "karim")]


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["update", "3", "5", "99", "--status", "closed"], 1, "ticket 99 not found"),
        (["update", "99", "3", "--add-tag", "panne"], 1, "ticket 99 not found"),
        (["update", "3", "5", "--add-tag", "un-de-trop"], 2, "ticket 5: 21 tags; a ticket has at most 20"),
    ],
)
def test_a_bulk_change_is_all_or_nothing(
    cli: Callable[..., Any], stored: Callable[[], Any], argv: list[str], code: int, message: str
) -> None:
    assert cli("update", "5", "--tags", ",".join(f"t{n}" for n in range(20)))[0] == 0  # 5 can take no more
    before = stored()
    got, out, err = cli(*argv)
    assert (got, out, err) == (code, "", f"script.py: error: {message}\n")
    assert stored() == before  # read back from the store: ticket 3 did not change either


# --------------------------------------------------------------------------- invalid input


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["update", "3", "3", "--status", "closed"], "the id 3 is given twice"),
        (["update", *[str(n) for n in range(1, 1002)], "--status", "closed"], "ID: List should have at most 1000"),
        (["update", "3", "5", "--status", "closed", "--if-match", "abc"], "--if-match guards one ticket"),
        (["update", "3", "--requester-email", "a@b.fr"], "--requester-email needs --requester-name"),
        (["update", "3", "--requester-name", "A", "--requester-email", "pas-un-courriel"], "--requester-email: "),
        (["update", "3", "--no-requester", "--requester-name", "A"], "--no-requester cannot go with"),
        (["update", "3", "--tags", "a", "--add-tag", "b"], "--tags (the new list) cannot go with --add-tag"),
        (["update", "3", "--add-tag", "a b"], "--add-tag: invalid tag 'a b'"),
        (["update", "3", "--add-tag", "a", "--remove-tag", "a"], "the tag 'a' is both added and removed"),
        (
            ["update", "3", "--status", "terminé"],
            "unknown status 'terminé'; expected one of open, in_progress, waiting",
        ),
        (["update", "3"], "nothing to update; give at least one of"),
        (["add", "x", "--tag", "a/b"], "--tag: invalid tag 'a/b'"),
        (
            ["add", "x", "--tag", ",".join(f"t{n}" for n in range(21))],
            "--tag: List should have at most 20 items after validation, not 21",
        ),
        (["add", "x", "--requester-name", " "], "--requester-name: "),
        (["list", "--sla", "late"], "--sla: Input should be 'none', 'on_track', 'paused', 'met' or 'breached'"),
        (["list", "--sla", "met,late"], ", not 'late'"),
        (["list", "--due-before", "demain"], "invalid time 'demain': expected a UTC time such as"),
        (["list", "--due-before", "2026-02-30T10:00:00Z"], "invalid time '2026-02-30T10:00:00Z'"),
        (["list", "--tag", "a b"], "--tag: invalid tag 'a b'"),
        (["list", "--unassigned", "--assignee", "ana"], "--assignee: not allowed with argument --unassigned"),
        (["list", "--sort", "due_date"], "sort: Input should be"),
        (["comment-edit", "3", "1"], "nothing to change; give --body, --internal or --public"),
        (["comment-edit", "3", "1", "--internal", "--public"], "not allowed with argument"),
        (["comment-edit", "3", "x", "--body", "y"], "invalid comment id 'x'"),
        (["sla"], "give a command: show, set or sweep"),
    ],
)
def test_bad_input_exits_2_naming_the_problem(
    cli: Callable[..., Any], stored: Callable[[], Any], argv: list[str], message: str
) -> None:
    before = stored()
    code, out, err = cli(*argv)
    assert code == 2 and out == ""
    assert message in err and "Traceback" not in err
    assert err.splitlines()[-1].startswith("script.py")
    assert stored() == before


# --------------------------------------------------------------------------- queues


def test_list_filters_of_a_help_desk(cli: Callable[..., Any]) -> None:
    assert cli("update", "1", "--requester-name", "Claire", "--requester-email", "claire@example.fr")[0] == 0
    assert cli("update", "3", "--requester-name", "claire", "--tags", "imprimante,panne")[0] == 0
    assert cli("update", "5", "--tags", "panne")[0] == 0
    assert ids_of(cli("list", "--unassigned", "--json")[1]) == [3, 5, 7, 11, 14]
    assert ids_of(cli("list", "--requester", "CLAIRE@example.fr", "--json")[1]) == [1]
    assert ids_of(cli("list", "--requester", "Claire", "--json")[1]) == [1, 3]
    assert ids_of(cli("list", "--tag", "panne", "--json")[1]) == [3, 5]
    assert ids_of(cli("list", "--tag", "panne", "--tag", "imprimante", "--json")[1]) == [3]  # all of them
    assert ids_of(cli("list", "--tag", "Panne,imprimante", "--json")[1]) == [3]
    assert ids_of(cli("list", "--sla", "none", "--unassigned", "--json")[1]) == [3, 5, 7, 11, 14]  # no policy
    assert ids_of(cli("list", "--sla", "breached", "--json")[1]) == []


@pytest.mark.usefixtures("with_policy")
def test_list_sort_due_with_a_pinned_clock(cli: Callable[..., Any]) -> None:
    for title, priority in (("bas", "low"), ("urgent", "urgent"), ("moyen", "medium"), ("haut", "high")):
        assert cli("add", title, "--priority", priority, "--tag", "file")[0] == 0  # ids 17 to 20
    code, out, _ = cli("list", "--tag", "file", "--sort", "due")
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["ID", "STATUS", "PRIORITY", "ASSIGNEE", "UPDATED", "SLA", "DUE", "TITLE"]
    assert [line.split() for line in lines[1:-1]] == [
        ["18", "open", "urgent", "-", FRIDAY, "on_track", "11-30", "09:20", "CET", "urgent"],  # Paris time
        ["20", "open", "high", "-", FRIDAY, "on_track", "11-30", "09:50", "CET", "haut"],
        ["19", "open", "medium", "-", FRIDAY, "on_track", "11-30", "13:50", "CET", "moyen"],
        ["17", "open", "low", "-", FRIDAY, "none", "-", "bas"],  # no target: last
    ]
    assert ids_of(cli("list", "--tag", "file", "--sort", "-due", "--json")[1]) == [19, 20, 18, 17]
    assert ids_of(cli("list", "--tag", "file", "--due-before", "2026-11-30T09:00:00Z", "--json")[1]) == [18, 20]
    assert ids_of(cli("list", "--tag", "file", "--sla", "on_track,paused", "--json")[1]) == [18, 19, 20]
    assert cli("update", "20", "--status", "waiting")[0] == 0
    row = next(line for line in cli("list", "--tag", "file")[1].splitlines() if line.startswith("20 "))
    assert row.split()[5:9] == ["paused", "11-30", "09:50", "CET"]  # what it would be if it resumed now


@pytest.mark.parametrize(
    ("timezone", "now", "due"),
    [
        (None, FRIDAY, ["11-27", "17:20Z"]),  # no policy: every hour counts, in UTC
        ("UTC", FRIDAY, ["11-27", "17:20Z"]),
        ("Europe/Paris", FRIDAY, ["11-27", "18:20", "CET"]),
        ("Europe/Paris", "2026-06-26T15:50:00Z", ["06-26", "18:20", "CEST"]),  # summer time: another abbreviation
        ("America/Sao_Paulo", FRIDAY, ["11-27", "14:20", "-03"]),  # a zone without abbreviation: its offset
    ],
)
def test_list_shows_due_times_in_the_policys_time_zone(
    cli: Callable[..., Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    timezone: str | None,
    now: str,
    due: list[str],
) -> None:
    """DUE is the wall-clock time of the team's zone (the policy's), marked so that it cannot be misread; the JSON
    (as the API answers) stays in UTC."""
    monkeypatch.setenv("TICKETS_NOW", now)
    if timezone is not None:  # every hour counts: the due time is the target after the creation
        policy = tmp_path / "zone.json"
        policy.write_text(json.dumps({"timezone": timezone, "targets": {"urgent": {"first_response": 30}}}))
        assert cli("sla", "set", str(policy))[0] == 0
    assert cli("add", "VPN", "--priority", "urgent")[0] == 0  # id 17
    row = next(line for line in cli("list", "--priority", "urgent")[1].splitlines() if line.startswith("17 "))
    if timezone is None:
        assert row.split()[5:] == ["none", "-", "VPN"]  # and without a target, no due time at all
        return
    assert row.split()[6:-1] == due
    utc = micros(now) + 30 * 60_000_000
    assert json.loads(cli("show", "17", "--json")[1])["first_response_due"] == timestamp_of(utc)


def test_a_short_time_in_a_zone() -> None:
    assert short_time(None, "Europe/Paris") == "-"
    assert short_time("2026-03-29T00:59:59.5Z", "Europe/Paris") == "03-29 01:59 CET"  # to the minute, not rounded
    assert short_time("2026-03-29T01:00:00Z", "Europe/Paris") == "03-29 03:00 CEST"  # the change of hour
    assert short_time("9999-12-31T23:00:00Z", "Pacific/Kiritimati") == "12-31 23:00Z"  # past year 9999 there: UTC
    assert short_time("2026-11-30T08:20:00Z") == "11-30 08:20Z"


# --------------------------------------------------------------------------- stats


def test_stats_prints_the_sla_the_medians_and_the_tags_under_the_chart(
    cli: Callable[..., Any], policy_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for closed in ("2", "6", "13", "15"):  # the test data's closed tickets: resolved long ago, they move the medians
        assert cli("delete", closed)[0] == 0
    out = cli("stats")[1].splitlines()
    assert out[out.index("sla none               10") :] == [
        "sla none               10",
        "sla on_track           0",
        "sla paused             0",
        "sla met                0",
        "sla breached           0",
        "first response median  -",
        "resolution median      -",
        "tags                   -",
    ]
    assert out.index("sla none               10") > out.index("per day (UTC)  opened                            closed")
    assert cli("sla", "set", str(policy_file))[0] == 0
    assert cli("add", "VPN", "--priority", "high", "--requester-name", "Claire", "--tag", "vpn,réseau")[0] == 0
    assert cli("update", "3", "--tags", "réseau")[0] == 0
    monkeypatch.setenv("TICKETS_NOW", MONDAY_0930)
    assert cli("comment", "17", "On regarde", "--actor", "karim")[0] == 0  # 10 + 30 business minutes
    monkeypatch.setenv("TICKETS_NOW", MONDAY_LUNCH)
    assert cli("update", "17", "--status", "closed")[0] == 0  # 10 + 210 business minutes (12:30 to 13:30 is lunch)
    out = cli("stats")[1]
    stats = json.loads(cli("stats", "--json")[1])
    for state, n in stats["sla"].items():
        assert f"\nsla {state:<19}{n}\n" in out
    assert stats["sla"]["met"] == 1
    assert "\nfirst response median  40 business minutes\n" in out
    assert "\nresolution median      220 business minutes\n" in out
    assert out.endswith("\ntag réseau             2\ntag vpn                1\n")
    assert (stats["first_response_minutes_median"], stats["resolution_minutes_median"]) == (40, 220)
    assert stats["by_tag"] == {"réseau": 2, "vpn": 1}
    assert set(stats) == {"total", "by_status", "by_priority", "by_tag", "sla", "first_response_minutes_median",
                          "resolution_minutes_median", "per_day"}  # fmt: skip


# --------------------------------------------------------------------------- the SLA policy


@pytest.mark.usefixtures("with_policy")
def test_stats_takes_the_filters_of_list(cli: Callable[..., Any], stored: Callable[[], Any]) -> None:
    """stats counts what list lists, with the same options, as /tickets/stats does with the same query."""
    for title, priority, tags in (
        ("VPN", "urgent", "vpn"),
        ("Imprimante", "high", "impression,vpn"),
        ("bas", "low", ""),
    ):
        extra = ["--tag", tags] if tags else []
        assert cli("add", title, "--priority", priority, "--requester-name", "Claire Dubois", *extra)[0] == 0
    assert cli("update", "18", "--status", "waiting")[0] == 0
    tickets = list(stored()[1].values())
    reading = Reading(Policy.model_validate(POLICY), FRIDAY)
    for options in (
        ["--status", "ouvert,en attente"],
        ["--priority", "urgent", "--priority", "haute"],
        ["--unassigned"],
        ["--assignee", "none"],
        ["--tag", "vpn"],
        ["--tag", "vpn,impression"],
        ["--requester", "CLAIRE DUBOIS"],
        ["--sla", "on_track,paused"],
        ["--sla", "none", "--status", "closed"],
        ["--due-before", "2026-11-30T09:00:00Z"],
        ["--q", "imprimante"],
    ):
        code, out, err = cli("stats", "--json", *options)
        assert (code, err) == (0, ""), options
        stats = json.loads(out)
        query = StatsQuery.model_validate(filters_of(build_parser().parse_args(["stats", *options])))
        assert {k: v for k, v in stats.items() if k != "per_day"} == count(
            filter_tickets(tickets, query, reading=reading), reading
        ), options
        assert stats["total"] == len(json.loads(cli("list", "--json", *options)[1])) > 0, options
    out = cli("stats", "--tag", "vpn", "--sla", "on_track")[1].splitlines()  # for a person too
    assert out[0].split() == ["total", "1"]
    assert ["sla", "on_track", "1"] in [line.split() for line in out] and out[-1].split() == ["tag", "vpn", "1"]
    # the same checks as list: one line on stderr, exit 2, nothing printed
    for options, message in (
        (["--sla", "late"], "--sla"),
        (["--due-before", "demain"], "invalid time 'demain'"),
        (["--status", "perdu"], "status"),
        (["--assignee", "julie", "--unassigned"], "not allowed with argument"),
    ):
        code, out, err = cli("stats", *options)
        assert code == 2 and out == "" and message in err, (options, err)


def test_sla_show_and_set(cli: Callable[..., Any], policy_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = cli("sla", "show")
    assert code == 0 and out.splitlines() == [
        "time zone:       UTC",
        "business hours:  every hour counts",
        "holidays:        -",
        "targets:         none (every ticket's SLA state is none)",
    ]
    assert json.loads(cli("sla", "show", "--json")[1]) == {
        "timezone": "UTC",
        "business_hours": None,
        "holidays": [],
        "targets": {},
    }
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(policy_file.read_bytes())))
    code, out, _ = cli("sla", "set", "-", "--json")
    assert code == 0 and json.loads(out)["timezone"] == "Europe/Paris"
    code, out, _ = cli("sla", "show")
    assert out.splitlines() == [
        "time zone:       Europe/Paris",
        "business hours:  mon 09:00-12:30, 13:30-18:00",
        "                 tue 09:00-12:30, 13:30-18:00",
        "                 wed 09:00-12:30, 13:30-18:00",
        "                 thu 09:00-12:30, 13:30-18:00",
        "                 fri 09:00-12:30, 13:30-18:00",
        "                 sat -",
        "                 sun -",
        "holidays:        2026-12-25, 2027-01-01",
        "targets, in business minutes:",
        "  PRIORITY  FIRST RESPONSE  RESOLUTION",
        "  medium    240             1440",
        "  high      60              480",
        "  urgent    30              240",
    ]
    shown = json.loads(cli("sla", "show", "--json")[1])
    assert shown == {**POLICY, "targets": {p: POLICY["targets"][p] for p in ("urgent", "high", "medium")}}


@pytest.mark.parametrize(
    ("text", "code", "message"),
    [
        ({**POLICY, "timezone": "Europe/Lutece"}, 2, "timezone: unknown time zone 'Europe/Lutece'"),
        ({**POLICY, "business_hours": {"mon": [["09:00", "12:30"], ["12:00", "18:00"]]}}, 2, "business_hours"),
        ({**POLICY, "business_hours": {"mon": [["9h", "12h"]]}}, 2, "business_hours.mon[0][0]"),
        ({**POLICY, "holidays": ["2026-02-30"]}, 2, "holidays[0]: '2026-02-30' is not a real date"),
        ({**POLICY, "targets": {"high": {"first_response": 0}}}, 2, "targets.high.first_response"),
        ({**POLICY, "targets": {"critical": {"first_response": 5}}}, 2, "targets.critical"),
        ({**POLICY, "fuseau": "Europe/Paris"}, 2, "fuseau: Extra inputs are not permitted"),
        ("{not json", 2, "Invalid JSON"),
        ("", 2, "Invalid JSON"),
        ('{"timezone": "UTC", "timezone": "Europe/Paris"}', 2, "the key 'timezone' is given twice"),
        (None, 1, "cannot read "),  # no such file
        ("folder", 1, "cannot read "),
    ],
)
def test_sla_set_refuses_a_bad_file_and_keeps_the_policy(
    cli: Callable[..., Any], tmp_path: Path, text: Any, code: int, message: str
) -> None:
    before = cli("sla", "show", "--json")[1]
    path = tmp_path / "politique.json"
    if text == "folder":
        path.mkdir()
    elif text is not None:
        path.write_text(text if isinstance(text, str) else json.dumps(text))
    got, out, err = cli("sla", "set", str(path))
    assert (got, out) == (code, "")
    assert message in err and err.count("\n") == 1 and err.startswith("script.py: error: ")
    assert str(path) in err
    assert cli("sla", "show", "--json")[1] == before


# --------------------------------------------------------------------------- comment corrections


def test_comment_edit_and_delete(cli: Callable[..., Any]) -> None:
    assert cli("comment", "3", "Cartouche changée", "--author", "karim", "--actor", "karim")[0] == 0
    code, out, _ = cli("comment-edit", "3", "1", "--body", "Cartouche et tambour changés", "--actor", "julie")
    assert (code, out) == (0, "edited comment 1 of ticket 3\n")
    code, out, _ = cli("comment-edit", "3", "1", "--internal", "--json")
    comment = json.loads(out)
    assert code == 0 and comment["internal"] is True and comment["edited_at"] == FRIDAY
    assert comment["author"] == "karim"  # the CLI may correct anybody's comment, as an admin key
    assert (
        cli("comment-edit", "3", "1", "--internal")[1]
        == "comment 1 of ticket 3 unchanged: it already had these values\n"
    )
    assert cli("comment-edit", "3", "1", "--public")[1] == "edited comment 1 of ticket 3\n"
    out = cli("comments", "3")[1]
    assert f"#1  {FRIDAY}  karim  (edited {FRIDAY})\n    Cartouche et tambour changés\n" in out
    assert cli("comment-delete", "3", "1")[:2] == (0, "deleted comment 1 of ticket 3\n")
    assert cli("comments", "3")[1] == "no comment on ticket 3\n"
    code, out, _ = cli("history", "3")
    assert 'comment 1: body: "Cartouche changée" -> "Cartouche et tambour changés"' in out
    assert "comment 1: internal: false -> true" in out and "comment 1 deleted" in out
    events = json.loads(cli("history", "3", "--json")[1])
    assert [(e["type"], e["actor"]) for e in events][:2] == [("commented", "karim"), ("comment_edited", "julie")]
    assert [e["type"] for e in events][-1] == "comment_deleted"
    assert cli("comment-delete", "3", "1")[:3] == (1, "", "script.py: error: comment 1 of ticket 3 not found\n")
    assert cli("comment-edit", "3", "1", "--body", "x")[0] == 1
    assert cli("comment-edit", "99", "1", "--body", "x")[2] == "script.py: error: ticket 99 not found\n"
    assert cli("comment-edit", "3", "1", "--body", " ")[0] == 2


# --------------------------------------------------------------------------- copies carry the policy


@pytest.mark.usefixtures("with_policy")
def test_backup_and_copy_carry_the_policy(
    cli: Callable[..., Any], capsys: pytest.CaptureFixture[str], store_args: list[str], tmp_path: Path
) -> None:
    policy = json.loads(cli("sla", "show", "--json")[1])
    assert cli("add", "Urgent", "--priority", "urgent")[0] == 0
    due = json.loads(cli("show", "17", "--json")[1])["first_response_due"]
    backup = tmp_path / "sauvegarde.json"
    code, out, _ = cli("backup", str(backup))
    assert code == 0 and out.endswith(", and the SLA policy\n")
    assert main(["sla", "show", "--json", "--file", str(backup)]) == 0
    assert json.loads(capsys.readouterr().out) == policy
    assert main(["show", "17", "--json", "--file", str(backup)]) == 0
    assert json.loads(capsys.readouterr().out)["first_response_due"] == due
    copy = tmp_path / "copie.json"
    assert main(["copy", backup.as_posix(), copy.as_posix()]) == 0
    assert "(next id 18, and the SLA policy)" in capsys.readouterr().out
    assert main(["sla", "show", "--json", "--file", str(copy)]) == 0
    assert json.loads(capsys.readouterr().out) == policy
    # All or nothing: a target that holds tickets is refused whole, its policy included.
    other = tmp_path / "autre.json"
    assert main(["add", "Déjà là", "--file", str(other)]) == 0
    assert main(["copy", backup.as_posix(), other.as_posix()]) == 1
    assert "add --replace" in capsys.readouterr().err
    assert main(["sla", "show", "--json", "--file", str(other)]) == 0
    assert json.loads(capsys.readouterr().out)["targets"] == {}
    assert main(["copy", backup.as_posix(), other.as_posix(), "--replace"]) == 0
    assert main(["sla", "show", "--json", "--file", str(other)]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1]) == policy


@pytest.mark.usefixtures("with_policy")
def test_sla_sweep_writes_the_breaches_once_and_history_shows_them(
    cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli("add", "VPN en panne", "--priority", "urgent")[0] == 0  # due Monday 09:20 (Paris), 10 minutes on Friday
    code, out, err = cli("sla", "sweep")
    assert (code, err) == (0, "") and out.startswith("0 SLA breach events written on ")
    monkeypatch.setenv("TICKETS_NOW", MONDAY_LUNCH)  # 13:00 in Paris: the first response is late
    code, out, _ = cli("sla", "sweep")
    assert code == 0 and out.startswith("1 SLA breach event written on ")
    assert json.loads(cli("sla", "sweep", "--json")[1]) == {"events": 0}
    code, out, _ = cli("history", "17")
    assert code == 0
    assert "sla_breached  SLA breached: first response was due 2026-11-30T08:20:00Z" in out
    assert "2026-11-30T08:20:00Z  -      sla_breached" in out  # at the due time, by nobody
