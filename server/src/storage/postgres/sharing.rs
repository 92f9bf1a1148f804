//! Sharing on PostgreSQL: proposals, members, ownership, mounts, and the
//! device queues to unbind on revocation.
//!
//! Every change of membership runs in one transaction that locks the
//! workspace row first, like a commit does, so that membership changes of
//! one workspace are serialised with each other and with its commits.

use nimbus_protocol::names::validate_name;
use nimbus_protocol::rpc::{Member, Proposal, ProposalList, ProposalStatus, Role, WorkspaceInfo};
use sqlx::{FromRow, PgConnection};
use uuid::Uuid;

use super::{
    PgStore, insert_audit, member_workspace, mount_name_taken, parse_encryption, parse_role,
    refuse_duplicate, to_u64,
};
use crate::storage::{
    Audit, Mount, NewProposals, Removal, StoreError, StoreResult, UserRef, WorkspaceRecord,
};

/// `audit` about `proposal`: its workspace, the other party as the target,
/// and what was proposed.
fn proposal_audit(audit: &Audit, proposal: &Proposal) -> Audit {
    let other = if audit.actor.id == Some(proposal.invitee_id) {
        &proposal.proposer_name
    } else {
        &proposal.invitee_name
    };
    audit
        .clone()
        .workspace(proposal.workspace_id)
        .target(other)
        .detail(format!(
            "proposal {} of {:?} from {} to {} as {}",
            proposal.proposal_id,
            proposal.workspace_name,
            proposal.proposer_name,
            proposal.invitee_name,
            role_name(proposal.role)
        ))
}

/// Makes member `to` the owner of the workspace instead of `from` (in the
/// caller's transaction; see [`crate::storage::MetadataStore::transfer_ownership`]).
pub(super) async fn transfer_ownership(
    tx: &mut PgConnection,
    workspace_id: Uuid,
    from: Uuid,
    to: Uuid,
    audit: &Audit,
) -> StoreResult<Vec<Proposal>> {
    if lock_workspace(tx, workspace_id).await? != Some(from) {
        return Err(StoreError::Refused(
            "only the owner of a workspace can hand it over".into(),
        ));
    }
    let usage: i64 = sqlx::query_scalar(concat!(
        "SELECT ",
        retained_bytes!(),
        " FROM workspaces w WHERE w.id = $1"
    ))
    .bind(workspace_id)
    .fetch_one(&mut *tx)
    .await?;
    let promoted = sqlx::query(
        "UPDATE workspace_members SET role = 'owner' \
         WHERE workspace_id = $1 AND user_id = $2 AND role <> 'owner'",
    )
    .bind(workspace_id)
    .bind(to)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if promoted != 1 {
        return Err(StoreError::Refused(
            "ownership can only go to a member of the workspace".into(),
        ));
    }
    let charged: Option<i64> = sqlx::query_scalar(
        "UPDATE users SET quota_used = quota_used + $2 \
         WHERE id = $1 AND quota_used + $2 <= quota_limit RETURNING quota_used",
    )
    .bind(to)
    .bind(usage)
    .fetch_optional(&mut *tx)
    .await?;
    if charged.is_none() {
        let (used, limit): (i64, i64) =
            sqlx::query_as("SELECT quota_used, quota_limit FROM users WHERE id = $1")
                .bind(to)
                .fetch_one(&mut *tx)
                .await?;
        return Err(StoreError::Refused(format!(
            "the new owner's quota has no room for this workspace: it holds {usage} bytes \
             and only {} are left",
            (limit - used).max(0)
        )));
    }
    sqlx::query("UPDATE users SET quota_used = greatest(0, quota_used - $2) WHERE id = $1")
        .bind(from)
        .bind(usage)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE workspace_members SET role = 'editor' WHERE workspace_id = $1 AND user_id = $2",
    )
    .bind(workspace_id)
    .bind(from)
    .execute(&mut *tx)
    .await?;
    // The container stays in the account that holds it.
    sqlx::query(
        "UPDATE workspaces w SET owner_id = $2, \
             container_account = coalesce(w.container_account, \
                 (SELECT account FROM users WHERE id = $3)) \
         WHERE w.id = $1",
    )
    .bind(workspace_id)
    .bind(to)
    .bind(from)
    .execute(&mut *tx)
    .await?;
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "UPDATE share_proposals SET status = 'cancelled', answered_at = now() \
         WHERE workspace_id = $1 AND proposer_id = $2 AND status = 'pending' RETURNING id",
    )
    .bind(workspace_id)
    .bind(from)
    .fetch_all(&mut *tx)
    .await?;
    let cancelled = proposals_by_id(tx, &ids).await?;
    let new_owner: String = sqlx::query_scalar("SELECT username FROM users WHERE id = $1")
        .bind(to)
        .fetch_one(&mut *tx)
        .await?;
    let audit = audit.clone().workspace(workspace_id).target(&new_owner);
    insert_audit(tx, &audit).await?;
    Ok(cancelled)
}

/// `audit` about ending the memberships of `removed`: the one removed as the
/// target, everyone removed in the detail.
async fn removal_audit(
    conn: &mut PgConnection,
    audit: &Audit,
    workspace_id: Uuid,
    removed: &[Uuid],
) -> StoreResult<Audit> {
    let names: Vec<String> =
        sqlx::query_scalar("SELECT username FROM users WHERE id = ANY($1) ORDER BY username")
            .bind(removed)
            .fetch_all(conn)
            .await?;
    let audit = audit.clone().workspace(workspace_id);
    Ok(match names.as_slice() {
        [one] => audit.target(one),
        many => audit.detail(format!("members removed: {}", many.join(", "))),
    })
}

/// How many ` (n)` suffixes an accepted mount name tries before giving up.
const MOUNT_NAME_ATTEMPTS: u32 = 100;

pub(super) fn role_name(role: Role) -> &'static str {
    match role {
        Role::Owner => "owner",
        Role::Editor => "editor",
        Role::Viewer => "viewer",
    }
}

fn status_name(status: ProposalStatus) -> &'static str {
    match status {
        ProposalStatus::Pending => "pending",
        ProposalStatus::Accepted => "accepted",
        ProposalStatus::Declined => "declined",
        ProposalStatus::Cancelled => "cancelled",
        ProposalStatus::Expired => "expired",
    }
}

fn parse_status(status: &str) -> StoreResult<ProposalStatus> {
    Ok(match status {
        "pending" => ProposalStatus::Pending,
        "accepted" => ProposalStatus::Accepted,
        "declined" => ProposalStatus::Declined,
        "cancelled" => ProposalStatus::Cancelled,
        "expired" => ProposalStatus::Expired,
        other => {
            return Err(StoreError::Corrupt(format!(
                "unknown proposal status {other}"
            )));
        }
    })
}

/// Proposals `p` with the names a reader needs; a pending one past its
/// expiry reads as expired. Callers append conditions and the order.
macro_rules! proposals {
    () => {
        concat!(
            "SELECT p.id, p.workspace_id, coalesce(om.mount_name, w.name) AS workspace_name, \
                    p.proposer_id, pu.username AS proposer_name, p.invitee_id, \
                    iu.username AS invitee_name, p.addressed_as, p.role, p.message, \
                    CASE WHEN p.status = 'pending' AND p.expires_at <= now() THEN 'expired' \
                         ELSE p.status END AS status, ",
            millis!("p.created_at"),
            " AS created_at, ",
            millis!("p.expires_at"),
            " AS expires_at, ",
            retained_bytes!(),
            " AS workspace_size, w.encryption, w.key_check \
             FROM share_proposals p \
             JOIN workspaces w ON w.id = p.workspace_id \
             LEFT JOIN workspace_members om \
                    ON om.workspace_id = w.id AND om.user_id = w.owner_id \
             JOIN users pu ON pu.id = p.proposer_id \
             JOIN users iu ON iu.id = p.invitee_id "
        )
    };
}

#[derive(FromRow)]
struct ProposalRow {
    id: Uuid,
    workspace_id: Uuid,
    workspace_name: String,
    proposer_id: Uuid,
    proposer_name: String,
    invitee_id: Uuid,
    invitee_name: String,
    addressed_as: String,
    role: String,
    message: Option<String>,
    status: String,
    created_at: i64,
    expires_at: i64,
    workspace_size: i64,
    encryption: String,
    key_check: Option<String>,
}

impl ProposalRow {
    /// The proposal without the workspace's key check, which only its
    /// invitee's list carries ([`Self::into_incoming`]).
    fn into_proposal(self) -> StoreResult<Proposal> {
        Ok(Proposal {
            key_check: None,
            ..self.into_incoming()?
        })
    }

    fn into_incoming(self) -> StoreResult<Proposal> {
        Ok(Proposal {
            proposal_id: self.id,
            workspace_id: self.workspace_id,
            workspace_name: self.workspace_name,
            proposer_id: self.proposer_id,
            proposer_name: self.proposer_name,
            invitee_id: self.invitee_id,
            invitee_name: self.invitee_name,
            addressed_as: self.addressed_as,
            role: parse_role(&self.role)?,
            message: self.message,
            status: parse_status(&self.status)?,
            created_at: self.created_at,
            expires_at: self.expires_at,
            workspace_size: to_u64(self.workspace_size),
            encryption: parse_encryption(&self.encryption)?,
            key_check: self.key_check,
        })
    }
}

fn into_proposals(rows: Vec<ProposalRow>) -> StoreResult<Vec<Proposal>> {
    rows.into_iter().map(ProposalRow::into_proposal).collect()
}

pub(super) async fn proposals_by_id(
    connection: &mut PgConnection,
    ids: &[Uuid],
) -> StoreResult<Vec<Proposal>> {
    let rows: Vec<ProposalRow> = sqlx::query_as(concat!(
        proposals!(),
        "WHERE p.id = ANY($1) ORDER BY p.created_at DESC, p.id"
    ))
    .bind(ids)
    .fetch_all(connection)
    .await?;
    into_proposals(rows)
}

#[derive(FromRow)]
struct MemberRow {
    user_id: Uuid,
    username: String,
    email: Option<String>,
    role: String,
    joined_at: i64,
}

impl MemberRow {
    fn into_member(self) -> StoreResult<Member> {
        Ok(Member {
            user_id: self.user_id,
            username: self.username,
            email: self.email,
            role: parse_role(&self.role)?,
            joined_at: self.joined_at,
        })
    }
}

macro_rules! members {
    () => {
        concat!(
            "SELECT m.user_id, u.username, u.email, m.role, ",
            millis!("m.joined_at"),
            " AS joined_at FROM workspace_members m JOIN users u ON u.id = m.user_id "
        )
    };
}

/// Locks the workspace row: membership changes and commits of one workspace
/// are serialised. `None` when it does not exist.
pub(super) async fn lock_workspace(
    connection: &mut PgConnection,
    workspace_id: Uuid,
) -> StoreResult<Option<Uuid>> {
    Ok(
        sqlx::query_scalar("SELECT owner_id FROM workspaces WHERE id = $1 FOR UPDATE")
            .bind(workspace_id)
            .fetch_optional(connection)
            .await?,
    )
}

/// Refuses to accept an end-to-end encrypted workspace without its key
/// check: only a device that derived the keys from the right passphrase
/// knows it, so neither the web UI nor REST (which must never see a
/// passphrase) nor a mistyped passphrase can make someone a member who
/// could not read a byte of it.
async fn require_key_check(
    connection: &mut PgConnection,
    proposal: &Proposal,
    sent: Option<&str>,
) -> StoreResult<()> {
    let stored: Option<String> = sqlx::query_scalar(
        "SELECT key_check FROM workspaces WHERE id = $1 AND encryption = 'client'",
    )
    .bind(proposal.workspace_id)
    .fetch_optional(connection)
    .await?
    .flatten();
    let Some(stored) = stored else {
        return Ok(());
    };
    match sent {
        None => Err(StoreError::Refused(format!(
            "\"{}\" is end-to-end encrypted: accept it from the desktop client \
             (`nimbus share accept {}`), which asks for its passphrase and checks it on your \
             device; nothing was accepted",
            proposal.workspace_name, proposal.proposal_id
        ))),
        Some(sent) if sent != stored => Err(StoreError::Refused(format!(
            "that is not the passphrase of the end-to-end encrypted workspace \"{}\" (its key \
             check differs); nothing was accepted",
            proposal.workspace_name
        ))),
        Some(_) => Ok(()),
    }
}

/// Refuses a mount parent that is not a live folder of the user's default
/// workspace: shares are mounted in the user's own files, never inside
/// another workspace, since shares do not nest (a member of that other
/// workspace would see a folder they were never offered, and ending one
/// share would cut into the other).
async fn check_mount_parent(
    connection: &mut PgConnection,
    user_id: Uuid,
    parent: Option<Uuid>,
) -> StoreResult<()> {
    let Some(parent) = parent else {
        return Ok(());
    };
    // The default workspace's flag, for a live folder of a workspace the
    // user is a member of; nothing is said about anybody else's items.
    let in_default: Option<bool> = sqlx::query_scalar(
        "SELECT w.is_default AND w.owner_id = $2 FROM items i \
         JOIN workspaces w ON w.id = i.workspace_id \
         JOIN workspace_members m ON m.workspace_id = w.id AND m.user_id = $2 \
         WHERE i.id = $1 AND i.is_folder AND NOT i.deleted",
    )
    .bind(parent)
    .bind(user_id)
    .fetch_optional(connection)
    .await?;
    match in_default {
        Some(true) => Ok(()),
        Some(false) => Err(StoreError::Refused(format!(
            "shares do not nest: the folder {parent} is inside another workspace, and a \
             workspace is mounted only in a folder of your own (default) workspace; choose \
             one of your own folders, or none for the top of your sync folder"
        ))),
        None => Err(StoreError::Refused(format!(
            "the mount parent {parent} is not a folder of your own (default) workspace"
        ))),
    }
}

/// Cancels the pending proposals of a workspace (those to or from `user_id`
/// only, when given) and returns them.
async fn cancel_pending(
    connection: &mut PgConnection,
    workspace_id: Uuid,
    user_id: Option<Uuid>,
) -> StoreResult<Vec<Proposal>> {
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "UPDATE share_proposals SET status = 'cancelled', answered_at = now() \
         WHERE workspace_id = $1 AND status = 'pending' \
           AND ($2::uuid IS NULL OR proposer_id = $2 OR invitee_id = $2) RETURNING id",
    )
    .bind(workspace_id)
    .bind(user_id)
    .fetch_all(&mut *connection)
    .await?;
    proposals_by_id(connection, &ids).await
}

/// The first of `name`, `name (2)`, `name (3)`, … that the user does not use
/// for another workspace and that is a valid name.
async fn free_mount_name(
    connection: &mut PgConnection,
    user_id: Uuid,
    name: &str,
) -> StoreResult<String> {
    let taken: Vec<String> =
        sqlx::query_scalar("SELECT mount_name FROM workspace_members WHERE user_id = $1")
            .bind(user_id)
            .fetch_all(connection)
            .await?;
    (1..=MOUNT_NAME_ATTEMPTS)
        .map(|n| match n {
            1 => name.to_owned(),
            n => format!("{name} ({n})"),
        })
        .find(|candidate| validate_name(candidate).is_ok() && !taken.contains(candidate))
        .ok_or_else(|| {
            StoreError::Refused(format!(
                "you already use {name:?} and its numbered variants; accept with another mount name"
            ))
        })
}

impl PgStore {
    pub(super) async fn find_user_impl(&self, addressee: &str) -> StoreResult<Option<UserRef>> {
        // A user name matches exactly (they are lowercase); an e-mail
        // address in any case. Names come first should both match.
        let row: Option<(Uuid, String)> = sqlx::query_as(
            "SELECT id, username FROM users \
             WHERE NOT disabled AND (username = $1 OR lower(email) = lower($1)) \
             ORDER BY username = $1 DESC LIMIT 1",
        )
        .bind(addressee)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(id, username)| UserRef { id, username }))
    }

    pub(super) async fn workspace_record_impl(
        &self,
        workspace_id: Uuid,
    ) -> StoreResult<Option<WorkspaceRecord>> {
        let row: Option<(Uuid, bool, String, i64)> = sqlx::query_as(concat!(
            "SELECT w.owner_id, w.is_default, w.encryption, ",
            retained_bytes!(),
            " FROM workspaces w WHERE w.id = $1",
        ))
        .bind(workspace_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|(owner_id, is_default, encryption, usage)| {
            Ok(WorkspaceRecord {
                id: workspace_id,
                owner_id,
                is_default,
                encryption: parse_encryption(&encryption)?,
                usage: to_u64(usage),
            })
        })
        .transpose()
    }

    pub(super) async fn member_workspace_impl(
        &self,
        user_id: Uuid,
        workspace_id: Uuid,
    ) -> StoreResult<Option<WorkspaceInfo>> {
        let mut connection = self.pool.acquire().await?;
        member_workspace(&mut connection, user_id, workspace_id).await
    }

    pub(super) async fn create_proposals_impl(
        &self,
        new: NewProposals<'_>,
        audit: &Audit,
    ) -> StoreResult<Vec<Proposal>> {
        let mut tx = self.pool.begin().await?;
        let owner = lock_workspace(&mut tx, new.workspace_id).await?;
        if owner != Some(new.proposer_id) {
            return Err(StoreError::Refused(
                "only the owner of a workspace can share it".into(),
            ));
        }
        let (invitee_ids, addressed_as): (Vec<Uuid>, Vec<&str>) = new
            .invitees
            .iter()
            .map(|(id, addressee)| (*id, addressee.as_str()))
            .unzip();
        let members: Vec<String> = sqlx::query_scalar(
            "SELECT u.username FROM workspace_members m JOIN users u ON u.id = m.user_id \
             WHERE m.workspace_id = $1 AND m.user_id = ANY($2) ORDER BY u.username",
        )
        .bind(new.workspace_id)
        .bind(&invitee_ids)
        .fetch_all(&mut *tx)
        .await?;
        if !members.is_empty() {
            return Err(StoreError::Refused(format!(
                "already members of this workspace: {}",
                members.join(", ")
            )));
        }
        // Offers that expired without an answer make room for new ones.
        sqlx::query(
            "UPDATE share_proposals SET status = 'expired' \
             WHERE workspace_id = $1 AND invitee_id = ANY($2) AND status = 'pending' \
               AND expires_at <= now()",
        )
        .bind(new.workspace_id)
        .bind(&invitee_ids)
        .execute(&mut *tx)
        .await?;
        let ids: Vec<Uuid> = invitee_ids.iter().map(|_| Uuid::new_v4()).collect();
        let inserted = sqlx::query(
            "INSERT INTO share_proposals \
                 (id, workspace_id, proposer_id, invitee_id, addressed_as, role, message) \
             SELECT u.id, $1, $2, u.invitee_id, u.addressed_as, $3, $4 \
             FROM UNNEST($5::uuid[], $6::uuid[], $7::text[]) AS u(id, invitee_id, addressed_as)",
        )
        .bind(new.workspace_id)
        .bind(new.proposer_id)
        .bind(role_name(new.role))
        .bind(new.message)
        .bind(&ids)
        .bind(&invitee_ids)
        .bind(&addressed_as)
        .execute(&mut *tx)
        .await;
        refuse_duplicate(inserted, || {
            StoreError::Refused(
                "a proposal of this workspace to one of these users is still pending; \
                 cancel it first or wait for an answer"
                    .into(),
            )
        })?;
        let mut proposals = proposals_by_id(&mut tx, &ids).await?;
        proposals.sort_by_key(|p| ids.iter().position(|id| *id == p.proposal_id));
        for proposal in &proposals {
            insert_audit(&mut tx, &proposal_audit(audit, proposal)).await?;
        }
        tx.commit().await?;
        Ok(proposals)
    }

    pub(super) async fn proposals_of_impl(&self, user_id: Uuid) -> StoreResult<ProposalList> {
        let rows: Vec<ProposalRow> = sqlx::query_as(concat!(
            proposals!(),
            "WHERE p.invitee_id = $1 OR p.proposer_id = $1 ORDER BY p.created_at DESC, p.id"
        ))
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        let (incoming, outgoing): (Vec<_>, Vec<_>) =
            rows.into_iter().partition(|p| p.invitee_id == user_id);
        Ok(ProposalList {
            incoming: incoming
                .into_iter()
                .map(ProposalRow::into_incoming)
                .collect::<StoreResult<_>>()?,
            outgoing: into_proposals(outgoing)?,
        })
    }

    pub(super) async fn proposal_impl(&self, proposal_id: Uuid) -> StoreResult<Option<Proposal>> {
        let mut connection = self.pool.acquire().await?;
        Ok(proposals_by_id(&mut connection, &[proposal_id])
            .await?
            .pop())
    }

    pub(super) async fn accept_proposal_impl(
        &self,
        proposal_id: Uuid,
        mount_name: Option<&str>,
        mount_parent: Option<Uuid>,
        key_check: Option<&str>,
        audit: &Audit,
    ) -> StoreResult<(Proposal, WorkspaceInfo)> {
        let mut tx = self.pool.begin().await?;
        let workspace_id: Option<Uuid> =
            sqlx::query_scalar("SELECT workspace_id FROM share_proposals WHERE id = $1")
                .bind(proposal_id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(workspace_id) = workspace_id else {
            return Err(StoreError::Refused("there is no such proposal".into()));
        };
        lock_workspace(&mut tx, workspace_id).await?;
        let proposal = proposals_by_id(&mut tx, &[proposal_id])
            .await?
            .pop()
            .ok_or_else(|| StoreError::Corrupt("a locked proposal vanished".into()))?;
        require_pending(&proposal)?;
        require_key_check(&mut tx, &proposal, key_check).await?;
        check_mount_parent(&mut tx, proposal.invitee_id, mount_parent).await?;
        let name = free_mount_name(
            &mut tx,
            proposal.invitee_id,
            mount_name.unwrap_or(&proposal.workspace_name),
        )
        .await?;
        sqlx::query(
            "INSERT INTO workspace_members (workspace_id, user_id, role, mount_name, mount_parent) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(workspace_id)
        .bind(proposal.invitee_id)
        .bind(role_name(proposal.role))
        .bind(&name)
        .bind(mount_parent)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE share_proposals SET status = 'accepted', answered_at = now() WHERE id = $1",
        )
        .bind(proposal_id)
        .execute(&mut *tx)
        .await?;
        let workspace = member_workspace(&mut tx, proposal.invitee_id, workspace_id)
            .await?
            .ok_or_else(|| StoreError::Corrupt("a new membership vanished".into()))?;
        insert_audit(&mut tx, &proposal_audit(audit, &proposal)).await?;
        tx.commit().await?;
        Ok((
            Proposal {
                status: ProposalStatus::Accepted,
                ..proposal
            },
            workspace,
        ))
    }

    pub(super) async fn close_proposal_impl(
        &self,
        proposal_id: Uuid,
        status: ProposalStatus,
        audit: &Audit,
    ) -> StoreResult<Proposal> {
        let mut tx = self.pool.begin().await?;
        let proposal = proposals_by_id(&mut tx, &[proposal_id])
            .await?
            .pop()
            .ok_or_else(|| StoreError::Refused("there is no such proposal".into()))?;
        require_pending(&proposal)?;
        let closed = sqlx::query(
            "UPDATE share_proposals SET status = $2, answered_at = now() \
             WHERE id = $1 AND status = 'pending' AND expires_at > now()",
        )
        .bind(proposal_id)
        .bind(status_name(status))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if closed != 1 {
            return Err(StoreError::Refused(
                "the proposal was answered meanwhile; list proposals to see how".into(),
            ));
        }
        insert_audit(&mut tx, &proposal_audit(audit, &proposal)).await?;
        tx.commit().await?;
        Ok(Proposal { status, ..proposal })
    }

    pub(super) async fn expire_proposals_impl(&self) -> StoreResult<u64> {
        let expired = sqlx::query(
            "UPDATE share_proposals SET status = 'expired' \
             WHERE status = 'pending' AND expires_at <= now()",
        )
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(expired)
    }

    pub(super) async fn all_proposals_impl(
        &self,
        pending_only: bool,
    ) -> StoreResult<Vec<Proposal>> {
        let rows: Vec<ProposalRow> = sqlx::query_as(concat!(
            proposals!(),
            "WHERE NOT $1 OR (p.status = 'pending' AND p.expires_at > now()) \
             ORDER BY p.created_at DESC, p.id"
        ))
        .bind(pending_only)
        .fetch_all(&self.pool)
        .await?;
        into_proposals(rows)
    }

    pub(super) async fn members_impl(&self, workspace_id: Uuid) -> StoreResult<Vec<Member>> {
        let rows: Vec<MemberRow> = sqlx::query_as(concat!(
            members!(),
            "WHERE m.workspace_id = $1 ORDER BY m.role = 'owner' DESC, u.username"
        ))
        .bind(workspace_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(MemberRow::into_member).collect()
    }

    pub(super) async fn set_member_role_impl(
        &self,
        workspace_id: Uuid,
        user_id: Uuid,
        role: Role,
        audit: &Audit,
    ) -> StoreResult<Option<Member>> {
        let mut tx = self.pool.begin().await?;
        lock_workspace(&mut tx, workspace_id).await?;
        let updated = sqlx::query(
            "UPDATE workspace_members SET role = $3 \
             WHERE workspace_id = $1 AND user_id = $2 AND role <> 'owner'",
        )
        .bind(workspace_id)
        .bind(user_id)
        .bind(role_name(role))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated != 1 {
            return Ok(None);
        }
        let row: MemberRow = sqlx::query_as(concat!(
            members!(),
            "WHERE m.workspace_id = $1 AND m.user_id = $2"
        ))
        .bind(workspace_id)
        .bind(user_id)
        .fetch_one(&mut *tx)
        .await?;
        let audit = audit
            .clone()
            .workspace(workspace_id)
            .target(&row.username)
            .detail(format!("role {}", role_name(role)));
        insert_audit(&mut tx, &audit).await?;
        tx.commit().await?;
        row.into_member().map(Some)
    }

    pub(super) async fn remove_members_impl(
        &self,
        workspace_id: Uuid,
        user_id: Option<Uuid>,
        audit: &Audit,
    ) -> StoreResult<Removal> {
        let mut tx = self.pool.begin().await?;
        lock_workspace(&mut tx, workspace_id).await?;
        let removed: Vec<Uuid> = sqlx::query_scalar(
            "DELETE FROM workspace_members \
             WHERE workspace_id = $1 AND role <> 'owner' AND ($2::uuid IS NULL OR user_id = $2) \
             RETURNING user_id",
        )
        .bind(workspace_id)
        .bind(user_id)
        .fetch_all(&mut *tx)
        .await?;
        let cancelled = cancel_pending(&mut tx, workspace_id, user_id).await?;
        // Their links would die anyway (opening one checks the creator's
        // membership); revoking them keeps them dead should they come back.
        sqlx::query(
            "UPDATE public_links SET revoked_at = now() \
             WHERE workspace_id = $1 AND creator_id = ANY($2) AND revoked_at IS NULL",
        )
        .bind(workspace_id)
        .bind(&removed)
        .execute(&mut *tx)
        .await?;
        if !removed.is_empty() {
            let audit = removal_audit(&mut tx, audit, workspace_id, &removed).await?;
            insert_audit(&mut tx, &audit).await?;
        }
        tx.commit().await?;
        Ok(Removal { removed, cancelled })
    }

    pub(super) async fn transfer_ownership_impl(
        &self,
        workspace_id: Uuid,
        from: Uuid,
        to: Uuid,
        audit: &Audit,
    ) -> StoreResult<Vec<Proposal>> {
        let mut tx = self.pool.begin().await?;
        let cancelled = transfer_ownership(&mut tx, workspace_id, from, to, audit).await?;
        tx.commit().await?;
        Ok(cancelled)
    }

    pub(super) async fn update_mount_impl(&self, mount: Mount<'_>) -> StoreResult<WorkspaceInfo> {
        let mut tx = self.pool.begin().await?;
        check_mount_parent(&mut tx, mount.user_id, mount.parent).await?;
        let updated = sqlx::query(
            "UPDATE workspace_members SET mount_name = $3, mount_parent = $4 \
             WHERE workspace_id = $1 AND user_id = $2",
        )
        .bind(mount.workspace_id)
        .bind(mount.user_id)
        .bind(mount.name)
        .bind(mount.parent)
        .execute(&mut *tx)
        .await;
        refuse_duplicate(updated, || {
            StoreError::Refused(mount_name_taken(mount.name))
        })?;
        let workspace = member_workspace(&mut tx, mount.user_id, mount.workspace_id)
            .await?
            .ok_or_else(|| StoreError::Refused("you are not a member of this workspace".into()))?;
        tx.commit().await?;
        Ok(workspace)
    }

    pub(super) async fn transferred_containers_impl(
        &self,
        account: &str,
    ) -> StoreResult<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT w.container FROM workspaces w JOIN users o ON o.id = w.owner_id \
             WHERE w.container_account = $1 AND o.account <> $1 ORDER BY w.container",
        )
        .bind(account)
        .fetch_all(&self.pool)
        .await?)
    }

    pub(super) async fn record_device_queue_impl(
        &self,
        device_id: Uuid,
        queue: &str,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO device_queues (device_id, queue) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(device_id)
        .bind(queue)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(super) async fn device_queues_of_impl(&self, user_id: Uuid) -> StoreResult<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT q.queue FROM device_queues q JOIN devices d ON d.id = q.device_id \
             WHERE d.user_id = $1 ORDER BY q.subscribed_at",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?)
    }

    pub(super) async fn queues_of_device_impl(&self, device_id: Uuid) -> StoreResult<Vec<String>> {
        Ok(
            sqlx::query_scalar("SELECT queue FROM device_queues WHERE device_id = $1")
                .bind(device_id)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    pub(super) async fn forget_device_queues_impl(&self, queues: &[String]) -> StoreResult<()> {
        sqlx::query("DELETE FROM device_queues WHERE queue = ANY($1)")
            .bind(queues)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// Refuses a proposal that is no longer open, saying what became of it.
fn require_pending(proposal: &Proposal) -> StoreResult<()> {
    let state = match proposal.status {
        ProposalStatus::Pending => return Ok(()),
        ProposalStatus::Accepted => "was already accepted",
        ProposalStatus::Declined => "was declined",
        ProposalStatus::Cancelled => "was cancelled",
        ProposalStatus::Expired => "has expired; ask the owner to share again",
    };
    Err(StoreError::Refused(format!("this proposal {state}")))
}
