-- A case's point as columns, so the duplicate search reads no JSON; existing rows take theirs from
-- the body, which no longer holds it.
ALTER TABLE cases ADD COLUMN lon DOUBLE PRECISION;
ALTER TABLE cases ADD COLUMN lat DOUBLE PRECISION;
UPDATE cases SET lon = (body::jsonb ->> 'lon')::double precision, lat = (body::jsonb ->> 'lat')::double precision;
