-- 2: counts by status and priority kept by the database itself, so that /tickets/stats and X-Total-Count
-- never count a million rows. Each statement that changes tickets adds one row of differences per
-- (status, priority) it touched (statement triggers with transition tables: one INSERT even for a COPY
-- of a million rows); writers never update a shared row, so they never wait on each other. A count sums
-- the rows; from time to time they are folded into one per pair (COMPACT_AFTER in store.py).
-- Frozen: this file ran on databases in use. Never edit it; add the next numbered file.
LOCK TABLE tickets IN SHARE ROW EXCLUSIVE MODE;  -- no write between the first count and the triggers
CREATE TABLE ticket_counts (status text NOT NULL, priority text NOT NULL, n bigint NOT NULL);
CREATE FUNCTION tickets_counted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM ticket_counts;
    ELSIF TG_OP = 'INSERT' THEN
        INSERT INTO ticket_counts SELECT status, priority, count(*) FROM new_rows GROUP BY status, priority;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO ticket_counts SELECT status, priority, -count(*) FROM old_rows GROUP BY status, priority;
    ELSE
        INSERT INTO ticket_counts
        SELECT status, priority, sum(n) FROM (
            SELECT status, priority, 1 AS n FROM new_rows
            UNION ALL SELECT status, priority, -1 FROM old_rows
        ) AS moves GROUP BY status, priority HAVING sum(n) <> 0;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER tickets_counted_insert AFTER INSERT ON tickets REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tickets_counted();
CREATE TRIGGER tickets_counted_update AFTER UPDATE ON tickets REFERENCING OLD TABLE AS old_rows
    NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tickets_counted();
CREATE TRIGGER tickets_counted_delete AFTER DELETE ON tickets REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tickets_counted();
CREATE TRIGGER tickets_counted_truncate AFTER TRUNCATE ON tickets
    FOR EACH STATEMENT EXECUTE FUNCTION tickets_counted();
INSERT INTO ticket_counts SELECT status, priority, count(*) FROM tickets GROUP BY status, priority;
