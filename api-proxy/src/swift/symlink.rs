//! Symlinks, as Swift's symlink middleware makes them.
//!
//! A `PUT` with `X-Symlink-Target: <container>/<object>` (and optionally
//! `X-Symlink-Target-Account`) and an empty body stores a link: a zero-byte
//! object whose row names its target ([`SymlinkTarget`]). `GET` and `HEAD`
//! read the target instead, with `Content-Location` naming it; with
//! `?symlink=get` they read the link itself, its `X-Symlink-Target*`
//! headers included. A link may point at another link, up to
//! [`SYMLOOP_MAX`] links in a row (`409` beyond). A missing target is `404`.
//!
//! A static link (`X-Symlink-Target-Etag`) is checked when it is made: its
//! target must exist and have that ETag (for an SLO, its manifest's), else
//! `409`; its size is kept (`X-Symlink-Target-Bytes`). Reading it later
//! answers `409` once the target has changed.
//!
//! A link grants nothing: following one, the caller must be allowed to read
//! the target's container exactly as when reading the target directly (a
//! TempURL within its key's scope), and is refused otherwise. A `POST`
//! changes the link's own metadata and answers `307` with the target as
//! `Location`; a copy takes the target, or with `?symlink=get` the link.

use actix_web::HttpResponse;
use actix_web::HttpResponseBuilder;
use actix_web::http::StatusCode;
use actix_web::http::header;
use percent_encoding::utf8_percent_encode;

use super::RequestContext;
use super::path::{self, URL_QUOTE};
use crate::auth::acl::Access;
use crate::error::SwiftError;
use crate::index::{Manifest, ObjectRecord, PinnedTarget, SymlinkTarget};

/// How many links a read follows in a row (Swift's default `symloop_max`).
pub const SYMLOOP_MAX: usize = 2;

const TARGET: &str = "x-symlink-target";
const TARGET_ACCOUNT: &str = "x-symlink-target-account";
const TARGET_ETAG: &str = "x-symlink-target-etag";
const TARGET_BYTES: &str = "x-symlink-target-bytes";

/// The content type of a dynamic link whose PUT names none.
const LINK_CONTENT_TYPE: &str = "application/symlink";

/// `/info`'s `symlink` entry.
pub fn info() -> serde_json::Value {
    serde_json::json!({ "symloop_max": SYMLOOP_MAX, "static_links": true })
}

/// Whether a request asks for a link to be written.
pub fn is_requested(context: &RequestContext) -> bool {
    context.req.headers().contains_key(TARGET)
}

/// Whether a GET, HEAD or copy reads a link as itself (`?symlink=get`).
fn reads_link_itself(context: &RequestContext) -> bool {
    context.query_value("symlink") == Some("get")
}

/// `/v1/<account>/<container>/<object>` of a target, percent-quoted as
/// Swift writes `Content-Location`, `Location` and listings' `symlink_path`.
fn target_path(target: &SymlinkTarget) -> String {
    format!(
        "/v1/{}/{}",
        utf8_percent_encode(&target.account, URL_QUOTE),
        container_and_object(target)
    )
}

/// `X-Symlink-Target` as Swift gives it back: quoted, whatever form the
/// client sent.
fn container_and_object(target: &SymlinkTarget) -> String {
    format!(
        "{}/{}",
        utf8_percent_encode(&target.container, URL_QUOTE),
        utf8_percent_encode(&target.object, URL_QUOTE)
    )
}

fn conflict(message: String) -> SwiftError {
    SwiftError::SymlinkConflict(message)
}

fn too_many_links() -> SwiftError {
    conflict(format!(
        "Too many levels of symbolic links, maximum allowed is {SYMLOOP_MAX}"
    ))
}

fn at(location: &Option<String>) -> impl Fn(SwiftError) -> SwiftError + '_ {
    move |error| match location {
        Some(location) => SwiftError::AtSymlinkTarget {
            location: location.clone(),
            error: Box::new(error),
        },
        None => error,
    }
}

/// Python's `repr` of a string, as Swift quotes ETags in its messages.
fn python_repr(text: &str) -> String {
    let escaped = text.replace('\\', "\\\\");
    if escaped.contains('\'') && !escaped.contains('"') {
        format!("\"{escaped}\"")
    } else {
        format!("'{}'", escaped.replace('\'', "\\'"))
    }
}

/// The ETag a static link compares with: the object's own, which for an
/// SLO is that of its manifest (Swift checks below the SLO middleware).
fn stored_etag(record: &ObjectRecord) -> &str {
    match &record.manifest {
        Some(Manifest::Static {
            manifest_etag: Some(manifest_etag),
            ..
        }) => manifest_etag,
        _ => &record.etag,
    }
}

/// The object a read arrives at, after the links on the way.
pub struct Reached {
    pub account: String,
    pub record: ObjectRecord,
    /// The path of the last target followed (`Content-Location`), if any.
    pub location: Option<String>,
}

/// Follows `record` (of `account`) to the object it stands for: itself
/// unless it is a link.
pub async fn follow(
    context: &RequestContext,
    account: &str,
    record: ObjectRecord,
) -> Result<Reached, SwiftError> {
    walk(context, account.to_owned(), record, None, true, None).await
}

/// [`follow`], except that `?symlink=get` keeps the link itself.
pub async fn follow_unless_asked(
    context: &RequestContext,
    account: &str,
    record: ObjectRecord,
) -> Result<Reached, SwiftError> {
    if reads_link_itself(context) {
        return Ok(Reached {
            account: account.to_owned(),
            record,
            location: None,
        });
    }
    follow(context, account, record).await
}

/// Swift's traversal: `pinned` is the ETag the previous static link expects
/// of what comes next; dynamic links are followed only when
/// `follow_dynamic` (a static link's check stops at a dynamic link, whose
/// own ETag it then compares).
async fn walk(
    context: &RequestContext,
    mut account: String,
    mut record: ObjectRecord,
    mut pinned: Option<String>,
    mut follow_dynamic: bool,
    mut location: Option<String>,
) -> Result<Reached, SwiftError> {
    let mut hops = 0;
    loop {
        let Some(link) = record
            .symlink
            .clone()
            .filter(|link| follow_dynamic || link.pinned.is_some())
        else {
            if let Some(expected) = &pinned {
                let found = stored_etag(&record);
                if found != expected {
                    return Err(at(&location)(conflict(format!(
                        "Object Etag {} does not match X-Symlink-Target-Etag header {}",
                        python_repr(found),
                        python_repr(expected)
                    ))));
                }
            }
            return Ok(Reached {
                account,
                record,
                location,
            });
        };
        let found = link
            .pinned
            .as_ref()
            .map_or(record.etag.as_str(), |p| p.etag.as_str());
        if pinned.as_ref().is_some_and(|expected| expected != found) {
            return Err(at(&location)(conflict(
                "X-Symlink-Target-Etag headers do not match".into(),
            )));
        }
        if hops >= SYMLOOP_MAX {
            return Err(too_many_links());
        }
        hops += 1;
        location = Some(target_path(&link));
        pinned = link.pinned.map(|p| p.etag);
        follow_dynamic = true;
        context
            .authorize_container_in(&link.account, &link.container, Access::Read)
            .await
            .map_err(at(&location))?;
        record = context
            .state
            .index
            .object(&link.account, &link.container, &link.object)
            .await?
            .ok_or(SwiftError::NotFound)
            .map_err(at(&location))?;
        account = link.account;
    }
}

pub fn zero_body_required() -> SwiftError {
    SwiftError::BadRequest("Symlink requests require a zero byte body".into())
}

/// `X-Symlink-Target`, decoded, as (container, object): Swift decodes the
/// whole value before splitting it, so `%2F` separates too.
fn parse_target(raw: &str) -> Result<(String, String), SwiftError> {
    let malformed = || {
        SwiftError::PreconditionFailed(
            "X-Symlink-Target header must be of the form <container name>/<object name>",
        )
    };
    let decoded = path::decode(raw)?;
    let (container, object) = decoded
        .split_once('/')
        .filter(|(container, object)| !container.is_empty() && !object.is_empty())
        .ok_or_else(malformed)?;
    path::check_container_name(container).map_err(|_| malformed())?;
    path::check_object_name(object)?;
    Ok((container.to_owned(), object.to_owned()))
}

fn parse_account(raw: &str) -> Result<String, SwiftError> {
    let account = path::decode(raw)?;
    if account.is_empty() {
        return Err(SwiftError::PreconditionFailed(
            "Account name cannot be empty",
        ));
    }
    if account.contains('/') {
        return Err(SwiftError::PreconditionFailed(
            "Account name cannot contain slashes",
        ));
    }
    Ok(account)
}

/// `X-Symlink-Target-Etag`, unquoted; Swift refuses characters that would
/// break the parameters its listings carry it in.
fn requested_etag(context: &RequestContext) -> Result<Option<String>, SwiftError> {
    let Some(raw) = context.header(TARGET_ETAG) else {
        return Ok(None);
    };
    let etag = raw.trim();
    let etag = etag
        .strip_prefix('"')
        .and_then(|e| e.strip_suffix('"'))
        .unwrap_or(etag);
    if etag.contains([';', '"', '\\']) {
        return Err(SwiftError::BadRequest(
            "Bad X-Symlink-Target-Etag format".into(),
        ));
    }
    Ok((!etag.is_empty()).then(|| etag.to_owned()))
}

fn refuse_self_target(
    target: &SymlinkTarget,
    (account, container, object): (&str, &str, &str),
) -> Result<(), SwiftError> {
    if (
        target.account.as_str(),
        target.container.as_str(),
        target.object.as_str(),
    ) == (account, container, object)
    {
        return Err(SwiftError::BadRequest(
            "Symlink cannot target itself".into(),
        ));
    }
    Ok(())
}

/// A link to store, checked.
pub struct NewLink {
    pub target: SymlinkTarget,
    /// The content type when the PUT names none: a static link's target's,
    /// else `application/symlink`.
    pub content_type: String,
}

/// The link a `PUT` of `link` (account, container, object) asks for, with
/// `content_length` declared; `None` without `X-Symlink-Target`. A static
/// link is checked against its target here, as the caller.
pub async fn requested(
    context: &RequestContext,
    link: (&str, &str, &str),
    content_length: Option<u64>,
) -> Result<Option<NewLink>, SwiftError> {
    let Some(raw) = context.header(TARGET) else {
        return Ok(None);
    };
    if content_length.is_some_and(|length| length > 0) {
        return Err(zero_body_required());
    }
    if context.header("x-object-manifest").is_some() {
        return Err(SwiftError::BadRequest(
            "A symlink cannot be a dynamic large object manifest".into(),
        ));
    }
    let (container, object) = parse_target(raw)?;
    let named = context
        .header(TARGET_ACCOUNT)
        .map(parse_account)
        .transpose()?;
    let target = SymlinkTarget {
        account_named: named.is_some(),
        account: named.unwrap_or_else(|| link.0.to_owned()),
        container,
        object,
        pinned: None,
    };
    refuse_self_target(&target, link)?;
    checked(context, target, requested_etag(context)?)
        .await
        .map(Some)
}

/// `target` as a link to store, pinned to `etag` when given.
async fn checked(
    context: &RequestContext,
    target: SymlinkTarget,
    etag: Option<String>,
) -> Result<NewLink, SwiftError> {
    match etag {
        None => Ok(NewLink {
            target,
            content_type: LINK_CONTENT_TYPE.to_owned(),
        }),
        Some(etag) => pin(context, target, etag).await,
    }
}

/// Makes `target` a static link to an object with ETag `etag`, which must
/// exist and be readable by the caller.
async fn pin(
    context: &RequestContext,
    mut target: SymlinkTarget,
    etag: String,
) -> Result<NewLink, SwiftError> {
    let location = Some(target_path(&target));
    let does_not_exist = || at(&location)(conflict("X-Symlink-Target does not exist".into()));
    match context
        .authorize_container_in(&target.account, &target.container, Access::Read)
        .await
    {
        Err(SwiftError::NotFound) => return Err(does_not_exist()),
        other => other?,
    }
    let record = context
        .state
        .index
        .object(&target.account, &target.container, &target.object)
        .await?
        .ok_or_else(does_not_exist)?;
    let reached = match walk(
        context,
        target.account.clone(),
        record,
        Some(etag.clone()),
        false,
        location.clone(),
    )
    .await
    {
        Err(SwiftError::AtSymlinkTarget { error, .. })
            if matches!(*error, SwiftError::NotFound) =>
        {
            return Err(does_not_exist());
        }
        other => other?,
    };
    let record = reached.record;
    let slo_etag = matches!(record.manifest, Some(Manifest::Static { .. }))
        .then(|| format!("\"{}\"", record.etag));
    target.pinned = Some(PinnedTarget {
        etag,
        bytes: record.size,
        slo_etag,
    });
    Ok(NewLink {
        target,
        content_type: record.content_type,
    })
}

/// The link a copy writes at `destination` (account, container, object)
/// when its source is `source`: a copy of a link read as itself
/// (`?symlink=get`) is a link again, retargeted by the request's
/// `X-Symlink-Target*` headers, pointing into the destination's account
/// unless an account was named, and checked again if static. A copy of
/// anything else must not ask for a link: its bytes are not empty.
pub async fn copied(
    context: &RequestContext,
    source: &ObjectRecord,
    destination: (&str, &str, &str),
) -> Result<Option<SymlinkTarget>, SwiftError> {
    let Some(link) = &source.symlink else {
        if is_requested(context) && source.size > 0 {
            return Err(zero_body_required());
        }
        return Ok(None);
    };
    let (container, object) = match context.header(TARGET) {
        Some(raw) => parse_target(raw)?,
        None => (link.container.clone(), link.object.clone()),
    };
    let named = match context.header(TARGET_ACCOUNT) {
        Some(raw) => Some(parse_account(raw)?),
        None => link.account_named.then(|| link.account.clone()),
    };
    let target = SymlinkTarget {
        account_named: named.is_some(),
        account: named.unwrap_or_else(|| destination.0.to_owned()),
        container,
        object,
        pinned: None,
    };
    refuse_self_target(&target, destination)?;
    let etag = match requested_etag(context)? {
        Some(etag) => Some(etag),
        None => link.pinned.as_ref().map(|p| p.etag.clone()),
    };
    Ok(Some(checked(context, target, etag).await?.target))
}

/// Refuses a `POST` that tries to set a link's target (only a PUT does).
pub fn refuse_post_target(context: &RequestContext) -> Result<(), SwiftError> {
    if is_requested(context) {
        return Err(SwiftError::BadRequest(
            "A PUT request is required to set a symlink target".into(),
        ));
    }
    Ok(())
}

/// Refuses a `POST` to a link that would make it a dynamic large object.
pub fn refuse_post_manifest(
    context: &RequestContext,
    record: &ObjectRecord,
) -> Result<(), SwiftError> {
    if record.symlink.is_some() && context.header("x-object-manifest").is_some() {
        return Err(SwiftError::BadRequest(
            "A symlink cannot be a dynamic large object manifest".into(),
        ));
    }
    Ok(())
}

/// The answer to a `POST` that changed a link's metadata: `307` to the
/// target, which the POST did not reach.
pub fn post_redirect(link: &SymlinkTarget) -> HttpResponse {
    let mut response = HttpResponse::build(StatusCode::TEMPORARY_REDIRECT);
    response.insert_header((header::LOCATION, target_path(link)));
    if let Some(pinned) = &link.pinned {
        response.insert_header((TARGET_ETAG, pinned.etag.as_str()));
    }
    response.content_type("text/plain; charset=utf-8").body(
        "The requested POST was applied to a symlink. POST directly to the target to apply \
         requested metadata.",
    )
}

/// The `X-Symlink-Target*` headers of a link read as itself.
pub fn write_headers(response: &mut HttpResponseBuilder, link: &SymlinkTarget) {
    response.insert_header((TARGET, container_and_object(link)));
    if link.account_named {
        response.insert_header((
            TARGET_ACCOUNT,
            utf8_percent_encode(&link.account, URL_QUOTE).to_string(),
        ));
    }
    if let Some(pinned) = &link.pinned {
        response
            .insert_header((TARGET_ETAG, pinned.etag.as_str()))
            .insert_header((TARGET_BYTES, pinned.bytes));
    }
}

/// The fields a link adds to its entry in a JSON container listing.
pub fn list(item: &mut serde_json::Value, link: &SymlinkTarget) {
    item["symlink_path"] = target_path(link).into();
    if let Some(pinned) = &link.pinned {
        item["symlink_etag"] = pinned.etag.as_str().into();
        item["symlink_bytes"] = pinned.bytes.into();
        if let Some(slo_etag) = &pinned.slo_etag {
            item["slo_etag"] = slo_etag.as_str().into();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(account: &str, container: &str, object: &str) -> SymlinkTarget {
        SymlinkTarget {
            account: account.into(),
            account_named: false,
            container: container.into(),
            object: object.into(),
            pinned: None,
        }
    }

    #[test]
    fn targets_are_parsed_and_quoted_as_swift_does() {
        // Decoded whole, then split: `%2F` separates like `/`.
        assert_eq!(
            parse_target("c/dealde%2Fl04 011e%204c8df/flash.png").unwrap(),
            ("c".to_owned(), "dealde/l04 011e 4c8df/flash.png".to_owned())
        );
        for bad in ["object-only", "c/", "/c/o", "%2Fc/o"] {
            assert!(
                matches!(parse_target(bad), Err(SwiftError::PreconditionFailed(_))),
                "{bad}"
            );
        }
        let link = target("AUTH_a b", "c", "dealde/l04 011e 4c8df/flash.png");
        assert_eq!(
            target_path(&link),
            "/v1/AUTH_a%20b/c/dealde/l04%20011e%204c8df/flash.png"
        );
        assert!(parse_account("a/b").is_err());
        assert!(parse_account("").is_err());
    }

    #[test]
    fn etags_are_quoted_as_python_reprs() {
        assert_eq!(python_repr("abc"), "'abc'");
        assert_eq!(python_repr("it's"), "\"it's\"");
        assert_eq!(python_repr("\"q\"'"), "'\"q\"\\''");
    }

    #[test]
    fn a_link_may_not_point_at_itself() {
        let link = target("a", "c", "o");
        assert!(refuse_self_target(&link, ("a", "c", "o")).is_err());
        assert!(refuse_self_target(&link, ("b", "c", "o")).is_ok());
    }
}
