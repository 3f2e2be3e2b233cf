-- Every version of the category book, whole, as written; the highest is the one in force.
CREATE TABLE category_versions (
    version    INTEGER PRIMARY KEY,
    created_at INTEGER NOT NULL,
    source     TEXT NOT NULL,
    categories TEXT NOT NULL
);
