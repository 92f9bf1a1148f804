//! TempURL, Swift's `tempurl` middleware: a URL signed with a key of the
//! account (`X-Account-Meta-Temp-URL-Key`, `-Key-2`) or of the container
//! (`X-Container-Meta-Temp-URL-Key`, `-Key-2`; two of each, for rotation)
//! lets whoever holds it use one object with one method until it expires,
//! without a token.
//!
//! The signature (`temp_url_sig`) is an HMAC of
//! `"{method}\n{expires}\n/v1/{account}/{container}/{object}"`, or, for a
//! prefix URL (`temp_url_prefix=p`), of
//! `"{method}\n{expires}\nprefix:/v1/{account}/{container}/p"`, which opens
//! every object whose name starts with `p`. It is hex, or
//! `<digest>:<base64>`; SHA-256 and SHA-512 are accepted, SHA-1 only with the
//! `tempurl_allow_sha1` setting. `temp_url_expires` is Unix seconds or
//! `YYYY-MM-DDThh:mm:ssZ`. A signature for GET, POST or PUT also allows
//! HEAD. Whatever is wrong (signature, expiry, method, a container URL) is
//! the same 401.
//!
//! **Authority.** The request then runs with no identity but a [`Grant`]:
//! the signed kind of access (read for GET and HEAD, write for PUT, POST and
//! DELETE) within the key's scope, its account or its container. The URL
//! names one object; the only other objects the request touches are the
//! segments of a large object it reads, which must lie in the same scope
//! (as in Swift). Other query parameters are dropped (no
//! `multipart-manifest`, `part-number`, ...), and headers that would make
//! the object point at other data (`X-Object-Manifest`,
//! `X-Symlink-Target`, `X-Copy-From`) are refused. Only account and
//! container owners read or set the keys (see `container.rs`).
//!
//! Responses lose their `X-Object-Meta-*` headers except
//! `X-Object-Meta-Public-*`; successful GETs and HEADs get a
//! `Content-Disposition` (`attachment` with the object's name, or the
//! `filename` parameter; `inline` with the `inline` parameter) and an
//! `Expires` header.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::HttpResponse;
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderMap, HeaderValue, HttpDate};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD_INDIFFERENT;
use hmac::{Hmac, KeyInit, Mac};
use percent_encoding::{AsciiSet, utf8_percent_encode};
use sha1::Sha1;
use sha2::{Sha256, Sha512};
use subtle::ConstantTimeEq;
use time::PrimitiveDateTime;
use time::macros::format_description;

use super::path::{Target, URL_QUOTE};
use crate::auth::acl::Access;
use crate::error::SwiftError;
use crate::index::Metadata;
use crate::state::AppState;

/// The metadata keys, of an account or a container, that hold TempURL keys.
pub const KEY_NAMES: [&str; 2] = ["temp-url-key", "temp-url-key-2"];

/// The methods a TempURL may be signed for.
pub const METHODS: [&str; 5] = ["GET", "HEAD", "PUT", "POST", "DELETE"];

/// Request headers refused on a TempURL write: each would make the object
/// stand for data the URL does not open.
const DISALLOWED_HEADERS: [&str; 3] = ["X-Object-Manifest", "X-Symlink-Target", "X-Copy-From"];

/// Object metadata a TempURL response keeps (Swift's default
/// `outgoing_allow_headers`); all other `X-Object-Meta-*` are removed.
const PUBLIC_META_PREFIX: &str = "x-object-meta-public-";

/// The query parameters a TempURL request keeps.
const KEPT_PARAMETERS: [&str; 5] = [
    "temp_url_sig",
    "temp_url_expires",
    "temp_url_prefix",
    "filename",
    "inline",
];

/// Python's `quote(name, safe=' /')`, for the quoted `filename=` form.
const FILENAME_QUOTE: &AsciiSet = &URL_QUOTE.remove(b' ');

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Digest {
    Sha1,
    Sha256,
    Sha512,
}

impl Digest {
    fn by_name(name: &str) -> Option<Self> {
        match name {
            "sha1" => Some(Self::Sha1),
            "sha256" => Some(Self::Sha256),
            "sha512" => Some(Self::Sha512),
            _ => None,
        }
    }

    /// The digest a hex signature of `len` characters was made with.
    fn by_hex_length(len: usize) -> Option<Self> {
        match len {
            40 => Some(Self::Sha1),
            64 => Some(Self::Sha256),
            128 => Some(Self::Sha512),
            _ => None,
        }
    }

    fn hmac(self, key: &[u8], message: &[u8]) -> Vec<u8> {
        fn mac<M: Mac + KeyInit>(key: &[u8], message: &[u8]) -> Vec<u8> {
            let mut mac =
                <M as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
            mac.update(message);
            mac.finalize().into_bytes().to_vec()
        }
        match self {
            Self::Sha1 => mac::<Hmac<Sha1>>(key, message),
            Self::Sha256 => mac::<Hmac<Sha256>>(key, message),
            Self::Sha512 => mac::<Hmac<Sha512>>(key, message),
        }
    }
}

/// The digests this proxy accepts, as `/info` lists them.
pub fn allowed_digests(allow_sha1: bool) -> Vec<&'static str> {
    let mut digests = vec!["sha256", "sha512"];
    if allow_sha1 {
        digests.insert(0, "sha1");
    }
    digests
}

/// A signature as sent: `<hex>` or `<digest>:<base64>` (standard or
/// URL-safe alphabet, padding optional).
fn parse_signature(raw: &str) -> Option<(Digest, Vec<u8>)> {
    match raw.split_once(':') {
        Some((name, encoded)) => {
            let digest = Digest::by_name(name)?;
            let encoded = if encoded.contains(['-', '_']) && !encoded.contains(['+', '/']) {
                encoded.replace('-', "+").replace('_', "/")
            } else {
                encoded.to_owned()
            };
            let bytes = STANDARD_NO_PAD_INDIFFERENT
                .decode(encoded.trim_end_matches('='))
                .ok()?;
            Some((digest, bytes))
        }
        None => Some((Digest::by_hex_length(raw.len())?, hex::decode(raw).ok()?)),
    }
}

/// `temp_url_expires`: Unix seconds, or ISO 8601 in UTC
/// (`2026-12-06T18:00:00Z`).
fn parse_expires(raw: &str) -> Option<u64> {
    if let Ok(seconds) = raw.parse::<i64>() {
        return u64::try_from(seconds).ok();
    }
    let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    let at = PrimitiveDateTime::parse(raw, &format).ok()?;
    u64::try_from(at.assume_utc().unix_timestamp()).ok()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The authority of a request made with a valid TempURL.
#[derive(Debug, Clone)]
pub struct Grant {
    account: String,
    /// The container of a container key; `None` for an account key.
    container: Option<String>,
    access: Access,
    expires: u64,
    /// The object's name, for `Content-Disposition`.
    object: String,
    filename: Option<String>,
    inline: bool,
}

impl Grant {
    /// Whether the grant covers `access` to `container` of `account`.
    pub fn allows(&self, account: &str, container: &str, access: Access) -> bool {
        access == self.access
            && account == self.account
            && self.container.as_deref().is_none_or(|c| c == container)
    }
}

/// Whether a request's query makes it a TempURL request.
pub fn is_requested(query: &[(String, String)]) -> bool {
    query
        .iter()
        .any(|(key, _)| key == "temp_url_sig" || key == "temp_url_expires")
}

/// The query a TempURL request goes on with: its own parameters only.
pub fn kept_query(query: Vec<(String, String)>) -> Vec<(String, String)> {
    query
        .into_iter()
        .filter(|(key, _)| KEPT_PARAMETERS.contains(&key.as_str()))
        .collect()
}

fn first<'a>(query: &'a [(String, String)], key: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// The keys of the account and of the container, each with the container
/// it is limited to (`None` for the account's).
async fn keys(
    state: &AppState,
    account: &str,
    container: &str,
) -> Result<Vec<(String, Option<String>)>, SwiftError> {
    let of = |meta: &Metadata, scope: Option<&str>| {
        KEY_NAMES
            .iter()
            .filter_map(|name| meta.get(*name))
            .map(|key| (key.clone(), scope.map(str::to_owned)))
            .collect::<Vec<_>>()
    };
    let mut keys = of(&state.index.account_meta(account).await?, None);
    if let Some(meta) = state.index.container_meta(account, container).await? {
        keys.extend(of(&meta, Some(container)));
    }
    Ok(keys)
}

/// Checks a TempURL request and returns its authority.
pub async fn verify(
    state: &AppState,
    method: &Method,
    headers: &HeaderMap,
    target: &Target,
    query: &[(String, String)],
) -> Result<Grant, SwiftError> {
    let invalid = || SwiftError::TempUrlInvalid;
    let signature = first(query, "temp_url_sig").filter(|s| !s.is_empty());
    let expires = first(query, "temp_url_expires")
        .and_then(parse_expires)
        .filter(|at| *at >= unix_now());
    let (Some(signature), Some(expires)) = (signature, expires) else {
        return Err(invalid());
    };
    let (digest, signature) = parse_signature(signature).ok_or_else(invalid)?;
    if digest == Digest::Sha1 && !state.settings.tempurl_allow_sha1 {
        return Err(invalid());
    }
    let Target::Object {
        account,
        container,
        object,
    } = target
    else {
        return Err(invalid());
    };
    if !METHODS.contains(&method.as_str()) || object.trim_matches('/').is_empty() {
        return Err(invalid());
    }
    // Restricting a URL to client addresses is not supported: refused
    // rather than ignored.
    if first(query, "temp_url_ip_range").is_some() {
        return Err(invalid());
    }
    let prefix = first(query, "temp_url_prefix");
    let signed_path = match prefix {
        None => format!("/v1/{account}/{container}/{object}"),
        Some(prefix) if object.starts_with(prefix) => {
            format!("prefix:/v1/{account}/{container}/{prefix}")
        }
        Some(_) => return Err(invalid()),
    };
    let signed_methods: &[&str] = if method == Method::HEAD {
        &["HEAD", "GET", "POST", "PUT"]
    } else {
        &[method.as_str()]
    };
    // The container of a workspace transferred to another account opens by
    // membership only: the keys of the account it stays in, and container
    // keys set before the move, no longer reach it.
    if state.auth.is_transferred(account, container).await? {
        return Err(invalid());
    }
    let keys = keys(state, account, container).await?;
    let scope = signed_methods
        .iter()
        .flat_map(|signed| keys.iter().map(move |key| (signed, key)))
        .find(|(signed, (key, _))| {
            let message = format!("{signed}\n{expires}\n{signed_path}");
            let expected = digest.hmac(key.as_bytes(), message.as_bytes());
            bool::from(expected.ct_eq(&signature))
        })
        .map(|(_, (_, scope))| scope.clone())
        .ok_or_else(invalid)?;
    let reads = method == Method::GET || method == Method::HEAD;
    if !reads
        && let Some(name) = DISALLOWED_HEADERS
            .iter()
            .find(|h| headers.contains_key(**h))
    {
        return Err(SwiftError::BadRequest(format!(
            "The header '{name}' is not allowed in this tempurl"
        )));
    }
    Ok(Grant {
        account: account.clone(),
        container: scope,
        access: if reads { Access::Read } else { Access::Write },
        expires,
        object: object.clone(),
        filename: first(query, "filename")
            .filter(|f| !f.is_empty())
            .map(str::to_owned),
        inline: first(query, "inline").is_some(),
    })
}

/// `Content-Disposition` as Swift writes it: the name quoted, and again in
/// RFC 5987 form.
fn disposition(kind: &str, filename: &str) -> String {
    format!(
        "{kind}; filename=\"{}\"; filename*=UTF-8''{}",
        utf8_percent_encode(filename, FILENAME_QUOTE),
        utf8_percent_encode(filename, URL_QUOTE)
    )
}

/// Adjusts the response to a TempURL request (see the module's comment).
pub fn decorate(grant: &Grant, method: &Method, response: &mut HttpResponse) {
    let reads = method == Method::GET || method == Method::HEAD;
    let success = response.status().is_success();
    let headers = response.headers_mut();
    let private: Vec<_> = headers
        .keys()
        .filter(|name| {
            let name = name.as_str();
            name.starts_with("x-object-meta-") && !name.starts_with(PUBLIC_META_PREFIX)
        })
        .cloned()
        .collect();
    for name in private {
        headers.remove(name);
    }
    if !(reads && success) {
        return;
    }
    let value = match (&grant.filename, grant.inline) {
        (Some(filename), true) => disposition("inline", filename),
        (None, true) => "inline".to_owned(),
        (Some(filename), false) => disposition("attachment", filename),
        (None, false) => {
            let name = grant.object.trim_end_matches('/');
            let base = name.rsplit('/').next().unwrap_or(name);
            disposition("attachment", base)
        }
    };
    if let Ok(value) = HeaderValue::from_str(&value) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    let expires = HttpDate::from(UNIX_EPOCH + Duration::from_secs(grant.expires));
    if let Ok(value) = HeaderValue::from_str(&expires.to_string()) {
        headers.insert(header::EXPIRES, value);
    }
}

/// Leaves the TempURL keys out of container metadata shown to a caller who
/// may not see them (only owners may).
pub fn hide_keys(meta: &mut Metadata) {
    for name in KEY_NAMES {
        meta.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_in_hex_and_base64() {
        let mac = Digest::Sha256.hmac(b"key", b"GET\n1\n/v1/a/c/o");
        let hex_form = hex::encode(&mac);
        assert_eq!(
            parse_signature(&hex_form),
            Some((Digest::Sha256, mac.clone()))
        );
        let standard = base64::engine::general_purpose::STANDARD.encode(&mac);
        let url_safe = base64::engine::general_purpose::URL_SAFE.encode(&mac);
        for encoded in [
            &standard,
            &url_safe,
            &standard.trim_end_matches('=').to_owned(),
        ] {
            assert_eq!(
                parse_signature(&format!("sha256:{encoded}")),
                Some((Digest::Sha256, mac.clone())),
                "{encoded}"
            );
        }
        let sha512 = Digest::Sha512.hmac(b"key", b"x");
        assert_eq!(
            parse_signature(&hex::encode(&sha512)).map(|(d, _)| d),
            Some(Digest::Sha512)
        );
        assert_eq!(parse_signature("md5:AAAA"), None);
        assert_eq!(parse_signature("abcd"), None);
        assert_eq!(parse_signature(&"g".repeat(64)), None);
    }

    #[test]
    fn expiry_in_seconds_or_iso_8601() {
        assert_eq!(parse_expires("1795313147"), Some(1_795_313_147));
        assert_eq!(parse_expires("1970-01-02T00:00:01Z"), Some(86_401));
        assert_eq!(parse_expires("-5"), None);
        assert_eq!(parse_expires("tomorrow"), None);
    }

    #[test]
    fn dispositions_quote_the_name() {
        assert_eq!(
            disposition("attachment", "my file \"ü\".pdf"),
            "attachment; filename=\"my file %22%C3%BC%22.pdf\"; \
             filename*=UTF-8''my%20file%20%22%C3%BC%22.pdf"
        );
    }
}
