//! The push message published after every commit that changed a workspace.
//!
//! A notification says only *that* a workspace moved to a new revision, never
//! what changed: names and contents stay behind the authorized `getChanges`
//! call. Devices receive their own commits' notifications too and recognise
//! them by `origin_device` and `request_id`.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::rpc::Revision;

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
