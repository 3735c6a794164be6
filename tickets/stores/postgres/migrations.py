"""The PostgreSQL tables, created and upgraded by the service itself: the numbered SQL files of migrations/, run in
order under an advisory lock, each once, recorded in tickets_schema. A file that has shipped is frozen: a change
of the schema is a new file, never an edit (the constants of the code, such as the statuses, are not read here).
"""

from __future__ import annotations

from pathlib import Path

MIGRATION_LOCK = 0x7469636B  # "tick": one server migrates at a time
FOLDER = Path(__file__).with_name("migrations")
# Each file upgrades the schema by one version, its number: 0001_….sql is version 1. A number may be missing (set
# aside for a change still under way): a database records each version it ran, and runs those it lacks, in order.
_FILES = sorted(FOLDER.glob("[0-9][0-9][0-9][0-9]_*.sql"))
MIGRATIONS = [path.read_text(encoding="utf-8") for path in _FILES]
VERSIONS = [int(path.name[:4]) for path in _FILES]
# Before versions were the files' numbers, they were their places: the webhooks (0009, the sixth file then) were
# recorded as version 6 by the databases it made; such a database has the webhooks table and 6, without 9.
RENUMBERED = """UPDATE tickets_schema SET version = 9 WHERE version = 6 AND to_regclass('webhooks') IS NOT NULL
    AND to_regclass('tag_counts') IS NULL AND NOT EXISTS (SELECT 1 FROM tickets_schema WHERE version = 9)"""
# Searching text anywhere in a title (`q`) can use trigram indexes when the pg_trgm extension can be
# created (PostgreSQL's contrib, in Debian's package); without it the search is a scan, still correct.
TRIGRAM_INDEXES = """
    CREATE INDEX IF NOT EXISTS tickets_search_title ON tickets USING gin (search_title gin_trgm_ops);
    CREATE INDEX IF NOT EXISTS tickets_search_description ON tickets USING gin (search_description gin_trgm_ops);
"""
