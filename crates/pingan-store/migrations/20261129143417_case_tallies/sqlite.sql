-- Indicators as running tallies: what the cases reported in one month (China Standard Time) add
-- up to, for each scope they count in: `subtree:CODE` (responsible division in the subtree),
-- `own:CODE` (the division's own centre responsible), `unit:UNIT` (dispatched to the unit). Every
-- write to a case moves its contribution here in the same transaction (see pingan-store's
-- indicators module); the cases already stored are counted in when the table is made.
CREATE TABLE case_tallies (
    scope               TEXT NOT NULL,
    month               INTEGER NOT NULL,
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
    PRIMARY KEY (scope, month)
) WITHOUT ROWID;
