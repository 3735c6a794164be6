"""The storage seam: what the routes and the command line ask of a store.

Two stores implement it, each in its own sub-package and neither knowing about HTTP:

- json_file: the default, one readable JSON file (tickets.json) on one machine;
- postgres: PostgreSQL, for several servers on several hosts or millions of tickets.

Every rule of the contract is the same on both (validation, ETags, ordering, ids never reused); the
pure functions they share live in the engine.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from tickets.engine.chain import History
from tickets.engine.errors import CommentNotFound
from tickets.engine.history import PAGE_MAX, Comment, Event, NewComment, Page
from tickets.engine.models import Stats, StatsQuery, Ticket, TicketCreate, TicketQuery, TicketUpdate
from tickets.engine.rules import ticket_json
from tickets.engine.verify import Report


class TicketStore(ABC):
    """One store of tickets. Every method may raise TicketNotFound, PreconditionFailed or StoreError.

    The methods are coroutines: the server awaits them on its event loop, the CLI runs each with
    asyncio.run(). A store that blocks (a file) does its blocking in a thread, never on the loop.
    """

    #: Names the store in messages: the file's path, or the database URL without its password.
    name: str

    async def open(self) -> None:
        """Get ready before the first request: clean up after a crash, create or upgrade tables."""

    async def close(self) -> None:
        """Give back what open() or the requests took (connections)."""

    async def warm_up(self) -> None:
        """For a server, after open(): load what a command line run never needs (the JSON file's history)."""

    async def check_usable(self) -> None:
        """For /health, before it counts: raise StoreError naming what keeps the store from being used now,
        beyond what count() reads (the JSON file's count reads the file itself)."""

    @abstractmethod
    async def get(self, ticket_id: int) -> Ticket: ...

    async def get_json(self, ticket_id: int) -> bytes:
        """The ticket as the API answers it; its ETag is etag_of() of these bytes."""
        return ticket_json(await self.get(ticket_id))

    @abstractmethod
    async def search(self, query: TicketQuery) -> tuple[list[Ticket], int]:
        """The page of tickets the query asks for, and how many matched before paging."""

    async def search_json(self, query: TicketQuery) -> tuple[bytes, int]:
        page, total = await self.search(query)
        return b"[" + b",".join([ticket_json(t) for t in page]) + b"]", total

    @abstractmethod
    async def stats(self, query: StatsQuery) -> Stats:
        """Counts of the tickets that match the filters, and opened/closed per day over query.days days."""

    @abstractmethod
    async def count(self) -> int:
        """How many tickets there are (health, the CLI's listing)."""

    # Every write takes the actor (who makes it, or None) and records its event in the same commit.

    @abstractmethod
    async def add(self, data: TicketCreate, actor: str | None = None) -> Ticket:
        """Create a ticket with a new id, never handed out before."""

    @abstractmethod
    async def update(
        self, ticket_id: int, changes: TicketUpdate, if_match: str | None = None, actor: str | None = None
    ) -> Ticket:
        """Merge changes; updated_at moves only when a value changes. With if_match, only if it names the ETag.
        A change that changes nothing records no event."""

    @abstractmethod
    async def delete(self, ticket_id: int, if_match: str | None = None, actor: str | None = None) -> None:
        """Delete the ticket and its comments; its history stays."""

    # ---- comments and history

    @abstractmethod
    async def add_comment(self, ticket_id: int, comment: NewComment, actor: str | None = None) -> Comment:
        """Add a comment with a new id; the ticket's updated_at moves (later_than)."""

    @abstractmethod
    async def comments(self, ticket_id: int, page: Page) -> tuple[list[Comment], int]:
        """The ticket's comments, oldest first, paged, and how many it has; TicketNotFound if it does not exist."""

    async def comment(self, ticket_id: int, comment_id: int) -> Comment:
        """One comment of a ticket; TicketNotFound or CommentNotFound. Read a page at a time, never the whole
        conversation at once; a ticket's comments come in id order, so the search stops past the id."""
        offset = 0
        while True:
            comments, total = await self.comments(ticket_id, Page(limit=PAGE_MAX, offset=offset))
            found = next((c for c in comments if c["id"] == comment_id), None)
            if found is not None:
                return found
            offset += len(comments)
            if not comments or comments[-1]["id"] > comment_id or offset >= total:
                raise CommentNotFound(ticket_id, comment_id)

    @abstractmethod
    async def events(self, ticket_id: int, page: Page) -> tuple[list[Event], int]:
        """The ticket's history, oldest first, paged, and its length, also after the ticket was deleted;
        TicketNotFound when no ticket ever had this id."""

    @abstractmethod
    async def feed(self, after: int, limit: int) -> list[Event]:
        """Events with an id above `after`, in id order, at most limit. Ids are handed out in commit
        order: a poller that passes the last id it saw misses none and sees none twice."""

    # ---- copies

    async def export(self) -> tuple[int, list[Ticket]]:
        """(next_id, every ticket in id order)."""
        next_id, tickets, _ = await self.export_all()
        return next_id, tickets

    @abstractmethod
    async def export_all(self) -> tuple[int, list[Ticket], History]:
        """Everything, for a copy, as of one moment: (next_id, every ticket in id order, comments and events)."""

    @abstractmethod
    async def verify(self) -> Report:
        """The whole history checked (tickets.engine.verify): a report, or HistoryProblem naming the first thing
        wrong (a damaged JSON log is a StoreUnreadable naming its line)."""

    @abstractmethod
    async def replace_all(
        self, next_id: int, tickets: list[Ticket], *, replace: bool, history: History | None = None
    ) -> None:
        """Put these tickets (and this history) in place of the store's, all or nothing.

        Refuses (StoreNotEmpty) a store that holds tickets unless replace is true. The store's next
        ids become the highest of the given ones and its own, so no id it ever gave is handed out again.
        """
