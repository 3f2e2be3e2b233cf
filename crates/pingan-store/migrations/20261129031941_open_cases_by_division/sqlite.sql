-- Work queues list the open cases of a division's subtree (by category, overdue, newest first):
-- open cases are few, so reaching them by status, then place, reads little however many are stored.
CREATE INDEX cases_by_status_and_division ON cases (status, division_code, reported_at);
