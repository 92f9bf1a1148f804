//! The version history of a file, read with the metadata servers'
//! `getVersions` (every version keeps its own name, place and chunks).
//! Shared by the REST API (`/v1/file/{id}/versions`) and the web UI's
//! versions page and trash.

use nimbus_protocol::RpcClient;
use nimbus_protocol::rpc::{
    DeviceToken, ErrorCode, ItemHistory, ItemState, Operation, WorkspaceInfo,
};
use uuid::Uuid;

use crate::error::rest::RestError;

/// The versions of a file, newest first, and the workspace it is in.
pub struct History {
    pub workspace: WorkspaceInfo,
    pub versions: Vec<ItemState>,
}

impl History {
    /// The history of `id`, read with `token`; a file in none of
    /// `workspaces` is "not found", as an unknown id is.
    pub async fn load(
        rpc: &RpcClient,
        token: &DeviceToken,
        workspaces: &[WorkspaceInfo],
        id: Uuid,
    ) -> Result<Self, RestError> {
        let not_found = || RestError::NotFound(format!("no file has the id {id}"));
        let history: ItemHistory = rpc
            .call(Some(token), Operation::GetVersions { item_id: id })
            .await
            .map_err(|error| match error.rpc_code() {
                // Unknown and other users' items look the same.
                Some(ErrorCode::Forbidden) => not_found(),
                _ => RestError::from_rpc(error),
            })?;
        let current = history.versions.first().ok_or_else(not_found)?;
        if current.is_folder {
            return Err(RestError::BadRequest(format!(
                "{id} is a folder: only files have versions"
            )));
        }
        let workspace = workspaces
            .iter()
            .find(|w| w.workspace_id == history.workspace_id)
            .cloned()
            .ok_or_else(not_found)?;
        Ok(Self {
            workspace,
            versions: history.versions,
        })
    }

    pub fn current(&self) -> &ItemState {
        &self.versions[0]
    }

    pub fn version(&self, number: u64) -> Result<&ItemState, RestError> {
        self.versions
            .iter()
            .find(|v| v.version == number)
            .ok_or_else(|| {
                RestError::NotFound(format!(
                    "the file {} has no version {number} (its latest is {})",
                    self.current().id,
                    self.current().version
                ))
            })
    }

    /// The newest version that holds content (not a deletion): what a
    /// deleted file is brought back with.
    pub fn latest_with_content(&self) -> Result<&ItemState, RestError> {
        self.versions.iter().find(|v| !v.deleted).ok_or_else(|| {
            RestError::NotFound(format!(
                "the file {} has no version with content",
                self.current().id
            ))
        })
    }
}

/// Refuses a version that records a deletion: it holds no content.
pub fn with_content(version: &ItemState) -> Result<&ItemState, RestError> {
    if version.deleted {
        return Err(RestError::NotFound(format!(
            "version {} of {} records its deletion and has no content",
            version.version, version.id
        )));
    }
    Ok(version)
}
