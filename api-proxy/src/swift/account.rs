//! `/v1/{account}`: HEAD and GET (container listing), POST (metadata), and
//! bulk delete (`POST` or `DELETE` with `?bulk-delete`). Accounts are created
//! implicitly; PUT and DELETE of an account are not allowed.

use actix_web::http::Method;
use actix_web::{HttpResponse, HttpResponseBuilder, web};

use super::listing::{self, ListingParams};
use super::metadata::{self, Scope};
use super::{RequestContext, bulk, quota};
use crate::error::SwiftError;
use crate::index::AccountInfo;
use crate::timestamp::Timestamp;

pub async fn handle(
    context: &RequestContext,
    payload: web::Payload,
) -> Result<HttpResponse, SwiftError> {
    let method = context.req.method().clone();
    if context.query_value("bulk-delete").is_some()
        && (method == Method::POST || method == Method::DELETE)
    {
        return bulk::delete(context, payload).await;
    }
    match method {
        Method::HEAD | Method::GET => read(context, method == Method::GET).await,
        Method::POST => {
            // The installation's administrators may set any account's
            // quotas, and nothing else of it; all else is for its owners.
            let installation_admin = context.is_installation_admin();
            if !installation_admin {
                context.authorize_account()?;
            }
            let mut update = metadata::read_update(context.req.headers(), Scope::Account)?;
            let quotas = quota::take_account_update(context, &mut update)?;
            let owners_request =
                quotas.is_none() || !update.set.is_empty() || !update.remove.is_empty();
            if installation_admin && owners_request {
                context.authorize_account()?;
            }
            if !update.set.is_empty() {
                let existing = context.state.index.account(&context.account).await?.meta;
                metadata::check_merged(&existing, &update)?;
            }
            let index = &context.state.index;
            if let Some(quotas) = quotas {
                index
                    .update_account_quotas(&context.account, &quotas)
                    .await?;
            }
            if owners_request {
                index.update_account(&context.account, &update).await?;
            }
            Ok(HttpResponse::NoContent().finish())
        }
        _ => Err(SwiftError::MethodNotAllowed),
    }
}

fn account_headers(info: &AccountInfo) -> HttpResponseBuilder {
    let mut response = HttpResponse::Ok();
    response
        .insert_header(("X-Account-Container-Count", info.container_count))
        .insert_header(("X-Account-Object-Count", info.object_count))
        .insert_header(("X-Account-Bytes-Used", info.bytes_used))
        .insert_header((
            "X-Timestamp",
            info.created.unwrap_or_else(Timestamp::now).x_timestamp(),
        ))
        .insert_header(("Accept-Ranges", "bytes"));
    metadata::write(&mut response, Scope::Account, &info.meta);
    quota::write_account_quotas(&mut response, &info.quotas);
    response
}

async fn read(context: &RequestContext, with_listing: bool) -> Result<HttpResponse, SwiftError> {
    context.authorize_account()?;
    let index = &context.state.index;
    let info = index.account(&context.account).await?;
    let mut response = account_headers(&info);
    let params = ListingParams::parse(&context.query, context.req.headers())?;
    if !with_listing {
        return Ok(response
            .status(actix_web::http::StatusCode::NO_CONTENT)
            .content_type(params.format.content_type())
            .finish());
    }
    let entries = listing::collect(&params, async |range| {
        index.list_containers(&context.account, &range).await
    })
    .await?;
    Ok(listing::render(
        response,
        &entries,
        params.format,
        "account",
        &context.account,
    ))
}
