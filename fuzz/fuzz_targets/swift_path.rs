//! Swift request paths, names, copy sources and query strings
//! (`nimbus_proxy::swift::path`, `swift::parse_query`,
//! `swift::listing::ListingParams::parse`).
//!
//! Whatever parses keeps Swift's limits, and a parsed target, percent-encoded
//! again, parses to the same target.
#![no_main]

use actix_web::http::header::{ACCEPT, HeaderMap, HeaderValue};
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use nimbus_proxy::swift::listing::{LISTING_LIMIT, ListingParams};
use nimbus_proxy::swift::parse_query;
use nimbus_proxy::swift::path::{
    MAX_ACCOUNT_NAME_LENGTH, MAX_CONTAINER_NAME_LENGTH, MAX_OBJECT_NAME_LENGTH, Target, decode,
    decode_query, parse, parse_container_object,
};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

#[derive(Debug, Arbitrary)]
enum Input<'a> {
    /// A raw request path, as the URI carries it.
    Path(&'a str),
    /// A path assembled from names, so that valid targets are common.
    Names {
        account: &'a str,
        container: Option<&'a str>,
        object: Option<&'a str>,
        trailing_slash: bool,
    },
    /// A name or query value.
    Decode(&'a str),
    /// `X-Copy-From` / `Destination`.
    CopySource(&'a str),
    /// A query string and an `Accept` header, read as a listing's parameters.
    Query { query: &'a str, accept: &'a str },
}

fn encode(name: &str) -> String {
    utf8_percent_encode(name, NON_ALPHANUMERIC).to_string()
}

fn check_target(target: &Target) {
    let account = target.account();
    assert!(!account.is_empty() && account.len() <= MAX_ACCOUNT_NAME_LENGTH);
    assert!(!account.contains(['/', '\0']) && account != "." && account != "..");
    let (container, object) = match target {
        Target::Account { .. } => (None, None),
        Target::Container { container, .. } => (Some(container), None),
        Target::Object {
            container, object, ..
        } => (Some(container), Some(object)),
    };
    if let Some(container) = container {
        assert!(!container.is_empty() && container.len() <= MAX_CONTAINER_NAME_LENGTH);
        assert!(!container.contains(['/', '\0']) && container != "." && container != "..");
    }
    if let Some(object) = object {
        assert!(!object.is_empty() && object.len() <= MAX_OBJECT_NAME_LENGTH);
        assert!(!object.contains('\0'));
    }
    // Encoded again, every name is one segment (the object may hold slashes).
    let reencoded = match target {
        Target::Account { account } => format!("/v1/{}", encode(account)),
        Target::Container { account, container } => {
            format!("/v1/{}/{}", encode(account), encode(container))
        }
        Target::Object {
            account,
            container,
            object,
        } => format!(
            "/v1/{}/{}/{}",
            encode(account),
            encode(container),
            encode(object)
        ),
    };
    assert_eq!(parse(&reencoded).ok().as_ref(), Some(target), "{reencoded}");
}

fn check_path(raw: &str) {
    if let Ok(target) = parse(raw) {
        check_target(&target);
    }
}

fuzz_target!(|input: Input<'_>| match input {
    Input::Path(raw) => check_path(raw),
    Input::Names {
        account,
        container,
        object,
        trailing_slash,
    } => {
        let mut path = format!("/v1/{}", encode(account));
        for name in [container, object].into_iter().flatten() {
            path.push('/');
            path.push_str(&encode(name));
        }
        if trailing_slash {
            path.push('/');
        }
        check_path(&path);
    }
    Input::Decode(raw) => {
        let query = decode_query(raw);
        match decode(raw) {
            Ok(name) => {
                assert!(!name.contains('\0'));
                assert_eq!(decode(&encode(&name)).ok(), Some(name.clone()));
                assert_eq!(query.ok(), Some(name));
            }
            // Only a NUL tells a name from a query value.
            Err(_) => {
                if let Ok(value) = query {
                    assert!(value.contains('\0'));
                }
            }
        }
    }
    Input::CopySource(value) => {
        if let Ok((container, object)) = parse_container_object(value) {
            check_target(&Target::Object {
                account: "AUTH_fuzz".to_owned(),
                container: container.clone(),
                object: object.clone(),
            });
            let again = format!("/{}/{}", encode(&container), encode(&object));
            assert_eq!(
                parse_container_object(&again).ok(),
                Some((container, object))
            );
        }
    }
    Input::Query { query, accept } => {
        let Ok(pairs) = parse_query(query) else {
            return;
        };
        assert!(pairs.len() <= query.split('&').count());
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(accept) {
            headers.insert(ACCEPT, value);
        }
        if let Ok(params) = ListingParams::parse(&pairs, &headers) {
            assert!(params.limit <= LISTING_LIMIT);
            if params.path_mode {
                assert_eq!(params.delimiter.as_deref(), Some("/"));
                assert!(params.prefix.is_empty() || params.prefix.ends_with('/'));
            }
            assert!(params.delimiter.as_deref() != Some(""));
            assert!(params.marker.as_deref() != Some(""));
            assert!(params.end_marker.as_deref() != Some(""));
        }
    }
});
