-- The open cases, newest first, with what a list of a large area's open cases tests: a page of a
-- city's or county's open cases (of some categories too) is found by walking these until it is
-- full, instead of gathering every open case of the area from the status index, reading each
-- one's row for its category, and sorting them to keep fifty. Closed cases, almost all of them,
-- are not in it. The list of statuses is the lifecycle's open ones, written as the queries that
-- use the index write them. (Overdue cases are a range of `open_cases_by_due`.)
CREATE INDEX open_cases_by_time ON cases (reported_at, status, division_code, category)
    WHERE status IN ('reported', 'accepted', 'dispatched', 'in_progress');
