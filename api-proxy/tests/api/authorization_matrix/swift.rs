//! The Swift API's rows: every method of `swift::METHODS` on the owner's
//! account, on a workspace container and on an object in it, plus bulk
//! delete, archive extraction and server-side copies; then TempAuth and `/info`
//! (`startup::ROUTES`) and the probes and metrics (`health::ROUTES`), open
//! to every caller. A method the API answers without listing it in
//! `METHODS` is caught too: every other method must get 405.

use std::time::Duration;

use nimbus_protocol::rpc::{Operation, Role};
use nimbus_proxy::routes::Route;
use nimbus_proxy::swift::METHODS;
use reqwest::RequestBuilder;

use super::{Caller, Cast, Expect, READERS, Scene, WRITERS, check, only};
use crate::helpers::{device, spawn_app};
use crate::sharing::{create_workspace, share};
use crate::swift_bulk_upload::archive;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Account,
    Container,
    Object,
}

/// What a request carries beyond its method and level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    Plain,
    /// `?bulk-delete` listing the row's object.
    BulkDeleteObject,
    /// `?bulk-delete` listing the row's container.
    BulkDeleteContainer,
    /// `PUT` with `X-Copy-From` the row's object.
    CopyFrom,
    /// `PUT ?extract-archive=tar` of an archive holding one file.
    ExtractArchive,
}

#[derive(Debug, Clone, Copy)]
struct Row {
    level: Level,
    method: &'static str,
    variant: Variant,
}

/// Every method at every level, then the variants.
fn rows() -> Vec<Row> {
    let mut rows = Vec::new();
    for level in [Level::Account, Level::Container, Level::Object] {
        for method in METHODS {
            rows.push(Row {
                level,
                method,
                variant: Variant::Plain,
            });
        }
    }
    for (level, method, variant) in [
        (Level::Account, "POST", Variant::BulkDeleteObject),
        (Level::Account, "DELETE", Variant::BulkDeleteObject),
        (Level::Account, "POST", Variant::BulkDeleteContainer),
        (Level::Object, "PUT", Variant::CopyFrom),
        (Level::Container, "PUT", Variant::ExtractArchive),
    ] {
        rows.push(Row {
            level,
            method,
            variant,
        });
    }
    rows
}

/// The answer to `row` from `caller`. The account is the owner's, the
/// container the scene's workspace's, and the object is in it.
fn expected(row: &Row, caller: Caller) -> Expect {
    use Caller::{Anonymous, ExpiredToken, Owner, RevokedDevice};
    use Level::{Account, Container, Object};
    use Variant::{BulkDeleteContainer, BulkDeleteObject, CopyFrom, ExtractArchive, Plain};
    let unauthorized = Expect::Refused(401);
    // A token the metadata servers no longer accept is refused first.
    if matches!(caller, RevokedDevice | ExpiredToken) {
        return unauthorized;
    }
    let with_token = |expect: Expect| {
        if caller == Anonymous {
            unauthorized
        } else {
            expect
        }
    };
    match (row.level, row.method, row.variant) {
        // A preflight without `Origin` is no request at all.
        (_, "OPTIONS", Plain) => unauthorized,
        (Account, "PUT" | "DELETE" | "COPY", Plain) | (Container, "COPY", Plain) => {
            Expect::Refused(405)
        }
        (Account, "HEAD", Plain) => with_token(only(&[Owner], caller, 204, 403)),
        (Account, "GET", Plain) => with_token(only(&[Owner], caller, 200, 403)),
        (Account, "POST", Plain) => with_token(only(&[Owner], caller, 204, 403)),
        // Each listed path is authorized on its own; refusals are listed in
        // a 200 answer.
        (Account, "POST" | "DELETE", BulkDeleteObject) => {
            with_token(only(WRITERS, caller, 200, 200))
        }
        // Never deleted: not empty for the owner, not theirs for the others.
        (Account, "POST", BulkDeleteContainer) => with_token(Expect::Refused(200)),
        // Each file is authorized as its PUT; the outcome, a refusal
        // included (401 without a token), is in the body of a 200.
        (Container, "PUT", ExtractArchive) => only(WRITERS, caller, 200, 200),
        (Container, "HEAD", Plain) => with_token(only(READERS, caller, 204, 403)),
        (Container, "GET", Plain) => with_token(only(READERS, caller, 200, 403)),
        (Container, "PUT", Plain) => with_token(only(&[Owner], caller, 202, 403)),
        (Container, "POST", Plain) => with_token(only(&[Owner], caller, 204, 403)),
        (Container, "DELETE", Plain) if caller == Owner => Expect::Refused(409),
        (Container, "DELETE", Plain) => with_token(Expect::Refused(403)),
        (Object, "HEAD" | "GET", Plain) => with_token(only(READERS, caller, 200, 403)),
        (Object, "PUT", Plain | CopyFrom) => with_token(only(WRITERS, caller, 201, 403)),
        (Object, "POST", Plain) => with_token(only(WRITERS, caller, 202, 403)),
        (Object, "DELETE", Plain) => with_token(only(WRITERS, caller, 204, 403)),
        (Object, "COPY", Plain) => with_token(only(WRITERS, caller, 201, 403)),
        (level, method, variant) => {
            panic!("the Swift matrix has no entry for {method} on {level:?} ({variant:?})")
        }
    }
}

const OBJECT: &str = "target.txt";

fn request(cast: &Cast, scene: &Scene, row: &Row, caller: Caller) -> RequestBuilder {
    let account_url = &cast.device(Caller::Owner).storage_url;
    let container = &scene.workspace.container;
    let object_url = |name: &str| format!("{}/{name}", scene.container_url);
    let url = match (row.level, row.variant) {
        (_, Variant::BulkDeleteObject | Variant::BulkDeleteContainer) => {
            format!("{account_url}?bulk-delete")
        }
        (Level::Object, Variant::CopyFrom) => object_url("copied.txt"),
        (_, Variant::ExtractArchive) => format!("{}?extract-archive=tar", scene.container_url),
        (Level::Account, _) => account_url.clone(),
        (Level::Container, _) => scene.container_url.clone(),
        (Level::Object, _) => object_url(OBJECT),
    };
    let mut request = cast.app.client.request(row.method.parse().unwrap(), url);
    if let Some(token) = cast.token(caller) {
        request = request.header("X-Auth-Token", token);
    }
    let meta = match row.level {
        Level::Account => "X-Account-Meta-Color",
        Level::Container => "X-Container-Meta-Color",
        Level::Object => "X-Object-Meta-Color",
    };
    match (row.method, row.variant) {
        ("PUT", Variant::Plain) => request.body(format!("{caller:?} bytes")),
        ("POST", Variant::Plain) => request.header(meta, format!("{caller:?}")),
        ("COPY", Variant::Plain) => request.header("Destination", format!("{container}/copy.txt")),
        ("PUT", Variant::CopyFrom) => request
            .header("X-Copy-From", format!("{container}/{OBJECT}"))
            .body(""),
        (_, Variant::BulkDeleteObject) => request
            .header("Content-Type", "text/plain")
            .body(format!("/{container}/{OBJECT}\n")),
        (_, Variant::ExtractArchive) => request.body(archive(&[("extracted.txt", b"bytes")], &[])),
        (_, Variant::BulkDeleteContainer) => request
            .header("Content-Type", "text/plain")
            .body(format!("/{container}\n")),
        _ => request,
    }
}

/// Methods the Swift API must answer with 405 everywhere.
const UNLISTED_METHODS: [&str; 4] = ["PATCH", "MOVE", "PROPFIND", "LINK"];

/// `startup::ROUTES` and `health::ROUTES`: the answer to `route` from
/// `caller`, and its request.
fn startup_entry(cast: &Cast, route: &Route, caller: Caller) -> Option<(RequestBuilder, Expect)> {
    let client = &cast.app.client;
    let url = |path: &str| format!("{}{path}", cast.app.address);
    // TempAuth takes credentials, never a token: a wrong key is refused
    // whatever token comes along.
    let wrong_key = |path: &str| {
        client
            .get(url(path))
            .header("X-Auth-User", "nobody:nobody")
            .header("X-Auth-Key", "not the key")
    };
    let entry = match (route.method, route.path) {
        ("GET", "/info") => (client.get(url("/info")), Expect::Allowed(200)),
        ("GET", path @ ("/healthz" | "/readyz" | "/metrics")) => {
            (client.get(url(path)), Expect::Allowed(200))
        }
        ("GET", "/auth/v1.0") => (wrong_key("/auth/v1.0"), Expect::Refused(401)),
        ("GET", "/v1.0") => (wrong_key("/v1.0"), Expect::Refused(401)),
        ("GET", "/auth/v1/{account}/auth") => {
            (wrong_key("/auth/v1/nobody/auth"), Expect::Refused(401))
        }
        _ => return None,
    };
    let (request, expect) = entry;
    let request = match cast.token(caller) {
        Some(token) => request.header("X-Auth-Token", token),
        None => request,
    };
    Some((request, expect))
}

#[tokio::test]
async fn every_swift_verb_answers_every_caller_as_the_matrix_says_and_refusals_change_nothing() {
    let cast = Cast::new().await;
    let owner = cast.device(Caller::Owner);
    let mut wrong = Vec::new();
    for (number, row) in rows().iter().enumerate() {
        let scene = cast.scene(&format!("Swift {number}")).await;
        let mut callers = super::CALLERS.to_vec();
        // Refusals first: an allowed request may delete the object.
        callers.sort_by_key(|caller| matches!(expected(row, *caller), Expect::Allowed(_)));
        for caller in callers {
            let put = cast
                .app
                .client
                .put(format!("{}/{OBJECT}", scene.container_url))
                .header("X-Auth-Token", &owner.swift_token)
                .body("the owner's bytes")
                .send()
                .await
                .unwrap();
            assert_eq!(put.status(), 201, "the row's object");
            let expect = expected(row, caller);
            let what = format!(
                "{} {:?} {:?} by {caller:?}",
                row.method, row.level, row.variant
            );
            let before = cast.snapshot().await;
            let response = request(&cast, &scene, row, caller).send().await.unwrap();
            check(&mut wrong, &what, response.status().as_u16(), expect);
            if let Expect::Refused(_) = expect {
                let body = response.text().await.unwrap();
                before.assert_same(&cast.snapshot().await, &format!("{what} ({body})"));
            }
        }
    }
    for level in [Level::Account, Level::Container, Level::Object] {
        let scene = cast.scene(&format!("Unlisted {level:?}")).await;
        for method in UNLISTED_METHODS {
            let row = Row {
                level,
                method,
                variant: Variant::Plain,
            };
            let status = request(&cast, &scene, &row, Caller::Owner)
                .send()
                .await
                .unwrap()
                .status();
            if status != 405 {
                wrong.push(format!(
                    "{method} on {level:?} answers {status}: list it in swift::METHODS and the matrix"
                ));
            }
        }
    }
    for route in &[nimbus_proxy::startup::ROUTES, nimbus_proxy::health::ROUTES].concat() {
        for caller in super::CALLERS {
            let Some((request, expect)) = startup_entry(&cast, route, caller) else {
                wrong.push(format!("{route:?} has no entry in the Swift matrix"));
                break;
            };
            let before = cast.snapshot().await;
            let status = request.send().await.unwrap().status().as_u16();
            let what = format!("{route:?} by {caller:?}");
            check(&mut wrong, &what, status, expect);
            if let Expect::Refused(_) = expect {
                before.assert_same(&cast.snapshot().await, &what);
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Found by the matrix: bulk delete deleted a container after its workspace
/// had been transferred to another account, because it checked only that
/// the caller administers the account; and the other administrators of that
/// account kept the container from their cached identities.
#[tokio::test]
async fn a_transferred_workspaces_container_is_out_of_reach_of_its_old_accounts_administrators() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    app.add_user("alice2", Some("alice"), true).await;
    app.add_user("bob", None, true).await;
    let alice = device(&app, "alice").await;
    let colleague = app.login("alice:alice2").await;
    let bob = device(&app, "bob").await;
    let workspace = create_workspace(&alice, "Handed over").await;
    let container_url = format!("{}/{}", alice.storage_url, workspace.container);
    let created = app
        .client
        .put(&container_url)
        .header("X-Auth-Token", &alice.swift_token)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let head = |token: String| {
        let request = app
            .client
            .head(&container_url)
            .header("X-Auth-Token", token);
        async move { request.send().await.unwrap().status() }
    };
    // The colleague administers the account, and the proxy remembers it.
    assert_eq!(head(colleague.token.clone()).await, 204);
    share(&alice, &workspace, &bob, "bob", Role::Editor).await;
    let bob_id = bob.rpc.get_account(&bob.token).await.unwrap().user_id;
    let _members: serde_json::Value = alice
        .rpc
        .call(
            Some(&alice.token),
            Operation::TransferOwnership {
                workspace_id: workspace.workspace_id,
                user_id: bob_id,
            },
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;

    for (who, token) in [("alice", &alice.swift_token), ("alice2", &colleague.token)] {
        let bulk = app
            .client
            .post(format!("{}?bulk-delete", alice.storage_url))
            .header("X-Auth-Token", token)
            .header("Accept", "application/json")
            .body(format!("/{}\n", workspace.container))
            .send()
            .await
            .unwrap();
        assert_eq!(bulk.status(), 200);
        let report: serde_json::Value = bulk.json().await.unwrap();
        assert_eq!(report["Number Deleted"], 0, "{who}: {report}");
        assert_eq!(report["Errors"][0][1], "403 Forbidden", "{who}: {report}");
        let post = app
            .client
            .post(&container_url)
            .header("X-Auth-Token", token)
            .header("X-Container-Read", ".r:*")
            .send()
            .await
            .unwrap();
        assert_eq!(post.status(), 403, "{who} changes the container's ACL");
    }
    assert_eq!(
        head(bob.swift_token.clone()).await,
        204,
        "the container is still there"
    );
    let anonymous = app.client.head(&container_url).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
}
