-- The weights of each centre's monthly ranking bulletin (排名通报), as its administrator set them.
CREATE TABLE ranking_weights (
    division_code TEXT PRIMARY KEY REFERENCES divisions (code),
    weights       TEXT NOT NULL,
    set_by        TEXT NOT NULL,
    set_at        INTEGER NOT NULL
) WITHOUT ROWID;
