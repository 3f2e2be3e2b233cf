-- The duplicate search looks through the open cases the writer holds in memory (see the
-- open_cases module), no longer through this index: its entries, on random pages, made it the
-- dearest of the cases table's indexes.
DROP INDEX open_cases_by_category_and_grid;
