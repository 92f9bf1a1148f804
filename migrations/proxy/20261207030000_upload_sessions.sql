-- Resumable uploads of the web UI. A session is the proxy's own transport
-- state: the chunks it has stored so far (in the workspace's container, as
-- any upload stores them) and the bytes received after the last of them,
-- not yet chunked. The metadata servers see only the commit that finishes
-- it, so it lives beside the object index that holds those chunks.
CREATE TABLE upload_sessions (
    id uuid PRIMARY KEY,
    -- The user who made it; nobody else may see or use it.
    user_id uuid NOT NULL,
    workspace_id uuid NOT NULL,
    -- The folder it goes in (NULL: the top of the workspace).
    parent_id uuid,
    -- Where under that folder, '/'-separated: folders missing on finishing
    -- are created in the same commit as the file.
    path text NOT NULL,
    size bigint NOT NULL CHECK (size >= 0),
    -- The file's last modification as the browser knows it, in ms.
    modified_at bigint NOT NULL,
    -- Bytes covered by the chunks in upload_session_chunks.
    chunked bigint NOT NULL DEFAULT 0 CHECK (chunked >= 0),
    -- The bytes after them: the offset to continue at is chunked + its length.
    tail bytea NOT NULL DEFAULT '\x',
    -- Set when finishing committed the file, so that finishing again (its
    -- answer lost) answers the same instead of committing twice.
    finished_item uuid,
    finished_name text,
    -- Pushed back by every request that saves progress.
    expires_at timestamptz NOT NULL
);

CREATE INDEX upload_sessions_by_expiry ON upload_sessions (expires_at);
CREATE INDEX upload_sessions_by_user ON upload_sessions (user_id);

CREATE TABLE upload_session_chunks (
    session_id uuid NOT NULL REFERENCES upload_sessions (id) ON DELETE CASCADE,
    seq integer NOT NULL CHECK (seq >= 0),
    chunk_id text NOT NULL,
    size bigint NOT NULL CHECK (size > 0),
    PRIMARY KEY (session_id, seq)
);
