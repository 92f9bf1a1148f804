-- The audit log: sign-ins, sharing actions and administrative actions, as
-- the administrator reads them with `nimbus-server audit` and on the
-- administration pages. Append-only: the trigger below refuses every UPDATE,
-- DELETE and TRUNCATE whatever role the application connects as (a REVOKE
-- would not bind the table's owner, which the application role usually is).
--
-- Rows name people by id and by the name they had then, without foreign
-- keys: deleting a user must not delete or rewrite the record of what they
-- did. Passwords and tokens are never written here.
CREATE TABLE audit_log (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- Who acted; NULL actor_id with actor_name 'administrator' for the
    -- command line, NULL both for an unknown user name at sign-in.
    actor_id     uuid,
    actor_name   text,
    -- e.g. 'sign-in', 'sign-in-failed', 'share-propose', 'user-delete'.
    action       text NOT NULL,
    -- The user acted upon, if any (the invitee, the member removed, ...).
    target_name  text,
    workspace_id uuid,
    -- The rest, for people: the device or browser, the role, the link, ...
    detail       text NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_by_time ON audit_log (at);
CREATE INDEX audit_log_by_actor ON audit_log (actor_name, at);
CREATE INDEX audit_log_by_target ON audit_log (target_name, at);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % is refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- The containers of workspaces deleted with their user. Their chunks can
-- be referenced by no version any more, so collectChunks claims every chunk
-- the proxies' collection offers from them (docs/operations.md). Rows stay:
-- a container name (the workspace id) is never used again.
CREATE TABLE deleted_containers (
    account    text NOT NULL,
    container  text NOT NULL,
    deleted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account, container)
);

-- A deleted user stays as a disabled row, so that the versions their devices
-- wrote in workspaces that live on keep their author, and the audit log's
-- names stay unambiguous (the name is not given out again).
ALTER TABLE users ADD COLUMN deleted_at timestamptz;
