//! `/files/{workspace}/{item}/content` (opened in the browser when that is
//! safe) and `/files/{workspace}/{item}/download` (always saved), with
//! single byte ranges, streamed through the REST API's chunk reader
//! ([`content::download`]).
//!
//! User content never runs as this site: only images, audio, video, PDF and
//! plain text open inline, always under `Content-Security-Policy: sandbox`
//! (a unique origin, no scripts) and `nosniff`; HTML, SVG and everything
//! else are attachments. Text is served as `text/plain`, whatever its name.

use std::ops::Range;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use futures::TryStreamExt;
use nimbus_chunks::WorkspaceKeys;
use nimbus_protocol::rpc::{Content, ItemState};

use super::browse::{Opened, open_workspace};
use super::error::WebError;
use super::session::WebSession;
use crate::content::{self, ChunkStore};
use crate::state::AppState;
use crate::state::RestState;
use crate::swift::range::{self, RangeRequest};

/// The policy of user content: a sandbox without scripts, forms or plugins.
/// Inline styles and same-origin media let the browser's own image and
/// media viewers lay the file out.
pub const CONTENT_POLICY: &str = "sandbox; default-src 'none'; img-src 'self'; \
     media-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'";

/// The type a file is opened with in the browser, or `None`: downloaded.
pub fn inline_type(name: &str) -> Option<&'static str> {
    let extension = name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match extension.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "bmp" => "image/bmp",
        "pdf" => "application/pdf",
        "mp3" => "audio/mpeg",
        "m4a" => "audio/mp4",
        "ogg" | "oga" | "opus" => "audio/ogg",
        "wav" => "audio/wav",
        "flac" => "audio/flac",
        "mp4" | "m4v" => "video/mp4",
        "webm" => "video/webm",
        "ogv" => "video/ogg",
        "mov" => "video/quicktime",
        "txt" | "text" | "md" | "markdown" | "csv" | "tsv" | "log" | "json" | "yaml" | "yml"
        | "toml" | "ini" | "conf" | "xml" | "rs" | "py" | "js" | "ts" | "c" | "h" | "cpp"
        | "go" | "java" | "sh" | "sql" | "css" | "html" | "htm" => "text/plain; charset=utf-8",
        _ => return None,
    })
}

/// `Content-Disposition` naming the file: an ASCII fallback and the exact
/// name in RFC 5987 form.
pub fn disposition(kind: &str, name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let exact = percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC);
    format!("{kind}; filename=\"{fallback}\"; filename*=UTF-8''{exact}")
}

/// The chunks of `content` that hold `range`, and how many bytes of the
/// first precede it.
fn chunks_covering(content: &Content, range: &Range<u64>) -> (Content, u64) {
    let mut covering = Content::default();
    let mut skip = 0;
    let mut offset = 0;
    for chunk in &content.chunks {
        let end = offset + u64::from(chunk.size);
        if end > range.start && offset < range.end {
            if covering.chunks.is_empty() {
                skip = range.start - offset;
            }
            covering.chunks.push(chunk.clone());
        }
        offset = end;
    }
    (covering, skip)
}

async fn serve(
    req: HttpRequest,
    session: WebSession,
    path: web::Path<(String, String)>,
    state: web::Data<RestState>,
    app: web::Data<AppState>,
    attachment: bool,
) -> Result<HttpResponse, WebError> {
    let (workspace, item) = path.into_inner();
    let opened = open_workspace(&state, &session, &workspace, req.path()).await?;
    let item = opened.live_item(&item)?;
    serve_item(&req, &app, &opened, item, attachment)
}

/// The content of `item` (the current state of a file, or one of its
/// versions) in the opened workspace, with its ranges.
pub fn serve_item(
    req: &HttpRequest,
    app: &AppState,
    opened: &Opened,
    item: &ItemState,
    attachment: bool,
) -> Result<HttpResponse, WebError> {
    if item.is_folder {
        return Err(WebError::BadRequest(format!(
            "{:?} is a folder: open it to see its files",
            item.name
        )));
    }
    let (store, keys) = content::reader_for(app, &opened.workspace, item)?;
    Ok(stream_file(req, store, keys, item, attachment))
}

/// A file version's bytes (or the single range asked for), streamed from
/// `store`: inline when its type is safe and `attachment` is false, always
/// under [`CONTENT_POLICY`].
pub fn stream_file(
    req: &HttpRequest,
    store: ChunkStore,
    keys: WorkspaceKeys,
    item: &ItemState,
    attachment: bool,
) -> HttpResponse {
    let size = item.content.size;
    let etag = item
        .content
        .content_hash
        .as_ref()
        .map(|hash| format!("\"{hash}\""));
    let (content_type, kind) = match inline_type(&item.name) {
        Some(inline) if !attachment => (inline, "inline"),
        _ => ("application/octet-stream", "attachment"),
    };
    // A range of another version than the one the client holds is refused
    // by sending the whole file (RFC 9110 §13.1.5).
    let header_value = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
    let range_applies =
        header_value(header::IF_RANGE).is_none_or(|validator| etag.as_deref() == Some(validator));
    let requested = if range_applies {
        range::resolve(header_value(header::RANGE), size)
    } else {
        RangeRequest::Full
    };
    let mut response = HttpResponse::Ok();
    response
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_POLICY))
        .insert_header((header::CONTENT_DISPOSITION, disposition(kind, &item.name)))
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        .insert_header((header::CACHE_CONTROL, "private, no-cache"));
    if let Some(etag) = &etag {
        response.insert_header((header::ETAG, etag.clone()));
    }
    let range = match requested {
        RangeRequest::Partial(ranges) if ranges.len() == 1 => ranges[0].clone(),
        // Several ranges: the whole file answers them all (RFC 9110 §14.2).
        RangeRequest::Partial(_) | RangeRequest::Full => 0..size,
        RangeRequest::Unsatisfiable => {
            return response
                .status(StatusCode::RANGE_NOT_SATISFIABLE)
                .insert_header((header::CONTENT_RANGE, format!("bytes */{size}")))
                .finish();
        }
    };
    if range != (0..size) {
        response.status(StatusCode::PARTIAL_CONTENT).insert_header((
            header::CONTENT_RANGE,
            format!("bytes {}-{}/{size}", range.start, range.end - 1),
        ));
    }
    let (covering, mut skip) = chunks_covering(&item.content, &range);
    let mut remaining = range.end - range.start;
    let body = content::download(store, keys, &covering).map_ok(move |mut bytes| {
        let skipped = skip.min(bytes.len() as u64);
        bytes = bytes.slice(skipped as usize..);
        skip -= skipped;
        let kept = remaining.min(bytes.len() as u64);
        remaining -= kept;
        bytes.slice(..kept as usize)
    });
    response
        .content_type(content_type)
        .no_chunking(range.end - range.start)
        .streaming(body)
}

/// `GET /files/{workspace}/{item}/content`: inline when the type is safe.
pub async fn open(
    req: HttpRequest,
    session: WebSession,
    path: web::Path<(String, String)>,
    state: web::Data<RestState>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    serve(req, session, path, state, app, false).await
}

/// `GET /files/{workspace}/{item}/download`: always as an attachment.
pub async fn download(
    req: HttpRequest,
    session: WebSession,
    path: web::Path<(String, String)>,
    state: web::Data<RestState>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    serve(req, session, path, state, app, true).await
}

#[cfg(test)]
mod tests {
    use nimbus_protocol::rpc::ChunkRef;

    use super::*;

    #[test]
    fn only_passive_types_open_inline() {
        assert_eq!(inline_type("a.PNG"), Some("image/png"));
        assert_eq!(inline_type("page.html"), Some("text/plain; charset=utf-8"));
        assert_eq!(inline_type("logo.svg"), None);
        assert_eq!(inline_type("setup.exe"), None);
        assert_eq!(inline_type("README"), None);
    }

    #[test]
    fn dispositions_keep_the_name_and_cannot_be_broken_out_of() {
        assert_eq!(
            disposition("attachment", "a \"b\".txt"),
            "attachment; filename=\"a _b_.txt\"; filename*=UTF-8''a%20%22b%22%2Etxt"
        );
        assert!(disposition("inline", "é\r\n.txt").starts_with("inline; filename=\"_"));
    }

    #[test]
    fn a_range_reads_only_the_chunks_that_hold_it() {
        let chunk = |id: &str, size| ChunkRef {
            id: id.into(),
            size,
        };
        let content = Content {
            size: 30,
            chunks: vec![chunk("a", 10), chunk("b", 10), chunk("c", 10)],
            ..Content::default()
        };
        let (covering, skip) = chunks_covering(&content, &(12..15));
        assert_eq!(covering.chunks, [chunk("b", 10)]);
        assert_eq!(skip, 2);
        let (covering, skip) = chunks_covering(&content, &(5..25));
        assert_eq!(covering.chunks.len(), 3);
        assert_eq!(skip, 5);
        let (covering, _) = chunks_covering(&content, &(20..30));
        assert_eq!(covering.chunks, [chunk("c", 10)]);
    }
}
