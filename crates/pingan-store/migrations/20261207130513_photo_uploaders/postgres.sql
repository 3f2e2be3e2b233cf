-- Who stored each photo (an address for uploads without an account), for a daily quota, and
-- whether a case names it: photos never attached to a case are removed after a day. Photos
-- stored before count as attached and are kept.
ALTER TABLE photos ADD COLUMN uploader TEXT COLLATE "C";
ALTER TABLE photos ADD COLUMN attached BOOLEAN NOT NULL DEFAULT TRUE;
CREATE INDEX photos_by_uploader ON photos (uploader, created_at) WHERE uploader IS NOT NULL;
CREATE INDEX unattached_photos ON photos (created_at) WHERE NOT attached;
