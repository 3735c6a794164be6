-- 11: sort=due and sort=-due of ?sla=breached as fast as the other queues.
-- Frozen once shipped: never edit it; add the next numbered file.

-- The tickets breached for good (plan_breached) of the two ordered sets of sort=due (migration 5), by due time:
-- sql.py (_pieces) reads them apart from those whose fixed due time is past, instead of walking every ticket due
-- after now to keep the few breached ones (20 ms for a page of ?sla=breached&sort=-due at a million tickets).
-- Migration 5 has the waiting set's ascending one.
CREATE INDEX tickets_due_fixed_breached ON tickets (due_fixed, id) INCLUDE (status, priority)
    WHERE due_fixed IS NOT NULL AND due_left IS NULL AND plan_breached;
CREATE INDEX tickets_due_fixed_breached_desc ON tickets (due_fixed DESC, id) INCLUDE (status, priority)
    WHERE due_fixed IS NOT NULL AND due_left IS NULL AND plan_breached;
CREATE INDEX tickets_due_left_breached_desc ON tickets (due_left DESC, id)
    WHERE due_left IS NOT NULL AND due_fixed IS NULL AND plan_breached;
