-- 8: SLA breach events (SPEC.md, "Webhooks and idempotency"; tickets/engine/breaches.py): an `sla_breached` event
-- once per ticket and target when its due time passes unmet.
-- Frozen once shipped: never edit it; add the next numbered file.
--
-- breach_events: the targets whose event is written, changed in the same transaction as the event (the sweep locks
-- the row first, so two servers never write one twice). breach_at: when the next one falls due, in business
-- microseconds as due_fixed (the nearest fixed due time of a target still to come without its event), computed by
-- the service at every write (derived.py); the sweep reads the tickets past it from its index, never the table.
-- The tickets written before have no event yet: their alarm is their next fixed due time, due_fixed.

ALTER TABLE tickets
    ADD COLUMN breach_events text[] NOT NULL DEFAULT '{}',
    ADD COLUMN breach_at bigint;
UPDATE tickets SET breach_at = due_fixed WHERE due_fixed IS NOT NULL;
CREATE INDEX tickets_breach_at ON tickets (breach_at, id) WHERE breach_at IS NOT NULL;

ALTER TABLE events DROP CONSTRAINT events_type_check, ADD CONSTRAINT events_type_check
    CHECK (type IN ('created', 'updated', 'commented', 'deleted', 'comment_edited', 'comment_deleted', 'sla_breached'));
