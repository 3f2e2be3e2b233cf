-- The division tree (short codes; the code's length gives the level), county boundaries and grids.
-- Codes use the C collation: byte order, as in SQLite, and prefix searches can use the index.
CREATE TABLE divisions (
    code        TEXT COLLATE "C" PRIMARY KEY,
    name        TEXT NOT NULL,
    level       SMALLINT NOT NULL CHECK (level BETWEEN 1 AND 5),
    parent_code TEXT COLLATE "C" REFERENCES divisions (code)
);
CREATE INDEX divisions_by_parent ON divisions (parent_code, code);

CREATE TABLE boundaries (
    division_code TEXT COLLATE "C" PRIMARY KEY REFERENCES divisions (code),
    geometry      TEXT NOT NULL,
    source        TEXT NOT NULL
);

CREATE TABLE grids (
    code         TEXT COLLATE "C" PRIMARY KEY,
    village_code TEXT COLLATE "C" NOT NULL REFERENCES divisions (code),
    name         TEXT NOT NULL,
    geometry     TEXT NOT NULL
);
CREATE INDEX grids_by_village ON grids (village_code);
