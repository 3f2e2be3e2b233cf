-- A case's point as columns, so the duplicate search reads no JSON; existing rows take theirs from
-- the body, which no longer holds it.
ALTER TABLE cases ADD COLUMN lon REAL;
ALTER TABLE cases ADD COLUMN lat REAL;
UPDATE cases SET lon = json_extract(body, '$.lon'), lat = json_extract(body, '$.lat');
