-- A folder of a default workspace becomes a workspace of its own
-- (`convertFolder`, docs/sharing.md): its items move with their ids and
-- history, and their versions keep their chunks, cut and named under the
-- source workspace's keys, in the source's container until the proxy's
-- re-keying job has copied them under the new workspace's keys.

ALTER TABLE item_versions
    -- On the deletion version of a converted folder: the workspace it became.
    ADD COLUMN moved_to uuid,
    -- The workspace whose keys made this version's chunks and whose
    -- container holds them; NULL: the item's own workspace. No foreign key:
    -- when that workspace goes with its user, so do its chunks.
    ADD COLUMN chunk_workspace uuid;

-- The re-keying job's list, and the collection's "still needed" question
-- about a source container.
CREATE INDEX item_versions_to_rekey ON item_versions (item_id, version)
    WHERE chunk_workspace IS NOT NULL;
CREATE INDEX item_versions_by_chunk_workspace ON item_versions (chunk_workspace)
    WHERE chunk_workspace IS NOT NULL;

ALTER TABLE workspaces
    -- Where a converted workspace's folder was: the source workspace and
    -- the folder's item id (deleted there with moved_to).
    ADD COLUMN converted_from_workspace uuid,
    ADD COLUMN converted_from_folder uuid;
-- One conversion per folder.
CREATE UNIQUE INDEX workspaces_converted_folder ON workspaces (converted_from_folder)
    WHERE converted_from_folder IS NOT NULL;
