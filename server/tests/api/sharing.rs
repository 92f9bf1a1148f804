//! Sharing between users: proposals, members and roles, revocation that
//! reaches the broker, the owner's quota, ownership and mounts. Every refusal
//! is checked to have changed nothing.

use std::time::Duration;

use nimbus_protocol::notify::{Push, UserEvent};
use nimbus_protocol::rpc::{
    AcceptProposalArgs, CreateWorkspaceArgs, DeviceToken, EncryptionMode, ErrorCode, Member,
    Operation, Proposal, ProposalList, ProposalStatus, ProposeShareArgs, Role, RpcError,
    UpdateMountArgs, WorkspaceInfo,
};
use nimbus_protocol::{ClientError, NotificationListener};
use serde::de::DeserializeOwned;
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use crate::cli::{nimbus_server, stdout};
use crate::helpers::{TestApp, new_file, new_folder, spawn_app};

pub(crate) async fn call<T: DeserializeOwned>(
    app: &TestApp,
    token: &DeviceToken,
    op: Operation,
) -> T {
    let name = op.name();
    app.client
        .call(Some(token), op)
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The refusal of `op`.
pub(crate) async fn refused(app: &TestApp, token: &DeviceToken, op: Operation) -> RpcError {
    let name = op.name();
    match app.client.call::<serde_json::Value>(Some(token), op).await {
        Err(ClientError::Rpc(error)) => error,
        other => panic!("{name} must be refused, got {other:?}"),
    }
}

pub(crate) async fn create_workspace(
    app: &TestApp,
    token: &DeviceToken,
    name: &str,
) -> WorkspaceInfo {
    app.client
        .create_workspace(
            token,
            CreateWorkspaceArgs {
                workspace_id: Uuid::new_v4(),
                name: name.into(),
                encryption: EncryptionMode::None,
                key_check: None,
            },
        )
        .await
        .expect("createWorkspace")
}

fn propose_op(workspace: &WorkspaceInfo, addressees: &[&str], role: Role) -> Operation {
    Operation::ProposeShare(ProposeShareArgs {
        workspace_id: workspace.workspace_id,
        addressees: addressees.iter().map(|a| a.to_string()).collect(),
        role,
        message: None,
    })
}

pub(crate) async fn propose(
    app: &TestApp,
    token: &DeviceToken,
    workspace: &WorkspaceInfo,
    addressee: &str,
    role: Role,
) -> Proposal {
    let mut proposals: Vec<Proposal> =
        call(app, token, propose_op(workspace, &[addressee], role)).await;
    assert_eq!(proposals.len(), 1);
    proposals.pop().unwrap()
}

pub(crate) fn accept_op(proposal: &Proposal) -> Operation {
    accept_with_key_check(proposal, None)
}

/// `acceptProposal` sending `key_check`, as a device that derived the keys
/// of an end-to-end encrypted workspace does.
fn accept_with_key_check(proposal: &Proposal, key_check: Option<&str>) -> Operation {
    Operation::AcceptProposal(AcceptProposalArgs {
        proposal_id: proposal.proposal_id,
        mount_name: None,
        mount_parent: None,
        key_check: key_check.map(str::to_owned),
    })
}

/// Shares `workspace` with `invitee`, who accepts; the invitee's mount.
pub(crate) async fn share(
    app: &TestApp,
    owner: &DeviceToken,
    workspace: &WorkspaceInfo,
    invitee: (&str, &DeviceToken),
    role: Role,
) -> WorkspaceInfo {
    let proposal = propose(app, owner, workspace, invitee.0, role).await;
    call(app, invitee.1, accept_op(&proposal)).await
}

async fn members(app: &TestApp, token: &DeviceToken, workspace_id: Uuid) -> Vec<(String, Role)> {
    let members: Vec<Member> = call(app, token, Operation::ListMembers { workspace_id }).await;
    members.into_iter().map(|m| (m.username, m.role)).collect()
}

pub(crate) async fn user_id(app: &TestApp, token: &DeviceToken) -> Uuid {
    app.client.get_account(token).await.unwrap().user_id
}

async fn database(app: &TestApp) -> PgConnection {
    PgConnection::connect(&app.settings.database_url)
        .await
        .unwrap()
}

async fn next_push(listener: &mut NotificationListener) -> Push {
    tokio::time::timeout(Duration::from_secs(5), listener.next_push())
        .await
        .expect("a push message within 5 s")
        .expect("the listener is open")
}

/// Asserts that bob's queue is not bound to `workspace` of alice's: her
/// commit there is published before a proposal of `other` to bob, so a
/// queue still bound would deliver the commit first.
async fn assert_not_bound(
    app: &TestApp,
    alice: &DeviceToken,
    workspace: &WorkspaceInfo,
    other: &WorkspaceInfo,
    bob_hears: &mut NotificationListener,
) {
    app.commit(
        alice,
        workspace,
        vec![new_file(None, "after unbinding", 3, 10)],
    )
    .await;
    let marker = propose(app, alice, other, "bob", Role::Viewer).await;
    assert_eq!(
        next_push(bob_hears).await,
        Push::User(UserEvent::Proposal {
            proposal_id: marker.proposal_id,
            workspace_id: other.workspace_id,
            status: ProposalStatus::Pending,
        })
    );
}

/// The next user event, passing over commit notifications of other workspaces.
async fn next_event(listener: &mut NotificationListener) -> UserEvent {
    loop {
        if let Push::User(event) = next_push(listener).await {
            return event;
        }
    }
}

#[tokio::test]
async fn proposals_are_accepted_and_both_users_see_the_workspace_and_its_changes() {
    let app = spawn_app().await;
    let (alice, _) = app.user_with_device("alice").await;
    let (bob, _) = app.user_with_device("bob").await;
    let (alice_id, bob_id) = (user_id(&app, &alice).await, user_id(&app, &bob).await);
    let project = create_workspace(&app, &alice, "Project").await;
    // Bob has a "Project" of his own: the accepted mount must not clash.
    create_workspace(&app, &bob, "Project").await;
    let mut bob_hears = app.client.listen(&bob).await.unwrap();
    let mut alice_hears = app.client.listen(&alice).await.unwrap();

    let proposals: Vec<Proposal> = call(
        &app,
        &alice,
        Operation::ProposeShare(ProposeShareArgs {
            workspace_id: project.workspace_id,
            addressees: vec!["BOB@example.org".into()],
            role: Role::Editor,
            message: Some("our plans".into()),
        }),
    )
    .await;
    let proposal = &proposals[0];
    assert_eq!(
        (proposal.invitee_id, proposal.proposer_id),
        (bob_id, alice_id)
    );
    assert_eq!(proposal.status, ProposalStatus::Pending);
    assert_eq!(
        next_event(&mut bob_hears).await,
        UserEvent::Proposal {
            proposal_id: proposal.proposal_id,
            workspace_id: project.workspace_id,
            status: ProposalStatus::Pending,
        }
    );
    let listed: ProposalList = call(&app, &bob, Operation::ListProposals).await;
    assert_eq!(listed.incoming.len(), 1);
    assert!(listed.outgoing.is_empty());
    let incoming = &listed.incoming[0];
    assert_eq!(incoming.workspace_name, "Project");
    assert_eq!(incoming.proposer_name, "alice");
    assert_eq!(incoming.message.as_deref(), Some("our plans"));
    let outgoing: ProposalList = call(&app, &alice, Operation::ListProposals).await;
    assert_eq!(outgoing.outgoing[0].proposal_id, proposal.proposal_id);

    // Nothing reaches bob before he accepts.
    let early = refused(
        &app,
        &bob,
        Operation::GetChanges(nimbus_protocol::rpc::GetChangesArgs {
            workspace_id: project.workspace_id,
            since: 0,
            page: None,
            limit: None,
        }),
    )
    .await;
    assert_eq!(early.code, ErrorCode::Forbidden);

    let mount: WorkspaceInfo = call(&app, &bob, accept_op(proposal)).await;
    assert_eq!(mount.workspace_id, project.workspace_id);
    assert_eq!(mount.name, "Project (2)");
    assert_eq!((mount.role, mount.owner_id), (Role::Editor, alice_id));
    assert_eq!(mount.storage_account, project.storage_account);
    assert_eq!(
        next_event(&mut bob_hears).await,
        UserEvent::Access {
            user_id: bob_id,
            workspace_id: project.workspace_id,
            role: Some(Role::Editor),
        }
    );
    assert_eq!(
        next_event(&mut alice_hears).await,
        UserEvent::Proposal {
            proposal_id: proposal.proposal_id,
            workspace_id: project.workspace_id,
            status: ProposalStatus::Accepted,
        }
    );
    assert_eq!(
        members(&app, &bob, project.workspace_id).await,
        [("alice".into(), Role::Owner), ("bob".into(), Role::Editor)]
    );

    // Both see each other's changes, and bob's queue was bound at accept.
    app.commit(&alice, &project, vec![new_file(None, "plan.txt", 1, 10)])
        .await;
    loop {
        match next_push(&mut bob_hears).await {
            Push::Commit(commit) => {
                assert_eq!(commit.workspace_id, project.workspace_id);
                break;
            }
            Push::User(UserEvent::Members { .. }) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    let seen = app
        .changes_since(&bob, project.workspace_id, 0)
        .await
        .unwrap();
    assert_eq!(seen.items[0].name, "plan.txt");
    app.commit(&bob, &mount, vec![new_file(None, "notes.txt", 2, 20)])
        .await;
    let seen = app
        .changes_since(&alice, project.workspace_id, 1)
        .await
        .unwrap();
    assert_eq!(seen.items[0].name, "notes.txt");
    let alice_workspaces = app.client.get_workspaces(&alice).await.unwrap();
    assert!(alice_workspaces.iter().any(|w| w.name == "Project"));
    app.stop().await;
}

#[tokio::test]
async fn declined_proposals_can_be_proposed_again_and_closed_ones_stay_closed() {
    let app = spawn_app().await;
    let (alice, _) = app.user_with_device("alice").await;
    let (bob, _) = app.user_with_device("bob").await;
    let project = create_workspace(&app, &alice, "Project").await;

    let first = propose(&app, &alice, &project, "bob", Role::Viewer).await;
    let duplicate = refused(&app, &alice, propose_op(&project, &["bob"], Role::Editor)).await;
    assert!(duplicate.message.contains("still pending"), "{duplicate:?}");
    let declined: Proposal = call(
        &app,
        &bob,
        Operation::DeclineProposal {
            proposal_id: first.proposal_id,
        },
    )
    .await;
    assert_eq!(declined.status, ProposalStatus::Declined);
    let late = refused(&app, &bob, accept_op(&first)).await;
    assert_eq!(late.code, ErrorCode::BadRequest);
    assert!(late.message.contains("declined"), "{late:?}");

    // Alice may ask again; this time she withdraws it.
    let second = propose(&app, &alice, &project, "bob", Role::Viewer).await;
    assert_ne!(second.proposal_id, first.proposal_id);
    // Only the invitee answers and only the proposer (or owner) cancels.
    let not_bobs = refused(
        &app,
        &bob,
        Operation::CancelProposal {
            proposal_id: second.proposal_id,
        },
    )
    .await;
    assert_eq!(not_bobs.code, ErrorCode::Forbidden);
    let not_alices = refused(&app, &alice, accept_op(&second)).await;
    assert_eq!(not_alices.code, ErrorCode::Forbidden);
    let cancelled: Proposal = call(
        &app,
        &alice,
        Operation::CancelProposal {
            proposal_id: second.proposal_id,
        },
    )
    .await;
    assert_eq!(cancelled.status, ProposalStatus::Cancelled);
    let after_cancel = refused(&app, &bob, accept_op(&second)).await;
    assert!(
        after_cancel.message.contains("cancelled"),
        "{after_cancel:?}"
    );

    let listed: ProposalList = call(&app, &bob, Operation::ListProposals).await;
    let statuses: Vec<ProposalStatus> = listed.incoming.iter().map(|p| p.status).collect();
    assert_eq!(
        statuses,
        [ProposalStatus::Cancelled, ProposalStatus::Declined]
    );
    assert_eq!(app.client.get_workspaces(&bob).await.unwrap().len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn expired_proposals_are_listed_as_expired_and_refused() {
    let app = spawn_app().await;
    let (alice, _) = app.user_with_device("alice").await;
    let (bob, _) = app.user_with_device("bob").await;
    let project = create_workspace(&app, &alice, "Project").await;
    let proposal = propose(&app, &alice, &project, "bob", Role::Editor).await;
    let expires_in = proposal.expires_at - proposal.created_at;
    assert!(
        (expires_in - 30 * 24 * 3600 * 1000).abs() < 5_000,
        "{expires_in}"
    );

    sqlx::query("UPDATE share_proposals SET expires_at = now() - interval '1 second'")
        .execute(&mut database(&app).await)
        .await
        .unwrap();
    let listed: ProposalList = call(&app, &bob, Operation::ListProposals).await;
    assert_eq!(listed.incoming[0].status, ProposalStatus::Expired);
    let error = refused(&app, &bob, accept_op(&proposal)).await;
    assert_eq!(error.code, ErrorCode::BadRequest);
    assert!(error.message.contains("expired"), "{error:?}");
    assert_eq!(app.client.get_workspaces(&bob).await.unwrap().len(), 1);
    assert_eq!(members(&app, &alice, project.workspace_id).await.len(), 1);

    // The housekeeping marks it; a new proposal takes its place.
    assert_eq!(app.store.expire_proposals().await.unwrap(), 1);
    let again = propose(&app, &alice, &project, "bob", Role::Editor).await;
    let joined: WorkspaceInfo = call(&app, &bob, accept_op(&again)).await;
    assert_eq!(joined.role, Role::Editor);
    app.stop().await;
}

#[tokio::test]
async fn bad_proposals_are_refused_and_write_nothing() {
    let app = spawn_app().await;
    let (alice, default) = app.user_with_device("alice").await;
    let (bob, _) = app.user_with_device("bob").await;
    let project = create_workspace(&app, &alice, "Project").await;

    let unknown = refused(
        &app,
        &alice,
        propose_op(&project, &["bob", "nobody@example.org"], Role::Viewer),
    )
    .await;
    assert_eq!(unknown.code, ErrorCode::BadRequest);
    assert!(
        unknown.message.contains("nobody@example.org"),
        "{unknown:?}"
    );
    let owner = refused(&app, &alice, propose_op(&project, &["bob"], Role::Owner)).await;
    assert!(owner.message.contains("transferOwnership"), "{owner:?}");
    let itself = refused(&app, &alice, propose_op(&project, &["alice"], Role::Viewer)).await;
    assert!(itself.message.contains("yourself"), "{itself:?}");
    let defaulted = refused(&app, &alice, propose_op(&default, &["bob"], Role::Viewer)).await;
    assert!(
        defaulted.message.contains("default workspace"),
        "{defaulted:?}"
    );
    // Bob cannot share alice's workspace: it is not even his to see.
    let foreign = refused(&app, &bob, propose_op(&project, &["alice"], Role::Viewer)).await;
    assert_eq!(foreign.code, ErrorCode::Forbidden);

    for token in [&alice, &bob] {
        let listed: ProposalList = call(&app, token, Operation::ListProposals).await;
        assert_eq!(listed, ProposalList::default());
    }
    app.stop().await;
}

#[tokio::test]
async fn an_encrypted_workspace_is_accepted_only_with_its_key_check() {
    let app = spawn_app().await;
    let (alice, _) = app.user_with_device("alice").await;
    let (bob, _) = app.user_with_device("bob").await;
    let key_check = "ab".repeat(16);
    let secrets = app
        .client
        .create_workspace(
            &alice,
            CreateWorkspaceArgs {
                workspace_id: Uuid::new_v4(),
                name: "Secrets".into(),
                encryption: EncryptionMode::Client,
                key_check: Some(key_check.clone()),
            },
        )
        .await
        .unwrap();
    let other = create_workspace(&app, &alice, "Other").await;
    let proposal = propose(&app, &alice, &secrets, "bob", Role::Editor).await;
    // The key check is for the invitee's device only.
    assert_eq!(
        (proposal.encryption, proposal.key_check.as_deref()),
        (EncryptionMode::Client, None)
    );
    let incoming: ProposalList = call(&app, &bob, Operation::ListProposals).await;
    assert_eq!(
        (
            incoming.incoming[0].encryption,
            incoming.incoming[0].key_check.as_deref()
        ),
        (EncryptionMode::Client, Some(key_check.as_str()))
    );
    let outgoing: ProposalList = call(&app, &alice, Operation::ListProposals).await;
    assert_eq!(outgoing.outgoing[0].key_check, None);
    let mut bob_hears = app.client.listen(&bob).await.unwrap();

    // Without a key check (the web UI, REST) or with another one: refused,
    // and nothing changes.
    let missing = refused(&app, &bob, accept_op(&proposal)).await;
    assert_eq!(missing.code, ErrorCode::BadRequest);
    assert!(
        missing.message.contains(&format!(
            "accept it from the desktop client (`nimbus share accept {}`)",
            proposal.proposal_id
        )) && missing.message.contains("nothing was accepted"),
        "{missing:?}"
    );
    let wrong = refused(
        &app,
        &bob,
        accept_with_key_check(&proposal, Some(&"cd".repeat(16))),
    )
    .await;
    assert_eq!(wrong.code, ErrorCode::BadRequest);
    assert!(
        wrong.message.contains("not the passphrase") && wrong.message.contains("nothing"),
        "{wrong:?}"
    );
    let listed: ProposalList = call(&app, &bob, Operation::ListProposals).await;
    assert_eq!(listed.incoming[0].status, ProposalStatus::Pending);
    assert_eq!(app.client.get_workspaces(&bob).await.unwrap().len(), 1);
    assert_eq!(
        members(&app, &alice, secrets.workspace_id).await,
        [("alice".into(), Role::Owner)]
    );
    // No binding either.
    assert_not_bound(&app, &alice, &secrets, &other, &mut bob_hears).await;

    // The right key check makes bob an editor who sees the workspace's check.
    let mount: WorkspaceInfo = call(
        &app,
        &bob,
        accept_with_key_check(&proposal, Some(&key_check)),
    )
    .await;
    assert_eq!(
        (mount.role, mount.encryption, mount.key_check.as_deref()),
        (
            Role::Editor,
            EncryptionMode::Client,
            Some(key_check.as_str())
        )
    );
    let seen = app
        .changes_since(&bob, secrets.workspace_id, 0)
        .await
        .unwrap();
    assert_eq!(seen.items[0].name, "after unbinding");
    app.stop().await;
}

#[tokio::test]
async fn only_the_owner_manages_members_and_nobody_grants_ownership() {
    let app = spawn_app().await;
    let (alice, _) = app.user_with_device("alice").await;
    let (bob, _) = app.user_with_device("bob").await;
    let (carol, _) = app.user_with_device("carol").await;
    let (dave, _) = app.user_with_device("dave").await;
    let bob_id = user_id(&app, &bob).await;
    let alice_id = user_id(&app, &alice).await;
    let project = create_workspace(&app, &alice, "Project").await;
    share(&app, &alice, &project, ("bob", &bob), Role::Viewer).await;
    share(&app, &alice, &project, ("carol", &carol), Role::Editor).await;
    let before = members(&app, &alice, project.workspace_id).await;
    let id = project.workspace_id;

    for member in [&bob, &carol] {
        let proposing = refused(&app, member, propose_op(&project, &["dave"], Role::Viewer)).await;
        assert_eq!(proposing.code, ErrorCode::Forbidden, "{proposing:?}");
        assert!(
            proposing.message.contains("only the owner"),
            "{proposing:?}"
        );
    }
    let operations = |target| {
        [
            Operation::RemoveMember {
                workspace_id: id,
                user_id: target,
            },
            Operation::SetMemberRole {
                workspace_id: id,
                user_id: target,
                role: Role::Editor,
            },
            Operation::TransferOwnership {
                workspace_id: id,
                user_id: target,
            },
            Operation::UnshareWorkspace { workspace_id: id },
        ]
    };
    for op in operations(bob_id) {
        assert_eq!(refused(&app, &carol, op).await.code, ErrorCode::Forbidden);
    }
    for op in operations(alice_id) {
        assert_eq!(refused(&app, &dave, op).await.code, ErrorCode::Forbidden);
    }
    let to_owner = refused(
        &app,
        &alice,
        Operation::SetMemberRole {
            workspace_id: id,
            user_id: bob_id,
            role: Role::Owner,
        },
    )
    .await;
    assert_eq!(to_owner.code, ErrorCode::BadRequest);
    let self_removal = refused(
        &app,
        &alice,
        Operation::RemoveMember {
            workspace_id: id,
            user_id: alice_id,
        },
    )
    .await;
    assert_eq!(self_removal.code, ErrorCode::BadRequest);
    let outsider = refused(&app, &dave, Operation::ListMembers { workspace_id: id }).await;
    assert_eq!(outsider.code, ErrorCode::Forbidden);
    assert_eq!(members(&app, &alice, id).await, before);
    let dave_listed: ProposalList = call(&app, &dave, Operation::ListProposals).await;
    assert!(dave_listed.incoming.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn viewers_cannot_commit_and_role_changes_apply_to_the_next_commit() {
    let app = spawn_app().await;
    let (alice, _) = app.user_with_device("alice").await;
    let (bob, _) = app.user_with_device("bob").await;
    let bob_id = user_id(&app, &bob).await;
    let project = create_workspace(&app, &alice, "Project").await;
    let mount = share(&app, &alice, &project, ("bob", &bob), Role::Viewer).await;
    app.commit(&alice, &project, vec![new_file(None, "a.txt", 1, 10)])
        .await;

    let commit = |name: &str, seed| {
        Operation::Commit(nimbus_protocol::rpc::CommitArgs {
            workspace_id: mount.workspace_id,
            items: vec![new_file(None, name, seed, 10)],
        })
    };
    let viewer = refused(&app, &bob, commit("b.txt", 2)).await;
    assert_eq!(viewer.code, ErrorCode::Forbidden);
    // Reading is what a viewer may do.
    let read = app
        .changes_since(&bob, project.workspace_id, 0)
        .await
        .unwrap();
    assert_eq!((read.items.len(), read.revision), (1, 1));

    let set_role = |role| Operation::SetMemberRole {
        workspace_id: project.workspace_id,
        user_id: bob_id,
        role,
    };
    let promoted: Member = call(&app, &alice, set_role(Role::Editor)).await;
    assert_eq!(promoted.role, Role::Editor);
    let _: nimbus_protocol::rpc::CommitReply = call(&app, &bob, commit("b.txt", 2)).await;
    let _: Member = call(&app, &alice, set_role(Role::Viewer)).await;
    let demoted = refused(&app, &bob, commit("c.txt", 3)).await;
    assert_eq!(demoted.code, ErrorCode::Forbidden);
    let after = app
        .changes_since(&alice, project.workspace_id, 0)
        .await
        .unwrap();
    assert_eq!(after.revision, 2, "the viewer's commits wrote nothing");
    app.stop().await;
}

#[tokio::test]
async fn a_removed_member_loses_access_and_push_at_once_and_nothing_is_deleted() {
    let app = spawn_app().await;
    let (alice, _) = app.user_with_device("alice").await;
    let (bob, _) = app.user_with_device("bob").await;
    let bob_id = user_id(&app, &bob).await;
    let project = create_workspace(&app, &alice, "Project").await;
    let other = create_workspace(&app, &alice, "Other").await;
    let mount = share(&app, &alice, &project, ("bob", &bob), Role::Editor).await;
    // Subscribed as a member: the queue is bound to the workspace.
    let mut bob_hears = app.client.listen(&bob).await.unwrap();
    app.commit(&bob, &mount, vec![new_file(None, "bob.txt", 1, 10)])
        .await;
    assert!(matches!(next_push(&mut bob_hears).await, Push::Commit(_)));
    let used_before = app.client.get_account(&alice).await.unwrap().quota_used;

    let () = call(
        &app,
        &alice,
        Operation::RemoveMember {
            workspace_id: project.workspace_id,
            user_id: bob_id,
        },
    )
    .await;
    assert_eq!(
        next_event(&mut bob_hears).await,
        UserEvent::Access {
            user_id: bob_id,
            workspace_id: project.workspace_id,
            role: None,
        }
    );
    let reading = app.changes_since(&bob, project.workspace_id, 0).await;
    assert_eq!(reading.unwrap_err().rpc_code(), Some(ErrorCode::Forbidden));
    let writing = refused(
        &app,
        &bob,
        Operation::Commit(nimbus_protocol::rpc::CommitArgs {
            workspace_id: project.workspace_id,
            items: vec![new_file(None, "late.txt", 2, 10)],
        }),
    )
    .await;
    assert_eq!(writing.code, ErrorCode::Forbidden);
    let again = refused(
        &app,
        &alice,
        Operation::RemoveMember {
            workspace_id: project.workspace_id,
            user_id: bob_id,
        },
    )
    .await;
    assert!(again.message.contains("not a member"), "{again:?}");

    assert_not_bound(&app, &alice, &project, &other, &mut bob_hears).await;

    let owner_view = app
        .changes_since(&alice, project.workspace_id, 0)
        .await
        .unwrap();
    let names: Vec<&str> = owner_view.items.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["bob.txt", "after unbinding"]);
    assert_eq!(
        app.client.get_account(&alice).await.unwrap().quota_used,
        used_before + 10
    );
    assert_eq!(
        members(&app, &alice, project.workspace_id).await,
        [("alice".into(), Role::Owner)]
    );
    let listed: ProposalList = call(&app, &bob, Operation::ListProposals).await;
    assert!(
        listed
            .incoming
            .iter()
            .all(|p| p.workspace_id != project.workspace_id || p.status != ProposalStatus::Pending)
    );
    app.stop().await;
}

#[tokio::test]
async fn members_leave_and_unsharing_ends_every_membership_and_proposal() {
    let app = spawn_app().await;
    let (alice, _) = app.user_with_device("alice").await;
    let (bob, _) = app.user_with_device("bob").await;
    let (carol, _) = app.user_with_device("carol").await;
    let (dave, _) = app.user_with_device("dave").await;
    let project = create_workspace(&app, &alice, "Project").await;
    let id = project.workspace_id;
    share(&app, &alice, &project, ("bob", &bob), Role::Editor).await;
    share(&app, &alice, &project, ("carol", &carol), Role::Viewer).await;
    let pending = propose(&app, &alice, &project, "dave", Role::Viewer).await;
    app.commit(&alice, &project, vec![new_file(None, "keep.txt", 1, 10)])
        .await;

    let owner_leaving = refused(&app, &alice, Operation::LeaveWorkspace { workspace_id: id }).await;
    assert_eq!(owner_leaving.code, ErrorCode::BadRequest);
    assert!(owner_leaving.message.contains("owner cannot leave"));
    let () = call(&app, &bob, Operation::LeaveWorkspace { workspace_id: id }).await;
    assert!(app.changes_since(&bob, id, 0).await.is_err());
    assert_eq!(
        members(&app, &alice, id).await,
        [
            ("alice".into(), Role::Owner),
            ("carol".into(), Role::Viewer)
        ]
    );

    let mut dave_hears = app.client.listen(&dave).await.unwrap();
    let () = call(
        &app,
        &alice,
        Operation::UnshareWorkspace { workspace_id: id },
    )
    .await;
    assert_eq!(
        next_event(&mut dave_hears).await,
        UserEvent::Proposal {
            proposal_id: pending.proposal_id,
            workspace_id: id,
            status: ProposalStatus::Cancelled,
        }
    );
    assert!(app.changes_since(&carol, id, 0).await.is_err());
    assert_eq!(
        members(&app, &alice, id).await,
        [("alice".into(), Role::Owner)]
    );
    let refused_accept = refused(&app, &dave, accept_op(&pending)).await;
    assert!(refused_accept.message.contains("cancelled"));
    // The workspace stays the owner's, with everything in it.
    let kept = app.changes_since(&alice, id, 0).await.unwrap();
    assert_eq!(kept.items[0].name, "keep.txt");
    let alice_workspaces = app.client.get_workspaces(&alice).await.unwrap();
    assert!(alice_workspaces.iter().any(|w| w.workspace_id == id));
    app.stop().await;
}

#[tokio::test]
async fn an_editor_over_the_owners_quota_is_told_so_and_writes_nothing() {
    let app = spawn_app().await;
    let (alice, _) = app.user_with_device("alice").await;
    let (bob, _) = app.user_with_device("bob").await;
    let project = create_workspace(&app, &alice, "Project").await;
    let mount = share(&app, &alice, &project, ("bob", &bob), Role::Editor).await;
    sqlx::query("UPDATE users SET quota_limit = 1000 WHERE username = 'alice'")
        .execute(&mut database(&app).await)
        .await
        .unwrap();
    app.commit(&bob, &mount, vec![new_file(None, "fits.txt", 1, 600)])
        .await;

    let commit = |name: &str| {
        Operation::Commit(nimbus_protocol::rpc::CommitArgs {
            workspace_id: project.workspace_id,
            items: vec![new_file(None, name, 2, 600)],
        })
    };
    let error = refused(&app, &bob, commit("too-much.txt")).await;
    assert_eq!(error.code, ErrorCode::OwnerQuotaExceeded);
    assert!(error.message.contains("owner"), "{error:?}");
    assert!(error.message.contains("nothing was written"), "{error:?}");
    // The owner over her own quota gets the plain quota error.
    let own = refused(&app, &alice, commit("mine.txt")).await;
    assert_eq!(own.code, ErrorCode::QuotaExceeded);

    let after = app
        .changes_since(&alice, project.workspace_id, 0)
        .await
        .unwrap();
    assert_eq!((after.revision, after.items.len()), (1, 1));
    assert_eq!(
        app.client.get_account(&alice).await.unwrap().quota_used,
        600
    );
    assert_eq!(app.client.get_account(&bob).await.unwrap().quota_used, 0);
    app.stop().await;
}

#[tokio::test]
async fn ownership_goes_only_to_a_member_with_room_and_the_old_owner_stays_editor() {
    let app = spawn_app().await;
    let (alice, _) = app.user_with_device("alice").await;
    let (bob, _) = app.user_with_device("bob").await;
    let (carol, _) = app.user_with_device("carol").await;
    let (alice_id, bob_id, carol_id) = (
        user_id(&app, &alice).await,
        user_id(&app, &bob).await,
        user_id(&app, &carol).await,
    );
    let project = create_workspace(&app, &alice, "Project").await;
    let id = project.workspace_id;
    app.commit(&alice, &project, vec![new_file(None, "big.bin", 1, 5000)])
        .await;
    share(&app, &alice, &project, ("bob", &bob), Role::Viewer).await;
    let pending = propose(&app, &alice, &project, "carol", Role::Editor).await;
    sqlx::query("UPDATE users SET quota_limit = 4000 WHERE username = 'bob'")
        .execute(&mut database(&app).await)
        .await
        .unwrap();
    let transfer = |to| Operation::TransferOwnership {
        workspace_id: id,
        user_id: to,
    };

    let no_room = refused(&app, &alice, transfer(bob_id)).await;
    assert_eq!(no_room.code, ErrorCode::BadRequest);
    assert!(no_room.message.contains("quota"), "{no_room:?}");
    let not_member = refused(&app, &alice, transfer(carol_id)).await;
    assert!(not_member.message.contains("member"), "{not_member:?}");
    let before = members(&app, &alice, id).await;
    assert_eq!(before[0], ("alice".into(), Role::Owner));
    assert_eq!(
        app.client.get_account(&alice).await.unwrap().quota_used,
        5000
    );
    assert_eq!(app.client.get_account(&bob).await.unwrap().quota_used, 0);

    sqlx::query("UPDATE users SET quota_limit = 10000 WHERE username = 'bob'")
        .execute(&mut database(&app).await)
        .await
        .unwrap();
    let after: Vec<Member> = call(&app, &alice, transfer(bob_id)).await;
    let roles: Vec<(Uuid, Role)> = after.iter().map(|m| (m.user_id, m.role)).collect();
    assert_eq!(roles, [(bob_id, Role::Owner), (alice_id, Role::Editor)]);
    assert_eq!(app.client.get_account(&alice).await.unwrap().quota_used, 0);
    assert_eq!(app.client.get_account(&bob).await.unwrap().quota_used, 5000);
    // Alice can no longer grant: her pending proposal ended with her ownership.
    let carols = refused(&app, &carol, accept_op(&pending)).await;
    assert!(carols.message.contains("cancelled"), "{carols:?}");
    let removing = refused(
        &app,
        &alice,
        Operation::RemoveMember {
            workspace_id: id,
            user_id: bob_id,
        },
    )
    .await;
    assert_eq!(removing.code, ErrorCode::Forbidden);
    // The bytes stay where they are; the new owner is charged for new ones.
    let bobs_view = app.default_workspace(&bob).await;
    let mount = app
        .client
        .get_workspaces(&bob)
        .await
        .unwrap()
        .into_iter()
        .find(|w| w.workspace_id == id)
        .unwrap();
    assert_eq!(mount.storage_account, project.storage_account);
    assert_ne!(mount.storage_account, bobs_view.storage_account);
    // Administering alice's account no longer opens the container.
    let alices_account = app.client.get_account(&alice).await.unwrap();
    assert_eq!(
        alices_account.membership_only_containers,
        [project.container.as_str()]
    );
    assert!(
        app.client
            .get_account(&bob)
            .await
            .unwrap()
            .membership_only_containers
            .is_empty()
    );
    app.commit(&alice, &project, vec![new_file(None, "more.bin", 2, 100)])
        .await;
    assert_eq!(app.client.get_account(&bob).await.unwrap().quota_used, 5100);
    let () = call(
        &app,
        &bob,
        Operation::RemoveMember {
            workspace_id: id,
            user_id: alice_id,
        },
    )
    .await;
    assert!(app.changes_since(&alice, id, 0).await.is_err());
    app.stop().await;
}

#[tokio::test]
async fn each_member_names_and_places_their_own_mount() {
    let app = spawn_app().await;
    let (alice, _) = app.user_with_device("alice").await;
    let (bob, bob_default) = app.user_with_device("bob").await;
    let project = create_workspace(&app, &alice, "Project").await;
    let alices_folder = new_folder(None, "inside");
    app.commit(&alice, &project, vec![alices_folder.clone()])
        .await;
    let shared = new_folder(None, "Shared with me");
    app.commit(&bob, &bob_default, vec![shared.clone()]).await;
    let proposal = propose(&app, &alice, &project, "bob", Role::Viewer).await;
    let mount: WorkspaceInfo = call(
        &app,
        &bob,
        Operation::AcceptProposal(AcceptProposalArgs {
            proposal_id: proposal.proposal_id,
            mount_name: Some("Alice's plans".into()),
            mount_parent: Some(shared.id),
            key_check: None,
        }),
    )
    .await;
    assert_eq!(mount.name, "Alice's plans");
    assert_eq!(mount.mount_parent, Some(shared.id));

    let update = |name: &str, parent| {
        Operation::UpdateMount(UpdateMountArgs {
            workspace_id: project.workspace_id,
            mount_name: name.into(),
            mount_parent: parent,
        })
    };
    let moved: WorkspaceInfo = call(&app, &bob, update("Plans", None)).await;
    assert_eq!((moved.name.as_str(), moved.mount_parent), ("Plans", None));
    let alices = app
        .client
        .get_workspaces(&alice)
        .await
        .unwrap()
        .into_iter()
        .find(|w| w.workspace_id == project.workspace_id)
        .unwrap();
    assert_eq!(
        (alices.name.as_str(), alices.mount_parent),
        ("Project", None)
    );

    // Mounts go into one's own files only, under a name not in use: not
    // into a shared workspace (shares do not nest), and not into a folder
    // one cannot see.
    let inside_share = refused(&app, &bob, update("Plans", Some(alices_folder.id))).await;
    assert!(
        inside_share.message.contains("shares do not nest"),
        "{inside_share:?}"
    );
    let carols = new_folder(None, "carol's own");
    let (carol, carol_default) = app.user_with_device("carol").await;
    app.commit(&carol, &carol_default, vec![carols.clone()])
        .await;
    let unseen = refused(&app, &bob, update("Plans", Some(carols.id))).await;
    assert!(
        unseen.message.contains("not a folder of your own") && !unseen.message.contains("nest"),
        "{unseen:?}"
    );
    let clash = refused(&app, &bob, update("Nimbus", None)).await;
    assert!(clash.message.contains("already have"), "{clash:?}");
    let bad = refused(&app, &bob, update("a/b", None)).await;
    assert_eq!(bad.code, ErrorCode::BadRequest);
    let mine = app
        .client
        .get_workspaces(&bob)
        .await
        .unwrap()
        .into_iter()
        .find(|w| w.workspace_id == project.workspace_id)
        .unwrap();
    assert_eq!((mine.name.as_str(), mine.mount_parent), ("Plans", None));
    app.stop().await;
}

#[tokio::test]
async fn administrators_list_and_cancel_proposals_and_see_what_users_share() {
    let app = spawn_app().await;
    let url = app.settings.database_url.clone();
    let (alice, _) = app.user_with_device("alice").await;
    let (bob, _) = app.user_with_device("bob").await;
    app.add_user("carol").await;
    let project = create_workspace(&app, &alice, "Project").await;
    share(&app, &alice, &project, ("bob", &bob), Role::Viewer).await;
    let pending = propose(&app, &alice, &project, "carol", Role::Editor).await;

    let all = stdout(&nimbus_server(&url, &["share", "proposals"], None));
    assert_eq!(all.lines().count(), 3, "{all}");
    let open = stdout(&nimbus_server(
        &url,
        &["share", "proposals", "--pending"],
        None,
    ));
    assert!(
        open.contains(&pending.proposal_id.to_string()) && open.contains("carol"),
        "{open}"
    );
    assert_eq!(open.lines().count(), 2, "{open}");

    let id = pending.proposal_id.to_string();
    let cancelled = stdout(&nimbus_server(
        &url,
        &["share", "cancel-proposal", &id],
        None,
    ));
    assert!(cancelled.contains("cancelled"), "{cancelled}");
    let twice = nimbus_server(&url, &["share", "cancel-proposal", &id], None);
    assert!(!twice.status.success());
    assert!(String::from_utf8_lossy(&twice.stderr).contains("was cancelled"));
    let open = stdout(&nimbus_server(
        &url,
        &["share", "proposals", "--pending"],
        None,
    ));
    assert_eq!(open.lines().count(), 1, "{open}");

    let owner = stdout(&nimbus_server(&url, &["share", "user", "alice"], None));
    assert!(
        owner.contains("Project") && owner.contains("bob (viewer)"),
        "{owner}"
    );
    let member = stdout(&nimbus_server(&url, &["share", "user", "bob"], None));
    let member_of = member.split("member of:").nth(1).unwrap();
    assert!(
        member_of.contains("Project") && member_of.contains("owner: alice"),
        "{member}"
    );
    app.stop().await;
}
