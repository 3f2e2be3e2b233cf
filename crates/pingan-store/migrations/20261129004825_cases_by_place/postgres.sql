-- Duplicate search: open cases of one category in one village (grid codes start with the village
-- code), recently reported. Grid codes compare byte by byte, like every other code.
ALTER TABLE cases ALTER COLUMN grid_code TYPE TEXT COLLATE "C";
CREATE INDEX cases_by_category_and_grid ON cases (category, grid_code, reported_at);
