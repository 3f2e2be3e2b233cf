-- Who stored each photo (an address for uploads without an account), for a daily quota, and
-- whether a case names it: photos never attached to a case are removed after a day. Photos
-- stored before count as attached and are kept.
ALTER TABLE photos ADD COLUMN uploader TEXT;
ALTER TABLE photos ADD COLUMN attached INTEGER NOT NULL DEFAULT 1;
CREATE INDEX photos_by_uploader ON photos (uploader, created_at) WHERE uploader IS NOT NULL;
CREATE INDEX unattached_photos ON photos (created_at) WHERE attached = 0;
