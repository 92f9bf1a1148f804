//! Public links in the REST API: `POST /v1/link` publishes a file, a folder
//! or a workspace's top at `/s/{token}` (the URL is in this answer only),
//! `GET /v1/links` lists the caller's links, `DELETE /v1/link/{id}` ends one.
//! The metadata servers authorize every call, as the caller's device (any
//! member may publish what they can read; see docs/sharing.md).

use actix_web::{HttpRequest, HttpResponse, web};
use nimbus_protocol::ClientError;
use nimbus_protocol::rpc::{CreateLinkArgs, CreatedLink, ErrorCode, LinkInfo, Operation, Password};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::rest::RestError;
use uuid::Uuid;

use super::{Parent, Session, parse_id};
use crate::state::RestState;

/// `POST /v1/link` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkRequest {
    /// A file or folder id, a workspace id (its top), or `0` (the top of the
    /// default workspace).
    id: String,
    /// RFC 3339.
    #[serde(default)]
    expires_at: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    max_downloads: Option<u64>,
}

async fn rpc<T: DeserializeOwned>(
    state: &RestState,
    session: &Session,
    operation: Operation,
) -> Result<T, ClientError> {
    state
        .rpc
        .call(Some(&session.caller.device_token), operation)
        .await
}

/// `POST /v1/link`: 201 `{"link": {...}, "url": "…/s/{token}"}`.
pub async fn create(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<RestState>,
) -> Result<HttpResponse, RestError> {
    let session = Session::start(&state, &req, None).await?;
    let request: LinkRequest = serde_json::from_slice(&body).map_err(|e| {
        RestError::BadRequest(format!(
            "the body must be JSON {{\"id\", \"expires_at\"?, \"password\"?, \
             \"max_downloads\"?}}: {e}"
        ))
    })?;
    let expires_at = request
        .expires_at
        .as_deref()
        .map(|text| {
            OffsetDateTime::parse(text, &Rfc3339)
                .map(|at| (at.unix_timestamp_nanos() / 1_000_000) as i64)
                .map_err(|e| {
                    RestError::BadRequest(format!("expires_at must be RFC 3339 ({text:?}: {e})"))
                })
        })
        .transpose()?;
    let (workspace_id, item_id) = match parse_id(&request.id)? {
        Parent::Root => (session.default_workspace()?.workspace_id, None),
        Parent::Folder(id) => match session.workspace_top(id) {
            Some(workspace) => (workspace.workspace_id, None),
            None => {
                let located = session.locate(&state, id).await?;
                (located.workspace.workspace_id, Some(id))
            }
        },
    };
    let created: CreatedLink = rpc(
        &state,
        &session,
        Operation::CreateLink(CreateLinkArgs {
            workspace_id,
            item_id,
            expires_at,
            password: request.password.map(Password),
            max_downloads: request.max_downloads,
        }),
    )
    .await
    .map_err(RestError::from_rpc)?;
    let url = format!("{}/s/{}", state.public_url, created.token.0);
    Ok(HttpResponse::Created().json(json!({ "link": created.link, "url": url })))
}

/// `GET /v1/links`: the caller's links, newest first, never their tokens.
pub async fn list(
    req: HttpRequest,
    state: web::Data<RestState>,
) -> Result<HttpResponse, RestError> {
    let session = Session::start(&state, &req, None).await?;
    let links: Vec<LinkInfo> = rpc(&state, &session, Operation::ListLinks)
        .await
        .map_err(RestError::from_rpc)?;
    Ok(HttpResponse::Ok().json(links))
}

/// `DELETE /v1/link/{id}`: 200 with the revoked link; another user's link is
/// not found.
pub async fn revoke(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<RestState>,
) -> Result<HttpResponse, RestError> {
    let link_id = Uuid::parse_str(path.trim())
        .map_err(|_| RestError::NotFound(format!("{:?} is not a link id", path.as_str())))?;
    let session = Session::start(&state, &req, None).await?;
    let link: LinkInfo = rpc(&state, &session, Operation::RevokeLink { link_id })
        .await
        .map_err(|error| match error.rpc_code() {
            Some(ErrorCode::Forbidden) => {
                RestError::NotFound(format!("{link_id} is not one of your links"))
            }
            _ => RestError::from_rpc(error),
        })?;
    Ok(HttpResponse::Ok().json(link))
}
