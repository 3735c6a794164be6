"""The engine's errors: small exception classes whose messages name the problem. Each edge translates them once
(the API to HTTP codes, the command line to a line on stderr and an exit code)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from tickets.engine.messages import Language, Message, Spoken, message, validation_message


class TicketError(Exception):
    """Base of the engine's errors; the message names the problem. A message of the catalog is told in the
    client's language at the edge (told); plain text is told as it is."""

    def __init__(self, problem: Message | str) -> None:
        super().__init__(str(problem))
        self.message = problem if isinstance(problem, Message) else None

    def told(self, language: Language) -> str:
        return self.message.told(language) if self.message is not None else str(self)


class TicketNotFound(TicketError):
    def __init__(self, ticket_id: int) -> None:
        super().__init__(message("ticket_not_found", ticket_id=ticket_id))
        self.ticket_id = ticket_id


class CommentNotFound(TicketError):
    def __init__(self, ticket_id: int, comment_id: int) -> None:
        super().__init__(message("comment_not_found", comment_id=comment_id, ticket_id=ticket_id))


class WebhookNotFound(TicketError):
    def __init__(self, hook_id: int) -> None:
        super().__init__(message("webhook_not_found", hook_id=hook_id))


class AddressRefused(TicketError):
    """A webhook URL whose host is, or resolves to, an address the service may not call (a 400)."""


class PreconditionFailed(TicketError):
    def __init__(self, ticket_id: int, expected: str, current: str) -> None:
        super().__init__(message("precondition_failed", ticket_id=ticket_id, current=current, expected=expected))


class NotAuthor(TicketError):
    """A comment corrected or deleted by someone else than its author, without an admin key (a 403)."""

    def __init__(self, ticket_id: int, comment_id: int, author: str) -> None:
        super().__init__(message("not_author", comment_id=comment_id, ticket_id=ticket_id, author=author))


class InvalidChange(TicketError):
    """A change that is valid alone but not on this ticket (too many tags once added): a 400, exit 2."""

    def __init__(self, ticket_id: int, problem: Message | str, field: str, within: tuple[str, ...] = ()) -> None:
        super().__init__(message("invalid_change", ticket_id=ticket_id, problem=problem))
        self.ticket_id, self.problem, self.field = ticket_id, problem, field
        self.loc = (*within, field)  # where the field sits in the request's body: ("changes", "tags") in a bulk one

    def within(self, *outer: str) -> InvalidChange:
        """The same error about the field nested in outer (a bulk change's body holds the changes under changes)."""
        return InvalidChange(self.ticket_id, self.problem, self.field, (*outer, *self.loc[:-1]))


class KeyReused(TicketError):
    """An Idempotency-Key sent again, within 24 hours, with another request than its first (a 422)."""

    def __init__(self, key: str, route: str, first_route: str, first_at: str) -> None:
        key_name = "key_reused_same_route" if route == first_route else "key_reused_other_route"
        super().__init__(message(key_name, key=key, first_at=first_at, route=route, first_route=first_route))


class KeyInFlight(TicketError):
    """An Idempotency-Key sent again while its first request is still being answered (a 409)."""

    def __init__(self, key: str) -> None:
        super().__init__(message("key_in_flight", key=key))


class StoreError(TicketError):
    """The store cannot be used right now (unreadable file, write failure, lock held too long)."""


def shown(path: Path | str) -> str:
    """A path fit for a message: bytes that are not UTF-8 are written as escapes, never an encoding crash."""
    return str(path).encode("utf-8", "backslashreplace").decode("utf-8")


class StoreUnreadable(StoreError):
    def __init__(self, path: Path | str, problem: Message | Spoken | str) -> None:
        """problem: a message of the catalog, or a text that is not ours to translate (the system's
        strerror)."""
        super().__init__(message("store_unreadable", path=shown(path), problem=problem))
        self.path = str(path)  # the file at fault


class StoreWriteFailed(StoreError):
    def __init__(self, path: Path | str, error: OSError) -> None:
        super().__init__(message("store_write_failed", path=shown(path), reason=error.strerror or error))


class StoreBusy(StoreError):
    def __init__(self, path: Path | str, seconds: float) -> None:
        super().__init__(message("store_busy", path=shown(path), seconds=f"{seconds:g}"))


class StoreNotEmpty(TicketError):
    def __init__(self, name: str, count: int) -> None:
        super().__init__(message("store_not_empty", name=name, count=count))


class SettingInvalid(TicketError):
    """A setting from the environment is unusable: the service stops rather than guess (fail closed)."""


# --------------------------------------------------------------------------- validation problems told in one line


def _describe(error: Any, language: Language = "en") -> str:
    """One line from a pydantic error: 'tickets[3].status: Input should be ...'."""
    return described(error).told(language)


def described(error: Any, prefix: str = "") -> Message | Spoken:
    """A pydantic error as a message told in any language: 'tickets[3].status: Input should be ...' (prefix goes
    before the field's place: 'sla_policy.')."""
    where = prefix
    for part in error["loc"]:
        where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where and where != prefix else str(part))
    told = Spoken(lambda language: validation_message(error, language))
    return message("field_problem", where=where, problem=told) if where else told


def first_repeated_key(raw: bytes | str) -> str | None:
    """The first key given twice in one object of this JSON, or None (json.loads would keep the last one,
    and the first value would vanish at the next write). None too for text that is not JSON."""
    found: list[str] = []

    def check(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in pairs]
        if len(set(keys)) != len(keys) and not found:
            found.append(next(key for key in keys if keys.count(key) > 1))
        return dict(pairs)

    try:
        json.loads(raw, object_pairs_hook=check)
    except ValueError:
        return None
    return found[0] if found else None


def describe_validation_error(exc: ValidationError, language: Language = "en") -> str:
    """All the problems of a validation error on one line."""
    return validation_problems(exc).told(language)


def validation_problems(exc: ValidationError) -> Message:
    """All the problems of a validation error on one line, as a message told in any language."""
    return message("problems", problems=[described(e) for e in exc.errors(include_url=False)])
