//! Large objects, served as the concatenation of other objects (segments).
//!
//! * DLO: a manifest object with `X-Object-Manifest: <container>/<prefix>`;
//!   its content is every object under the prefix, in name order.
//! * SLO: `PUT ?multipart-manifest=put` with a JSON list of segments
//!   (`path`, optional `etag`, `size_bytes`, `range`), each checked when the
//!   manifest is stored and again when it is read. The manifest blob holds
//!   Swift's stored form (`name`, `hash`, `bytes`, `range`), which
//!   `GET ?multipart-manifest=get` returns. Segments are plain objects:
//!   nested manifests are refused.
//!
//! Both have a quoted ETag: the MD5 of their segments' ETags (for a ranged SLO
//! segment, of `<etag>:<range>;`).

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::{HttpResponse, web};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};

use super::body::{self, Piece, Source};
use super::listing::LISTING_LIMIT;
use super::range::{self, RangeRequest};
use super::{RequestContext, bulk, path};
use crate::auth::acl::Access;
use crate::error::SwiftError;
use crate::index::{Bound, ListRange, Manifest, ObjectRecord};

pub const MAX_MANIFEST_SEGMENTS: usize = 1000;
pub const MAX_MANIFEST_SIZE: usize = 8 * 1024 * 1024;
pub const MIN_SEGMENT_SIZE: u64 = 1;

/// An object as clients see it.
pub struct Resolved {
    pub record: ObjectRecord,
    pub pieces: Vec<Piece>,
    pub size: u64,
    /// The `ETag` header value (quoted for large objects).
    pub etag: String,
    pub content_type: String,
    /// `X-Manifest-Etag` of a static large object.
    pub manifest_etag: Option<String>,
}

impl Resolved {
    pub fn etag_value(&self) -> &str {
        self.etag.trim_matches('"')
    }
}

/// A segment in the stored form of an SLO manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StoredSegment {
    /// `/<container>/<object>`.
    name: String,
    hash: String,
    bytes: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    range: Option<String>,
}

/// A segment as clients send it in `?multipart-manifest=put`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SegmentRequest {
    path: String,
    #[serde(default)]
    etag: Option<String>,
    #[serde(default)]
    size_bytes: Option<u64>,
    #[serde(default)]
    range: Option<String>,
}

fn quoted_md5(md5: Md5) -> String {
    format!("\"{}\"", hex::encode(md5.finalize()))
}

/// Resolves a record to the bytes it stands for; with
/// `?multipart-manifest=get` a manifest is served as itself.
pub async fn resolve(
    context: &RequestContext,
    account: &str,
    record: ObjectRecord,
) -> Result<Resolved, SwiftError> {
    let as_manifest = context.query_value("multipart-manifest") == Some("get");
    match record.manifest.clone() {
        Some(Manifest::Dynamic {
            container_and_prefix,
        }) if !as_manifest => {
            resolve_dynamic(context, account, record, &container_and_prefix).await
        }
        Some(Manifest::Static { manifest_size }) => {
            let manifest = read_manifest(context, &record, manifest_size).await?;
            let manifest_etag = hex::encode(Md5::digest(&manifest));
            if as_manifest {
                return Ok(Resolved {
                    pieces: vec![Piece::whole(Source::Inline(manifest.into()), manifest_size)],
                    size: manifest_size,
                    etag: manifest_etag,
                    content_type: "application/json; charset=utf-8".into(),
                    manifest_etag: None,
                    record,
                });
            }
            let segments: Vec<StoredSegment> = serde_json::from_slice(&manifest)
                .map_err(|_| SwiftError::SegmentInvalid(record.name.clone()))?;
            let pieces = static_pieces(context, account, &segments).await?;
            Ok(Resolved {
                pieces,
                size: record.size,
                etag: format!("\"{}\"", record.etag),
                content_type: record.content_type.clone(),
                manifest_etag: Some(manifest_etag),
                record,
            })
        }
        _ => Ok(Resolved {
            pieces: vec![Piece::whole(
                source(context, None, &record).await?,
                record.size,
            )],
            size: record.size,
            etag: record.etag.clone(),
            content_type: record.content_type.clone(),
            manifest_etag: None,
            record,
        }),
    }
}

async fn resolve_dynamic(
    context: &RequestContext,
    account: &str,
    record: ObjectRecord,
    container_and_prefix: &str,
) -> Result<Resolved, SwiftError> {
    let (container, prefix) = container_and_prefix
        .split_once('/')
        .unwrap_or((container_and_prefix, ""));
    context
        .authorize_container_in(account, container, Access::Read)
        .await?;
    let mut segments: Vec<ObjectRecord> = Vec::new();
    loop {
        let range = ListRange {
            prefix: prefix.to_owned(),
            lower: segments.last().map(|s| Bound {
                name: s.name.clone(),
                inclusive: false,
            }),
            upper: None,
            reverse: false,
            limit: LISTING_LIMIT,
        };
        let page = context
            .state
            .index
            .list_objects(account, container, &range)
            .await?;
        let done = page.len() < LISTING_LIMIT;
        segments.extend(page);
        if done {
            break;
        }
    }
    let mut md5 = Md5::new();
    let mut pieces = Vec::with_capacity(segments.len());
    for segment in &segments {
        md5.update(segment.etag.as_bytes());
        let source = source(context, Some((account, container)), segment).await?;
        pieces.push(Piece::whole(source, segment.size));
    }
    Ok(Resolved {
        pieces,
        size: segments.iter().map(|s| s.size).sum(),
        etag: quoted_md5(md5),
        content_type: record.content_type.clone(),
        manifest_etag: None,
        record,
    })
}

/// Where `record`'s bytes are read from. A record from a listing (of
/// `listed_in`: account and container) lacks inline bytes, which are then
/// loaded, as long as the object has not changed since.
async fn source(
    context: &RequestContext,
    listed_in: Option<(&str, &str)>,
    record: &ObjectRecord,
) -> Result<Source, SwiftError> {
    if let Some(source) = Source::of(&record.content) {
        return Ok(source);
    }
    let missing = || SwiftError::SegmentInvalid(record.name.clone());
    let (account, container) = listed_in.ok_or_else(missing)?;
    let loaded = context
        .state
        .index
        .object(account, container, &record.name)
        .await?
        .filter(|loaded| loaded.etag == record.etag)
        .ok_or_else(missing)?;
    Source::of(&loaded.content).ok_or_else(missing)
}

/// The JSON an SLO's record holds.
async fn read_manifest(
    context: &RequestContext,
    record: &ObjectRecord,
    size: u64,
) -> Result<Vec<u8>, SwiftError> {
    let source = source(context, None, record).await?;
    let pieces = [Piece::whole(source, size)];
    let parts: Vec<Bytes> = body::stream_range(Arc::clone(&context.state.blobs), &pieces, 0..size)
        .try_collect()
        .await
        .map_err(SwiftError::ReadFailed)?;
    Ok(parts.concat())
}

/// Splits `/container/object` (raw, as SLO manifests carry it).
fn split_segment_path(path: &str) -> Result<(&str, &str), String> {
    let (container, object) = path
        .strip_prefix('/')
        .unwrap_or(path)
        .split_once('/')
        .filter(|(c, o)| !c.is_empty() && !o.is_empty())
        .ok_or_else(|| "path must be /<container>/<object>".to_owned())?;
    path::check_container_name(container)
        .and_then(|()| path::check_object_name(object))
        .map_err(|e| e.to_string())?;
    Ok((container, object))
}

/// Looks up a segment the caller may read; `Err` holds the reason for the
/// client.
async fn readable_segment(
    context: &RequestContext,
    account: &str,
    path: &str,
    readable: &mut HashMap<String, bool>,
) -> Result<ObjectRecord, String> {
    let (container, object) = split_segment_path(path)?;
    if !readable.contains_key(container) {
        let allowed = context
            .authorize_container_in(account, container, Access::Read)
            .await
            .is_ok();
        readable.insert(container.to_owned(), allowed);
    }
    if readable.get(container) != Some(&true) {
        return Err("403 Forbidden".into());
    }
    let record = context
        .state
        .index
        .object(account, container, object)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| "404 Not Found".to_owned())?;
    if record.manifest.is_some() {
        return Err("Nested manifests are not supported".into());
    }
    Ok(record)
}

/// `a-b` (inclusive) as a byte range within a segment of `size` bytes.
fn segment_range(range: &str, size: u64) -> Option<std::ops::Range<u64>> {
    match range::resolve(Some(&format!("bytes={range}")), size) {
        RangeRequest::Partial(mut ranges) if ranges.len() == 1 => ranges.pop(),
        _ => None,
    }
}

async fn static_pieces(
    context: &RequestContext,
    account: &str,
    segments: &[StoredSegment],
) -> Result<Vec<Piece>, SwiftError> {
    let mut readable = HashMap::new();
    let mut pieces = Vec::with_capacity(segments.len());
    for segment in segments {
        let invalid = || SwiftError::SegmentInvalid(segment.name.clone());
        let record = readable_segment(context, account, &segment.name, &mut readable)
            .await
            .map_err(|_| invalid())?;
        if record.etag != segment.hash || record.size != segment.bytes {
            return Err(invalid());
        }
        let within = match &segment.range {
            Some(range) => segment_range(range, record.size).ok_or_else(invalid)?,
            None => 0..record.size,
        };
        pieces.push(Piece {
            source: source(context, None, &record).await?,
            offset: within.start,
            len: within.end - within.start,
        });
    }
    Ok(pieces)
}

async fn read_body(mut payload: web::Payload) -> Result<Vec<u8>, SwiftError> {
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        body.extend_from_slice(&chunk.map_err(|_| SwiftError::ClientDisconnect)?);
        if body.len() > MAX_MANIFEST_SIZE {
            return Err(SwiftError::TooLarge);
        }
    }
    Ok(body)
}

/// The checked manifest of an SLO to store.
pub struct NewManifest {
    pub json: Vec<u8>,
    pub size: u64,
    /// MD5 of the segments' ETags, unquoted.
    pub etag: String,
}

/// Reads and checks the body of `PUT ?multipart-manifest=put`.
pub async fn read_new_manifest(
    context: &RequestContext,
    payload: web::Payload,
) -> Result<NewManifest, SwiftError> {
    let body = read_body(payload).await?;
    let requests: Vec<SegmentRequest> = serde_json::from_slice(&body)
        .map_err(|e| SwiftError::BadRequest(format!("Manifest must be valid JSON.\n{e}")))?;
    if requests.is_empty() {
        return Err(SwiftError::BadRequest(
            "Manifest must have at least one segment.".into(),
        ));
    }
    if requests.len() > MAX_MANIFEST_SEGMENTS {
        return Err(SwiftError::BadRequest(format!(
            "Too many segments; max {MAX_MANIFEST_SEGMENTS}."
        )));
    }
    let mut readable = HashMap::new();
    let mut errors = Vec::new();
    let mut stored = Vec::with_capacity(requests.len());
    let (mut size, mut md5) = (0, Md5::new());
    for request in requests {
        let record =
            match readable_segment(context, &context.account, &request.path, &mut readable).await {
                Ok(record) => record,
                Err(reason) => {
                    errors.push(format!("{}, {reason}", request.path));
                    continue;
                }
            };
        let expected_etag = request.etag.as_deref().map(|e| e.trim_matches('"'));
        let range = match request
            .range
            .as_deref()
            .map(|r| segment_range(r, record.size))
        {
            Some(None) => Err("Invalid Range"),
            Some(Some(range)) => Ok(Some(range)),
            None => Ok(None),
        };
        let problem = if record.size < MIN_SEGMENT_SIZE {
            Some("Too small; each segment must be at least 1 byte.")
        } else if expected_etag.is_some_and(|e| !e.is_empty() && e != record.etag) {
            Some("Etag Mismatch")
        } else if request.size_bytes.is_some_and(|s| s != record.size) {
            Some("Size Mismatch")
        } else {
            range.as_ref().err().copied()
        };
        if let Some(problem) = problem {
            errors.push(format!("{}, {problem}", request.path));
            continue;
        }
        let range = range.ok().flatten();
        let range_text = range.as_ref().map(|r| format!("{}-{}", r.start, r.end - 1));
        match &range_text {
            Some(text) => md5.update(format!("{}:{text};", record.etag)),
            None => md5.update(&record.etag),
        }
        size += range.as_ref().map_or(record.size, |r| r.end - r.start);
        stored.push(StoredSegment {
            name: format!("/{}", request.path.trim_start_matches('/')),
            hash: record.etag,
            bytes: record.size,
            range: range_text,
        });
    }
    if !errors.is_empty() {
        return Err(SwiftError::BadRequest(format!(
            "Errors:\n{}\n",
            errors.join("\n")
        )));
    }
    Ok(NewManifest {
        json: serde_json::to_vec(&stored).expect("a manifest serializes"),
        size,
        etag: hex::encode(md5.finalize()),
    })
}

/// Stores the manifest JSON (inline when small, as most are).
pub async fn store_manifest(
    context: &RequestContext,
    manifest: &NewManifest,
) -> Result<body::StoredBody, SwiftError> {
    let json = Bytes::from(manifest.json.clone());
    body::store(
        context.state.blobs.as_ref(),
        futures::stream::iter([Ok(json)]),
        MAX_MANIFEST_SIZE as u64,
        context.state.settings.inline_object_max_bytes,
    )
    .await
}

/// `DELETE ?multipart-manifest=delete`: the segments of an SLO, then the
/// manifest, answered like a bulk delete.
pub async fn delete_static(
    context: &RequestContext,
    container: &str,
    object: &str,
    record: ObjectRecord,
    manifest_size: u64,
) -> Result<HttpResponse, SwiftError> {
    let manifest = read_manifest(context, &record, manifest_size).await?;
    let segments: Vec<StoredSegment> = serde_json::from_slice(&manifest)
        .map_err(|_| SwiftError::SegmentInvalid(record.name.clone()))?;
    let mut report = bulk::Report::default();
    for segment in &segments {
        let outcome = match split_segment_path(&segment.name) {
            Ok((segment_container, segment_object)) => {
                bulk::delete_object(context, segment_container, segment_object).await
            }
            Err(reason) => Err(SwiftError::BadRequest(reason)),
        };
        report.record(&segment.name, outcome);
    }
    let outcome = bulk::delete_object(context, container, object).await;
    report.record(&format!("/{container}/{object}"), outcome);
    Ok(report.respond(context))
}
