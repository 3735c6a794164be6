"""The PostgreSQL tables, created and upgraded by the service itself: the numbered SQL files of migrations/, run in
order under an advisory lock, each once, recorded in tickets_schema. A file that has shipped is frozen: a change
of the schema is a new file, never an edit (the constants of the code, such as the statuses, are not read here).
"""

from __future__ import annotations

from pathlib import Path

MIGRATION_LOCK = 0x7469636B  # "tick": one server migrates at a time
FOLDER = Path(__file__).with_name("migrations")
# Each file upgrades the schema by one version: 0001_….sql is version 1.
MIGRATIONS = [path.read_text(encoding="utf-8") for path in sorted(FOLDER.glob("[0-9][0-9][0-9][0-9]_*.sql"))]
# Searching text anywhere in a title (`q`) can use trigram indexes when the pg_trgm extension can be
# created (PostgreSQL's contrib, in Debian's package); without it the search is a scan, still correct.
TRIGRAM_INDEXES = """
    CREATE INDEX IF NOT EXISTS tickets_search_title ON tickets USING gin (search_title gin_trgm_ops);
    CREATE INDEX IF NOT EXISTS tickets_search_description ON tickets USING gin (search_description gin_trgm_ops);
"""
