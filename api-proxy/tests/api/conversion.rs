//! A folder converted into a workspace (`convertFolder`, docs/sharing.md),
//! read through the proxy: a member downloads its files through the REST
//! API and a public link byte for byte while their chunks are still under
//! the source workspace's keys and after the re-keying job
//! (`nimbus_proxy::rekey`) moved them; a pass stopped half-way and run
//! again re-keys everything and loses nothing; the collection of
//! unreferenced chunks takes a source chunk only once no version needs it;
//! and the proxy's own job re-keys after a conversion without being asked.

use std::sync::Arc;
use std::time::Duration;

use nimbus_protocol::rpc::{
    AcceptProposalArgs, CommitArgs, CommitItem, Content, ConvertFolderArgs, ConvertedFolder,
    CreateLinkArgs, CreatedLink, LocatedItem, Operation, Proposal, ProposeShareArgs, Role,
    VersionToRekey, WorkspaceInfo,
};
use nimbus_protocol::{RpcClient, Topology};
use nimbus_proxy::blobs::OpendalBlobStore;
use nimbus_proxy::index::postgres::PgIndex;
use nimbus_proxy::rekey::{RekeyReport, Rekeyer};
use nimbus_server::test_log::record_secret;
use uuid::Uuid;

use crate::collection::Collector;
use crate::helpers::{Device, TestApp, device, noise, spawn_app, spawn_app_with};
use crate::oauth::{Grant, Signing, api_request, grant};
use crate::rest::try_upload;

/// Alice's folder "Album" of `sizes.len()` files (noise of those sizes),
/// uploaded through the REST API, then converted; her device, her grant,
/// the new workspace and each file's id and bytes.
struct Converted {
    alice: Device,
    alice_grant: Grant,
    workspace: WorkspaceInfo,
    files: Vec<(Uuid, Vec<u8>)>,
}

async fn converted_album(app: &TestApp, sizes: &[usize]) -> Converted {
    app.add_user("alice", None, true).await;
    let alice = device(app, "alice").await;
    let alice_grant = grant(app, "alice").await;
    let folder = CommitItem {
        id: Uuid::now_v7(),
        base_version: 0,
        parent_id: None,
        name: "Album".into(),
        is_folder: true,
        deleted: false,
        modified_at: 1_700_000_000_000,
        content: Content::default(),
    };
    alice
        .rpc
        .commit(
            &alice.token,
            Uuid::new_v4(),
            CommitArgs {
                workspace_id: alice.workspace.workspace_id,
                items: vec![folder.clone()],
            },
        )
        .await
        .unwrap();
    let mut files = Vec::new();
    for (n, size) in sizes.iter().enumerate() {
        let bytes = noise(*size, n as u64 + 1);
        let (status, file) = try_upload(
            app,
            &alice_grant,
            &format!("photo {n}.raw"),
            &folder.id.to_string(),
            bytes.clone(),
        )
        .await;
        assert_eq!(status, 201, "{file}");
        let id = Uuid::parse_str(file["id"].as_str().unwrap()).unwrap();
        files.push((id, bytes));
    }
    let converted: ConvertedFolder = alice
        .rpc
        .call(
            Some(&alice.token),
            Operation::ConvertFolder(ConvertFolderArgs {
                item_id: folder.id,
                workspace_id: Uuid::new_v4(),
            }),
        )
        .await
        .unwrap();
    Converted {
        alice,
        alice_grant,
        workspace: converted.workspace,
        files,
    }
}

/// Bob, a member of `workspace` by alice's proposal, and his grant.
async fn bob_joins(app: &TestApp, alice: &Device, workspace: &WorkspaceInfo) -> Grant {
    app.add_user("bob", None, true).await;
    let bob = device(app, "bob").await;
    let mut proposals: Vec<Proposal> = alice
        .rpc
        .call(
            Some(&alice.token),
            Operation::ProposeShare(ProposeShareArgs {
                workspace_id: workspace.workspace_id,
                addressees: vec!["bob".into()],
                role: Role::Viewer,
                message: None,
            }),
        )
        .await
        .unwrap();
    let _: WorkspaceInfo = bob
        .rpc
        .call(
            Some(&bob.token),
            Operation::AcceptProposal(AcceptProposalArgs {
                proposal_id: proposals.pop().unwrap().proposal_id,
                mount_name: None,
                mount_parent: None,
                key_check: None,
            }),
        )
        .await
        .unwrap();
    grant(app, "bob").await
}

async fn download(app: &TestApp, grant: &Grant, id: Uuid) -> Vec<u8> {
    let path = format!("/v1/file/{id}/data");
    let response = api_request(app, grant, "GET", &path, &[], &Signing::default())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.bytes().await.unwrap().to_vec()
}

async fn assert_downloads(app: &TestApp, grant: &Grant, files: &[(Uuid, Vec<u8>)], when: &str) {
    for (id, bytes) in files {
        assert!(download(app, grant, *id).await == *bytes, "{id} {when}");
    }
}

/// The test's own re-keying job and service RPC client, on the proxy's
/// index and blob store.
async fn rekeyer(app: &TestApp) -> (Rekeyer, RpcClient) {
    let rpc = RpcClient::connect(
        &app.settings.amqp_url,
        Topology::new(app.settings.queue_prefix.clone()),
        Default::default(),
    )
    .await
    .unwrap();
    let job = Rekeyer {
        index: Arc::new(
            PgIndex::connect(&app.settings.database_url, Duration::ZERO)
                .await
                .unwrap(),
        ),
        blobs: Arc::new(OpendalBlobStore::from_settings(&app.settings.storage).unwrap()),
        rpc: rpc.clone(),
        inline_max: app.settings.inline_object_max_bytes,
    };
    (job, rpc)
}

async fn left_to_rekey(rpc: &RpcClient) -> usize {
    let listed: Vec<VersionToRekey> = rpc
        .call(
            None,
            Operation::ListVersionsToRekey {
                after: None,
                limit: 1000,
            },
        )
        .await
        .unwrap();
    listed.len()
}

async fn chunk_place_of(alice: &Device, id: Uuid) -> Option<Uuid> {
    let located: LocatedItem = alice
        .rpc
        .call(Some(&alice.token), Operation::GetItem { item_id: id })
        .await
        .unwrap();
    located.item.chunk_workspace.map(|place| place.workspace_id)
}

#[tokio::test]
async fn a_member_downloads_a_converted_folder_byte_for_byte_before_and_after_rekeying() {
    let app = spawn_app_with(|settings| settings.rekey_interval_secs = 0).await;
    let sizes = [300_000, 2_500_000, 0];
    let album = converted_album(&app, &sizes).await;
    let bob = bob_joins(&app, &album.alice, &album.workspace).await;
    let source = album.alice.workspace.workspace_id;
    assert_eq!(
        chunk_place_of(&album.alice, album.files[1].0).await,
        Some(source)
    );
    let link: CreatedLink = album
        .alice
        .rpc
        .call(
            Some(&album.alice.token),
            Operation::CreateLink(CreateLinkArgs {
                workspace_id: album.workspace.workspace_id,
                item_id: Some(album.files[0].0),
                expires_at: None,
                password: None,
                max_downloads: None,
            }),
        )
        .await
        .unwrap();
    record_secret("link token", &link.token.0);
    let by_link = || async {
        let response = app
            .client
            .get(format!("{}/s/{}", app.address, link.token.0))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.bytes().await.unwrap().to_vec()
    };

    // Under the source's keys: read from alice's own container.
    assert_downloads(&app, &bob, &album.files, "before re-keying").await;
    assert!(by_link().await == album.files[0].1);
    // Nothing of it is collected meanwhile.
    let collector = Collector::of(&app).await;
    collector.pass(Duration::ZERO).await;
    assert_downloads(&app, &bob, &album.files, "after a collection").await;

    let (job, rpc) = rekeyer(&app).await;
    let report = job.pass().await.unwrap();
    assert_eq!(
        report,
        RekeyReport {
            rekeyed: sizes.len() as u64,
            stale: 0,
            failed: 0
        }
    );
    assert_eq!(left_to_rekey(&rpc).await, 0);
    for (id, _) in &album.files {
        assert_eq!(chunk_place_of(&album.alice, *id).await, None);
    }
    assert_downloads(&app, &bob, &album.files, "after re-keying").await;
    assert!(by_link().await == album.files[0].1);

    // Now the source's copies go, and the files still read whole.
    let collected = collector.pass(Duration::ZERO).await;
    assert!(collected.chunks >= 2, "{collected:?}");
    assert_downloads(&app, &bob, &album.files, "after collecting the source").await;
    assert_downloads(&app, &album.alice_grant, &album.files, "for the owner").await;
    assert_eq!(job.pass().await.unwrap(), RekeyReport::default());
}

#[tokio::test]
async fn a_rekeying_pass_stopped_half_way_and_run_again_loses_nothing() {
    let app = spawn_app_with(|settings| settings.rekey_interval_secs = 0).await;
    let sizes: Vec<usize> = (0..12).map(|n| 50_000 + n * 70_000).collect();
    let album = converted_album(&app, &sizes).await;
    let (job, rpc) = rekeyer(&app).await;
    let stopped = tokio::spawn({
        let job = job.clone();
        async move { job.pass().await }
    });
    loop {
        let left = left_to_rekey(&rpc).await;
        assert!(left > 0, "the pass ended before the test could stop it");
        if left < sizes.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stopped.abort();
    let _ = stopped.await;
    let left = left_to_rekey(&rpc).await;
    assert!(left > 0 && left < sizes.len(), "{left} left");

    // Half re-keyed: every file still reads, whatever the collection does.
    let collector = Collector::of(&app).await;
    collector.pass(Duration::ZERO).await;
    assert_downloads(&app, &album.alice_grant, &album.files, "half re-keyed").await;

    let report = job.pass().await.unwrap();
    assert_eq!(report.failed, 0);
    assert!(report.rekeyed as usize >= left, "{report:?}");
    assert_eq!(left_to_rekey(&rpc).await, 0);
    collector.pass(Duration::ZERO).await;
    assert_downloads(&app, &album.alice_grant, &album.files, "re-keyed").await;
}

#[tokio::test]
async fn the_proxy_rekeys_a_converted_folder_on_its_own() {
    let app = spawn_app().await;
    let album = converted_album(&app, &[120_000, 40_000]).await;
    let (_, rpc) = rekeyer(&app).await;
    let mut waited = Duration::ZERO;
    while left_to_rekey(&rpc).await > 0 {
        assert!(
            waited < Duration::from_secs(30),
            "not re-keyed after {waited:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += Duration::from_millis(100);
    }
    assert_downloads(
        &app,
        &album.alice_grant,
        &album.files,
        "re-keyed by the proxy",
    )
    .await;
}
