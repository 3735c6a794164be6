-- 7: Idempotency-Key (SPEC.md, "Webhooks and idempotency"): the answers kept for the keys of the two creations.
-- Frozen once shipped: never edit it; add the next numbered file.
--
-- A row is written in the same transaction as the ticket or comment it answers (tickets/stores/postgres/
-- idempotency.py), under a transaction-level advisory lock on its key: a retry while that transaction runs is a
-- 409, one after it finds the row. Rows older than 24 hours (by the service's clock, the `at` of its writes) are
-- never given again, and are deleted a few at a time by the next keyed writes.

CREATE TABLE idempotency_keys (
    scope text COLLATE "C" NOT NULL,            -- whose key: the name of the API key ('' without named keys)
    key text COLLATE "C" NOT NULL,              -- the Idempotency-Key, 1 to 255 printable ASCII characters
    route text NOT NULL,                        -- the request it was first used for: 'POST /tickets', ...
    fingerprint text NOT NULL,                  -- and its SHA-256 (tickets.engine.idempotency.fingerprint)
    at text COLLATE "C" NOT NULL,               -- when, as the service writes times ('2026-11-28T09:30:00Z')
    status smallint NOT NULL,
    headers jsonb NOT NULL,                     -- {"Location": ..., "ETag": ...}
    body json NOT NULL,                         -- the answer's body, as sent (json keeps its text, key order too)
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (at);
