"""The OS lock that serializes the writers of a data file, across threads and processes.

The lock is an ``flock`` on the data file's *folder*, not on a lock file beside it. A lock file can be
deleted or replaced while a writer holds it (``rm *.lock``, ``git clean -X``): the next process then
locks a new inode and two writers run at once. A folder cannot be deleted while it holds the data
file, and ``os.replace`` of the data file does not change the folder's inode, so every process that
writes this file always contends for the same lock. The cost: data files of one folder share it.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path
from typing import Protocol


class LockTimeout(Exception):
    """Another process held the lock past the deadline."""


class Clock(Protocol):
    """What a deadline is told on: the time module itself, or a test's clock that it moves by hand."""

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float, /) -> None: ...


class FolderLock:
    """An exclusive lock on one folder, opened once per process and taken with a deadline."""

    def __init__(self, folder: Path, clock: Clock = time) -> None:
        self.folder = folder
        self.clock = clock
        self._fd: int | None = None
        self._open_lock = threading.Lock()

    def _descriptor(self) -> int:
        with self._open_lock:  # opened once, whichever thread comes first
            if self._fd is None:
                self._fd = os.open(self.folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            return self._fd

    def acquire(self, deadline: float) -> None:
        """Wait for the lock until the clock's monotonic() reaches deadline, then raise LockTimeout."""
        fd, pause = self._descriptor(), 0.001
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                left = deadline - self.clock.monotonic()
                if left <= 0:
                    raise LockTimeout from None
                self.clock.sleep(min(pause, left))
                pause = min(pause * 2, 0.02)

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
