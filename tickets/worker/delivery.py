"""Webhook delivery: each endpoint is told of the events after its cursor, in order, at least once.

One process delivers at a time (the store's claim: the folder's lock file, or a PostgreSQL advisory lock); the
others stand by and take over when it ends. Within it, each endpoint has its own task: it reads the event log
after the endpoint's cursor, sends each event the endpoint wants, and moves on only once the receiver answered
2xx, or the endpoint was given up on (disabled). The cursor and the try it is at are saved in the store every
SAVE_EVERY seconds and at each failure, so after a crash the delivery starts again where it was, and an event
sent again carries the same webhook-id. Nothing here holds a request back: the requests only write the log.

Time is an input: the clock (now and sleep) is a parameter, and every delay of the retry schedule is
multiplied by the time scale (TICKETS_WEBHOOK_TIME_SCALE), so tests run three days of retries in seconds.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

import httpx
import pydantic_core

from tickets.engine.errors import AddressRefused, CommentNotFound, StoreError, TicketNotFound, WebhookNotFound
from tickets.engine.history import Event, commented_id
from tickets.engine.webhooks import (
    TIMEOUT,
    Attempt,
    Stored,
    body,
    disabled,
    disabled_message,
    headers,
    message_id,
    outcome,
    retry_delay,
    signing_secrets,
    stamp,
    type_of,
    wants,
)
from tickets.stores.base import TicketStore
from tickets.stores.webhook_seam import Claim
from tickets.worker import addresses
from tickets.worker.bell import Bell

# POLL, not a bell rung at each write: waking an endpoint at each write cost a fifth of the writes' throughput
# (benchmarks/bench_webhooks.py, 2026-11-29). An endpoint added or changed through this process's API rings the
# bell of the look for endpoints (LOOK_FOR_ENDPOINTS is then the wait for another process's changes only).
POLL = 0.25  # seconds between looks at the event log when an endpoint is up to date
SAVE_EVERY = 1.0  # seconds between saves of an endpoint's cursor while it delivers
LOOK_FOR_ENDPOINTS = 1.0  # seconds between looks for new, changed or deleted endpoints
CLAIM_AGAIN = 2.0  # seconds between tries to take over the delivery from another process
BATCH = 100  # events read from the log at a time
YIELD = 0.03  # seconds between two messages while the server is busy: about 30 a second, a few % of a core
ERROR_MAX = 300  # characters of an error kept with a try
ANSWER_READ = 64 * 1024  # bytes of an answer's body read (and dropped) so that its connection serves again


class Clock(Protocol):
    """What the delivery tells time with: the wall clock, or a test's."""

    def now(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...


class WallClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@dataclass(frozen=True)
class Options:
    time_scale: float = 1.0  # TICKETS_WEBHOOK_TIME_SCALE: every retry delay is multiplied by it
    allow_private: bool = False  # TICKETS_WEBHOOKS_ALLOW_PRIVATE
    timeout: float = TIMEOUT
    #: Whether the server is answering requests: delivery then waits YIELD between messages (a server's writes
    #: keep their speed; what is left behind is caught up as soon as the load drops).
    busy: Callable[[], bool] = lambda: False


@dataclass
class Message:
    """What one try sends: its webhook-id, type and body (the event's id, for the cursor)."""

    id: str
    type: str
    data: bytes
    event_id: int | None = None


@dataclass
class _Endpoint:
    """An endpoint as its task knows it: the stored document, and what it did since its last save."""

    hook: Stored
    events: deque[Event] = field(default_factory=deque)  # read from the log, not yet done with
    sent_outbox: set[str] = field(default_factory=set)  # endpoint.disabled messages delivered since the last save
    tries: list[Attempt] = field(default_factory=list)
    dirty: bool = False
    saved_at: float = field(default_factory=time.monotonic)
    saving: asyncio.Future[None] | None = None  # a save under way: it finishes even when the worker stops


class Deliverer:
    """Delivers every endpoint of a store while this process holds the claim."""

    def __init__(
        self,
        store: TicketStore,
        options: Options | None = None,
        clock: Clock | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.store, self.hooks = store, store.webhooks
        self.options = options or Options()
        self.clock = clock or WallClock()
        self._client = client
        self._endpoints = Bell()  # rung when an endpoint is changed through this process's API

    async def run(self) -> None:
        """Deliver until cancelled: take the claim when it is free, and keep delivering while it holds."""
        made = None
        stop_listening = self.hooks.when_changed(self._endpoints.ringer())
        try:
            while True:
                since = self._endpoints.mark()
                if not await self._any_enabled():  # nothing to deliver: no lock taken, no file made
                    await self._endpoints.wait(LOOK_FOR_ENDPOINTS, self.clock.sleep, since)
                    continue
                # The client is made for the first endpoint: a server with none never pays its TLS set-up (40 ms).
                if self._client is None:
                    self._client = made = httpx.AsyncClient(follow_redirects=False, trust_env=False)
                claim = await self._claim()
                if claim is None:
                    await self.clock.sleep(CLAIM_AGAIN)
                    continue
                try:
                    await self._deliver_while_held(claim)
                finally:
                    await claim.release()
        finally:
            stop_listening()
            if made is not None:
                self._client = None
                await made.aclose()

    async def _any_enabled(self) -> bool:
        try:
            return any(hook["enabled"] for hook in await self.hooks.all())
        except StoreError:
            return False

    async def _claim(self) -> Claim | None:
        try:
            return await self.hooks.claim()
        except StoreError:
            return None  # the store cannot be reached now: try again later
        except Exception as exc:  # noqa: BLE001 (the worker outlives what it does not foresee, and says it)
            print(f"warning: webhook delivery: {type(exc).__name__}: {exc}", file=sys.stderr)
            return None

    async def _deliver_while_held(self, claim: Claim) -> None:
        tasks: dict[int, asyncio.Task[None]] = {}
        try:
            while await claim.held():
                since = self._endpoints.mark()
                try:
                    hooks = await self.hooks.all()
                except StoreError:
                    hooks = None
                if hooks is not None:
                    ids = {hook["id"] for hook in hooks if hook["enabled"]}
                    if not ids and not any(not task.done() for task in tasks.values()):
                        return  # nothing left to deliver: the claim is given back
                    for hook_id in list(tasks):
                        if hook_id not in ids or tasks[hook_id].done():
                            tasks.pop(hook_id).cancel()
                    for hook in hooks:
                        if hook["enabled"] and hook["id"] not in tasks:
                            tasks[hook["id"]] = asyncio.create_task(self._endpoint(hook))
                await self._endpoints.wait(LOOK_FOR_ENDPOINTS, self.clock.sleep, since)
        finally:
            for task in tasks.values():
                task.cancel()
            await asyncio.gather(*tasks.values(), return_exceptions=True)

    # ---- one endpoint

    async def _endpoint(self, hook: Stored) -> None:
        """Deliver one endpoint until it is disabled or deleted (the task is then started again if it is enabled
        again). A store that cannot be reached pauses it; nothing is skipped."""
        point = _Endpoint(hook)
        try:
            while point.hook["enabled"]:
                try:
                    await self._step(point)
                except StoreError as problem:  # the store cannot be reached now: the same step again later
                    print(f"warning: webhook {hook['id']}: {problem}", file=sys.stderr)
                    await self.clock.sleep(CLAIM_AGAIN)
        except WebhookNotFound:
            return  # deleted
        except Exception as exc:  # noqa: BLE001 (said, and the endpoint's task is started again)
            print(f"warning: webhook {hook['id']}: {type(exc).__name__}: {exc}", file=sys.stderr)
            await self.clock.sleep(CLAIM_AGAIN)
        finally:
            try:
                if point.saving is not None and not point.saving.done():
                    await asyncio.shield(point.saving)  # a save cut short by the stop finishes first
                if point.dirty or point.tries:
                    await self._save(point)
            except (StoreError, WebhookNotFound):
                pass

    async def _step(self, point: _Endpoint) -> None:
        """Send the next message, or wait for one."""
        message = await self._next(point)
        if message is None:
            await self._save(point)
            await self.clock.sleep(POLL)
            await self._refresh(point)
            return
        retry = point.hook["retry"]
        failed = retry["attempt"] if retry is not None and retry["message"] == message.id else 0
        if retry is not None and failed:
            wait = retry["next_at"] - self.clock.now().timestamp()
            if wait > 0:
                await self._save(point)
                await self.clock.sleep(min(wait, LOOK_FOR_ENDPOINTS))
                await self._refresh(point)
                return
        if self.options.busy():
            await self.clock.sleep(YIELD)
        status_code, retry_after = await self._try(point, message, failed + 1)
        result = outcome(status_code)
        if result == "delivered":
            self._done(point, message)
            if time.monotonic() - point.saved_at >= SAVE_EVERY:
                await self._save(point)
            return
        now = self.clock.now()
        if result == "gone":
            await self._disable(point, "the receiver answered 410 Gone", now)
            return
        delay = retry_delay(failed + 1, status_code, retry_after, now)
        if delay is None:
            last = point.tries[-1]
            why = f"status {last['status_code']}" if last["status_code"] is not None else last["error"]
            await self._disable(point, f"{failed + 1} tries of {message.id} failed (the last: {why})", now)
            return
        next_at = now.timestamp() + delay * self.options.time_scale
        point.hook = {**point.hook, "retry": {"message": message.id, "attempt": failed + 1, "next_at": next_at}}
        point.dirty = True
        await self._save(point)  # a failure is saved at once: a restart keeps to the schedule

    async def _next(self, point: _Endpoint) -> Message | None:
        """The next message for the endpoint: a message of its own (endpoint.disabled) first, then the next event
        of its types after its cursor (the events of other types are passed over)."""
        for queued in point.hook["outbox"]:
            if queued["id"] not in point.sent_outbox:
                return Message(queued["id"], queued["type"], queued["body"].encode())
        while True:
            if not point.events:
                point.events.extend(await self.store.feed(point.hook["delivered_up_to"], BATCH))
                if not point.events:
                    return None
            event = point.events[0]
            message_type = type_of(event)
            if wants(point.hook, message_type):
                return await self._message(event, message_type)
            point.events.popleft()
            point.hook = {**point.hook, "delivered_up_to": event["id"]}
            point.dirty = True

    async def _message(self, event: Event, message_type: str) -> Message:
        ticket: bytes | None = None
        comment: bytes | None = None
        try:
            ticket, _ = await self.store.get_json(event["ticket_id"])
        except TicketNotFound:
            pass
        comment_id = commented_id(event)
        if comment_id is not None:
            try:
                comment = pydantic_core.to_json(await self.store.comment(event["ticket_id"], comment_id))
            except (TicketNotFound, CommentNotFound):
                comment = b"null"
        data = body(message_type, event["at"], pydantic_core.to_json(event), ticket, comment)
        return Message(message_id(event["id"]), message_type, data, event["id"])

    def _done(self, point: _Endpoint, message: Message) -> None:
        if message.event_id is None:
            point.sent_outbox.add(message.id)
        else:
            point.events.popleft()
            point.hook = {**point.hook, "delivered_up_to": message.event_id}
        point.hook = {**point.hook, "retry": None}
        point.dirty = True

    async def _try(self, point: _Endpoint, message: Message, attempt: int) -> tuple[int | None, str | None]:
        """One try: (the status code or None, its Retry-After), kept in point.tries."""
        hook, at = point.hook, self.clock.now()
        started = time.monotonic()
        status_code: int | None = None
        retry_after: str | None = None
        error: str | None = None
        try:
            await addresses.check(hook["url"], self.options.allow_private)
            sent = headers(signing_secrets(hook, self.store.now()), message.id, at, message.data)
            client = self._client
            assert client is not None  # run() made it before the first delivery
            request = client.build_request("POST", hook["url"], content=message.data, headers=sent)
            request.extensions["timeout"] = httpx.Timeout(self.options.timeout).as_dict()
            response = await client.send(request, stream=True)
            status_code, retry_after = response.status_code, response.headers.get("retry-after")
            await _drain(response)
            if response.is_redirect:
                error = f"redirect to {response.headers.get('location', '?')[:200]} not followed"
        except AddressRefused as refused:
            error = str(refused)
        except httpx.TimeoutException:
            error = f"no answer within {self.options.timeout:g} s"
        except httpx.HTTPError as failure:
            error = f"{type(failure).__name__}: {failure}" if str(failure) else type(failure).__name__
        except asyncio.CancelledError:  # stopped mid-try: the try is kept (the message goes again at the next start)
            self._keep_try(
                point,
                message,
                attempt,
                at,
                started,
                status_code,
                "the worker stopped during this try: sent again at its next start",
            )
            raise
        self._keep_try(point, message, attempt, at, started, status_code, error)
        return status_code, retry_after

    @staticmethod
    def _keep_try(
        point: _Endpoint,
        message: Message,
        attempt: int,
        at: datetime,
        started: float,
        status_code: int | None,
        error: str | None,
    ) -> None:
        point.tries.append(
            {
                "webhook_id": point.hook["id"],
                "message_id": message.id,
                "event_id": message.event_id,
                "type": message.type,
                "attempt": attempt,
                "at": stamp(at),
                "status_code": status_code,
                "error": error[:ERROR_MAX] if error else None,
                "duration_ms": round((time.monotonic() - started) * 1000),
            }
        )

    # ---- what is kept

    async def _save(self, point: _Endpoint) -> None:
        """Keep the tries, and the cursor and try the endpoint is at, unless the endpoint was changed meanwhile
        (a PATCH, a rotation, a redelivery: its generation moved on), in which case the stored one is taken up.
        A save is never cut in the middle: a worker stopped meanwhile waits for it (shield), so no try is lost
        or kept twice."""
        point.saving = asyncio.ensure_future(self._persist(point))
        await asyncio.shield(point.saving)

    async def _persist(self, point: _Endpoint) -> None:
        if point.tries:
            tries, point.tries = point.tries, []
            try:
                await self.hooks.record(tries)
            except Exception:
                point.tries[:0] = tries  # kept for the next save
                raise
        if not point.dirty:
            return
        mine, sent = point.hook, set(point.sent_outbox)

        def keep(stored: Stored) -> Stored | None:
            if stored["generation"] != mine["generation"]:
                return None
            outbox = [m for m in stored["outbox"] if m["id"] not in sent]
            return {**stored, "delivered_up_to": mine["delivered_up_to"], "retry": mine["retry"], "outbox": outbox}

        stored = await self.hooks.change(mine["id"], keep)
        point.saved_at, point.dirty = time.monotonic(), False
        point.sent_outbox -= sent
        self._take_up(point, stored)

    async def _refresh(self, point: _Endpoint) -> None:
        self._take_up(point, await self.hooks.get(point.hook["id"]))

    def _take_up(self, point: _Endpoint, stored: Stored) -> None:
        if stored["generation"] != point.hook["generation"]:
            point.hook, point.dirty, point.sent_outbox = stored, False, set()
            point.events.clear()  # the cursor may have moved (redeliver)
        else:
            point.hook = {**point.hook, "outbox": stored["outbox"]}

    async def _disable(self, point: _Endpoint, reason: str, now: datetime) -> None:
        """Give the endpoint up: disabled with its reason, and the endpoints that want it told (endpoint.disabled)."""
        await self._save(point)
        generation = point.hook["generation"]

        def give_up(stored: Stored) -> Stored | None:
            return disabled(stored, reason) if stored["generation"] == generation else None

        stored = await self.hooks.change(point.hook["id"], give_up)
        self._take_up(point, stored)
        if stored["enabled"]:
            return  # changed meanwhile (re-enabled, rewound): go on with the new state
        notice = disabled_message(stored, reason, now)
        for other in await self.hooks.all():
            if other["id"] != stored["id"] and wants(other, "endpoint.disabled"):
                await self.hooks.change(other["id"], _queued(notice))


def _queued(notice: dict[str, Any]) -> Any:
    def add(hook: Stored) -> Stored:
        return {**hook, "outbox": [*hook["outbox"], notice]}

    return add


async def _drain(response: httpx.Response) -> None:
    """Read the answer's body to its end and drop it, so that the connection goes back to the pool for the next
    message (an answer closed unread closes its connection: a new TCP connection for every message). A body
    longer than ANSWER_READ is not read on: its connection is closed instead."""
    try:
        read = 0
        async for chunk in response.aiter_raw():
            read += len(chunk)
            if read > ANSWER_READ:
                break
    finally:
        await response.aclose()
