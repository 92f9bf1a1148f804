-- Chunks the object store's collection claimed as referenced by no version
-- of their workspace (collectChunks), and may have deleted since. A commit
-- whose new versions list one of them is refused as missing content until
-- the proxy reports the chunk stored again (chunksStored), so a device that
-- saw a chunk before it was collected uploads it again instead of committing
-- a version whose bytes are gone. See docs/operations.md.
CREATE TABLE collected_chunks (
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    chunk_id text NOT NULL,
    -- Of the collectChunks call that made the record: chunksStored lifts it
    -- only under this id, so a report based on what the store held before a
    -- later claim cannot lift that claim.
    claim_id uuid NOT NULL,
    collected_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, chunk_id)
);
