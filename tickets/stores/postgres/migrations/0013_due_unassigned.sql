-- 13: the unassigned queue (?assignee=none&sort=due), the one a help desk sorts its new tickets from, as fast as
-- sort=due. Frozen once shipped: never edit it; add the next numbered file.

-- The unassigned tickets of the two ordered sets of sort=due (migration 5), by due time, in both directions: a page
-- reads them as it reads a set without filters (sql.py, _unassigned_aside), their rows at once, and the waiting
-- ones only up to the n-th key of the others, instead of walking every ticket to keep the unassigned ones and
-- reading the page's rows by id after (1.12 to 1.14 times today's view at a million tickets, 1.00 to 1.04 with
-- these). A desk that assigns at once has few such tickets, and these indexes stay small.
CREATE INDEX tickets_due_fixed_unassigned ON tickets (due_fixed, id)
    WHERE due_fixed IS NOT NULL AND due_left IS NULL AND assignee IS NULL;
CREATE INDEX tickets_due_fixed_unassigned_desc ON tickets (due_fixed DESC, id)
    WHERE due_fixed IS NOT NULL AND due_left IS NULL AND assignee IS NULL;
CREATE INDEX tickets_due_left_unassigned ON tickets (due_left, id)
    WHERE due_left IS NOT NULL AND due_fixed IS NULL AND assignee IS NULL;
CREATE INDEX tickets_due_left_unassigned_desc ON tickets (due_left DESC, id)
    WHERE due_left IS NOT NULL AND due_fixed IS NULL AND assignee IS NULL;
