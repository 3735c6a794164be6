"""The JSON-file store: one readable tickets.json, safe across threads and processes of one machine.

Reads come from an in-memory snapshot, checked against the file's stat; writes are group-committed:
a batch of changes is applied under the folder's lock (folder_lock.py) and written atomically
(temporary file, fsync, rename). This is the default store; see tickets.stores.base for the seam.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import queue
import secrets
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from tickets.engine.chain import History
from tickets.engine.errors import (
    KeyInFlight,
    StoreBusy,
    StoreError,
    StoreUnreadable,
    StoreWriteFailed,
    TicketError,
    shown,
)
from tickets.engine.history import Comment, CommentEdit, Event, NewComment, Page
from tickets.engine.idempotency import Answer, Keyed, replay
from tickets.engine.messages import Message, message
from tickets.engine.models import Stats, StatsQuery, Ticket, TicketCreate, TicketQuery, TicketUpdate
from tickets.engine.rules import Reading
from tickets.engine.settings import LOCK_TIMEOUT_DEFAULT
from tickets.engine.sla import Policy, micros, timestamp_of
from tickets.engine.verify import Report, verify_history
from tickets.stores.base import BREACH_BATCH, TicketStore
from tickets.stores.json_file.file_format import parse_store
from tickets.stores.json_file.folder_lock import Clock, FolderLock, LockTimeout
from tickets.stores.json_file.history_log import (
    Log,
    LogBatch,
    LogMoved,
    generation_of,
    history_name,
    read_log,
    set_aside_name,
)
from tickets.stores.json_file.idempotency import KeptAnswers
from tickets.stores.json_file.snapshot import Batch, Snapshot
from tickets.stores.json_file.webhooks import JsonWebhooks

T = TypeVar("T")
WRITER_IDLE = 5.0  # seconds a writer thread waits for the next write before it ends (a new write starts it again)


class _Pending:
    """A write waiting for the writer thread, and the future its coroutine awaits.

    A queued write holds no thread: only the writer does. The waiter may live on another event loop than
    the one that queued the previous write (the CLI and tests run their own), hence call_soon_threadsafe.
    """

    __slots__ = ("_future", "_loop", "change", "deadline", "done", "error", "result")

    def __init__(self, change: Callable[[Batch], Any], deadline: float) -> None:
        self.change, self.deadline, self.done = change, deadline, False
        self.result: Any = None
        self.error: Exception | None = None
        self._loop = asyncio.get_running_loop()
        self._future: asyncio.Future[None] = self._loop.create_future()

    def finish(self) -> None:
        """Called by the writer once the change is on disk, or refused: the waiter wakes up."""
        with suppress(RuntimeError):  # the waiter's event loop is closed: nobody is left to tell
            self._loop.call_soon_threadsafe(_resolve, self._future)

    async def wait(self) -> None:
        await self._future

    def let_loop_catch_up(self) -> None:
        """Wait (in the writer) until the waiter's event loop has run once more: the writes whose requests
        it has already received are then queued too, and join this batch instead of the next one."""
        with suppress(RuntimeError, concurrent.futures.TimeoutError, concurrent.futures.CancelledError):
            asyncio.run_coroutine_threadsafe(asyncio.sleep(0), self._loop).result(timeout=1)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class JsonStore(TicketStore):
    """The tickets file: cached reads, locked and atomic group-committed writes.

    Reads never lock: os.replace makes every version of the file complete, and the cache is
    checked against the file's stat (every write gives the file a unique mtime in nanoseconds).
    Writes from all threads of a process go to one writer thread, which applies every pending mutation
    under the OS lock of the folder (folder_lock.py), writes the file once, then answers them all.
    A symbolic link is followed: its target is read, locked and replaced, so the link keeps working.
    """

    def __init__(self, path: Path | str, *, lock_timeout: float = LOCK_TIMEOUT_DEFAULT, clock: Clock = time) -> None:
        """lock_timeout: how long a write waits for another process's lock (TICKETS_LOCK_TIMEOUT); clock: what
        deadlines are told on (monotonic() and sleep(), the time module by default; tests pass their own)."""
        self.path = Path(os.path.realpath(path))
        self.lock_timeout = lock_timeout
        self.clock = clock
        self.name = shown(self.path)
        self.folder = self.path.parent
        self._lock = FolderLock(self.folder, clock)
        self._cache: Snapshot | None = None
        self._load_lock = threading.Lock()  # one thread at a time reads a new version (the history grows in place)
        self._keep_parsed = False  # a server: each new version's history is parsed as it is read (warm_up)
        self._failure: tuple[Any, StoreUnreadable] | None = None
        self._commit_lock = threading.Lock()  # held while a batch is written (and while temp files are cleaned)
        self._writes: queue.SimpleQueue[_Pending] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._writer_lock = threading.Lock()
        self.webhooks = JsonWebhooks(self.path, self.folder_locked)
        self._keys_in_flight: set[tuple[str, str]] = set()  # Idempotency-Keys whose write this process is doing
        self._keys_lock = threading.Lock()

    # ---- reading

    def cached_snapshot(self) -> Snapshot | None:
        """The cached version if the file has not changed since (a stat, no read), else None."""
        cache = self._cache
        return cache if cache is not None and cache.key == self._disk_key() else None

    def snapshot(self) -> Snapshot:
        """The current version of the file, from the cache when the file has not changed."""
        key = self._disk_key()
        cache = self._cache
        if cache is not None and cache.key == key:
            return cache
        with self._load_lock:
            cache = self._cache
            if cache is not None and cache.key == key:
                return cache  # another thread read it meanwhile
            if self._failure is not None and self._failure[0] == key:
                raise self._failure[1]
            try:
                snap = self._load(key)
            except StoreUnreadable as exc:
                if exc.path == str(self.path):  # the file itself: refused again until it changes (its stat)
                    self._failure = (key, exc)
                raise  # its log: read again at the next request, which sees it put back, or damaged otherwise
            self._cache = snap
            return snap

    def _disk_key(self) -> Any:
        try:
            return _stat_key(os.stat(self.path))
        except FileNotFoundError:
            if not os.path.isdir(self.folder):
                raise self._no_folder() from None
            return "missing"
        except OSError as exc:
            raise StoreUnreadable(self.path, exc.strerror or str(exc)) from None

    def _log_missing(self, name: str) -> StoreUnreadable:
        """Never taken for an empty history: the comments and events it held would be lost at the next write."""
        newer = sorted(n for n in os.listdir(self.folder) if (generation_of(self.path, n) or 0) > 0 and n != name)
        missing = (
            message("store_log_missing_newer", data_file=self.path.name, newer=newer[-1])
            if newer
            else message("store_log_missing", data_file=self.path.name)
        )
        return StoreUnreadable(self.folder / name, missing)

    def _no_folder(self) -> StoreUnreadable:
        """A path whose folder does not exist is an error, never an empty store."""
        return StoreUnreadable(self.path, message("store_no_folder", folder=shown(self.folder)))

    def _load(self, key: Any) -> Snapshot:
        if key == "missing":
            return Snapshot(1, {}, key=key)
        try:
            # O_NONBLOCK: a FIFO put in the file's place must not block the open; it is refused below.
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            return Snapshot(1, {}, key="missing")
        except OSError as exc:
            raise StoreUnreadable(self.path, exc.strerror or str(exc)) from None
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):  # /dev/zero would be read until memory runs out
            os.close(fd)
            raise StoreUnreadable(self.path, _not_a_file(st.st_mode))
        with open(fd, "rb") as file:
            try:
                raw = file.read()
            except OSError as exc:
                raise StoreUnreadable(self.path, exc.strerror or str(exc)) from None
        next_id, tickets, head = parse_store(raw, self.path)
        previous = self._cache.log if self._cache is not None else None
        log = read_log(self.path, head, previous)
        if log is None:  # the log it names is gone: replaced by a writer since we read the file, or deleted
            if self._disk_key() != _stat_key(st):
                return self._load(self._disk_key())  # a writer replaced both: read the new version
            raise self._log_missing(head["history_file"])
        if self._keep_parsed and not log.parsed:
            try:
                log.content()  # a server keeps its history parsed: then each version parses only its new lines
            except LogMoved:  # written again by another process since this version was read: read the new one
                return self._load(self._disk_key())
        kept = KeptAnswers.parsed(head.get("idempotency", ()))
        return Snapshot(next_id, tickets, key=_stat_key(st), log=log, policy=head.get("sla_policy"), kept=kept)

    # ---- the seam (stores.TicketStore): what the routes and the CLI call

    async def open(self) -> None:
        await asyncio.to_thread(self.remove_stale_temp_files)

    async def warm_up(self) -> None:
        """Parse the history now: a server reads it soon anyway, keeps it current as it writes, and says at
        start-up if a line of it is damaged."""
        self._keep_parsed = True
        await asyncio.to_thread(lambda: self._with_history(lambda snap: snap.log.content()))
        await asyncio.to_thread(lambda: self.snapshot().queues())  # every ticket's SLA plan, before the first queue

    async def current(self) -> Snapshot:
        """The current version: when the cache is fresh (one stat) no thread is needed; reading the
        file again after a change is done in a thread, off the event loop."""
        cached = self.cached_snapshot()
        return cached if cached is not None else await asyncio.to_thread(self.snapshot)

    def _with_history(self, read: Callable[[Snapshot], T]) -> T:
        """read(the current version), for what needs the history. A version whose log another process wrote
        again (under its next name) since it was read is outdated: the version after it is read instead."""
        for _ in range(2):
            try:
                return read(self._checked_snapshot())
            except LogMoved:
                pass
        return read(self._checked_snapshot())  # moved a third time meanwhile: the error is told

    def _checked_snapshot(self) -> Snapshot:
        """The current version, its log checked to be still the file it read, as long (one stat): a log
        replaced, cut or deleted under this process is read again, and checked again, never trusted."""
        snap = self.snapshot()
        if snap.log.still_on_disk():
            return snap
        with self._load_lock:
            if self._cache is snap:
                self._cache = None
        return self.snapshot()

    async def get(self, ticket_id: int) -> Ticket:
        return (await self.current()).get(ticket_id)

    async def policy(self) -> Policy:
        return (await self.current()).sla

    async def reading(self) -> Reading:
        return (await self.current()).reading(self.now())

    async def render(self, ticket: Ticket) -> tuple[bytes, str]:
        snap = await self.current()
        return snap.reading(self.now()).answer(ticket)

    async def get_json(self, ticket_id: int) -> tuple[bytes, str]:
        snap = await self.current()
        return snap.answer(ticket_id, snap.reading(self.now()))

    async def search(self, query: TicketQuery) -> tuple[list[Ticket], int]:
        snap = await self.current()
        return snap.search(query, snap.reading(self.now()))

    async def search_json(self, query: TicketQuery) -> tuple[bytes, int]:
        snap = await self.current()
        return snap.search_json(query, snap.reading(self.now()))

    async def stats(self, query: StatsQuery) -> Stats:
        return self._with_history(lambda snap: snap.stats(query, snap.reading(self.now())))

    async def count(self) -> int:
        return len((await self.current()).tickets)

    async def last_event_id(self) -> int:
        return (await self.current()).log.next_event_id - 1

    async def comments(self, ticket_id: int, page: Page, internal: bool = True) -> tuple[list[Comment], int]:
        return self._with_history(lambda snap: snap.comments(ticket_id, page, internal))

    async def events(self, ticket_id: int, page: Page, internal: bool = True) -> tuple[list[Event], int]:
        return self._with_history(lambda snap: snap.events(ticket_id, page, internal))

    async def feed(self, after: int, limit: int, internal: bool = True) -> list[Event]:
        return self._with_history(lambda snap: snap.feed(after, limit, internal))

    async def add(self, data: TicketCreate, actor: str | None = None) -> Ticket:
        return await self.commit_async(partial(Batch.add, data=data, actor=actor))

    async def update(
        self, ticket_id: int, changes: TicketUpdate, if_match: str | None = None, actor: str | None = None
    ) -> Ticket:
        return await self.commit_async(
            partial(Batch.update, ticket_id=ticket_id, changes=changes, if_match=if_match, actor=actor)
        )

    async def update_many(self, ids: list[int], changes: TicketUpdate, actor: str | None = None) -> list[Ticket]:
        return await self.commit_async(partial(Batch.update_many, ids=ids, changes=changes, actor=actor))

    async def delete(self, ticket_id: int, if_match: str | None = None, actor: str | None = None) -> None:
        await self.commit_async(partial(Batch.delete, ticket_id=ticket_id, if_match=if_match, actor=actor))

    async def edit_comment(
        self, ticket_id: int, comment_id: int, changes: CommentEdit, author: str | None, actor: str | None = None
    ) -> Comment:
        return await self.commit_async(
            partial(
                Batch.edit_comment, ticket_id=ticket_id, comment_id=comment_id, edit=changes, author=author, actor=actor
            )
        )

    async def delete_comment(
        self, ticket_id: int, comment_id: int, author: str | None, actor: str | None = None
    ) -> None:
        await self.commit_async(
            partial(Batch.delete_comment, ticket_id=ticket_id, comment_id=comment_id, author=author, actor=actor)
        )

    async def set_policy(self, policy: Policy) -> Policy:
        return await self.commit_async(partial(Batch.set_policy, policy=policy))

    async def add_comment(self, ticket_id: int, comment: NewComment, actor: str | None = None) -> tuple[Comment, str]:
        return await self.commit_async(partial(Batch.comment, ticket_id=ticket_id, new=comment, actor=actor))

    async def record_breaches(self, limit: int = BREACH_BATCH) -> int:
        snap = await self.current()
        if not await asyncio.to_thread(lambda: snap.alarms().due(micros(self.now()), 1)):
            return 0  # nothing due in the version this process knows: no lock taken, nothing written
        return int(await self.commit_async(partial(Batch.record_breaches, limit=limit), tell=False))

    async def next_breach_at(self) -> str | None:
        snap = await self.current()
        at = await asyncio.to_thread(lambda: snap.alarms().next_at())
        return None if at is None else timestamp_of(at)

    # Idempotency-Key: the check, the write and its answer kept are one change of a batch (Batch.keyed), so they
    # are in the same file, and two processes never both write for one key (the folder lock serializes them:
    # the second finds the first's answer). In this process, a key already being written is a KeyInFlight; an
    # answer already in the current version is given at once (a replay takes no lock and waits for no write).

    async def add_keyed(self, keyed: Keyed, data: TicketCreate, actor: str | None = None) -> Answer:
        return await self._keyed(keyed, partial(Batch.add_answered, data=data, actor=actor))

    async def add_comment_keyed(
        self, keyed: Keyed, ticket_id: int, comment: NewComment, actor: str | None = None
    ) -> Answer:
        return await self._keyed(keyed, partial(Batch.comment_answered, ticket_id=ticket_id, new=comment, actor=actor))

    async def _keyed(self, keyed: Keyed, write: Callable[[Batch], Answer]) -> Answer:
        ident = (keyed.scope, keyed.key)
        with self._keys_lock:
            if ident in self._keys_in_flight:
                raise KeyInFlight(keyed.key)
            self._keys_in_flight.add(ident)
        try:
            # A kept answer is never changed: found in the current version, it is given without the writer's turn.
            found = replay((await self.current()).kept.get(keyed.scope, keyed.key), keyed, self.now())
            if found is not None:
                return found
            answer: Answer = await self.commit_async(partial(Batch.keyed, keyed=keyed, write=write))
            return answer
        finally:
            with self._keys_lock:
                self._keys_in_flight.discard(ident)

    async def export_all(self) -> tuple[int, list[Ticket], History]:
        snap, records = await asyncio.to_thread(self._with_history, lambda snap: (snap, snap.log.records()))
        history = History(snap.log.next_comment_id, snap.log.next_event_id, records)
        return snap.next_id, list(snap.tickets.values()), history

    async def replace_all(
        self,
        next_id: int,
        tickets: list[Ticket],
        *,
        replace: bool,
        history: History | None = None,
        policy: Policy | None = None,
    ) -> None:
        await self.commit_async(
            partial(
                Batch.replace_all,
                next_id=next_id,
                tickets=tickets,
                replace=replace,
                name=self.name,
                history=history or History(),
                policy=policy,
            )
        )

    async def verify(self) -> Report:
        return await asyncio.to_thread(self._with_history, self._verify)

    def _verify(self, snap: Snapshot) -> Report:
        log = snap.log
        report = verify_history(
            self.name,
            snap.tickets.values(),
            log.iter_records(),
            next_id=snap.next_id,
            next_comment_id=log.next_comment_id,
            next_event_id=log.next_event_id,
            check_chain=not log.chained,  # the log's reader checks every link as it parses
            head_digest=log.digest if log.chained and log.name is not None else None,
        )
        if log.name is not None and not log.chained:
            report.notes.append(message("verify_note_legacy", name=log.name))
        try:
            with open(self.folder / set_aside_name(self.path), "rb") as file:
                count = sum(1 for _ in file)
            report.notes.append(message("verify_note_set_aside", count=count, name=set_aside_name(self.path)))
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise StoreUnreadable(self.folder / set_aside_name(self.path), exc.strerror or str(exc)) from None
        return report

    # ---- writing

    async def commit_async(self, change: Callable[[Batch], Any], *, tell: bool = True) -> Any:
        """Apply one mutation in the next group commit, and return its result once it is on disk.

        One writer thread per store (Datasette's write queue): it takes every write queued, applies them
        to one batch under the folder's lock, writes the file once, and answers them all. Writers waiting
        hold no thread, so reads keep theirs however many writes queue behind another process's lock.

        Shielded: a client that goes away does not cancel its change halfway; the writer finishes it.
        tell: the listeners of when_written are called once it is done (not for the sweep's own writes).
        """
        pending = _Pending(change, self.clock.monotonic() + self.lock_timeout)
        self._writes.put(pending)
        self._start_writer()
        await asyncio.shield(pending.wait())
        if pending.error is not None:
            raise pending.error
        if tell:
            self._written()
        return pending.result

    def _start_writer(self) -> None:
        with self._writer_lock:
            if self._writer is None:
                self._writer = threading.Thread(target=self._write_loop, name=f"writer of {self.name}", daemon=True)
                self._writer.start()

    def _write_loop(self) -> None:
        """The writer: each batch is every write queued when the previous one is done. It ends after
        WRITER_IDLE seconds without a write; a write queued meanwhile is taken first, or starts a new one."""
        while True:
            try:
                batch = [self._writes.get(timeout=WRITER_IDLE)]
            except queue.Empty:
                with self._writer_lock:
                    if self._writes.empty():
                        self._writer = None
                        return
                continue
            batch[0].let_loop_catch_up()
            with suppress(queue.Empty):
                while True:
                    batch.append(self._writes.get_nowait())
            with self._commit_lock:
                self._run(batch)
            for p in batch:
                p.finish()

    def _run(self, pending: list[_Pending]) -> None:
        """Lock, load, apply every pending change, write once, unlock; then mark them done.

        The lock is awaited until the earliest deadline of the batch, so no write waits much longer
        than TICKETS_LOCK_TIMEOUT from its arrival, even when it queued behind an earlier batch.
        """
        try:
            self._acquire(min(p.deadline for p in pending))
            try:
                batch = Batch(self._checked_snapshot(), self.now())
                for p in pending:
                    try:
                        p.result = p.change(batch)
                    except TicketError as exc:
                        p.error = exc
                if batch.changed or batch.replaced or batch.history.changed:
                    self._save(batch)
            finally:
                self._lock.release()
        except Exception as exc:  # whatever went wrong, no change of the batch is acknowledged
            error = StoreWriteFailed(self.path, exc) if isinstance(exc, OSError) else exc
            for p in pending:
                p.error = p.error or error
        finally:
            for p in pending:
                p.done = True

    @contextmanager
    def folder_locked(self) -> Iterator[None]:
        """The folder's lock, taken as the writer takes it, for a write beside the tickets file (the webhooks)."""
        with self._commit_lock:
            self._acquire(self.clock.monotonic() + self.lock_timeout)
            try:
                yield
            finally:
                self._lock.release()

    def _acquire(self, deadline: float) -> None:
        try:
            self._lock.acquire(deadline)
        except LockTimeout:
            raise StoreBusy(self.path, self.lock_timeout) from None
        except FileNotFoundError:
            raise self._no_folder() from None
        except OSError as exc:
            raise StoreUnreadable(self.folder, exc.strerror or str(exc)) from None

    def _save(self, batch: Batch) -> None:
        """Write the history's new lines (fsync), then the whole file atomically: unique temp file, fsync,
        os.replace, fsync of the folder. The file counts the history's lines: its replacement commits both.

        os.replace is the point of no return: nothing after it may turn the answer into a failure,
        since the change is then in place (a client told "failed" would retry and duplicate it).
        """
        before = batch.snap.log
        snap = batch.result(self._write_history(batch.history))
        tmp = self.folder / f".{self.path.name}.{secrets.token_hex(8)}.tmp"
        # Mode 0o666 through the umask, like any new file; an existing file's mode is kept below.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        try:
            try:
                with suppress(FileNotFoundError):
                    os.fchmod(fd, os.stat(self.path).st_mode & 0o7777)
                with open(fd, "wb", buffering=1 << 20, closefd=False) as file:
                    file.writelines(snap.file_chunks())
                # A unique mtime tells every process's cache that the file changed, even when the
                # new file reuses an old inode number and has the same size.
                os.utime(fd, ns=(time.time_ns(), time.time_ns()))
                os.fsync(fd)
                os.replace(tmp, self.path)
            except BaseException:
                with suppress(FileNotFoundError):
                    os.unlink(tmp)
                self._cache = None  # re-read whatever is on disk next time
                raise
            # Past os.replace, the change is in place: nothing below may turn the answer into a failure.
            try:
                snap.key = _stat_key(os.fstat(fd))  # after the rename, which moves ctime
                self._cache = snap
            except OSError:
                self._cache = None
        finally:
            os.close(fd)
        try:
            _fsync_dir(self.folder)
        except OSError as exc:  # the new file is in place and readable: say so, do not call it a failure
            print(
                f"warning: {shown(self.folder)}: fsync of the folder failed ({exc.strerror}); the change is "
                "applied but may not survive a power cut",
                file=sys.stderr,
            )
        if before.name is not None and before.name != snap.log.name:
            with suppress(OSError):  # the log written again replaces it; a leftover is removed at the next start
                os.unlink(self.folder / before.name)

    def _write_history(self, history: LogBatch) -> Log:
        """Put the batch's comments and events on disk (fsynced) and return the history they make.

        Usually appended to the log, after its committed end. What lies beyond (a crashed write, or records a
        tickets.json put back from a backup does not count) is first moved to the set-aside file, never lost.
        When comments were deleted, or for a copy or an old log without digests, the whole history is written
        under the next name instead, and the folder fsynced so that the name lasts.
        """
        log = history.log
        if not history.changed:
            return history.unchanged()
        if history.past:
            self._set_aside(history.past)
        if not history.rewrite and log.name is not None:
            path = self.folder / log.name
            fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC | os.O_NONBLOCK)
            try:
                st = os.fstat(fd)
                if (st.st_dev, st.st_ino) != log.identity or st.st_size < log.end:
                    raise LogMoved(path, message("store_log_changed"))
                lines, digest = history.appended()
                os.ftruncate(fd, log.end)
                try:
                    end = log.end + _write_all(fd, lines, log.end)
                    os.fsync(fd)
                except BaseException:
                    with suppress(OSError):  # not needed (readers stop at the committed end), but tidy
                        os.ftruncate(fd, log.end)
                    raise
            finally:
                os.close(fd)
            return history.result(
                name=log.name, end=end, digest=digest, identity=log.identity, path=path, generation=log.generation
            )
        lines, digest = history.whole()
        if not lines:
            return history.result(name=None, end=0, digest=digest, identity=None, path=None, generation=None)
        generation = self._next_generation(log.generation)
        path = self.folder / history_name(self.path, generation)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        try:
            try:
                if log.path is not None:
                    with suppress(OSError):  # the log written again keeps the old one's permissions
                        os.fchmod(fd, os.stat(log.path).st_mode & 0o7777)
                end = _write_all(fd, lines, 0)
                os.fsync(fd)
                st = os.fstat(fd)
            finally:
                os.close(fd)
            _fsync_dir(self.folder)
        except BaseException:
            with suppress(OSError):  # no tickets.json names it: nothing is lost, nothing is left behind
                os.unlink(path)
            raise
        return history.result(
            name=path.name, end=end, digest=digest, identity=(st.st_dev, st.st_ino), path=path, generation=generation
        )

    def _set_aside(self, lines: bytes) -> None:
        """Append what lay past the log's committed end to the set-aside file (fsynced), before it is cut."""
        if not lines.endswith(b"\n"):
            lines += b"\n"
        flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC
        fd = os.open(self.folder / set_aside_name(self.path), flags, 0o666)
        try:
            _write_all(fd, [lines], os.fstat(fd).st_size)  # only this writer, under the lock, appends to it
            os.fsync(fd)
        finally:
            os.close(fd)
        _fsync_dir(self.folder)

    def _next_generation(self, current: int | None) -> int:
        """A log name no file of this store uses: one more than the highest found (a log left by a newer
        version of this file, say before a backup was put back, is never overwritten)."""
        found = [generation_of(self.path, name) for name in os.listdir(self.folder)]
        return max([current or 0, *(g for g in found if g is not None)]) + 1

    def remove_stale_temp_files(self) -> int:
        """Delete temporary files left by a crashed writer; returns how many.

        Done under the lock of the folder, which every live writer holds while its temp file exists,
        and only when nobody holds it: a live writer's temp file is never touched.
        """
        prefix, removed = f".{self.path.name}.", 0
        if self.path.exists() and not self.path.is_file():
            return 0  # a folder, a device or a FIFO in the file's place: nothing to clean, nothing created
        try:
            with self._commit_lock:
                self._lock.acquire(self.clock.monotonic())
                try:
                    for name in os.listdir(self.folder):  # no glob: 'tickets[1].json' is a plain name
                        if name.startswith(prefix) and name.endswith(".tmp"):
                            with suppress(FileNotFoundError):
                                os.unlink(self.folder / name)
                                removed += 1
                    self._remove_older_logs()
                finally:
                    self._lock.release()
        except (LockTimeout, OSError):
            pass  # a live writer holds the lock: its temp file is not stale
        return removed

    def _remove_older_logs(self) -> None:
        """Logs of this file older than the one it names: a crash came between a rewrite and their removal.
        (A log of the old naming, tickets.history.N.jsonl, is left alone: it may be the log of a file named
        `tickets`.)"""
        with suppress(StoreError):
            log = self.snapshot().log
            if log.name is None or not log.chained:
                return
            for name in os.listdir(self.folder):
                generation = generation_of(self.path, name)
                if generation is not None and generation < (log.generation or 0):
                    with suppress(FileNotFoundError):
                        os.unlink(self.folder / name)


def _not_a_file(mode: int) -> Message:
    kind = "store_a_folder" if stat.S_ISDIR(mode) else "store_a_fifo" if stat.S_ISFIFO(mode) else "store_a_device"
    return message("store_not_a_file", kind=message(kind))


def _stat_key(st: os.stat_result) -> tuple[int, int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _write_all(fd: int, lines: list[bytes], offset: int) -> int:
    """Write the lines at offset; returns how many bytes."""
    data = b"".join(lines)
    written = 0
    while written < len(data):
        written += os.pwrite(fd, data[written:], offset + written)
    return written


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
