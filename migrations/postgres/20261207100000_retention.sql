-- Retention: old versions and trashed items are removed after a while (by
-- the retention job or "delete forever"), and the quota counts what is kept.
--
-- Removing items cannot show in getChanges (a delta of what exists), so a
-- workspace records the revision of its latest removal: a cached tree older
-- than that starts over from revision 0.
ALTER TABLE workspaces ADD COLUMN purged_revision bigint NOT NULL DEFAULT 0;

-- The retention job looks for trashed items, workspace by workspace.
CREATE INDEX items_trashed ON items (workspace_id) WHERE deleted;

-- The quota now counts the bytes of every chunk a retained version of an
-- owned workspace references, each chunk once per workspace (its container
-- stores it once): deleting a file frees nothing until its versions go.
UPDATE users u SET quota_used = coalesce((
    SELECT sum(kept.size)
    FROM (SELECT DISTINCT i.workspace_id, c.chunk_id, c.size
          FROM version_chunks c
          JOIN items i ON i.id = c.item_id
          JOIN workspaces w ON w.id = i.workspace_id
          WHERE w.owner_id = u.id) AS kept), 0);
