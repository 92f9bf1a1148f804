//! End-to-end encrypted workspaces with the real `nimbus` binary: one is
//! created with `nimbus workspace create --encrypted`, two devices that know
//! the passphrase sync it, the proxy stores only ciphertext, a wrong
//! passphrase or another workspace for a linked folder changes nothing, and
//! the default workspace syncs as before. Shared with another user, it is
//! accepted only with its passphrase: a wrong one changes nothing, the
//! right one mounts it, and the share syncs both ways in ciphertext.

use std::path::Path;
use std::time::Duration;

use crate::helpers::{Cluster, DEADLINE, Outcome, deadline_wait, list_files, random_bytes, run};
use crate::sharing::{offer_id, ok};

const PASSPHRASE: &str = "Grüße aus dem verschlüsselten Arbeitsbereich";
/// Written into the files; must never show in the stored objects.
const MARKER: &[u8] = b"NIMBUS-PLAINTEXT-MARKER-5d1c7e0a";

/// `nimbus sync DIR --once [--workspace NAME] --passphrase-stdin`.
async fn sync_once(
    config: &Path,
    dir: &Path,
    workspace: Option<&str>,
    passphrase: &str,
) -> Outcome {
    nimbus_server::test_log::record_secret("passphrase", passphrase);
    let dir = dir.to_str().expect("a UTF-8 temp path");
    let mut args = vec!["sync", dir, "--once", "--passphrase-stdin"];
    if let Some(name) = workspace {
        args.extend(["--workspace", name]);
    }
    run(config, &args, passphrase).await
}

/// Whether any object the proxy stores, in a file or inline, holds `needle`.
/// Creates the end-to-end encrypted workspace "Secrets" with [`PASSPHRASE`].
async fn create_secrets(config: &Path) -> Outcome {
    let created = run(
        config,
        &[
            "workspace",
            "create",
            "Secrets",
            "--encrypted",
            "--passphrase-stdin",
        ],
        PASSPHRASE,
    )
    .await;
    assert!(created.success, "{}", created.stderr);
    created
}

async fn stored_bytes_contain(cluster: &Cluster, needle: &[u8]) -> bool {
    cluster
        .stored_bodies()
        .await
        .iter()
        .any(|body| body.windows(needle.len()).any(|window| window == needle))
}

/// Incompressible bytes with `MARKER` in the middle: stored raw (not
/// compressed) unless encrypted, so the marker shows in plain chunks.
fn marked_random_file(seed: u64) -> Vec<u8> {
    let mut data = random_bytes(96 << 10, seed);
    data.splice(40_000..40_000, MARKER.iter().copied());
    data
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_with_the_passphrase_sync_an_encrypted_workspace_the_proxy_cannot_read() {
    let cluster = Cluster::spawn().await;
    cluster.add_user("alice").await;
    let a = cluster.device("alice", "laptop").await;
    let b = cluster.device("alice", "desktop").await;
    let folders = tempfile::tempdir().unwrap();
    let a_secrets = folders.path().join("a-secrets");
    let b_secrets = folders.path().join("b-secrets");

    let created = create_secrets(&a.config.path).await;
    assert!(
        created.stdout.contains("end-to-end encrypted"),
        "{}",
        created.stdout
    );
    let listed = run(&b.config.path, &["workspace", "list"], "").await;
    assert!(listed.success, "{}", listed.stderr);
    let line = listed
        .stdout
        .lines()
        .find(|l| l.starts_with("Secrets"))
        .unwrap_or_else(|| panic!("{}", listed.stdout));
    assert!(line.contains("end-to-end encrypted"), "{line}");

    // A links a folder with files to the encrypted workspace.
    std::fs::create_dir_all(a_secrets.join("letters")).unwrap();
    let mut notes = b"dear diary, ".to_vec();
    notes.extend_from_slice(MARKER);
    std::fs::write(a_secrets.join("letters/notes.txt"), &notes).unwrap();
    std::fs::write(a_secrets.join("photo.raw"), marked_random_file(1)).unwrap();
    let synced = sync_once(&a.config.path, &a_secrets, Some("Secrets"), PASSPHRASE).await;
    assert!(synced.success, "{}", synced.stderr);

    // B with a wrong passphrase: refused before anything is written.
    std::fs::create_dir_all(&b_secrets).unwrap();
    std::fs::write(b_secrets.join("mine.txt"), b"b's own file").unwrap();
    let before = list_files(&b_secrets);
    let wrong = sync_once(&b.config.path, &b_secrets, Some("Secrets"), "a wrong guess").await;
    assert!(!wrong.success);
    assert!(
        wrong
            .stderr
            .contains("the passphrase does not match workspace \"Secrets\"; nothing was synced"),
        "{}",
        wrong.stderr
    );
    assert_eq!(list_files(&b_secrets), before);
    assert!(!b_secrets.join(".nimbus").exists(), "the folder was linked");
    assert!(
        b.config.folder_dirs().is_empty(),
        "a folder state was created"
    );

    // B with the right passphrase gets A's files; its own file goes to A.
    let synced = sync_once(&b.config.path, &b_secrets, Some("Secrets"), PASSPHRASE).await;
    assert!(synced.success, "{}", synced.stderr);
    assert_eq!(
        std::fs::read(b_secrets.join("letters/notes.txt")).unwrap(),
        notes
    );
    // A linked folder needs no --workspace again.
    let synced = sync_once(&a.config.path, &a_secrets, None, PASSPHRASE).await;
    assert!(synced.success, "{}", synced.stderr);
    assert_eq!(list_files(&a_secrets), list_files(&b_secrets));

    // An edit on A reaches B byte for byte.
    let mut edited = marked_random_file(2);
    edited.extend_from_slice(b"second version");
    std::fs::write(a_secrets.join("photo.raw"), &edited).unwrap();
    std::fs::write(a_secrets.join("letters/notes.txt"), b"rewritten").unwrap();
    let synced = sync_once(&a.config.path, &a_secrets, None, PASSPHRASE).await;
    assert!(synced.success, "{}", synced.stderr);
    let synced = sync_once(&b.config.path, &b_secrets, None, PASSPHRASE).await;
    assert!(synced.success, "{}", synced.stderr);
    assert_eq!(std::fs::read(b_secrets.join("photo.raw")).unwrap(), edited);
    assert_eq!(list_files(&a_secrets), list_files(&b_secrets));

    // A wrong passphrase on a linked folder changes nothing either.
    std::fs::write(b_secrets.join("mine.txt"), b"edited while locked").unwrap();
    let before = list_files(&b_secrets);
    let wrong = sync_once(&b.config.path, &b_secrets, None, "another wrong guess").await;
    assert!(!wrong.success);
    assert!(wrong.stderr.contains("does not match"), "{}", wrong.stderr);
    assert_eq!(list_files(&b_secrets), before);
    let unchanged = sync_once(&a.config.path, &a_secrets, None, PASSPHRASE).await;
    assert!(unchanged.success, "{}", unchanged.stderr);
    assert_eq!(
        std::fs::read(a_secrets.join("mine.txt")).unwrap(),
        b"b's own file"
    );

    // A linked folder keeps its workspace.
    let switch = sync_once(&a.config.path, &a_secrets, Some("Nimbus"), PASSPHRASE).await;
    assert!(!switch.success);
    assert!(
        switch
            .stderr
            .contains("is linked to workspace \"Secrets\" and stays linked to it"),
        "{}",
        switch.stderr
    );

    // The proxy holds only ciphertext of the encrypted workspace.
    assert!(
        !stored_bytes_contain(&cluster, MARKER).await,
        "plaintext of an encrypted workspace reached the object store"
    );

    // The default workspace syncs as before, in plain chunks: the same scan
    // finds the marker there, so it would have found it above.
    std::fs::write(a.root.join("plain.raw"), marked_random_file(3)).unwrap();
    a.sync().await;
    b.sync().await;
    assert_eq!(
        std::fs::read(b.root.join("plain.raw")).unwrap(),
        marked_random_file(3)
    );
    assert!(!b.root.join("photo.raw").exists());
    assert!(stored_bytes_contain(&cluster, MARKER).await);
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_encrypted_workspace_is_accepted_only_with_its_passphrase() {
    let cluster = Cluster::spawn().await;
    cluster.add_user("alice").await;
    cluster.add_user("bob").await;
    let alice = cluster.device("alice", "laptop").await;
    let bob = cluster.device("bob", "desktop").await;
    let (alice_config, bob_config) = (alice.config.path.as_path(), bob.config.path.as_path());
    create_secrets(alice_config).await;
    let secrets = alice.root.with_file_name("Secrets");
    std::fs::create_dir_all(secrets.join("letters")).unwrap();
    let mut notes = b"dear bob, ".to_vec();
    notes.extend_from_slice(MARKER);
    std::fs::write(secrets.join("letters/notes.txt"), &notes).unwrap();
    std::fs::write(secrets.join("photo.raw"), marked_random_file(4)).unwrap();
    let synced = sync_once(alice_config, &secrets, Some("Secrets"), PASSPHRASE).await;
    assert!(synced.success, "{}", synced.stderr);
    // An encrypted workspace of one's own is shared like any other.
    let offered = ok(
        alice_config,
        &["share", "Secrets", "--with", "bob", "--role", "editor"],
    )
    .await;
    assert!(offered.contains("Offered \"Secrets\" to bob"), "{offered}");
    let list = ok(bob_config, &["share", "list"]).await;
    let offer = offer_id(
        &list,
        &["\"Secrets\" (end-to-end encrypted) from alice", "pending"],
    );

    // Bob's desktop runs, with the right passphrase at hand: a membership
    // made by mistake would be mounted at once.
    std::fs::write(bob.root.join("own.txt"), b"bob's own").unwrap();
    bob.sync().await;
    let mut running = bob.start_with_passphrase(PASSPHRASE).await;
    running.first_round().await;
    // His phone runs without the passphrase.
    let bob_phone = cluster.device("bob", "phone").await;
    let mut phone = bob_phone.start().await;
    phone.first_round().await;
    let folder_before = list_files(&bob.root);
    let states_before = bob.config.folder_dirs();

    let wrong = run(
        bob_config,
        &["share", "accept", &offer, "--passphrase-stdin"],
        "a wrong guess",
    )
    .await;
    assert!(!wrong.success, "{}", wrong.stdout);
    assert!(
        wrong
            .stderr
            .contains("the passphrase does not match workspace \"Secrets\"; nothing was accepted"),
        "{}",
        wrong.stderr
    );
    let list = ok(bob_config, &["share", "list"]).await;
    assert_eq!(
        offer_id(&list, &["\"Secrets\"", "pending"]),
        offer,
        "{list}"
    );
    let workspaces = ok(bob_config, &["workspace", "list"]).await;
    assert!(!workspaces.contains("Secrets"), "{workspaces}");
    // Time for a mount to show, were there one.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(list_files(&bob.root), folder_before);
    assert_eq!(bob.config.folder_dirs(), states_before);

    // The right passphrase: the mount appears with alice's files.
    let accepted = run(
        bob_config,
        &["share", "accept", &offer, "--passphrase-stdin"],
        PASSPHRASE,
    )
    .await;
    assert!(accepted.success, "{}", accepted.stderr);
    assert!(
        accepted.stdout.contains("end-to-end encrypted"),
        "{}",
        accepted.stdout
    );
    let mount = bob.root.join("Secrets");
    let alice_files = list_files(&secrets);
    deadline_wait("the encrypted share is mounted with alice's files", || {
        list_files(&mount) == alice_files
    })
    .await;

    // Bob's edit reaches alice, sealed on the way.
    let mut reply = b"dear alice, ".to_vec();
    reply.extend_from_slice(MARKER);
    std::fs::write(mount.join("letters/reply.txt"), &reply).unwrap();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let synced = sync_once(alice_config, &secrets, None, PASSPHRASE).await;
        assert!(synced.success, "{}", synced.stderr);
        if std::fs::read(secrets.join("letters/reply.txt")).ok() == Some(reply.clone()) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "bob's edit never reached alice"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    running.stop().await;
    assert_eq!(list_files(&mount), list_files(&secrets));

    // The phone has no passphrase: it mounts nothing and writes nothing
    // there. Started again with it, it mounts the share like the desktop.
    let phone_mount = bob_phone.root.join("Secrets");
    assert!(!phone_mount.exists(), "{:?}", list_files(&bob_phone.root));
    phone.stop().await;
    let phone = bob_phone.start_with_passphrase(PASSPHRASE).await;
    let alice_files = list_files(&secrets);
    deadline_wait("the phone mounts the share with the passphrase", || {
        list_files(&phone_mount) == alice_files
    })
    .await;
    phone.stop().await;
    assert!(
        !stored_bytes_contain(&cluster, MARKER).await,
        "plaintext of a shared encrypted workspace reached the object store"
    );
    cluster.stop().await;
}
