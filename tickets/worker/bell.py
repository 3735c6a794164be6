"""A bell the background loops wait on beside their clock: a change made in this process rings it, so a loop waiting
for work looks at once instead of at its next tick (another process's changes still wait for the tick: nothing
tells this one of them). The SLA breach watch rings it at each write, the webhook delivery when an endpoint is
added or changed through the API.

A wait ends at the ring of the bell after its mark: take the mark before looking for work (Bell.mark), and a ring
while looking is not lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import suppress

Sleep = Callable[[float], Awaitable[None]]


class Bell:
    def __init__(self) -> None:
        self._rung = asyncio.Event()  # set by the next ring; replaced by a new one then

    def ring(self) -> None:
        """End every wait marked before now (from the event loop's thread: ringer() for a listener)."""
        rung, self._rung = self._rung, asyncio.Event()
        rung.set()

    def ringer(self) -> Callable[[], None]:
        """ring, callable from any thread (a store's listener), for the running event loop."""
        loop = asyncio.get_running_loop()

        def ring() -> None:
            loop.call_soon_threadsafe(self.ring)

        return ring

    def mark(self) -> asyncio.Event:
        """The moment from which a ring ends a wait (Bell.wait's since)."""
        return self._rung

    async def wait(self, seconds: float, sleep: Sleep, since: asyncio.Event) -> None:
        """Until seconds passed (sleep: the clock's) or the bell rang after since (a mark)."""
        sleeping = asyncio.ensure_future(sleep(seconds))
        rung = asyncio.ensure_future(since.wait())
        try:
            await asyncio.wait({sleeping, rung}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeping, rung):
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task
