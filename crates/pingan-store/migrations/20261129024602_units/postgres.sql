-- Departments and service providers (centres need no row: every division has one), the staff of
-- each grid, and dispatch rules (category × division → unit).
CREATE TABLE units (
    id              TEXT COLLATE "C" PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('department', 'provider')),
    division_code   TEXT COLLATE "C" NOT NULL REFERENCES divisions (code),
    name            TEXT NOT NULL,
    department_kind TEXT,
    categories      TEXT NOT NULL
);
CREATE INDEX units_by_division ON units (division_code, id);

CREATE TABLE grid_staff (
    grid_code TEXT COLLATE "C" NOT NULL REFERENCES grids (code),
    position  INTEGER NOT NULL,
    name      TEXT NOT NULL,
    role      TEXT NOT NULL CHECK (role IN ('leader', 'member')),
    PRIMARY KEY (grid_code, position)
);

CREATE TABLE dispatch_rules (
    category      TEXT NOT NULL,
    division_code TEXT COLLATE "C" NOT NULL REFERENCES divisions (code),
    unit          TEXT NOT NULL,
    PRIMARY KEY (category, division_code)
);
