-- Collection of unreferenced chunks (docs/operations.md).
--
-- When an object was last found to exist by a client that may commit a
-- version listing it (a HEAD answered 200, a PUT that stored it or found it
-- there), in microseconds since the Unix epoch; NULL: never since it was
-- written (modified_us then says when it was last confirmed).
ALTER TABLE objects ADD COLUMN confirmed_us BIGINT;

-- Chunk objects the metadata servers claimed for collection (their
-- commits refuse them), under the claim's id, and that this index deleted or
-- was about to. Storing or finding such a chunk again tells the servers
-- (chunksStored with that claim id), then forgets the row.
CREATE TABLE collected_chunks (
    account   TEXT COLLATE "C" NOT NULL,
    container TEXT COLLATE "C" NOT NULL,
    name      TEXT COLLATE "C" NOT NULL,
    claim_id  UUID NOT NULL,
    PRIMARY KEY (account, container, name)
);

