-- The open cases by their resolution deadline: a large area's overdue cases are a short range of
-- it, where walking the open cases newest first (`open_cases_by_time`) passed every recent case
-- before reaching the old overdue ones. Written with the same open statuses as that index.
CREATE INDEX open_cases_by_due ON cases (resolve_due, status, division_code, category, reported_at)
    WHERE status IN ('reported', 'accepted', 'dispatched', 'in_progress');
