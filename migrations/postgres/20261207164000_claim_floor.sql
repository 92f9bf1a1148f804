-- The floor of collection claims (docs/operations.md, "Pruning the claims'
-- records"): collectChunks claims nothing under a number below it, so a
-- record of collected_chunks whose claims were lifted up to a number below
-- it changes no answer any more, and goes. One row; the floor only rises.
CREATE TABLE chunk_claim_floor (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    floor bigint NOT NULL
);
INSERT INTO chunk_claim_floor (floor) VALUES (0);
