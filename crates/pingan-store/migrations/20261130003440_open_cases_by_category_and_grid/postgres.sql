-- The duplicate search's index: the open cases of a category in a grid by report time, with their
-- points, numbers and statuses, so that a search reads no case row (SQLite reads the row for a
-- column the index lacks, even the status its condition implies). The row was read for each
-- nearby recent case only to see whether it was still open: a random page each, which made the
-- search grow with the village's recent cases (0.1 ms a search in a busy village of a million
-- cases). It replaces cases_by_category_and_grid, which nothing else read. The same open statuses
-- as the other partial indexes.
DROP INDEX cases_by_category_and_grid;
CREATE INDEX open_cases_by_category_and_grid ON cases (category, grid_code, reported_at, lon, lat, number, status)
    WHERE status IN ('reported', 'accepted', 'dispatched', 'in_progress');
