"""The webhooks' seam: what the routes and the delivery worker ask of a store about endpoints.

Each store keeps its endpoints beside its tickets (the JSON file: tickets.json.webhooks.json and a log of tries;
PostgreSQL: two tables) and gives this interface as `store.webhooks`. An endpoint is one JSON document
(tickets.engine.webhooks.Stored), changed by pure functions of the engine: the store only reads it, changes it
under its lock and writes it back.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

from tickets.engine.history import Page
from tickets.engine.webhooks import Attempt, Stored, WebhookCreate

Change = Callable[[Stored], Stored | None]  # the endpoint as it should be now; None: leave it as it is


class Listeners:
    """The functions to call when something happened in this process (nothing tells another process of it)."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[], None]] = []

    def add(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call listener from now on; the function returned stops it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def __call__(self) -> None:
        for listener in list(self._listeners):
            listener()


class Claim(ABC):
    """The right to deliver, held by one process at a time (two servers never deliver at once)."""

    @abstractmethod
    async def held(self) -> bool:
        """Whether the claim still holds (a PostgreSQL connection lost gives it up)."""

    @abstractmethod
    async def release(self) -> None: ...


class WebhookStore(ABC):
    """The endpoints of one store, their tries, and the claim to deliver to them."""

    def when_changed(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call listener after each change of an endpoint made through the API of this process (added, changed,
        moved back, deleted: the delivery looks at once); the function returned stops it."""
        return self.__dict__.setdefault("_changed", Listeners()).add(listener)

    def tell_changed(self) -> None:
        """Call the listeners of when_changed (the routes, once a change is made)."""
        self.__dict__.get("_changed", Listeners())()

    @abstractmethod
    async def create(self, data: WebhookCreate, secret: str, at: str, cursor: int) -> Stored:
        """A new endpoint with a new id, told of the events after cursor."""

    @abstractmethod
    async def all(self) -> list[Stored]:
        """Every endpoint, in id order."""

    @abstractmethod
    async def get(self, hook_id: int) -> Stored:
        """One endpoint; WebhookNotFound when there is none with this id."""

    @abstractmethod
    async def change(self, hook_id: int, change: Change) -> Stored:
        """Apply change to the endpoint as stored now, under the store's lock (so two changes never lose one);
        the endpoint as it is afterwards. WebhookNotFound when there is none."""

    @abstractmethod
    async def delete(self, hook_id: int) -> None:
        """Delete an endpoint and its tries; WebhookNotFound when there is none."""

    @abstractmethod
    async def record(self, attempts: list[Attempt]) -> None:
        """Keep these tries (each endpoint keeps its latest ATTEMPTS_KEPT)."""

    @abstractmethod
    async def attempts(self, hook_id: int, page: Page) -> tuple[list[Attempt], int]:
        """An endpoint's tries, the newest first, paged, and how many are kept."""

    @abstractmethod
    async def claim(self) -> Claim | None:
        """The right to deliver, if no other process holds it (None: another one delivers)."""


ATTEMPTS_KEPT = 10_000
