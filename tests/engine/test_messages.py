"""The catalog of messages for people: every message in English and in French with the same values, French
written as French (its own quotes and spaces), and the language each edge picks: Accept-Language for the API,
LC_ALL / LC_MESSAGES / LANG for the command line (tests/api/test_languages.py, tests/cli/test_languages.py)."""

from __future__ import annotations

import ast
import builtins
import re
import string
from pathlib import Path

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


# --------------------------------------------------------------------------- no message for people outside the catalog

PACKAGE = Path(__file__).resolve().parent.parent.parent / "tickets"
# What builds a message for people: an error (the engine's, Python's, argparse's, Starlette's), a history problem
# (verify.py's problem()), a parser's error(), a line on stderr. Their texts come from the catalog.
ERRORS = {"HTTPException", "ArgumentTypeError", "problem", "error"} | {
    name
    for name in dir(builtins)
    if isinstance(getattr(builtins, name), type) and name.endswith(("Error", "Exception"))
}
# The engine's errors and the stores' (UsageError, StoreUnreadable, AddressRefused, DatabaseUnavailable...).
SUFFIXES = ("Error", "Exception", "Problem", "Refused", "Unreadable", "Unavailable", "Invalid", "Failed", "Moved")
# The justified exceptions, by file and the start of the English text: each one says why it stays English.
ALLOWED = {
    # a programmer's mistake (a key the catalog lacks), never shown to a user of the service
    ("engine/messages.py", "no message "),
    # an invariant of the SLA arithmetic that cannot fail (pragma: no cover)
    ("engine/sla.py", "the running sums"),
    # said to the developer who adds a route without an operation id, when the OpenAPI is built
    ("api/openapi_for_clients.py", " has no operation id"),
    # examples of answers in the OpenAPI document, which is written in English (its descriptions too): they show
    # what a client gets without Accept-Language
    ("api/openapi_for_clients.py", ""),
    ("api/openapi.py", "wrong API key"),
    ("api/responses.py", "Extra inputs are not permitted"),
    # its detail is never shown: the 405 handler (api/errors.py) answers with method_not_allowed from the catalog
    ("api/routes/stats.py", "Method Not Allowed"),
    # the servers' log lines, for operators (docs/langues.md): English, like the rest of the server's logs
    ("api/app.py", "warning: "),
    ("worker/breaches.py", "warning: SLA breach events: "),
    ("worker/delivery.py", "warning: webhook "),
    ("stores/json_file/store.py", "warning: "),
}


def _text_in(node: ast.AST) -> str | None:
    """The English words written in an argument (a literal, an f-string, literals added), or None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        text = node.value
    elif isinstance(node, ast.JoinedStr):
        text = "".join(str(part.value) for part in node.values if isinstance(part, ast.Constant))
    elif isinstance(node, ast.BinOp):
        text = (_text_in(node.left) or "") + (_text_in(node.right) or "")
    else:
        return None
    return text if re.search("[A-Za-z]{2}", text) else None


def _called(node: ast.Call) -> str:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _raw_texts() -> list[tuple[str, int, str]]:
    """Each English text the code under tickets/ tells people without the catalog: (file, line, text)."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            texts: list[ast.expr] = []
            if isinstance(node, ast.Call):
                name = _called(node)
                to_stderr = name == "print" and any(
                    k.arg == "file" and ast.unparse(k.value) == "sys.stderr" for k in node.keywords
                )
                if name in ERRORS or name == "say" or to_stderr or name.endswith(SUFFIXES):
                    texts += [*node.args, *(k.value for k in node.keywords if k.arg != "file")]
                else:
                    texts += [k.value for k in node.keywords if k.arg == "detail"]
            elif isinstance(node, ast.Dict):
                texts += [
                    v
                    for k, v in zip(node.keys, node.values, strict=True)
                    if isinstance(k, ast.Constant) and k.value in ("detail", "msg")
                ]
            for argument in texts:
                text = _text_in(argument)
                is_key = isinstance(node, ast.Call) and _called(node) == "say" and text in CATALOG  # say("cli_created")
                if text is not None and not is_key:
                    found.append((relative, argument.lineno, text))
    return found


def test_messages_for_people_come_from_the_catalog() -> None:
    """No error raised, detail answered, say() or stderr line with English text written in the code: each comes
    from the catalog (message("name", ...)), or is one of the justified exceptions of ALLOWED."""
    raw = [
        f"tickets/{path}:{line}: {text!r}"
        for path, line, text in _raw_texts()
        if not any(path == where and start in text for where, start in ALLOWED)
    ]
    assert not raw, "English texts outside the catalog:\n" + "\n".join(raw)


def test_the_allowed_exceptions_still_exist() -> None:
    """An exception that no longer matches anything leaves the list."""
    texts = _raw_texts()
    for where, start in ALLOWED:
        assert any(path == where and start in text for path, _, text in texts), (where, start)


def test_a_message_holds_values_told_in_its_own_language() -> None:
    """A message in a message, a list of them, an engine's error: each told in the language of the sentence."""
    from tickets.engine.errors import StoreUnreadable
    from tickets.stores.postgres.connections import DatabaseUnavailable

    told = message("problems", problems=[message("store_same_id"), message("store_digest_missing")])
    assert told.told("en") == "two tickets have the same id; its digest is missing"
    assert told.told("fr") == "deux tickets ont le même id\u00a0; son empreinte manque"
    unreadable = StoreUnreadable("t.json", message("store_line", number=3, problem=message("store_line_not_ours")))
    assert unreadable.told("en") == str(unreadable) == "t.json: line 3: not written as this service writes it"
    assert unreadable.told("fr") == "t.json\u00a0: ligne 3\u00a0: pas écrite comme ce service l'écrit"
    down = DatabaseUnavailable("postgresql://db/tickets", message("database_role_lacks", rights="INSERT on events"))
    assert str(down) == "the database postgresql://db/tickets cannot be used: its role lacks INSERT on events: grant it"
    assert down.told("fr") == (
        "la base de données postgresql://db/tickets est inutilisable\u00a0: il manque à son rôle INSERT on "
        "events\u00a0: accordez-le"
    )
