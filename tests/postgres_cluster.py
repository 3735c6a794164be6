"""A throw-away PostgreSQL server for the tests: its own folder, a Unix socket, no TCP port.

Started once per test session from Debian's binaries (/usr/lib/postgresql/*/bin); as root, initdb and
pg_ctl refuse to run, so they run as the `postgres` user (runuser), on a folder that user owns.
Each test gets a database as a fresh copy of a template (the test data, or nothing) would be. A copy costs
0.1 to 0.5 s on a 2-core machine, and 600 tests take one: a database a test is done with is reset instead (its rows
put back as the template's, in a few milliseconds) and given to the next test under a new name, when its schema
is still the template's (fingerprinted); otherwise it is dropped (LEARNING.md, 2026-11-29).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg

PASSWORD_USER, PASSWORD = "secretive", "s3cr3t-Pa55word"

# What a test could change in a database besides its rows, fingerprinted: schemas, tables, sequences, views and
# indexes with their columns, constraints, triggers, functions, types, rules, policies, extensions, large objects,
# rights, and the database's own settings. Two databases of one fingerprint differ only by what their tables hold
# and where their sequences stand.
SHAPE = """
WITH ours AS (SELECT oid FROM pg_namespace WHERE nspname !~ '^pg_' AND nspname <> 'information_schema')
SELECT md5(string_agg(item, E'\\n' ORDER BY item)) FROM (
    SELECT format('schema %s %s %s', nspname, nspowner::regrole, nspacl) FROM pg_namespace WHERE oid IN (TABLE ours)
    UNION ALL
    SELECT format('relation %s %s %s %s %s %s', oid::regclass, relkind, relowner::regrole, relacl, reloptions,
                  relpersistence)
    FROM pg_class WHERE relnamespace IN (TABLE ours)
    UNION ALL
    SELECT format('column %s %s %s %s %s %s %s', a.attrelid::regclass, a.attnum, a.attname,
                  format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attgenerated, pg_get_expr(d.adbin, d.adrelid))
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE c.relnamespace IN (TABLE ours) AND a.attnum > 0 AND NOT a.attisdropped
    UNION ALL
    SELECT format('index %s', pg_get_indexdef(indexrelid)) FROM pg_index
    WHERE indrelid IN (SELECT oid FROM pg_class WHERE relnamespace IN (TABLE ours))
    UNION ALL
    SELECT format('constraint %s %s %s', conrelid::regclass, conname, pg_get_constraintdef(oid)) FROM pg_constraint
    WHERE connamespace IN (TABLE ours)
    UNION ALL
    SELECT format('trigger %s %s', tgrelid::regclass, pg_get_triggerdef(oid)) FROM pg_trigger WHERE NOT tgisinternal
    UNION ALL
    SELECT format('routine %s %s %s %s', oid::regprocedure, prokind, md5(prosrc), proacl) FROM pg_proc
    WHERE pronamespace IN (TABLE ours)
    UNION ALL
    SELECT format('view %s %s', oid::regclass, pg_get_viewdef(oid)) FROM pg_class
    WHERE relnamespace IN (TABLE ours) AND relkind IN ('v', 'm')
    UNION ALL
    SELECT format('type %s %s', oid::regtype, typtype) FROM pg_type WHERE typnamespace IN (TABLE ours)
    UNION ALL
    SELECT format('rule %s %s', ev_class::regclass, rulename) FROM pg_rewrite
    WHERE ev_class IN (SELECT oid FROM pg_class WHERE relnamespace IN (TABLE ours))
    UNION ALL
    SELECT format('policy %s %s', polrelid::regclass, polname) FROM pg_policy
    UNION ALL
    SELECT format('extension %s %s', extname, extversion) FROM pg_extension
    UNION ALL
    SELECT format('event trigger %s', evtname) FROM pg_event_trigger
    UNION ALL
    SELECT format('large objects %s', count(*)) FROM pg_largeobject_metadata
    UNION ALL
    SELECT format('database %s %s %s %s', datdba::regrole, datconnlimit, datallowconn, datacl) FROM pg_database
    WHERE datname = current_database()
    UNION ALL
    SELECT format('settings %s %s', setrole, setconfig) FROM pg_db_role_setting
    WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
) AS shape(item)
"""
TABLES = """
SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' ORDER BY 1
"""
SCHEMAS = "SELECT quote_ident(nspname) FROM pg_namespace WHERE nspname !~ '^pg_' AND nspname <> 'information_schema'"
SEQUENCES = "SELECT format('%I.%I', schemaname, sequencename) FROM pg_sequences ORDER BY 1"


@dataclass
class Kept:
    """A template as a reset puts it back: its fingerprint, the rows of its tables (binary COPY, the tables that
    have rows) and where its sequences stand (name, last value, whether it was handed out)."""

    shape: str
    rows: dict[str, bytes]
    sequences: list[tuple[str, int, bool]]

    @classmethod
    def of(cls, conn: psycopg.Connection) -> Kept:
        rows = {}
        for (table,) in conn.execute(TABLES).fetchall():
            if conn.execute(f"SELECT EXISTS (SELECT FROM {table})").fetchone()[0]:  # type: ignore[index]
                with conn.cursor().copy(f"COPY {table} TO STDOUT (FORMAT binary)") as copy:
                    rows[table] = b"".join(bytes(block) for block in copy)
        sequences = [
            (name, *conn.execute(f"SELECT last_value, is_called FROM {name}").fetchone())  # type: ignore[misc]
            for (name,) in conn.execute(SEQUENCES).fetchall()
        ]
        return cls(conn.execute(SHAPE).fetchone()[0], rows, sequences)  # type: ignore[index]


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
        self.spares: defaultdict[str | None, list[str]] = defaultdict(list)  # reset, by template (None: empty)
        self.kept: dict[str | None, Kept] = {}

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
        # fsync and synchronous_commit stay on (the defaults): the crash tests rely on them. Autovacuum is off: its
        # ANALYZE takes a transaction id, which moves every snapshot of the server, and a test of what a snapshot
        # sees (the counts of ?sla= kept between two writes) must see only its own writes; it ran more often once
        # the databases were reused (LEARNING.md, 2026-11-29). _reset vacuums a database given back.
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
            f"-k {self.folder} -c listen_addresses='' -c max_connections=200 -c autovacuum=off {self.settings}",
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

    def _new_name(self) -> str:
        self.counter += 1
        return f"t{os.getpid()}_{self.counter}"

    def database(self, template: str | None = None) -> str:
        """A database as new as new_database(template) makes: one given back and reset if there is one."""
        spares = self.spares[template]
        return spares.pop() if spares else self.new_database(template)

    def give_back(self, name: str, template: str | None = None) -> str | None:
        """The test is done with this database (from database(template)): it is reset to the template, under a new
        name (a process the test left behind with its URL finds no database, as after a drop), for the next
        test; or dropped when its schema is no longer the template's (a test made or removed a table, say).
        Returns the new name, or None when it was dropped (or the test dropped it)."""
        if template not in self.kept:
            source = template or self.new_database()
            with self.connect(source) as conn:
                self.kept[template] = Kept.of(conn)
            if template is None:
                self.spares[None].append(source)
        renamed = self._new_name()
        with self.connect("postgres") as conn:
            deadline = time.monotonic() + 60
            while True:
                conn.execute(  # the connections the test left: cut (each waited for, up to 5 s), as a drop would
                    "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname = %s", (name,)
                )
                try:
                    conn.execute(f"ALTER DATABASE {name} RENAME TO {renamed}")
                    break
                except psycopg.errors.InvalidCatalogName:
                    return None  # the test dropped it
                except psycopg.errors.ObjectInUse:  # a connection cut a moment ago is not gone yet
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"the test's database {name} is still in use after 60 s") from None
                    time.sleep(0.01)
        if self._reset(renamed, self.kept[template], emptied=template is None):
            self.spares[template].append(renamed)
            return renamed
        self.drop(renamed)
        return None

    def _reset(self, name: str, kept: Kept, emptied: bool) -> bool:
        """Put back the template's rows and sequences, in one transaction, if the schema is the template's (or, for
        an empty database, once its schemas are dropped and public made again as a new database has it); then
        VACUUM (30 ms) what the reset and the test left dead, autovacuum being off (start)."""
        with self.connect(name) as conn:
            with conn.transaction():
                if conn.execute(SHAPE).fetchone()[0] != kept.shape and emptied:  # type: ignore[index]
                    for (schema,) in conn.execute(SCHEMAS).fetchall():
                        conn.execute(f"DROP SCHEMA {schema} CASCADE")
                    conn.execute("CREATE SCHEMA public AUTHORIZATION pg_database_owner")
                    conn.execute("GRANT USAGE ON SCHEMA public TO PUBLIC")
                if conn.execute(SHAPE).fetchone()[0] != kept.shape:  # type: ignore[index]
                    return False
                tables = [table for (table,) in conn.execute(TABLES).fetchall()]
                conn.execute("SET LOCAL session_replication_role = replica")  # as kept: no trigger counts them
                for table in tables:  # DELETE: TRUNCATE makes new files, 0.15 s for the dozen tables against 2 ms
                    conn.execute(f"DELETE FROM {table}")
                for table, rows in kept.rows.items():
                    with conn.cursor().copy(f"COPY {table} FROM STDIN (FORMAT binary)") as copy:
                        copy.write(rows)
                for sequence, last, called in kept.sequences:
                    conn.execute("SELECT setval(%s, %s, %s)", (sequence, last, called))
            conn.execute("VACUUM")
        return True

    def new_database(self, template: str | None = None) -> str:
        """A fresh, empty database (or a copy of template); returns its name."""
        name = self._new_name()
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
