"""The stores: the seam (base.TicketStore), how one is chosen (choice.open_store), and one sub-package per
store: json_file (the default, one JSON file) and postgres. They import only the engine."""

from tickets.stores.base import TicketStore
from tickets.stores.choice import POSTGRES_SCHEMES, open_store

__all__ = ["POSTGRES_SCHEMES", "TicketStore", "open_store"]
