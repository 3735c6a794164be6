"""The catalog of messages for people: every message in English and in French with the same values, French
written as French (its own quotes and spaces), and the language each edge picks: Accept-Language for the API,
LC_ALL / LC_MESSAGES / LANG for the command line (tests/api/test_languages.py, tests/cli/test_languages.py)."""

from __future__ import annotations

import re
import string

import pytest

from tickets.engine.messages import (
    CATALOG,
    LANGUAGES,
    VALIDATION,
    language_of_environment,
    language_of_request,
    message,
)

TABLES = {"CATALOG": CATALOG, "VALIDATION": VALIDATION}


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("table", TABLES)
def test_every_message_is_in_both_languages_with_the_same_values(table: str) -> None:
    for key, texts in TABLES[table].items():
        assert set(texts) == set(LANGUAGES), f"{table}[{key!r}] is not in {LANGUAGES}"
        assert fields(texts["fr"]) == fields(texts["en"]), f"{table}[{key!r}]: not the same values in French"
        words = re.sub(r"\{[^{}]*\}", "", texts["en"])  # the values' places are no words to translate
        assert texts["fr"] != texts["en"] or not re.search("[a-z]{4}", words), f"{key!r} is not translated"


@pytest.mark.parametrize("key", CATALOG)
def test_french_is_written_as_french(key: str) -> None:
    """Quotes « », a no-break space before : ; ? ! — not English grammar ('karim''s) in a French sentence."""
    french = CATALOG[key]["fr"]
    assert "!r" not in french and "'s " not in french and not french.endswith("'s")
    assert not re.search(r"[^\u00a0]([:;?!])(\s|$)", french.replace("Content-Type: application", "")), french
    assert not re.search(r"'\{[^}]*\}'", french), f"{key!r}: a value in English quotes"


def test_a_message_is_told_in_each_language() -> None:
    told = message("not_author", comment_id=2, ticket_id=17, author="karim")
    assert told.told("en") == (
        "comment 2 of ticket 17 was written by 'karim': only its author or an admin key may change it"
    )
    assert told.told("fr") == (
        "le commentaire 2 du ticket 17 a été écrit par «\u00a0karim\u00a0»\u00a0: seuls son auteur ou une clé admin "
        "peuvent le changer"
    )
    assert str(told) == told.told("en")
    with pytest.raises(KeyError):
        message("no_such_message")


@pytest.mark.parametrize(
    "header, language",
    [
        (None, "en"),
        ("", "en"),
        ("fr", "fr"),
        ("fr-FR", "fr"),
        ("fr-CA;q=0.9, en;q=0.8", "fr"),
        ("en-US,en;q=0.9,fr;q=0.8", "en"),
        ("de, fr;q=0.5", "fr"),
        ("de", "en"),
        ("*", "en"),
        ("fr;q=0", "en"),
        ("fr;q=abc", "en"),
        ("é" * 50, "en"),
    ],
)
def test_the_language_an_http_client_asks_for(header: str | None, language: str) -> None:
    assert language_of_request(header) == language


@pytest.mark.parametrize(
    "environ, language",
    [
        ({}, "en"),
        ({"LANG": "fr_FR.UTF-8"}, "fr"),
        ({"LANG": "fr"}, "fr"),
        ({"LANG": "en_US.UTF-8", "LC_MESSAGES": "fr_BE.UTF-8"}, "fr"),
        ({"LANG": "fr_FR.UTF-8", "LC_ALL": "C.UTF-8"}, "en"),
        ({"LANG": "de_DE.UTF-8"}, "en"),
        ({"LC_ALL": "", "LANG": "fr_CA.UTF-8"}, "fr"),
    ],
)
def test_the_language_of_the_command_line_user(environ: dict[str, str], language: str) -> None:
    assert language_of_environment(environ) == language
