-- The duplicate search tests each recent case's point in the index itself, so it reads the case
-- row (for its status) only near the report: a burst of reports in one village would otherwise
-- read the row of every recent case of the category there.
DROP INDEX cases_by_category_and_grid;
CREATE INDEX cases_by_category_and_grid ON cases (category, grid_code, reported_at, lon, lat);
