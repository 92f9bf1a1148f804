//! Every way a request can fail, and the one place that turns a failure into
//! its protocol's answer: Swift's status code, headers and body here, the REST
//! API's and OAuth's JSON in [`rest`] (the web UI maps onto that in
//! `web::error`).

pub mod rest;

use actix_web::error::PayloadError;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::{HttpResponse, ResponseError};

use percent_encoding::utf8_percent_encode;

use crate::blobs::BlobError;
use crate::body_timeout;
use crate::index::IndexError;
use crate::swift::path::URL_QUOTE;

#[derive(Debug, thiserror::Error)]
pub enum SwiftError {
    /// No token, or a wrong or expired one. Carries the account for the realm.
    #[error("authentication required")]
    Unauthorized { realm: String },
    #[error("access denied")]
    Forbidden,
    /// A TempURL whose signature is wrong, expired or unusable here.
    #[error("invalid TempURL")]
    TempUrlInvalid,
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    /// Bad input; Swift answers these in plain text with an explanation.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// Bad input whose explanation Swift labels as HTML (account and
    /// container names).
    #[error("bad request: {0}")]
    BadRequestPage(String),
    /// The body of an archive extraction is not an archive of that kind.
    #[error("invalid archive: {0}")]
    InvalidArchive(String),
    #[error("container not empty")]
    ContainerNotEmpty,
    /// The object is a chunk that a retained file version needs: only the
    /// metadata servers' collection removes it (see `swift::chunk_guard`).
    #[error("chunk {0} is in use by a file version")]
    ChunkInUse(String),
    /// A symlink cannot be followed or made (too many links in a row, a
    /// static link's target changed or missing); the message is the body.
    #[error("symlink conflict: {0}")]
    SymlinkConflict(String),
    /// An error met at the target of a symlink, answered with the target's
    /// path as `Content-Location`.
    #[error("{error} (at symlink target {location})")]
    AtSymlinkTarget {
        location: String,
        error: Box<SwiftError>,
    },
    /// A segment of a large object is missing or changed.
    #[error("large object segment {0} is no longer valid")]
    SegmentInvalid(String),
    #[error("missing Content-Length")]
    LengthRequired,
    /// A precondition (`If-None-Match: *`, invalid UTF-8 in a name, ...) failed;
    /// the message is the body.
    #[error("precondition failed: {0}")]
    PreconditionFailed(&'static str),
    #[error("request entity too large")]
    TooLarge,
    /// The write would take its container or account past a quota.
    #[error("upload exceeds quota")]
    QuotaExceeded,
    #[error("range not satisfiable for an object of {size} bytes")]
    RangeNotSatisfiable { size: u64 },
    #[error("the body does not match the ETag sent")]
    EtagMismatch,
    #[error("the client stopped sending the body")]
    ClientDisconnect,
    /// The body stalled for longer than `body_idle_timeout_secs`.
    #[error("the client sent no part of the body in time")]
    RequestTimeout,
    #[error("the metadata servers are unavailable: {0}")]
    RpcUnavailable(#[source] nimbus_protocol::ClientError),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error("reading stored bytes failed: {0}")]
    ReadFailed(#[source] std::io::Error),
    #[error("hashing the body failed: {0}")]
    HashFailed(#[source] tokio::task::JoinError),
}

impl From<PayloadError> for SwiftError {
    /// A body that could not be read: too large, stalled past the idle
    /// timeout ([`crate::body_timeout`]), or cut by the client.
    fn from(error: PayloadError) -> Self {
        match error {
            PayloadError::Overflow => SwiftError::TooLarge,
            error if body_timeout::is_timeout(&error) => SwiftError::RequestTimeout,
            _ => SwiftError::ClientDisconnect,
        }
    }
}

/// `Retry-After` of a 503: about a database restart; a client that is
/// refused again waits longer by itself.
const RETRY_AFTER_SECS: u32 = 5;

impl SwiftError {
    /// Whether a service the proxy needs is away for now (the metadata
    /// servers, the index database): Swift's `503 Service Unavailable`,
    /// with `Retry-After`. Nothing was changed, and the same request
    /// succeeds once it is back.
    pub fn is_unavailable(&self) -> bool {
        match self {
            SwiftError::RpcUnavailable(_) => true,
            SwiftError::Index(error) => error.is_unavailable(),
            _ => false,
        }
    }

    /// Whether the object store ran out of room: Swift's `507 Insufficient
    /// Storage`. Nothing was stored (see [`crate::swift::body::store`]), and
    /// the same request succeeds once space is freed.
    pub fn is_storage_full(&self) -> bool {
        matches!(self, SwiftError::Blob(error) if error.is_storage_full())
    }

    /// The plain-text body of the answer to this error, where it has one.
    fn plain_text(&self) -> Option<String> {
        match self {
            SwiftError::BadRequest(message) => Some(message.clone()),
            SwiftError::InvalidArchive(reason) => Some(format!("Invalid Tar File: {reason}")),
            SwiftError::LengthRequired => Some("Missing Content-Length header.".to_owned()),
            SwiftError::PreconditionFailed(message) => Some((*message).to_owned()),
            SwiftError::TempUrlInvalid => Some("401 Unauthorized: Temp URL invalid\n".to_owned()),
            SwiftError::QuotaExceeded => Some("Upload exceeds quota.".to_owned()),
            SwiftError::SymlinkConflict(message) => Some(message.clone()),
            SwiftError::ChunkInUse(chunk) => Some(format!(
                "{chunk} is a chunk of a file stored in this workspace, needed by the file or \
             its version history, so it cannot be deleted, overwritten or set to expire \
             through the Swift API; nothing was changed. Delete the file (and let its \
             versions expire) with a Nimbus client instead: Nimbus removes chunks once no \
             version needs them."
            )),
            _ => None,
        }
    }

    /// The status and text of this error as a summary in a body shows it
    /// (`Response Status`, `Response Body`), after the headers went out.
    pub fn summary(&self) -> (StatusCode, String) {
        let status = self.status_code();
        if status.is_server_error() {
            tracing::error!(error = %self, cause = ?std::error::Error::source(self), "request failed");
        }
        let text = self.plain_text().unwrap_or_else(|| {
            let (title, text) = self.title_and_text();
            format!("{title}\n{text}")
        });
        (status, text)
    }

    fn title_and_text(&self) -> (&'static str, &'static str) {
        match self {
            error if error.is_storage_full() => (
                "Insufficient Storage",
                "There was not enough space to save the resource. Nothing was stored and an \
                 object of that name, if any, is unchanged; try again once space is freed.",
            ),
            SwiftError::Unauthorized { .. } | SwiftError::TempUrlInvalid => (
                "Unauthorized",
                "This server could not verify that you are authorized to access the document you requested.",
            ),
            SwiftError::Forbidden => ("Forbidden", "Access was denied to this resource."),
            SwiftError::NotFound => ("Not Found", "The resource could not be found."),
            SwiftError::MethodNotAllowed => (
                "Method Not Allowed",
                "The method is not allowed for this resource.",
            ),
            SwiftError::ContainerNotEmpty
            | SwiftError::SegmentInvalid(_)
            | SwiftError::SymlinkConflict(_)
            | SwiftError::ChunkInUse(_) => (
                "Conflict",
                "There was a conflict when trying to complete your request.",
            ),
            SwiftError::TooLarge | SwiftError::QuotaExceeded => (
                "Request Entity Too Large",
                "The body of your request was too large for this server.",
            ),
            SwiftError::RangeNotSatisfiable { .. } => (
                "Requested Range Not Satisfiable",
                "The Range requested is not available.",
            ),
            SwiftError::EtagMismatch => (
                "Unprocessable Entity",
                "Unable to process the contained instructions",
            ),
            SwiftError::ClientDisconnect => (
                "Client Disconnect",
                "The client was disconnected during request.",
            ),
            SwiftError::RequestTimeout => (
                "Request Timeout",
                "The server has waited too long for the request to be sent by the client.",
            ),
            error if error.is_unavailable() => (
                "Service Unavailable",
                "The server is currently unavailable. Please try again at a later time.",
            ),
            SwiftError::AtSymlinkTarget { error, .. } => error.title_and_text(),
            // Unavailable, above.
            SwiftError::RpcUnavailable(_)
            | SwiftError::BadRequest(_)
            | SwiftError::BadRequestPage(_)
            | SwiftError::InvalidArchive(_)
            | SwiftError::LengthRequired
            | SwiftError::PreconditionFailed(_)
            | SwiftError::Index(_)
            | SwiftError::Blob(_)
            | SwiftError::ReadFailed(_)
            | SwiftError::HashFailed(_) => (
                "Internal Error",
                "An error occurred while processing your request.",
            ),
        }
    }
}

impl ResponseError for SwiftError {
    fn status_code(&self) -> StatusCode {
        match self {
            error if error.is_storage_full() => StatusCode::INSUFFICIENT_STORAGE,
            error if error.is_unavailable() => StatusCode::SERVICE_UNAVAILABLE,
            SwiftError::Unauthorized { .. } | SwiftError::TempUrlInvalid => {
                StatusCode::UNAUTHORIZED
            }
            SwiftError::Forbidden => StatusCode::FORBIDDEN,
            SwiftError::NotFound => StatusCode::NOT_FOUND,
            SwiftError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            SwiftError::BadRequest(_)
            | SwiftError::BadRequestPage(_)
            | SwiftError::InvalidArchive(_) => StatusCode::BAD_REQUEST,
            SwiftError::ContainerNotEmpty
            | SwiftError::SegmentInvalid(_)
            | SwiftError::SymlinkConflict(_)
            | SwiftError::ChunkInUse(_) => StatusCode::CONFLICT,
            SwiftError::AtSymlinkTarget { error, .. } => error.status_code(),
            SwiftError::LengthRequired => StatusCode::LENGTH_REQUIRED,
            SwiftError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            SwiftError::TooLarge | SwiftError::QuotaExceeded => StatusCode::PAYLOAD_TOO_LARGE,
            SwiftError::RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            SwiftError::EtagMismatch => StatusCode::UNPROCESSABLE_ENTITY,
            SwiftError::ClientDisconnect => {
                StatusCode::from_u16(499).expect("499 is a valid status code")
            }
            SwiftError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            SwiftError::RpcUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            SwiftError::Index(_)
            | SwiftError::Blob(_)
            | SwiftError::ReadFailed(_)
            | SwiftError::HashFailed(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let SwiftError::AtSymlinkTarget { location, error } = self {
            let mut response = error.error_response();
            if let Ok(location) = header::HeaderValue::from_str(location) {
                response
                    .headers_mut()
                    .insert(header::CONTENT_LOCATION, location);
            }
            return response;
        }
        let status = self.status_code();
        let mut response = HttpResponse::build(status);
        if status.is_server_error() {
            tracing::error!(error = %self, cause = ?std::error::Error::source(self), "request failed");
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.insert_header((header::RETRY_AFTER, RETRY_AFTER_SECS.to_string()));
        }
        if let Some(text) = self.plain_text() {
            return response.content_type(ContentType::plaintext()).body(text);
        }
        if let SwiftError::BadRequestPage(message) = self {
            return response
                .content_type("text/html; charset=UTF-8")
                .body(message.clone());
        }
        match self {
            SwiftError::Unauthorized { realm } => {
                // Quoted as in the URL, so no name can break out of the header.
                let realm = utf8_percent_encode(realm, URL_QUOTE);
                response
                    .insert_header((header::WWW_AUTHENTICATE, format!("Swift realm=\"{realm}\"")));
            }
            SwiftError::RangeNotSatisfiable { size } => {
                response.insert_header((header::CONTENT_RANGE, format!("bytes */{size}")));
            }
            _ => {}
        }
        let (title, text) = self.title_and_text();
        response
            .content_type(ContentType::html())
            .body(html_page(title, text))
    }
}

/// Swift's small HTML bodies: `<html><h1>Title</h1><p>Text</p></html>`.
pub fn html_page(title: &str, text: &str) -> String {
    format!("<html><h1>{title}</h1><p>{text}</p></html>")
}

/// Body of `202 Accepted` replies.
pub fn accepted_page() -> String {
    html_page("Accepted", "The request is accepted for processing.")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A failure of the object store that the system reported as `kind`,
    /// wrapped as opendal's `fs` service wraps it.
    pub(crate) fn storage_error(kind: std::io::ErrorKind) -> SwiftError {
        let system = std::io::Error::from(kind);
        let opendal = opendal::Error::new(opendal::ErrorKind::Unexpected, kind.to_string())
            .set_source(system);
        SwiftError::Blob(BlobError::from(opendal))
    }

    #[test]
    fn statuses_and_bodies_follow_swift() {
        let cases: Vec<(SwiftError, u16)> = vec![
            (
                SwiftError::Unauthorized {
                    realm: "AUTH_a".into(),
                },
                401,
            ),
            (SwiftError::LengthRequired, 411),
            (SwiftError::EtagMismatch, 422),
            (SwiftError::RangeNotSatisfiable { size: 11 }, 416),
            (SwiftError::ContainerNotEmpty, 409),
            (SwiftError::ChunkInUse("ab".repeat(32)), 409),
            (storage_error(std::io::ErrorKind::StorageFull), 507),
            (storage_error(std::io::ErrorKind::QuotaExceeded), 507),
            (storage_error(std::io::ErrorKind::PermissionDenied), 500),
        ];
        for (error, status) in cases {
            let response = error.error_response();
            assert_eq!(response.status().as_u16(), status, "{error}");
        }
        let unauthorized = SwiftError::Unauthorized {
            realm: "AUTH_a".into(),
        }
        .error_response();
        assert_eq!(
            unauthorized
                .headers()
                .get(header::WWW_AUTHENTICATE)
                .unwrap(),
            "Swift realm=\"AUTH_a\""
        );
        let range = SwiftError::RangeNotSatisfiable { size: 11 }.error_response();
        assert_eq!(
            range.headers().get(header::CONTENT_RANGE).unwrap(),
            "bytes */11"
        );
        let length = SwiftError::LengthRequired.error_response();
        assert_eq!(
            length.headers().get(header::CONTENT_TYPE).unwrap(),
            "text/plain; charset=utf-8"
        );
    }
}
