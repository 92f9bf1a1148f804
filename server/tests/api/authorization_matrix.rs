//! The authorization matrix of the metadata RPC: every [`Operation`], sent by
//! every kind of [`Caller`], gets the answer [`expected`] gives, and a
//! refused one changes no row of the database.
//!
//! The operations come from the protocol, twice over: [`expected`] matches
//! `Operation` exhaustively, so a new operation does not compile without a
//! row, and [`every_operation`] must build one of each, which the test
//! checks against the operation names serde itself lists.
//!
//! Each operation runs against a fresh [`Scene`] (a shared workspace with an
//! editor, a viewer, a removed member and a pending proposal), refused
//! callers first, so that what an allowed call changes never decides the
//! answer to the next caller. See docs/authorization-matrix.md.

use std::collections::BTreeSet;
use std::time::Duration;

use nimbus_protocol::admin::{
    AddOAuthAppArgs, AdminAddUserArgs, AdminOverviewQuery, AdminUpdateUserArgs, AuditQuery,
    DeleteUserArgs,
};
use nimbus_protocol::client::ClientOptions;
use nimbus_protocol::rpc::{
    AcceptProposalArgs, ChangePasswordArgs, CommitArgs, CommitItem, Content, ConvertFolderArgs,
    CreateLinkArgs, CreateWorkspaceArgs, CreatedLink, DeviceArgs, DeviceToken, EncryptionMode,
    ErrorCode, GetChangesArgs, LinkToken, OpenLinkArgs, Operation, Password, ProposeShareArgs,
    RekeyVersionArgs, Role, UpdateMountArgs, WorkspaceInfo,
};
use nimbus_protocol::{ClientError, RpcClient, Topology};
use uuid::Uuid;

use crate::helpers::{PASSWORD, TestApp, based_on, login_args, new_file, spawn_app};
use crate::oauth::{signed, three_legged};
use crate::sharing::{create_workspace, propose, share, user_id};
use crate::snapshot::{assert_unchanged, database_snapshot};

/// Who sends a request. The workspace of a [`Scene`] is the owner's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Owner,
    Editor,
    Viewer,
    /// Was an editor of the workspace until the owner removed them.
    RemovedMember,
    /// Has a pending proposal to join the workspace.
    Invitee,
    /// Another user, with nothing to do with the workspace.
    Stranger,
    /// A device of the owner, revoked.
    RevokedDevice,
    /// A token of the owner that expired.
    ExpiredToken,
    Anonymous,
}

const CALLERS: [Caller; 9] = [
    Caller::Owner,
    Caller::Editor,
    Caller::Viewer,
    Caller::RemovedMember,
    Caller::Invitee,
    Caller::Stranger,
    Caller::RevokedDevice,
    Caller::ExpiredToken,
    Caller::Anonymous,
];

impl Caller {
    /// The user behind the caller (`None`: anonymous).
    fn username(self) -> Option<&'static str> {
        match self {
            Caller::Owner | Caller::RevokedDevice | Caller::ExpiredToken => Some("alice"),
            Caller::Editor => Some("bob"),
            Caller::Viewer => Some("carol"),
            Caller::RemovedMember => Some("dave"),
            Caller::Invitee => Some("paul"),
            Caller::Stranger => Some("mallory"),
            Caller::Anonymous => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Allowed,
    Refused(ErrorCode),
}

const READERS: &[Caller] = &[Caller::Owner, Caller::Editor, Caller::Viewer];
const WRITERS: &[Caller] = &[Caller::Owner, Caller::Editor];

/// The answer `caller` must get to `operation` (as [`every_operation`]
/// builds it).
fn expected(operation: &Operation, caller: Caller) -> Expect {
    use Caller::*;
    use Expect::{Allowed, Refused};
    let only = |callers: &[Caller]| {
        if callers.contains(&caller) {
            Allowed
        } else {
            Refused(ErrorCode::Forbidden)
        }
    };
    let has_token = !matches!(caller, RevokedDevice | ExpiredToken | Anonymous);
    match operation {
        // Authenticated by a password or a signature, never by the token:
        // these carry a wrong one, so nobody gets through.
        Operation::Login(_) => Refused(ErrorCode::InvalidCredentials),
        Operation::OauthRequestToken { .. }
        | Operation::OauthRequestInfo { .. }
        | Operation::OauthAuthorize { .. }
        | Operation::OauthAccessToken { .. }
        | Operation::OauthAuthenticate { .. } => Refused(ErrorCode::Unauthenticated),
        // The link's token is the credential: whoever holds it may look.
        Operation::OpenLink(_) => Allowed,
        // Service calls: every caller here is a device, publishing as the
        // clients' broker user, whatever its token (the services' own user
        // is checked after the callers).
        Operation::UnreferencedChunks { .. }
        | Operation::CollectChunks { .. }
        | Operation::ChunksStored { .. }
        | Operation::PruneChunkClaims { .. }
        | Operation::ListVersionsToRekey { .. }
        | Operation::RekeyVersion(_)
        | Operation::TransferredContainers { .. } => Refused(ErrorCode::Forbidden),
        // Administration: nobody here is an administrator, and without a
        // token it is a service call, which a device's broker user may not
        // make.
        Operation::AdminDeleteUser(_) if caller == Anonymous => Refused(ErrorCode::Forbidden),
        _ if !has_token => Refused(ErrorCode::Unauthenticated),
        // The caller's own user and devices.
        Operation::Logout
        | Operation::RegisterDevice(_)
        | Operation::UpdateDevice(_)
        | Operation::ListDevices
        | Operation::GetAccount
        | Operation::GetWorkspaces
        | Operation::CreateWorkspace(_)
        | Operation::ListOauthTokens
        | Operation::ListProposals
        | Operation::ListLinks => Allowed,
        // A queue nobody declared: refused as such, whoever asks.
        Operation::Subscribe { .. } => Refused(ErrorCode::BadRequest),
        // A new password too short, refused before the current one is
        // checked: an allowed change would revoke the users' other devices,
        // which the rows after it use (tests/api/login.rs changes one).
        Operation::ChangePassword(_) => Refused(ErrorCode::BadRequest),
        // The owner's device and OAuth token.
        Operation::RevokeDevice { .. } | Operation::RevokeOauthToken { .. } => only(&[Owner]),
        Operation::GetChanges(_)
        | Operation::GetItem { .. }
        | Operation::ListFolder { .. }
        | Operation::GetVersions { .. }
        | Operation::ListMembers { .. }
        | Operation::UpdateMount(_)
        | Operation::ReferencedChunks { .. }
        | Operation::ReportMissingContent { .. }
        | Operation::CreateLink(_) => only(READERS),
        // The owner made the scene's link.
        Operation::RevokeLink { .. } => only(&[Owner]),
        Operation::Commit(_) | Operation::PurgeItem { .. } => only(WRITERS),
        Operation::ProposeShare(_)
        | Operation::CancelProposal { .. }
        | Operation::SetMemberRole { .. }
        | Operation::RemoveMember { .. }
        | Operation::TransferOwnership { .. }
        | Operation::UnshareWorkspace { .. } => only(&[Owner]),
        Operation::AcceptProposal(_) | Operation::DeclineProposal { .. } => only(&[Invitee]),
        // Only the owner converts, and only folders of the default
        // workspace: the scene's file is in a shared one (nesting).
        Operation::ConvertFolder(_) if caller == Owner => Refused(ErrorCode::BadRequest),
        Operation::ConvertFolder(_) => Refused(ErrorCode::Forbidden),
        // The owner hands the workspace over instead.
        Operation::LeaveWorkspace { .. } if caller == Owner => Refused(ErrorCode::BadRequest),
        Operation::LeaveWorkspace { .. } => only(&[Editor, Viewer]),
        Operation::AdminDeleteUser(_)
        | Operation::AdminListUsers
        | Operation::AdminAddUser(_)
        | Operation::AdminUpdateUser(_)
        | Operation::AdminAuditLog(_)
        | Operation::AdminOverview(_)
        | Operation::AdminHealth
        | Operation::AdminUserWorkspaces { .. }
        | Operation::AdminAddOauthApp(_)
        | Operation::AdminRemoveOauthApp { .. }
        | Operation::AdminRevokeLink { .. } => Refused(ErrorCode::Forbidden),
    }
}

/// The users, their tokens, and what the user-wide operations act on.
struct Fixture {
    app: TestApp,
    tokens: Vec<(Caller, DeviceToken)>,
    /// A device of the owner that only `revokeDevice` uses.
    spare_device: Uuid,
    oauth_consumer: (String, String),
    /// An OAuth access token of the owner that only `revokeOauthToken` uses.
    oauth_access_token: String,
}

impl Fixture {
    async fn new() -> Self {
        let app = spawn_app().await;
        let mut tokens = Vec::new();
        for caller in [
            Caller::Owner,
            Caller::Editor,
            Caller::Viewer,
            Caller::RemovedMember,
            Caller::Invitee,
            Caller::Stranger,
        ] {
            let (token, _) = app.user_with_device(caller.username().unwrap()).await;
            tokens.push((caller, token));
        }
        let owner = tokens[0].1.clone();
        let revoked = app.login("alice", "lost phone").await;
        let revoked_id = app.client.get_account(&revoked).await.unwrap().device_id;
        app.client
            .call::<()>(
                Some(&owner),
                Operation::RevokeDevice {
                    device_id: revoked_id,
                },
            )
            .await
            .unwrap();
        tokens.push((Caller::RevokedDevice, revoked));
        let expiring = app
            .client
            .login(nimbus_protocol::rpc::LoginArgs {
                token_ttl_secs: Some(1),
                ..login_args("alice", PASSWORD, "swift session")
            })
            .await
            .unwrap();
        tokens.push((Caller::ExpiredToken, expiring.token));
        let spare_device = app
            .client
            .login(login_args("alice", PASSWORD, "spare"))
            .await
            .unwrap()
            .device_id;
        let (oauth_consumer, access) = three_legged(&app).await;
        // The expiring token has had its second by now, or will have.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        Self {
            app,
            tokens,
            spare_device,
            oauth_consumer,
            oauth_access_token: access.token,
        }
    }

    fn token(&self, caller: Caller) -> Option<&DeviceToken> {
        self.tokens
            .iter()
            .find(|(c, _)| *c == caller)
            .map(|(_, token)| token)
    }

    async fn user_id(&self, caller: Caller) -> Uuid {
        user_id(&self.app, self.token(caller).unwrap()).await
    }

    /// A new workspace of the owner's with an editor, a viewer, a removed
    /// member, a file, and a pending proposal to the invitee.
    async fn scene(&self, number: usize) -> Scene {
        let app = &self.app;
        let owner = self.token(Caller::Owner).unwrap();
        let workspace = create_workspace(app, owner, &format!("Matrix {number}")).await;
        for (caller, role) in [
            (Caller::Editor, Role::Editor),
            (Caller::Viewer, Role::Viewer),
            (Caller::RemovedMember, Role::Editor),
        ] {
            let member = (caller.username().unwrap(), self.token(caller).unwrap());
            share(app, owner, &workspace, member, role).await;
        }
        app.client
            .call::<()>(
                Some(owner),
                Operation::RemoveMember {
                    workspace_id: workspace.workspace_id,
                    user_id: self.user_id(Caller::RemovedMember).await,
                },
            )
            .await
            .unwrap();
        let file = new_file(None, "report.txt", 1, 10);
        let trashed = [
            new_file(None, "old draft.txt", 3, 10),
            new_file(None, "old notes.txt", 4, 10),
        ];
        app.commit(
            owner,
            &workspace,
            vec![file.clone(), trashed[0].clone(), trashed[1].clone()],
        )
        .await;
        app.commit(
            owner,
            &workspace,
            trashed
                .iter()
                .map(|item| CommitItem {
                    deleted: true,
                    ..based_on(item, 1)
                })
                .collect(),
        )
        .await;
        let proposal = propose(app, owner, &workspace, "paul", Role::Viewer).await;
        let link: CreatedLink = app
            .client
            .call(
                Some(owner),
                Operation::CreateLink(CreateLinkArgs {
                    workspace_id: workspace.workspace_id,
                    item_id: Some(file.id),
                    expires_at: None,
                    password: None,
                    max_downloads: None,
                }),
            )
            .await
            .unwrap();
        Scene {
            link_id: link.link.link_id,
            link_token: link.token,
            editor_id: self.user_id(Caller::Editor).await,
            viewer_id: self.user_id(Caller::Viewer).await,
            workspace,
            file: file.id,
            trashed: trashed.map(|item| item.id),
            proposal: proposal.proposal_id,
        }
    }
}

/// What a workspace operation acts on.
struct Scene {
    workspace: WorkspaceInfo,
    file: Uuid,
    /// Files in the trash: the owner deletes the first forever, every other
    /// caller tries the second (which the editor then deletes forever).
    trashed: [Uuid; 2],
    proposal: Uuid,
    /// A link of the owner's to the file.
    link_id: Uuid,
    link_token: LinkToken,
    editor_id: Uuid,
    viewer_id: Uuid,
}

/// One operation of every kind, acting on `scene`, as `caller` sends it.
fn every_operation(fixture: &Fixture, scene: &Scene, caller: Caller) -> Vec<Operation> {
    let workspace_id = scene.workspace.workspace_id;
    let tag = format!("{caller:?}");
    let consumer = (
        fixture.oauth_consumer.0.as_str(),
        fixture.oauth_consumer.1.as_str(),
    );
    vec![
        // Nobody's: a wrong password of a real user would throttle their logins.
        Operation::Login(login_args("nobody", "not the password", "guess")),
        Operation::Logout,
        Operation::ChangePassword(ChangePasswordArgs {
            old_password: Password(PASSWORD.into()),
            new_password: Password("short".into()),
        }),
        Operation::RegisterDevice(DeviceArgs {
            device_name: format!("{tag} phone"),
            ..DeviceArgs::default()
        }),
        Operation::UpdateDevice(DeviceArgs {
            device_name: format!("{tag} laptop"),
            ..DeviceArgs::default()
        }),
        Operation::ListDevices,
        Operation::RevokeDevice {
            device_id: fixture.spare_device,
        },
        Operation::GetAccount,
        Operation::GetWorkspaces,
        Operation::CreateWorkspace(CreateWorkspaceArgs {
            workspace_id: Uuid::new_v4(),
            name: format!("{tag} {}", Uuid::new_v4().simple()),
            encryption: EncryptionMode::None,
            key_check: None,
        }),
        Operation::GetChanges(GetChangesArgs {
            workspace_id,
            since: 0,
            page: None,
            limit: None,
        }),
        Operation::Commit(CommitArgs {
            workspace_id,
            items: vec![new_file(None, &format!("from {tag}.txt"), 2, 10)],
        }),
        Operation::GetItem {
            item_id: scene.file,
        },
        Operation::ListFolder {
            workspace_id,
            folder_id: None,
        },
        Operation::GetVersions {
            item_id: scene.file,
        },
        Operation::OauthRequestToken {
            request: signed(
                ("unknown consumer", "secret"),
                None,
                "/oauth/request_token",
                Some("oob"),
                None,
            ),
        },
        Operation::OauthRequestInfo {
            request_token: "unknown request token".into(),
        },
        Operation::OauthAuthorize {
            request_token: "unknown request token".into(),
            username: "alice".into(),
            password: Password(PASSWORD.into()),
        },
        Operation::OauthAccessToken {
            request: signed(
                consumer,
                Some(("unknown request token", "secret")),
                "/oauth/access_token",
                None,
                Some("verifier"),
            ),
        },
        Operation::OauthAuthenticate {
            request: signed(
                consumer,
                Some((&fixture.oauth_access_token, "not its secret")),
                "/v1/file",
                None,
                None,
            ),
        },
        Operation::ListOauthTokens,
        Operation::RevokeOauthToken {
            access_token: fixture.oauth_access_token.clone(),
        },
        Operation::Subscribe {
            queue: format!("amq.gen-{}", Uuid::new_v4().simple()),
        },
        Operation::ProposeShare(ProposeShareArgs {
            workspace_id,
            addressees: vec!["mallory".into()],
            role: Role::Viewer,
            message: None,
        }),
        Operation::ListProposals,
        Operation::AcceptProposal(AcceptProposalArgs {
            proposal_id: scene.proposal,
            mount_name: None,
            mount_parent: None,
            key_check: None,
        }),
        Operation::DeclineProposal {
            proposal_id: scene.proposal,
        },
        Operation::CancelProposal {
            proposal_id: scene.proposal,
        },
        Operation::ListMembers { workspace_id },
        Operation::SetMemberRole {
            workspace_id,
            user_id: scene.editor_id,
            role: Role::Viewer,
        },
        Operation::RemoveMember {
            workspace_id,
            user_id: scene.viewer_id,
        },
        Operation::LeaveWorkspace { workspace_id },
        Operation::TransferOwnership {
            workspace_id,
            user_id: scene.editor_id,
        },
        Operation::UnshareWorkspace { workspace_id },
        Operation::UpdateMount(UpdateMountArgs {
            workspace_id,
            mount_name: format!("{tag}'s view"),
            mount_parent: None,
        }),
        Operation::ReferencedChunks {
            storage_account: scene.workspace.storage_account.clone(),
            container: scene.workspace.container.clone(),
            chunk_ids: vec!["0".repeat(64)],
        },
        Operation::UnreferencedChunks {
            storage_account: scene.workspace.storage_account.clone(),
            container: scene.workspace.container.clone(),
            chunk_ids: vec!["0".repeat(64)],
        },
        Operation::CollectChunks {
            storage_account: scene.workspace.storage_account.clone(),
            container: scene.workspace.container.clone(),
            claim: 1,
            chunk_ids: vec!["0".repeat(64)],
        },
        Operation::ChunksStored {
            storage_account: scene.workspace.storage_account.clone(),
            container: scene.workspace.container.clone(),
            up_to: 1,
            chunk_ids: vec!["0".repeat(64)],
        },
        Operation::PruneChunkClaims { floor: 1 },
        Operation::TransferredContainers {
            storage_account: scene.workspace.storage_account.clone(),
        },
        Operation::ReportMissingContent {
            item_id: scene.file,
        },
        Operation::CreateLink(CreateLinkArgs {
            workspace_id,
            item_id: Some(scene.file),
            expires_at: None,
            password: None,
            max_downloads: None,
        }),
        Operation::ListLinks,
        Operation::RevokeLink {
            link_id: scene.link_id,
        },
        Operation::PurgeItem {
            item_id: scene.trashed[usize::from(caller != Caller::Owner)],
        },
        Operation::ConvertFolder(ConvertFolderArgs {
            item_id: scene.file,
            workspace_id: Uuid::new_v4(),
        }),
        Operation::ListVersionsToRekey {
            after: None,
            limit: 10,
        },
        // Its chunks are under its own keys: the swap finds nothing to do.
        Operation::RekeyVersion(RekeyVersionArgs {
            item_id: scene.file,
            version: 1,
            chunk_workspace: Uuid::new_v4(),
            content: Content::default(),
        }),
        // Looking changes nothing; counting a download would.
        Operation::OpenLink(OpenLinkArgs {
            link_token: scene.link_token.clone(),
            password: None,
            unlock: None,
            item_id: None,
            count_download: false,
            subtree_max: None,
        }),
        Operation::AdminListUsers,
        Operation::AdminAddUser(AdminAddUserArgs {
            username: "newcomer".into(),
            password: Password(PASSWORD.into()),
            email: None,
            quota_bytes: 1 << 30,
            is_admin: true,
        }),
        Operation::AdminUpdateUser(AdminUpdateUserArgs {
            username: Caller::Stranger.username().unwrap().into(),
            disabled: Some(true),
            quota_bytes: None,
            password: None,
        }),
        Operation::AdminAuditLog(AuditQuery {
            user: None,
            since: None,
            limit: 10,
        }),
        Operation::AdminOverview(AdminOverviewQuery::default()),
        Operation::AdminHealth,
        Operation::AdminUserWorkspaces {
            username: Caller::Owner.username().unwrap().into(),
        },
        Operation::AdminAddOauthApp(AddOAuthAppArgs {
            name: "Added by a non-administrator".into(),
            callback_url: None,
        }),
        Operation::AdminRemoveOauthApp {
            consumer_key: "ock_that_nobody_registered".into(),
        },
        Operation::AdminRevokeLink {
            link_id: scene.link_id,
        },
        // Of the stranger, with no shared workspace: nothing would stop it
        // but the caller not being an administrator. Last: the services'
        // own call, after every caller, deletes the stranger.
        Operation::AdminDeleteUser(DeleteUserArgs {
            username: Caller::Stranger.username().unwrap().into(),
            transfers: Vec::new(),
            delete_shared: Vec::new(),
        }),
    ]
}

/// Every operation name the protocol knows, as serde lists them when it
/// meets an unknown one.
fn protocol_operation_names() -> BTreeSet<String> {
    let error = serde_json::from_value::<Operation>(serde_json::json!({"op": "?"}))
        .unwrap_err()
        .to_string();
    let (_, listed) = error
        .split_once("expected one of")
        .unwrap_or_else(|| panic!("serde lists the variants: {error}"));
    listed
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn every_operation_answers_every_caller_as_the_matrix_says_and_refusals_change_nothing() {
    let fixture = Fixture::new().await;
    let app = &fixture.app;
    let probe = fixture.scene(0).await;
    let names: BTreeSet<String> = every_operation(&fixture, &probe, Caller::Owner)
        .iter()
        .map(|op| op.name().to_owned())
        .collect();
    assert_eq!(
        names,
        protocol_operation_names(),
        "every operation of the protocol needs a row in the matrix"
    );

    // Devices publish as the clients' RabbitMQ user, as TempAuth hands it out.
    let device_client = RpcClient::connect_device(
        &std::env::var("NIMBUS_TEST_CLIENT_AMQP_URL")
            .expect("NIMBUS_TEST_CLIENT_AMQP_URL names the clients' RabbitMQ user"),
        Topology::new(app.settings.queue_prefix.clone()),
        ClientOptions::default(),
    )
    .await
    .expect("the clients' RabbitMQ user connects");
    let mut wrong = Vec::new();
    for index in 0..names.len() {
        let scene = fixture.scene(index + 1).await;
        // Refusals first, so that they meet the scene as it was made.
        let mut callers = CALLERS.to_vec();
        callers.sort_by_key(|caller| {
            expected(&every_operation(&fixture, &scene, *caller)[index], *caller) == Expect::Allowed
        });
        let mut before = database_snapshot(&app.settings.database_url).await;
        for caller in callers {
            let operation = every_operation(&fixture, &scene, caller).swap_remove(index);
            let name = operation.name();
            let expect = expected(&operation, caller);
            let token = match (&operation, expect) {
                // Logging out ends the token: a fresh one of the same user.
                (Operation::Logout, Expect::Allowed) => {
                    Some(app.login(caller.username().unwrap(), "to log out").await)
                }
                _ => fixture.token(caller).cloned(),
            };
            let client = if is_service_call(&operation) {
                &device_client
            } else {
                &app.client
            };
            let answer = client
                .call::<serde_json::Value>(token.as_ref(), operation)
                .await;
            let got = match answer {
                Ok(_) => Expect::Allowed,
                Err(ClientError::Rpc(error)) => Expect::Refused(error.code),
                Err(other) => panic!("{name} by {caller:?}: {other}"),
            };
            if got != expect {
                wrong.push(format!(
                    "{name} by {caller:?}: {got:?}, expected {expect:?}"
                ));
            }
            let after = database_snapshot(&app.settings.database_url).await;
            if got != Expect::Allowed {
                assert_unchanged(&before, &after, &format!("{name} by {caller:?}"));
            }
            before = after;
        }
        let operation = every_operation(&fixture, &scene, Caller::Owner).swap_remove(index);
        if is_service_call(&operation) {
            let name = operation.name();
            if let Err(error) = app.client.call::<serde_json::Value>(None, operation).await {
                wrong.push(format!("{name} by the services' own broker user: {error}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    fixture.app.stop().await;
}

/// Operations the services' RabbitMQ user makes without a token (and, for
/// administration, an administrator's device).
fn is_service_call(operation: &Operation) -> bool {
    matches!(
        operation,
        Operation::UnreferencedChunks { .. }
            | Operation::CollectChunks { .. }
            | Operation::ChunksStored { .. }
            | Operation::PruneChunkClaims { .. }
            | Operation::ListVersionsToRekey { .. }
            | Operation::RekeyVersion(_)
            | Operation::TransferredContainers { .. }
            | Operation::AdminDeleteUser(_)
    )
}
