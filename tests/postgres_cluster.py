"""A throw-away PostgreSQL server for the tests: its own folder, a Unix socket, no TCP port.

Started once per test session from Debian's binaries (/usr/lib/postgresql/*/bin); as root, initdb and
pg_ctl refuse to run, so they run as the `postgres` user (runuser), on a folder that user owns.
Each test gets a fresh database, copied from a template that holds the test data.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import psycopg

PASSWORD_USER, PASSWORD = "secretive", "s3cr3t-Pa55word"


def binaries() -> Path | None:
    """The bin folder of the newest PostgreSQL installed, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parent.parent.name))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class Cluster:
    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.folder = Path(tempfile.mkdtemp(prefix="tickets-pg-"))
        self.data = self.folder / "data"
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            user = pwd.getpwnam("postgres")
            os.chown(self.folder, user.pw_uid, user.pw_gid)
        self.counter = 0
        self.settings = ""

    def _run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_postgres else []
        return subprocess.run([*prefix, *command], capture_output=True, text=True, check=check, timeout=120)

    def init(self, settings: str = "") -> None:
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        )
        hba = self.data / "pg_hba.conf"
        # One user must give a password (to test a wrong one); the others are trusted on the socket.
        self._run(
            "sh",
            "-c",
            f"printf 'local all {PASSWORD_USER} scram-sha-256\\n' | cat - {hba} > {hba}.new && mv {hba}.new {hba}",
        )
        self.settings = settings
        self.start()
        with self.connect("postgres") as conn:
            conn.execute(f"CREATE ROLE {PASSWORD_USER} LOGIN SUPERUSER PASSWORD '{PASSWORD}'")

    def start(self) -> None:
        # fsync and synchronous_commit stay on (the defaults): the crash tests rely on them.
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.folder / "log"),
            "-w",
            "-t",
            "60",
            "-o",
            f"-k {self.folder} -c listen_addresses='' -c max_connections=200 {self.settings}",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def remove(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str, user: str = "postgres", password: str | None = None) -> str:
        credentials = user + (":" + quote(password, safe="") if password is not None else "")
        return f"postgresql://{credentials}@/{database}?host={quote(str(self.folder), safe='')}"

    def connect(self, database: str) -> psycopg.Connection:
        return psycopg.connect(self.url(database), autocommit=True)

    def new_database(self, template: str | None = None) -> str:
        """A fresh, empty database (or a copy of template); returns its name."""
        self.counter += 1
        name = f"t{os.getpid()}_{self.counter}"
        with self.connect("postgres") as conn:
            deadline = time.monotonic() + 120  # a template is busy for a moment after its last connection closed
            while True:
                try:
                    # WAL_LOG (PostgreSQL 15's default), said here because FILE_COPY was once thought faster: measured
                    # on the test template, FILE_COPY is ~3 times slower to create and to drop, ~5 times under
                    # load (its checkpoint at each copy); LEARNING.md, 2026-11-28.
                    conn.execute(
                        f"CREATE DATABASE {name}" + (f" TEMPLATE {template} STRATEGY WAL_LOG" if template else "")
                    )
                    break
                except psycopg.errors.ObjectInUse:
                    if time.monotonic() > deadline:
                        raise RuntimeError(
                            f"could not copy the template {template}: still in use after 120 s"
                        ) from None
                    time.sleep(0.05)
        return name

    def drop(self, name: str) -> None:
        with self.connect("postgres") as conn:
            conn.execute(f"DROP DATABASE {name} WITH (FORCE)")
