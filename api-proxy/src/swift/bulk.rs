//! Bulk delete (`POST` or `DELETE /v1/{account}?bulk-delete`): the body lists
//! URL-encoded `/container/object` or `/container` paths, one per line. Each
//! is authorized and deleted on its own; the reply counts what happened.
//! Chunks that file versions need are refused (409) and stay.
//! [`Report`] also answers `DELETE ?multipart-manifest=delete`.

use std::collections::{HashMap, HashSet};

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use futures::StreamExt;

use super::heartbeat::{self, ResultFormat};
use super::{RequestContext, body, chunk_guard, path, versioning};
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
            Err(error) => self.errors.push((path.to_owned(), error_status(&error))),
        }
    }

    fn too_many_failures(&self) -> bool {
        self.errors.len() >= MAX_FAILED_DELETES
    }

    /// The reply: `200 OK` with the summary in the format `Accept` picks.
    pub fn respond(&self, context: &RequestContext) -> HttpResponse {
        let status = if self.errors.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::BAD_REQUEST
        };
        let fields = [
            ("Number Deleted", self.deleted.into()),
            ("Number Not Found", self.not_found.into()),
            ("Response Body", "".into()),
            ("Response Status", heartbeat::status_line(status).into()),
        ];
        let errors: Vec<(String, String)> = self
            .errors
            .iter()
            .map(|(path, status)| (path.clone(), (*status).to_owned()))
            .collect();
        summary_response(context, &fields, &errors, "delete")
    }
}

/// `200 OK` with a summary in the format `Accept` picks, or, when it
/// accepts none of them, a plain-text one saying `406 Not Acceptable`
/// instead (Swift's bulk answers so, its status line sent before it looks).
pub fn summary_response(
    context: &RequestContext,
    fields: &[(&str, serde_json::Value)],
    errors: &[(String, String)],
    root: &str,
) -> HttpResponse {
    match ResultFormat::from_request(context) {
        Some(format) => HttpResponse::Ok()
            .content_type(format.content_type())
            .body(format.render(fields, errors, root)),
        None => HttpResponse::Ok()
            .content_type(ResultFormat::Text.content_type())
            .body(ResultFormat::Text.render(&not_acceptable(), &[], root)),
    }
}

/// The summary of a request whose `Accept` takes none of the formats.
pub fn not_acceptable() -> Vec<(&'static str, serde_json::Value)> {
    vec![
        ("Response Body", "".into()),
        (
            "Response Status",
            heartbeat::status_line(StatusCode::NOT_ACCEPTABLE).into(),
        ),
    ]
}

fn error_status(error: &SwiftError) -> &'static str {
    match error {
        SwiftError::Unauthorized { .. } => "401 Unauthorized",
        SwiftError::Forbidden => "403 Forbidden",
        SwiftError::ContainerNotEmpty | SwiftError::ChunkInUse(_) => "409 Conflict",
        SwiftError::BadRequest(_) | SwiftError::PreconditionFailed(_) => "400 Bad Request",
        _ => "500 Internal Error",
    }
}

async fn read_body(mut payload: web::Payload) -> Result<String, SwiftError> {
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk?;
        body.extend_from_slice(&chunk);
        if body.len() > MAX_DELETES_PER_REQUEST * (MAX_LINE + 1) {
            return Err(SwiftError::TooLarge);
        }
    }
    String::from_utf8(body).map_err(|_| SwiftError::BadRequest("Invalid UTF-8 in body".into()))
}

/// Deletes an object the caller may write; `Ok(false)` means it did not
/// exist. A chunk a file version needs is refused ([`chunk_guard`]).
pub async fn delete_object(
    context: &RequestContext,
    container: &str,
    object: &str,
) -> Result<bool, SwiftError> {
    context
        .authorize_container(container, Access::Write)
        .await?;
    chunk_guard::refuse_if_referenced(context, &context.account, container, object).await?;
    remove_object(context, container, object).await
}

/// Deletes an object whose deletion is authorized and guarded (as its
/// container's versioning says, if it has any).
async fn remove_object(
    context: &RequestContext,
    container: &str,
    object: &str,
) -> Result<bool, SwiftError> {
    if let Some(deleted) = versioning::delete_object(context, container, object).await? {
        return Ok(deleted);
    }
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

/// One line of a bulk delete.
enum Listed {
    Object { container: String, object: String },
    Container(String),
}

fn parse_line(line: &str) -> Result<Listed, SwiftError> {
    let decoded = path::decode(line)?;
    let trimmed = decoded.trim_start_matches('/');
    match trimmed.split_once('/') {
        Some((container, object)) if !object.is_empty() => {
            path::check_container_name(container)?;
            path::check_object_name(object)?;
            Ok(Listed::Object {
                container: container.to_owned(),
                object: object.to_owned(),
            })
        }
        _ => {
            let container = trimmed.trim_end_matches('/');
            path::check_container_name(container)?;
            Ok(Listed::Container(container.to_owned()))
        }
    }
}

/// The chunks among the listed objects that file versions need, per
/// container: one `referencedChunks` per container the caller may write to,
/// instead of one per line.
async fn chunks_in_use(
    context: &RequestContext,
    listed: &[Result<Listed, SwiftError>],
) -> Result<HashMap<String, HashSet<String>>, SwiftError> {
    let mut objects: HashMap<&str, Vec<&str>> = HashMap::new();
    for entry in listed {
        if let Ok(Listed::Object { container, object }) = entry {
            objects.entry(container).or_default().push(object);
        }
    }
    let mut in_use = HashMap::new();
    for (container, names) in objects {
        // Lines the caller may not write are refused one by one anyway.
        if context
            .authorize_container(container, Access::Write)
            .await
            .is_ok()
        {
            let referenced =
                chunk_guard::referenced(context, &context.account, container, names).await?;
            in_use.insert(container.to_owned(), referenced);
        }
    }
    Ok(in_use)
}

/// Deletes one listed path.
async fn delete_listed(
    context: &RequestContext,
    listed: Listed,
    in_use: &HashMap<String, HashSet<String>>,
) -> Result<bool, SwiftError> {
    match listed {
        Listed::Object { container, object } => {
            context
                .authorize_container(&container, Access::Write)
                .await?;
            match in_use.get(&container) {
                Some(chunks) if chunks.contains(&object) => {
                    return Err(SwiftError::ChunkInUse(object));
                }
                Some(_) => {}
                // Writable only since the batch was asked about.
                None => {
                    chunk_guard::refuse_if_referenced(
                        context,
                        &context.account,
                        &container,
                        &object,
                    )
                    .await?;
                }
            }
            remove_object(context, &container, &object).await
        }
        Listed::Container(container) => {
            context.authorize_container_admin(&container).await?;
            match context
                .state
                .index
                .delete_container(&context.account, &container)
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
    let listed: Vec<Result<Listed, SwiftError>> = lines.iter().map(|l| parse_line(l)).collect();
    let in_use = chunks_in_use(context, &listed).await?;
    let mut report = Report::default();
    for (line, entry) in lines.into_iter().zip(listed) {
        let outcome = match entry {
            Ok(entry) => delete_listed(context, entry, &in_use).await,
            Err(error) => Err(error),
        };
        report.record(line, outcome);
        if report.too_many_failures() {
            break;
        }
    }
    Ok(report.respond(context))
}
