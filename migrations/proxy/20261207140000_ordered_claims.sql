-- Collection claims become ordered numbers issued here (docs/operations.md,
-- "Collecting unreferenced chunks"), so that any number of proxies may
-- collect at once. A row of collected_chunks now says: the metadata servers
-- may hold `name` claimed under a number up to `claim`; a confirmation of
-- the object lifts that and then removes the row. `claim` only grows while
-- the row exists, and an object is deleted only under the claim its row
-- holds. Rows of the earlier scheme take claim 1, as the servers' records do.
CREATE SEQUENCE chunk_claims START 2;
ALTER TABLE collected_chunks DROP COLUMN claim_id;
ALTER TABLE collected_chunks ADD COLUMN claim BIGINT NOT NULL DEFAULT 1;
ALTER TABLE collected_chunks ALTER COLUMN claim DROP DEFAULT;
