//! Administration of users and shares, shared by the `nimbus-server user …`
//! and `nimbus-server share …` commands, the setup script and the tests.

use anyhow::{Context, bail};
use nimbus_protocol::admin::{DeleteUserArgs, WorkspaceTransfer};
use nimbus_protocol::rpc::{Member, Proposal, ProposalStatus, Role, WorkspaceInfo};
use uuid::Uuid;

use crate::auth::{hash_password, random_secret};
use crate::storage::{
    Actor, Audit, AuditAction, MetadataStore, NewUser, OAuthConsumer, StoreError, User,
};

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

pub async fn add_user(
    store: &dyn MetadataStore,
    actor: &Actor,
    user: AddUser,
) -> anyhow::Result<User> {
    validate_username(&user.username)?;
    if let Some(account) = &user.account {
        validate_username(account).context("account names follow the rules of user names")?;
    }
    validate_password(&user.password)?;
    let password = user.password;
    let password_hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await?
        .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))?;
    let audit = Audit::new(actor.clone(), AuditAction::UserAdd)
        .target(&user.username)
        .detail(format!(
            "quota {} bytes{}",
            user.quota_bytes,
            if user.is_admin { ", administrator" } else { "" }
        ));
    Ok(store
        .create_user(
            NewUser {
                username: user.username,
                account: user.account,
                account_admin: user.account_admin,
                email: user.email,
                password_hash,
                quota_limit: user.quota_bytes,
                is_admin: user.is_admin,
            },
            &audit,
        )
        .await?)
}

/// Sets a new password and revokes every device of the user; returns them.
pub async fn reset_password(
    store: &dyn MetadataStore,
    actor: &Actor,
    username: &str,
    password: String,
) -> anyhow::Result<Vec<Uuid>> {
    validate_password(&password)?;
    let password_hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await?
        .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))?;
    let audit = Audit::new(actor.clone(), AuditAction::PasswordReset).target(username);
    store
        .set_password_hash(username, &password_hash, &audit)
        .await?
        .with_context(|| format!("there is no user named {username:?}"))
}

/// Disables (logins and every token of the user stop working) or enables a user.
pub async fn set_disabled(
    store: &dyn MetadataStore,
    actor: &Actor,
    username: &str,
    disabled: bool,
) -> anyhow::Result<()> {
    let action = if disabled {
        AuditAction::UserDisable
    } else {
        AuditAction::UserEnable
    };
    let audit = Audit::new(actor.clone(), action).target(username);
    if !store.set_user_disabled(username, disabled, &audit).await? {
        bail!("there is no user named {username:?}");
    }
    Ok(())
}

/// Sets how many bytes the user's retained versions may take. A quota below
/// what they use now is allowed: nothing is deleted, new content is refused
/// until they are under it again.
pub async fn set_quota(
    store: &dyn MetadataStore,
    actor: &Actor,
    username: &str,
    quota_bytes: u64,
) -> anyhow::Result<()> {
    let audit = Audit::new(actor.clone(), AuditAction::UserQuota)
        .target(username)
        .detail(format!("quota {quota_bytes} bytes"));
    if !store.set_user_quota(username, quota_bytes, &audit).await? {
        bail!("there is no user named {username:?}");
    }
    Ok(())
}

/// Registers an OAuth application with a fresh key and secret.
pub async fn add_oauth_consumer(
    store: &dyn MetadataStore,
    actor: &Actor,
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
    let audit = Audit::new(actor.clone(), AuditAction::OAuthAppAdd)
        .detail(format!("{:?} ({})", consumer.name, consumer.key));
    store.add_oauth_consumer(&consumer, &audit).await?;
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

/// The `adminDeleteUser` request for the command line's choices:
/// `transfers` as `WORKSPACE=MEMBER` and `delete_shared` as `WORKSPACE`, a
/// workspace named by its id or by the user's name for it.
pub async fn deletion_args(
    store: &dyn MetadataStore,
    username: &str,
    transfers: &[String],
    delete_shared: &[String],
) -> anyhow::Result<DeleteUserArgs> {
    let shares = user_shares(store, username).await?;
    let owned = |key: &str| -> anyhow::Result<Uuid> {
        let found: Vec<&UserWorkspace> = shares
            .owned
            .iter()
            .filter(|w| w.workspace.name == key || w.workspace.workspace_id.to_string() == key)
            .collect();
        match found.as_slice() {
            [one] => Ok(one.workspace.workspace_id),
            [] => bail!("{username} owns no workspace named {key:?}"),
            _ => bail!("{username} owns several workspaces named {key:?}: name it by its id"),
        }
    };
    let mut args = DeleteUserArgs {
        username: username.to_owned(),
        transfers: Vec::new(),
        delete_shared: Vec::new(),
    };
    for transfer in transfers {
        let Some((workspace, member)) = transfer.rsplit_once('=') else {
            bail!("--transfer takes WORKSPACE=MEMBER, not {transfer:?}");
        };
        args.transfers.push(WorkspaceTransfer {
            workspace_id: owned(workspace)?,
            to: member.to_owned(),
        });
    }
    for workspace in delete_shared {
        args.delete_shared.push(owned(workspace)?);
    }
    Ok(args)
}

/// Cancels a pending proposal for an administrator. The invitee sees it
/// cancelled in `listProposals` (no event: this command has no broker).
pub async fn cancel_proposal(
    store: &dyn MetadataStore,
    actor: &Actor,
    proposal_id: Uuid,
) -> anyhow::Result<Proposal> {
    let audit = Audit::new(actor.clone(), AuditAction::ShareCancel);
    match store
        .close_proposal(proposal_id, ProposalStatus::Cancelled, &audit)
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
