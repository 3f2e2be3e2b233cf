-- The division tree (short codes; the code's length gives the level), county boundaries and grids.
-- Geometries are GeoJSON geometry objects stored as text: the server holds them in memory.
CREATE TABLE divisions (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    level       INTEGER NOT NULL CHECK (level BETWEEN 1 AND 5),
    parent_code TEXT REFERENCES divisions (code)
) WITHOUT ROWID;
CREATE INDEX divisions_by_parent ON divisions (parent_code, code);

CREATE TABLE boundaries (
    division_code TEXT PRIMARY KEY REFERENCES divisions (code),
    geometry      TEXT NOT NULL,
    source        TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE grids (
    code         TEXT PRIMARY KEY,
    village_code TEXT NOT NULL REFERENCES divisions (code),
    name         TEXT NOT NULL,
    geometry     TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX grids_by_village ON grids (village_code);
