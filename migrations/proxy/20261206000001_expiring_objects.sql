-- Expiring objects (`X-Delete-At`, `X-Delete-After`): the Unix time, in
-- seconds, from which an object is gone. Reads hide it from then on; the
-- sweeper deletes the row and its bytes, finding due rows by the index.
ALTER TABLE objects ADD COLUMN delete_at BIGINT;
CREATE INDEX objects_due_for_deletion ON objects (delete_at) WHERE delete_at IS NOT NULL;

-- The MD5 of a static large object's manifest, which listings show as its
-- `hash` (beside `slo_etag`, the MD5 of its segments' ETags). NULL for
-- manifests stored before this column.
ALTER TABLE objects ADD COLUMN slo_manifest_etag TEXT;
