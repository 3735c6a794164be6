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
        # asyncio.wait, not gather: a cancelled gather cancels its tasks itself, and a second cancel here would
        # interrupt psycopg while it cancels a running query (it then logs a warning and drops the connection).
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            task.result()  # a loop that failed: its error, once the others are stopped
    finally:  # cancelled (Ctrl-C, SIGTERM): each loop finishes what it was saving before this returns
        await _stop(tasks)


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
        await _stop(tasks)


async def _stop(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel each task once, and wait for it to finish what it was saving."""
    for task in tasks:
        task.cancel()
    for task in tasks:
        with suppress(asyncio.CancelledError, Exception):
            await task
