"""The JSON-file store (the default): tickets.json, its history log beside it, and the folder lock that
serializes its writers across processes."""

from tickets.stores.json_file.store import JsonStore

__all__ = ["JsonStore"]
