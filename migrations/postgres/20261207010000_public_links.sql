-- Public links: a file or folder of a workspace, served anonymously by the
-- proxies at /s/{token}.
--
-- The token (256 random bits) is shown to its creator once and stored only
-- as its SHA-256. A link works only while it is not revoked, not expired,
-- not used up, its creator is still an enabled member of the workspace and
-- its target is not deleted: every open checks all of it, so a link dies at
-- once when any of them ends. Rows stay after revocation, as the record of
-- what was published.

CREATE TABLE public_links (
    id            uuid PRIMARY KEY,
    token_hash    bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    creator_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    -- NULL: the top of the workspace.
    item_id       uuid REFERENCES items (id) ON DELETE CASCADE,
    -- Argon2id (PHC string), NULL without a password.
    password_hash text,
    expires_at    timestamptz,
    max_downloads bigint CHECK (max_downloads > 0),
    downloads     bigint NOT NULL DEFAULT 0 CHECK (downloads >= 0),
    -- Wrong passwords in a row, for the per-link slow-down (as for logins).
    failed_attempts integer NOT NULL DEFAULT 0,
    last_failed_at  timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz
);
CREATE INDEX public_links_by_creator ON public_links (creator_id, created_at);
CREATE INDEX public_links_by_workspace ON public_links (workspace_id) WHERE revoked_at IS NULL;
