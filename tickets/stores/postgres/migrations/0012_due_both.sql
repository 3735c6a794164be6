-- 12: sort=due reads the tickets with both due times in order, as the others (sql.py, BRANCHES).
-- Frozen once shipped: never edit it; add the next numbered file.

-- A ticket that began to wait after missing a target has a fixed due time (the one missed) and what is left of the
-- other. Its key in sort=due, the nearer of the two, is its fixed due time (that is past). Migration 5 indexed
-- these tickets by id alone: every page read all of them, with the filters, and sorted them (51 tickets at a
-- million added 0.4 ms to every page of sort=due; thousands in a busy desk). By due_fixed, in both directions:
-- a page reads as many of them as it takes.
CREATE INDEX tickets_due_both_fixed ON tickets (due_fixed, id) INCLUDE (status, priority, plan_breached, assignee, tags)
    WHERE due_fixed IS NOT NULL AND due_left IS NOT NULL;
CREATE INDEX tickets_due_both_fixed_desc ON tickets (due_fixed DESC, id)
    INCLUDE (status, priority, plan_breached, assignee, tags) WHERE due_fixed IS NOT NULL AND due_left IS NOT NULL;
-- And by status: nearly all of them wait, so ?status=open reads each other status on its own (sql.py, _cells).
CREATE INDEX tickets_due_both_status ON tickets (status, due_fixed, id) INCLUDE (priority, plan_breached)
    WHERE due_fixed IS NOT NULL AND due_left IS NOT NULL;
CREATE INDEX tickets_due_both_status_desc ON tickets (status, due_fixed DESC, id) INCLUDE (priority, plan_breached)
    WHERE due_fixed IS NOT NULL AND due_left IS NOT NULL;
