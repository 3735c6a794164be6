"""The pure parts of Idempotency-Key: the header's value, the fingerprint, the 24 hours, the replay rule."""

from __future__ import annotations

import re

import pytest

from tickets.engine.errors import KeyReused
from tickets.engine.idempotency import (
    PATTERN,
    Answer,
    Keyed,
    comment_answer,
    cutoff,
    fingerprint,
    is_fresh,
    kept,
    parse_key,
    replay,
    ticket_answer,
)


@pytest.mark.parametrize(
    ("value", "key"),
    [
        ("abc", "abc"),
        ('"abc"', "abc"),
        ("  4c9e1a52-7d1f-4b8e-9a57-0c2f6d3e8b41 ", "4c9e1a52-7d1f-4b8e-9a57-0c2f6d3e8b41"),
        ('"two words"', "two words"),
        ('"say \\"hi\\" \\\\ bye"', 'say "hi" \\ bye'),
        ("a,b;c=d:e/f", "a,b;c=d:e/f"),
        ("x" * 255, "x" * 255),
        ('"' + "\\\\" * 255 + '"', "\\" * 255),
    ],
)
def test_keys_bare_and_quoted(value: str, key: str) -> None:
    assert parse_key(value) == key
    assert re.fullmatch(PATTERN, value.strip()) is not None  # what the schema says agrees


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("", "1 to 255 printable ASCII"),
        ('""', "1 to 255 characters, not 0"),
        ("two words", "quote one with spaces"),
        ("clé", "printable ASCII"),
        ("tab\there", "printable ASCII"),
        ('in"side', "printable ASCII"),
        ("back\\slash", "printable ASCII"),
        ('"open', "a quoted key"),
        ('"a", "b"', "a quoted key"),
        ('"bad \\n escape"', "a quoted key"),
        ("x" * 256, "not 256"),
        ('"' + "x" * 256 + '"', "not 256"),
    ],
)
def test_bad_keys_name_the_header_and_the_problem(value: str, problem: str) -> None:
    with pytest.raises(ValueError, match="Idempotency-Key") as raised:
        parse_key(value)
    assert problem in str(raised.value)
    if len(value) <= 257:  # the pattern's count is of characters, not the sf-string's length rule
        assert re.fullmatch(PATTERN, value.strip()) is None


def test_the_fingerprint_is_of_the_request_as_understood() -> None:
    one = fingerprint("POST /tickets", "zoé", {"title": "Écran", "tags": ["a"], "priority": "high"})
    assert one == fingerprint("POST /tickets", "zoé", {"priority": "high", "tags": ["a"], "title": "Écran"})
    assert (
        len(
            {
                one,
                fingerprint("POST /tickets", "karim", {"title": "Écran", "tags": ["a"], "priority": "high"}),
                fingerprint("POST /tickets", None, {"title": "Écran", "tags": ["a"], "priority": "high"}),
                fingerprint("POST /tickets/3/comments", "zoé", {"title": "Écran", "tags": ["a"], "priority": "high"}),
                fingerprint("POST /tickets", "zoé", {"title": "Écran", "tags": ["a"], "priority": "low"}),
            }
        )
        == 5
    )
    assert re.fullmatch("[0-9a-f]{64}", one)


def test_24_hours_by_the_clock_given() -> None:
    assert cutoff("2026-11-28T09:30:00Z") == "2026-11-27T09:30:00Z"
    assert cutoff("2026-03-01T00:00:00Z") == "2026-02-28T00:00:00Z"
    assert is_fresh("2026-11-27T09:30:01Z", "2026-11-28T09:30:00Z")
    assert not is_fresh("2026-11-27T09:30:00Z", "2026-11-28T09:30:00Z")


KEYED = Keyed("ana", "k-1", "POST /tickets", fingerprint("POST /tickets", "ana", {"title": "Écran"}))
ANSWER = ticket_answer(17, b'{"id":17,"title":"\xc3\x89cran \\"noir\\""}', '"6f1c2a9e0b7d4c3a8e5f1b2d"')


def test_replay_gives_the_kept_answer_while_fresh() -> None:
    record = kept(KEYED, ANSWER, "2026-11-28T09:30:00Z")
    assert record["headers"] == {"Location": "/tickets/17", "ETag": '"6f1c2a9e0b7d4c3a8e5f1b2d"'}
    again = replay(record, KEYED, "2026-11-29T09:29:59Z")
    assert again == ANSWER and again is not None and again.replayed and again.body == ANSWER.body
    assert replay(record, KEYED, "2026-11-29T09:30:00Z") is None  # forgotten: the write goes ahead
    assert replay(None, KEYED, "2026-11-28T09:30:00Z") is None


def test_replay_refuses_another_request() -> None:
    record = kept(KEYED, ANSWER, "2026-11-28T09:30:00Z")
    other = Keyed("ana", "k-1", "POST /tickets", fingerprint("POST /tickets", "ana", {"title": "Autre"}))
    with pytest.raises(KeyReused, match="first used at 2026-11-28T09:30:00Z for another body or actor on POST /t"):
        replay(record, other, "2026-11-28T10:00:00Z")
    elsewhere = Keyed("ana", "k-1", "POST /tickets/3/comments", "0" * 64)
    with pytest.raises(KeyReused, match="for POST /tickets; it stands for that request for 24 hours"):
        replay(record, elsewhere, "2026-11-28T10:00:00Z")
    assert replay(record, other, "2026-11-29T09:30:00Z") is None  # past 24 hours, the key is free again


def test_a_comments_answer() -> None:
    comment = {"id": 7, "ticket_id": 3, "author": "zoé", "body": "Vu.", "internal": False}
    answer = comment_answer(comment, '"9e0c872aa0219ab162e3767d"')
    assert answer == Answer(
        201, {"Location": "/tickets/3/comments/7", "Ticket-ETag": '"9e0c872aa0219ab162e3767d"'}, answer.body
    )
    assert answer.body.decode() == '{"id":7,"ticket_id":3,"author":"zoé","body":"Vu.","internal":false}'
