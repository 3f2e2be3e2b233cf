-- What cases are found by when searched for text: the grams of `search_grams` (in pingan-store),
-- one row per case. Contentless and without positions (a search only asks which cases hold every
-- gram), keeping only the case's id besides the index. Cases written before this migration are
-- entered by the server when it applies it (`fill_case_text`).
CREATE VIRTUAL TABLE case_text USING fts5 (case_id UNINDEXED, grams, content = '', contentless_unindexed = 1, detail = none);
