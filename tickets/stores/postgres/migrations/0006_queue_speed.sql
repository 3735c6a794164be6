-- 6: the queues of the help desk at a million tickets (issue 15): a page of sort=due, ?sla=, due_before, tags and
-- assignees as fast as the daily view (?status=open&sort=-priority), its X-Total-Count included.
-- Frozen once shipped: never edit it; add the next numbered file.

LOCK TABLE tickets IN SHARE ROW EXCLUSIVE MODE;  -- no write between the first count and the triggers

-- How many tickets have each (status, priority, assignee, tag), kept by the database as ticket_counts is (migration
-- 2: a row of differences per statement, folded from time to time): a ticket counts once under each of its tags,
-- and once with no tag (tag null) for itself; assignee null is nobody. The X-Total-Count of a queue of one tag or
-- one assignee (?assignee=none&tag=vpn), with statuses and priorities, adds the rows of that tag and assignee
-- (store.py, sql.py: tag_count) instead of counting a third of the tickets one by one.
CREATE TABLE tag_counts (
    status text NOT NULL,
    priority text NOT NULL,
    assignee text,
    tag text,
    n bigint NOT NULL
);
CREATE INDEX tag_counts_by_tag ON tag_counts (tag, assignee);
CREATE FUNCTION tickets_tag_counted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM tag_counts;
    ELSIF TG_OP = 'INSERT' THEN
        INSERT INTO tag_counts SELECT status, priority, assignee, tag, count(*)
        FROM new_rows CROSS JOIN unnest(array_append(tags, NULL)) AS tag GROUP BY 1, 2, 3, 4;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO tag_counts SELECT status, priority, assignee, tag, -count(*)
        FROM old_rows CROSS JOIN unnest(array_append(tags, NULL)) AS tag GROUP BY 1, 2, 3, 4;
    ELSE
        INSERT INTO tag_counts
        SELECT status, priority, assignee, tag, sum(n) FROM (
            SELECT status, priority, assignee, tag, 1 AS n
            FROM new_rows CROSS JOIN unnest(array_append(tags, NULL)) AS tag
            UNION ALL SELECT status, priority, assignee, tag, -1
            FROM old_rows CROSS JOIN unnest(array_append(tags, NULL)) AS tag
        ) AS moves GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER tickets_tag_counted_insert AFTER INSERT ON tickets REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tickets_tag_counted();
CREATE TRIGGER tickets_tag_counted_update AFTER UPDATE ON tickets REFERENCING OLD TABLE AS old_rows
    NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tickets_tag_counted();
CREATE TRIGGER tickets_tag_counted_delete AFTER DELETE ON tickets REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tickets_tag_counted();
CREATE TRIGGER tickets_tag_counted_truncate AFTER TRUNCATE ON tickets
    FOR EACH STATEMENT EXECUTE FUNCTION tickets_tag_counted();
INSERT INTO tag_counts SELECT status, priority, assignee, tag, count(*)
FROM tickets CROSS JOIN unnest(array_append(tags, NULL)) AS tag GROUP BY 1, 2, 3, 4;

-- ?status=waiting (and ?sla=paused, ?sla=met: one status each) in id order: the tickets of that status, in order,
-- instead of every ticket read to keep a tenth.
CREATE INDEX tickets_by_status ON tickets (status, id);

-- sort=due and sort=-due with an assignee or tags (?assignee=none&tag=vpn&sort=due): each due index carries them,
-- so that a page walks it in order and keeps the entries that match without reading their rows (the same indexes
-- as migration 5's, with assignee and tags; the descending ones gain what the ascending ones carried).
DROP INDEX tickets_due_fixed, tickets_due_left, tickets_due_fixed_desc, tickets_due_left_desc;
CREATE INDEX tickets_due_fixed ON tickets (due_fixed, id) INCLUDE (status, priority, plan_breached, assignee, tags)
    WHERE due_fixed IS NOT NULL AND due_left IS NULL;
CREATE INDEX tickets_due_left ON tickets (due_left, id) INCLUDE (status, priority, plan_breached, assignee, tags)
    WHERE due_left IS NOT NULL AND due_fixed IS NULL;
CREATE INDEX tickets_due_fixed_desc ON tickets (due_fixed DESC, id)
    INCLUDE (status, priority, plan_breached, assignee, tags) WHERE due_fixed IS NOT NULL AND due_left IS NULL;
CREATE INDEX tickets_due_left_desc ON tickets (due_left DESC, id)
    INCLUDE (status, priority, plan_breached, assignee, tags) WHERE due_left IS NOT NULL AND due_fixed IS NULL;
