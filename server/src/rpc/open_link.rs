//! `openLink`: what a visitor of `/s/{token}` may see, for the proxy.
//!
//! No device token: the link's token is the credential, looked up by its
//! SHA-256. Every call checks everything that ends a link (revoked, expired,
//! used up, target deleted, creator no longer an enabled member, the item
//! asked for outside the linked folder), so a link dies at once; every
//! failure reads the same, as a link that does not exist.
//!
//! A password is checked against its Argon2id hash; wrong ones are counted
//! per link in the database and slowed down ([`attempt_delay`]), so the
//! limit holds across servers and proxies. A right password earns an `unlock`: an HMAC, keyed with the
//! link's password hash, of the link id and an expiry. It spares the visitor
//! the password on the next pages for an hour, needs no table, and dies with
//! the link or a new password.

use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use nimbus_protocol::rpc::{
    EncryptionMode, LinkStatus, LinkStorage, LinkToken, OpenLinkArgs, OpenedLink, Password,
};
use sha2::Sha256;
use uuid::Uuid;

use super::create_link::link_token_hash;
use super::{Reply, ServerState, now_millis};
use crate::auth::verify_password;
use crate::error::OperationError;
use crate::storage::LinkRecord;

const DEAD_LINK: &str = "this link does not exist or no longer works";
/// Wrong passwords a link takes before each further attempt waits.
const FREE_LINK_FAILURES: u32 = 5;
/// The first wait; it doubles with every further failure, up to the cap.
const FIRST_LINK_DELAY: Duration = Duration::from_secs(30);
const MAX_LINK_DELAY: Duration = Duration::from_secs(15 * 60);

/// How long a link must wait after `failures` wrong passwords in a row,
/// counted from the last one.
fn attempt_delay(failures: u32) -> Duration {
    match failures.checked_sub(FREE_LINK_FAILURES) {
        None => Duration::ZERO,
        Some(extra) => FIRST_LINK_DELAY
            .saturating_mul(1 << extra.min(10))
            .min(MAX_LINK_DELAY),
    }
}

/// How long an unlock spares the password.
const UNLOCK_TTL_MILLIS: i64 = 3600 * 1000;

pub async fn run(state: &ServerState, args: OpenLinkArgs) -> Result<Reply, OperationError> {
    let dead = || OperationError::Forbidden(DEAD_LINK);
    let link = state
        .store
        .link_by_token(&link_token_hash(&args.link_token))
        .await?
        .filter(|link| link.info.status == LinkStatus::Active)
        .ok_or_else(dead)?;
    let workspace = state
        .store
        .member_workspace(link.creator_id, link.info.workspace_id)
        .await?
        .filter(|workspace| workspace.encryption != EncryptionMode::Client)
        .ok_or_else(dead)?;
    let unlock = check_password(state, &link, args.password, args.unlock.as_ref()).await?;
    let item_id = args.item_id.or(link.info.item_id);
    if let Some(item_id) = args.item_id.filter(|id| Some(*id) != link.info.item_id)
        && !state
            .store
            .is_within(workspace.workspace_id, link.info.item_id, item_id)
            .await?
    {
        return Err(dead());
    }
    let item = match item_id {
        None => None,
        Some(item_id) => {
            let (workspace_id, item) = state.store.item(item_id).await?.ok_or_else(dead)?;
            if workspace_id != workspace.workspace_id || item.deleted {
                return Err(dead());
            }
            Some(item)
        }
    };
    let opened = OpenedLink {
        link_id: link.info.link_id,
        name: link.info.name,
        storage: LinkStorage {
            workspace_id: workspace.workspace_id,
            storage_account: workspace.storage_account,
            container: workspace.container,
            encryption: workspace.encryption,
        },
        children: Vec::new(),
        item,
        unlock,
    };
    if args.count_download {
        // A file, or a folder as a zip: the visitor has already seen what
        // is in it, so nothing is listed.
        if !state.store.count_link_download(opened.link_id).await? {
            return Err(dead());
        }
        return Reply::json(opened);
    }
    let opened = if opened.is_folder() {
        let children = match args.subtree_max {
            Some(max) => {
                state
                    .store
                    .descendants(workspace.workspace_id, item_id, max)
                    .await?
            }
            None => {
                state
                    .store
                    .children(workspace.workspace_id, item_id)
                    .await?
            }
        };
        OpenedLink { children, ..opened }
    } else {
        opened
    };
    Reply::json(opened)
}

/// Passes a link without a password, a valid unlock, or the right password
/// (which earns a fresh unlock).
async fn check_password(
    state: &ServerState,
    link: &LinkRecord,
    password: Option<Password>,
    unlock: Option<&LinkToken>,
) -> Result<Option<LinkToken>, OperationError> {
    let Some(stored) = link.password_hash.clone() else {
        return Ok(None);
    };
    if unlock.is_some_and(|unlock| unlock_is_valid(&stored, link.info.link_id, unlock)) {
        return Ok(None);
    }
    let Some(password) = password else {
        return Err(OperationError::LinkPassword("this link needs its password"));
    };
    if let Some(last_failure) = link.last_failed_at {
        let wait = attempt_delay(link.failed_attempts);
        let elapsed =
            Duration::from_millis(u64::try_from(now_millis() - last_failure).unwrap_or(0));
        if elapsed < wait {
            return Err(OperationError::TooManyLinkAttempts(wait - elapsed));
        }
    }
    let hash = stored.clone();
    let matches = tokio::task::spawn_blocking(move || verify_password(&password.0, &hash))
        .await
        .unwrap_or(false);
    if !matches {
        state.store.record_link_failure(link.info.link_id).await?;
        tracing::info!(link_id = %link.info.link_id, "wrong link password");
        return Err(OperationError::LinkPassword("wrong password for this link"));
    }
    if link.failed_attempts > 0 {
        state.store.clear_link_failures(link.info.link_id).await?;
    }
    Ok(Some(issue_unlock(
        &stored,
        link.info.link_id,
        now_millis() + UNLOCK_TTL_MILLIS,
    )))
}

fn unlock_mac(password_hash: &str, link_id: Uuid, expires_at: i64) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(password_hash.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(link_id.as_bytes());
    mac.update(&expires_at.to_be_bytes());
    mac
}

/// `{expiry in ms}.{hex HMAC}`.
fn issue_unlock(password_hash: &str, link_id: Uuid, expires_at: i64) -> LinkToken {
    let tag = unlock_mac(password_hash, link_id, expires_at)
        .finalize()
        .into_bytes();
    LinkToken(format!("{expires_at}.{}", hex::encode(tag)))
}

fn unlock_is_valid(password_hash: &str, link_id: Uuid, unlock: &LinkToken) -> bool {
    let Some((expires_at, tag)) = unlock.0.split_once('.') else {
        return false;
    };
    let (Ok(expires_at), Ok(tag)) = (expires_at.parse::<i64>(), hex::decode(tag)) else {
        return false;
    };
    expires_at > now_millis()
        && unlock_mac(password_hash, link_id, expires_at)
            .verify_slice(&tag)
            .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_passwords_wait_longer_and_longer_after_the_free_ones() {
        assert_eq!(attempt_delay(4), Duration::ZERO);
        assert_eq!(attempt_delay(5), Duration::from_secs(30));
        assert_eq!(attempt_delay(6), Duration::from_secs(60));
        assert_eq!(attempt_delay(40), MAX_LINK_DELAY);
    }

    #[test]
    fn an_unlock_is_bound_to_its_link_password_and_expiry() {
        let link = Uuid::new_v4();
        let later = now_millis() + 60_000;
        let unlock = issue_unlock("hash-a", link, later);
        assert!(unlock_is_valid("hash-a", link, &unlock));
        assert!(
            !unlock_is_valid("hash-b", link, &unlock),
            "another password"
        );
        assert!(
            !unlock_is_valid("hash-a", Uuid::new_v4(), &unlock),
            "another link"
        );
        let (_, tag) = unlock.0.split_once('.').unwrap();
        let extended = LinkToken(format!("{}.{tag}", later + 1));
        assert!(
            !unlock_is_valid("hash-a", link, &extended),
            "a forged expiry"
        );
        let past = issue_unlock("hash-a", link, now_millis() - 1);
        assert!(!unlock_is_valid("hash-a", link, &past), "expired");
        assert!(!unlock_is_valid("hash-a", link, &LinkToken("junk".into())));
    }
}
