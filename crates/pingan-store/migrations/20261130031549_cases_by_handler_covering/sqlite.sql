-- A unit's list is tested for the caller's area and paged by report time and id: with the id and
-- the division in the unit's index (in that order after the time, so that the index still hands
-- each status's cases over newest first), the page is found from the index alone instead of from
-- each case's row (a department's 1,700 open cases among a million: 0.04 ms against 0.14 ms).
-- The same index as PostgreSQL's since its migration 17.
DROP INDEX cases_by_handler;
CREATE INDEX cases_by_handler ON cases (handler, status, reported_at, id, division_code);
