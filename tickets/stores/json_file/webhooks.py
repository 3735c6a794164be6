"""The webhooks of a tickets file, in two files beside it:

- tickets.json.webhooks.json: the endpoints (tickets.engine.webhooks.Stored) and the next id, changed under the
  folder's lock like the tickets file (folder_lock.py) and written atomically (temporary file, fsync, rename);
- tickets.json.deliveries.jsonl: one line per try, appended by the one process that delivers; past
  DELIVERIES_MAX bytes it becomes tickets.json.deliveries.1.jsonl (the one before is dropped).

The right to deliver is an flock on tickets.json.deliver.lock, held by the delivering process as long as it
lives: the kernel gives it up when that process ends, killed or not. The lock file is checked to be the one on
disk after each lock (a deleted or replaced lock file is locked again), so two processes never both hold it.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import secrets
from collections.abc import Callable
from contextlib import AbstractContextManager, suppress
from pathlib import Path
from typing import Any

import pydantic_core

from tickets.engine.errors import StoreUnreadable, StoreWriteFailed, WebhookNotFound
from tickets.engine.history import Page
from tickets.engine.messages import Problem, message
from tickets.engine.webhooks import Attempt, Stored, WebhookCreate, created
from tickets.stores.webhook_seam import ATTEMPTS_KEPT, Change, Claim, WebhookStore

DELIVERIES_MAX = 16 << 20  # bytes of the tries' log before it is turned over


class JsonWebhooks(WebhookStore):
    """The endpoints of the tickets file at path; locked() is the folder's lock, as the tickets' writer takes it."""

    def __init__(self, path: Path, locked: Callable[[], AbstractContextManager[None]]) -> None:
        self.path = path.with_name(path.name + ".webhooks.json")
        self.tries = path.with_name(path.name + ".deliveries.jsonl")
        self.older_tries = path.with_name(path.name + ".deliveries.1.jsonl")
        self.claim_file = path.with_name(path.name + ".deliver.lock")
        self._locked = locked

    # ---- the endpoints

    async def create(self, data: WebhookCreate, secret: str, at: str, cursor: int) -> Stored:
        def make(state: dict[str, Any]) -> Stored:
            hook = created(state["next_id"], data, secret, at, cursor)
            state["next_id"] += 1
            state["webhooks"].append(hook)
            return hook

        return await asyncio.to_thread(self._write, make)

    async def all(self) -> list[Stored]:
        return (await asyncio.to_thread(self._read))["webhooks"]

    async def get(self, hook_id: int) -> Stored:
        return _find(await asyncio.to_thread(self._read), hook_id)

    async def change(self, hook_id: int, change: Change) -> Stored:
        def apply(state: dict[str, Any]) -> Stored:
            hook = _find(state, hook_id)
            new = change(hook)
            if new is None:
                return hook
            state["webhooks"] = [new if h["id"] == hook_id else h for h in state["webhooks"]]
            return new

        return await asyncio.to_thread(self._write, apply)

    async def delete(self, hook_id: int) -> None:
        def remove(state: dict[str, Any]) -> None:
            _find(state, hook_id)
            state["webhooks"] = [h for h in state["webhooks"] if h["id"] != hook_id]

        await asyncio.to_thread(self._write, remove)

    def _read(self) -> dict[str, Any]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return {"next_id": 1, "webhooks": []}
        except OSError as exc:
            raise StoreUnreadable(self.path, exc.strerror or str(exc)) from None
        try:
            state = json.loads(data)
            if not isinstance(state, dict) or not isinstance(state.get("webhooks"), list):
                raise Problem(message("store_no_webhook_list"))
            return state
        except ValueError as exc:
            raise StoreUnreadable(self.path, message("store_not_webhooks", problem=exc)) from None

    def _write(self, change: Callable[[dict[str, Any]], Any]) -> Any:
        """Read, change and write the endpoints under the folder's lock; the change's result."""
        with self._locked():
            state = self._read()
            result = change(state)
            tmp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(8)}.tmp")
            try:
                with open(tmp, "xb") as file:
                    file.write(pydantic_core.to_json(state, indent=2) + b"\n")
                    file.flush()
                    os.fsync(file.fileno())
                os.replace(tmp, self.path)
            except OSError as exc:
                with suppress(OSError):
                    os.unlink(tmp)
                raise StoreWriteFailed(self.path, exc) from None
            return result

    # ---- the tries

    async def record(self, attempts: list[Attempt]) -> None:
        await asyncio.to_thread(self._append, attempts)

    def _append(self, attempts: list[Attempt]) -> None:
        lines = b"".join(pydantic_core.to_json(a) + b"\n" for a in attempts)
        try:
            with open(self.tries, "ab") as file:
                file.write(lines)
                if file.tell() > DELIVERIES_MAX:
                    os.replace(self.tries, self.older_tries)
        except OSError as exc:
            raise StoreWriteFailed(self.tries, exc) from None

    async def attempts(self, hook_id: int, page: Page) -> tuple[list[Attempt], int]:
        await self.get(hook_id)  # WebhookNotFound
        return await asyncio.to_thread(self._attempts_of, hook_id, page)

    def _attempts_of(self, hook_id: int, page: Page) -> tuple[list[Attempt], int]:
        marker = f'"webhook_id":{hook_id},'.encode()
        found: list[bytes] = []
        for path in (self.older_tries, self.tries):
            with suppress(FileNotFoundError):
                found += [line for line in path.read_bytes().splitlines() if line.startswith(b"{" + marker)]
        found = found[-ATTEMPTS_KEPT:]
        found.reverse()
        chosen = found[page.offset : page.offset + page.limit]
        return [json.loads(line) for line in chosen], len(found)

    # ---- the right to deliver

    async def claim(self) -> Claim | None:
        trying = asyncio.ensure_future(asyncio.to_thread(self._try_claim))
        try:
            return await asyncio.shield(trying)
        except asyncio.CancelledError:  # a server stopping: its thread goes on, and gives back what it took
            taken = await trying
            if taken is not None:
                await taken.release()
            raise

    def _try_claim(self) -> Claim | None:
        fd = os.open(self.claim_file, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        claim = _FileClaim(fd, self.claim_file)
        if not claim.is_current():
            os.close(fd)  # the file was deleted or replaced before we locked it: not the lock others take
            return None
        return claim


class _FileClaim(Claim):
    def __init__(self, fd: int, path: Path) -> None:
        self.fd: int | None = fd
        self.path = path

    def is_current(self) -> bool:
        try:
            mine, on_disk = os.fstat(self.fd or -1), os.stat(self.path)
        except OSError:
            return False
        return (mine.st_dev, mine.st_ino) == (on_disk.st_dev, on_disk.st_ino)

    async def held(self) -> bool:
        return self.fd is not None and self.is_current()

    async def release(self) -> None:
        if self.fd is not None:
            fd, self.fd = self.fd, None
            os.close(fd)  # closing the descriptor gives the flock up


def _find(state: dict[str, Any], hook_id: int) -> Stored:
    for hook in state["webhooks"]:
        if hook["id"] == hook_id:
            return hook
    raise WebhookNotFound(hook_id)
