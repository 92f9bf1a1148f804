//! The OAuth 1.0a operations, with requests signed by a real client library
//! (oauth1-request), as the proxy will relay them.

use nimbus_protocol::ClientError;
use nimbus_protocol::oauth1::{OAuthRequest, RequestParts, base_uri};
use nimbus_protocol::rpc::{
    ErrorCode, OAuthAuthorizeReply, OAuthIdentity, OAuthRequestInfo, OAuthTokenInfo,
    OAuthTokenReply, Operation, Password, WorkspaceInfo,
};
use nimbus_server::admin;
use oauth1_request as oauth;

use crate::helpers::{PASSWORD, TestApp, spawn_app};

const PUBLIC_URL: &str = "http://127.0.0.1:8080";

/// What a proxy would relay: the request as signed by the client library.
pub(crate) fn signed(
    consumer: (&str, &str),
    token: Option<(&str, &str)>,
    path: &str,
    callback: Option<&str>,
    verifier: Option<&str>,
) -> OAuthRequest {
    let uri = format!("{PUBLIC_URL}{path}");
    let mut builder = oauth::Builder::<_, _>::new(
        oauth::Credentials::new(consumer.0, consumer.1),
        oauth::HmacSha1::new(),
    );
    builder.token(token.map(|(t, s)| oauth::Credentials::new(t, s)));
    builder.callback(callback).verifier(verifier);
    let header = builder.post(&uri, &());
    parse("POST", path, &header)
}

fn parse(method: &str, path: &str, header: &str) -> OAuthRequest {
    OAuthRequest::parse(&RequestParts {
        method,
        base_uri: &base_uri(PUBLIC_URL, path).unwrap(),
        query: "",
        form_body: None,
        authorization: Some(header),
    })
    .unwrap()
}

async fn call<T: serde::de::DeserializeOwned>(
    app: &TestApp,
    operation: Operation,
) -> Result<T, ClientError> {
    app.client.call(None, operation).await
}

/// Notes an OAuth token and its secret for the suite's log scan.
fn record_token(reply: &OAuthTokenReply) {
    nimbus_server::test_log::record_secret("oauth token", &reply.token);
    nimbus_server::test_log::record_secret("oauth token secret", &reply.secret);
}

/// Runs the three legs; returns the consumer and the access token.
pub(crate) async fn three_legged(app: &TestApp) -> ((String, String), OAuthTokenReply) {
    let consumer = admin::add_oauth_consumer(
        app.store.as_ref(),
        &nimbus_server::storage::Actor::command_line(),
        "Photo app",
        None,
    )
    .await
    .unwrap();
    nimbus_server::test_log::record_secret("oauth consumer secret", &consumer.secret);
    let consumer_pair = (consumer.key.as_str(), consumer.secret.as_str());

    let request_token: OAuthTokenReply = call(
        app,
        Operation::OauthRequestToken {
            request: signed(
                consumer_pair,
                None,
                "/oauth/request_token",
                Some("oob"),
                None,
            ),
        },
    )
    .await
    .unwrap();
    record_token(&request_token);
    let info: OAuthRequestInfo = call(
        app,
        Operation::OauthRequestInfo {
            request_token: request_token.token.clone(),
        },
    )
    .await
    .unwrap();
    assert_eq!(info.consumer_name, "Photo app");

    let wrong = call::<OAuthAuthorizeReply>(
        app,
        Operation::OauthAuthorize {
            request_token: request_token.token.clone(),
            username: "alice".into(),
            password: Password("not it".into()),
        },
    )
    .await
    .unwrap_err();
    assert_eq!(wrong.rpc_code(), Some(ErrorCode::InvalidCredentials));
    let allowed: OAuthAuthorizeReply = call(
        app,
        Operation::OauthAuthorize {
            request_token: request_token.token.clone(),
            username: "alice".into(),
            password: Password(PASSWORD.into()),
        },
    )
    .await
    .unwrap();
    assert_eq!(allowed.callback, "oob");
    nimbus_server::test_log::record_secret("oauth verifier", &allowed.verifier);

    let access: OAuthTokenReply = call(
        app,
        Operation::OauthAccessToken {
            request: signed(
                consumer_pair,
                Some((&request_token.token, &request_token.secret)),
                "/oauth/access_token",
                None,
                Some(&allowed.verifier),
            ),
        },
    )
    .await
    .unwrap();
    record_token(&access);
    // A request token is good for one exchange only.
    let again = call::<OAuthTokenReply>(
        app,
        Operation::OauthAccessToken {
            request: signed(
                consumer_pair,
                Some((&request_token.token, &request_token.secret)),
                "/oauth/access_token",
                None,
                Some(&allowed.verifier),
            ),
        },
    )
    .await;
    assert!(again.is_err());
    ((consumer.key, consumer.secret), access)
}

#[tokio::test]
async fn the_three_legged_flow_gives_a_working_revocable_access_token() {
    let app = spawn_app().await;
    let (alice, _) = app.user_with_device("alice").await;
    let (consumer, access) = three_legged(&app).await;
    let consumer_pair = (consumer.0.as_str(), consumer.1.as_str());
    let access_pair = (access.token.as_str(), access.secret.as_str());

    let identity: OAuthIdentity = call(
        &app,
        Operation::OauthAuthenticate {
            request: signed(consumer_pair, Some(access_pair), "/v1/folder/0", None, None),
        },
    )
    .await
    .unwrap();
    // The bound device acts for alice like any device.
    let workspaces: Vec<WorkspaceInfo> = app
        .client
        .call(Some(&identity.device_token), Operation::GetWorkspaces)
        .await
        .unwrap();
    assert_eq!(workspaces[0].owner_id, identity.user_id);

    let tokens: Vec<OAuthTokenInfo> = app
        .client
        .call(Some(&alice), Operation::ListOauthTokens)
        .await
        .unwrap();
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].consumer_name, "Photo app");
    let _: () = app
        .client
        .call(
            Some(&alice),
            Operation::RevokeOauthToken {
                access_token: access.token.clone(),
            },
        )
        .await
        .unwrap();
    let revoked = call::<OAuthIdentity>(
        &app,
        Operation::OauthAuthenticate {
            request: signed(consumer_pair, Some(access_pair), "/v1/folder/0", None, None),
        },
    )
    .await
    .unwrap_err();
    assert_eq!(revoked.rpc_code(), Some(ErrorCode::Unauthenticated));
    assert!(
        app.client
            .get_account(&identity.device_token)
            .await
            .is_err()
    );
    app.stop().await;
}

#[tokio::test]
async fn forged_replayed_and_stale_requests_are_refused() {
    let app = spawn_app().await;
    app.user_with_device("alice").await;
    let (consumer, access) = three_legged(&app).await;
    let consumer_pair = (consumer.0.as_str(), consumer.1.as_str());
    let authenticate = |request| Operation::OauthAuthenticate { request };

    let refusals = [
        // A wrong token secret.
        signed(
            consumer_pair,
            Some((&access.token, "not the secret")),
            "/v1/file/1",
            None,
            None,
        ),
        // A wrong consumer secret.
        signed(
            (&consumer.0, "nope"),
            Some((&access.token, &access.secret)),
            "/v1/file/1",
            None,
            None,
        ),
        // Signed for one path, sent to another.
        {
            let uri = format!("{PUBLIC_URL}/v1/file/1");
            let mut builder = oauth::Builder::<_, _>::new(
                oauth::Credentials::new(consumer_pair.0, consumer_pair.1),
                oauth::HmacSha1::new(),
            );
            builder.token(oauth::Credentials::new(
                access.token.as_str(),
                access.secret.as_str(),
            ));
            parse("POST", "/v1/file/2", &builder.post(&uri, &()))
        },
        // Ten minutes old.
        {
            let uri = format!("{PUBLIC_URL}/v1/file/1");
            let stale = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs()
                - 600;
            let mut builder = oauth::Builder::<_, _>::new(
                oauth::Credentials::new(consumer_pair.0, consumer_pair.1),
                oauth::HmacSha1::new(),
            );
            builder
                .token(oauth::Credentials::new(
                    access.token.as_str(),
                    access.secret.as_str(),
                ))
                .timestamp(std::num::NonZeroU64::new(stale));
            parse("POST", "/v1/file/1", &builder.post(&uri, &()))
        },
    ];
    for (index, request) in refusals.into_iter().enumerate() {
        let error = call::<OAuthIdentity>(&app, authenticate(request))
            .await
            .unwrap_err();
        assert_eq!(
            error.rpc_code(),
            Some(ErrorCode::Unauthenticated),
            "case {index}: {error}"
        );
    }

    // The same signed request twice: the second is a replay.
    let once = signed(
        consumer_pair,
        Some((&access.token, &access.secret)),
        "/v1/file/1",
        None,
        None,
    );
    call::<OAuthIdentity>(&app, authenticate(once.clone()))
        .await
        .unwrap();
    let replay = call::<OAuthIdentity>(&app, authenticate(once))
        .await
        .unwrap_err();
    assert!(replay.to_string().contains("nonce"), "{replay}");
    app.stop().await;
}

#[tokio::test]
async fn plaintext_is_refused_over_http() {
    let app = spawn_app().await;
    let consumer = admin::add_oauth_consumer(
        app.store.as_ref(),
        &nimbus_server::storage::Actor::command_line(),
        "Plain app",
        None,
    )
    .await
    .unwrap();
    nimbus_server::test_log::record_secret("oauth consumer secret", &consumer.secret);
    let header = oauth::Builder::<_, _>::new(
        oauth::Credentials::new(consumer.key.as_str(), consumer.secret.as_str()),
        oauth::Plaintext::new(),
    )
    .callback("oob")
    .post(format!("{PUBLIC_URL}/oauth/request_token"), &());
    let error = call::<OAuthTokenReply>(
        &app,
        Operation::OauthRequestToken {
            request: parse("POST", "/oauth/request_token", &header),
        },
    )
    .await
    .unwrap_err();
    assert!(error.to_string().contains("https"), "{error}");
    app.stop().await;
}
