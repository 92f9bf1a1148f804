//! `/v1/{account}/{container}`: PUT (create or update), POST (metadata and
//! ACLs), HEAD, GET (object listing) and DELETE (only when empty).

use actix_web::http::{Method, StatusCode};
use actix_web::{HttpResponse, HttpResponseBuilder};

use super::listing::{self, ListingParams, STORAGE_POLICY};
use super::metadata::{self, Scope};
use super::{RequestContext, quota, tempurl, versioning};
use crate::auth::acl::{self, Access};
use crate::error::{SwiftError, accepted_page};
use crate::index::{AclUpdate, ContainerInfo, ContainerUpdate, DeleteContainerOutcome};
use crate::sweeper;

pub async fn handle(context: &RequestContext, container: &str) -> Result<HttpResponse, SwiftError> {
    match context.req.method().clone() {
        Method::PUT => put(context, container).await,
        Method::POST => post(context, container).await,
        Method::HEAD => read(context, container, false).await,
        Method::GET => read(context, container, true).await,
        Method::DELETE => delete(context, container).await,
        _ => Err(SwiftError::MethodNotAllowed),
    }
}

/// One ACL header: absent → unchanged; empty or `X-Remove-…` (Swift's
/// `X-Remove-Container-Read` for `X-Container-Read`) → cleared.
fn read_acl(context: &RequestContext, name: &str, is_read: bool) -> Result<AclUpdate, SwiftError> {
    let remove = format!("x-remove-{}", name.trim_start_matches("x-"));
    if context.req.headers().contains_key(remove.as_str()) {
        return Ok(Some(None));
    }
    let Some(raw) = context.req.headers().get(name) else {
        return Ok(None);
    };
    let raw = raw
        .to_str()
        .map_err(|_| SwiftError::BadRequest(format!("{name} must be ASCII")))?;
    let normalized = acl::normalize(raw, is_read).map_err(SwiftError::BadRequest)?;
    Ok(Some((!normalized.is_empty()).then_some(normalized)))
}

/// The changes a container PUT or POST asks for. Without `privileged` (a
/// `read-write` user of the account ACL), ACLs, TempURL keys and the sync
/// key are left as they are, as Swift drops its owner-only headers from
/// such requests.
fn read_update(context: &RequestContext, privileged: bool) -> Result<ContainerUpdate, SwiftError> {
    let mut meta = metadata::read_update(context.req.headers(), Scope::Container)?;
    quota::check_container_update(&meta)?;
    if !privileged {
        tempurl::hide_keys(&mut meta.set);
        meta.remove
            .retain(|key| !tempurl::KEY_NAMES.contains(&key.as_str()));
        return Ok(ContainerUpdate {
            meta,
            versioning: versioning::read_update(context)?,
            ..ContainerUpdate::default()
        });
    }
    Ok(ContainerUpdate {
        meta,
        read_acl: read_acl(context, "x-container-read", true)?,
        write_acl: read_acl(context, "x-container-write", false)?,
        versioning: versioning::read_update(context)?,
        sync_key: read_sync_key(context),
    })
}

/// `X-Container-Sync-Key`: absent → unchanged; empty or
/// `X-Remove-Container-Sync-Key` → cleared.
fn read_sync_key(context: &RequestContext) -> AclUpdate {
    if context
        .req
        .headers()
        .contains_key("x-remove-container-sync-key")
    {
        return Some(None);
    }
    let key = context.header("x-container-sync-key")?;
    Some((!key.is_empty()).then(|| key.to_owned()))
}

/// Checks that `update` keeps the container's metadata within the limits.
async fn check_merged(
    context: &RequestContext,
    container: &str,
    update: &ContainerUpdate,
) -> Result<(), SwiftError> {
    if update.meta.set.is_empty() {
        return Ok(());
    }
    let existing = context
        .state
        .index
        .container(&context.account, container)
        .await?
        .map(|info| info.meta)
        .unwrap_or_default();
    metadata::check_merged(&existing, &update.meta)
}

async fn put(context: &RequestContext, container: &str) -> Result<HttpResponse, SwiftError> {
    let privileged = context.authorize_container_admin(container).await?;
    // An empty value asks for the default policy.
    if let Some(policy) = context.header("x-storage-policy")
        && !policy.is_empty()
        && !policy.eq_ignore_ascii_case(STORAGE_POLICY)
    {
        return Err(SwiftError::BadRequest(format!(
            "Invalid X-Storage-Policy {policy:?}"
        )));
    }
    let update = read_update(context, privileged)?;
    check_merged(context, container, &update).await?;
    let created = context
        .state
        .index
        .put_container(&context.account, container, &update)
        .await?;
    Ok(if created {
        HttpResponse::Created()
            .content_type("text/html; charset=UTF-8")
            .finish()
    } else {
        HttpResponse::Accepted()
            .content_type("text/html; charset=UTF-8")
            .body(accepted_page())
    })
}

async fn post(context: &RequestContext, container: &str) -> Result<HttpResponse, SwiftError> {
    let privileged = context.authorize_container_admin(container).await?;
    let update = read_update(context, privileged)?;
    check_merged(context, container, &update).await?;
    let found = context
        .state
        .index
        .update_container(&context.account, container, &update)
        .await?;
    if !found {
        return Err(SwiftError::NotFound);
    }
    Ok(HttpResponse::NoContent().finish())
}

/// A container's headers; ACLs, TempURL keys and the sync key only for
/// those who administer it.
fn container_headers(info: &ContainerInfo, show_acls: bool) -> HttpResponseBuilder {
    let mut response = HttpResponse::Ok();
    response
        .insert_header(("X-Container-Object-Count", info.object_count))
        .insert_header(("X-Container-Bytes-Used", info.bytes_used))
        .insert_header(("X-Timestamp", info.created.x_timestamp()))
        .insert_header(("Last-Modified", info.modified.http_date()))
        .insert_header(("X-Storage-Policy", STORAGE_POLICY))
        .insert_header(("Accept-Ranges", "bytes"));
    let mut meta = info.meta.clone();
    if !show_acls {
        tempurl::hide_keys(&mut meta);
    }
    metadata::write(&mut response, Scope::Container, &meta);
    versioning::write_headers(&mut response, info.versioning.as_ref());
    if show_acls {
        if let Some(read) = &info.acl.read {
            response.insert_header(("X-Container-Read", read.as_str()));
        }
        if let Some(write) = &info.acl.write {
            response.insert_header(("X-Container-Write", write.as_str()));
        }
        if let Some(sync_key) = &info.sync_key {
            response.insert_header(("X-Container-Sync-Key", sync_key.as_str()));
        }
    }
    response
}

async fn read(
    context: &RequestContext,
    container: &str,
    with_listing: bool,
) -> Result<HttpResponse, SwiftError> {
    context.authorize_container(container, Access::List).await?;
    let info = context
        .state
        .index
        .container(&context.account, container)
        .await?
        .ok_or(SwiftError::NotFound)?;
    let mut response = container_headers(&info, context.sees_privileged(container).await?);
    let params = ListingParams::parse(&context.query, context.req.headers())?;
    if !with_listing {
        return Ok(response
            .status(StatusCode::NO_CONTENT)
            .content_type(params.format.content_type())
            .finish());
    }
    let index = &context.state.index;
    let entries = listing::collect(&params, async |range| {
        index
            .list_objects(&context.account, container, &range)
            .await
    })
    .await?;
    Ok(listing::render(
        response,
        &entries,
        params.format,
        "container",
        container,
    ))
}

async fn delete(context: &RequestContext, container: &str) -> Result<HttpResponse, SwiftError> {
    context.authorize_container_admin(container).await?;
    // Expired objects are gone for clients, so they do not keep it from
    // being empty.
    sweeper::expire_in(
        context.state.index.as_ref(),
        context.state.blobs.as_ref(),
        Some((&context.account, container)),
    )
    .await?;
    match context
        .state
        .index
        .delete_container(&context.account, container)
        .await?
    {
        DeleteContainerOutcome::Deleted => Ok(HttpResponse::NoContent().finish()),
        DeleteContainerOutcome::NotFound => Err(SwiftError::NotFound),
        DeleteContainerOutcome::NotEmpty => Err(SwiftError::ContainerNotEmpty),
    }
}
