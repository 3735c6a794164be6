"""What the commands take from the user beyond argparse: invalid input (UsageError, exit 2), values checked by the
engine's models with the same messages as the API, lists typed with commas, and who acts (--actor)."""

from __future__ import annotations

import argparse
import getpass
from typing import Any

from pydantic import BaseModel, ValidationError

from tickets.engine.errors import TicketError, validation_problems
from tickets.engine.messages import Message, Spoken, message, validation_message
from tickets.engine.settings import NAME


class UsageError(TicketError):
    """Invalid input on the command line (exit code 2)."""


#: The options that give the fields whose names differ on the command line (the API's names otherwise).
OPTIONS = {
    "add_tags": "--add-tag",
    "remove_tags": "--remove-tag",
    "tag": "--tag",
    "due_before": "--due-before",
    "sla": "--sla",
    "q": "--q",
    "ids": "ID",
    "requester.name": "--requester-name",
    "requester.email": "--requester-email",
}


def validated(model: type[BaseModel], options: dict[str, str] | None = None, **values: Any) -> Any:
    """values checked by model, as the API checks a body or a query; UsageError naming the problem, and the
    option that gave it (OPTIONS, then options: requester.email is --requester-email)."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        names = {**OPTIONS, **(options or {})}
        problems: list[Message | Spoken] = []
        for error in exc.errors(include_url=False):
            loc = [str(part) for part in error["loc"]]
            where = names.get(".".join(loc[:2])) or names.get(loc[0] if loc else "") or _where(error["loc"])
            told: Message | Spoken = _complaint(error)
            if error["type"] == "literal_error":
                told = message("not_this_input", problem=told, value=error["input"])
            problems.append(message("field_problem", where=where, problem=told) if where else told)
        raise UsageError(message("problems", problems=problems)) from None


def _complaint(error: Any) -> Spoken:
    """A pydantic complaint, told in the language of the message it goes in."""
    return Spoken(lambda language: validation_message(error, language))


def _where(loc: tuple[int | str, ...]) -> str:
    """A field's place as the API names it: requester.email, tags[2]."""
    where = ""
    for part in loc:
        where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
    return where


def listed(values: list[str] | None) -> list[str]:
    """A repeatable option that also takes commas: --tag a --tag b,c -> [a, b, c]."""
    return [part for value in values or () for part in value.split(",")]


def default_actor() -> str | None:
    """Who runs the CLI: the login name, when the system knows it and it is a valid name."""
    try:
        return NAME.validate_python(getpass.getuser())
    except (KeyError, OSError, ImportError, ValidationError):
        return None


def actor(args: argparse.Namespace) -> str | None:
    """--actor, checked like X-Actor; by default the login name."""
    if args.actor is None:
        return default_actor()
    try:
        return NAME.validate_python(args.actor)
    except ValidationError as exc:
        raise UsageError(message("field_problem", where="--actor", problem=validation_problems(exc))) from None
