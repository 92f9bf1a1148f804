//! Archive extraction, Swift's bulk upload: `PUT ?extract-archive=tar`
//! (`tar.gz`, `tar.bz2`) to an account, a container or a path within one
//! stores each regular file of the archive as an object at
//! `<upload path>/<its path in the archive>`. At the account, the first
//! part of a file's path names its container (created when missing) and
//! files at the top are skipped.
//!
//! Each file is a `PUT` of its own: authorized, checked by the chunk guard
//! and against the quotas, with the request's `X-Object-Meta-*`,
//! `X-Delete-At`/`-After` and content type (or `X-Detect-Content-Type`), and
//! the `user.mime_type` and `user.meta.*` extended attributes a pax archive
//! carries for it. The archive is read as it arrives, one file at a time,
//! straight into the object store: memory does not grow with its size.
//!
//! The answer is `200 OK` at once; the outcome is the summary in its body
//! ([`heartbeat`]): `Number Files Created`, `Response Status` (`201
//! Created`, or the failure's), and the files that failed with their
//! status. At most [`MAX_CONTAINERS_PER_EXTRACTION`] containers are created,
//! and extraction stops after [`MAX_FAILED_EXTRACTIONS`] failed files.

use std::io;
use std::pin::Pin;

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::{HttpResponse, ResponseError, web};
use async_compression::tokio::bufread::{BzDecoder, GzipDecoder};
use futures::{StreamExt, TryStreamExt};
use percent_encoding::utf8_percent_encode;
use serde_json::Value;
use tokio::io::{AsyncRead, BufReader};
use tokio_tar::{Archive, Entry};
use tokio_util::io::{ReaderStream, StreamReader};

use super::heartbeat::{self, ResultFormat};
use super::object::{self, NewObject};
use super::path::{self, Target, URL_QUOTE};
use super::{RequestContext, bulk, chunk_guard, metadata, quota};
use crate::auth::acl::Access;
use crate::error::SwiftError;

/// `max_containers_per_extraction`.
pub const MAX_CONTAINERS_PER_EXTRACTION: usize = 10_000;
/// `max_failed_extractions`.
pub const MAX_FAILED_EXTRACTIONS: usize = 1_000;
/// How much of a file is read from the archive at a time.
const READ_CHUNK: usize = 64 * 1024;
/// The longest name a failed file is listed with (Swift's
/// `max_path_length`).
const MAX_LISTED_PATH: usize = path::MAX_CONTAINER_NAME_LENGTH + path::MAX_OBJECT_NAME_LENGTH + 2;

/// The compressions an archive may come in.
#[derive(Debug, Clone, Copy)]
enum Compression {
    None,
    Gzip,
    Bzip2,
}

impl Compression {
    fn by_name(name: &str) -> Option<Self> {
        match name.trim_matches('.').to_ascii_lowercase().as_str() {
            "tar" => Some(Self::None),
            "tar.gz" => Some(Self::Gzip),
            "tar.bz2" => Some(Self::Bzip2),
            _ => None,
        }
    }
}

type ArchiveReader = Pin<Box<dyn AsyncRead>>;

/// `PUT ?extract-archive=<kind>` to `target`.
pub async fn extract(
    context: &RequestContext,
    target: &Target,
    kind: &str,
    payload: web::Payload,
) -> Result<HttpResponse, SwiftError> {
    let compression = Compression::by_name(kind)
        .ok_or_else(|| SwiftError::BadRequest("Unsupported archive format".into()))?;
    let Some(format) = ResultFormat::from_request(context) else {
        return Ok(bulk::summary_response(context, &[], &[], "extract"));
    };
    let base = match target {
        Target::Account { .. } => String::new(),
        Target::Container { container, .. } => container.clone(),
        Target::Object {
            container, object, ..
        } => format!("{container}/{object}"),
    };
    let base = base.trim_end_matches('/').to_owned();
    let context = context.clone();
    let summary = async move {
        let mut extraction = Extraction::default();
        let outcome = match open(&context, compression, payload) {
            Ok(reader) => extraction.run(&context, &base, reader).await,
            Err(error) => Err(error),
        };
        format.render(&extraction.summary(outcome), &extraction.failed, "extract")
    };
    Ok(HttpResponse::Ok()
        .content_type(format.content_type())
        .streaming(heartbeat::body(format, false, summary)))
}

/// The body as the archive it carries, decompressed. A body without a length
/// must be chunked.
fn open(
    context: &RequestContext,
    compression: Compression,
    payload: web::Payload,
) -> Result<ArchiveReader, SwiftError> {
    let chunked = context
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    if context.header("content-length").is_none() && !chunked {
        return Err(SwiftError::LengthRequired);
    }
    // A failure to read the body itself keeps its own meaning through the
    // decoders and the archive reader (see `archive_error`).
    let body = StreamReader::new(payload.map_err(|e| io::Error::other(SwiftError::from(e))));
    Ok(match compression {
        Compression::None => Box::pin(body),
        Compression::Gzip => {
            let mut decoder = GzipDecoder::new(BufReader::new(body));
            decoder.multiple_members(true);
            Box::pin(decoder)
        }
        Compression::Bzip2 => {
            let mut decoder = BzDecoder::new(BufReader::new(body));
            decoder.multiple_members(true);
            Box::pin(decoder)
        }
    })
}

/// An error reading the archive: one of the body's own (cut, stalled), or
/// an archive that is not one.
fn archive_error(error: io::Error) -> SwiftError {
    match error.downcast::<SwiftError>() {
        Ok(error) => error,
        Err(error) => SwiftError::InvalidArchive(error.to_string()),
    }
}

#[derive(Default)]
struct Extraction {
    created: usize,
    /// Files (and containers) that failed, percent-encoded, with the status.
    failed: Vec<(String, String)>,
    /// Whether a failure was the server's (`502` then, as Swift's bulk).
    server_failure: bool,
    containers_created: usize,
    /// Containers found or created, with the failure of creating one, which
    /// is listed if a file in it then fails (an ACL may still let it in).
    containers: std::collections::HashMap<String, Option<(String, String)>>,
}

impl Extraction {
    /// Stores each regular file of the archive. An `Err` ends the
    /// extraction: the archive is broken, or the caller may not write at all.
    async fn run(
        &mut self,
        context: &RequestContext,
        base: &str,
        reader: ArchiveReader,
    ) -> Result<(), SwiftError> {
        let mut archive = Archive::new(reader);
        let mut entries = archive.entries().map_err(archive_error)?;
        while self.failed.len() < MAX_FAILED_EXTRACTIONS {
            let Some(entry) = entries.next().await else {
                break;
            };
            let entry = entry.map_err(archive_error)?;
            let kind = entry.header().entry_type();
            if !(kind.is_file() || kind.is_contiguous()) {
                continue;
            }
            self.extract_file(context, base, entry).await?;
        }
        Ok(())
    }

    async fn extract_file(
        &mut self,
        context: &RequestContext,
        base: &str,
        mut entry: Entry<Archive<ArchiveReader>>,
    ) -> Result<(), SwiftError> {
        let raw_name = entry.path_bytes().map_err(archive_error)?.into_owned();
        let Ok(name) = String::from_utf8(raw_name.clone()) else {
            let shown = String::from_utf8_lossy(&raw_name).into_owned();
            self.fail(&shown, StatusCode::PRECONDITION_FAILED);
            return Ok(());
        };
        let name = name
            .strip_prefix("./")
            .unwrap_or(&name)
            .trim_start_matches('/');
        let full = if base.is_empty() {
            name.to_owned()
        } else {
            format!("{base}/{name}")
        };
        // A file at the top of an account's archive has no container.
        let Some((container, object)) = full.split_once('/') else {
            return Ok(());
        };
        // With a pax `size` where the header's field cannot hold it.
        let size = entry.effective_size();
        if size > super::body::MAX_FILE_SIZE {
            self.fail(&full, StatusCode::PAYLOAD_TOO_LARGE);
            return Ok(());
        }
        if path::check_container_name(container).is_err() {
            self.fail(&full, StatusCode::BAD_REQUEST);
            return Ok(());
        }
        self.reach_container(context, container).await?;
        let outcome = match file_attributes(context, &mut entry).await {
            Ok(attributes) => {
                store_file(context, (container, object), size, attributes, &mut entry).await
            }
            Err(error) => Err(error),
        };
        match outcome {
            Ok(()) => self.created += 1,
            // The archive or the body broke: nothing more can be read.
            Err(
                error @ (SwiftError::InvalidArchive(_)
                | SwiftError::ClientDisconnect
                | SwiftError::RequestTimeout),
            ) => return Err(error),
            Err(error) => {
                if let Some(Some(failure)) = self.containers.get(container) {
                    self.failed.push(failure.clone());
                }
                let status = error.status_code();
                self.fail(&full, status);
                if status == StatusCode::UNAUTHORIZED {
                    return Err(error);
                }
            }
        }
        Ok(())
    }

    /// Creates `container` when it is missing, once per extraction.
    async fn reach_container(
        &mut self,
        context: &RequestContext,
        container: &str,
    ) -> Result<(), SwiftError> {
        if self.containers.contains_key(container) {
            return Ok(());
        }
        let failure = match create_container(context, container).await {
            Ok(false) => None,
            Ok(true) => {
                self.containers_created += 1;
                if self.containers_created > MAX_CONTAINERS_PER_EXTRACTION {
                    return Err(SwiftError::BadRequest(format!(
                        "More than {MAX_CONTAINERS_PER_EXTRACTION} containers to create from tar."
                    )));
                }
                None
            }
            Err(error @ SwiftError::Unauthorized { .. }) => return Err(error),
            Err(error) => Some((
                listed(&format!("/v1/{}/{container}", context.account)),
                heartbeat::status_line(error.status_code()),
            )),
        };
        self.containers.insert(container.to_owned(), failure);
        Ok(())
    }

    fn fail(&mut self, name: &str, status: StatusCode) {
        if status.is_server_error() {
            self.server_failure = true;
        }
        self.failed
            .push((listed(name), heartbeat::status_line(status)));
    }

    /// The summary's fields, after `outcome`.
    fn summary(&self, outcome: Result<(), SwiftError>) -> Vec<(&'static str, Value)> {
        let (status, body) = match outcome {
            Err(error) => error.summary(),
            Ok(()) if self.server_failure => (StatusCode::BAD_GATEWAY, String::new()),
            Ok(()) if !self.failed.is_empty() => (StatusCode::BAD_REQUEST, String::new()),
            Ok(()) if self.created == 0 => (
                StatusCode::BAD_REQUEST,
                "Invalid Tar File: No Valid Files".to_owned(),
            ),
            Ok(()) => (StatusCode::CREATED, String::new()),
        };
        vec![
            ("Number Files Created", self.created.into()),
            ("Response Body", body.into()),
            ("Response Status", heartbeat::status_line(status).into()),
        ]
    }
}

/// A name as the summary lists it: percent-encoded, cut to
/// [`MAX_LISTED_PATH`] bytes.
fn listed(name: &str) -> String {
    let mut end = name.len().min(MAX_LISTED_PATH);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    utf8_percent_encode(&name[..end], URL_QUOTE).to_string()
}

/// Whether `container` was created: a missing one is, as the caller's
/// container `PUT` would create it.
async fn create_container(context: &RequestContext, container: &str) -> Result<bool, SwiftError> {
    match context.authorize_container(container, Access::Write).await {
        Ok(()) => Ok(false),
        // Missing, for a caller who could see it.
        Err(SwiftError::NotFound) => {
            context.authorize_container_admin(container).await?;
            Ok(context
                .state
                .index
                .ensure_container(&context.account, container)
                .await?)
        }
        Err(error) => Err(error),
    }
}

/// What the extended attributes of a file in a pax archive say of it.
struct FileAttributes {
    /// `X-Object-Meta-*` headers.
    meta: HeaderMap,
    content_type: Option<String>,
}

async fn file_attributes(
    context: &RequestContext,
    entry: &mut Entry<Archive<ArchiveReader>>,
) -> Result<FileAttributes, SwiftError> {
    let mut attributes = FileAttributes {
        meta: context.req.headers().clone(),
        content_type: None,
    };
    let Some(extensions) = entry.pax_extensions().await.map_err(archive_error)? else {
        return Ok(attributes);
    };
    for extension in extensions {
        let extension = extension.map_err(archive_error)?;
        let (Ok(key), Ok(value)) = (extension.key(), extension.value()) else {
            continue;
        };
        match xattr_header(key) {
            Some(Attribute::ContentType) => attributes.content_type = Some(value.to_owned()),
            Some(Attribute::Meta(name)) => {
                let unfit = || SwiftError::BadRequest(format!("{key} cannot be object metadata"));
                let name =
                    HeaderName::try_from(format!("x-object-meta-{name}")).map_err(|_| unfit())?;
                let value = HeaderValue::from_str(value).map_err(|_| unfit())?;
                attributes.meta.insert(name, value);
            }
            None => {}
        }
    }
    Ok(attributes)
}

enum Attribute<'a> {
    ContentType,
    Meta(&'a str),
}

/// What an extended attribute of a file stands for: `user.mime_type` its
/// content type, `user.meta.<name>` its metadata `<name>`, as GNU tar
/// (`SCHILY.xattr.`) and libarchive (`LIBARCHIVE.xattr.`) write them; others
/// (times, ACLs) are not the user's metadata.
fn xattr_header(key: &str) -> Option<Attribute<'_>> {
    let attribute = key
        .strip_prefix("SCHILY.xattr.")
        .or_else(|| key.strip_prefix("LIBARCHIVE.xattr."))?;
    if attribute == "user.mime_type" {
        return Some(Attribute::ContentType);
    }
    attribute.strip_prefix("user.meta.").map(Attribute::Meta)
}

/// Stores one file of the archive as a `PUT` of it would.
async fn store_file(
    context: &RequestContext,
    (container, object): (&str, &str),
    size: u64,
    attributes: FileAttributes,
    entry: &mut Entry<Archive<ArchiveReader>>,
) -> Result<(), SwiftError> {
    path::check_object_name(object)?;
    context
        .authorize_container(container, Access::Write)
        .await?;
    let delete_at = object::requested_delete_at(context)?;
    chunk_guard::refuse_write(
        context,
        (&context.account, container, object),
        true,
        delete_at.is_some(),
    )
    .await?;
    let content_type = attributes
        .content_type
        .or_else(|| object::requested_content_type(context, object))
        .unwrap_or_else(|| object::guess_content_type(object).to_owned());
    let new = NewObject {
        content_type,
        meta: metadata::read_object_metadata(&attributes.meta)?,
        delete_at,
        overwrite: true,
        expected_etag: None,
        manifest: None,
        symlink: None,
    };
    let room = quota::upload_room(context, (&context.account, container), size).await?;
    let body = ReaderStream::with_capacity(entry, READ_CHUNK).map_err(archive_error);
    object::store_object(context, (container, object), room, body, new).await?;
    Ok(())
}
