"""The PostgreSQL store, for several servers on several hosts or millions of tickets: the store, its SQL, and
its migrations as numbered SQL files."""

from tickets.stores.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
