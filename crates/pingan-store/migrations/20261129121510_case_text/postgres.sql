-- What cases are found by when searched for text: the grams of `search_grams` (in pingan-store).
-- Cases written before this migration are filled in by the server (see `fill_search_grams`).
ALTER TABLE cases ADD COLUMN search_grams TEXT[];
CREATE INDEX cases_by_search_gram ON cases USING GIN (search_grams);
