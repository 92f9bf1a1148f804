//! Logging: `RUST_LOG`-style filtering (default `info`) to stdout,
//! human-readable, or one JSON object per line (with the request span's
//! fields) when `NIMBUS_PROXY_LOG_FORMAT=json`.
//!
//! Requests are traced with `tracing-actix-web` without its
//! `emit_event_on_error` feature, which logs every 4xx as a warning: client
//! errors are answers, not faults (a desktop client asks `HEAD` for each chunk
//! it may have to upload, and most answer 404). Server errors are logged
//! where they are turned into responses (`SwiftError`, `RestError`).
//!
//! A request's span carries its trace id (the `X-Request-Id` assigned by
//! [`crate::request_id`], which must wrap this middleware) and its target
//! with secrets taken out
//! ([`RedactedRootSpan`]): TempURL signatures and OAuth tokens travel in
//! query strings, OAuth access tokens in `/oauth/tokens/{token}`, and every
//! log line inside the request repeats the span's fields.

use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Uri;
use nimbus_protocol::trace::TraceId;
use tracing::{Span, Subscriber};
use tracing_actix_web::{DefaultRootSpanBuilder, RootSpanBuilder};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::util::SubscriberInitExt;

/// Installs the global subscriber; a second call is a no-op.
pub fn init(default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let json = std::env::var("NIMBUS_PROXY_LOG_FORMAT").is_ok_and(|format| format == "json");
    let _ = subscriber(json, filter, std::io::stdout).try_init();
}

/// The subscriber writing to `writer`, as JSON lines when `json`.
fn subscriber<W>(json: bool, filter: EnvFilter, writer: W) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    if json {
        Box::new(builder.json().finish())
    } else {
        Box::new(builder.finish())
    }
}

/// What stands in a log line for a value that is not shown.
const REDACTED: &str = "<redacted>";

/// Query parameters whose values are shown in logs; every other value is
/// replaced, so a new parameter is hidden until it is known to be harmless.
const PLAIN_QUERY_PARAMETERS: &[&str] = &[
    "bulk-delete",
    "delimiter",
    "end_marker",
    "extract-archive",
    "filename",
    "format",
    "inline",
    "limit",
    "marker",
    "multipart-manifest",
    "path",
    "prefix",
    "reverse",
    "symlink",
    "temp_url_expires",
    "temp_url_prefix",
];

/// `TracingLogger`'s default root span with [`redacted_target`] in place of
/// the raw `http.target`.
pub struct RedactedRootSpan;

impl RootSpanBuilder for RedactedRootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let route = request.match_pattern();
        let connection = request.connection_info();
        let trace_id = request
            .extensions()
            .get::<TraceId>()
            .map(ToString::to_string)
            .unwrap_or_default();
        tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            http.route = route.as_deref().unwrap_or("default"),
            http.flavor = ?request.version(),
            http.host = %connection.host(),
            http.client_ip = connection.realip_remote_addr().unwrap_or(""),
            http.user_agent = request
                .headers()
                .get("User-Agent")
                .and_then(|agent| agent.to_str().ok())
                .unwrap_or(""),
            http.target = %redacted_target(request.uri(), route.as_deref()),
            http.status_code = tracing::field::Empty,
            otel.kind = "server",
            otel.status_code = tracing::field::Empty,
            trace_id = %trace_id,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(
        span: Span,
        outcome: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

/// The path and query of `uri` as logged: path segments matched by a
/// `{…token…}` parameter of `route`, and the values of query parameters not
/// in [`PLAIN_QUERY_PARAMETERS`], are replaced by [`REDACTED`].
pub fn redacted_target(uri: &Uri, route: Option<&str>) -> String {
    let path = match route {
        Some(route) if route.contains("token}") => {
            let patterns = route.split('/').chain(std::iter::repeat(""));
            uri.path()
                .split('/')
                .zip(patterns)
                .map(|(segment, pattern)| {
                    if pattern.starts_with('{') && pattern.contains("token") {
                        REDACTED
                    } else {
                        segment
                    }
                })
                .collect::<Vec<_>>()
                .join("/")
        }
        _ => uri.path().to_owned(),
    };
    let Some(query) = uri.query() else {
        return path;
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if !is_plain(name) => format!("{name}={REDACTED}"),
            None if !is_plain(pair) => REDACTED.to_owned(),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{path}?{}", pairs.join("&"))
}

fn is_plain(name: &str) -> bool {
    let name = percent_encoding::percent_decode_str(name).decode_utf8_lossy();
    PLAIN_QUERY_PARAMETERS.contains(&name.to_ascii_lowercase().as_str())
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use actix_web::{App, HttpResponse, test, web};
    use tracing::{Event, Level, Subscriber};
    use tracing_actix_web::TracingLogger;
    use tracing_subscriber::EnvFilter;
    use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

    use super::{RedactedRootSpan, redacted_target, subscriber};
    use crate::error::SwiftError;

    /// Records the level of every event logged.
    #[derive(Clone, Default)]
    struct Levels(Arc<Mutex<Vec<Level>>>);

    impl<S: Subscriber> Layer<S> for Levels {
        fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
            self.0.lock().unwrap().push(*event.metadata().level());
        }
    }

    #[actix_web::test]
    async fn client_errors_are_not_logged_and_server_errors_once() {
        let levels = Levels::default();
        let _guard =
            tracing::subscriber::set_default(tracing_subscriber::registry().with(levels.clone()));
        let app = test::init_service(
            App::new()
                .wrap(TracingLogger::default())
                .route(
                    "/missing",
                    web::get().to(|| async { Err::<HttpResponse, _>(SwiftError::NotFound) }),
                )
                .route(
                    "/broken",
                    web::get().to(|| async {
                        Err::<HttpResponse, _>(SwiftError::ReadFailed(std::io::Error::other(
                            "disk gone",
                        )))
                    }),
                ),
        )
        .await;

        let missing =
            test::call_service(&app, test::TestRequest::get().uri("/missing").to_request());
        assert_eq!(missing.await.status(), 404);
        assert_eq!(
            *levels.0.lock().unwrap(),
            [] as [Level; 0],
            "a 404 is an answer, not a fault"
        );

        let broken = test::call_service(&app, test::TestRequest::get().uri("/broken").to_request());
        assert_eq!(broken.await.status(), 500);
        assert_eq!(*levels.0.lock().unwrap(), [Level::ERROR]);
    }

    #[actix_web::test]
    async fn logged_targets_hide_signatures_tokens_and_unknown_parameters() {
        let target = |uri: &str, route| redacted_target(&uri.parse().unwrap(), route);
        assert_eq!(
            target(
                "/v1/AUTH_a/c/o?temp_url_sig=0123abcd&temp_url_expires=1700000000",
                None
            ),
            "/v1/AUTH_a/c/o?temp_url_sig=<redacted>&temp_url_expires=1700000000"
        );
        assert_eq!(
            target(
                "/oauth/authorize?oauth_token=tok3n&oauth_callback=x",
                Some("/oauth/authorize")
            ),
            "/oauth/authorize?oauth_token=<redacted>&oauth_callback=<redacted>"
        );
        assert_eq!(
            target("/oauth/tokens/acc3ss", Some("/oauth/tokens/{token}")),
            "/oauth/tokens/<redacted>"
        );
        // Names are compared decoded; a bare word that is not a known flag
        // may be a secret too.
        assert_eq!(
            target("/v1/AUTH_a/c?%70refix=photos%2F&limit=2&s3cret", None),
            "/v1/AUTH_a/c?%70refix=photos%2F&limit=2&<redacted>"
        );
        assert_eq!(target("/v1/AUTH_a/c/o", None), "/v1/AUTH_a/c/o");
    }

    #[actix_web::test]
    async fn json_lines_parse_and_carry_the_request_span_and_id_with_secrets_redacted() {
        let captured = nimbus_server::test_log::CapturedLog::default();
        let logger = subscriber(true, EnvFilter::new("info"), captured.clone());
        let _guard = tracing::subscriber::set_default(logger);
        let app = test::init_service(
            App::new()
                .wrap(TracingLogger::<RedactedRootSpan>::new())
                .wrap(actix_web::middleware::from_fn(crate::request_id::assign))
                .route(
                    "/broken",
                    web::get().to(|| async {
                        Err::<HttpResponse, _>(SwiftError::ReadFailed(std::io::Error::other(
                            "disk gone",
                        )))
                    }),
                ),
        )
        .await;
        let request = test::TestRequest::get()
            .uri("/broken?temp_url_sig=s3cret")
            .insert_header(("X-Request-Id", "req-42"))
            .to_request();
        let response = test::call_service(&app, request).await;
        assert_eq!(response.status(), 500);
        assert_eq!(response.headers().get("x-request-id").unwrap(), "req-42");

        let output = captured.text();
        let line: serde_json::Value = serde_json::from_str(output.lines().next().unwrap())
            .unwrap_or_else(|error| panic!("{output:?} is not JSON: {error}"));
        assert_eq!(line["level"], "ERROR");
        assert_eq!(line["span"]["http.route"], "/broken");
        assert_eq!(line["span"]["trace_id"], "req-42");
        assert_eq!(
            line["span"]["http.target"],
            "/broken?temp_url_sig=<redacted>"
        );
        assert!(!output.contains("s3cret"), "{output}");
    }
}
