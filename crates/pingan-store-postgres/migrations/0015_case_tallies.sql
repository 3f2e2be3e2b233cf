-- Indicators as running tallies: what the cases reported in one month (China Standard Time), now
-- the responsibility of one division and dispatched to one unit ('' for none), add up to (see
-- pingan-store's indicators module); the cases already stored are counted in when the table is made.
CREATE TABLE case_tallies (
    month               BIGINT  NOT NULL,
    division_code       TEXT NOT NULL,
    handler             TEXT NOT NULL,
    reported            BIGINT  NOT NULL,
    accepted            BIGINT  NOT NULL,
    open                BIGINT  NOT NULL,
    closed              BIGINT  NOT NULL,
    closed_on_time      BIGINT  NOT NULL,
    called_back         BIGINT  NOT NULL,
    satisfied           BIGINT  NOT NULL,
    basically_satisfied BIGINT  NOT NULL,
    unsatisfied         BIGINT  NOT NULL,
    returned            BIGINT  NOT NULL,
    reopened            BIGINT  NOT NULL,
    claimed             BIGINT  NOT NULL,
    claim_ms            BIGINT  NOT NULL,
    close_ms            BIGINT  NOT NULL,
    PRIMARY KEY (division_code, month, handler)
);

-- Each write appends its change here instead of adding to the shared tally row, so concurrent
-- submissions in one village never wait for each other's commit; the server folds the changes
-- into case_tallies every minute, and reads add up both tables.
CREATE TABLE case_tally_changes (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    month               BIGINT  NOT NULL,
    division_code       TEXT NOT NULL,
    handler             TEXT NOT NULL,
    reported            BIGINT  NOT NULL,
    accepted            BIGINT  NOT NULL,
    open                BIGINT  NOT NULL,
    closed              BIGINT  NOT NULL,
    closed_on_time      BIGINT  NOT NULL,
    called_back         BIGINT  NOT NULL,
    satisfied           BIGINT  NOT NULL,
    basically_satisfied BIGINT  NOT NULL,
    unsatisfied         BIGINT  NOT NULL,
    returned            BIGINT  NOT NULL,
    reopened            BIGINT  NOT NULL,
    claimed             BIGINT  NOT NULL,
    claim_ms            BIGINT  NOT NULL,
    close_ms            BIGINT  NOT NULL
);
CREATE INDEX case_tally_changes_by_division ON case_tally_changes (division_code, month);
