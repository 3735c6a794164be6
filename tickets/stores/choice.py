"""How a store is chosen: a postgresql:// URL for PostgreSQL, else the JSON file; from the settings, or from the
places a command names (--file, --db, a copy's SOURCE and TARGET)."""

from __future__ import annotations

from pathlib import Path

from tickets.engine.errors import SettingInvalid
from tickets.engine.messages import message
from tickets.engine.settings import Settings
from tickets.stores.base import TicketStore

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def check_database_url(url: str) -> None:
    if not url.startswith(POSTGRES_SCHEMES):
        raise SettingInvalid(message("setting_database_url"))


def open_store(
    settings: Settings, *, file: Path | str | None = None, database_url: str | None = None, environment: bool = True
) -> TicketStore:
    """The store that the command line or the environment names: a URL for PostgreSQL, else the JSON file.

    --db wins over TICKETS_FILE; a file and a URL together (--file with --db or TICKETS_DATABASE_URL, or both
    variables) are an error: which one was meant cannot be guessed. With environment=False (the places of a
    copy), only the given file or URL counts. The store takes the settings' lock timeout.
    """
    if file is not None and database_url is not None:
        raise SettingInvalid(message("setting_file_or_url"))
    if database_url is not None:
        check_database_url(database_url)
        return _postgres_store(database_url, settings)
    url = settings.database_url if environment else None
    if url is not None:
        check_database_url(url)
    if file is not None:
        if url is not None:
            raise SettingInvalid(message("setting_file_with_url"))
        return _json_store(file, settings)
    if url is not None:
        if settings.file is not None:
            raise SettingInvalid(message("setting_file_and_url"))
        return _postgres_store(url, settings)
    return _json_store(settings.data_file, settings)


def _json_store(path: Path | str, settings: Settings) -> TicketStore:
    from tickets.stores.json_file import JsonStore

    return _clocked(JsonStore(path, lock_timeout=settings.lock_timeout), settings)


def _clocked(store: TicketStore, settings: Settings) -> TicketStore:
    """TICKETS_NOW: the store's clock stands at that time."""
    if settings.now is not None:
        fixed = settings.now
        store.now = lambda: fixed
    return store


def _postgres_store(url: str, settings: Settings) -> TicketStore:
    try:
        from tickets.stores.postgres import PostgresStore
    except ImportError as exc:  # psycopg is an optional dependency
        raise SettingInvalid(message("setting_needs_psycopg", problem=exc)) from None
    return _clocked(PostgresStore(url, lock_timeout=settings.lock_timeout), settings)
