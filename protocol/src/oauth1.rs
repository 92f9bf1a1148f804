//! OAuth 1.0a signature verification, server side (RFC 5849 §3.4).
//!
//! No maintained crate verifies OAuth 1.0a signatures as a server must, so this
//! module does, exactly as the RFC says:
//!
//! 1. protocol parameters come from the `Authorization: OAuth …` header, the
//!    query string and an `application/x-www-form-urlencoded` body (all three
//!    are signed; `realm` and `oauth_signature` are not);
//! 2. names and values are percent-encoded with the unreserved set and
//!    sorted by name, then value (§3.4.1.3.2);
//! 3. the base string is `METHOD&enc(base URI)&enc(parameters)`, where the
//!    base URI comes from the deployment's configured public URL, never from
//!    headers a client controls (§3.4.1.2);
//! 4. HMAC-SHA1 is checked in constant time; PLAINTEXT compares the key
//!    string in constant time (the caller decides whether PLAINTEXT is
//!    acceptable, i.e. only over TLS).
//!
//! Freshness (timestamp window) is checked here; nonce replay needs storage
//! and is the caller's job.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use serde::{Deserialize, Serialize};
use sha1::Sha1;
use subtle::ConstantTimeEq;
use thiserror::Error;

/// RFC 3986 unreserved characters stay; everything else is `%XX` (uppercase).
const ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// RFC 5849 §3.6 percent-encoding.
pub fn encode(value: &str) -> String {
    utf8_percent_encode(value, ENCODE).to_string()
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum OAuthError {
    #[error("the Authorization header is not a valid OAuth header: {0}")]
    MalformedHeader(String),
    #[error("the OAuth parameter {0} is missing")]
    Missing(&'static str),
    #[error("the OAuth parameter {0} appears more than once")]
    Duplicate(String),
    #[error("unsupported oauth_signature_method {0:?}; use HMAC-SHA1 or PLAINTEXT")]
    UnsupportedMethod(String),
    #[error("unsupported oauth_version {0:?}; only 1.0 is supported")]
    UnsupportedVersion(String),
    #[error("oauth_timestamp {0:?} is not a number of seconds")]
    BadTimestamp(String),
    #[error("the request is too old or from the future (timestamp {timestamp}, server time {now})")]
    Stale { timestamp: u64, now: u64 },
    #[error("the parameters are not valid percent-encoded UTF-8")]
    BadEncoding,
    #[error("the base URL {0:?} is not an absolute http(s) URL")]
    BadBaseUrl(String),
    #[error("the signature does not match")]
    InvalidSignature,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SignatureMethod {
    HmacSha1,
    Plaintext,
}

/// What the verifier needs of an HTTP request.
#[derive(Debug, Clone)]
pub struct RequestParts<'a> {
    pub method: &'a str,
    /// From [`base_uri`]: scheme, host, port and path, no query.
    pub base_uri: &'a str,
    /// The raw query string (without `?`).
    pub query: &'a str,
    /// The body, only when its content type is `application/x-www-form-urlencoded`.
    pub form_body: Option<&'a [u8]>,
    /// The `Authorization` header, if any.
    pub authorization: Option<&'a str>,
}

/// A parsed OAuth request: the protocol parameters and everything signed.
///
/// The proxy parses it and sends it to the metadata servers, which hold the
/// secrets and verify it. Its `Debug` shows neither the token, the
/// verifier nor the signature (which is the secrets themselves with
/// PLAINTEXT).
#[derive(Clone, Serialize, Deserialize)]
pub struct OAuthRequest {
    pub consumer_key: String,
    pub token: Option<String>,
    pub signature_method: SignatureMethod,
    pub timestamp: Option<u64>,
    pub nonce: Option<String>,
    pub callback: Option<String>,
    pub verifier: Option<String>,
    signature: String,
    base_string: String,
}

impl fmt::Debug for OAuthRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |value: &Option<String>| value.as_ref().map(|_| "<redacted>");
        f.debug_struct("OAuthRequest")
            .field("consumer_key", &self.consumer_key)
            .field("token", &redacted(&self.token))
            .field("signature_method", &self.signature_method)
            .field("timestamp", &self.timestamp)
            .field("verifier", &redacted(&self.verifier))
            .finish_non_exhaustive()
    }
}

/// Builds the base string URI (§3.4.1.2) from the configured public base URL
/// (`https://cloud.example.org`, maybe with a path prefix) and the request's
/// path as sent: lowercase scheme and host, default port dropped.
pub fn base_uri(public_base: &str, path: &str) -> Result<String, OAuthError> {
    let bad = || OAuthError::BadBaseUrl(public_base.to_owned());
    let (scheme, rest) = public_base.split_once("://").ok_or_else(bad)?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(bad());
    }
    let (authority, prefix) = match rest.find('/') {
        Some(slash) => (&rest[..slash], rest[slash..].trim_end_matches('/')),
        None => (rest, ""),
    };
    if authority.is_empty() || authority.contains('@') {
        return Err(bad());
    }
    let authority = authority.to_ascii_lowercase();
    let default_port = if scheme == "http" { ":80" } else { ":443" };
    let authority = authority.strip_suffix(default_port).unwrap_or(&authority);
    Ok(format!("{scheme}://{authority}{prefix}{path}"))
}

fn form_pairs(input: &[u8]) -> impl Iterator<Item = (String, String)> + '_ {
    form_urlencoded::parse(input).map(|(k, v)| (k.into_owned(), v.into_owned()))
}

/// Parses `OAuth k="v", k2="v2"`; `realm` is dropped (§3.5.1).
fn header_pairs(header: &str) -> Result<Vec<(String, String)>, OAuthError> {
    let malformed = |why: &str| OAuthError::MalformedHeader(why.to_owned());
    let (scheme, rest) = header
        .trim()
        .split_once(' ')
        .ok_or_else(|| malformed("no parameters"))?;
    if !scheme.eq_ignore_ascii_case("OAuth") {
        return Err(malformed("the scheme is not OAuth"));
    }
    let mut pairs = Vec::new();
    for part in rest.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (name, quoted) = part
            .split_once('=')
            .ok_or_else(|| malformed("a parameter has no value"))?;
        let value = quoted
            .trim()
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .ok_or_else(|| malformed("values must be in double quotes"))?;
        let decode = |s: &str| {
            percent_decode_str(s)
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| OAuthError::BadEncoding)
        };
        let name = decode(name.trim())?;
        if name != "realm" {
            pairs.push((name, decode(value)?));
        }
    }
    Ok(pairs)
}

impl OAuthRequest {
    pub fn parse(request: &RequestParts<'_>) -> Result<Self, OAuthError> {
        let mut params: Vec<(String, String)> = match request.authorization {
            Some(header)
                if header
                    .trim_start()
                    .get(..5)
                    .is_some_and(|s| s.eq_ignore_ascii_case("oauth")) =>
            {
                header_pairs(header)?
            }
            _ => Vec::new(),
        };
        params.extend(form_pairs(request.query.as_bytes()));
        if let Some(body) = request.form_body {
            params.extend(form_pairs(body));
        }

        let mut seen = std::collections::HashSet::new();
        for (name, _) in params.iter().filter(|(n, _)| n.starts_with("oauth_")) {
            if !seen.insert(name.as_str()) {
                return Err(OAuthError::Duplicate(name.clone()));
            }
        }
        let take = |name: &str| {
            params
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };

        let consumer_key =
            take("oauth_consumer_key").ok_or(OAuthError::Missing("oauth_consumer_key"))?;
        let signature = take("oauth_signature").ok_or(OAuthError::Missing("oauth_signature"))?;
        let signature_method = match take("oauth_signature_method")
            .ok_or(OAuthError::Missing("oauth_signature_method"))?
            .as_str()
        {
            "HMAC-SHA1" => SignatureMethod::HmacSha1,
            "PLAINTEXT" => SignatureMethod::Plaintext,
            other => return Err(OAuthError::UnsupportedMethod(other.to_owned())),
        };
        if let Some(version) = take("oauth_version").filter(|v| v != "1.0") {
            return Err(OAuthError::UnsupportedVersion(version));
        }
        let timestamp = take("oauth_timestamp")
            .map(|t| t.parse::<u64>().map_err(|_| OAuthError::BadTimestamp(t)))
            .transpose()?;
        let nonce = take("oauth_nonce");
        if signature_method == SignatureMethod::HmacSha1 {
            timestamp.ok_or(OAuthError::Missing("oauth_timestamp"))?;
            nonce.as_ref().ok_or(OAuthError::Missing("oauth_nonce"))?;
        }

        let mut encoded: Vec<(String, String)> = params
            .iter()
            .filter(|(n, _)| n != "oauth_signature")
            .map(|(n, v)| (encode(n), encode(v)))
            .collect();
        encoded.sort();
        let normalized = encoded
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        let base_string = format!(
            "{}&{}&{}",
            request.method.to_ascii_uppercase(),
            encode(request.base_uri),
            encode(&normalized)
        );
        Ok(Self {
            consumer_key,
            token: take("oauth_token"),
            signature_method,
            timestamp,
            nonce,
            callback: take("oauth_callback"),
            verifier: take("oauth_verifier"),
            signature,
            base_string,
        })
    }

    /// The signature base string (§3.4.1).
    pub fn base_string(&self) -> &str {
        &self.base_string
    }

    /// Whether the request was addressed to an `https` URL (PLAINTEXT
    /// signatures are only safe there).
    pub fn over_https(&self) -> bool {
        self.base_string
            .split('&')
            .nth(1)
            .is_some_and(|uri| uri.starts_with("https%3A"))
    }

    /// Checks the signature with the consumer's and the token's secrets.
    pub fn verify(
        &self,
        consumer_secret: &str,
        token_secret: Option<&str>,
    ) -> Result<(), OAuthError> {
        let key = format!(
            "{}&{}",
            encode(consumer_secret),
            encode(token_secret.unwrap_or(""))
        );
        match self.signature_method {
            SignatureMethod::HmacSha1 => {
                let expected = BASE64
                    .decode(self.signature.as_bytes())
                    .map_err(|_| OAuthError::InvalidSignature)?;
                let mut mac = Hmac::<Sha1>::new_from_slice(key.as_bytes())
                    .expect("HMAC takes keys of any length");
                mac.update(self.base_string.as_bytes());
                mac.verify_slice(&expected)
                    .map_err(|_| OAuthError::InvalidSignature)
            }
            SignatureMethod::Plaintext => {
                if bool::from(self.signature.as_bytes().ct_eq(key.as_bytes())) {
                    Ok(())
                } else {
                    Err(OAuthError::InvalidSignature)
                }
            }
        }
    }

    /// Refuses a timestamp more than `window_secs` away from `now_secs`.
    pub fn check_freshness(&self, now_secs: u64, window_secs: u64) -> Result<(), OAuthError> {
        match self.timestamp {
            Some(timestamp) if timestamp.abs_diff(now_secs) <= window_secs => Ok(()),
            Some(timestamp) => Err(OAuthError::Stale {
                timestamp,
                now: now_secs,
            }),
            None => Err(OAuthError::Missing("oauth_timestamp")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 5849 §1.2, the photos example.
    const RFC_HEADER: &str = r#"OAuth realm="Photos", oauth_consumer_key="dpf43f3p2l4k3l03", oauth_token="nnch734d00sl2jdk", oauth_signature_method="HMAC-SHA1", oauth_timestamp="137131202", oauth_nonce="chapoH", oauth_signature="MdpQcU8iPSUjWoN%2FUDMsK2sui9I%3D""#;

    fn rfc_request(header: &str) -> Result<OAuthRequest, OAuthError> {
        OAuthRequest::parse(&RequestParts {
            method: "GET",
            base_uri: &base_uri("http://photos.example.net", "/photos").unwrap(),
            query: "file=vacation.jpg&size=original",
            form_body: None,
            authorization: Some(header),
        })
    }

    #[test]
    fn debug_output_shows_no_token_verifier_or_signature() {
        let request = rfc_request(RFC_HEADER).unwrap();
        let shown = format!("{request:?}");
        assert!(shown.contains("dpf43f3p2l4k3l03"), "{shown}");
        for secret in ["nnch734d00sl2jdk", "MdpQcU8iPSUjWoN"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }

    #[test]
    fn the_rfc_5849_example_verifies() {
        let request = rfc_request(RFC_HEADER).unwrap();
        assert_eq!(
            request.base_string(),
            "GET&http%3A%2F%2Fphotos.example.net%2Fphotos&file%3Dvacation.jpg%26oauth_consumer_key%3Ddpf43f3p2l4k3l03%26oauth_nonce%3DchapoH%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131202%26oauth_token%3Dnnch734d00sl2jdk%26size%3Doriginal"
        );
        assert_eq!(request.consumer_key, "dpf43f3p2l4k3l03");
        assert_eq!(request.token.as_deref(), Some("nnch734d00sl2jdk"));
        request
            .verify("kd94hf93k423kf44", Some("pfkkdhi9sl3r4s00"))
            .unwrap();
    }

    #[test]
    fn wrong_secrets_and_tampering_fail() {
        let request = rfc_request(RFC_HEADER).unwrap();
        assert_eq!(
            request.verify("kd94hf93k423kf44", Some("wrong")),
            Err(OAuthError::InvalidSignature)
        );
        assert_eq!(
            request.verify("wrong", Some("pfkkdhi9sl3r4s00")),
            Err(OAuthError::InvalidSignature)
        );
        let tampered = OAuthRequest::parse(&RequestParts {
            method: "GET",
            base_uri: "http://photos.example.net/photos",
            query: "file=vacation.jpg&size=large",
            form_body: None,
            authorization: Some(RFC_HEADER),
        })
        .unwrap();
        assert_eq!(
            tampered.verify("kd94hf93k423kf44", Some("pfkkdhi9sl3r4s00")),
            Err(OAuthError::InvalidSignature)
        );
        let post = OAuthRequest::parse(&RequestParts {
            method: "POST",
            base_uri: "http://photos.example.net/photos",
            query: "file=vacation.jpg&size=original",
            form_body: None,
            authorization: Some(RFC_HEADER),
        })
        .unwrap();
        assert!(
            post.verify("kd94hf93k423kf44", Some("pfkkdhi9sl3r4s00"))
                .is_err()
        );
    }

    #[test]
    fn base_uris_are_normalised_from_configuration() {
        assert_eq!(
            base_uri("HTTP://Example.COM:80", "/r%20v/X").unwrap(),
            "http://example.com/r%20v/X"
        );
        assert_eq!(
            base_uri("https://www.example.net:8080/", "/?").unwrap(),
            "https://www.example.net:8080/?"
        );
        assert_eq!(
            base_uri("https://example.org:443/cloud/", "/v1/file").unwrap(),
            "https://example.org/cloud/v1/file"
        );
        assert!(base_uri("ftp://x", "/").is_err());
        assert!(base_uri("http://user@x", "/").is_err());
    }

    #[test]
    fn plaintext_compares_the_key_string() {
        let header = r#"OAuth oauth_consumer_key="ck", oauth_signature_method="PLAINTEXT", oauth_signature="c%2526s%26t%2526s""#;
        let request = OAuthRequest::parse(&RequestParts {
            method: "POST",
            base_uri: "https://x/oauth/request_token",
            query: "",
            form_body: None,
            authorization: Some(header),
        })
        .unwrap();
        request.verify("c&s", Some("t&s")).unwrap();
        assert!(request.verify("c&s", Some("t&x")).is_err());
    }

    #[test]
    fn form_body_parameters_are_signed_and_duplicates_refused() {
        let parts = |body: &'static [u8], header: &'static str| RequestParts {
            method: "POST",
            base_uri: "https://x/a",
            query: "",
            form_body: Some(body),
            authorization: Some(header),
        };
        let header = r#"OAuth oauth_consumer_key="ck", oauth_signature_method="HMAC-SHA1", oauth_timestamp="1", oauth_nonce="n", oauth_signature="x""#;
        let request = OAuthRequest::parse(&parts(b"name=a+b&c=%7E", header)).unwrap();
        assert!(request.base_string().contains("name%3Da%2520b"));
        assert!(request.base_string().contains("c%3D~"));
        assert_eq!(
            OAuthRequest::parse(&parts(b"oauth_nonce=again", header)).unwrap_err(),
            OAuthError::Duplicate("oauth_nonce".into())
        );
    }

    #[test]
    fn malformed_and_incomplete_requests_are_refused() {
        for (header, expected) in [
            (r#"OAuth oauth_consumer_key=ck"#, "MalformedHeader"),
            (
                r#"OAuth oauth_signature_method="RSA-SHA1", oauth_consumer_key="c", oauth_signature="s""#,
                "UnsupportedMethod",
            ),
            (
                r#"OAuth oauth_signature_method="HMAC-SHA1", oauth_consumer_key="c", oauth_signature="s""#,
                "Missing",
            ),
            (
                r#"OAuth oauth_signature_method="HMAC-SHA1", oauth_consumer_key="c", oauth_signature="s", oauth_nonce="n", oauth_timestamp="soon""#,
                "BadTimestamp",
            ),
            (
                r#"OAuth oauth_signature_method="HMAC-SHA1", oauth_consumer_key="%FF", oauth_signature="s""#,
                "BadEncoding",
            ),
        ] {
            let error = rfc_request(header).unwrap_err();
            assert!(
                format!("{error:?}").starts_with(expected),
                "{header}: {error:?}"
            );
        }
    }

    #[test]
    fn freshness_window() {
        let request = rfc_request(RFC_HEADER).unwrap();
        request.check_freshness(137_131_202 + 300, 300).unwrap();
        assert!(request.check_freshness(137_131_202 + 301, 300).is_err());
        assert!(request.check_freshness(137_131_202 - 301, 300).is_err());
    }
}
