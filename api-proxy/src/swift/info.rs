//! `GET /info`: the capabilities of this server, as Swift's `/info`. Only what
//! is implemented is advertised (clients act on it: python-swiftclient uses
//! bulk delete only when `bulk_delete` is listed, and SLO only when `slo` is).

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::body::MAX_FILE_SIZE;
use super::bulk::{MAX_DELETES_PER_REQUEST, MAX_FAILED_DELETES};
use super::extract::{MAX_CONTAINERS_PER_EXTRACTION, MAX_FAILED_EXTRACTIONS};
use super::large::{MAX_MANIFEST_SEGMENTS, MAX_MANIFEST_SIZE, MIN_SEGMENT_SIZE};
use super::listing::{LISTING_LIMIT, STORAGE_POLICY};
use super::metadata::{
    MAX_META_COUNT, MAX_META_NAME_LENGTH, MAX_META_OVERALL_SIZE, MAX_META_VALUE_LENGTH,
};
use super::path::{MAX_ACCOUNT_NAME_LENGTH, MAX_CONTAINER_NAME_LENGTH, MAX_OBJECT_NAME_LENGTH};
use super::{heartbeat, symlink, tempurl, versioning};
use crate::config::Settings;
use crate::state::AppState;

/// Largest request header block actix accepts by default.
pub const MAX_HEADER_SIZE: usize = 8192;

pub fn document(settings: &Settings) -> serde_json::Value {
    let mut tempurl = json!({
        "methods": tempurl::METHODS,
        "incoming_remove_headers": [],
        "incoming_allow_headers": [],
        "outgoing_remove_headers": ["x-object-meta-*"],
        "outgoing_allow_headers": ["x-object-meta-public-*"],
        "allowed_digests": tempurl::allowed_digests(settings.tempurl_allow_sha1),
    });
    if settings.tempurl_allow_sha1 {
        tempurl["deprecated_digests"] = json!(["sha1"]);
    }
    json!({
        "swift": {
            "version": concat!("nimbus-", env!("CARGO_PKG_VERSION")),
            "policies": [{"name": STORAGE_POLICY, "default": true}],
            "max_file_size": MAX_FILE_SIZE,
            "max_meta_name_length": MAX_META_NAME_LENGTH,
            "max_meta_value_length": MAX_META_VALUE_LENGTH,
            "max_meta_count": MAX_META_COUNT,
            "max_meta_overall_size": MAX_META_OVERALL_SIZE,
            "max_header_size": MAX_HEADER_SIZE,
            "max_object_name_length": MAX_OBJECT_NAME_LENGTH,
            "container_listing_limit": LISTING_LIMIT,
            "account_listing_limit": LISTING_LIMIT,
            "max_account_name_length": MAX_ACCOUNT_NAME_LENGTH,
            "max_container_name_length": MAX_CONTAINER_NAME_LENGTH,
            "extra_header_count": 0,
            "allow_account_management": false,
            "account_autocreate": true,
            "strict_cors_mode": true,
        },
        "tempauth": {"account_acls": true},
        "dlo": {},
        "slo": {
            "max_manifest_segments": MAX_MANIFEST_SEGMENTS,
            "max_manifest_size": MAX_MANIFEST_SIZE,
            "min_segment_size": MIN_SEGMENT_SIZE,
            "yield_frequency": heartbeat::YIELD_FREQUENCY.as_secs(),
        },
        "bulk_upload": {
            "max_containers_per_extraction": MAX_CONTAINERS_PER_EXTRACTION,
            "max_failed_extractions": MAX_FAILED_EXTRACTIONS,
        },
        "bulk_delete": {
            "max_deletes_per_request": MAX_DELETES_PER_REQUEST,
            "max_failed_deletes": MAX_FAILED_DELETES,
        },
        "tempurl": tempurl,
        "container_quotas": {},
        "account_quotas": {},
        "symlink": symlink::info(),
        "versioned_writes": {"allowed_flags": versioning::ALLOWED_FLAGS},
    })
}

pub async fn get(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json; charset=utf-8")
        .body(document(&state.settings).to_string())
}
