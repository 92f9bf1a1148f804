//! Public links: created by a reader of a workspace, opened by anyone who
//! holds the token, and dead at once when revoked, expired, used up, when
//! their target is deleted or their creator loses access.

use std::time::Duration;

use nimbus_protocol::ClientError;
use nimbus_protocol::rpc::{
    CreateLinkArgs, CreateWorkspaceArgs, CreatedLink, DeviceToken, EncryptionMode, ErrorCode,
    ItemOutcome, LinkInfo, LinkStatus, LinkToken, OpenLinkArgs, OpenedLink, Operation, Password,
    Role, RpcError, TimestampMillis,
};
use nimbus_server::test_log::record_secret;
use uuid::Uuid;

use crate::cli::{nimbus_server, stdout};
use crate::helpers::{TestApp, based_on, new_file, new_folder, spawn_app};
use crate::sharing::{create_workspace, share, user_id};

const LINK_PASSWORD: &str = "correct horse battery";

fn link_args(workspace_id: Uuid, item_id: Option<Uuid>) -> CreateLinkArgs {
    CreateLinkArgs {
        workspace_id,
        item_id,
        expires_at: None,
        password: None,
        max_downloads: None,
    }
}

fn open_args(token: &LinkToken) -> OpenLinkArgs {
    OpenLinkArgs {
        link_token: token.clone(),
        password: None,
        unlock: None,
        item_id: None,
        count_download: false,
        subtree_max: None,
    }
}

async fn create_link(app: &TestApp, token: &DeviceToken, args: CreateLinkArgs) -> CreatedLink {
    let created: CreatedLink = app
        .client
        .call(Some(token), Operation::CreateLink(args))
        .await
        .expect("createLink");
    record_secret("link token", &created.token.0);
    created
}

/// Opens a link as an anonymous visitor (no device token).
async fn open(app: &TestApp, args: OpenLinkArgs) -> Result<OpenedLink, RpcError> {
    match app.client.call(None, Operation::OpenLink(args)).await {
        Ok(opened) => Ok(opened),
        Err(ClientError::Rpc(error)) => Err(error),
        Err(other) => panic!("openLink: {other}"),
    }
}

async fn refusal(app: &TestApp, token: Option<&DeviceToken>, op: Operation) -> RpcError {
    match app.client.call::<serde_json::Value>(token, op).await {
        Err(ClientError::Rpc(error)) => error,
        other => panic!("must be refused, got {other:?}"),
    }
}

async fn links_of(app: &TestApp, token: &DeviceToken) -> Vec<LinkInfo> {
    app.client
        .call(Some(token), Operation::ListLinks)
        .await
        .expect("listLinks")
}

async fn status_of(app: &TestApp, token: &DeviceToken, link_id: Uuid) -> LinkStatus {
    links_of(app, token)
        .await
        .into_iter()
        .find(|link| link.link_id == link_id)
        .expect("the link is listed")
        .status
}

fn now_millis() -> TimestampMillis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn is_dead(result: Result<OpenedLink, RpcError>) -> bool {
    matches!(result, Err(error) if error.code == ErrorCode::Forbidden)
}

#[tokio::test]
async fn a_file_link_opens_anonymously_until_its_creator_revokes_it() {
    let app = spawn_app().await;
    let (alice, home) = app.user_with_device("alice").await;
    let (mallory, _) = app.user_with_device("mallory").await;
    let file = new_file(None, "report.pdf", 7, 1000);
    app.commit(&alice, &home, vec![file.clone()]).await;

    let created = create_link(&app, &alice, link_args(home.workspace_id, Some(file.id))).await;
    assert!(created.token.0.len() >= 32, "at least 128 bits of hex");
    assert_eq!(created.link.name, "report.pdf");
    assert!(!created.link.is_folder);
    let opened = open(&app, open_args(&created.token)).await.unwrap();
    let item = opened.item.as_ref().expect("the file");
    assert_eq!((item.id, item.content.size), (file.id, 1000));
    assert_eq!(opened.storage.container, home.container);
    assert!(opened.children.is_empty());

    // The list never shows the token.
    let listed = links_of(&app, &alice).await;
    assert_eq!(listed, vec![created.link.clone()]);
    assert!(
        !serde_json::to_string(&listed)
            .unwrap()
            .contains(&created.token.0)
    );
    assert!(links_of(&app, &mallory).await.is_empty());

    let revoke = Operation::RevokeLink {
        link_id: created.link.link_id,
    };
    let refused = refusal(&app, Some(&mallory), revoke.clone()).await;
    assert_eq!(refused.code, ErrorCode::Forbidden);
    assert!(open(&app, open_args(&created.token)).await.is_ok());
    let revoked: LinkInfo = app.client.call(Some(&alice), revoke).await.unwrap();
    assert_eq!(revoked.status, LinkStatus::Revoked);
    assert!(is_dead(open(&app, open_args(&created.token)).await));

    let guessed = open(&app, open_args(&LinkToken("0".repeat(64)))).await;
    assert!(is_dead(guessed));
    app.stop().await;
}

#[tokio::test]
async fn a_password_link_asks_for_it_and_slows_down_wrong_guesses() {
    let app = spawn_app().await;
    let (alice, home) = app.user_with_device("alice").await;
    let file = new_file(None, "secret.txt", 3, 10);
    app.commit(&alice, &home, vec![file.clone()]).await;
    record_secret("password", LINK_PASSWORD);

    let weak = refusal(
        &app,
        Some(&alice),
        Operation::CreateLink(CreateLinkArgs {
            password: Some(Password("short".into())),
            ..link_args(home.workspace_id, Some(file.id))
        }),
    )
    .await;
    assert_eq!(weak.code, ErrorCode::BadRequest);
    assert!(links_of(&app, &alice).await.is_empty(), "nothing was made");

    let created = create_link(
        &app,
        &alice,
        CreateLinkArgs {
            password: Some(Password(LINK_PASSWORD.into())),
            ..link_args(home.workspace_id, Some(file.id))
        },
    )
    .await;
    assert!(created.link.has_password);
    let with_password = |password: &str| OpenLinkArgs {
        password: Some(Password(password.into())),
        ..open_args(&created.token)
    };
    let asked = open(&app, open_args(&created.token)).await.unwrap_err();
    assert_eq!(asked.code, ErrorCode::InvalidCredentials);

    // A right password earns an unlock that opens the next pages.
    let opened = open(&app, with_password(LINK_PASSWORD)).await.unwrap();
    let unlock = opened.unlock.expect("an unlock");
    record_secret("link unlock", &unlock.0);
    let again = open(
        &app,
        OpenLinkArgs {
            unlock: Some(unlock.clone()),
            ..open_args(&created.token)
        },
    )
    .await
    .unwrap();
    assert!(again.item.is_some());
    let forged = open(
        &app,
        OpenLinkArgs {
            unlock: Some(LinkToken(format!("{}.00", now_millis() + 60_000))),
            ..open_args(&created.token)
        },
    )
    .await;
    assert_eq!(forged.unwrap_err().code, ErrorCode::InvalidCredentials);

    for attempt in 0..5 {
        let wrong = open(&app, with_password("wrong guess")).await.unwrap_err();
        assert_eq!(
            wrong.code,
            ErrorCode::InvalidCredentials,
            "attempt {attempt}"
        );
    }
    let slowed = open(&app, with_password("wrong guess")).await.unwrap_err();
    assert_eq!(slowed.code, ErrorCode::TooManyAttempts);
    assert!(slowed.retry_after_secs.is_some_and(|s| s >= 1));
    // Even the right password waits: the guesser cannot tell it worked.
    let waiting = open(&app, with_password(LINK_PASSWORD)).await.unwrap_err();
    assert_eq!(waiting.code, ErrorCode::TooManyAttempts);
    app.stop().await;
}

#[tokio::test]
async fn expiry_and_the_download_limit_each_end_a_link() {
    let app = spawn_app().await;
    let (alice, home) = app.user_with_device("alice").await;
    let file = new_file(None, "song.mp3", 5, 100);
    app.commit(&alice, &home, vec![file.clone()]).await;

    let past = refusal(
        &app,
        Some(&alice),
        Operation::CreateLink(CreateLinkArgs {
            expires_at: Some(now_millis() - 1000),
            ..link_args(home.workspace_id, Some(file.id))
        }),
    )
    .await;
    assert_eq!(past.code, ErrorCode::BadRequest);

    let limited = create_link(
        &app,
        &alice,
        CreateLinkArgs {
            max_downloads: Some(2),
            ..link_args(home.workspace_id, Some(file.id))
        },
    )
    .await;
    let download = OpenLinkArgs {
        count_download: true,
        ..open_args(&limited.token)
    };
    // Looking does not count; downloading does.
    open(&app, open_args(&limited.token)).await.unwrap();
    open(&app, download.clone()).await.unwrap();
    open(&app, download.clone()).await.unwrap();
    assert!(is_dead(open(&app, download).await));
    assert!(is_dead(open(&app, open_args(&limited.token)).await));
    let info = links_of(&app, &alice).await;
    let used = info.iter().find(|l| l.link_id == limited.link.link_id);
    assert_eq!(
        used.map(|l| (l.downloads, l.status)),
        Some((2, LinkStatus::UsedUp))
    );

    let expiring = create_link(
        &app,
        &alice,
        CreateLinkArgs {
            expires_at: Some(now_millis() + 1500),
            ..link_args(home.workspace_id, Some(file.id))
        },
    )
    .await;
    open(&app, open_args(&expiring.token)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert!(is_dead(open(&app, open_args(&expiring.token)).await));
    assert_eq!(
        status_of(&app, &alice, expiring.link.link_id).await,
        LinkStatus::Expired
    );
    app.stop().await;
}

#[tokio::test]
async fn a_folder_link_shows_only_what_is_inside_and_dies_with_its_folder() {
    let app = spawn_app().await;
    let (alice, home) = app.user_with_device("alice").await;
    let photos = new_folder(None, "Photos");
    let beach = new_file(Some(photos.id), "beach.jpg", 1, 10);
    let trip = new_folder(Some(photos.id), "Trip");
    let hill = new_file(Some(trip.id), "hill.jpg", 2, 20);
    let private = new_file(None, "diary.txt", 3, 30);
    app.commit(
        &alice,
        &home,
        vec![
            photos.clone(),
            beach.clone(),
            trip.clone(),
            hill.clone(),
            private.clone(),
        ],
    )
    .await;
    let created = create_link(&app, &alice, link_args(home.workspace_id, Some(photos.id))).await;
    assert!(created.link.is_folder);

    let top = open(&app, open_args(&created.token)).await.unwrap();
    assert!(top.is_folder());
    let names: Vec<&str> = top.children.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["Trip", "beach.jpg"]);
    let inside = |item_id| OpenLinkArgs {
        item_id: Some(item_id),
        ..open_args(&created.token)
    };
    let deep = open(&app, inside(hill.id)).await.unwrap();
    assert_eq!(deep.item.unwrap().name, "hill.jpg");
    let sub = open(&app, inside(trip.id)).await.unwrap();
    assert_eq!(sub.children.len(), 1);
    assert!(
        is_dead(open(&app, inside(private.id)).await),
        "outside the folder"
    );
    assert!(is_dead(open(&app, inside(Uuid::new_v4())).await));
    // A zip of the folder lists everything beneath it, and counts once.
    let subtree = |max| OpenLinkArgs {
        subtree_max: Some(max),
        ..open_args(&created.token)
    };
    let mut below: Vec<String> = open(&app, subtree(10))
        .await
        .unwrap()
        .children
        .into_iter()
        .map(|i| i.name)
        .collect();
    below.sort();
    assert_eq!(below, ["Trip", "beach.jpg", "hill.jpg"]);
    assert_eq!(open(&app, subtree(2)).await.unwrap().children.len(), 2);
    let zipped = open(
        &app,
        OpenLinkArgs {
            count_download: true,
            ..open_args(&created.token)
        },
    )
    .await
    .unwrap();
    assert!(zipped.children.is_empty());
    let counted = links_of(&app, &alice).await;
    let counted = counted.iter().find(|l| l.link_id == created.link.link_id);
    assert_eq!(counted.map(|l| l.downloads), Some(1));

    // A file link dies with its file; the folder link stops showing it.
    let file_link = create_link(&app, &alice, link_args(home.workspace_id, Some(hill.id))).await;
    let mut gone = based_on(&hill, 1);
    gone.deleted = true;
    app.commit(&alice, &home, vec![gone]).await;
    assert!(is_dead(open(&app, open_args(&file_link.token)).await));
    assert!(is_dead(open(&app, inside(hill.id)).await));
    assert_eq!(
        status_of(&app, &alice, file_link.link.link_id).await,
        LinkStatus::TargetDeleted
    );
    let mut trip_gone = based_on(&trip, 1);
    trip_gone.deleted = true;
    let mut beach_gone = based_on(&beach, 1);
    beach_gone.deleted = true;
    let mut photos_gone = based_on(&photos, 1);
    photos_gone.deleted = true;
    // Folder deletions apply last listed first: the parent goes after its child.
    let reply = app
        .commit(&alice, &home, vec![photos_gone, trip_gone, beach_gone])
        .await;
    assert!(
        reply
            .results
            .iter()
            .all(|r| matches!(r.outcome, ItemOutcome::Committed { .. })),
        "{reply:?}"
    );
    assert!(is_dead(open(&app, open_args(&created.token)).await));
    app.stop().await;
}

#[tokio::test]
async fn a_members_links_die_when_they_lose_access_and_encrypted_workspaces_have_none() {
    let app = spawn_app().await;
    let (alice, _) = app.user_with_device("alice").await;
    let (bob, _) = app.user_with_device("bob").await;
    let project = create_workspace(&app, &alice, "Project").await;
    let plan = new_file(None, "plan.txt", 4, 40);
    app.commit(&alice, &project, vec![plan.clone()]).await;
    share(&app, &alice, &project, ("bob", &bob), Role::Viewer).await;

    // A viewer may publish what they can read, the workspace's top included.
    let bobs = create_link(&app, &bob, link_args(project.workspace_id, None)).await;
    let top = open(&app, open_args(&bobs.token)).await.unwrap();
    assert!(top.item.is_none() && top.is_folder());
    assert_eq!(top.children.len(), 1);
    assert_eq!(top.name, "Project");
    let alices = create_link(&app, &alice, link_args(project.workspace_id, Some(plan.id))).await;

    let _: () = app
        .client
        .call(
            Some(&alice),
            Operation::RemoveMember {
                workspace_id: project.workspace_id,
                user_id: user_id(&app, &bob).await,
            },
        )
        .await
        .unwrap();
    assert!(is_dead(open(&app, open_args(&bobs.token)).await));
    assert_eq!(
        status_of(&app, &bob, bobs.link.link_id).await,
        LinkStatus::Revoked,
        "revoked with the membership"
    );
    assert!(open(&app, open_args(&alices.token)).await.is_ok());
    let outsider = refusal(
        &app,
        Some(&bob),
        Operation::CreateLink(link_args(project.workspace_id, None)),
    )
    .await;
    assert_eq!(outsider.code, ErrorCode::Forbidden);

    let vault = app
        .client
        .create_workspace(
            &alice,
            CreateWorkspaceArgs {
                workspace_id: Uuid::new_v4(),
                name: "Vault".into(),
                encryption: EncryptionMode::Client,
                key_check: Some("0f".repeat(16)),
            },
        )
        .await
        .unwrap();
    let encrypted = refusal(
        &app,
        Some(&alice),
        Operation::CreateLink(link_args(vault.workspace_id, None)),
    )
    .await;
    assert_eq!(encrypted.code, ErrorCode::BadRequest);
    assert!(
        encrypted.message.contains("end-to-end"),
        "{}",
        encrypted.message
    );
    app.stop().await;
}

#[tokio::test]
async fn an_administrator_lists_every_link_and_revokes_one() {
    let app = spawn_app().await;
    let (alice, home) = app.user_with_device("alice").await;
    let (bob, bobs_home) = app.user_with_device("bob").await;
    let file = new_file(None, "notes.txt", 6, 60);
    app.commit(&alice, &home, vec![file.clone()]).await;
    let alices = create_link(&app, &alice, link_args(home.workspace_id, Some(file.id))).await;
    let bobs = create_link(&app, &bob, link_args(bobs_home.workspace_id, None)).await;

    let url = app.settings.database_url.clone();
    let listed = stdout(&nimbus_server(&url, &["link", "list"], None));
    let line_of = |link_id: Uuid| {
        listed
            .lines()
            .find(|line| line.starts_with(&link_id.to_string()))
            .unwrap_or_else(|| panic!("{link_id} in:\n{listed}"))
            .to_owned()
    };
    let alice_line = line_of(alices.link.link_id);
    assert!(
        alice_line.contains("alice") && alice_line.contains("notes.txt"),
        "{alice_line}"
    );
    assert!(
        alice_line.contains("active") && alice_line.contains("never"),
        "{alice_line}"
    );
    assert!(line_of(bobs.link.link_id).contains("bob"));
    assert!(!listed.contains(&alices.token.0), "never a token");

    let revoked = stdout(&nimbus_server(
        &url,
        &["link", "revoke", &alices.link.link_id.to_string()],
        None,
    ));
    assert!(revoked.contains("notes.txt"), "{revoked}");
    assert!(is_dead(open(&app, open_args(&alices.token)).await));
    assert!(open(&app, open_args(&bobs.token)).await.is_ok());
    let unknown = nimbus_server(&url, &["link", "revoke", &Uuid::new_v4().to_string()], None);
    assert!(!unknown.status.success());
    app.stop().await;
}
