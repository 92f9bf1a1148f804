//! `/v1/{account}/{container}/{object}`: PUT (streamed, MD5-checked, or a
//! server-side copy with `X-Copy-From`), GET and HEAD (ranges, conditional
//! requests, dynamic large objects), POST (metadata), DELETE and COPY.
//!
//! A PUT writes a fresh blob first and only then commits the index row that
//! points at it, so readers never see a partial object and a failed upload
//! leaves nothing behind.

use std::sync::Arc;

use actix_web::body::SizedStream;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue, HttpDate};
use actix_web::{HttpResponse, HttpResponseBuilder, web};
use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
use percent_encoding::utf8_percent_encode;
use uuid::Uuid;

use super::body::{self, MAX_FILE_SIZE, StoredBody};
use super::heartbeat::{self, ResultFormat};
use super::large::{self, Resolved};
use super::metadata::{self, Scope};
use super::path::{self, URL_QUOTE, check_container_name};
use super::range::{self, RangeRequest};
use super::{RequestContext, bulk, chunk_guard, quota, symlink, versioning};
use crate::auth::acl::Access;
use crate::blobs::{self, ByteStream};
use crate::chunk_collection;
use crate::error::{SwiftError, accepted_page, html_page};
use crate::index::{
    Content, Manifest, Metadata, ObjectRecord, ObjectUpdate, PutOutcome, SymlinkTarget,
};
use crate::timestamp::Timestamp;

pub async fn handle(
    context: &RequestContext,
    container: &str,
    object: &str,
    payload: web::Payload,
) -> Result<HttpResponse, SwiftError> {
    match context.req.method().as_str() {
        "GET" => read(context, container, object, true).await,
        "HEAD" => read(context, container, object, false).await,
        "PUT" => put(context, container, object, payload).await,
        "POST" => post(context, container, object).await,
        "DELETE" => delete(context, container, object).await,
        "COPY" => copy(context, container, object).await,
        _ => Err(SwiftError::MethodNotAllowed),
    }
}

async fn load(
    context: &RequestContext,
    account: &str,
    container: &str,
    object: &str,
) -> Result<ObjectRecord, SwiftError> {
    context
        .state
        .index
        .object(account, container, object)
        .await?
        .ok_or(SwiftError::NotFound)
}

fn object_headers(object: &Resolved) -> HttpResponseBuilder {
    let record = &object.record;
    let mut response = HttpResponse::Ok();
    response
        .insert_header((
            header::CONTENT_TYPE,
            metadata::header_value(&object.content_type)
                .unwrap_or(HeaderValue::from_static("application/octet-stream")),
        ))
        .insert_header((header::ETAG, object.etag.as_str()))
        .insert_header((header::LAST_MODIFIED, record.modified.http_date()))
        .insert_header(("X-Timestamp", record.modified.x_timestamp()))
        .insert_header((header::ACCEPT_RANGES, "bytes"));
    match &record.manifest {
        Some(Manifest::Dynamic {
            container_and_prefix,
        }) => {
            if let Some(value) = metadata::header_value(container_and_prefix) {
                response.insert_header(("X-Object-Manifest", value));
            }
        }
        Some(Manifest::Static { .. }) => {
            response.insert_header(("X-Static-Large-Object", "True"));
        }
        None => {}
    }
    if let Some(manifest_etag) = &object.manifest_etag {
        response.insert_header(("X-Manifest-Etag", manifest_etag.as_str()));
    }
    if let Some(delete_at) = record.delete_at {
        response.insert_header(("X-Delete-At", delete_at.to_string()));
    }
    metadata::write(&mut response, Scope::Object, &record.meta);
    if let Some(link) = &record.symlink {
        symlink::write_headers(&mut response, link);
    }
    response
}

/// The outcome of `If-*` headers on a read.
enum Condition {
    Proceed,
    NotModified,
    Failed,
}

fn etag_matches(list: &str, etag: &str) -> bool {
    list.split(',')
        .map(|candidate| candidate.trim().trim_start_matches("W/").trim_matches('"'))
        .any(|candidate| candidate == "*" || candidate == etag)
}

fn http_date(context: &RequestContext, name: &str) -> Option<u64> {
    let date: HttpDate = context.header(name)?.parse().ok()?;
    std::time::SystemTime::from(date)
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

fn evaluate_conditions(context: &RequestContext, object: &Resolved) -> Condition {
    let etag = object.etag_value();
    let modified = object.record.modified.ceil_seconds();
    if let Some(list) = context.header("if-match")
        && !etag_matches(list, etag)
    {
        return Condition::Failed;
    }
    if let Some(list) = context.header("if-none-match") {
        if etag_matches(list, etag) {
            return Condition::NotModified;
        }
    } else if http_date(context, "if-modified-since").is_some_and(|since| modified <= since) {
        return Condition::NotModified;
    }
    // Swift checks If-Unmodified-Since even beside a matching If-Match.
    if http_date(context, "if-unmodified-since").is_some_and(|since| modified > since) {
        return Condition::Failed;
    }
    Condition::Proceed
}

async fn read(
    context: &RequestContext,
    container: &str,
    object: &str,
    with_body: bool,
) -> Result<HttpResponse, SwiftError> {
    context.authorize_container(container, Access::Read).await?;
    let record = load(context, &context.account, container, object).await?;
    if !with_body {
        // A device asks HEAD before it skips uploading a chunk.
        confirm_chunk(context, container, object).await;
    }
    let reached = symlink::follow_unless_asked(context, &context.account, record).await?;
    let location = reached.location.clone();
    let object = large::resolve(context, &reached.account, reached.record).await?;
    let mut response = object_headers(&object);
    if let Some(location) = location {
        response.insert_header((header::CONTENT_LOCATION, location));
    }
    match evaluate_conditions(context, &object) {
        Condition::Proceed => {}
        Condition::NotModified => return Ok(response.status(StatusCode::NOT_MODIFIED).finish()),
        Condition::Failed => {
            return Ok(response
                .status(StatusCode::PRECONDITION_FAILED)
                .content_type("text/html; charset=UTF-8")
                .body(html_page(
                    "Precondition Failed",
                    "A precondition for this request was not met.",
                )));
        }
    }
    if let (Some(parts), Some(requested)) = (&object.parts, context.query_value("part-number")) {
        return Ok(read_part(
            context, &object, parts, requested, response, with_body,
        ));
    }
    let blobs = Arc::clone(&context.state.blobs);
    let size = object.size;
    if !with_body {
        return Ok(response.body(SizedStream::new(
            size,
            futures::stream::empty::<Result<_, std::io::Error>>(),
        )));
    }
    let range_header = context.header(header::RANGE.as_str());
    let mut ranges = range::resolve(range_header, size);
    // Swift serves a DLO whole when asked for several ranges.
    if object.dynamic && matches!(&ranges, RangeRequest::Partial(parts) if parts.len() > 1) {
        ranges = RangeRequest::Full;
    }
    match ranges {
        RangeRequest::Full => {
            let stream = open_body(context, &object, 0..size).await?;
            Ok(response.body(SizedStream::new(size, stream)))
        }
        RangeRequest::Partial(ranges) if ranges.len() == 1 => {
            let range = ranges[0].clone();
            let length = range.end - range.start;
            let content_range = format!("bytes {}-{}/{size}", range.start, range.end - 1);
            let stream = open_body(context, &object, range).await?;
            Ok(response
                .status(StatusCode::PARTIAL_CONTENT)
                .insert_header((header::CONTENT_RANGE, content_range))
                .body(SizedStream::new(length, stream)))
        }
        RangeRequest::Partial(ranges) => {
            let boundary = Uuid::new_v4().simple().to_string();
            let (stream, length) = body::multipart_ranges(
                blobs,
                &object.pieces,
                &ranges,
                size,
                &object.record.content_type,
                &boundary,
            );
            Ok(response
                .status(StatusCode::PARTIAL_CONTENT)
                .insert_header((
                    header::CONTENT_TYPE,
                    format!("multipart/byteranges;boundary={boundary}"),
                ))
                .body(SizedStream::new(length, stream)))
        }
        // With the object's headers (ETag and all), as Swift answers.
        RangeRequest::Unsatisfiable => Ok(response
            .status(StatusCode::RANGE_NOT_SATISFIABLE)
            .insert_header((header::CONTENT_RANGE, format!("bytes */{size}")))
            .content_type("text/html; charset=UTF-8")
            .body(html_page(
                "Requested Range Not Satisfiable",
                "The Range requested is not available.",
            ))),
    }
}

/// The bytes `range` of an object, for a reply. Those of a plain object are
/// read up to the first block before the status goes out: when its blob has
/// vanished from the store behind the proxy's back (deleted by hand, a disk
/// lost), the answer is 404 instead of a reply cut off after its headers,
/// and the index forgets the object, so that it reads as missing everywhere
/// and can be stored again (a device that has the bytes does that).
async fn open_body(
    context: &RequestContext,
    object: &Resolved,
    range: std::ops::Range<u64>,
) -> Result<ByteStream, SwiftError> {
    let mut stream = body::stream_range(Arc::clone(&context.state.blobs), &object.pieces, range);
    let (None, Content::Blob(key)) = (&object.record.manifest, &object.record.content) else {
        return Ok(stream);
    };
    match stream.next().await {
        Some(Err(error)) if blobs::is_missing(&error) => {
            tracing::warn!(
                blob = key,
                object = object.record.name,
                "the bytes of an object are missing from the object store; forgetting the object"
            );
            context.state.index.forget_lost_blob(key).await?;
            Err(SwiftError::NotFound)
        }
        first => Ok(futures::stream::iter(first).chain(stream).boxed()),
    }
}

/// `GET`/`HEAD ?part-number=N` of an SLO: the bytes of its `N`th segment
/// (counting from 1), as a range of the whole.
fn read_part(
    context: &RequestContext,
    object: &Resolved,
    parts: &[u64],
    requested: &str,
    mut response: HttpResponseBuilder,
    with_body: bool,
) -> HttpResponse {
    let body = |text: &'static str| if with_body { text } else { "" };
    let size = object.size;
    let part = match part_range(parts, requested) {
        Ok(part) => part,
        Err(PartError::Invalid) => {
            return HttpResponse::BadRequest()
                .content_type("text/plain; charset=utf-8")
                .body(body("Part number must be an integer greater than 0"));
        }
        Err(PartError::OutOfRange) => {
            return response
                .insert_header(("X-Parts-Count", parts.len()))
                .status(StatusCode::RANGE_NOT_SATISFIABLE)
                .insert_header((header::CONTENT_RANGE, format!("bytes */{size}")))
                .content_type("text/plain; charset=utf-8")
                .body(body("The requested part number is not satisfiable"));
        }
    };
    let len = part.end - part.start;
    response.insert_header(("X-Parts-Count", parts.len()));
    response.status(StatusCode::PARTIAL_CONTENT).insert_header((
        header::CONTENT_RANGE,
        format!("bytes {}-{}/{size}", part.start, part.end.saturating_sub(1)),
    ));
    if !with_body {
        return response.body(SizedStream::new(
            len,
            futures::stream::empty::<Result<_, std::io::Error>>(),
        ));
    }
    let stream = body::stream_range(Arc::clone(&context.state.blobs), &object.pieces, part);
    response.body(SizedStream::new(len, stream))
}

/// What a copy takes of its source: with `?part-number=`, that part of an
/// SLO; with a `Range` header, that one range; else everything.
fn copied_range(
    context: &RequestContext,
    source: &Resolved,
) -> Result<std::ops::Range<u64>, SwiftError> {
    let size = source.size;
    if let (Some(parts), Some(requested)) = (&source.parts, context.query_value("part-number")) {
        return part_range(parts, requested).map_err(|error| match error {
            PartError::Invalid => {
                SwiftError::BadRequest("Part number must be an integer greater than 0".into())
            }
            PartError::OutOfRange => SwiftError::RangeNotSatisfiable { size },
        });
    }
    match range::resolve(context.header(header::RANGE.as_str()), size) {
        RangeRequest::Full => Ok(0..size),
        RangeRequest::Partial(mut ranges) if ranges.len() == 1 => Ok(ranges.remove(0)),
        RangeRequest::Partial(_) => Err(SwiftError::BadRequest(
            "Only one range can be copied".into(),
        )),
        RangeRequest::Unsatisfiable => Err(SwiftError::RangeNotSatisfiable { size }),
    }
}

enum PartError {
    Invalid,
    OutOfRange,
}

/// The bytes of part `requested` (from 1) of an SLO with parts of `parts`
/// bytes each, as a range of the whole.
fn part_range(parts: &[u64], requested: &str) -> Result<std::ops::Range<u64>, PartError> {
    let number = requested
        .parse::<usize>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or(PartError::Invalid)?;
    let len = parts.get(number - 1).ok_or(PartError::OutOfRange)?;
    let start: u64 = parts[..number - 1].iter().sum();
    Ok(start..start + len)
}

/// Content type by file extension, for PUTs that name none (the common
/// entries of Python's `mimetypes`, which Swift uses).
pub fn guess_content_type(name: &str) -> &'static str {
    let extension = name
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .unwrap_or_default();
    match extension.as_str() {
        "txt" | "text" | "log" | "md" | "conf" | "ini" => "text/plain",
        "html" | "htm" => "text/html",
        "css" => "text/css",
        "csv" => "text/csv",
        "js" | "mjs" => "text/javascript",
        "json" => "application/json",
        "xml" => "application/xml",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "gz" | "tgz" => "application/gzip",
        "tar" => "application/x-tar",
        "bz2" => "application/x-bzip2",
        "xz" => "application/x-xz",
        "7z" => "application/x-7z-compressed",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "odt" => "application/vnd.oasis.opendocument.text",
        "png" => "image/png",
        "jpg" | "jpeg" | "jpe" => "image/jpeg",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "webp" => "image/webp",
        "bmp" => "image/bmp",
        "ico" => "image/vnd.microsoft.icon",
        "tif" | "tiff" => "image/tiff",
        "mp3" => "audio/mpeg",
        "wav" => "audio/x-wav",
        "ogg" => "audio/ogg",
        "flac" => "audio/flac",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "mov" => "video/quicktime",
        "avi" => "video/x-msvideo",
        _ => "application/octet-stream",
    }
}

pub fn requested_content_type(context: &RequestContext, object: &str) -> Option<String> {
    let detect = context
        .header("x-detect-content-type")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if detect {
        return Some(guess_content_type(object).to_owned());
    }
    context
        .header(header::CONTENT_TYPE.as_str())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// The latest `X-Delete-At` kept (Swift's ten-digit timestamps); later
/// ones mean "never" in practice and are stored as this.
const MAX_DELETE_AT: u64 = 9_999_999_999;

/// When the object of a PUT or POST expires: `X-Delete-At` (Unix seconds) or
/// `X-Delete-After` (seconds from now), which must not lie in the past.
pub fn requested_delete_at(context: &RequestContext) -> Result<Option<u64>, SwiftError> {
    let now = Timestamp::now().as_micros() / 1_000_000;
    let now = u64::try_from(now).unwrap_or(0);
    if let Some(after) = context.header("x-delete-after") {
        let after: i64 = after
            .trim()
            .parse()
            .map_err(|_| SwiftError::BadRequest("Non-integer X-Delete-After".into()))?;
        let after = u64::try_from(after)
            .map_err(|_| SwiftError::BadRequest("X-Delete-After in past".into()))?;
        return Ok(Some(now.saturating_add(after).min(MAX_DELETE_AT)));
    }
    let Some(at) = context.header("x-delete-at") else {
        return Ok(None);
    };
    // Swift takes fractions and keeps the whole seconds.
    let at = at
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|at| at.is_finite() && *at >= 0.0)
        .ok_or_else(|| SwiftError::BadRequest("Non-integer X-Delete-At".into()))?;
    let at = at as u64;
    if at < now {
        return Err(SwiftError::BadRequest("X-Delete-At in past".into()));
    }
    Ok(Some(at.min(MAX_DELETE_AT)))
}

/// Whether a PUT may replace an existing object: not with `If-None-Match: *`.
fn may_overwrite(context: &RequestContext) -> Result<bool, SwiftError> {
    match context.header("if-none-match") {
        None => Ok(true),
        Some("*") => Ok(false),
        Some(_) => Err(SwiftError::BadRequest(
            "If-None-Match only supports *".into(),
        )),
    }
}

/// The MD5 a PUT's `ETag` header promises for its body.
fn expected_etag(context: &RequestContext) -> Option<String> {
    context
        .header(header::ETAG.as_str())
        .map(|e| e.trim_matches('"').to_ascii_lowercase())
}

/// `X-Object-Manifest: <container>/<prefix>`, percent-decoded.
fn read_dynamic_manifest(context: &RequestContext) -> Result<Option<String>, SwiftError> {
    let Some(raw) = context.header("x-object-manifest") else {
        return Ok(None);
    };
    let bad = || {
        SwiftError::BadRequest("X-Object-Manifest must be in the format container/prefix".into())
    };
    let decoded = path::decode(raw.trim_start_matches('/'))?;
    let (container, _) = decoded.split_once('/').ok_or_else(bad)?;
    check_container_name(container).map_err(|_| bad())?;
    Ok(Some(decoded))
}

/// Stores the body of a new object, up to Swift's size limit and the
/// `room` its destination's quotas leave ([`quota::upload_room`]).
async fn store_body(
    context: &RequestContext,
    room: u64,
    body: impl Stream<Item = Result<Bytes, SwiftError>> + Unpin,
) -> Result<StoredBody, SwiftError> {
    body::store(
        context.state.blobs.as_ref(),
        body,
        MAX_FILE_SIZE.min(room),
        context.state.settings.inline_object_max_bytes,
    )
    .await
    .map_err(|error| match error {
        SwiftError::TooLarge if room < MAX_FILE_SIZE => SwiftError::QuotaExceeded,
        other => other,
    })
}

/// Makes a stored body visible as `record` (archiving the version it
/// replaces in a versioned container), or removes its blob if that fails.
/// Returns whether a collection claim may hold it
/// ([`crate::index::PutResult::claim_held`]).
async fn commit(
    context: &RequestContext,
    account: &str,
    container: &str,
    record: &ObjectRecord,
    overwrite: bool,
) -> Result<bool, SwiftError> {
    let blobs = context.state.blobs.as_ref();
    let result = match versioning::put_object(context, account, container, record, overwrite).await
    {
        Ok(result) => result,
        Err(error) => {
            body::discard(blobs, &record.content).await;
            return Err(error);
        }
    };
    match result.outcome {
        PutOutcome::Stored => {
            if let Some(replaced) = result.replaced_blob {
                body::discard(blobs, &Content::Blob(replaced)).await;
            }
            Ok(result.claim_held)
        }
        PutOutcome::ContainerMissing => {
            body::discard(blobs, &record.content).await;
            Err(SwiftError::NotFound)
        }
        PutOutcome::AlreadyExists => {
            body::discard(blobs, &record.content).await;
            Err(SwiftError::PreconditionFailed("The object already exists."))
        }
    }
}

fn created(record: &ObjectRecord, etag: &str) -> HttpResponseBuilder {
    let mut response = HttpResponse::Created();
    response
        .insert_header((header::ETAG, etag))
        .insert_header((header::LAST_MODIFIED, record.modified.http_date()))
        .insert_header(("X-Timestamp", record.modified.x_timestamp()))
        .content_type("text/html; charset=UTF-8");
    response
}

/// What a manifest `PUT` asks for besides its segments, read before they
/// are checked.
struct ManifestWrite {
    meta: Metadata,
    delete_at: Option<u64>,
    overwrite: bool,
    content_type: String,
    expected_etag: Option<String>,
}

/// `PUT ?multipart-manifest=put`: stores a static large object. With
/// `?heartbeat=on`, once the manifest parses, the answer is `202 Accepted`
/// at once and the outcome follows in its body ([`heartbeat`]), spaces
/// keeping the connection alive while the segments are checked.
async fn put_static_manifest(
    context: &RequestContext,
    container: &str,
    object: &str,
    payload: web::Payload,
) -> Result<HttpResponse, SwiftError> {
    let write = ManifestWrite {
        meta: metadata::read_object_metadata(context.req.headers())?,
        delete_at: requested_delete_at(context)?,
        overwrite: may_overwrite(context)?,
        content_type: requested_content_type(context, object)
            .unwrap_or_else(|| guess_content_type(object).to_owned()),
        expected_etag: expected_etag(context),
    };
    let body = large::read_manifest_body(payload).await?;
    let segments = large::parse_new_manifest(&body)?;
    if !heartbeat::is_on(context.query_value("heartbeat")) {
        let record = store_static_manifest(context, (container, object), segments, write)
            .await?
            .map_err(|problems| large::segment_problems_error(&problems))?;
        return Ok(created(&record, &format!("\"{}\"", record.etag)).finish());
    }
    let format = heartbeat::ResultFormat::from_request(context).unwrap_or(ResultFormat::Text);
    let (context, container, object) = (context.clone(), container.to_owned(), object.to_owned());
    let summary = async move {
        let outcome = store_static_manifest(&context, (&container, &object), segments, write).await;
        let (fields, problems) = match outcome {
            Ok(Ok(record)) => (
                vec![
                    (
                        "Response Status",
                        heartbeat::status_line(StatusCode::CREATED).into(),
                    ),
                    ("Response Body", "".into()),
                    ("Etag", format!("\"{}\"", record.etag).into()),
                    (
                        "Last Modified",
                        record.modified.http_date().to_string().into(),
                    ),
                ],
                Vec::new(),
            ),
            Ok(Err(problems)) => (
                vec![
                    (
                        "Response Status",
                        heartbeat::status_line(StatusCode::BAD_REQUEST).into(),
                    ),
                    ("Response Body", BAD_REQUEST_TEXT.into()),
                ],
                problems,
            ),
            Err(error) => {
                let (status, text) = error.summary();
                (
                    vec![
                        ("Response Status", heartbeat::status_line(status).into()),
                        ("Response Body", text.into()),
                    ],
                    Vec::new(),
                )
            }
        };
        format.render(&fields, &problems, "upload")
    };
    Ok(HttpResponse::Accepted()
        .content_type(format.content_type())
        .streaming(heartbeat::body(format, true, summary)))
}

/// The body Swift gives a `400` of its own, which heartbeat summaries show.
const BAD_REQUEST_TEXT: &str = "Bad Request\nThe server could not comply with the request \
                                since it is either malformed or otherwise incorrect.";

/// Checks the segments of a manifest and stores it as `target`; `Ok(Err)`
/// lists the segments that cannot go into it.
async fn store_static_manifest(
    context: &RequestContext,
    (container, object): (&str, &str),
    segments: Vec<large::NewSegment>,
    write: ManifestWrite,
) -> Result<Result<ObjectRecord, Vec<large::SegmentProblem>>, SwiftError> {
    let manifest =
        match large::check_new_manifest(context, &context.account, (container, object), segments)
            .await
        {
            Ok(manifest) => manifest,
            Err(problems) => return Ok(Err(problems)),
        };
    if write
        .expected_etag
        .is_some_and(|expected| expected != manifest.etag)
    {
        return Err(SwiftError::EtagMismatch);
    }
    let stored = large::store_manifest(context, &manifest).await?;
    let record = ObjectRecord {
        name: object.to_owned(),
        content: stored.content,
        size: manifest.size,
        etag: manifest.etag,
        content_type: write.content_type,
        meta: write.meta,
        modified: Timestamp::now(),
        manifest: Some(Manifest::Static {
            manifest_size: stored.size,
            manifest_etag: Some(stored.etag),
        }),
        delete_at: write.delete_at,
        symlink: None,
    };
    commit(
        context,
        &context.account,
        container,
        &record,
        write.overwrite,
    )
    .await?;
    Ok(Ok(record))
}

async fn put(
    context: &RequestContext,
    container: &str,
    object: &str,
    payload: web::Payload,
) -> Result<HttpResponse, SwiftError> {
    let is_manifest = context.query_value("multipart-manifest") == Some("put");
    let copy_source = context.header("x-copy-from").filter(|_| !is_manifest);
    // A copy checks its destination only after its source (copy_object).
    if copy_source.is_none() {
        context
            .authorize_container(container, Access::Write)
            .await?;
        let stores_no_body = is_manifest
            || context.header("x-object-manifest").is_some()
            || symlink::is_requested(context);
        chunk_guard::refuse_write(
            context,
            (&context.account, container, object),
            may_overwrite(context)?,
            stores_no_body || requested_delete_at(context)?.is_some(),
        )
        .await?;
    }
    let content_length = match context.header(header::CONTENT_LENGTH.as_str()) {
        Some(raw) => Some(
            raw.parse::<u64>()
                .map_err(|_| SwiftError::BadRequest("Invalid Content-Length header.".into()))?,
        ),
        None => None,
    };
    let link = match copy_source {
        None => {
            let path = (context.account.as_str(), container, object);
            symlink::requested(context, path, content_length).await?
        }
        Some(_) => None,
    };
    if is_manifest {
        let declared = content_length.unwrap_or(0);
        quota::upload_room(context, (&context.account, container), declared).await?;
        return put_static_manifest(context, container, object, payload).await;
    }
    if let Some(source) = copy_source {
        if content_length.is_some_and(|length| length > 0) {
            return Err(SwiftError::BadRequest(
                "Copy requests require a zero byte body".into(),
            ));
        }
        let (source_container, source_object) = path::parse_container_object(source)?;
        let source_account = match context.header("x-copy-from-account") {
            Some(account) => path::decode(account)?,
            None => context.account.clone(),
        };
        let source = (
            source_account.as_str(),
            source_container.as_str(),
            source_object.as_str(),
        );
        let destination = (context.account.as_str(), container, object);
        return copy_object(context, source, destination).await;
    }
    let chunked = context
        .header(header::TRANSFER_ENCODING.as_str())
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    match content_length {
        None if !chunked => return Err(SwiftError::LengthRequired),
        Some(length) if length > MAX_FILE_SIZE => return Err(SwiftError::TooLarge),
        _ => {}
    }
    let meta = metadata::read_object_metadata(context.req.headers())?;
    let delete_at = requested_delete_at(context)?;
    let overwrite = may_overwrite(context)?;
    let destination = (context.account.as_str(), container);
    // Refusing early spares writing a blob; a body bound for the index row
    // is refused by the insert itself. Asked with the quotas, in one round
    // trip.
    let inline = content_length
        .is_some_and(|length| length <= context.state.settings.inline_object_max_bytes);
    let checked = (!overwrite && !inline).then_some(object);
    let limits = context
        .state
        .index
        .upload_limits(&context.account, container, checked)
        .await?;
    if limits.as_ref().is_some_and(|limits| limits.object_exists) {
        confirm_chunk(context, container, object).await;
        return Err(SwiftError::PreconditionFailed("The object already exists."));
    }
    let manifest = read_dynamic_manifest(context)?.map(|container_and_prefix| Manifest::Dynamic {
        container_and_prefix,
    });
    let content_type = requested_content_type(context, object)
        .or_else(|| link.as_ref().map(|link| link.content_type.clone()))
        .unwrap_or_else(|| guess_content_type(object).to_owned());
    let new = NewObject {
        content_type,
        meta,
        delete_at,
        overwrite,
        expected_etag: expected_etag(context),
        manifest,
        symlink: link.map(|link| link.target),
    };
    let declared = content_length.unwrap_or(0);
    let room = quota::room_within(context, destination, limits.as_ref(), declared).await?;
    let body = payload.map_err(SwiftError::from);
    let record = store_object(context, (container, object), room, body, new).await?;
    Ok(created(&record, &record.etag).finish())
}

/// What an object write stores besides its body.
pub struct NewObject {
    pub content_type: String,
    pub meta: Metadata,
    pub delete_at: Option<u64>,
    /// Whether an object of that name may be replaced.
    pub overwrite: bool,
    /// The MD5 the body must have.
    pub expected_etag: Option<String>,
    pub manifest: Option<Manifest>,
    /// A symlink's target; the body must be empty.
    pub symlink: Option<SymlinkTarget>,
}

/// Stores `body` as `object` of `container` of this request's account, up
/// to the `room` its quotas leave ([`quota::upload_room`]), and makes it
/// visible. The write must have been authorized and passed the chunk guard.
pub async fn store_object(
    context: &RequestContext,
    (container, object): (&str, &str),
    room: u64,
    body: impl Stream<Item = Result<Bytes, SwiftError>> + Unpin,
    new: NewObject,
) -> Result<ObjectRecord, SwiftError> {
    let stored = store_body(context, room, body).await?;
    if new
        .expected_etag
        .is_some_and(|expected| expected != stored.etag)
    {
        body::discard(context.state.blobs.as_ref(), &stored.content).await;
        return Err(SwiftError::EtagMismatch);
    }
    // A chunked body can only be measured.
    if new.symlink.is_some() && stored.size > 0 {
        body::discard(context.state.blobs.as_ref(), &stored.content).await;
        return Err(symlink::zero_body_required());
    }
    let record = ObjectRecord {
        name: object.to_owned(),
        content: stored.content,
        size: stored.size,
        etag: stored.etag,
        content_type: new.content_type,
        meta: new.meta,
        modified: Timestamp::now(),
        manifest: new.manifest,
        delete_at: new.delete_at,
        symlink: new.symlink,
    };
    let committed = commit(context, &context.account, container, &record, new.overwrite).await;
    // Stored, or found there by a conditional PUT: either way the device
    // will commit versions that list it.
    match &committed {
        Ok(claim_held) => {
            let chunk = (context.account.as_str(), container, object);
            let state = &context.state;
            chunk_collection::stored(state.index.as_ref(), &state.rpc, chunk, *claim_held).await;
        }
        Err(SwiftError::PreconditionFailed(_)) => confirm_chunk(context, container, object).await,
        Err(_) => {}
    }
    committed?;
    Ok(record)
}

/// See [`chunk_collection::confirm`].
async fn confirm_chunk(context: &RequestContext, container: &str, object: &str) {
    chunk_collection::confirm(
        context.state.index.as_ref(),
        &context.state.rpc,
        (&context.account, container, object),
    )
    .await;
}

/// Server-side copy of `source` to `destination` (account, container,
/// object each). A `Range` header copies one range of the source.
///
/// As in Swift, whose copy middleware reads the source before the
/// destination's PUT is authorized, the source answers first: a caller who
/// may not read it gets 403 whatever the destination, and 404 for a missing
/// destination container comes only once the source was read.
async fn copy_object(
    context: &RequestContext,
    source: (&str, &str, &str),
    destination: (&str, &str, &str),
) -> Result<HttpResponse, SwiftError> {
    let (source_account, source_container, source_object) = source;
    let (account, container, object) = destination;
    context
        .authorize_container_in(source_account, source_container, Access::Read)
        .await?;
    let record = load(context, source_account, source_container, source_object).await?;
    let reached = symlink::follow_unless_asked(context, source_account, record).await?;
    let source_modified = reached.record.modified;
    context
        .authorize_container_in(account, container, Access::Write)
        .await?;
    let link = symlink::copied(context, &reached.record, destination).await?;
    let copy_manifest = context.query_value("multipart-manifest") == Some("get");
    let reached_account = reached.account;
    let resolved = large::resolve(context, &reached_account, reached.record).await?;

    let fresh = context
        .header("x-fresh-metadata")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let mut meta = if fresh {
        Default::default()
    } else {
        resolved.record.meta.clone()
    };
    meta.extend(metadata::read_object_metadata(context.req.headers())?);
    let delete_at = requested_delete_at(context)?;
    chunk_guard::refuse_write(context, destination, true, true).await?;
    let content_type = requested_content_type(context, object)
        .unwrap_or_else(|| resolved.record.content_type.clone());

    // An SLO manifest copied into another account is checked there.
    let rechecked = match resolved.record.manifest {
        Some(Manifest::Static { manifest_size, .. })
            if copy_manifest && account != reached_account =>
        {
            let target = (container, object);
            Some(
                large::manifest_for_account(
                    context,
                    &resolved.record,
                    manifest_size,
                    account,
                    target,
                )
                .await?,
            )
        }
        _ => None,
    };
    let stored = match &rechecked {
        Some(manifest) => {
            let json = Bytes::from(manifest.json.clone());
            let room = quota::upload_room(context, (account, container), json.len() as u64).await?;
            let bytes = futures::stream::iter([Ok::<_, SwiftError>(json)]);
            store_body(context, room, bytes).await?
        }
        None => {
            let copied = if copy_manifest {
                0..resolved.size
            } else {
                copied_range(context, &resolved)?
            };
            let declared = copied.end - copied.start;
            let room = quota::upload_room(context, (account, container), declared).await?;
            let bytes =
                body::stream_range(Arc::clone(&context.state.blobs), &resolved.pieces, copied)
                    .map_err(SwiftError::ReadFailed);
            store_body(context, room, bytes).await?
        }
    };
    // A manifest copied as itself keeps what it stands for.
    let (size, etag, manifest) = match resolved.record.manifest {
        Some(Manifest::Static { .. }) if copy_manifest => {
            let (size, etag) = match rechecked {
                Some(manifest) => (manifest.size, manifest.etag),
                None => (resolved.record.size, resolved.record.etag),
            };
            let manifest = Manifest::Static {
                manifest_size: stored.size,
                manifest_etag: Some(stored.etag),
            };
            (size, etag, Some(manifest))
        }
        Some(manifest) if copy_manifest => {
            (resolved.record.size, resolved.record.etag, Some(manifest))
        }
        _ => (stored.size, stored.etag, None),
    };
    let record = ObjectRecord {
        name: object.to_owned(),
        content: stored.content,
        size,
        etag,
        content_type,
        meta,
        modified: Timestamp::now(),
        manifest,
        delete_at,
        symlink: link,
    };
    commit(context, account, container, &record, true).await?;
    let copied_from = format!(
        "{}/{}",
        utf8_percent_encode(source_container, URL_QUOTE),
        utf8_percent_encode(source_object, URL_QUOTE)
    );
    Ok(created(&record, &record.etag)
        .insert_header(("X-Copied-From", copied_from))
        .insert_header(("X-Copied-From-Account", source_account))
        .insert_header((
            "X-Copied-From-Last-Modified",
            source_modified.ceil_seconds().to_string(),
        ))
        .finish())
}

async fn copy(
    context: &RequestContext,
    container: &str,
    object: &str,
) -> Result<HttpResponse, SwiftError> {
    let destination = context
        .header("destination")
        .ok_or(SwiftError::PreconditionFailed(
            "You must specify a Destination header",
        ))?;
    let (destination_container, destination_object) = path::parse_container_object(destination)?;
    let destination_account = match context.header("destination-account") {
        Some(account) => path::decode(account)?,
        None => context.account.clone(),
    };
    copy_object(
        context,
        (&context.account, container, object),
        (
            &destination_account,
            &destination_container,
            &destination_object,
        ),
    )
    .await
}

async fn post(
    context: &RequestContext,
    container: &str,
    object: &str,
) -> Result<HttpResponse, SwiftError> {
    context
        .authorize_container(container, Access::Write)
        .await?;
    symlink::refuse_post_target(context)?;
    let meta = metadata::read_object_metadata(context.req.headers())?;
    let delete_at = requested_delete_at(context)?;
    let record = load(context, &context.account, container, object).await?;
    symlink::refuse_post_manifest(context, &record)?;
    let content_type = context
        .header(header::CONTENT_TYPE.as_str())
        .filter(|v| !v.is_empty())
        .map_or(record.content_type, str::to_owned);
    let dynamic_manifest = read_dynamic_manifest(context)?;
    // Turning the object into a manifest replaces its bytes.
    chunk_guard::refuse_write(
        context,
        (&context.account, container, object),
        false,
        dynamic_manifest.is_some() || delete_at.is_some(),
    )
    .await?;
    let update = ObjectUpdate {
        meta,
        content_type,
        delete_at,
        dynamic_manifest,
    };
    let found = context
        .state
        .index
        .update_object(&context.account, container, object, &update)
        .await?;
    if !found {
        return Err(SwiftError::NotFound);
    }
    if let Some(link) = &record.symlink {
        return Ok(symlink::post_redirect(link));
    }
    Ok(HttpResponse::Accepted()
        .content_type("text/html; charset=UTF-8")
        .body(accepted_page()))
}

async fn delete(
    context: &RequestContext,
    container: &str,
    object: &str,
) -> Result<HttpResponse, SwiftError> {
    context
        .authorize_container(container, Access::Write)
        .await?;
    if context.query_value("multipart-manifest") == Some("delete") {
        let record = load(context, &context.account, container, object).await?;
        if let Some(Manifest::Static { manifest_size, .. }) = record.manifest {
            return large::delete_static(context, container, object, record, manifest_size).await;
        }
    }
    if context
        .header("x-if-delete-at")
        .is_some_and(|at| at.trim().parse::<u64>().is_err())
    {
        return Err(SwiftError::BadRequest(
            "Bad X-If-Delete-At header value".into(),
        ));
    }
    if !bulk::delete_object(context, container, object).await? {
        return Err(SwiftError::NotFound);
    }
    Ok(HttpResponse::NoContent()
        .content_type("text/html; charset=UTF-8")
        .finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etag_lists_and_content_types() {
        assert!(etag_matches("\"abc\", \"def\"", "def"));
        assert!(etag_matches("*", "abc"));
        assert!(etag_matches("W/\"abc\"", "abc"));
        assert!(!etag_matches("\"abc\"", "abd"));
        assert_eq!(guess_content_type("a/b.TXT"), "text/plain");
        assert_eq!(guess_content_type("noext"), "application/octet-stream");
    }
}
