"""The storage seam: what the routes and the command line ask of a store.

Two stores implement it, each in its own sub-package and neither knowing about HTTP:

- json_file: the default, one readable JSON file (tickets.json) on one machine;
- postgres: PostgreSQL, for several servers on several hosts or millions of tickets.

Every rule of the contract is the same on both (validation, ETags, ordering, ids never reused); the
pure functions they share live in the engine.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

from tickets.engine.breaches import BATCH as BREACH_BATCH
from tickets.engine.chain import History
from tickets.engine.errors import CommentNotFound
from tickets.engine.history import PAGE_MAX, Comment, CommentEdit, Event, NewComment, Page
from tickets.engine.idempotency import Answer, Keyed
from tickets.engine.models import Stats, StatsQuery, Ticket, TicketCreate, TicketQuery, TicketUpdate
from tickets.engine.rules import Reading, now
from tickets.engine.sla import Policy
from tickets.engine.verify import Report
from tickets.stores.webhook_seam import Listeners, WebhookStore


class TicketStore(ABC):
    """One store of tickets. Every method may raise TicketNotFound, PreconditionFailed or StoreError.

    The methods are coroutines: the server awaits them on its event loop, the CLI runs each with
    asyncio.run(). A store that blocks (a file) does its blocking in a thread, never on the loop.
    """

    #: Names the store in messages: the file's path, or the database URL without its password.
    name: str
    #: The webhooks of this store (tickets.stores.webhook_seam).
    webhooks: WebhookStore
    #: The store's clock: the time of every write and of every SLA reading, as a stored time. Tests (and
    #: TICKETS_NOW, for a demonstration) pin it; nothing else in the store reads the wall clock.
    now: Callable[[], str] = staticmethod(now)

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
    async def get(self, ticket_id: int) -> Ticket:
        """The ticket as stored (with its clocks' bookkeeping: tickets.engine.models.Ticket)."""

    @abstractmethod
    async def policy(self) -> Policy:
        """The SLA policy (NO_POLICY when none was set)."""

    @abstractmethod
    async def set_policy(self, policy: Policy) -> Policy:
        """Put a new SLA policy in place; every ticket's due times follow it. A ticket breached under the old
        policy stays breached."""

    async def reading(self) -> Reading:
        """What answers are rendered with: the policy and this moment."""
        return Reading(await self.policy(), self.now())

    async def render(self, ticket: Ticket) -> tuple[bytes, str]:
        """A ticket as the API answers it, with its SLA as of now, and its ETag."""
        return (await self.reading()).answer(ticket)

    async def get_json(self, ticket_id: int) -> tuple[bytes, str]:
        """The ticket as the API answers it, and its ETag (what it stores and its SLA state: Reading.etag)."""
        return (await self.reading()).answer(await self.get(ticket_id))

    @abstractmethod
    async def search(self, query: TicketQuery) -> tuple[list[Ticket], int]:
        """The page of tickets the query asks for, and how many matched before paging."""

    async def search_json(self, query: TicketQuery) -> tuple[bytes, int]:
        page, total = await self.search(query)
        reading = await self.reading()
        return reading.array(page), total

    @abstractmethod
    async def stats(self, query: StatsQuery) -> Stats:
        """Counts of the tickets that match the filters, and opened/closed per day over query.days days."""

    @abstractmethod
    async def count(self) -> int:
        """How many tickets there are (health, the CLI's listing)."""

    @abstractmethod
    async def last_event_id(self) -> int:
        """The id of the newest event committed (0: none yet): where a new webhook starts."""

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
    async def update_many(self, ids: list[int], changes: TicketUpdate, actor: str | None = None) -> list[Ticket]:
        """The same changes on every ticket of ids (distinct), all or nothing: TicketNotFound naming the first
        unknown id, InvalidChange for one that cannot take them, and then nothing changes. One event per ticket
        that really changed; the tickets come back in the order of ids."""

    @abstractmethod
    async def delete(self, ticket_id: int, if_match: str | None = None, actor: str | None = None) -> None:
        """Delete the ticket and its comments; its history stays."""

    # ---- comments and history

    @abstractmethod
    async def add_comment(self, ticket_id: int, comment: NewComment, actor: str | None = None) -> tuple[Comment, str]:
        """Add a comment with a new id; the ticket's updated_at moves (later_than). The comment, and the ticket's
        ETag after it, from the same commit."""

    @abstractmethod
    async def edit_comment(
        self, ticket_id: int, comment_id: int, changes: CommentEdit, author: str | None, actor: str | None = None
    ) -> Comment:
        """Change a comment's body or internal flag; edited_at is set, event comment_edited records the old and
        new values. author: only this author may (Forbidden otherwise; None: anybody, an admin).
        A change that changes nothing records nothing."""

    @abstractmethod
    async def delete_comment(
        self, ticket_id: int, comment_id: int, author: str | None, actor: str | None = None
    ) -> None:
        """Delete a comment (its record in the chain becomes an erased stub); event comment_deleted."""

    @abstractmethod
    async def comments(self, ticket_id: int, page: Page, internal: bool = True) -> tuple[list[Comment], int]:
        """The ticket's comments, oldest first, paged, and how many it has; TicketNotFound if it does not exist.
        internal=False: the internal notes are left out (and not counted)."""

    async def comment(self, ticket_id: int, comment_id: int, internal: bool = True) -> Comment:
        """One comment of a ticket; TicketNotFound or CommentNotFound. Read a page at a time, never the whole
        conversation at once; a ticket's comments come in id order, so the search stops past the id."""
        offset = 0
        while True:
            comments, total = await self.comments(ticket_id, Page(limit=PAGE_MAX, offset=offset), internal)
            found = next((c for c in comments if c["id"] == comment_id), None)
            if found is not None:
                return found
            offset += len(comments)
            if not comments or comments[-1]["id"] > comment_id or offset >= total:
                raise CommentNotFound(ticket_id, comment_id)

    @abstractmethod
    async def events(self, ticket_id: int, page: Page, internal: bool = True) -> tuple[list[Event], int]:
        """The ticket's history, oldest first, paged, and its length, also after the ticket was deleted;
        TicketNotFound when no ticket ever had this id. internal=False: the events of internal notes
        (tickets.engine.history.about_internal) are left out and not counted."""

    @abstractmethod
    async def feed(self, after: int, limit: int, internal: bool = True) -> list[Event]:
        """Events with an id above `after`, in id order, at most limit. Ids are handed out in commit
        order: a poller that passes the last id it saw misses none and sees none twice.
        internal=False: as events()."""

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
        self,
        next_id: int,
        tickets: list[Ticket],
        *,
        replace: bool,
        history: History | None = None,
        policy: Policy | None = None,
    ) -> None:
        """Put these tickets (and this history, and this SLA policy when given) in place of the store's, all or
        nothing. The tickets are complete (tickets.engine.models.complete), their clocks' bookkeeping included.

        Refuses (StoreNotEmpty) a store that holds tickets unless replace is true. The store's next
        ids become the highest of the given ones and its own, so no id it ever gave is handed out again.
        """

    # ---- SLA breach events (tickets.engine.breaches; the sweep: tickets.worker.breaches)

    @abstractmethod
    async def record_breaches(self, limit: int = BREACH_BATCH) -> int:
        """The sweep: write the sla_breached events of the tickets whose due times passed unmet by now (the store's
        clock), at most limit tickets in one commit, each target's event with its record on the ticket, so that no
        process ever writes one twice; how many events. Reads only the tickets past their alarm (an index)."""

    @abstractmethod
    async def next_breach_at(self) -> str | None:
        """When the next breach event falls due (a stored time; in the past: the sweep has work), or None."""

    def when_written(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call listener after each write of this process that may bring a breach event nearer (the sweep then
        looks at next_breach_at again); the function returned stops it."""
        return self.__dict__.setdefault("_written_listeners", Listeners()).add(listener)

    def _written(self) -> None:
        self.__dict__.get("_written_listeners", Listeners())()

    # ---- Idempotency-Key (tickets.engine.idempotency, docs/idempotency.md)
    #
    # A keyed creation keeps its answer in the same commit as its write (both, or neither), and for 24 hours by
    # self.now the same request under the same key gets it again (Answer.replayed) and writes nothing; another
    # request under the key is a KeyReused, and a retry while the first is still being written a KeyInFlight.
    # Copies (export, replace_all) leave the kept answers behind: a copy that replaces a store forgets its own.

    @abstractmethod
    async def add_keyed(self, keyed: Keyed, data: TicketCreate, actor: str | None = None) -> Answer:
        """add() under an Idempotency-Key: the new ticket's answer (ticket_answer), or the one kept for the key."""

    @abstractmethod
    async def add_comment_keyed(
        self, keyed: Keyed, ticket_id: int, comment: NewComment, actor: str | None = None
    ) -> Answer:
        """add_comment() under an Idempotency-Key: the new comment's answer (comment_answer), or the one kept."""
