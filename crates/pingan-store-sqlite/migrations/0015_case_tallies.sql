-- Indicators as running tallies: what the cases reported in one month (China Standard Time), now
-- the responsibility of one division and dispatched to one unit ('' for none), add up to. Every
-- write to a case moves its contribution here in the same transaction (see pingan-store's
-- indicators module); the cases already stored are counted in when the table is made.
CREATE TABLE case_tallies (
    month               INTEGER NOT NULL,
    division_code       TEXT NOT NULL,
    handler             TEXT NOT NULL,
    reported            INTEGER NOT NULL,
    accepted            INTEGER NOT NULL,
    open                INTEGER NOT NULL,
    closed              INTEGER NOT NULL,
    closed_on_time      INTEGER NOT NULL,
    called_back         INTEGER NOT NULL,
    satisfied           INTEGER NOT NULL,
    basically_satisfied INTEGER NOT NULL,
    unsatisfied         INTEGER NOT NULL,
    returned            INTEGER NOT NULL,
    reopened            INTEGER NOT NULL,
    claimed             INTEGER NOT NULL,
    claim_ms            INTEGER NOT NULL,
    close_ms            INTEGER NOT NULL,
    PRIMARY KEY (division_code, month, handler)
) WITHOUT ROWID;
