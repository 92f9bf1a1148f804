//! The JSON shapes of the REST API v2 (StackSync's `APIResponse`), with
//! Nimbus ids: items are named by their UUIDs (strings), and `parent_id` is
//! `null` at the top of the user's default workspace.

use nimbus_protocol::rpc::{CommitItem, ItemState, TimestampMillis, VersionStatus};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A file or folder.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Item {
    pub id: String,
    pub parent_id: Option<String>,
    pub filename: String,
    pub is_folder: bool,
    /// `NEW`, `CHANGED`, `RENAMED`, `MOVED` or `DELETED`.
    pub status: String,
    /// RFC 3339, UTC.
    pub modified_at: String,
    pub version: u64,
    /// `blake3:<hex>`, keyed by the workspace (files only).
    pub checksum: Option<String>,
    pub size: u64,
    pub mimetype: String,
    /// Chunk ids, in order (files only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunks: Option<Vec<String>>,
    /// Folders only: always `false` (the root is [`Root`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_root: Option<bool>,
    /// `GET /v1/folder/{id}`: the children.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contents: Option<Vec<Item>>,
    /// `GET /v1/file/{id}/versions`: every version, newest first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versions: Option<Vec<Item>>,
}

/// `GET /v1/folder/0`: the virtual root, the top of the default workspace.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Root {
    pub id: Option<String>,
    pub filename: String,
    pub is_folder: bool,
    pub is_root: bool,
    pub mimetype: String,
    pub size: u64,
    pub contents: Vec<Item>,
}

pub const FOLDER_MIMETYPE: &str = "inode/directory";
pub const EMPTY_MIMETYPE: &str = "inode/x-empty";

pub fn millis_to_rfc3339(millis: TimestampMillis) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

impl Item {
    pub fn from_state(item: &ItemState) -> Self {
        let mimetype = if item.is_folder {
            FOLDER_MIMETYPE.to_owned()
        } else if item.content.size == 0 {
            EMPTY_MIMETYPE.to_owned()
        } else {
            mimetype(&item.name).to_owned()
        };
        Self {
            id: item.id.to_string(),
            parent_id: item.parent_id.map(|p| p.to_string()),
            filename: item.name.clone(),
            is_folder: item.is_folder,
            status: item.status.as_str().to_owned(),
            modified_at: millis_to_rfc3339(item.modified_at),
            version: item.version,
            checksum: item.content.content_hash.clone(),
            size: item.content.size,
            mimetype,
            chunks: (!item.is_folder)
                .then(|| item.content.chunks.iter().map(|c| c.id.clone()).collect()),
            is_root: item.is_folder.then_some(false),
            contents: None,
            versions: None,
        }
    }
}

impl Item {
    /// The item as committed, from its outcome in a commit reply; an
    /// unchanged item keeps the status `unchanged` it had.
    pub fn from_outcome(
        item: &CommitItem,
        (version, status): (u64, Option<VersionStatus>),
        unchanged: VersionStatus,
    ) -> Self {
        Self::from_commit(item, version, status.unwrap_or(unchanged))
    }

    /// The item as committed: `version` and `status` from the commit reply.
    pub fn from_commit(item: &CommitItem, version: u64, status: VersionStatus) -> Self {
        Self::from_state(&ItemState {
            id: item.id,
            parent_id: item.parent_id,
            name: item.name.clone(),
            is_folder: item.is_folder,
            deleted: item.deleted,
            version,
            status,
            revision: 0,
            device_id: uuid::Uuid::nil(),
            modified_at: item.modified_at,
            committed_at: item.modified_at,
            moved_to: None,
            chunk_workspace: None,
            content: item.content.clone(),
        })
    }
}

/// A media type from the file name's extension; `application/octet-stream`
/// when unknown. The proxy never sniffs content (it may be any bytes).
pub fn mimetype(name: &str) -> &'static str {
    let Some((_, extension)) = name.rsplit_once('.') else {
        return "application/octet-stream";
    };
    match extension.to_ascii_lowercase().as_str() {
        "txt" | "text" | "log" => "text/plain",
        "md" => "text/markdown",
        "csv" => "text/csv",
        "html" | "htm" => "text/html",
        "css" => "text/css",
        "js" | "mjs" => "text/javascript",
        "json" => "application/json",
        "xml" => "application/xml",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "tar" => "application/x-tar",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "mp3" => "audio/mpeg",
        "ogg" => "audio/ogg",
        "wav" => "audio/wav",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "odt" => "application/vnd.oasis.opendocument.text",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mimetypes_and_dates() {
        assert_eq!(mimetype("a.TXT"), "text/plain");
        assert_eq!(mimetype("photo.jpeg"), "image/jpeg");
        assert_eq!(mimetype("Makefile"), "application/octet-stream");
        assert_eq!(
            millis_to_rfc3339(1_700_000_000_123),
            "2023-11-14T22:13:20.123Z"
        );
    }
}
