"""What runs beside a server's requests, started and stopped with it: the sweep of SLA breaches (always) and
webhook delivery (unless TICKETS_WEBHOOKS=off); and the same loops for `python script.py deliver`, a worker of its
own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress

from tickets.engine.settings import Settings
from tickets.stores.base import TicketStore
from tickets.worker.breaches import watch
from tickets.worker.delivery import Deliverer, Options


def deliverer(store: TicketStore, settings: Settings, busy: Callable[[], bool] = lambda: False) -> Deliverer:
    options = Options(time_scale=settings.webhook_time_scale, allow_private=settings.webhooks_allow_private, busy=busy)
    return Deliverer(store, options)


async def work(store: TicketStore, settings: Settings, busy: Callable[[], bool] = lambda: False) -> None:
    """Everything in the background, until cancelled. busy: whether requests are being answered (a server's)."""
    tasks = [asyncio.create_task(watch(store)), asyncio.create_task(deliverer(store, settings, busy).run())]
    try:
        await asyncio.gather(*tasks)
    finally:  # cancelled (Ctrl-C, SIGTERM): each loop finishes what it was saving before this returns
        for task in tasks:
            task.cancel()
        for task in tasks:
            with suppress(asyncio.CancelledError, Exception):
                await task


@asynccontextmanager
async def background(
    store: TicketStore, settings: Settings, busy: Callable[[], bool] = lambda: False
) -> AsyncIterator[None]:
    """The background work of a server, for as long as it serves (no delivery when TICKETS_WEBHOOKS=off)."""
    tasks = [asyncio.create_task(watch(store))]
    if settings.webhooks:
        tasks.append(asyncio.create_task(deliverer(store, settings, busy).run()))
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with suppress(asyncio.CancelledError, Exception):
                await task
