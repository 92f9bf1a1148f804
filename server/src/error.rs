//! Errors of the operations, and their mapping to protocol errors, in one place.

use std::time::Duration;

use nimbus_protocol::rpc::{ErrorCode, RpcError};
use thiserror::Error;

use crate::storage::StoreError;

#[derive(Debug, Error)]
pub enum OperationError {
    #[error("{0}")]
    BadRequest(String),
    #[error("this request needs a valid device token; log in again")]
    Unauthenticated,
    #[error("wrong user name or password")]
    InvalidCredentials,
    #[error("too many failed logins for this user; try again in {} s", .0.as_secs().max(1))]
    TooManyAttempts(Duration),
    /// The device is over its request rate ([`crate::rate`]).
    #[error(
        "this device sends more requests than a server takes from one device; wait {} s and \
         send fewer at once",
        .0.as_secs().max(1)
    )]
    TooManyRequests(Duration),
    /// A public link's password is missing or wrong; the text says which.
    #[error("{0}")]
    LinkPassword(&'static str),
    #[error("too many wrong passwords for this link; try again in {} s", .0.as_secs().max(1))]
    TooManyLinkAttempts(Duration),
    #[error("this account is disabled; ask your administrator")]
    AccountDisabled,
    #[error("{0}")]
    Forbidden(&'static str),
    /// An OAuth request that does not verify; the text says why.
    #[error("OAuth: {0}")]
    OAuth(String),
    /// A `subscribe` for a queue that does not exist (any more).
    #[error(
        "the queue {0} does not exist; it is deleted when its consumer goes away, so declare \
         and consume a new one, then subscribe again"
    )]
    QueueNotFound(String),
    /// A `subscribe` for an exclusive queue, which only the connection that
    /// declared it may bind.
    #[error(
        "the queue {0} is exclusive to the connection that declared it, so no server can bind \
         it; declare it without `exclusive` (auto-delete removes it with its consumer)"
    )]
    QueueExclusive(String),
    /// A commit to a workspace shared with the caller would exceed the quota
    /// of its owner, who is charged for every byte in it.
    #[error(
        "the owner of this shared workspace has no quota left for this change: it needs \
         {needed} more bytes and the owner's quota has {available} left; nothing was written. \
         Ask the owner to free space or get a larger quota"
    )]
    OwnerQuotaExceeded { needed: u64, available: u64 },
    #[error("the message broker failed: {0}")]
    Broker(#[source] lapin::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl OperationError {
    /// Whether the request should be retried later rather than answered:
    /// the database is down, and another attempt (maybe by another server)
    /// can succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, OperationError::Store(StoreError::Unavailable(_)))
    }

    pub fn to_rpc(&self) -> RpcError {
        let code = match self {
            OperationError::BadRequest(_)
            | OperationError::QueueNotFound(_)
            | OperationError::QueueExclusive(_) => ErrorCode::BadRequest,
            OperationError::Unauthenticated | OperationError::OAuth(_) => {
                ErrorCode::Unauthenticated
            }
            OperationError::InvalidCredentials | OperationError::LinkPassword(_) => {
                ErrorCode::InvalidCredentials
            }
            OperationError::TooManyAttempts(_) | OperationError::TooManyLinkAttempts(_) => {
                ErrorCode::TooManyAttempts
            }
            OperationError::TooManyRequests(_) => ErrorCode::TooManyRequests,
            OperationError::AccountDisabled => ErrorCode::AccountDisabled,
            OperationError::Forbidden(_) => ErrorCode::Forbidden,
            OperationError::Store(StoreError::QuotaExceeded { .. }) => ErrorCode::QuotaExceeded,
            OperationError::OwnerQuotaExceeded { .. } => ErrorCode::OwnerQuotaExceeded,
            OperationError::Store(StoreError::RequestIdReused(_)) => ErrorCode::RequestIdReused,
            OperationError::Store(StoreError::ContentMissing(_)) => ErrorCode::ContentMissing,
            OperationError::Store(StoreError::AlreadyExists(_) | StoreError::Refused(_)) => {
                ErrorCode::BadRequest
            }
            OperationError::Broker(_) | OperationError::Store(StoreError::Unavailable(_)) => {
                ErrorCode::Unavailable
            }
            OperationError::Store(StoreError::Database(_) | StoreError::Corrupt(_)) => {
                ErrorCode::Internal
            }
        };
        let message = match self {
            // Details of internal failures stay in the server's log.
            OperationError::Store(StoreError::Database(_) | StoreError::Corrupt(_)) => {
                "internal error in the metadata server; see its log".to_owned()
            }
            other => other.to_string(),
        };
        RpcError {
            code,
            message,
            retry_after_secs: match self {
                OperationError::TooManyAttempts(wait)
                | OperationError::TooManyLinkAttempts(wait)
                | OperationError::TooManyRequests(wait) => Some(wait.as_secs().max(1)),
                OperationError::Broker(_) | OperationError::Store(StoreError::Unavailable(_)) => {
                    Some(5)
                }
                _ => None,
            },
        }
    }
}
