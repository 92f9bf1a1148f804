//! Every way a REST API v2 or OAuth request can fail, and the one place that
//! turns a failure into a status and the StackSync error body
//! `{"error": <status>, "code": "<stable name>", "description": "..."}`.

use actix_web::error::PayloadError;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, ResponseError};
use nimbus_protocol::ClientError;
use nimbus_protocol::rpc::{ErrorCode, RefusalCode};

use crate::blobs::BlobError;
use crate::body_timeout;
use crate::error::SwiftError;
use crate::index::IndexError;

#[derive(Debug, thiserror::Error)]
pub enum RestError {
    /// No OAuth signature, or one the metadata servers refused (bad
    /// signature, unknown or revoked token, replayed nonce, stale timestamp).
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    /// Unknown, or not the caller's: the two are not told apart.
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    /// The name is used by another live item of the folder.
    #[error("{0}")]
    NameTaken(String),
    /// Another device changed the item first; nothing was changed.
    #[error("{0}")]
    Conflict(String),
    /// The workspace is end-to-end encrypted: the proxy cannot read or write
    /// its content.
    #[error(
        "the workspace {0:?} is end-to-end encrypted (client-side): its files can be read and \
         written only by desktop clients that know its passphrase, not through this API"
    )]
    EncryptedWorkspace(String),
    #[error("{0}")]
    QuotaExceeded(QuotaRefusal),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A path the API serves, with a method it does not serve there.
    #[error("this path answers {allow} only")]
    MethodNotAllowed { allow: String },
    /// The caller is over a rate: its device's requests, or failed sign-ins.
    #[error("{message}")]
    TooManyRequests {
        message: String,
        retry_after_secs: Option<u64>,
    },
    /// The object store ran out of room; nothing was stored or committed.
    #[error(
        "the server's object store is out of space: {0} was not stored and nothing was changed. \
         Try again once its administrator has freed space."
    )]
    InsufficientStorage(String),
    /// The body stalled for longer than `body_idle_timeout_secs`.
    #[error("no part of the body arrived in time; send it again")]
    RequestTimeout,
    #[error("the metadata servers are unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl RestError {
    /// The stable name of the failure, for programs.
    pub fn code(&self) -> &'static str {
        match self {
            RestError::Unauthorized(_) => "unauthorized",
            RestError::Forbidden(_) => "forbidden",
            RestError::NotFound(_) => "not_found",
            RestError::BadRequest(_) => "bad_request",
            RestError::NameTaken(_) => "name_taken",
            RestError::Conflict(_) => "conflict",
            RestError::EncryptedWorkspace(_) => "encrypted_workspace",
            RestError::QuotaExceeded(refusal) if refusal.owners => "owner_quota_exceeded",
            RestError::QuotaExceeded(_) => "quota_exceeded",
            RestError::UnsupportedMediaType(_) => "unsupported_media_type",
            RestError::MethodNotAllowed { .. } => "method_not_allowed",
            RestError::TooManyRequests { .. } => "too_many_requests",
            RestError::InsufficientStorage(_) => "insufficient_storage",
            RestError::RequestTimeout => "request_timeout",
            RestError::Unavailable(_) => "unavailable",
            RestError::Internal(_) => "internal",
        }
    }

    /// Maps a failed RPC: refusals keep the server's message.
    pub fn from_rpc(error: ClientError) -> Self {
        let (message, retry_after_secs) = match &error {
            ClientError::Rpc(rpc) => (rpc.message.clone(), rpc.retry_after_secs),
            other => (other.to_string(), None),
        };
        match error.rpc_code() {
            Some(ErrorCode::Unauthenticated | ErrorCode::InvalidCredentials) => {
                RestError::Unauthorized(message)
            }
            Some(ErrorCode::AccountDisabled | ErrorCode::Forbidden) => {
                RestError::Forbidden(message)
            }
            Some(ErrorCode::TooManyAttempts | ErrorCode::TooManyRequests) => {
                RestError::TooManyRequests {
                    message,
                    retry_after_secs,
                }
            }
            Some(ErrorCode::BadRequest | ErrorCode::RequestIdReused) => {
                RestError::BadRequest(message)
            }
            Some(ErrorCode::QuotaExceeded) => RestError::QuotaExceeded(QuotaRefusal {
                message,
                owners: false,
            }),
            Some(ErrorCode::OwnerQuotaExceeded) => RestError::QuotaExceeded(QuotaRefusal {
                message,
                owners: true,
            }),
            // Chunks this upload stored were collected in the moment between
            // storing and committing: sending the file again succeeds.
            Some(ErrorCode::Unavailable | ErrorCode::ContentMissing) | None => {
                RestError::Unavailable(message)
            }
            Some(ErrorCode::Internal) => RestError::Internal(message),
        }
    }

    /// Maps a failure to store `what` (e.g. "chunk ab12…") in the object store.
    pub fn from_store(what: &str, error: SwiftError) -> Self {
        if error.is_storage_full() {
            RestError::InsufficientStorage(what.to_owned())
        } else {
            RestError::Internal(format!("storing {what}: {error}"))
        }
    }

    /// Maps a commit refusal of one item.
    pub fn from_refusal(code: RefusalCode, message: String) -> Self {
        match code {
            RefusalCode::NameTaken => RestError::NameTaken(message),
            RefusalCode::ParentMissing => RestError::NotFound(message),
            RefusalCode::InvalidItem
            | RefusalCode::ParentNotFolder
            | RefusalCode::ParentRefused
            | RefusalCode::MoveIntoItself
            | RefusalCode::FolderNotEmpty
            | RefusalCode::KindChange
            | RefusalCode::IdInUse => RestError::BadRequest(message),
        }
    }
}

/// A write refused for quota: the caller's own, or (`owners`) the quota of
/// the owner of a workspace shared with the caller, who pays for it.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct QuotaRefusal {
    pub message: String,
    pub owners: bool,
}

impl From<PayloadError> for RestError {
    /// A body that could not be read: stalled past the idle timeout
    /// ([`crate::body_timeout`]), or broken.
    fn from(error: PayloadError) -> Self {
        if body_timeout::is_timeout(&error) {
            RestError::RequestTimeout
        } else {
            RestError::BadRequest(format!("reading the body: {error}"))
        }
    }
}

impl From<IndexError> for RestError {
    fn from(error: IndexError) -> Self {
        if error.is_unavailable() {
            RestError::Unavailable(error.to_string())
        } else {
            RestError::Internal(error.to_string())
        }
    }
}

impl From<BlobError> for RestError {
    fn from(error: BlobError) -> Self {
        RestError::from_store("the content", SwiftError::Blob(error))
    }
}

impl ResponseError for RestError {
    fn status_code(&self) -> StatusCode {
        match self {
            RestError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            RestError::Forbidden(_) | RestError::EncryptedWorkspace(_) => StatusCode::FORBIDDEN,
            RestError::NotFound(_) => StatusCode::NOT_FOUND,
            // StackSync answers 400 when a name is taken.
            RestError::BadRequest(_) | RestError::NameTaken(_) => StatusCode::BAD_REQUEST,
            RestError::Conflict(_) => StatusCode::CONFLICT,
            RestError::QuotaExceeded(_) => StatusCode::PAYLOAD_TOO_LARGE,
            RestError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            RestError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            RestError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            RestError::InsufficientStorage(_) => StatusCode::INSUFFICIENT_STORAGE,
            RestError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            RestError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            RestError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            tracing::error!(error = %self, "REST request failed");
        }
        let mut response = HttpResponse::build(status);
        if status == StatusCode::UNAUTHORIZED {
            response.insert_header((header::WWW_AUTHENTICATE, "OAuth realm=\"nimbus\""));
        }
        if let RestError::MethodNotAllowed { allow } = self {
            response.insert_header((header::ALLOW, allow.as_str()));
        }
        if let RestError::TooManyRequests {
            retry_after_secs: Some(secs),
            ..
        } = self
        {
            response.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        response.json(serde_json::json!({
            "error": status.as_u16(),
            "code": self.code(),
            "description": self.to_string(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_bodies() {
        let cases = [
            (RestError::Unauthorized("x".into()), 401),
            (RestError::NotFound("x".into()), 404),
            (RestError::NameTaken("x".into()), 400),
            (RestError::Conflict("x".into()), 409),
            (RestError::EncryptedWorkspace("w".into()), 403),
            (
                RestError::TooManyRequests {
                    message: "slow down".into(),
                    retry_after_secs: Some(3),
                },
                429,
            ),
            (
                RestError::QuotaExceeded(QuotaRefusal {
                    message: "q".into(),
                    owners: true,
                }),
                413,
            ),
            (
                RestError::from_store(
                    "chunk ab",
                    crate::error::tests::storage_error(std::io::ErrorKind::StorageFull),
                ),
                507,
            ),
            (
                RestError::from_store(
                    "chunk ab",
                    crate::error::tests::storage_error(std::io::ErrorKind::Other),
                ),
                500,
            ),
        ];
        for (error, status) in cases {
            let response = error.error_response();
            assert_eq!(response.status().as_u16(), status, "{error}");
        }
        let unauthorized = RestError::Unauthorized("bad".into()).error_response();
        assert_eq!(
            unauthorized
                .headers()
                .get(header::WWW_AUTHENTICATE)
                .unwrap(),
            "OAuth realm=\"nimbus\""
        );
    }
}
