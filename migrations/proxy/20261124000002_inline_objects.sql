-- Small objects keep their bytes in the index row instead of the blob store:
-- storing one is a single durable commit instead of a file fsync plus a
-- commit, and reading one needs no file open. Exactly one of `blob_key` and
-- `inline_data` is set.
ALTER TABLE objects ALTER COLUMN blob_key DROP NOT NULL;
ALTER TABLE objects ADD COLUMN inline_data BYTEA;
-- Chunks arrive compressed and encrypted: do not try to compress them again.
ALTER TABLE objects ALTER COLUMN inline_data SET STORAGE EXTERNAL;
ALTER TABLE objects ADD CONSTRAINT objects_bytes_in_one_place
    CHECK ((blob_key IS NULL) <> (inline_data IS NULL));
