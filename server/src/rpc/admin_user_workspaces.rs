//! `adminUserWorkspaces`: what a user owns (each workspace with its members
//! and size) and what they are a member of, for the administrator deciding
//! what becomes of each shared workspace before deleting them.

use nimbus_protocol::admin::{AdminUserWorkspaces, AdminWorkspace};

use super::{Reply, ServerState, admin_refusal};
use crate::admin::{self, UserWorkspace};
use crate::error::OperationError;

pub async fn run(state: &ServerState, username: &str) -> Result<Reply, OperationError> {
    let shares = admin::user_shares(state.store.as_ref(), username)
        .await
        .map_err(admin_refusal)?;
    let listed = |entries: Vec<UserWorkspace>| -> Vec<AdminWorkspace> {
        entries
            .into_iter()
            .map(|entry| AdminWorkspace {
                workspace: entry.workspace,
                usage_bytes: entry.usage,
                members: entry.members,
            })
            .collect()
    };
    Reply::json(AdminUserWorkspaces {
        owned: listed(shares.owned),
        member_of: listed(shares.member_of),
    })
}
