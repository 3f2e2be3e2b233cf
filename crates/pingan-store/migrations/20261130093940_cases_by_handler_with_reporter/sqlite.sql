-- A unit's queue listed by someone who may also see their own reports is a union whose last part
-- keeps the unit's cases that the caller reported: with the reporter in the unit's index, that part
-- too is found from the index alone, where it read the row of each of the unit's open cases (10 ms
-- for a department's 1,770 at a million cases, against 0.1 ms for the other parts).
DROP INDEX cases_by_handler;
CREATE INDEX cases_by_handler ON cases (handler, status, reported_at, id, division_code, reporter_account);
