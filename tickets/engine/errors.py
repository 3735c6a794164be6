"""The engine's errors: small exception classes whose messages name the problem. Each edge translates them once
(the API to HTTP codes, the command line to a line on stderr and an exit code)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError


class TicketError(Exception):
    """Base of the engine's errors; the message names the problem."""


class TicketNotFound(TicketError):
    def __init__(self, ticket_id: int) -> None:
        super().__init__(f"ticket {ticket_id} not found")
        self.ticket_id = ticket_id


class CommentNotFound(TicketError):
    def __init__(self, ticket_id: int, comment_id: int) -> None:
        super().__init__(f"comment {comment_id} of ticket {ticket_id} not found")


class WebhookNotFound(TicketError):
    def __init__(self, hook_id: int) -> None:
        super().__init__(f"webhook {hook_id} not found")


class AddressRefused(TicketError):
    """A webhook URL whose host is, or resolves to, an address the service may not call (a 400)."""


class PreconditionFailed(TicketError):
    def __init__(self, ticket_id: int, expected: str, current: str) -> None:
        super().__init__(f"ticket {ticket_id} has changed: its ETag is {current}, not {expected}")


class NotAuthor(TicketError):
    """A comment corrected or deleted by someone else than its author, without an admin key (a 403)."""

    def __init__(self, ticket_id: int, comment_id: int, author: str) -> None:
        super().__init__(
            f"comment {comment_id} of ticket {ticket_id} was written by {author!r}: "
            "only its author or an admin key may change it"
        )


class InvalidChange(TicketError):
    """A change that is valid alone but not on this ticket (too many tags once added): a 400, exit 2."""

    def __init__(self, ticket_id: int, problem: str, field: str, within: tuple[str, ...] = ()) -> None:
        super().__init__(f"ticket {ticket_id}: {problem}")
        self.ticket_id, self.problem, self.field = ticket_id, problem, field
        self.loc = (*within, field)  # where the field sits in the request's body: ("changes", "tags") in a bulk one

    def within(self, *outer: str) -> InvalidChange:
        """The same error about the field nested in outer (a bulk change's body holds the changes under changes)."""
        return InvalidChange(self.ticket_id, self.problem, self.field, (*outer, *self.loc[:-1]))


class KeyReused(TicketError):
    """An Idempotency-Key sent again, within 24 hours, with another request than its first (a 422)."""

    def __init__(self, key: str, route: str, first_route: str, first_at: str) -> None:
        other = f"another body or actor on {route}" if route == first_route else first_route
        super().__init__(
            f"Idempotency-Key {key!r} was first used at {first_at} for {other}; it stands for that request for "
            "24 hours: send a new key for a new request"
        )


class KeyInFlight(TicketError):
    """An Idempotency-Key sent again while its first request is still being answered (a 409)."""

    def __init__(self, key: str) -> None:
        super().__init__(
            f"a request with Idempotency-Key {key!r} is still being answered; retry once it is done, and get its answer"
        )


class StoreError(TicketError):
    """The store cannot be used right now (unreadable file, write failure, lock held too long)."""


def shown(path: Path | str) -> str:
    """A path fit for a message: bytes that are not UTF-8 are written as escapes, never an encoding crash."""
    return str(path).encode("utf-8", "backslashreplace").decode("utf-8")


class StoreUnreadable(StoreError):
    def __init__(self, path: Path | str, problem: str) -> None:
        super().__init__(f"{shown(path)}: {problem}")
        self.path = str(path)  # the file at fault


class StoreWriteFailed(StoreError):
    def __init__(self, path: Path | str, error: OSError) -> None:
        super().__init__(f"could not save {shown(path)}: {error.strerror or error}; nothing was changed")


class StoreBusy(StoreError):
    def __init__(self, path: Path | str, seconds: float) -> None:
        super().__init__(f"store busy: {shown(path)} stayed locked by another process for {seconds:g} s; try again")


class StoreNotEmpty(TicketError):
    def __init__(self, name: str, count: int) -> None:
        super().__init__(f"{name} already holds {count} tickets; add --replace to replace them")


class SettingInvalid(TicketError):
    """A setting from the environment is unusable: the service stops rather than guess (fail closed)."""


# --------------------------------------------------------------------------- validation problems told in one line


def _describe(error: Any) -> str:
    """One line from a pydantic error: 'tickets[3].status: Input should be ...'."""
    where = ""
    for part in error["loc"]:
        where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
    return f"{where}: {error['msg']}" if where else error["msg"]


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


def describe_validation_error(exc: ValidationError) -> str:
    """All the problems of a validation error on one line."""
    return "; ".join(_describe(e) for e in exc.errors(include_url=False))
