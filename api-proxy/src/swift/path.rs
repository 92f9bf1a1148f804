//! Parsing `/v1/{account}[/{container}[/{object}]]` into a [`Target`], with
//! Swift's limits. Segments are split before percent-decoding, so `%2F` in a
//! container name cannot smuggle in a slash, and names are only ever index
//! keys: an object called `../../etc/passwd` is an ordinary name.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str};

use crate::error::SwiftError;

pub const MAX_ACCOUNT_NAME_LENGTH: usize = 256;
pub const MAX_CONTAINER_NAME_LENGTH: usize = 256;
pub const MAX_OBJECT_NAME_LENGTH: usize = 1024;

/// What Swift's `quote()` leaves unescaped when it puts a name in a header
/// (`X-Copied-From`, the realm of `WWW-Authenticate`).
pub const URL_QUOTE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'_')
    .remove(b'.')
    .remove(b'-')
    .remove(b'~')
    .remove(b'/');

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Account {
        account: String,
    },
    Container {
        account: String,
        container: String,
    },
    Object {
        account: String,
        container: String,
        object: String,
    },
}

impl Target {
    pub fn account(&self) -> &str {
        match self {
            Target::Account { account }
            | Target::Container { account, .. }
            | Target::Object { account, .. } => account,
        }
    }
}

/// Percent-decodes a name; invalid UTF-8 and NUL get Swift's 412.
pub fn decode(raw: &str) -> Result<String, SwiftError> {
    let invalid = || SwiftError::PreconditionFailed("Invalid UTF8 or contains NULL");
    let decoded = percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| invalid())?;
    if decoded.contains('\0') {
        return Err(invalid());
    }
    Ok(decoded.into_owned())
}

/// Percent-decodes a query value: UTF-8, NUL allowed (listing markers may
/// carry one; names never do).
pub fn decode_query(raw: &str) -> Result<String, SwiftError> {
    percent_decode_str(raw)
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .map_err(|_| SwiftError::PreconditionFailed("Invalid UTF8 or contains NULL"))
}

/// Why a name is too long, if it is.
fn too_long(kind: &str, name: &str, max: usize) -> Option<String> {
    (name.len() > max).then(|| format!("{kind} name length of {} longer than {max}", name.len()))
}

/// Checks a container name: not empty, no slash, within the limit, and not
/// a relative path segment that URL normalizers would collapse.
pub fn check_container_name(name: &str) -> Result<(), SwiftError> {
    if name.is_empty() || name.contains('/') {
        return Err(SwiftError::NotFound);
    }
    if name == "." || name == ".." {
        return Err(SwiftError::BadRequest(format!(
            "Invalid container name {name:?}"
        )));
    }
    // Swift labels this explanation HTML, an object name's plain text.
    too_long("Container", name, MAX_CONTAINER_NAME_LENGTH)
        .map_or(Ok(()), |message| Err(SwiftError::BadRequestPage(message)))
}

pub fn check_object_name(name: &str) -> Result<(), SwiftError> {
    too_long("Object", name, MAX_OBJECT_NAME_LENGTH)
        .map_or(Ok(()), |message| Err(SwiftError::BadRequest(message)))
}

/// Parses the raw (still percent-encoded) request path.
pub fn parse(raw_path: &str) -> Result<Target, SwiftError> {
    if raw_path == "/v1" || raw_path == "/v1/" {
        return Err(SwiftError::PreconditionFailed("Bad URL"));
    }
    let rest = raw_path.strip_prefix("/v1/").ok_or(SwiftError::NotFound)?;
    let mut segments = rest.splitn(3, '/');
    let account = decode(segments.next().unwrap_or_default())?;
    if account.is_empty() || account.contains('/') || account == "." || account == ".." {
        return Err(SwiftError::NotFound);
    }
    if let Some(message) = too_long("Account", &account, MAX_ACCOUNT_NAME_LENGTH) {
        return Err(SwiftError::BadRequestPage(message));
    }
    let container = match segments.next() {
        None => return Ok(Target::Account { account }),
        Some("") if segments.clone().next().is_none() => return Ok(Target::Account { account }),
        Some(raw) => decode(raw)?,
    };
    check_container_name(&container)?;
    let object = match segments.next() {
        None | Some("") => return Ok(Target::Container { account, container }),
        Some(raw) => decode(raw)?,
    };
    check_object_name(&object)?;
    Ok(Target::Object {
        account,
        container,
        object,
    })
}

/// Parses `container/object` (optionally with a leading `/`), as in
/// `X-Copy-From` and `Destination`; the parts are percent-decoded.
pub fn parse_container_object(value: &str) -> Result<(String, String), SwiftError> {
    let bad = || {
        SwiftError::PreconditionFailed(
            "X-Copy-From/Destination header must be of the form <container name>/<object name>",
        )
    };
    let value = value.strip_prefix('/').unwrap_or(value);
    let (container, object) = value.split_once('/').ok_or_else(bad)?;
    if container.is_empty() || object.is_empty() {
        return Err(bad());
    }
    let (container, object) = (decode(container)?, decode(object)?);
    check_container_name(&container)?;
    check_object_name(&object)?;
    Ok((container, object))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(account: &str, container: &str, object: &str) -> Target {
        Target::Object {
            account: account.into(),
            container: container.into(),
            object: object.into(),
        }
    }

    #[test]
    fn paths_map_to_targets() {
        assert_eq!(
            parse("/v1/AUTH_a").unwrap(),
            Target::Account {
                account: "AUTH_a".into()
            }
        );
        assert_eq!(
            parse("/v1/AUTH_a/").unwrap(),
            Target::Account {
                account: "AUTH_a".into()
            }
        );
        let container = Target::Container {
            account: "AUTH_a".into(),
            container: "c".into(),
        };
        assert_eq!(parse("/v1/AUTH_a/c").unwrap(), container);
        assert_eq!(parse("/v1/AUTH_a/c/").unwrap(), container);
        assert_eq!(
            parse("/v1/AUTH_a/c/d/e%20f.txt").unwrap(),
            object("AUTH_a", "c", "d/e f.txt")
        );
        assert_eq!(
            parse("/v1/AUTH_a/c/../../x").unwrap(),
            object("AUTH_a", "c", "../../x")
        );
    }

    #[test]
    fn bad_paths_get_swift_statuses() {
        let status = |path: &str| {
            use actix_web::ResponseError;
            parse(path).unwrap_err().status_code().as_u16()
        };
        assert_eq!(status("/v2/AUTH_a"), 404);
        assert_eq!(status("/v1//c/o"), 404);
        assert_eq!(status("/v1/AUTH_a//o"), 404);
        assert_eq!(status("/v1/AUTH_a/bad%2Fname"), 404);
        assert_eq!(status("/v1/AUTH_a/../o"), 400);
        assert_eq!(status("/v1/AUTH_a/c/%FF"), 412);
        assert_eq!(status("/v1/AUTH_a/c/a%00b"), 412);
        assert_eq!(status(&format!("/v1/AUTH_a/{}", "c".repeat(257))), 400);
        assert_eq!(status(&format!("/v1/AUTH_a/c/{}", "o".repeat(1025))), 400);
        assert!(parse(&format!("/v1/AUTH_a/c/{}", "o".repeat(1024))).is_ok());
    }

    #[test]
    fn copy_sources_parse() {
        assert_eq!(
            parse_container_object("/c/a/b").unwrap(),
            ("c".into(), "a/b".into())
        );
        assert_eq!(
            parse_container_object("c/o%20x").unwrap(),
            ("c".into(), "o x".into())
        );
        assert!(parse_container_object("c").is_err());
        assert!(parse_container_object("/c/").is_err());
    }
}
