-- When the deadline sweep must next look at a case (its warning or overdue instant), indexed so a
-- sweep reads only the cases due, however many cases are stored. Existing open cases are watched
-- from their resolution deadline.
ALTER TABLE cases ADD COLUMN alert_at INTEGER;
UPDATE cases SET alert_at = resolve_due
 WHERE status IN ('dispatched', 'in_progress') AND resolve_due IS NOT NULL;
CREATE INDEX cases_by_alert ON cases (alert_at) WHERE alert_at IS NOT NULL;
