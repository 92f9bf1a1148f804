//! `nimbus share` with the real binary, between two users: offer, list,
//! decline and offer again, accept under a name of one's own, members and
//! roles, remove, leave; and the refusals, which change nothing. Then the
//! mount: a share syncs both ways inside the member's sync folder on each of
//! their devices, read-only for a viewer, and stays on disk when access ends.

use std::path::Path;
use std::time::Duration;

use crate::helpers::{Cluster, DEADLINE, Outcome, deadline_wait, list_files, run};

/// Runs `nimbus ARGS` and fails the test unless it succeeds.
pub(crate) async fn ok(config: &Path, args: &[&str]) -> String {
    let outcome = run(config, args, "").await;
    assert!(
        outcome.success,
        "nimbus {args:?} failed:\n{}{}",
        outcome.stdout, outcome.stderr
    );
    outcome.stdout
}

/// Runs `nimbus ARGS` and fails the test unless it fails.
pub(crate) async fn refused(config: &Path, args: &[&str]) -> Outcome {
    let outcome = run(config, args, "").await;
    assert!(
        !outcome.success,
        "nimbus {args:?} succeeded:\n{}",
        outcome.stdout
    );
    outcome
}

/// The id `share list` prints on the line that has every one of `words`.
pub(crate) fn offer_id(list: &str, words: &[&str]) -> String {
    list.lines()
        .find(|line| words.iter().all(|w| line.contains(w)))
        .and_then(|line| line.split_whitespace().next())
        .unwrap_or_else(|| panic!("no offer with {words:?} in:\n{list}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offers_are_answered_and_members_managed() {
    let cluster = Cluster::spawn().await;
    cluster.add_user("alice").await;
    cluster.add_user("bob").await;
    let alice_device = cluster.device("alice", "laptop").await;
    let bob_device = cluster.device("bob", "desktop").await;
    let alice = alice_device.config.path.as_path();
    let bob_config = bob_device.config.path.as_path();
    ok(alice, &["workspace", "create", "Photos"]).await;

    // Refusals name the problem and propose nothing.
    let unknown = refused(
        alice,
        &[
            "share",
            "Photos",
            "--with",
            "bob,nobody",
            "--role",
            "editor",
        ],
    )
    .await;
    assert!(unknown.stderr.contains("nobody"), "{}", unknown.stderr);
    let missing = refused(
        alice,
        &["share", "Albums", "--with", "bob", "--role", "editor"],
    )
    .await;
    assert!(
        missing
            .stderr
            .contains("neither a synced folder nor one of your workspaces"),
        "{}",
        missing.stderr
    );
    assert!(
        ok(bob_config, &["share", "list"])
            .await
            .contains("Offered to you: none")
    );

    // An offer by e-mail, with a message; bob declines it.
    let offered = ok(
        alice,
        &[
            "share",
            "Photos",
            "--with",
            "bob@example.org",
            "--role",
            "editor",
            "--message",
            "June trip",
        ],
    )
    .await;
    assert!(
        offered.contains("Offered \"Photos\" to bob@example.org as editor"),
        "{offered}"
    );
    let list = ok(bob_config, &["share", "list"]).await;
    assert!(list.contains("June trip"), "{list}");
    let first = offer_id(
        &list,
        &["\"Photos\" from alice as editor", "pending, expires"],
    );
    refused(bob_config, &["share", "cancel", &first]).await;
    ok(bob_config, &["share", "decline", &first]).await;
    let list = ok(alice, &["share", "list"]).await;
    assert!(
        offer_id(&list, &["to bob@example.org", "declined"]) == first,
        "{list}"
    );

    // Offered again, as viewer; bob accepts it under a name of his own.
    ok(
        alice,
        &["share", "Photos", "--with", "bob", "--role", "viewer"],
    )
    .await;
    let list = ok(bob_config, &["share", "list"]).await;
    let second = offer_id(&list, &["from alice as viewer", "pending"]);
    refused(bob_config, &["share", "accept", "ffffffff"]).await;
    let accepted = ok(bob_config, &["share", "accept", &second, "--as", "Family"]).await;
    assert!(accepted.contains("a viewer of \"Family\""), "{accepted}");
    assert!(
        ok(bob_config, &["workspace", "list"])
            .await
            .contains("Family")
    );

    // Members, from a synced folder of alice's and from bob's name for it.
    let photos = alice_device.root.with_file_name("Photos");
    let photos = photos.to_str().unwrap();
    ok(alice, &["sync", photos, "--once", "--workspace", "Photos"]).await;
    let members = ok(alice, &["share", "members", photos]).await;
    assert!(
        members.contains("alice") && members.contains("owner"),
        "{members}"
    );
    assert!(
        members.contains("bob") && members.contains("viewer"),
        "{members}"
    );
    // Only the owner changes roles; then bob may edit.
    refused(bob_config, &["share", "role", "Family", "alice", "viewer"]).await;
    let changed = ok(
        alice,
        &["share", "role", photos, "bob@example.org", "editor"],
    )
    .await;
    assert!(changed.contains("bob is now editor"), "{changed}");
    assert!(
        ok(bob_config, &["share", "members", "Family"])
            .await
            .contains("editor")
    );

    // Removed: the workspace is gone from bob's list.
    refused(alice, &["share", "remove", "Photos", "carol"]).await;
    ok(alice, &["share", "remove", "Photos", "bob"]).await;
    assert!(
        !ok(bob_config, &["workspace", "list"])
            .await
            .contains("Family")
    );
    refused(bob_config, &["share", "members", "Family"]).await;

    // Offered a third time, accepted, then left; the owner cannot leave.
    ok(
        alice,
        &["share", "Photos", "--with", "bob", "--role", "editor"],
    )
    .await;
    let list = ok(bob_config, &["share", "list"]).await;
    let third = offer_id(&list, &["from alice as editor", "pending"]);
    ok(bob_config, &["share", "accept", &third]).await;
    refused(alice, &["share", "leave", "Photos"]).await;
    ok(bob_config, &["share", "leave", "Photos"]).await;
    let members = ok(alice, &["share", "members", "Photos"]).await;
    assert!(!members.contains("bob"), "{members}");

    // Shared again, then unshared by its owner alone: every member goes.
    let rejoin = async |role: &str| {
        ok(alice, &["share", "Photos", "--with", "bob", "--role", role]).await;
        let list = ok(bob_config, &["share", "list"]).await;
        let offer = offer_id(&list, &[&format!("from alice as {role}"), "pending"]);
        ok(bob_config, &["share", "accept", &offer]).await;
    };
    rejoin("viewer").await;
    refused(bob_config, &["share", "unshare", "Photos"]).await;
    ok(alice, &["share", "unshare", "Photos"]).await;
    let members = ok(alice, &["share", "members", "Photos"]).await;
    assert!(!members.contains("bob"), "{members}");

    // Handed over: bob owns it, alice stays as an editor and can no longer
    // hand it on.
    rejoin("editor").await;
    refused(bob_config, &["share", "transfer", "Photos", "bob"]).await;
    let moved = ok(alice, &["share", "transfer", "Photos", "bob"]).await;
    assert!(moved.contains("bob owns it now"), "{moved}");
    let members = ok(bob_config, &["share", "members", "Photos"]).await;
    let role_of = |name: &str| {
        members
            .lines()
            .find(|line| line.trim_start().starts_with(name))
            .unwrap_or_else(|| panic!("{name} is not listed: {members}"))
            .to_owned()
    };
    assert!(role_of("bob").contains("owner"), "{members}");
    assert!(role_of("alice").contains("editor"), "{members}");
    refused(alice, &["share", "transfer", "Photos", "bob"]).await;
    cluster.stop().await;
}

/// Waits until `nimbus status` of `config` says `text`.
async fn status_says(config: &Path, text: &str) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let status = run(config, &["status"], "").await.stdout;
        if status.contains(text) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "status never said {text:?}:\n{status}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_share_is_mounted_synced_and_kept_when_access_ends() {
    let cluster = Cluster::spawn().await;
    cluster.add_user("alice").await;
    cluster.add_user("bob").await;
    let alice = cluster.device("alice", "laptop").await;
    let bob = cluster.device("bob", "desktop").await;
    let bob_phone = cluster.device("bob", "phone").await;
    let (alice_config, bob_config) = (alice.config.path.as_path(), bob.config.path.as_path());

    // Alice syncs a workspace of hers and offers it to bob, who accepts.
    ok(alice_config, &["workspace", "create", "Photos"]).await;
    let photos = alice.root.with_file_name("Photos");
    std::fs::create_dir_all(photos.join("june")).unwrap();
    std::fs::write(photos.join("june/beach.txt"), b"sand").unwrap();
    let photos_arg = photos.to_str().unwrap();
    ok(
        alice_config,
        &["sync", photos_arg, "--once", "--workspace", "Photos"],
    )
    .await;
    ok(
        alice_config,
        &["share", "Photos", "--with", "bob", "--role", "editor"],
    )
    .await;
    let list = ok(bob_config, &["share", "list"]).await;
    ok(
        bob_config,
        &[
            "share",
            "accept",
            &offer_id(&list, &["pending"]),
            "--as",
            "Family",
        ],
    )
    .await;
    // Bob's own files, which must never mix with the share's.
    std::fs::write(bob.root.join("own.txt"), b"bob's own").unwrap();

    let mut running = vec![
        alice.start_at(&photos).await,
        bob.start().await,
        bob_phone.start().await,
    ];
    for root in [&bob.root, &bob_phone.root] {
        let mount = root.join("Family");
        deadline_wait("the share appears on bob's devices", || {
            std::fs::read(mount.join("june/beach.txt")).ok().as_deref() == Some(&b"sand"[..])
        })
        .await;
    }

    // The mount names its workspace in the share commands.
    let mount = bob.root.join("Family");
    let members = ok(bob_config, &["share", "members", mount.to_str().unwrap()]).await;
    assert!(
        members.contains("alice") && members.contains("owner"),
        "{members}"
    );

    // Both ways: bob's file reaches alice and his other device.
    std::fs::write(bob.root.join("Family/june/towel.txt"), b"from bob").unwrap();
    for file in [
        photos.join("june/towel.txt"),
        bob_phone.root.join("Family/june/towel.txt"),
    ] {
        deadline_wait("bob's edit reaches the share", || {
            std::fs::read(&file).ok().as_deref() == Some(&b"from bob"[..])
        })
        .await;
    }

    // As a viewer, bob's edit stays on his disk and never reaches alice.
    ok(alice_config, &["share", "role", "Photos", "bob", "viewer"]).await;
    status_says(bob_config, "as viewer (read-only").await;
    std::fs::write(bob.root.join("Family/june/draft.txt"), b"viewer's draft").unwrap();
    std::fs::write(photos.join("june/later.txt"), b"after the change").unwrap();
    deadline_wait("alice's later file reaches bob", || {
        std::fs::read(bob.root.join("Family/june/later.txt"))
            .ok()
            .as_deref()
            == Some(&b"after the change"[..])
    })
    .await;
    // An edit of the viewer's that meets the owner's is kept beside it.
    std::fs::write(bob.root.join("Family/june/beach.txt"), b"bob's sand").unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    std::fs::write(photos.join("june/beach.txt"), b"alice's sand").unwrap();
    let bob_june = bob.root.join("Family/june");
    deadline_wait("the owner's edit wins and the viewer's is kept", || {
        let files = list_files(&bob_june);
        files.get("beach.txt") == Some(&Some(b"alice's sand".to_vec()))
            && files.iter().any(|(name, bytes)| {
                name.contains("conflicted copy") && bytes.as_deref() == Some(&b"bob's sand"[..])
            })
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let alice_june = list_files(&photos.join("june"));
    assert!(
        !alice_june.contains_key("draft.txt")
            && !alice_june
                .keys()
                .any(|name| name.contains("conflicted copy")),
        "{alice_june:?}"
    );
    assert_eq!(
        std::fs::read(bob.root.join("Family/june/draft.txt")).unwrap(),
        b"viewer's draft"
    );

    // Removed: the running desktop stops syncing at once, the phone (offline
    // meanwhile) when it starts again; each keeps its copy, byte for byte.
    running.pop().expect("the phone's loop").stop().await;
    let desktop_before = list_files(&bob.root.join("Family"));
    let phone_before = list_files(&bob_phone.root.join("Family"));
    ok(alice_config, &["share", "remove", "Photos", "bob"]).await;
    status_says(bob_config, "a share whose access ended").await;
    std::fs::write(photos.join("june/after-removal.txt"), b"not for bob").unwrap();
    running.push(bob_phone.start().await);
    let phone_config = bob_phone.config.path.as_path();
    status_says(phone_config, "a share whose access ended").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(list_files(&bob.root.join("Family")), desktop_before);
    assert_eq!(list_files(&bob_phone.root.join("Family")), phone_before);
    for device in running.drain(..) {
        device.stop().await;
    }

    // Nothing of the share reached bob's own workspace, not even through a
    // run that does not mount (like `nimbus sync --once`).
    bob.sync().await;
    let bob_tablet = cluster.device("bob", "tablet").await;
    bob_tablet.sync().await;
    let own = list_files(&bob_tablet.root);
    assert_eq!(own.keys().collect::<Vec<_>>(), ["own.txt"], "{own:?}");

    // The phone deletes its copy; the desktop adopts it as bob's own.
    let phone_copy = bob_phone.root.join("Family");
    ok(
        phone_config,
        &["share", "delete", phone_copy.to_str().unwrap()],
    )
    .await;
    assert!(!phone_copy.exists());
    let desktop_copy = bob.root.join("Family");
    refused(
        bob_config,
        &[
            "share",
            "delete",
            bob.root.join("own.txt").to_str().unwrap(),
        ],
    )
    .await;
    // Adopted while the desktop's loop runs: uploaded at once.
    let desktop = bob.start().await;
    ok(
        bob_config,
        &["share", "adopt", desktop_copy.to_str().unwrap()],
    )
    .await;
    let adopted = bob_tablet.root.join("Family/june/draft.txt");
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while std::fs::read(&adopted).ok().as_deref() != Some(&b"viewer's draft"[..]) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the adopted files never reached bob's workspace"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        bob_tablet.sync().await;
    }
    desktop.stop().await;
    cluster.stop().await;
}

/// Whether `root`'s file `name` holds `bytes`.
fn holds(root: &Path, name: &str, bytes: &[u8]) -> bool {
    std::fs::read(root.join(name)).ok().as_deref() == Some(bytes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_moved_into_a_share_is_copied_there_before_it_is_deleted() {
    let cluster = Cluster::spawn().await;
    cluster.add_user("alice").await;
    cluster.add_user("bob").await;
    let alice = cluster.device("alice", "laptop").await;
    let bob = cluster.device("bob", "desktop").await;
    let bob_tablet = cluster.device("bob", "tablet").await;
    let (alice_config, bob_config) = (alice.config.path.as_path(), bob.config.path.as_path());
    ok(alice_config, &["workspace", "create", "Photos"]).await;
    let photos = alice.root.with_file_name("Photos");
    std::fs::create_dir_all(&photos).unwrap();
    std::fs::write(photos.join("june.txt"), b"sand").unwrap();
    let photos_arg = photos.to_str().unwrap();
    let sync_photos = ["sync", photos_arg, "--once", "--workspace", "Photos"];
    ok(alice_config, &sync_photos).await;
    ok(
        alice_config,
        &["share", "Photos", "--with", "bob", "--role", "editor"],
    )
    .await;
    let list = ok(bob_config, &["share", "list"]).await;
    let offer = offer_id(&list, &["pending"]);
    ok(bob_config, &["share", "accept", &offer, "--as", "Family"]).await;
    // Bob's own file, stored in his own workspace.
    std::fs::write(bob.root.join("report.txt"), b"bob's report").unwrap();
    bob.sync().await;
    let running = bob.start().await;
    let mount = bob.root.join("Family");
    deadline_wait("the share is mounted", || {
        holds(&mount, "june.txt", b"sand")
    })
    .await;

    // The owner's quota is used up: the copy into the share cannot land,
    // so the move must not delete the file from bob's own workspace.
    cluster.set_quota("alice", 0).await;
    std::fs::rename(bob.root.join("report.txt"), mount.join("report.txt")).unwrap();
    status_says(bob_config, "quota").await;
    // Rounds of bob's own folder after the share's failure: time for a
    // wrong order to show.
    let rounds = running.quiet_rounds();
    tokio::time::sleep(Duration::from_secs(2)).await;
    bob_tablet.sync().await;
    assert!(
        holds(&bob_tablet.root, "report.txt", b"bob's report"),
        "the file left bob's workspace before it reached the share ({} rounds since): {:?}",
        running.quiet_rounds() - rounds,
        list_files(&bob_tablet.root)
    );
    assert!(holds(&mount, "report.txt", b"bob's report"));

    // Room again: the copy lands, then the deletion.
    cluster.set_quota("alice", 8 << 30).await;
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        bob_tablet.sync().await;
        if !bob_tablet.root.join("report.txt").exists() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the moved file was never deleted from bob's workspace"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    ok(alice_config, &sync_photos).await;
    assert!(holds(&photos, "report.txt", b"bob's report"));
    assert!(holds(&mount, "report.txt", b"bob's report"));
    running.stop().await;
    cluster.stop().await;
}
