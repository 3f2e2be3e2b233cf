-- Failed logins no longer lock an account (which refused its owner): past a number of failures,
-- the addresses that failed on it wait between tries, until this instant.
ALTER TABLE accounts RENAME COLUMN locked_until TO slowed_until;
