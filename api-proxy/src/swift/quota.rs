//! Quotas, Swift's `container_quotas` and `account_quotas` middleware.
//!
//! * A container's owners limit it with `X-Container-Meta-Quota-Bytes` and
//!   `X-Container-Meta-Quota-Count` (ordinary container metadata, whose
//!   values must be whole numbers).
//! * The installation's administrators (Swift's reseller admins) limit an
//!   account with `X-Account-Quota-Bytes` (also spelt
//!   `X-Account-Meta-Quota-Bytes`, Swift's older form),
//!   `X-Account-Quota-Count`, and the same per storage policy
//!   (`X-Account-Quota-Bytes-Policy-default`); they may do so on any
//!   account. The account's users see them on `HEAD` and cannot change them.
//!
//! Every object write (PUT, copy, SLO manifest) is checked before anything
//! is stored: the bytes it declares (`Content-Length`, or the size of the
//! copied source) added to what the container and the account hold must
//! stay within their byte quotas, and one more object within their count
//! quotas; otherwise 413. A body without a length (chunked) may only grow
//! to the room left. As in Swift, an overwrite counts in full (the object
//! it replaces is not subtracted), an SLO manifest counts as its JSON, and
//! concurrent writes are each checked against the usage before them.

use actix_web::HttpResponseBuilder;
use actix_web::http::header::HeaderMap;

use super::RequestContext;
use super::listing::STORAGE_POLICY;
use crate::error::SwiftError;
use crate::index::{Metadata, MetadataUpdate, UploadLimits};

/// The container metadata keys that hold its quotas.
const CONTAINER_QUOTA_BYTES: &str = "quota-bytes";
const CONTAINER_QUOTA_COUNT: &str = "quota-count";

/// The account quotas: each is the header `X-Account-<key>` (and
/// `X-Remove-Account-<key>`) and its stored key.
fn account_quota_keys() -> [String; 4] {
    let policy = STORAGE_POLICY.to_ascii_lowercase();
    [
        "quota-bytes".to_owned(),
        "quota-count".to_owned(),
        format!("quota-bytes-policy-{policy}"),
        format!("quota-count-policy-{policy}"),
    ]
}

/// The older spelling of `quota-bytes`, which an account metadata update
/// would otherwise take for user metadata.
const LEGACY_KEY: &str = "quota-bytes";

/// Checks the quota values of a container PUT or POST: whole numbers (an
/// empty value removes the quota, as for any metadata).
pub fn check_container_update(meta: &MetadataUpdate) -> Result<(), SwiftError> {
    let invalid = |key: &str| {
        meta.set
            .get(key)
            .is_some_and(|value| value.parse::<u64>().is_err())
    };
    if invalid(CONTAINER_QUOTA_BYTES) {
        return Err(SwiftError::BadRequest("Invalid bytes quota.".into()));
    }
    if invalid(CONTAINER_QUOTA_COUNT) {
        return Err(SwiftError::BadRequest("Invalid count quota.".into()));
    }
    Ok(())
}

/// Takes the account quota changes out of an account POST: the
/// `X-Account-Quota-*` headers, and the legacy `X-Account-Meta-Quota-Bytes`
/// that `meta` (the request's metadata update) read as user metadata and
/// loses here. `None` when the request changes no quota; refused unless the
/// caller administers the installation.
pub fn take_account_update(
    context: &RequestContext,
    meta: &mut MetadataUpdate,
) -> Result<Option<MetadataUpdate>, SwiftError> {
    let headers = context.req.headers();
    let legacy_set = meta.set.remove(LEGACY_KEY);
    let legacy_removed = meta.remove.iter().any(|key| key == LEGACY_KEY);
    meta.remove.retain(|key| key != LEGACY_KEY);
    let mut update = MetadataUpdate::default();
    for key in account_quota_keys() {
        let legacy = key == LEGACY_KEY;
        let mut value = header_text(headers, &format!("x-account-{key}"))?;
        if legacy && value.as_deref().is_none_or(str::is_empty) && legacy_set.is_some() {
            value.clone_from(&legacy_set);
        }
        // As in Swift, a removal wins over a value sent beside it.
        let removed = headers.contains_key(format!("x-remove-account-{key}").as_str())
            || (legacy && legacy_removed);
        match value {
            _ if removed => update.remove.push(key),
            Some(value) if value.is_empty() => update.remove.push(key),
            Some(value) => {
                update.set.insert(key, value);
            }
            None => {}
        }
    }
    if update.set.is_empty() && update.remove.is_empty() {
        return Ok(None);
    }
    if !context.is_installation_admin() {
        return Err(context.denied());
    }
    if let Some((key, _)) = update.set.iter().find(|(_, v)| v.parse::<u64>().is_err()) {
        return Err(SwiftError::BadRequest(format!(
            "Invalid value for X-Account-{key}"
        )));
    }
    Ok(Some(update))
}

fn header_text(headers: &HeaderMap, name: &str) -> Result<Option<String>, SwiftError> {
    headers
        .get(name)
        .map(|value| {
            value
                .to_str()
                .map(|v| v.trim().to_owned())
                .map_err(|_| SwiftError::BadRequest(format!("Invalid value for {name}")))
        })
        .transpose()
}

/// Adds an account's quotas to its `HEAD`/`GET` answer.
pub fn write_account_quotas(response: &mut HttpResponseBuilder, quotas: &Metadata) {
    for (key, value) in quotas {
        response.insert_header((format!("x-account-{key}"), value.as_str()));
    }
}

/// A quota (the smallest of `keys` that are set), if any.
fn limit(values: &Metadata, keys: &[&str]) -> Option<u64> {
    keys.iter()
        .filter_map(|key| values.get(*key)?.parse::<u64>().ok())
        .min()
}

/// The room `quota` leaves beside `used` for a write of `declared` bytes.
fn room(quota: Option<u64>, used: u64, declared: u64) -> Result<u64, SwiftError> {
    let Some(quota) = quota else {
        return Ok(u64::MAX);
    };
    match quota.checked_sub(used) {
        Some(room) if declared <= room => Ok(room),
        _ => Err(SwiftError::QuotaExceeded),
    }
}

/// Checks a write of `declared` bytes (0 when unknown) as one more object
/// into `container` of `account`, and returns the most bytes its body may
/// have. A missing container passes (the write then fails with 404).
pub async fn upload_room(
    context: &RequestContext,
    (account, container): (&str, &str),
    declared: u64,
) -> Result<u64, SwiftError> {
    let limits = context
        .state
        .index
        .upload_limits(account, container, None)
        .await?;
    room_within(context, (account, container), limits.as_ref(), declared).await
}

/// [`upload_room`] with the container's `limits` already read (`None`: the
/// container is missing).
pub async fn room_within(
    context: &RequestContext,
    (account, container): (&str, &str),
    limits: Option<&UploadLimits>,
    declared: u64,
) -> Result<u64, SwiftError> {
    let index = &context.state.index;
    let Some(limits) = limits else {
        return Ok(u64::MAX);
    };
    let mut left = u64::MAX;
    let container_bytes = limit(&limits.container_meta, &[CONTAINER_QUOTA_BYTES]);
    let container_count = limit(&limits.container_meta, &[CONTAINER_QUOTA_COUNT]);
    if container_bytes.is_some() || container_count.is_some() {
        let usage = index
            .container(account, container)
            .await?
            .ok_or(SwiftError::NotFound)?;
        room(container_count, usage.object_count, 1)?;
        left = left.min(room(container_bytes, usage.bytes_used, declared)?);
    }
    let [bytes, count, policy_bytes, policy_count] = account_quota_keys();
    // One storage policy: its quotas bound the same usage as the account's.
    let account_bytes = limit(&limits.account_quotas, &[&bytes, &policy_bytes]);
    let account_count = limit(&limits.account_quotas, &[&count, &policy_count]);
    if account_bytes.is_some() || account_count.is_some() {
        let usage = index.account(account).await?;
        room(account_count, usage.object_count, 1)?;
        left = left.min(room(account_bytes, usage.bytes_used, declared)?);
    }
    Ok(left)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_follows_swift_arithmetic() {
        assert_eq!(room(None, 10, 5).unwrap(), u64::MAX);
        assert_eq!(room(Some(10), 4, 6).unwrap(), 6);
        assert!(matches!(
            room(Some(10), 4, 7),
            Err(SwiftError::QuotaExceeded)
        ));
        // Already past the quota: even an empty write is refused.
        assert!(room(Some(10), 11, 0).is_err());
    }

    #[test]
    fn container_quotas_must_be_numbers() {
        let update = |key: &str, value: &str| MetadataUpdate {
            set: Metadata::from([(key.to_owned(), value.to_owned())]),
            remove: vec![],
        };
        assert!(check_container_update(&update("quota-bytes", "100")).is_ok());
        assert!(check_container_update(&update("quota-bytes", "1e3")).is_err());
        assert!(check_container_update(&update("quota-count", "-1")).is_err());
        assert!(check_container_update(&update("color", "blue")).is_ok());
    }
}
