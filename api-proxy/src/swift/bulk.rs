//! Bulk delete (`POST` or `DELETE /v1/{account}?bulk-delete`): the body lists
//! URL-encoded `/container/object` or `/container` paths, one per line. Each
//! is authorized and deleted on its own; the reply counts what happened.
//! [`Report`] also answers `DELETE ?multipart-manifest=delete`.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use futures::StreamExt;
use serde_json::json;

use super::{RequestContext, body, path};
use crate::auth::acl::Access;
use crate::error::SwiftError;
use crate::index::DeleteContainerOutcome;

/// `max_deletes_per_request`.
pub const MAX_DELETES_PER_REQUEST: usize = 10_000;
/// `max_failed_deletes`.
pub const MAX_FAILED_DELETES: usize = 1_000;
/// The longest line a request may hold: an encoded container and object name.
const MAX_LINE: usize = 3 * (path::MAX_CONTAINER_NAME_LENGTH + path::MAX_OBJECT_NAME_LENGTH + 2);

/// What a bulk delete did.
#[derive(Debug, Default)]
pub struct Report {
    deleted: usize,
    not_found: usize,
    errors: Vec<(String, &'static str)>,
}

impl Report {
    /// Counts the outcome of deleting `path` (`Ok(false)`: it did not exist).
    pub fn record(&mut self, path: &str, outcome: Result<bool, SwiftError>) {
        match outcome {
            Ok(true) => self.deleted += 1,
            Ok(false) | Err(SwiftError::NotFound) => self.not_found += 1,
            Err(error) => self.errors.push((path.to_owned(), status_line(&error))),
        }
    }

    fn too_many_failures(&self) -> bool {
        self.errors.len() >= MAX_FAILED_DELETES
    }

    /// The reply: JSON when the client accepts it, else plain text.
    pub fn respond(&self, context: &RequestContext) -> HttpResponse {
        let status = if self.errors.is_empty() {
            "200 OK"
        } else {
            "400 Bad Request"
        };
        let wants_json = context
            .header(header::ACCEPT.as_str())
            .is_some_and(|accept| accept.contains("json"));
        if wants_json {
            let body = json!({
                "Number Deleted": self.deleted,
                "Number Not Found": self.not_found,
                "Response Body": "",
                "Response Status": status,
                "Errors": self.errors.iter().map(|(p, s)| json!([p, s])).collect::<Vec<_>>(),
            });
            return HttpResponse::Ok()
                .content_type("application/json; charset=utf-8")
                .body(body.to_string());
        }
        let mut text = format!(
            "Number Deleted: {}\nNumber Not Found: {}\nResponse Body: \nResponse Status: {status}\nErrors:\n",
            self.deleted, self.not_found
        );
        for (path, status) in &self.errors {
            text.push_str(&format!("{path}, {status}\n"));
        }
        HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body(text)
    }
}

fn status_line(error: &SwiftError) -> &'static str {
    match error {
        SwiftError::Unauthorized { .. } => "401 Unauthorized",
        SwiftError::Forbidden => "403 Forbidden",
        SwiftError::ContainerNotEmpty => "409 Conflict",
        SwiftError::BadRequest(_) | SwiftError::PreconditionFailed(_) => "400 Bad Request",
        _ => "500 Internal Error",
    }
}

async fn read_body(mut payload: web::Payload) -> Result<String, SwiftError> {
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| SwiftError::ClientDisconnect)?;
        body.extend_from_slice(&chunk);
        if body.len() > MAX_DELETES_PER_REQUEST * (MAX_LINE + 1) {
            return Err(SwiftError::TooLarge);
        }
    }
    String::from_utf8(body).map_err(|_| SwiftError::BadRequest("Invalid UTF-8 in body".into()))
}

/// Deletes an object the caller may write; `Ok(false)` means it did not exist.
pub async fn delete_object(
    context: &RequestContext,
    container: &str,
    object: &str,
) -> Result<bool, SwiftError> {
    context
        .authorize_container(container, Access::Write)
        .await?;
    let deleted = context
        .state
        .index
        .delete_object(&context.account, container, object)
        .await?;
    let Some(content) = deleted else {
        return Ok(false);
    };
    body::discard(context.state.blobs.as_ref(), &content).await;
    Ok(true)
}

/// Deletes one listed path.
async fn delete_path(context: &RequestContext, line: &str) -> Result<bool, SwiftError> {
    let decoded = path::decode(line)?;
    let trimmed = decoded.trim_start_matches('/');
    match trimmed.split_once('/') {
        Some((container, object)) if !object.is_empty() => {
            path::check_container_name(container)?;
            path::check_object_name(object)?;
            delete_object(context, container, object).await
        }
        _ => {
            let container = trimmed.trim_end_matches('/');
            path::check_container_name(container)?;
            context.authorize_container_admin(container)?;
            match context
                .state
                .index
                .delete_container(&context.account, container)
                .await?
            {
                DeleteContainerOutcome::Deleted => Ok(true),
                DeleteContainerOutcome::NotFound => Ok(false),
                DeleteContainerOutcome::NotEmpty => Err(SwiftError::ContainerNotEmpty),
            }
        }
    }
}

pub async fn delete(
    context: &RequestContext,
    payload: web::Payload,
) -> Result<HttpResponse, SwiftError> {
    if context.identity.is_none() {
        return Err(SwiftError::Unauthorized {
            realm: context.account.clone(),
        });
    }
    let body = read_body(payload).await?;
    let lines: Vec<&str> = body
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if lines.len() > MAX_DELETES_PER_REQUEST {
        return Err(SwiftError::TooLarge);
    }
    let mut report = Report::default();
    for line in lines {
        report.record(line, delete_path(context, line).await);
        if report.too_many_failures() {
            break;
        }
    }
    Ok(report.respond(context))
}
