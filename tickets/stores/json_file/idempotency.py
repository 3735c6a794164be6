"""The answers kept for Idempotency-Keys in tickets.json: written after the tickets, one line each, in the same
atomic replacement of the file as the write each one answers (so either both are there or neither is).

Absent while there are none: a file written before them, or with none kept now, reads and writes as before.
"""

from __future__ import annotations

from collections.abc import Iterable

import pydantic_core

from tickets.engine.idempotency import KeptRecord, is_fresh

Ident = tuple[str, str]  # (scope, key)


class KeptAnswers:
    """The answers kept in one version of the file, oldest first, each with its line as the file writes it (made
    once, then shared by the versions that keep it). Never changed in place: a batch makes the next one."""

    __slots__ = ("_lines", "records")

    def __init__(self, records: dict[Ident, KeptRecord] | None = None, lines: dict[Ident, bytes] | None = None) -> None:
        self.records: dict[Ident, KeptRecord] = records if records is not None else {}
        self._lines: dict[Ident, bytes] = lines if lines is not None else {}

    @classmethod
    def parsed(cls, records: Iterable[KeptRecord]) -> KeptAnswers:
        """From the file's list (a key written twice: the later one counts, as it would have replaced the other)."""
        kept: dict[Ident, KeptRecord] = {}
        for record in records:
            ident = (record["scope"], record["key"])
            kept.pop(ident, None)
            kept[ident] = record
        return cls(kept)

    def get(self, scope: str, key: str) -> KeptRecord | None:
        return self.records.get((scope, key))

    def keeping(self, record: KeptRecord) -> KeptAnswers:
        """The next version, with record as the newest (in place of an older answer for its key, forgotten)."""
        ident = (record["scope"], record["key"])
        records, lines = dict(self.records), dict(self._lines)
        records.pop(ident, None)
        lines.pop(ident, None)
        records[ident] = record
        return KeptAnswers(records, lines)

    def pruned(self, now: str) -> KeptAnswers:
        """Without the answers 24 hours old at `now`, taken from the oldest on (one the clock put out of order
        stays until those before it go; it is never given again meanwhile: see replay)."""
        stale: list[Ident] = []
        for ident, record in self.records.items():
            if is_fresh(record["at"], now):
                break
            stale.append(ident)
        if not stale:
            return self
        records, lines = dict(self.records), dict(self._lines)
        for ident in stale:
            del records[ident]
            lines.pop(ident, None)
        return KeptAnswers(records, lines)

    def chunk(self) -> bytes:
        """The file's "idempotency" member (with its leading comma), one line per answer; empty when none is kept."""
        if not self.records:
            return b""
        for ident, record in self.records.items():
            if ident not in self._lines:
                self._lines[ident] = b"    " + pydantic_core.to_json(record)
        return b',\n  "idempotency": [\n' + b",\n".join(self._lines[ident] for ident in self.records) + b"\n  ]"
