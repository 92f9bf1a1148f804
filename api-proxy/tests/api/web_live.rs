//! Live updates of the web UI (`GET /files/{workspace}/events`): a change
//! committed by another device reaches an open stream as an event whose id
//! is the workspace revision; a reconnection catches up from
//! `Last-Event-ID`; the stream is the session's and the workspace member's
//! only, and ends when the session or the access does. Invitations made or
//! answered reach the invitee's open pages (`GET /events` too) at once, and
//! `GET /events` says when the user's workspaces change.

use std::time::{Duration, Instant};

use nimbus_protocol::rpc::{
    CommitArgs, CommitItem, DeviceArgs, LoginArgs, Operation, Password, Revision, Role,
};
use nimbus_proxy::web::live::MAX_STREAMS_PER_SESSION;
use reqwest::Response;
use uuid::Uuid;

use crate::browser::{Browser, Events, WAIT};
use crate::helpers::{Device, PASSWORD, TestApp, device, spawn_app};
use crate::sharing::{create_workspace, share};
use crate::web::{devices, folder, location};

/// Opens the events of `workspace` with `headers`.
async fn open(
    browser: &mut Browser,
    workspace: Uuid,
    query: &str,
    headers: &[(&str, &str)],
) -> Response {
    let mut request = browser.client.get(format!(
        "{}/files/{workspace}/events{query}",
        browser.address
    ));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    browser.send(request).await
}

/// Commits a new folder from `laptop` (a desktop device, over the RPC);
/// returns the workspace's new revision.
async fn commit_folder(laptop: &Device, workspace: Uuid, name: &str) -> Revision {
    commit(laptop, workspace, vec![folder(name, None)]).await
}

async fn commit(laptop: &Device, workspace: Uuid, items: Vec<CommitItem>) -> Revision {
    laptop
        .rpc
        .commit(
            &laptop.token,
            Uuid::new_v4(),
            CommitArgs {
                workspace_id: workspace,
                items,
            },
        )
        .await
        .unwrap()
        .revision
}

async fn revision_of(laptop: &Device) -> Revision {
    commit_folder(
        laptop,
        laptop.workspace.workspace_id,
        &format!("warm-up {}", Uuid::now_v7()),
    )
    .await
}

async fn signed_in(app: &TestApp, user: &str) -> Browser {
    let mut browser = Browser::new(app);
    browser.sign_in(user).await;
    browser
}

#[tokio::test]
async fn a_desktop_commit_reaches_the_open_page_as_an_event_with_its_revision() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    let laptop = device(&app, "alice").await;
    let workspace = laptop.workspace.workspace_id;
    let at_start = revision_of(&laptop).await;
    let other = create_workspace(&laptop, "Other").await;
    let mut browser = signed_in(&app, "alice").await;

    // The page's revision: nothing to catch up on.
    let mut events =
        Events::new(open(&mut browser, workspace, &format!("?since={at_start}"), &[]).await);
    events.expect("ready", at_start).await;

    let mut latencies = Vec::new();
    for round in 0..3 {
        // A commit to another workspace of the same user is not this page's.
        commit_folder(&laptop, other.workspace_id, &format!("elsewhere {round}")).await;
        let started = Instant::now();
        let revision = commit_folder(&laptop, workspace, &format!("from the laptop {round}")).await;
        events.expect("change", revision).await;
        latencies.push(started.elapsed());
    }
    latencies.sort();
    println!(
        "commit reply to event on the stream: median {:?} (of {latencies:?})",
        latencies[1]
    );
    assert!(latencies[1] < Duration::from_secs(1), "{latencies:?}");

    // The page the event asks for shows the change.
    let page = browser
        .get(&format!("/files/{workspace}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("from the laptop 2"), "{page}");
}

#[tokio::test]
async fn a_reconnection_catches_up_from_the_last_event_id() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    let laptop = device(&app, "alice").await;
    let workspace = laptop.workspace.workspace_id;
    let mut browser = signed_in(&app, "alice").await;

    let seen = revision_of(&laptop).await;
    let mut events = Events::new(open(&mut browser, workspace, "", &[]).await);
    events.expect("ready", seen).await;
    drop(events);

    // Committed while the browser was away.
    commit_folder(&laptop, workspace, "while away 1").await;
    let latest = commit_folder(&laptop, workspace, "while away 2").await;
    let last = seen.to_string();
    let mut events =
        Events::new(open(&mut browser, workspace, "", &[("last-event-id", &last)]).await);
    events.expect("change", latest).await;
    // Later changes follow on the same stream.
    let next = commit_folder(&laptop, workspace, "after").await;
    events.expect("change", next).await;
    drop(events);

    // Up to date: nothing to catch up on. The header wins over the page's `since`.
    let current = next.to_string();
    let mut events = Events::new(
        open(
            &mut browser,
            workspace,
            "?since=1",
            &[("last-event-id", &current)],
        )
        .await,
    );
    events.expect("ready", next).await;
    drop(events);

    let bad = open(
        &mut browser,
        workspace,
        "",
        &[("last-event-id", "yesterday")],
    )
    .await;
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn only_the_sessions_own_workspaces_stream() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    app.add_user("bob", None, true).await;
    let alice = device(&app, "alice").await;
    let workspace = alice.workspace.workspace_id;
    let mut bob = signed_in(&app, "bob").await;

    for id in [workspace, Uuid::now_v7()] {
        let refused = open(&mut bob, id, "", &[]).await;
        assert_eq!(refused.status(), 404, "{id}");
    }
    // No session: to the sign-in page.
    let mut nobody = Browser::new(&app);
    let refused = open(&mut nobody, workspace, "", &[]).await;
    assert_eq!(refused.status(), 303);
    assert!(location(&refused).starts_with("/signin?next="));

    // A member hears the shared workspace until the access ends.
    let bobs = device(&app, "bob").await;
    let shared = create_workspace(&alice, "Shared").await;
    share(&alice, &shared, &bobs, "bob", Role::Viewer).await;
    let mut events = Events::new(open(&mut bob, shared.workspace_id, "", &[]).await);
    assert_eq!(events.next().await.unwrap().kind, "ready");
    let revision = commit_folder(&alice, shared.workspace_id, "for bob").await;
    events.expect("change", revision).await;
    let bob_id = bobs.rpc.get_account(&bobs.token).await.unwrap().user_id;
    alice
        .rpc
        .call::<serde_json::Value>(
            Some(&alice.token),
            Operation::RemoveMember {
                workspace_id: shared.workspace_id,
                user_id: bob_id,
            },
        )
        .await
        .unwrap();
    let end = events.next().await.expect("the end event");
    assert_eq!(end.kind, "end", "{end:?}");
    assert!(end.data.contains("access"), "{end:?}");
    assert!(events.next().await.is_none(), "the stream ends");
    let refused = open(&mut bob, shared.workspace_id, "", &[]).await;
    assert_eq!(refused.status(), 404);
}

#[tokio::test]
async fn an_expired_session_is_refused_and_its_stream_ends_when_it_expires() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    let laptop = device(&app, "alice").await;
    let workspace = laptop.workspace.workspace_id;
    let short = |ttl| LoginArgs {
        username: "alice".into(),
        password: Password(PASSWORD.into()),
        device: DeviceArgs {
            device_name: "Web browser".into(),
            os: None,
            app_version: None,
        },
        token_ttl_secs: Some(ttl),
    };
    let mut browser = Browser::new(&app);

    let session = laptop.rpc.login(short(2)).await.unwrap();
    browser
        .cookies
        .insert("nimbus_session".into(), session.token.0.clone());
    let opened = Instant::now();
    let mut events = Events::new(open(&mut browser, workspace, "", &[]).await);
    assert_eq!(events.next().await.unwrap().kind, "ready");
    let end = events.next().await.expect("the end event");
    assert_eq!(end.kind, "end", "{end:?}");
    assert!(end.data.contains("expired"), "{end:?}");
    assert!(
        opened.elapsed() < Duration::from_secs(4),
        "{:?}",
        opened.elapsed()
    );
    assert!(events.next().await.is_none());

    // Expired: refused, and sent to sign in.
    tokio::time::sleep(Duration::from_millis(200)).await;
    browser
        .cookies
        .insert("nimbus_session".into(), session.token.0.clone());
    let refused = open(&mut browser, workspace, "", &[]).await;
    assert_eq!(refused.status(), 303);
    assert!(location(&refused).starts_with("/signin?next="));
}

#[tokio::test]
async fn a_revoked_sessions_stream_ends() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    let laptop = device(&app, "alice").await;
    let workspace = laptop.workspace.workspace_id;
    let mut browser = signed_in(&app, "alice").await;
    let mut events = Events::new(open(&mut browser, workspace, "", &[]).await);
    assert_eq!(events.next().await.unwrap().kind, "ready");

    let session = devices(&laptop)
        .await
        .into_iter()
        .find(|d| d.name.starts_with("Web browser") && !d.revoked)
        .unwrap();
    laptop
        .rpc
        .call::<()>(
            Some(&laptop.token),
            Operation::RevokeDevice {
                device_id: session.device_id,
            },
        )
        .await
        .unwrap();
    // The stream ends: with the reason when the revocation's event comes
    // first, without when the broker deletes the session's queue first.
    let started = Instant::now();
    if let Some(event) = events.next().await {
        assert_eq!(event.kind, "end", "{event:?}");
        assert!(events.next().await.is_none());
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    // The browser's reconnection is refused.
    let refused = open(&mut browser, workspace, "", &[("last-event-id", "1")]).await;
    assert_eq!(refused.status(), 303);
}

#[tokio::test]
async fn a_session_holds_a_bounded_number_of_streams_freed_when_the_browser_goes() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    let laptop = device(&app, "alice").await;
    let workspace = laptop.workspace.workspace_id;
    let mut browser = signed_in(&app, "alice").await;

    let mut streams = Vec::new();
    for _ in 0..MAX_STREAMS_PER_SESSION {
        let mut events = Events::new(open(&mut browser, workspace, "", &[]).await);
        assert_eq!(events.next().await.unwrap().kind, "ready");
        streams.push(events);
    }
    let refused = open(&mut browser, workspace, "", &[]).await;
    assert_eq!(refused.status(), 429);
    // Another session of the same user has its own.
    let mut other = signed_in(&app, "alice").await;
    assert_eq!(open(&mut other, workspace, "", &[]).await.status(), 200);

    // A browser that goes gives its stream back (and its broker consumer
    // with it) once the proxy notices the closed connection: its next
    // keep-alive comments fail to write.
    streams.pop();
    let gone = Instant::now();
    let deadline = gone + 2 * WAIT;
    loop {
        let again = open(&mut browser, workspace, "", &[]).await;
        if again.status() == 200 {
            println!("a closed stream was given back after {:?}", gone.elapsed());
            break;
        }
        assert_eq!(again.status(), 429);
        assert!(Instant::now() < deadline, "the stream was never given back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The streams still open still hear commits.
    let revision = commit_folder(&laptop, workspace, "for every tab").await;
    for events in &mut streams {
        events.expect("change", revision).await;
    }
}

/// Opens the user's own stream (`GET /events`), of pages showing no workspace.
async fn open_user_stream(browser: &mut Browser) -> Response {
    let request = browser.client.get(format!("{}/events", browser.address));
    browser.send(request).await
}

/// Waits for the next `invitations` event, skipping nothing else.
async fn expect_invitations(events: &mut Events) -> Duration {
    let started = Instant::now();
    let event = events.next().await.expect("an event");
    assert_eq!(event.kind, "invitations", "{event:?}");
    assert_eq!(event.id, None, "Last-Event-ID stays the page's revision");
    started.elapsed()
}

#[tokio::test]
async fn invitations_reach_every_open_page_of_the_invitee_at_once() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    app.add_user("bob", None, true).await;
    let alice = device(&app, "alice").await;
    let bobs = device(&app, "bob").await;
    let mut bob = signed_in(&app, "bob").await;

    // No session: to the sign-in page, like every page.
    let mut nobody = Browser::new(&app);
    let refused = open_user_stream(&mut nobody).await;
    assert_eq!(refused.status(), 303);

    // A page of no workspace, and one of his folder.
    let mut account_page = Events::new(open_user_stream(&mut bob).await);
    let ready = account_page.next().await.expect("ready");
    assert_eq!((ready.kind.as_str(), ready.id), ("ready", None));
    let folder_workspace = bobs.workspace.workspace_id;
    let mut folder_page = Events::new(open(&mut bob, folder_workspace, "", &[]).await);
    assert_eq!(folder_page.next().await.unwrap().kind, "ready");

    let team = create_workspace(&alice, "Team").await;
    let propose = |workspace_id| {
        Operation::ProposeShare(nimbus_protocol::rpc::ProposeShareArgs {
            workspace_id,
            addressees: vec!["bob".into()],
            role: Role::Editor,
            message: None,
        })
    };
    let started = Instant::now();
    let proposals: Vec<nimbus_protocol::rpc::Proposal> = alice
        .rpc
        .call(Some(&alice.token), propose(team.workspace_id))
        .await
        .unwrap();
    expect_invitations(&mut account_page).await;
    let heard = started.elapsed();
    expect_invitations(&mut folder_page).await;
    println!("proposal reply to the invitee's page hearing it: {heard:?}");
    assert!(heard < Duration::from_secs(2), "{heard:?}");

    // Declining on another device: his open pages hear that too.
    let _: nimbus_protocol::rpc::Proposal = bobs
        .rpc
        .call(
            Some(&bobs.token),
            Operation::DeclineProposal {
                proposal_id: proposals[0].proposal_id,
            },
        )
        .await
        .unwrap();
    expect_invitations(&mut account_page).await;
    expect_invitations(&mut folder_page).await;
    // The folder page's stream still announces its commits by revision.
    let revision = commit_folder(&bobs, folder_workspace, "after the invitation").await;
    folder_page.expect("change", revision).await;

    // The user's streams count against the session's limit with the others.
    let mut streams = Vec::new();
    for _ in 2..MAX_STREAMS_PER_SESSION {
        streams.push(Events::new(open_user_stream(&mut bob).await));
    }
    assert_eq!(open_user_stream(&mut bob).await.status(), 429);
}

/// The kind of the next event.
async fn next_kind(events: &mut Events) -> String {
    events.next().await.expect("an event").kind
}

#[tokio::test]
async fn the_users_own_stream_says_when_their_workspaces_change() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    app.add_user("bob", None, true).await;
    let alice = device(&app, "alice").await;
    let bobs = device(&app, "bob").await;
    let bob_id = bobs.rpc.get_account(&bobs.token).await.unwrap().user_id;
    let mut bob = signed_in(&app, "bob").await;
    let mut home = Events::new(open_user_stream(&mut bob).await);
    assert_eq!(next_kind(&mut home).await, "ready");
    let folder_workspace = bobs.workspace.workspace_id;
    let mut folder_page = Events::new(open(&mut bob, folder_workspace, "", &[]).await);
    assert_eq!(next_kind(&mut folder_page).await, "ready");

    // Invited, then accepting on his laptop: the home page hears the
    // invitation, then that his workspaces changed, and lists the new one.
    let team = create_workspace(&alice, "Team").await;
    share(&alice, &team, &bobs, "bob", Role::Editor).await;
    assert_eq!(next_kind(&mut home).await, "invitations");
    assert_eq!(next_kind(&mut home).await, "workspaces");
    assert!(bob.html("/").await.1.contains("Team"));

    // His role changed, then his access ended.
    for operation in [
        Operation::SetMemberRole {
            workspace_id: team.workspace_id,
            user_id: bob_id,
            role: Role::Viewer,
        },
        Operation::RemoveMember {
            workspace_id: team.workspace_id,
            user_id: bob_id,
        },
    ] {
        alice
            .rpc
            .call::<serde_json::Value>(Some(&alice.token), operation)
            .await
            .unwrap();
        assert_eq!(next_kind(&mut home).await, "workspaces");
    }
    assert!(!bob.html("/").await.1.contains("Team"));

    // A page of one of his workspaces, which lists none, heard only the
    // invitations (for the badge) before its next change.
    let revision = commit_folder(&bobs, folder_workspace, "after the share").await;
    loop {
        let event = folder_page.next().await.expect("an event");
        if event.kind == "change" {
            assert_eq!(event.id, Some(revision.to_string()));
            break;
        }
        assert_eq!(event.kind, "invitations", "{event:?}");
    }
}
