-- The open cases' indexes limited by a chain of equalities instead of `status IN (…)`: SQLite tests
-- a list of more than two values against a temporary table it builds afresh each time a statement
-- runs, so every insert of a case built two and every update four, to decide whether the row
-- belongs in these indexes. The queries that use them write the same chain (pingan-store's
-- `open_status_test()`), as SQLite uses a partial index only for a query holding its condition.
DROP INDEX open_cases_by_time;
CREATE INDEX open_cases_by_time ON cases (reported_at, status, division_code, category)
    WHERE (status = 'reported' OR status = 'accepted' OR status = 'dispatched' OR status = 'in_progress');
DROP INDEX open_cases_by_due;
CREATE INDEX open_cases_by_due ON cases (resolve_due, status, division_code, category, reported_at)
    WHERE (status = 'reported' OR status = 'accepted' OR status = 'dispatched' OR status = 'in_progress');
