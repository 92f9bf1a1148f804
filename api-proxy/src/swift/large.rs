//! Large objects, served as the concatenation of other objects (segments).
//!
//! * DLO: a manifest object with `X-Object-Manifest: <container>/<prefix>`;
//!   its content is every object under the prefix, in name order.
//! * SLO: `PUT ?multipart-manifest=put` with a JSON list of segments
//!   (`path`, optional `etag`, `size_bytes`, `range`; or inline `data` in
//!   base64), each checked when the manifest is stored and again when it is
//!   read. The manifest blob holds Swift's stored form (`name`, `hash`,
//!   `bytes`, `range`, `sub_slo`; or `data`), which
//!   `GET ?multipart-manifest=get` returns (`&format=raw`: the form clients
//!   send). A segment may itself be an SLO, down to [`MAX_SLO_DEPTH`] levels.
//!
//! Both have a quoted ETag: the MD5 of their segments' ETags (for a ranged SLO
//! segment, of `<etag>:<range>;`; for a data segment, of its bytes' MD5).

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::{HttpResponse, ResponseError, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use futures::future::LocalBoxFuture;
use futures::{FutureExt, StreamExt, TryStreamExt};
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};

use super::body::{self, Piece, Source};
use super::listing::LISTING_LIMIT;
use super::range::{self, RangeRequest};
use super::symlink::{self, Reached};
use super::{RequestContext, bulk, path};
use crate::auth::acl::Access;
use crate::error::SwiftError;
use crate::index::{Bound, ListRange, Manifest, ObjectRecord};

pub const MAX_MANIFEST_SEGMENTS: usize = 1000;
pub const MAX_MANIFEST_SIZE: usize = 8 * 1024 * 1024;
pub const MIN_SEGMENT_SIZE: u64 = 1;
/// How deep SLOs may nest (Swift's `max_slo_recursion_depth`).
pub const MAX_SLO_DEPTH: usize = 10;

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
    /// A DLO served as its segments.
    pub dynamic: bool,
    /// For an SLO, the length of each of its segments (`?part-number=`).
    pub parts: Option<Vec<u64>>,
}

impl Resolved {
    pub fn etag_value(&self) -> &str {
        self.etag.trim_matches('"')
    }
}

/// A segment in the stored form of an SLO manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
enum StoredSegment {
    Object {
        /// `/<container>/<object>`.
        name: String,
        hash: String,
        bytes: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        range: Option<String>,
        /// The segment is itself an SLO.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        sub_slo: bool,
    },
    /// Bytes kept in the manifest itself, in base64.
    Data { data: String },
}

impl StoredSegment {
    /// How many bytes the segment adds to the object.
    fn len(&self) -> u64 {
        match self {
            StoredSegment::Object {
                bytes,
                range: Some(range),
                ..
            } => segment_range(range, *bytes).map_or(0, |r| r.end - r.start),
            StoredSegment::Object { bytes, .. } => *bytes,
            StoredSegment::Data { data } => BASE64.decode(data).map_or(0, |d| d.len() as u64),
        }
    }

    /// The segment as clients send it (`?multipart-manifest=get&format=raw`).
    fn raw(&self) -> serde_json::Value {
        match self {
            StoredSegment::Object {
                name,
                hash,
                bytes,
                range,
                ..
            } => {
                let mut raw = serde_json::json!({"path": name, "etag": hash, "size_bytes": bytes});
                if let Some(range) = range {
                    raw["range"] = range.as_str().into();
                }
                raw
            }
            StoredSegment::Data { data } => serde_json::json!({ "data": data }),
        }
    }
}

/// A segment as clients send it in `?multipart-manifest=put`: an object
/// (`path`) or inline bytes (`data`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SegmentRequest {
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    etag: Option<String>,
    #[serde(default)]
    size_bytes: Option<u64>,
    #[serde(default)]
    range: Option<String>,
    #[serde(default)]
    data: Option<String>,
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
        Some(Manifest::Static { manifest_size, .. }) => {
            let manifest = read_manifest(context, &record, manifest_size).await?;
            if as_manifest {
                return Ok(manifest_as_itself(context, record, manifest));
            }
            let manifest_etag = hex::encode(Md5::digest(&manifest));
            let segments = parse_stored(&record, &manifest)?;
            let part_lengths = segments.iter().map(StoredSegment::len).collect();
            let pieces = static_pieces(context, account, segments, 1).await?;
            Ok(Resolved {
                pieces,
                size: record.size,
                etag: format!("\"{}\"", record.etag),
                content_type: record.content_type.clone(),
                manifest_etag: Some(manifest_etag),
                dynamic: false,
                parts: Some(part_lengths),
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
            dynamic: false,
            parts: None,
            record,
        }),
    }
}

/// An SLO manifest served as a document: Swift's stored form, or with
/// `format=raw` the form clients send (which can be PUT back as is).
fn manifest_as_itself(
    context: &RequestContext,
    record: ObjectRecord,
    manifest: Vec<u8>,
) -> Resolved {
    let raw = context.query_value("format") == Some("raw");
    let (body, content_type) = match parse_stored(&record, &manifest) {
        Ok(segments) if raw => {
            let raw: Vec<_> = segments.iter().map(StoredSegment::raw).collect();
            let body = serde_json::to_vec(&raw).expect("a manifest serializes");
            (body, record.content_type.clone())
        }
        _ => (manifest, "application/json; charset=utf-8".to_owned()),
    };
    let size = body.len() as u64;
    Resolved {
        etag: hex::encode(Md5::digest(&body)),
        pieces: vec![Piece::whole(Source::Inline(body.into()), size)],
        size,
        content_type,
        manifest_etag: None,
        dynamic: false,
        parts: None,
        record,
    }
}

fn parse_stored(record: &ObjectRecord, manifest: &[u8]) -> Result<Vec<StoredSegment>, SwiftError> {
    serde_json::from_slice(manifest).map_err(|_| SwiftError::SegmentInvalid(record.name.clone()))
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
        dynamic: true,
        parts: None,
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

/// Looks up a segment the caller may read, following it if it is a
/// symlink; `Err` holds the reason for the client.
async fn readable_segment(
    context: &RequestContext,
    account: &str,
    path: &str,
    readable: &mut HashMap<String, Option<&'static str>>,
) -> Result<Reached, String> {
    let (container, object) = split_segment_path(path)?;
    if !readable.contains_key(container) {
        // A missing container is 404 to those who could read it.
        let refusal = match context
            .authorize_container_in(account, container, Access::Read)
            .await
        {
            Ok(()) => None,
            Err(SwiftError::NotFound) => Some("404 Not Found"),
            Err(_) => Some("403 Forbidden"),
        };
        readable.insert(container.to_owned(), refusal);
    }
    if let Some(Some(refusal)) = readable.get(container) {
        return Err((*refusal).into());
    }
    let record = context
        .state
        .index
        .object(account, container, object)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| "404 Not Found".to_owned())?;
    let reached = symlink::follow(context, account, record)
        .await
        .map_err(|error| error.status_code().to_string())?;
    if let Some(Manifest::Dynamic { .. }) = reached.record.manifest {
        return Err("Dynamic large objects cannot be segments".into());
    }
    Ok(reached)
}

/// `a-b` (inclusive) as a byte range within a segment of `size` bytes.
fn segment_range(range: &str, size: u64) -> Option<std::ops::Range<u64>> {
    match range::resolve(Some(&format!("bytes={range}")), size) {
        RangeRequest::Partial(mut ranges) if ranges.len() == 1 => ranges.pop(),
        _ => None,
    }
}

/// The pieces `segments` stand for, nested SLOs expanded (`depth` is the
/// nesting level of the manifest that holds them).
fn static_pieces<'a>(
    context: &'a RequestContext,
    account: &'a str,
    segments: Vec<StoredSegment>,
    depth: usize,
) -> LocalBoxFuture<'a, Result<Vec<Piece>, SwiftError>> {
    async move {
        let mut readable = HashMap::new();
        let mut pieces = Vec::with_capacity(segments.len());
        for segment in segments {
            let (name, hash, bytes, range) = match segment {
                StoredSegment::Data { data } => {
                    let bytes = BASE64
                        .decode(data)
                        .map_err(|_| SwiftError::SegmentInvalid("data segment".into()))?;
                    let len = bytes.len() as u64;
                    pieces.push(Piece::whole(Source::Inline(bytes.into()), len));
                    continue;
                }
                StoredSegment::Object {
                    name,
                    hash,
                    bytes,
                    range,
                    ..
                } => (name, hash, bytes, range),
            };
            let invalid = || SwiftError::SegmentInvalid(name.clone());
            let Reached {
                account: segment_account,
                record,
                ..
            } = readable_segment(context, account, &name, &mut readable)
                .await
                .map_err(|_| invalid())?;
            if record.etag != hash || record.size != bytes {
                return Err(invalid());
            }
            let within = match &range {
                Some(range) => segment_range(range, record.size).ok_or_else(invalid)?,
                None => 0..record.size,
            };
            let whole = match record.manifest {
                Some(Manifest::Static { manifest_size, .. }) if depth < MAX_SLO_DEPTH => {
                    let manifest = read_manifest(context, &record, manifest_size).await?;
                    let nested = parse_stored(&record, &manifest)?;
                    static_pieces(context, &segment_account, nested, depth + 1).await?
                }
                Some(_) => return Err(invalid()),
                None => vec![Piece::whole(
                    source(context, None, &record).await?,
                    record.size,
                )],
            };
            pieces.extend(slice_pieces(whole, within));
        }
        Ok(pieces)
    }
    .boxed_local()
}

/// The parts of `pieces` (read one after the other) that fall in `range`.
fn slice_pieces(pieces: Vec<Piece>, range: std::ops::Range<u64>) -> Vec<Piece> {
    let mut start = 0;
    let mut sliced = Vec::new();
    for piece in pieces {
        let end = start + piece.len;
        let from = range.start.max(start);
        let to = range.end.min(end);
        if from < to {
            sliced.push(Piece {
                source: piece.source,
                offset: piece.offset + (from - start),
                len: to - from,
            });
        }
        start = end;
    }
    sliced
}

/// Reads the body of `PUT ?multipart-manifest=put`.
pub async fn read_manifest_body(mut payload: web::Payload) -> Result<Vec<u8>, SwiftError> {
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        body.extend_from_slice(&chunk?);
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

/// A segment of a manifest being stored, its form checked.
pub enum NewSegment {
    /// Inline bytes: their base64 as sent, the hex MD5 and length of the bytes.
    Data {
        encoded: String,
        md5: String,
        len: u64,
    },
    Object {
        path: String,
        etag: Option<String>,
        size_bytes: Option<u64>,
        range: Option<String>,
    },
}

/// A segment that cannot go into the manifest: its path as sent, and why.
pub type SegmentProblem = (String, String);

/// Parses a manifest as clients send it and checks its form (what can be
/// told without looking at the segments).
pub fn parse_new_manifest(body: &[u8]) -> Result<Vec<NewSegment>, SwiftError> {
    let requests: Vec<SegmentRequest> = serde_json::from_slice(body)
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
    let mut errors = Vec::new();
    let mut segments = Vec::with_capacity(requests.len());
    for (index, request) in requests.into_iter().enumerate() {
        match (request.path, request.data) {
            (Some(path), None) => segments.push(NewSegment::Object {
                path,
                etag: request.etag,
                size_bytes: request.size_bytes,
                range: request.range,
            }),
            (None, Some(data)) if request.etag.is_none() && request.size_bytes.is_none() => {
                match BASE64.decode(&data) {
                    Ok(bytes) if !bytes.is_empty() => segments.push(NewSegment::Data {
                        md5: hex::encode(Md5::digest(&bytes)),
                        len: bytes.len() as u64,
                        encoded: data,
                    }),
                    _ => errors.push(format!("Index {index}: Invalid data segment")),
                }
            }
            _ => errors.push(format!(
                "Index {index}: expected either \"path\" or \"data\", not both"
            )),
        }
    }
    if !errors.is_empty() {
        return Err(SwiftError::BadRequest(format!(
            "Errors:\n{}\n",
            errors.join("\n")
        )));
    }
    Ok(segments)
}

/// The answer to a manifest with segments that cannot go into it.
pub fn segment_problems_error(problems: &[SegmentProblem]) -> SwiftError {
    let lines: Vec<String> = problems
        .iter()
        .map(|(path, reason)| format!("{path}, {reason}"))
        .collect();
    SwiftError::BadRequest(format!("Errors:\n{}\n", lines.join("\n")))
}

/// An SLO's manifest (`record`, whose JSON is `manifest_size` bytes) copied
/// as itself (`?multipart-manifest=get`) to `target` in another `account`.
/// Its segment paths name containers of the account it lies in, so there
/// they name other objects: it is checked as a manifest PUT into `account`
/// is, as Swift's copy does (`400` naming each segment the caller cannot
/// read there, or that is missing or different there).
pub async fn manifest_for_account(
    context: &RequestContext,
    record: &ObjectRecord,
    manifest_size: u64,
    account: &str,
    target: (&str, &str),
) -> Result<NewManifest, SwiftError> {
    let manifest = read_manifest(context, record, manifest_size).await?;
    let raw: Vec<_> = parse_stored(record, &manifest)?
        .iter()
        .map(StoredSegment::raw)
        .collect();
    let body = serde_json::to_vec(&raw).expect("a manifest serializes");
    let segments = parse_new_manifest(&body)?;
    check_new_manifest(context, account, target, segments)
        .await
        .map_err(|problems| segment_problems_error(&problems))
}

/// Checks the segments of a manifest for `target` in `account`, whose
/// containers its segment paths name: each must exist, be readable by the
/// caller and match what the manifest says of it.
pub async fn check_new_manifest(
    context: &RequestContext,
    account: &str,
    target: (&str, &str),
    segments: Vec<NewSegment>,
) -> Result<NewManifest, Vec<SegmentProblem>> {
    let mut readable = HashMap::new();
    let mut problems = Vec::new();
    let mut stored = Vec::with_capacity(segments.len());
    let (mut size, mut md5) = (0, Md5::new());
    for segment in segments {
        let (path, etag, size_bytes, range) = match segment {
            NewSegment::Data {
                encoded,
                md5: data_md5,
                len,
            } => {
                md5.update(data_md5);
                size += len;
                stored.push(StoredSegment::Data { data: encoded });
                continue;
            }
            NewSegment::Object {
                path,
                etag,
                size_bytes,
                range,
            } => (path, etag, size_bytes, range),
        };
        let name = format!("/{}", path.trim_start_matches('/'));
        if split_segment_path(&path).is_ok_and(|segment| segment == target) {
            problems.push((path, "Manifest cannot reference itself".into()));
            continue;
        }
        let record = match readable_segment(context, account, &path, &mut readable).await {
            Ok(reached) => reached.record,
            Err(reason) => {
                problems.push((path, reason));
                continue;
            }
        };
        let expected_etag = etag.as_deref().map(|e| e.trim_matches('"'));
        let range = match range.as_deref().map(|r| segment_range(r, record.size)) {
            Some(None) => Err("Invalid Range"),
            Some(Some(range)) => Ok(Some(range)),
            None => Ok(None),
        };
        let problem = if record.size < MIN_SEGMENT_SIZE {
            Some("Too small; each segment must be at least 1 byte.")
        } else if expected_etag.is_some_and(|e| !e.is_empty() && e != record.etag) {
            Some("Etag Mismatch")
        } else if size_bytes.is_some_and(|s| s != record.size) {
            Some("Size Mismatch")
        } else {
            range.as_ref().err().copied()
        };
        if let Some(problem) = problem {
            problems.push((path, problem.into()));
            continue;
        }
        let range = range.ok().flatten();
        let range_text = range.as_ref().map(|r| format!("{}-{}", r.start, r.end - 1));
        match &range_text {
            Some(text) => md5.update(format!("{}:{text};", record.etag)),
            None => md5.update(&record.etag),
        }
        size += range.as_ref().map_or(record.size, |r| r.end - r.start);
        stored.push(StoredSegment::Object {
            name,
            hash: record.etag,
            bytes: record.size,
            range: range_text,
            sub_slo: matches!(record.manifest, Some(Manifest::Static { .. })),
        });
    }
    if !problems.is_empty() {
        return Err(problems);
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
    let segments = parse_stored(&record, &manifest)?;
    let mut report = bulk::Report::default();
    for segment in &segments {
        let StoredSegment::Object { name, .. } = segment else {
            continue;
        };
        let outcome = match split_segment_path(name) {
            Ok((segment_container, segment_object)) => {
                bulk::delete_object(context, segment_container, segment_object).await
            }
            Err(reason) => Err(SwiftError::BadRequest(reason)),
        };
        report.record(name, outcome);
    }
    let outcome = bulk::delete_object(context, container, object).await;
    report.record(&format!("/{container}/{object}"), outcome);
    Ok(report.respond(context))
}
