-- 10: sort=due with one status or SLA state (?status=waiting&sort=due, ?sla=on_track&sort=due) as fast as without.
-- Frozen once shipped: never edit it; add the next numbered file.

-- The sets of sort=due (migrations 5 and 6: due_fixed alone, due_left alone), each by status then due time: a page
-- of some statuses reads each of them in order (sql.py, _keyed) instead of walking the whole set to keep a few
-- (the waiting tickets among those with a fixed due time: 130 ms at a million tickets, instead of 2). Both
-- directions: ties are by ascending id in both (many waiting tickets share what is left of their clock).
CREATE INDEX tickets_due_fixed_status ON tickets (status, due_fixed, id) INCLUDE (priority, plan_breached)
    WHERE due_fixed IS NOT NULL AND due_left IS NULL;
CREATE INDEX tickets_due_fixed_status_desc ON tickets (status, due_fixed DESC, id) INCLUDE (priority, plan_breached)
    WHERE due_fixed IS NOT NULL AND due_left IS NULL;
CREATE INDEX tickets_due_left_status ON tickets (status, due_left, id) INCLUDE (priority, plan_breached)
    WHERE due_left IS NOT NULL AND due_fixed IS NULL;
CREATE INDEX tickets_due_left_status_desc ON tickets (status, due_left DESC, id) INCLUDE (priority, plan_breached)
    WHERE due_left IS NOT NULL AND due_fixed IS NULL;
