//! Object versioning, Swift's `versioned_writes` middleware in its two
//! legacy modes.
//!
//! A container's owners name another container of the same account that
//! keeps the older versions of its objects: `X-Versions-Location` (stack
//! mode) or `X-History-Location` (history mode). Then a write that replaces
//! an object (PUT, copy, manifest) first archives it there as
//! `<name length, 3 hex digits><name>/<its X-Timestamp>`; in stack mode a
//! DELETE removes the object and brings the newest archived version back,
//! in history mode it archives the object and writes a delete marker
//! ([`DELETE_MARKER_CONTENT_TYPE`]).
//!
//! Nothing is copied: archiving and restoring move the object's index row
//! (bytes, metadata, manifest) within one transaction with the write or
//! delete, so a failure leaves the old version where it was, readable, and
//! the archive shares the very bytes of the version it keeps. As in Swift,
//! the archive is written with the container owner's authority (a caller
//! who may write the versioned container need not reach the versions
//! container), archives count towards the quotas of the account and of the
//! versions container like any object but a move is never refused by them,
//! and a versions container that does not exist makes every versioned write
//! fail with 412, changing nothing.

use actix_web::HttpResponseBuilder;
use bytes::Bytes;

use super::RequestContext;
use super::path::{self, MAX_OBJECT_NAME_LENGTH, check_container_name};
use super::{body, metadata};
use crate::error::SwiftError;
use crate::index::{
    Archive, Content, ListRange, ObjectRecord, PutResult, Versioning, VersioningMode,
};
use crate::timestamp::Timestamp;

/// What `/info` advertises under `versioned_writes`.
pub const ALLOWED_FLAGS: [&str; 2] = [VERSIONS_LOCATION, HISTORY_LOCATION];

/// The content type of a delete marker, as Swift writes it.
pub const DELETE_MARKER_CONTENT_TYPE: &str = "application/x-deleted;swift_versions_deleted=1";

const VERSIONS_LOCATION: &str = "x-versions-location";
const HISTORY_LOCATION: &str = "x-history-location";
const REMOVE_HEADERS: [&str; 2] = ["x-remove-versions-location", "x-remove-history-location"];

/// MD5 of no bytes, the ETag of a delete marker.
const EMPTY_ETAG: &str = "d41d8cd98f00b204e9800998ecf8427e";

/// Length of an archive name's timestamp (`1733500000.12345`).
const TIMESTAMP_LENGTH: usize = 16;

fn missing_versions_container() -> SwiftError {
    SwiftError::PreconditionFailed("The versions container does not exist.")
}

/// The versioning change of a container PUT or POST, as Swift reads it:
/// `None` leaves it; a value sets it (and wins over an `X-Remove-…` beside
/// it); an empty value or `X-Remove-Versions-Location` /
/// `X-Remove-History-Location` turns it off. Both locations at once are
/// refused (400) unless one is empty. Setting it is the container owners'
/// (checked before), and the versions container must be one they own too.
pub fn read_update(context: &RequestContext) -> Result<Option<Option<Versioning>>, SwiftError> {
    let mut versions = context.header(VERSIONS_LOCATION);
    let mut history = context.header(HISTORY_LOCATION);
    if let (Some(stack), Some(hist)) = (versions, history) {
        match (stack.is_empty(), hist.is_empty()) {
            (_, true) => history = None,
            (false, false) => {
                return Err(SwiftError::BadRequest(
                    "Only one of X-Versions-Location or X-History-Location may be specified".into(),
                ));
            }
            (true, false) => versions = None,
        }
    }
    let requested = match (versions, history) {
        (Some(location), _) => Some((location, VersioningMode::Stack)),
        (None, Some(location)) => Some((location, VersioningMode::History)),
        (None, None) => None,
    };
    match requested {
        Some((location, mode)) if !location.is_empty() => {
            let container = versions_container(location)?;
            let owned = context
                .identity
                .as_ref()
                .is_some_and(|identity| identity.owns_container(&context.account, &container));
            if !owned {
                return Err(SwiftError::Forbidden);
            }
            Ok(Some(Some(Versioning {
                location: location.to_owned(),
                mode,
            })))
        }
        Some(_) => Ok(Some(None)),
        None if REMOVE_HEADERS
            .iter()
            .any(|name| context.header(name).is_some_and(|v| !v.is_empty())) =>
        {
            Ok(Some(None))
        }
        None => Ok(None),
    }
}

/// The versions container a location names: percent-decoded, up to its
/// first slash (as Swift reads it); a location with a raw slash, or that
/// names no valid container, is refused (412).
fn versions_container(location: &str) -> Result<String, SwiftError> {
    if location.contains('/') {
        return Err(SwiftError::PreconditionFailed(
            "Container name cannot contain slashes",
        ));
    }
    let decoded = path::decode(location)?;
    let container = decoded.split('/').next().unwrap_or_default();
    check_container_name(container)
        .map_err(|_| SwiftError::PreconditionFailed("Invalid versions container name"))?;
    Ok(container.to_owned())
}

/// Shows a container's versioning on HEAD and GET, under the header that set it.
pub fn write_headers(response: &mut HttpResponseBuilder, versioning: Option<&Versioning>) {
    if let Some(versioning) = versioning {
        let name = match versioning.mode {
            VersioningMode::Stack => "X-Versions-Location",
            VersioningMode::History => "X-History-Location",
        };
        // A location may hold raw UTF-8, as Swift's clients send names.
        if let Some(value) = metadata::header_value(&versioning.location) {
            response.insert_header((name, value));
        }
    }
}

/// The versions container and mode of `container` of `account`, if it is
/// versioned.
async fn versioning_of(
    context: &RequestContext,
    account: &str,
    container: &str,
) -> Result<Option<(String, VersioningMode)>, SwiftError> {
    let Some(versioning) = context
        .state
        .index
        .container_versioning(account, container)
        .await?
    else {
        return Ok(None);
    };
    Ok(Some((
        versions_container(&versioning.location)?,
        versioning.mode,
    )))
}

/// `<name length in bytes, 3 hex digits><name>/`, the prefix of the
/// archived versions of `object`; refused (412) when the archive names
/// would be longer than an object name may be.
fn archive_prefix(object: &str) -> Result<String, SwiftError> {
    let prefix = format!("{:03x}{object}/", object.len());
    if prefix.len() + TIMESTAMP_LENGTH > MAX_OBJECT_NAME_LENGTH {
        return Err(SwiftError::PreconditionFailed(
            "The object name is too long for its versions to be archived.",
        ));
    }
    Ok(prefix)
}

fn archive_name(prefix: &str, modified: Timestamp) -> String {
    format!("{prefix}{}", modified.x_timestamp())
}

/// Stores `record` in `container` of `account` as
/// [`crate::index::ObjectIndex::put_object`] does, archiving the version it
/// replaces first when the container is versioned.
pub async fn put_object(
    context: &RequestContext,
    account: &str,
    container: &str,
    record: &ObjectRecord,
    overwrite: bool,
) -> Result<PutResult, SwiftError> {
    let index = &context.state.index;
    // A write that may not replace an object archives nothing: the
    // container's versioning does not matter, and is not read.
    let versioning = if overwrite {
        versioning_of(context, account, container).await?
    } else {
        None
    };
    let Some((versions, _)) = versioning else {
        return Ok(index
            .put_object(account, container, record, overwrite)
            .await?);
    };
    let prefix = archive_prefix(&record.name)?;
    let name = |modified| archive_name(&prefix, modified);
    let archive = Archive {
        container: &versions,
        name: &name,
    };
    index
        .put_object_archiving(account, container, record, overwrite, &archive)
        .await?
        .ok_or_else(missing_versions_container)
}

/// A DELETE of `object` of `container` (authorized and guarded before):
/// whether something was deleted, or `None` when the container is not
/// versioned or the DELETE is a plain one after all (stack mode with no
/// archived version, or a live object above a delete marker).
pub async fn delete_object(
    context: &RequestContext,
    container: &str,
    object: &str,
) -> Result<Option<bool>, SwiftError> {
    let Some((versions, mode)) = versioning_of(context, &context.account, container).await? else {
        return Ok(None);
    };
    let prefix = archive_prefix(object)?;
    match mode {
        VersioningMode::History => {
            archive_deleted(context, container, object, &versions, &prefix).await
        }
        VersioningMode::Stack => {
            restore_previous(context, container, object, &versions, &prefix).await
        }
    }
}

/// History mode: archives the object and writes a delete marker, even when
/// the object does not exist (then the answer is 404), as Swift does.
async fn archive_deleted(
    context: &RequestContext,
    container: &str,
    object: &str,
    versions: &str,
    prefix: &str,
) -> Result<Option<bool>, SwiftError> {
    let now = Timestamp::now();
    let marker = ObjectRecord {
        name: archive_name(prefix, now),
        content: Content::Inline(Some(Bytes::new())),
        size: 0,
        etag: EMPTY_ETAG.to_owned(),
        content_type: DELETE_MARKER_CONTENT_TYPE.to_owned(),
        meta: Default::default(),
        modified: now,
        manifest: None,
        delete_at: None,
        symlink: None,
    };
    let name = |modified| archive_name(prefix, modified);
    let archive = Archive {
        container: versions,
        name: &name,
    };
    let existed = context
        .state
        .index
        .archive_deleted_object(&context.account, container, object, &archive, &marker)
        .await?
        .ok_or_else(missing_versions_container)?;
    Ok(Some(existed))
}

/// Stack mode: the newest archived version replaces the object. When the
/// newest is a delete marker (left by history mode), a live object is
/// simply deleted; otherwise the version below the marker (if it is one)
/// comes back and the marker goes.
async fn restore_previous(
    context: &RequestContext,
    container: &str,
    object: &str,
    versions: &str,
    prefix: &str,
) -> Result<Option<bool>, SwiftError> {
    let index = &context.state.index;
    let account = &context.account;
    let newest_first = ListRange {
        prefix: prefix.to_owned(),
        reverse: true,
        limit: 2,
        ..Default::default()
    };
    let is_marker = |record: &ObjectRecord| record.content_type == DELETE_MARKER_CONTENT_TYPE;
    // Each pass either finishes or found a version deleted since it was
    // listed, and lists again.
    loop {
        let newest = index.list_objects(account, versions, &newest_first).await?;
        let Some(first) = newest.first() else {
            return Ok(None);
        };
        if !is_marker(first) {
            if restore(context, container, object, versions, &first.name).await? {
                return Ok(Some(true));
            }
            continue;
        }
        if index.object(account, container, object).await?.is_some() {
            return Ok(None);
        }
        if let Some(previous) = newest.get(1).filter(|record| !is_marker(record))
            && !restore(context, container, object, versions, &previous.name).await?
        {
            continue;
        }
        let marker = index.delete_object(account, versions, &first.name).await?;
        return Ok(Some(marker.is_some()));
    }
}

/// Moves `archived` back to `object`, replacing (and discarding) what is
/// there; `false` when `archived` no longer exists.
async fn restore(
    context: &RequestContext,
    container: &str,
    object: &str,
    versions: &str,
    archived: &str,
) -> Result<bool, SwiftError> {
    let restored = context
        .state
        .index
        .restore_archived(&context.account, container, object, versions, archived)
        .await?;
    let Some(replaced) = restored else {
        return Ok(false);
    };
    if let Some(content) = replaced {
        body::discard(context.state.blobs.as_ref(), &content).await;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_names_follow_swift() {
        let prefix = archive_prefix("photo.jpg").unwrap();
        assert_eq!(prefix, "009photo.jpg/");
        // The length counts UTF-8 bytes.
        assert_eq!(archive_prefix("é").unwrap(), "002é/");
        let name = archive_name(&prefix, Timestamp::from_micros(1_733_500_000_123_456));
        assert_eq!(name, "009photo.jpg/1733500000.12345");
        assert_eq!(name.len(), prefix.len() + TIMESTAMP_LENGTH);
        assert!(archive_prefix(&"a".repeat(MAX_OBJECT_NAME_LENGTH - 20)).is_ok());
        assert!(archive_prefix(&"a".repeat(MAX_OBJECT_NAME_LENGTH - 19)).is_err());
    }

    #[test]
    fn locations_decode_as_swift_reads_them() {
        assert_eq!(versions_container("my%20versions").unwrap(), "my versions");
        assert_eq!(versions_container("a%2Fb").unwrap(), "a");
        assert!(versions_container("a/b").is_err());
        assert!(versions_container("%FF").is_err());
    }
}
