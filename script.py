"""The ticket engine's public face, and the command-line tool (`python script.py --help`).

For `import script`: load the tickets of a file, count, filter, sort and page them, and add, update or
delete tickets with the change on disk before the function returns — the same functions and rules as the
API and the command line. The code lives in the package tickets/ (docs/architecture.md). For example:

    import script
    tickets = script.load("tickets.json")
    script.count(tickets)["by_status"]          # {"open": 5, "in_progress": 4, "closed": 3}
    still_open = script.filter_tickets(tickets, script.TicketFilters(status=["open"]))
    urgent_first = script.sort_tickets(still_open, "-priority")
    script.update(3, {"status": "closed"})       # on disk when it returns
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from tickets.cli.main import main
from tickets.engine.models import Counts, Ticket, TicketCreate, TicketFilters, TicketQuery, TicketUpdate
from tickets.engine.rules import count, filter_tickets, paginate, sort_tickets
from tickets.engine.settings import Settings
from tickets.stores.base import TicketStore
from tickets.stores.choice import open_store

__all__ = [
    "Counts",
    "Ticket",
    "TicketCreate",
    "TicketFilters",
    "TicketQuery",
    "TicketUpdate",
    "add",
    "count",
    "delete",
    "filter_tickets",
    "load",
    "main",
    "paginate",
    "sort_tickets",
    "update",
]
T = TypeVar("T")


def _with_store(path: Path | str | None, work: Callable[[TicketStore], Awaitable[T]]) -> T:
    """Run work on the store of path (default: TICKETS_FILE, or tickets.json beside this script)."""
    settings = Settings.from_environment()
    store = open_store(settings, file=path)

    async def run() -> T:
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(run())


def load(path: Path | str | None = None) -> list[Ticket]:
    """Every ticket of the file, in id order."""
    return _with_store(path, lambda store: store.export())[1]


def add(fields: dict[str, Any], path: Path | str | None = None) -> Ticket:
    """Create a ticket from its fields (title required), saved before this returns."""
    return _with_store(path, lambda store: store.add(TicketCreate.model_validate(fields)))


def update(ticket_id: int, changes: dict[str, Any], path: Path | str | None = None) -> Ticket:
    """Change fields of a ticket, saved before this returns."""
    return _with_store(path, lambda store: store.update(ticket_id, TicketUpdate.model_validate(changes)))


def delete(ticket_id: int, path: Path | str | None = None) -> None:
    """Delete a ticket and its comments, saved before this returns."""
    _with_store(path, lambda store: store.delete(ticket_id))


if __name__ == "__main__":
    sys.exit(main())
