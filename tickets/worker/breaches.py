"""The sweep of SLA breaches: the `sla_breached` events (tickets.engine.breaches) written when due times pass, even
when nobody writes at that moment.

A watch sweeps once when it starts (a breach missed while no server ran is written then, at the time it happened),
then waits until the next breach falls due (the store's next_breach_at, read from its index), LOOK_AGAIN seconds at
most (another process's writes tell this one nothing), or until a write of this process may have brought one nearer
(TicketStore.when_written). Every process may run one: the store writes each event once, whoever sweeps.

Time is an input: the moment is the store's clock (store.now), and the waiting is the watch's sleep, so that tests
pin both and never wait for the wall clock.
"""

from __future__ import annotations

import asyncio
import sys

from tickets.engine.breaches import BATCH
from tickets.engine.errors import StoreError
from tickets.engine.sla import micros
from tickets.stores.base import TicketStore
from tickets.worker.bell import Bell, Sleep

LOOK_AGAIN = 60.0  # seconds at most between two looks at the next due time
AFTER_FAILURE = 5.0  # seconds before trying again when the store cannot be reached
PAST_DUE = 1.0  # seconds before looking again at a due time already past (another process is writing its event)


async def sweep_once(store: TicketStore, limit: int = BATCH) -> int:
    """Write every breach event due by now, limit tickets per commit; how many events (for `deliver`, a test)."""
    total = 0
    while True:
        written = await store.record_breaches(limit)
        total += written
        if written == 0:
            return total


class BreachWatch:
    """Sweeps a store when its due times pass, until cancelled."""

    def __init__(self, store: TicketStore, sleep: Sleep = asyncio.sleep, look_again: float = LOOK_AGAIN) -> None:
        self.store, self.sleep, self.look_again = store, sleep, look_again
        self._bell = Bell()
        self._told: str | None = None  # the last problem said (said again only once it changes)

    def wake(self) -> None:
        """Look again at once (a write may have brought a due time nearer)."""
        self._bell.ring()

    async def run(self) -> None:
        stop_listening = self.store.when_written(self._bell.ringer())
        try:
            while True:
                since = self._bell.mark()  # before the sweep: a write during it wakes the next wait
                await self._bell.wait(await self.step(), self.sleep, since)
        finally:
            stop_listening()

    async def step(self) -> float:
        """One sweep; the seconds to wait before the next one."""
        try:
            await sweep_once(self.store)
            upcoming = await self.store.next_breach_at()
        except StoreError as problem:
            self._tell(str(problem))
            return AFTER_FAILURE
        except Exception as exc:  # noqa: BLE001 (the watch outlives what it does not foresee, and says it)
            self._tell(f"{type(exc).__name__}: {exc}")
            return AFTER_FAILURE
        self._told = None
        if upcoming is None:
            return self.look_again
        seconds = (micros(upcoming) - micros(self.store.now())) / 1_000_000
        return min(seconds if seconds > 0 else PAST_DUE, self.look_again)

    def _tell(self, problem: str) -> None:
        if problem != self._told:
            print(f"warning: SLA breach events: {problem}", file=sys.stderr)
            self._told = problem


async def watch(store: TicketStore) -> None:
    """The watch of a server or a worker, until cancelled."""
    await BreachWatch(store).run()
