"""The statements of a listing (its page, the end of a page in due order, its count), kept by their query.

sql.py builds them from the filters, the policy and the moment of reading; at a million tickets, building the
page and the count of ?sla=on_track,paused&sort=due took 0.16 ms, as long as PostgreSQL took to read the page's
ids. What a statement says depends on its query, on the policy (which priorities have a target) and on the
buckets its bounds fall in (sla_count); the moment itself only gives values, which sql.py marks (Bound). A
statement is built once for each query, policy and buckets, and given the values of each reading in the places
of the marks (a clock that moves stays in a bucket some 70 business minutes)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from tickets.engine.models import TicketFilters, TicketQuery
from tickets.engine.rules import Reading
from tickets.engine.sla import Policy
from tickets.stores.postgres.sql import (
    BUCKET,
    COLUMNS,
    ORDER_COLUMNS,
    PAGE,
    Bound,
    SlaCount,
    bounds_of,
    due_page,
    due_tail,
    planned_once,
    sla_count,
    where_clause,
)

KEPT = 256  # statements kept, the oldest dropped first: a team's queues, pages and counts
T = TypeVar("T")


class Statements:
    """The statements of the listings read lately, under one policy (another empties them)."""

    def __init__(self) -> None:
        self._kept: dict[tuple[Any, ...], Any] = {}
        self._policy: Policy | None = None

    def page(self, query: TicketQuery, reading: Reading, dense: bool) -> tuple[str, list[Any]]:
        """The statement of the query's page and its parameters (in due order: the tickets that have a due time;
        dense: as sql.conditions says)."""
        descending, name = query.sort.startswith("-"), query.sort.lstrip("-")

        def build() -> tuple[str, list[Any]]:
            if name == "due":
                return due_page(query, reading, descending, query.limit, query.offset, dense)
            order = ORDER_COLUMNS[name] + (" DESC" if descending else "") + (", id" if name != "id" else "")
            # ?sla= and due_before in id order: the moment's bounds, the limit and the offset unknown to the
            # planner, one plan for every reading (a walk of the index of the order, or of a status, that keeps
            # what matches), which PostgreSQL keeps once prepared; with the values, it planned the page again each
            # time (0.3 ms of ?sla=paused)
            timed = bool(query.sla) or query.due_before is not None
            kept = name == "id" and timed and planned_once(query) and not dense
            where, params = where_clause(query, reading, dense, kept)
            limit = PAGE if kept else "%s OFFSET %s"
            return (
                f"SELECT {COLUMNS} FROM tickets{where} ORDER BY {order} LIMIT {limit}",
                [*params, query.limit, query.offset],
            )

        statement, params = self._built(("page", dense), query, reading, build)
        return statement, _given(params, query, reading)

    def tail(self, query: TicketQuery, reading: Reading, found: int, dense: bool) -> tuple[str, list[Any]]:
        """The statement of the tickets without a due time that end a page in due order, once found tickets
        with one did not fill it (sql.due_tail), and its parameters."""
        n = None if query.limit is None else query.offset + query.limit
        room = None if query.limit is None else query.limit - found
        statement, params = self._built(
            ("tail", dense, room), query, reading, lambda: due_tail(query, reading, n, room, query.offset, dense)
        )
        return statement, _given(params, query, reading)

    def count(self, filters: TicketFilters, reading: Reading) -> tuple[str, list[Any]]:
        """The statement counting the tickets that match, one by one, and its parameters."""

        def build() -> tuple[str, list[Any]]:
            where, params = where_clause(filters, reading)
            return f"SELECT count(*) FROM tickets{where}", params

        statement, params = self._built(("count",), filters, reading, build)
        return statement, _given(params, filters, reading)

    def sla_count(self, filters: TicketFilters, reading: Reading) -> SlaCount:
        """sql.sla_count's statement for the filters at this reading (its buckets are in the key)."""
        built: SlaCount = self._built(("sla_count",), filters, reading, lambda: sla_count(filters, reading))
        return built._replace(
            params=_given(built.params, filters, reading),
            key=tuple(_given(built.key, filters, reading)),
            bounds=_given(built.bounds, filters, reading),
            pairs=None if built.pairs is None else tuple(_given(built.pairs, filters, reading)),
        )

    def _built(self, kind: tuple[Any, ...], filters: TicketFilters, reading: Reading, build: Callable[[], T]) -> T:
        if reading.policy is not self._policy:
            if reading.policy != self._policy:
                self._kept.clear()
            self._policy = reading.policy
        key = (*kind, *_shape(filters), *(bound >> BUCKET for bound in bounds_of(filters, reading).values()))
        found = self._kept.get(key)
        if found is None:
            if len(self._kept) >= KEPT:
                del self._kept[next(iter(self._kept))]  # the oldest
            found = self._kept[key] = build()
        return found


def _shape(filters: TicketFilters) -> tuple[Any, ...]:
    """Everything a statement's text and its parameters other than the moment's take from the query."""
    shape = (
        tuple(filters.status),
        tuple(filters.priority),
        filters.assignee,
        filters.q,
        filters.requester,
        tuple(filters.tag),
        tuple(filters.sla),
        filters.due_before,
    )
    if isinstance(filters, TicketQuery):
        return (*shape, filters.sort, filters.limit, filters.offset)
    return shape


def _given(params: Sequence[Any], filters: TicketFilters, reading: Reading) -> list[Any]:
    """The parameters of a statement kept, with the values of this reading in the places of the marks."""
    values: dict[str, int] | None = None
    given = []
    for param in params:
        if type(param) is Bound:
            if values is None:
                values = bounds_of(filters, reading)
            param = reading.now_b if param.name == "now_b" else values[param.name]
        given.append(param)
    return given
