-- Nimbus metadata schema (PostgreSQL).
--
-- Identity (users, devices), workspaces and their members, and the item tree
-- with its full version history. A workspace's `revision` is bumped once per
-- commit; every item and version records the revision it was written in, which
-- makes getChanges a range scan on (workspace_id, revision, id).

CREATE TABLE users (
    id                   uuid PRIMARY KEY,
    username             text NOT NULL UNIQUE,
    -- The Swift account (tenant) the user belongs to; storage URL /v1/AUTH_<account>.
    account              text NOT NULL,
    account_admin        boolean NOT NULL DEFAULT true,
    email                text,
    password_hash        text NOT NULL,            -- Argon2id PHC string
    quota_limit          bigint NOT NULL CHECK (quota_limit >= 0),
    quota_used           bigint NOT NULL DEFAULT 0,
    is_admin             boolean NOT NULL DEFAULT false,
    disabled             boolean NOT NULL DEFAULT false,
    failed_logins        integer NOT NULL DEFAULT 0,
    last_failed_login_at timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX users_by_account ON users (account);

CREATE TABLE devices (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text NOT NULL,
    os           text,
    app_version  text,
    token_hash   bytea NOT NULL UNIQUE,            -- SHA-256 of the bearer token
    expires_at   timestamptz,                      -- NULL: valid until revoked
    revoked_at   timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX devices_by_user ON devices (user_id);

CREATE TABLE workspaces (
    id         uuid PRIMARY KEY,
    owner_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       text NOT NULL,
    encryption text NOT NULL CHECK (encryption IN ('none', 'server', 'client')),
    revision   bigint NOT NULL DEFAULT 0,
    container  text NOT NULL,                      -- object-store container of its chunks
    is_default boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX one_default_workspace_per_owner ON workspaces (owner_id) WHERE is_default;

CREATE TABLE workspace_members (
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role         text NOT NULL CHECK (role IN ('owner', 'editor', 'viewer')),
    -- Each member names and places the workspace's folder on their own.
    mount_name   text NOT NULL,
    mount_parent uuid,
    joined_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX workspace_members_by_user ON workspace_members (user_id);

-- The latest state of every item; the history is in item_versions.
CREATE TABLE items (
    id             uuid PRIMARY KEY,               -- chosen by the creating device
    workspace_id   uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    parent_id      uuid REFERENCES items (id),     -- NULL: top of the workspace
    name           text NOT NULL,
    is_folder      boolean NOT NULL,
    latest_version bigint NOT NULL,
    deleted        boolean NOT NULL DEFAULT false,
    revision       bigint NOT NULL
);
CREATE INDEX items_changes ON items (workspace_id, revision, id);
CREATE INDEX items_live_children ON items (parent_id) WHERE NOT deleted;
-- Names are unique among the live items of a folder.
CREATE UNIQUE INDEX items_live_names
    ON items (workspace_id, coalesce(parent_id, '00000000-0000-0000-0000-000000000000'), name)
    WHERE NOT deleted;

-- Every version keeps its own name and place, so history can restore both.
CREATE TABLE item_versions (
    item_id      uuid NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    version      bigint NOT NULL,
    device_id    uuid NOT NULL REFERENCES devices (id),
    status       text NOT NULL CHECK (status IN ('NEW', 'CHANGED', 'RENAMED', 'MOVED', 'DELETED')),
    parent_id    uuid,
    name         text NOT NULL,
    deleted      boolean NOT NULL,
    size         bigint NOT NULL CHECK (size >= 0),
    content_hash text,
    chunker      text,
    modified_at  bigint NOT NULL,                  -- client mtime, ms since the epoch
    committed_at timestamptz NOT NULL DEFAULT now(),
    revision     bigint NOT NULL,
    PRIMARY KEY (item_id, version)
);

-- The ordered chunk list of each file version. Chunks of every retained
-- version stay referenced here, so old versions can always be restored.
CREATE TABLE version_chunks (
    item_id  uuid NOT NULL,
    version  bigint NOT NULL,
    position integer NOT NULL,
    chunk_id text NOT NULL,
    size     integer NOT NULL CHECK (size >= 0),
    PRIMARY KEY (item_id, version, position),
    FOREIGN KEY (item_id, version) REFERENCES item_versions (item_id, version) ON DELETE CASCADE
);
CREATE INDEX version_chunks_by_chunk ON version_chunks (chunk_id);

-- Answers of commits already applied, so that a re-sent commit returns the
-- first answer and changes nothing.
CREATE TABLE processed_requests (
    request_id   uuid PRIMARY KEY,
    device_id    uuid NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    fingerprint  bytea NOT NULL,                   -- SHA-256 of the request's arguments
    response     jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX processed_requests_by_age ON processed_requests (created_at);
