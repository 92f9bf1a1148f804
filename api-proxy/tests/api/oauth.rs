//! The OAuth 1.0a provider over HTTP, driven by a real client library
//! (oauth1-request): the three legs, token management, and every refusal.

use std::num::NonZeroU64;
use std::time::{SystemTime, UNIX_EPOCH};

use nimbus_server::admin::add_oauth_consumer;
use nimbus_server::test_log::record_secret;
use oauth1_request as oauth;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::Value;

use crate::helpers::{PASSWORD, TestApp, spawn_app};

/// A consumer's key and secret, and an access token with its secret.
#[derive(Debug, Clone)]
pub struct Grant {
    pub consumer: (String, String),
    pub token: (String, String),
}

/// How to sign one request (defaults: correctly, now, with a fresh nonce).
#[derive(Debug, Clone, Default)]
pub struct Signing<'a> {
    pub token_secret: Option<&'a str>,
    pub timestamp: Option<u64>,
    pub nonce: Option<&'a str>,
    pub plaintext: bool,
    pub callback: Option<&'a str>,
    pub verifier: Option<&'a str>,
}

/// The `Authorization` header of a request signed for `url` (no query) with
/// `params` (query or form parameters, decoded).
pub fn authorization(
    method: &str,
    url: &str,
    params: &[(&str, &str)],
    consumer: (&str, &str),
    token: Option<(&str, &str)>,
    signing: &Signing<'_>,
) -> String {
    let request = oauth::ParameterList::new(params.to_vec());
    let token = token.map(|(t, s)| oauth::Credentials::new(t, signing.token_secret.unwrap_or(s)));
    let consumer = oauth::Credentials::new(consumer.0, consumer.1);
    macro_rules! sign {
        ($method:expr) => {{
            let mut builder = oauth::Builder::<_, _>::new(consumer, $method);
            builder
                .token(token)
                .callback(signing.callback)
                .verifier(signing.verifier)
                .nonce(signing.nonce)
                .timestamp(signing.timestamp.and_then(NonZeroU64::new));
            builder.authorize(method, url, &request)
        }};
    }
    if signing.plaintext {
        sign!(oauth::Plaintext::new())
    } else {
        sign!(oauth::HmacSha1::new())
    }
}

/// `k=v&…`, form-encoded (as query strings and form bodies are).
pub fn encode_pairs(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// Sends a form body (reqwest's `form` needs a feature this workspace lacks).
pub trait WithForm {
    fn with_form(self, pairs: &[(&str, &str)]) -> Self;
}

impl WithForm for RequestBuilder {
    fn with_form(self, pairs: &[(&str, &str)]) -> Self {
        self.header("Content-Type", "application/x-www-form-urlencoded")
            .body(encode_pairs(pairs))
    }
}

pub fn form_reply(body: &str) -> (String, String) {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{name} in {body}"))
    };
    let (token, secret) = (get("oauth_token"), get("oauth_token_secret"));
    record_secret("oauth token", &token);
    record_secret("oauth token secret", &secret);
    (token, secret)
}

pub async fn request_token(
    app: &TestApp,
    consumer: (&str, &str),
    callback: &str,
    signing: &Signing<'_>,
) -> reqwest::Response {
    let url = format!("{}/oauth/request_token", app.address);
    let signing = Signing {
        callback: Some(callback),
        ..signing.clone()
    };
    let header = authorization("POST", &url, &[], consumer, None, &signing);
    app.client
        .post(&url)
        .header("Authorization", header)
        .send()
        .await
        .unwrap()
}

/// The user's answer on the authorize page.
pub async fn authorize(
    app: &TestApp,
    request_token: &str,
    user: &str,
    password: &str,
) -> reqwest::Response {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    client
        .post(format!("{}/oauth/authorize", app.address))
        .with_form(&[
            ("oauth_token", request_token),
            ("username", user),
            ("password", password),
            ("action", "allow"),
        ])
        .send()
        .await
        .unwrap()
}

fn verifier_in(html: &str) -> String {
    let start = html.find("<code id=\"verifier\">").expect("a verifier") + 20;
    let end = start + html[start..].find("</code>").unwrap();
    html[start..end].to_owned()
}

async fn access_token(
    app: &TestApp,
    consumer: (&str, &str),
    request: (&str, &str),
    verifier: &str,
) -> reqwest::Response {
    let url = format!("{}/oauth/access_token", app.address);
    let header = authorization(
        "POST",
        &url,
        &[],
        consumer,
        Some(request),
        &Signing {
            verifier: Some(verifier),
            ..Signing::default()
        },
    );
    app.client
        .post(&url)
        .header("Authorization", header)
        .send()
        .await
        .unwrap()
}

/// Registers an application and runs the three legs (with `oob`) for `user`.
pub async fn grant(app: &TestApp, user: &str) -> Grant {
    let consumer = add_oauth_consumer(
        app.metadata.as_ref(),
        &nimbus_server::storage::Actor::command_line(),
        "Photo app",
        None,
    )
    .await
    .unwrap();
    record_secret("oauth consumer secret", &consumer.secret);
    let pair = (consumer.key.as_str(), consumer.secret.as_str());
    let response = request_token(app, pair, "oob", &Signing::default()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/x-www-form-urlencoded"
    );
    let request = form_reply(&response.text().await.unwrap());

    let page = app
        .client
        .get(format!(
            "{}/oauth/authorize?{}",
            app.address,
            encode_pairs(&[("oauth_token", &request.0)])
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    let html = page.text().await.unwrap();
    assert!(html.contains("Photo app") && html.contains("name=\"password\""));

    let wrong = authorize(app, &request.0, user, "not the password").await;
    assert_eq!(wrong.status(), 401);
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .contains("Wrong user name or password")
    );

    let allowed = authorize(app, &request.0, user, PASSWORD).await;
    assert_eq!(allowed.status(), 200);
    let verifier = verifier_in(&allowed.text().await.unwrap());
    record_secret("oauth verifier", &verifier);

    let response = access_token(app, pair, (&request.0, &request.1), &verifier).await;
    assert_eq!(response.status(), 200);
    let token = form_reply(&response.text().await.unwrap());
    // A request token is exchanged once only.
    let again = access_token(app, pair, (&request.0, &request.1), &verifier).await;
    assert_eq!(again.status(), 401);
    Grant {
        consumer: (consumer.key, consumer.secret),
        token,
    }
}

/// A REST API v2 request: `path` with `query` under the proxy, signed.
pub fn api_request(
    app: &TestApp,
    grant: &Grant,
    method: &str,
    path: &str,
    query: &[(&str, &str)],
    signing: &Signing<'_>,
) -> RequestBuilder {
    let url = format!("{}{path}", app.address);
    let header = authorization(
        method,
        &url,
        query,
        (&grant.consumer.0, &grant.consumer.1),
        Some((&grant.token.0, &grant.token.1)),
        signing,
    );
    let url = if query.is_empty() {
        url
    } else {
        format!("{url}?{}", encode_pairs(query))
    };
    app.client
        .request(Method::from_bytes(method.as_bytes()).unwrap(), &url)
        .header("StackSync-API", "v2")
        .header("Authorization", header)
}

pub async fn root_listing(app: &TestApp, grant: &Grant) -> Value {
    let response = api_request(app, grant, "GET", "/v1/folder/0", &[], &Signing::default())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn the_three_legged_flow_gives_a_token_for_the_api() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    let grant = grant(&app, "alice").await;
    let root = root_listing(&app, &grant).await;
    assert_eq!(root["is_root"], true);
    assert_eq!(root["contents"], serde_json::json!([]));

    // Without the StackSync-API header, /v1 is the Swift API.
    let swift = app
        .client
        .get(format!("{}/v1/folder/0", app.address))
        .send()
        .await
        .unwrap();
    assert_ne!(
        swift.headers().get("content-type").unwrap(),
        "application/json"
    );
}

#[tokio::test]
async fn a_registered_callback_receives_the_token_and_verifier() {
    let app = spawn_app().await;
    app.add_user("bob", None, true).await;
    let consumer = add_oauth_consumer(
        app.metadata.as_ref(),
        &nimbus_server::storage::Actor::command_line(),
        "Web app",
        Some("https://app.example/back".into()),
    )
    .await
    .unwrap();
    record_secret("oauth consumer secret", &consumer.secret);
    let pair = (consumer.key.as_str(), consumer.secret.as_str());
    // Another site as callback is refused.
    let foreign = request_token(&app, pair, "https://evil.example/", &Signing::default()).await;
    assert_eq!(foreign.status(), 401);

    let response = request_token(
        &app,
        pair,
        "https://app.example/back?state=1",
        &Signing::default(),
    )
    .await;
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    assert!(body.contains("oauth_callback_confirmed=true"));
    let request = form_reply(&body);
    let redirect = authorize(&app, &request.0, "bob", PASSWORD).await;
    assert_eq!(redirect.status(), StatusCode::FOUND);
    let location = redirect.headers()["location"].to_str().unwrap().to_owned();
    let url = reqwest::Url::parse(&location).unwrap();
    assert_eq!(url.host_str(), Some("app.example"));
    let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    assert_eq!(query[0], ("state".into(), "1".into()));
    assert_eq!(query[1], ("oauth_token".into(), request.0.clone()));
    let verifier = &query[2].1;
    assert_eq!(query[2].0, "oauth_verifier");

    let access = access_token(&app, pair, (&request.0, &request.1), verifier).await;
    assert_eq!(access.status(), 200);
}

#[tokio::test]
async fn the_authorize_page_refuses_unknown_tokens_and_denials_grant_nothing() {
    let app = spawn_app().await;
    app.add_user("carol", None, true).await;
    let page = app
        .client
        .get(format!(
            "{}/oauth/authorize?oauth_token=ort_unknown",
            app.address
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 400);
    // A NUL byte, which the metadata server's database cannot compare,
    // names no token either (it was a 503 once).
    let page = app
        .client
        .get(format!(
            "{}/oauth/authorize?oauth_token=ort_%00",
            app.address
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 400);
    assert!(page.text().await.unwrap().contains("Unknown request"));

    let consumer = add_oauth_consumer(
        app.metadata.as_ref(),
        &nimbus_server::storage::Actor::command_line(),
        "Denied app",
        None,
    )
    .await
    .unwrap();
    record_secret("oauth consumer secret", &consumer.secret);
    let pair = (consumer.key.as_str(), consumer.secret.as_str());
    let response = request_token(&app, pair, "oob", &Signing::default()).await;
    let request = form_reply(&response.text().await.unwrap());
    let denied = app
        .client
        .post(format!("{}/oauth/authorize", app.address))
        .with_form(&[
            ("oauth_token", request.0.as_str()),
            ("username", "carol"),
            ("password", PASSWORD),
            ("action", "deny"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 200);
    assert!(!denied.text().await.unwrap().contains("verifier"));
    let access = access_token(&app, pair, (&request.0, &request.1), "guess").await;
    assert_eq!(access.status(), 401);
}

#[tokio::test]
async fn plaintext_is_refused_over_plain_http() {
    let app = spawn_app().await;
    let consumer = add_oauth_consumer(
        app.metadata.as_ref(),
        &nimbus_server::storage::Actor::command_line(),
        "Plain app",
        None,
    )
    .await
    .unwrap();
    record_secret("oauth consumer secret", &consumer.secret);
    let response = request_token(
        &app,
        (&consumer.key, &consumer.secret),
        "oob",
        &Signing {
            plaintext: true,
            ..Signing::default()
        },
    )
    .await;
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["description"].as_str().unwrap().contains("https"),
        "{body}"
    );
}

/// Lists the file names at the top of alice's default workspace.
async fn top_names(app: &TestApp, grant: &Grant) -> Vec<String> {
    root_listing(app, grant).await["contents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["filename"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn forged_replayed_stale_revoked_and_foreign_requests_change_nothing() {
    let app = spawn_app().await;
    app.add_user("alice", None, true).await;
    app.add_user("mallory", None, true).await;
    let alice = grant(&app, "alice").await;
    let mallory = grant(&app, "mallory").await;
    let upload = api_request(
        &app,
        &alice,
        "POST",
        "/v1/file",
        &[("name", "keep.txt")],
        &Signing::default(),
    )
    .body("precious")
    .send()
    .await
    .unwrap();
    assert_eq!(upload.status(), 201);
    let file: Value = upload.json().await.unwrap();
    let path = format!("/v1/file/{}", file["id"].as_str().unwrap());

    let delete = |grant: &Grant, signing: Signing<'static>| {
        api_request(&app, grant, "DELETE", &path, &[], &signing)
    };
    // A correctly signed request for another path, sent here.
    let moved_header = authorization(
        "DELETE",
        &format!("{}/v1/file/other", app.address),
        &[],
        (&alice.consumer.0, &alice.consumer.1),
        Some((&alice.token.0, &alice.token.1)),
        &Signing::default(),
    );
    let cases: Vec<(&str, RequestBuilder, u16)> = vec![
        (
            "signed for another URL",
            app.client
                .delete(format!("{}{path}", app.address))
                .header("StackSync-API", "v2")
                .header("Authorization", moved_header),
            401,
        ),
        (
            "wrong token secret",
            delete(
                &alice,
                Signing {
                    token_secret: Some("not the secret"),
                    ..Signing::default()
                },
            ),
            401,
        ),
        (
            "stale timestamp",
            delete(
                &alice,
                Signing {
                    timestamp: Some(now() - 3600),
                    ..Signing::default()
                },
            ),
            401,
        ),
        (
            "no signature",
            app.client
                .delete(format!("{}{path}", app.address))
                .header("StackSync-API", "v2"),
            401,
        ),
        (
            "another user's file",
            delete(&mallory, Signing::default()),
            404,
        ),
    ];
    for (case, request, status) in cases {
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{case}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], status, "{case}: {body}");
        assert!(!body["description"].as_str().unwrap().is_empty());
    }

    // A tampered signature: the header of a valid request, one character changed.
    let valid = authorization(
        "DELETE",
        &format!("{}{path}", app.address),
        &[],
        (&alice.consumer.0, &alice.consumer.1),
        Some((&alice.token.0, &alice.token.1)),
        &Signing::default(),
    );
    let start = valid.find("oauth_signature=\"").unwrap() + 17;
    let mut tampered = valid.clone();
    let flipped = if &valid[start..=start] == "A" {
        "B"
    } else {
        "A"
    };
    tampered.replace_range(start..=start, flipped);
    let response = app
        .client
        .delete(format!("{}{path}", app.address))
        .header("StackSync-API", "v2")
        .header("Authorization", tampered)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    // A replayed request: same nonce and timestamp as one already served.
    let nonce_request = |nonce: &'static str, ts: u64| {
        api_request(
            &app,
            &alice,
            "GET",
            "/v1/folder/0",
            &[],
            &Signing {
                nonce: Some(nonce),
                timestamp: Some(ts),
                ..Signing::default()
            },
        )
    };
    let ts = now();
    let first = nonce_request("a-nonce-used-once-only", ts)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    let replay = nonce_request("a-nonce-used-once-only", ts)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 401);
    let body: Value = replay.json().await.unwrap();
    assert!(
        body["description"].as_str().unwrap().contains("nonce"),
        "{body}"
    );

    assert_eq!(top_names(&app, &alice).await, ["keep.txt"]);

    // A revoked token: the user revokes it with their own token.
    let session = app.login("alice:alice").await;
    let list = app
        .client
        .get(format!("{}/oauth/tokens", app.address))
        .header("X-Auth-Token", &session.token)
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), 200);
    let tokens: Value = list.json().await.unwrap();
    assert_eq!(tokens.as_array().unwrap().len(), 1, "{tokens}");
    assert_eq!(tokens[0]["token"], alice.token.0.as_str());
    assert_eq!(tokens[0]["consumer_name"], "Photo app");
    // Not one of hers: mallory's token cannot be revoked by alice.
    let foreign = app
        .client
        .delete(format!("{}/oauth/tokens/{}", app.address, mallory.token.0))
        .header("X-Auth-Token", &session.token)
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 404);
    let no_token = app
        .client
        .get(format!("{}/oauth/tokens", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), 401);
    let revoked = app
        .client
        .delete(format!("{}/oauth/tokens/{}", app.address, alice.token.0))
        .header("X-Auth-Token", &session.token)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204);
    let after = delete(&alice, Signing::default()).send().await.unwrap();
    assert_eq!(after.status(), 401);

    // Nothing was changed by any refused request; mallory still works.
    let mallory_root = root_listing(&app, &mallory).await;
    assert_eq!(mallory_root["contents"], serde_json::json!([]));
    let alice_again = grant(&app, "alice").await;
    assert_eq!(top_names(&app, &alice_again).await, ["keep.txt"]);
}
