//! The authorization matrix of the proxy: every Swift verb on accounts,
//! containers and objects ([`swift`]), every REST and OAuth endpoint
//! ([`rest`]) and every page of the web UI ([`web`]), sent by every kind of
//! [`Caller`], gets the status its table gives, and a refused request changes
//! nothing: no row of the object index or of the metadata database, no
//! stored blob.
//!
//! The routes come from the code: the tables of `nimbus_proxy::routes` (which
//! the proxy registers its handlers from) and the Swift API's
//! `nimbus_proxy::swift::METHODS`. A route or a method without an entry in a
//! matrix fails its test. Each test shares one spawned proxy and one
//! [`Cast`]; each row gets a fresh [`Scene`], so what an allowed request
//! changes never decides the next answer. See docs/authorization-matrix.md.

mod rest;
mod swift;
mod web;

use std::num::NonZeroU32;
use std::time::Duration;

use nimbus_protocol::rpc::{
    CreateLinkArgs, CreatedLink, DeviceArgs, DeviceToken, LoginArgs, Operation, Password, Proposal,
    ProposeShareArgs, Role, WorkspaceInfo,
};
use reqwest::StatusCode;
use uuid::Uuid;

use serde_json::json;

use crate::helpers::{Device, PASSWORD, TestApp, device, files_under, spawn_app_with};
use crate::oauth::Grant;
use crate::rest::{call as rest_call, try_upload};
use crate::sharing::{create_workspace, share};
use crate::snapshot::{DatabaseSnapshot, assert_unchanged, database_snapshot};

/// Who sends a request. The workspace of a [`Scene`] is the owner's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    Owner,
    Editor,
    Viewer,
    /// Was an editor of the workspace until the owner removed them.
    RemovedMember,
    /// Has a pending proposal to join the workspace.
    Invitee,
    /// Another user, with nothing to do with the workspace.
    Stranger,
    /// A token of the owner's, used (so cached) before its device was revoked.
    RevokedDevice,
    /// A token of the owner's, used (so cached) before it expired.
    ExpiredToken,
    Anonymous,
}

pub const CALLERS: [Caller; 9] = [
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

/// Callers that hold a live token of their own.
pub const LIVE: &[Caller] = &[
    Caller::Owner,
    Caller::Editor,
    Caller::Viewer,
    Caller::RemovedMember,
    Caller::Invitee,
    Caller::Stranger,
];
pub const READERS: &[Caller] = &[Caller::Owner, Caller::Editor, Caller::Viewer];
pub const WRITERS: &[Caller] = &[Caller::Owner, Caller::Editor];

impl Caller {
    pub fn username(self) -> Option<&'static str> {
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

    /// Whether the caller's token is revoked, expired or absent.
    pub fn is_dead(self) -> bool {
        !LIVE.contains(&self)
    }
}

/// The answer a caller must get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// This status, and whatever the request does.
    Allowed(u16),
    /// This status, and nothing changed.
    Refused(u16),
}

impl Expect {
    pub fn status(self) -> u16 {
        match self {
            Expect::Allowed(status) | Expect::Refused(status) => status,
        }
    }
}

/// `allowed` for `callers`, else `refused`.
pub fn only(callers: &[Caller], caller: Caller, allowed: u16, refused: u16) -> Expect {
    if callers.contains(&caller) {
        Expect::Allowed(allowed)
    } else {
        Expect::Refused(refused)
    }
}

/// The users, each with a device, and the owner's revoked and expired tokens.
pub struct Cast {
    pub app: TestApp,
    devices: Vec<(Caller, Device)>,
    revoked_token: String,
    expired_token: String,
}

/// How long the expiring token lives.
const SHORT_TOKEN_TTL_SECS: u64 = 2;

impl Cast {
    pub async fn new() -> Self {
        // Every caller is tried on every sign-in route from one address:
        // the per-address limit of failures (tested in `web.rs`) would
        // answer 429 instead of what each route itself answers.
        let app = spawn_app_with(|settings| {
            settings.failed_sign_ins_per_minute_per_address = NonZeroU32::MAX;
        })
        .await;
        let mut devices = Vec::new();
        for caller in LIVE {
            let name = caller.username().unwrap();
            app.add_user(name, None, true).await;
            devices.push((*caller, device(&app, name).await));
        }
        let mut cast = Self {
            app,
            devices,
            revoked_token: String::new(),
            expired_token: String::new(),
        };
        let owner = cast.device(Caller::Owner);
        let login = |device_name: &str, token_ttl_secs| LoginArgs {
            username: "alice".into(),
            password: Password(PASSWORD.into()),
            device: DeviceArgs {
                device_name: device_name.into(),
                ..DeviceArgs::default()
            },
            token_ttl_secs,
        };
        let revoked = owner.rpc.login(login("lost laptop", None)).await.unwrap();
        let expiring = owner
            .rpc
            .login(login("short session", Some(SHORT_TOKEN_TTL_SECS)))
            .await
            .unwrap();
        let (revoked, expiring) = (revoked.token.0, expiring.token.0);
        for token in [&revoked, &expiring] {
            nimbus_server::test_log::record_secret("device token", token);
        }
        // Both are used first, so that the proxy has them cached.
        for token in [&revoked, &expiring] {
            assert_eq!(cast.account_status(token).await, 204);
        }
        let revoked_device = owner
            .rpc
            .get_account(&DeviceToken(revoked.clone()))
            .await
            .unwrap()
            .device_id;
        let () = owner
            .rpc
            .call(
                Some(&owner.token),
                Operation::RevokeDevice {
                    device_id: revoked_device,
                },
            )
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_secs(SHORT_TOKEN_TTL_SECS) + Duration::from_millis(100))
            .await;
        cast.revoked_token = revoked;
        cast.expired_token = expiring;
        cast
    }

    /// The status of a `HEAD` of the owner's account with `token`.
    async fn account_status(&self, token: &str) -> StatusCode {
        self.app
            .client
            .head(&self.device(Caller::Owner).storage_url)
            .header("X-Auth-Token", token)
            .send()
            .await
            .unwrap()
            .status()
    }

    pub fn device(&self, caller: Caller) -> &Device {
        self.devices
            .iter()
            .find(|(c, _)| *c == caller)
            .map(|(_, device)| device)
            .unwrap_or_else(|| panic!("{caller:?} has no device"))
    }

    /// The caller's device token: what Swift takes as `X-Auth-Token` and the
    /// web UI as its session cookie.
    pub fn token(&self, caller: Caller) -> Option<&str> {
        match caller {
            Caller::RevokedDevice => Some(&self.revoked_token),
            Caller::ExpiredToken => Some(&self.expired_token),
            Caller::Anonymous => None,
            live => Some(&self.device(live).token.0),
        }
    }

    /// A new workspace of the owner's, with its container, an editor, a
    /// viewer, a removed member and a pending proposal to the invitee.
    pub async fn scene(&self, name: &str) -> Scene {
        let owner = self.device(Caller::Owner);
        let workspace = create_workspace(owner, name).await;
        let container_url = format!(
            "{}/v1/{}/{}",
            self.app.address, workspace.storage_account, workspace.container
        );
        let created = self
            .app
            .client
            .put(&container_url)
            .header("X-Auth-Token", &owner.swift_token)
            .send()
            .await
            .unwrap();
        assert!(created.status().is_success(), "{}", created.status());
        for (caller, role) in [
            (Caller::Editor, Role::Editor),
            (Caller::Viewer, Role::Viewer),
            (Caller::RemovedMember, Role::Editor),
        ] {
            let member = self.device(caller);
            share(owner, &workspace, member, caller.username().unwrap(), role).await;
        }
        let removed = self
            .device(Caller::RemovedMember)
            .rpc
            .get_account(&self.device(Caller::RemovedMember).token)
            .await
            .unwrap()
            .user_id;
        let () = owner
            .rpc
            .call(
                Some(&owner.token),
                Operation::RemoveMember {
                    workspace_id: workspace.workspace_id,
                    user_id: removed,
                },
            )
            .await
            .unwrap();
        let proposals: Vec<Proposal> = owner
            .rpc
            .call(
                Some(&owner.token),
                Operation::ProposeShare(ProposeShareArgs {
                    workspace_id: workspace.workspace_id,
                    addressees: vec!["paul".into()],
                    role: Role::Viewer,
                    message: None,
                }),
            )
            .await
            .unwrap();
        Scene {
            workspace,
            container_url,
            proposal: proposals[0].proposal_id,
        }
    }

    /// What a refused request must leave as it was.
    pub async fn snapshot(&self) -> Snapshot {
        let index_url = &self.app.settings.database_url;
        Snapshot {
            index: database_snapshot(index_url).await,
            metadata: database_snapshot(&self.app.metadata_database_url()).await,
            blobs: files_under(self.app.objects_dir.path()),
        }
    }
}

/// What a row's requests act on.
pub struct Scene {
    pub workspace: WorkspaceInfo,
    /// `…/v1/AUTH_alice/<the workspace's container>`.
    pub container_url: String,
    /// The invitee's pending proposal.
    pub proposal: Uuid,
}

/// A file and a folder made afresh by the owner in a scene's workspace, for
/// one request to act on.
pub struct Items {
    pub file: String,
    pub folder: String,
}

impl Items {
    pub async fn new(cast: &Cast, owner: &Grant, scene: &Scene, number: usize) -> Self {
        let workspace = scene.workspace.workspace_id.to_string();
        let (status, file) = try_upload(
            &cast.app,
            owner,
            &format!("file {number}.txt"),
            &workspace,
            vec![1u8; 100],
        )
        .await;
        assert_eq!(status, 201, "{file}");
        let (status, folder) = rest_call(
            &cast.app,
            owner,
            "POST",
            "/v1/folder",
            &[],
            Some(json!({"name": format!("folder {number}"), "parent": workspace})),
        )
        .await;
        assert_eq!(status, 201, "{folder}");
        Self {
            file: file["id"].as_str().unwrap().to_owned(),
            folder: folder["id"].as_str().unwrap().to_owned(),
        }
    }
}

/// A new public link of the owner's to `item_id` (`None`: the scene's
/// workspace's top).
pub async fn public_link(cast: &Cast, scene: &Scene, item_id: Option<Uuid>) -> CreatedLink {
    let owner = cast.device(Caller::Owner);
    let created: CreatedLink = owner
        .rpc
        .call(
            Some(&owner.token),
            Operation::CreateLink(CreateLinkArgs {
                workspace_id: scene.workspace.workspace_id,
                item_id,
                expires_at: None,
                password: None,
                max_downloads: None,
            }),
        )
        .await
        .unwrap();
    nimbus_server::test_log::record_secret("link token", &created.token.0);
    created
}

/// The object index, the metadata database and the stored blobs.
pub struct Snapshot {
    index: DatabaseSnapshot,
    metadata: DatabaseSnapshot,
    blobs: Vec<String>,
}

impl Snapshot {
    /// Panics unless `after` (taken after a refused request) equals this.
    pub fn assert_same(&self, after: &Snapshot, what: &str) {
        assert_unchanged(&self.index, &after.index, &format!("{what} (object index)"));
        assert_unchanged(
            &self.metadata,
            &after.metadata,
            &format!("{what} (metadata)"),
        );
        assert_eq!(
            self.blobs, after.blobs,
            "{what} was refused but stored blobs"
        );
    }
}

/// Records a wrong answer; the matrix reports them all at the end.
pub fn check(wrong: &mut Vec<String>, what: &str, got: u16, expect: Expect) {
    if got != expect.status() {
        wrong.push(format!("{what}: {got}, expected {expect:?}"));
    }
}
