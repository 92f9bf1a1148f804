//! CORS for browsers, as Swift does it: a container opts in with
//! `X-Container-Meta-Access-Control-Allow-Origin` (origins separated by
//! spaces, or `*`), and may set `…-Max-Age` and `…-Expose-Headers`.
//!
//! * A preflight (`OPTIONS` with `Origin` and
//!   `Access-Control-Request-Method`) needs no token: it only says whether
//!   the container lets that origin in. Anything else is `401`.
//! * Other requests with an `Origin` the container allows get
//!   `Access-Control-Allow-Origin` and `Access-Control-Expose-Headers` (the
//!   standard headers, every metadata header of the response, and the
//!   container's own list). Other origins get nothing (`strict_cors_mode`).
//!
//! CORS never grants access: the request itself is authorized as always.

use actix_web::HttpResponse;
use actix_web::http::header::{self, HeaderMap, HeaderValue};

use super::{METHODS, RequestContext};
use crate::error::SwiftError;
use crate::index::Metadata;

/// Headers a browser may read from any CORS response.
const EXPOSED_ALWAYS: [&str; 10] = [
    "cache-control",
    "content-language",
    "content-type",
    "expires",
    "last-modified",
    "pragma",
    "etag",
    "x-timestamp",
    "x-trans-id",
    "x-openstack-request-id",
];

/// The container's CORS settings, or `None` when it allows no origin.
struct Rules {
    allow_origin: String,
    max_age: Option<String>,
    expose_headers: Option<String>,
}

impl Rules {
    fn of(meta: &Metadata) -> Option<Self> {
        let allow_origin = meta.get("access-control-allow-origin")?.trim().to_owned();
        (!allow_origin.is_empty()).then(|| Self {
            allow_origin,
            max_age: meta.get("access-control-max-age").cloned(),
            expose_headers: meta.get("access-control-expose-headers").cloned(),
        })
    }

    /// The `Access-Control-Allow-Origin` value for `origin`, if allowed.
    fn allowed_origin(&self, origin: &str) -> Option<String> {
        if self.allow_origin == "*" {
            return Some("*".to_owned());
        }
        self.allow_origin
            .split_whitespace()
            .any(|allowed| allowed == origin)
            .then(|| origin.to_owned())
    }
}

async fn rules(
    context: &RequestContext,
    container: Option<&str>,
) -> Result<Option<Rules>, SwiftError> {
    let Some(container) = container else {
        return Ok(None);
    };
    let meta = context
        .state
        .index
        .container_meta(&context.account, container)
        .await?;
    Ok(meta.as_ref().and_then(Rules::of))
}

/// Answers `OPTIONS` on an account, container or object.
pub async fn preflight(
    context: &RequestContext,
    container: Option<&str>,
) -> Result<HttpResponse, SwiftError> {
    let unauthorized = || SwiftError::Unauthorized {
        realm: context.account.clone(),
    };
    let (Some(origin), Some(method)) = (
        context.header(header::ORIGIN.as_str()),
        context.header(header::ACCESS_CONTROL_REQUEST_METHOD.as_str()),
    ) else {
        return Err(unauthorized());
    };
    let rules = rules(context, container).await?.ok_or_else(unauthorized)?;
    let allowed_origin = rules.allowed_origin(origin).ok_or_else(unauthorized)?;
    if !METHODS.contains(&method) {
        return Err(unauthorized());
    }
    let mut response = HttpResponse::Ok();
    response
        .insert_header((header::ALLOW, METHODS.join(", ")))
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, allowed_origin))
        .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, METHODS.join(", ")));
    if let Some(requested) = context.header(header::ACCESS_CONTROL_REQUEST_HEADERS.as_str()) {
        response.insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, requested));
    }
    if let Some(max_age) = rules.max_age {
        response.insert_header((header::ACCESS_CONTROL_MAX_AGE, max_age));
    }
    Ok(response.finish())
}

/// Adds the CORS headers to the response of a request from `origin`.
pub async fn decorate(
    context: &RequestContext,
    container: Option<&str>,
    origin: &str,
    headers: &mut HeaderMap,
) -> Result<(), SwiftError> {
    let Some(rules) = rules(context, container).await? else {
        return Ok(());
    };
    let Some(allowed_origin) = rules.allowed_origin(origin) else {
        return Ok(());
    };
    let mut exposed: Vec<String> = EXPOSED_ALWAYS.iter().map(|h| (*h).to_owned()).collect();
    exposed.extend(
        headers
            .keys()
            .map(|name| name.as_str())
            .filter(|name| {
                name.starts_with("x-object-meta-") || name.starts_with("x-container-meta-")
            })
            .map(str::to_owned),
    );
    exposed.extend(
        rules
            .expose_headers
            .iter()
            .flat_map(|list| list.split([',', ' ']))
            .filter(|name| !name.is_empty())
            .map(str::to_ascii_lowercase),
    );
    for (name, value) in [
        (header::ACCESS_CONTROL_ALLOW_ORIGIN, allowed_origin),
        (header::ACCESS_CONTROL_EXPOSE_HEADERS, exposed.join(", ")),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    Ok(())
}
