//! The push messages of the notification exchange.
//!
//! Two kinds travel there, told apart by the `event` field:
//!
//! * a [`Notification`] (no `event` field), published after every commit that
//!   changed a workspace, with the routing key `workspace.<id>`;
//! * a [`UserEvent`] (with `event`), published with the routing key
//!   `user.<id>` to the users a sharing step concerns;
//! * a [`WorkspaceEvent`] (with `event`), published with the routing key
//!   `workspace.<id>` to every device of every member.
//!
//! Both carry ids only, never names or contents: names stay behind the
//! authorized RPC (`getChanges`, `getWorkspaces`, `listProposals`). Devices
//! receive their own commits' notifications too and recognise them by
//! `origin_device` and `request_id`.
//!
//! Compatibility: clients that know only [`Notification`] fail to read a
//! user event (it lacks `revision`, `origin_device` and `request_id`; no user
//! event may ever carry all three) and skip it, as they skip any malformed
//! message. [`Push`] reads both.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::rpc::{ProposalStatus, Revision, Role};

/// Published on the notification exchange with the routing key
/// [`crate::Topology::workspace_key`] of `workspace_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub workspace_id: Uuid,
    /// The workspace revision the commit produced.
    pub revision: Revision,
    /// The device whose commit this was.
    pub origin_device: Uuid,
    /// The request id of that commit.
    pub request_id: Uuid,
}

/// News for every device of one user, published with the routing key
/// [`crate::Topology::user_key`] of that user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum UserEvent {
    /// A proposal to or from the user was made or changed state: to the
    /// invitee when it is made, cancelled, expires or declined (their other
    /// devices and pages follow; accepting sends them `Access`); to the
    /// proposer when it is accepted or declined. Read it with `listProposals`.
    Proposal {
        proposal_id: Uuid,
        workspace_id: Uuid,
        status: ProposalStatus,
    },
    /// The user's access to a workspace changed: `role` is the new one, or
    /// `None` when the access ended (removed, left, unshared). Devices ask
    /// `getWorkspaces` and subscribe again; every proxy drops its cached
    /// identities of `user_id` on hearing it.
    Access {
        user_id: Uuid,
        workspace_id: Uuid,
        role: Option<Role>,
    },
    /// The members of a workspace the user belongs to changed (someone
    /// joined, left, was removed or changed role). Read them with `listMembers`.
    Members { workspace_id: Uuid },
    /// One of the user's devices renamed or moved the user's own mount of a
    /// workspace. Read it with `getWorkspaces`.
    Mount { workspace_id: Uuid },
    /// A device of the user was revoked (or logged out): every proxy drops
    /// its cached identity of that device's token on hearing it.
    DeviceRevoked { device_id: Uuid },
}

/// News for every device of every member of a workspace, published with the
/// routing key [`crate::Topology::workspace_key`] of `workspace_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum WorkspaceEvent {
    /// A device could not download the latest version of the item: chunks
    /// of it are missing from the object store (`reportMissingContent`). A
    /// device whose copy of the file matches that version uploads the
    /// missing chunks again.
    ContentMissing { workspace_id: Uuid, item_id: Uuid },
}

/// Any message of the notification exchange.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Push {
    /// Tried first: only events have an `event` field.
    User(UserEvent),
    Workspace(WorkspaceEvent),
    Commit(Notification),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_and_user_events_are_told_apart() {
        let commit = Notification {
            workspace_id: Uuid::from_u128(1),
            revision: 4,
            origin_device: Uuid::from_u128(2),
            request_id: Uuid::from_u128(3),
        };
        let event = UserEvent::Access {
            user_id: Uuid::from_u128(5),
            workspace_id: Uuid::from_u128(1),
            role: None,
        };
        let missing = WorkspaceEvent::ContentMissing {
            workspace_id: Uuid::from_u128(1),
            item_id: Uuid::from_u128(6),
        };
        let commit_json = serde_json::to_vec(&commit).unwrap();
        let event_json = serde_json::to_vec(&event).unwrap();
        let missing_json = serde_json::to_vec(&missing).unwrap();
        assert_eq!(
            serde_json::from_slice::<Push>(&missing_json).unwrap(),
            Push::Workspace(missing)
        );
        assert_eq!(
            serde_json::from_slice::<Push>(&commit_json).unwrap(),
            Push::Commit(commit)
        );
        assert_eq!(
            serde_json::from_slice::<Push>(&event_json).unwrap(),
            Push::User(event)
        );
        let value: serde_json::Value = serde_json::from_slice(&event_json).unwrap();
        assert_eq!(value["event"], "access");
        assert!(value["role"].is_null());
    }

    #[test]
    fn clients_that_know_only_commits_reject_every_user_event() {
        let id = Uuid::from_u128(9);
        let events = [
            UserEvent::Proposal {
                proposal_id: id,
                workspace_id: id,
                status: ProposalStatus::Pending,
            },
            UserEvent::Access {
                user_id: id,
                workspace_id: id,
                role: Some(Role::Viewer),
            },
            UserEvent::Members { workspace_id: id },
            UserEvent::Mount { workspace_id: id },
            UserEvent::DeviceRevoked { device_id: id },
        ];
        for event in events {
            let json = serde_json::to_vec(&event).unwrap();
            assert!(
                serde_json::from_slice::<Notification>(&json).is_err(),
                "{event:?}"
            );
        }
        let missing = serde_json::to_vec(&WorkspaceEvent::ContentMissing {
            workspace_id: id,
            item_id: id,
        })
        .unwrap();
        assert!(serde_json::from_slice::<Notification>(&missing).is_err());
        assert!(serde_json::from_slice::<UserEvent>(&missing).is_err());
    }
}
