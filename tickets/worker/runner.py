"""What runs beside a server's requests, started and stopped with it: webhook delivery (unless
TICKETS_WEBHOOKS=off), and the same loop for `python script.py deliver`, a worker of its own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress

from tickets.engine.settings import Settings
from tickets.stores.base import TicketStore
from tickets.worker.delivery import Deliverer, Options


def deliverer(store: TicketStore, settings: Settings, busy: Callable[[], bool] = lambda: False) -> Deliverer:
    options = Options(time_scale=settings.webhook_time_scale, allow_private=settings.webhooks_allow_private, busy=busy)
    return Deliverer(store, options)


async def work(store: TicketStore, settings: Settings, busy: Callable[[], bool] = lambda: False) -> None:
    """Everything in the background, until cancelled. busy: whether requests are being answered (a server's)."""
    await deliverer(store, settings, busy).run()


@asynccontextmanager
async def background(
    store: TicketStore, settings: Settings, busy: Callable[[], bool] = lambda: False
) -> AsyncIterator[None]:
    """The background work of a server, for as long as it serves (nothing when TICKETS_WEBHOOKS=off)."""
    if not settings.webhooks:
        yield
        return
    task = asyncio.create_task(work(store, settings, busy))
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError, Exception):
            await task
