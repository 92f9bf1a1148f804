//! `proposeShare`: the owner offers a workspace to other users, by user name
//! or e-mail address, with the role they would get.
//!
//! Nothing reaches an addressee's devices until they accept: a proposal only
//! tells them, by a `proposal` event, that there is an offer to read with
//! `listProposals`. Every addressee must be a known user; one unknown
//! address refuses the whole request, so nothing is half-proposed. Only the
//! owner proposes, and ownership itself is never proposed: nobody grants more
//! than they have.

use nimbus_protocol::rpc::{MAX_ADDRESSEES, MAX_PROPOSAL_MESSAGE_CHARS, ProposeShareArgs};
use uuid::Uuid;

use super::membership::{require_grantable, require_owner, require_shareable, to_invitees};
use super::{Reply, ServerState};
use crate::error::OperationError;
use crate::storage::{Audit, AuditAction, Caller, NewProposals};

pub async fn run(
    state: &ServerState,
    caller: &Caller,
    args: ProposeShareArgs,
) -> Result<Reply, OperationError> {
    require_grantable(args.role)?;
    let message = validate_message(args.message.as_deref())?;
    let workspace = require_owner(state, caller, args.workspace_id).await?;
    require_shareable(&workspace)?;
    let invitees = resolve_addressees(state, caller, &args.addressees).await?;
    let proposals = state
        .store
        .create_proposals(
            NewProposals {
                workspace_id: workspace.id,
                proposer_id: caller.user_id,
                invitees: &invitees,
                role: args.role,
                message,
            },
            &Audit::by(caller, AuditAction::SharePropose),
        )
        .await?;
    let events: Vec<_> = to_invitees(&proposals).collect();
    Ok(Reply::json(proposals)?.with_events(events))
}

/// A message is optional; blank is none.
fn validate_message(message: Option<&str>) -> Result<Option<&str>, OperationError> {
    let message = message.map(str::trim).filter(|m| !m.is_empty());
    if message.is_some_and(|m| {
        m.chars().count() > MAX_PROPOSAL_MESSAGE_CHARS
            || m.chars().any(|c| c.is_control() && c != '\n')
    }) {
        return Err(OperationError::BadRequest(format!(
            "a proposal's message has at most {MAX_PROPOSAL_MESSAGE_CHARS} characters and no \
             control characters but line breaks"
        )));
    }
    Ok(message)
}

/// The users the addressees name, each once with the first addressee that
/// named them; refuses unknown ones, all named in the error, and the caller.
async fn resolve_addressees(
    state: &ServerState,
    caller: &Caller,
    addressees: &[String],
) -> Result<Vec<(Uuid, String)>, OperationError> {
    if addressees.is_empty() || addressees.len() > MAX_ADDRESSEES {
        return Err(OperationError::BadRequest(format!(
            "name 1 to {MAX_ADDRESSEES} users (user names or e-mail addresses) to share with"
        )));
    }
    let mut ids = Vec::with_capacity(addressees.len());
    let mut unknown = Vec::new();
    for addressee in addressees.iter().map(|a| a.trim()) {
        match state.store.find_user(addressee).await? {
            Some(user) if user.id == caller.user_id => {
                return Err(OperationError::BadRequest(
                    "you cannot share a workspace with yourself".into(),
                ));
            }
            Some(user) if !ids.iter().any(|(id, _)| *id == user.id) => {
                ids.push((user.id, addressee.to_owned()));
            }
            Some(_) => {}
            None => unknown.push(format!("{addressee:?}")),
        }
    }
    if !unknown.is_empty() {
        return Err(OperationError::BadRequest(format!(
            "no user has the name or e-mail address {}; nothing was proposed",
            unknown.join(", ")
        )));
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_optional_and_bounded() {
        assert_eq!(validate_message(None).unwrap(), None);
        assert_eq!(validate_message(Some("  ")).unwrap(), None);
        assert_eq!(
            validate_message(Some(" photos\nof June ")).unwrap(),
            Some("photos\nof June")
        );
        assert!(validate_message(Some(&"x".repeat(MAX_PROPOSAL_MESSAGE_CHARS + 1))).is_err());
        assert!(validate_message(Some("bell\u{7}")).is_err());
    }
}
