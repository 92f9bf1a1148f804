-- Sharing between users: proposals, and the broker queues each device had
-- bound, so that revocation can unbind them.
--
-- A share is a proposal first: nothing reaches the invitee until they accept,
-- and accepting makes them a member (workspace_members). A proposal names a
-- workspace; sharing a folder will first make the folder a workspace of its
-- own and then propose that workspace, so proposals need no folder column.
-- Rows are kept after they are answered, as the history of who offered what.

CREATE TABLE share_proposals (
    id          uuid PRIMARY KEY,
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    proposer_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    invitee_id  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- How the proposer named the invitee (user name or e-mail address), to
    -- show it back as typed: nobody learns an address they did not know.
    addressed_as text NOT NULL,
    -- Ownership is never proposed: it moves by transferOwnership only.
    role        text NOT NULL CHECK (role IN ('editor', 'viewer')),
    message     text CHECK (char_length(message) <= 1000),
    status      text NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'accepted', 'declined', 'cancelled', 'expired')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    -- A pending proposal past this time is expired, whether or not its row
    -- says so yet (reads treat it as expired; the housekeeping rewrites it).
    expires_at  timestamptz NOT NULL DEFAULT now() + interval '30 days',
    answered_at timestamptz,
    CHECK (invitee_id <> proposer_id)
);
-- One open offer per invitee and workspace; a declined, cancelled or expired
-- one leaves room for a new proposal.
CREATE UNIQUE INDEX share_proposals_one_pending
    ON share_proposals (workspace_id, invitee_id) WHERE status = 'pending';
CREATE INDEX share_proposals_by_invitee ON share_proposals (invitee_id, created_at);
CREATE INDEX share_proposals_by_proposer ON share_proposals (proposer_id, created_at);
CREATE INDEX share_proposals_pending_expiry ON share_proposals (expires_at) WHERE status = 'pending';

-- The server-named notification queues `subscribe` bound for each device.
-- RabbitMQ keeps delivering on a binding until it is removed, so when a user
-- loses a workspace the servers unbind `workspace.<id>` from every queue of
-- the user's devices listed here. A queue the broker deleted (its consumer
-- left) is forgotten when an unbind finds it gone.
CREATE TABLE device_queues (
    device_id     uuid NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    queue         text NOT NULL,
    subscribed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (device_id, queue)
);
CREATE INDEX device_queues_by_queue ON device_queues (queue);

-- The account whose object store holds the workspace's container. It is the
-- owner's when the workspace is created, and stays put when ownership is
-- transferred (the bytes do not move); NULL means the owner's account.
ALTER TABLE workspaces ADD COLUMN container_account text;
