-- 5: the help desk (SPEC.md, "Help desk"): a waiting status, requesters, tags, the times of the first response and
-- of the resolution, the SLA clocks' bookkeeping, the SLA policy, comments that can be corrected.
-- Frozen once shipped: never edit it; add the next numbered file.
--
-- The tickets written before get the defaults of tickets.engine.models.complete, and their derived SLA columns are
-- those of no policy (none is set in a database from before): nothing pending, the minutes of their resolution.

-- One ALTER TABLE: the table is rewritten once (status_rank, a generated column, cannot be altered in place).
ALTER TABLE tickets
    DROP CONSTRAINT tickets_status_check,
    ADD CONSTRAINT tickets_status_check CHECK (status IN ('open', 'in_progress', 'waiting', 'closed')),
    DROP COLUMN status_rank,
    ADD COLUMN status_rank smallint GENERATED ALWAYS AS (
        CASE status WHEN 'open' THEN 0 WHEN 'in_progress' THEN 1 WHEN 'waiting' THEN 2 WHEN 'closed' THEN 3 END
    ) STORED,
    ADD COLUMN requester jsonb,                                 -- {"name", "email"} or null
    ADD COLUMN tags text[] NOT NULL DEFAULT '{}',               -- normalized and sorted by the service
    ADD COLUMN first_response_at text COLLATE "C",
    ADD COLUMN resolved_at text COLLATE "C",
    ADD COLUMN paused jsonb NOT NULL DEFAULT '[]',              -- [[from, to or null], ...]: the clocks stood still
    ADD COLUMN sla_breached boolean NOT NULL DEFAULT false,     -- a target was missed once: sticky
    -- what the service computes (stores/postgres/derived.py), for ?requester= as values.same_person compares:
    ADD COLUMN requester_keys text[] NOT NULL DEFAULT '{}',     -- the requester's name and email, NFC, casefolded
    -- the SLA plan under the current policy (tickets.engine.sla.plan_of), recomputed at every write of the
    -- ticket and for every ticket when the policy changes:
    ADD COLUMN due_fixed bigint,                                -- next pending fixed due time, business microseconds
    ADD COLUMN due_left bigint,                                 -- what is left of a target while it waits
    ADD COLUMN plan_breached boolean NOT NULL DEFAULT false,    -- sla_breached, or a target met late
    ADD COLUMN first_response_minutes double precision,         -- business minutes to the first response
    ADD COLUMN resolution_minutes double precision;             -- business minutes to the resolution

-- A ticket closed before resolved_at existed: its last change closed it, as far as anyone can tell now, and its
-- clocks stopped then (tickets.engine.models.complete). Under no policy every hour counts: its resolution took
-- the minutes from its creation to that change.
UPDATE tickets SET resolved_at = updated_at, paused = jsonb_build_array(jsonb_build_array(updated_at, null)),
    resolution_minutes = (extract(epoch FROM updated_at::timestamptz - created_at::timestamptz) * 1000000)::bigint
        ::double precision / 60000000
WHERE status = 'closed';

CREATE INDEX tickets_by_tag ON tickets USING gin (tags);
CREATE INDEX tickets_by_requester ON tickets USING gin (requester_keys);
-- sort=due reads three disjoint sets, each in its own index order, and merges them (sql.py, DUE_PAGE); the
-- tickets with nothing pending come last, in id order.
-- (What the SLA filters read is in them too: the tickets of a bound's bucket are counted from the index alone.)
CREATE INDEX tickets_due_fixed ON tickets (due_fixed, id) INCLUDE (status, priority, plan_breached)
    WHERE due_fixed IS NOT NULL AND due_left IS NULL;
CREATE INDEX tickets_due_left ON tickets (due_left, id) INCLUDE (status, priority, plan_breached)
    WHERE due_left IS NOT NULL AND due_fixed IS NULL;
-- sort=-due: by due time descending, ties by ascending id (many tickets share a due time: same priority, same
-- minute, or waiting since their creation)
CREATE INDEX tickets_due_fixed_desc ON tickets (due_fixed DESC, id) WHERE due_fixed IS NOT NULL AND due_left IS NULL;
CREATE INDEX tickets_due_left_desc ON tickets (due_left DESC, id) WHERE due_left IS NOT NULL AND due_fixed IS NULL;
CREATE INDEX tickets_due_left_breached ON tickets (due_left, id)  -- few: the waiting tickets breached before
    WHERE due_left IS NOT NULL AND due_fixed IS NULL AND plan_breached;
CREATE INDEX tickets_due_both ON tickets (id) WHERE due_fixed IS NOT NULL AND due_left IS NOT NULL;
CREATE INDEX tickets_due_none ON tickets (id) WHERE due_fixed IS NULL AND due_left IS NULL;
-- ?sla=breached: the tickets already breached for good, the others by their pending due time (above).
CREATE INDEX tickets_plan_breached ON tickets (id) WHERE plan_breached;

ALTER TABLE events DROP CONSTRAINT events_type_check, ADD CONSTRAINT events_type_check
    CHECK (type IN ('created', 'updated', 'commented', 'deleted', 'comment_edited', 'comment_deleted'));

-- A comment keeps its record as first written (body, internal: its digest covers them); a correction is an event,
-- and these hold the current values (read with coalesce).
ALTER TABLE comments
    ADD COLUMN edited_body text,
    ADD COLUMN edited_internal boolean,
    ADD COLUMN edited_at text COLLATE "C";

-- The SLA policy: one row, or none (no policy). generation moves at each change: a write that computed its
-- ticket's plan under another generation is made again (store.py, set_policy).
CREATE TABLE sla_policy (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    policy jsonb NOT NULL,
    generation bigint NOT NULL
);
-- The current generation, for a new ticket: taken after the shared side of the lock a change of policy holds while
-- it computes the rows written behind its batches (1953063790: POLICY_LOCK of policy.py), and seen with a snapshot
-- of its own (volatile), so that a change of policy committed meanwhile is seen.
CREATE FUNCTION tickets_policy_generation() RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(1953063790);
    RETURN coalesce((SELECT generation FROM sla_policy), 0);
END
$$;

-- How many tickets have each (status, priority, plan_breached, bucket of due_fixed, bucket of due_left), kept by the
-- database as ticket_counts is (migration 2: a row of differences per statement, folded from time to time): the
-- counts of ?sla= and due_before (X-Total-Count) add the rows whose bucket settles the question, and count only the
-- tickets of the bucket that holds the moment of reading (store.py, sql.py: sla_count). A bucket is 2^32 business
-- microseconds (about 72 minutes): x >> 32 is floor(x / 2^32), negative values included.
CREATE TABLE sla_counts (
    status text NOT NULL,
    priority text NOT NULL,
    plan_breached boolean NOT NULL,
    fixed_bucket bigint,
    left_bucket bigint,
    n bigint NOT NULL
);
CREATE FUNCTION tickets_sla_counted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM sla_counts;
    ELSIF TG_OP = 'INSERT' THEN
        INSERT INTO sla_counts SELECT status, priority, plan_breached, due_fixed >> 32, due_left >> 32, count(*)
        FROM new_rows GROUP BY 1, 2, 3, 4, 5;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO sla_counts SELECT status, priority, plan_breached, due_fixed >> 32, due_left >> 32, -count(*)
        FROM old_rows GROUP BY 1, 2, 3, 4, 5;
    ELSE
        INSERT INTO sla_counts
        SELECT status, priority, plan_breached, fixed_bucket, left_bucket, sum(n) FROM (
            SELECT status, priority, plan_breached, due_fixed >> 32 AS fixed_bucket, due_left >> 32 AS left_bucket,
                1 AS n FROM new_rows
            UNION ALL SELECT status, priority, plan_breached, due_fixed >> 32, due_left >> 32, -1 FROM old_rows
        ) AS moves GROUP BY 1, 2, 3, 4, 5 HAVING sum(n) <> 0;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER tickets_sla_counted_insert AFTER INSERT ON tickets REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tickets_sla_counted();
CREATE TRIGGER tickets_sla_counted_update AFTER UPDATE ON tickets REFERENCING OLD TABLE AS old_rows
    NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tickets_sla_counted();
CREATE TRIGGER tickets_sla_counted_delete AFTER DELETE ON tickets REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tickets_sla_counted();
CREATE TRIGGER tickets_sla_counted_truncate AFTER TRUNCATE ON tickets
    FOR EACH STATEMENT EXECUTE FUNCTION tickets_sla_counted();
INSERT INTO sla_counts SELECT status, priority, plan_breached, due_fixed >> 32, due_left >> 32, count(*)
FROM tickets GROUP BY 1, 2, 3, 4, 5;
