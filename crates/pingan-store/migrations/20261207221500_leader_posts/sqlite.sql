-- Units gain a kind: an official's post that matters go to (`leader:TOWNSHIP:in_charge`, the
-- township's 分管领导; `leader:VILLAGE:liaison`, the village's 包村领导). SQLite cannot change a
-- CHECK, so the table is made again with the same rows.
CREATE TABLE units_with_leaders (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('department', 'provider', 'leader')),
    division_code   TEXT NOT NULL REFERENCES divisions (code),
    name            TEXT NOT NULL,
    department_kind TEXT,
    categories      TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO units_with_leaders (id, kind, division_code, name, department_kind, categories)
    SELECT id, kind, division_code, name, department_kind, categories FROM units;
DROP TABLE units;
ALTER TABLE units_with_leaders RENAME TO units;
CREATE INDEX units_by_division ON units (division_code, id);
