-- Indicators as running tallies: what the cases reported in one month (China Standard Time) add
-- up to, for each scope they count in: `subtree:CODE` (responsible division in the subtree),
-- `own:CODE` (the division's own centre responsible), `unit:UNIT` (dispatched to the unit); see
-- pingan-store's indicators module. The cases already stored are counted in when the table is made.
CREATE TABLE case_tallies (
    scope               TEXT COLLATE "C" NOT NULL,
    month               BIGINT  NOT NULL,
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
    PRIMARY KEY (scope, month)
);

-- Each write appends its changes here instead of adding to the shared tally rows (the city's, the
-- province's), so concurrent submissions never wait for each other's commit; the server folds
-- the changes into case_tallies every minute, and reads add up both tables.
CREATE TABLE case_tally_changes (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    LIKE case_tallies
);
CREATE INDEX case_tally_changes_by_scope ON case_tally_changes (scope, month);
