-- Workspaces created by their owners (createWorkspace), including end-to-end
-- encrypted ones.
--
-- An end-to-end encrypted workspace (encryption 'client') keeps the key check
-- its creating device derived from the passphrase (16 bytes, hex), so other
-- devices can refuse a mistyped passphrase before syncing; no other mode has
-- one. A member's names for their workspaces are unique, since each names a
-- folder and `nimbus sync --workspace NAME` picks one by it.

ALTER TABLE workspaces
    ADD COLUMN key_check text CHECK (key_check ~ '^[0-9a-f]{32}$'),
    ADD CONSTRAINT key_check_iff_client CHECK ((encryption = 'client') = (key_check IS NOT NULL));

CREATE UNIQUE INDEX workspace_members_unique_names ON workspace_members (user_id, mount_name);
