-- Collection claims become ordered numbers that the proxies' index issues
-- (docs/operations.md, "Collecting unreferenced chunks"), so that any number
-- of proxies may collect at once: a chunk is held while its latest claim is
-- above what was lifted; a claim at or below `lifted` is never made again.
-- Records of the earlier scheme stay held (claim 1, lifted 0): the index
-- keeps its rows for them under claim 1, and the next confirmation of such a
-- chunk lifts it.
ALTER TABLE collected_chunks DROP COLUMN claim_id;
ALTER TABLE collected_chunks ADD COLUMN claim bigint NOT NULL DEFAULT 1;
ALTER TABLE collected_chunks ALTER COLUMN claim DROP DEFAULT;
ALTER TABLE collected_chunks ADD COLUMN lifted bigint NOT NULL DEFAULT 0;
