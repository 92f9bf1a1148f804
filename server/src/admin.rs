//! Administration of users and shares, shared by the `nimbus-server user …`
//! and `nimbus-server share …` commands, the setup script and the tests.

use anyhow::{Context, bail};
use nimbus_protocol::rpc::{Member, Proposal, ProposalStatus, Role, WorkspaceInfo};
use uuid::Uuid;

use crate::auth::{hash_password, random_secret};
use crate::storage::{MetadataStore, NewUser, OAuthConsumer, StoreError, User};

pub const MIN_PASSWORD_LEN: usize = 8;

/// A user to create.
#[derive(Debug, Clone)]
pub struct AddUser {
    pub username: String,
    pub password: String,
    pub email: Option<String>,
    pub quota_bytes: u64,
    pub is_admin: bool,
    /// Join this existing account instead of getting one of one's own.
    pub account: Option<String>,
    pub account_admin: bool,
}

/// User names are lowercase so that they are unique whatever the client
/// does with case, and safe in URLs (`/v1/AUTH_<name>`).
pub fn validate_username(username: &str) -> anyhow::Result<()> {
    let valid = (1..=64).contains(&username.len())
        && username
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && username
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if !valid {
        bail!(
            "{username:?} is not a valid user name: use 1 to 64 lowercase letters, digits, \
             '.', '_' or '-', starting with a letter or digit"
        );
    }
    Ok(())
}

pub fn validate_password(password: &str) -> anyhow::Result<()> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        bail!("the password must have at least {MIN_PASSWORD_LEN} characters");
    }
    Ok(())
}

pub async fn add_user(store: &dyn MetadataStore, user: AddUser) -> anyhow::Result<User> {
    validate_username(&user.username)?;
    if let Some(account) = &user.account {
        validate_username(account).context("account names follow the rules of user names")?;
    }
    validate_password(&user.password)?;
    let password = user.password;
    let password_hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await?
        .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))?;
    Ok(store
        .create_user(NewUser {
            username: user.username,
            account: user.account,
            account_admin: user.account_admin,
            email: user.email,
            password_hash,
            quota_limit: user.quota_bytes,
            is_admin: user.is_admin,
        })
        .await?)
}

/// Sets a new password and revokes every device of the user.
pub async fn reset_password(
    store: &dyn MetadataStore,
    username: &str,
    password: String,
) -> anyhow::Result<()> {
    validate_password(&password)?;
    let password_hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await?
        .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))?;
    if !store.set_password_hash(username, &password_hash).await? {
        bail!("there is no user named {username:?}");
    }
    Ok(())
}

/// Registers an OAuth application with a fresh key and secret.
pub async fn add_oauth_consumer(
    store: &dyn MetadataStore,
    name: &str,
    callback_url: Option<String>,
) -> anyhow::Result<OAuthConsumer> {
    let name = name.trim();
    if name.is_empty() || name.len() > 100 || name.chars().any(char::is_control) {
        bail!("an application name has 1 to 100 printable characters");
    }
    if callback_url
        .as_ref()
        .is_some_and(|url| !(url.starts_with("https://") || url.starts_with("http://")))
    {
        bail!("the callback must be an http(s) URL");
    }
    let consumer = OAuthConsumer {
        key: random_secret("ock_")[..36].to_owned(),
        secret: random_secret(""),
        name: name.to_owned(),
        callback_url,
    };
    store.add_oauth_consumer(&consumer).await?;
    Ok(consumer)
}

/// A workspace as an administrator sees it for one user.
#[derive(Debug, Clone)]
pub struct UserWorkspace {
    pub workspace: WorkspaceInfo,
    /// Bytes charged to the owner for it.
    pub usage: u64,
    pub members: Vec<Member>,
}

/// What a user owns and what they are a member of.
#[derive(Debug, Clone)]
pub struct UserShares {
    pub user: User,
    pub owned: Vec<UserWorkspace>,
    pub member_of: Vec<UserWorkspace>,
}

pub async fn user_shares(store: &dyn MetadataStore, username: &str) -> anyhow::Result<UserShares> {
    let Some(user) = store.user_by_name(username).await? else {
        bail!("there is no user named {username:?}");
    };
    let mut owned = Vec::new();
    let mut member_of = Vec::new();
    for workspace in store.workspaces_of(user.id).await? {
        let usage = store
            .workspace_record(workspace.workspace_id)
            .await?
            .map_or(0, |record| record.usage);
        let members = store.members(workspace.workspace_id).await?;
        let entry = UserWorkspace {
            workspace,
            usage,
            members,
        };
        if entry.workspace.role == Role::Owner {
            owned.push(entry);
        } else {
            member_of.push(entry);
        }
    }
    Ok(UserShares {
        user,
        owned,
        member_of,
    })
}

/// Cancels a pending proposal for an administrator. The invitee sees it
/// cancelled in `listProposals` (no event: this command has no broker).
pub async fn cancel_proposal(
    store: &dyn MetadataStore,
    proposal_id: Uuid,
) -> anyhow::Result<Proposal> {
    match store
        .close_proposal(proposal_id, ProposalStatus::Cancelled)
        .await
    {
        Ok(proposal) => Ok(proposal),
        Err(StoreError::Refused(why)) => bail!("{proposal_id}: {why}"),
        Err(other) => Err(other.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        for ok in ["alice", "a", "bob.smith", "x_1-2", "0day"] {
            assert!(validate_username(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Alice", "-x", ".x", "a b", "a/b", "é", &"a".repeat(65)] {
            assert!(validate_username(bad).is_err(), "{bad}");
        }
    }
}
