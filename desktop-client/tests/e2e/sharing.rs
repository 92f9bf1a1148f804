//! `nimbus share` with the real binary, between two users: offer, list,
//! decline and offer again, accept under a name of one's own, members and
//! roles, remove, leave; and the refusals, which change nothing.

use std::path::Path;

use crate::helpers::{Cluster, Outcome, run};

/// Runs `nimbus ARGS` and fails the test unless it succeeds.
async fn ok(config: &Path, args: &[&str]) -> String {
    let outcome = run(config, args, "").await;
    assert!(
        outcome.success,
        "nimbus {args:?} failed:\n{}{}",
        outcome.stdout, outcome.stderr
    );
    outcome.stdout
}

/// Runs `nimbus ARGS` and fails the test unless it fails.
async fn refused(config: &Path, args: &[&str]) -> Outcome {
    let outcome = run(config, args, "").await;
    assert!(
        !outcome.success,
        "nimbus {args:?} succeeded:\n{}",
        outcome.stdout
    );
    outcome
}

/// The id `share list` prints on the line that has every one of `words`.
fn offer_id(list: &str, words: &[&str]) -> String {
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
    cluster.stop().await;
}
