//! `/v1/{account}`: HEAD and GET (container listing) and POST (metadata).
//! Accounts are created implicitly; PUT and DELETE of an account are not
//! allowed.

use actix_web::http::Method;
use actix_web::{HttpResponse, HttpResponseBuilder};

use super::listing::{self, ListingParams};
use super::metadata::{self, Scope};
use super::{RequestContext, info, quota, tempurl};
use crate::auth::acl::AccountAcl;
use crate::error::SwiftError;
use crate::index::AccountInfo;
use crate::timestamp::Timestamp;

const ACCESS_CONTROL: &str = "x-account-access-control";

pub async fn handle(context: &RequestContext) -> Result<HttpResponse, SwiftError> {
    let method = context.req.method().clone();
    match method {
        Method::HEAD | Method::GET => read(context, method == Method::GET).await,
        Method::POST => {
            // The installation's administrators may set any account's
            // quotas, and nothing else of it; all else is for its owners.
            let installation_admin = context.is_installation_admin();
            if !installation_admin {
                context.authorize_account().await?;
            }
            let mut update = metadata::read_update(context.req.headers(), Scope::Account)?;
            let quotas = quota::take_account_update(context, &mut update)?;
            let access_control = read_access_control(context)?;
            let owners_request = quotas.is_none()
                || !update.set.is_empty()
                || !update.remove.is_empty()
                || access_control.is_some();
            if installation_admin && owners_request {
                context.authorize_account().await?;
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
            if let Some(acl) = access_control {
                index
                    .set_account_access_control(&context.account, acl.to_header().as_deref())
                    .await?;
            }
            Ok(HttpResponse::NoContent().finish())
        }
        _ => Err(SwiftError::MethodNotAllowed),
    }
}

/// The account ACL a POST sets (`X-Account-Access-Control`; empty or `{}`
/// removes it), checked as TempAuth checks it: `400` for anything else than
/// its JSON object of `admin`, `read-write` and `read-only` lists of names,
/// and, as Swift's HTTP server does, for a value past `max_header_size`.
fn read_access_control(context: &RequestContext) -> Result<Option<AccountAcl>, SwiftError> {
    let Some(value) = context.req.headers().get(ACCESS_CONTROL) else {
        return Ok(None);
    };
    let invalid = |reason: String| {
        SwiftError::BadRequest(format!(
            "X-Account-Access-Control invalid: {reason}\n\nInput: {}\n",
            String::from_utf8_lossy(value.as_bytes())
        ))
    };
    if value.len() > info::MAX_HEADER_SIZE {
        return Err(invalid(format!(
            "longer than {} bytes",
            info::MAX_HEADER_SIZE
        )));
    }
    let raw = std::str::from_utf8(value.as_bytes()).map_err(|_| invalid("not UTF-8".into()))?;
    AccountAcl::parse(raw).map(Some).map_err(invalid)
}

/// An account's headers; its ACL and TempURL keys only for those who
/// administer it (`privileged`).
fn account_headers(info: &AccountInfo, privileged: bool) -> HttpResponseBuilder {
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
    let mut meta = info.meta.clone();
    if privileged {
        if let Some(acl) = &info.access_control {
            response.insert_header((ACCESS_CONTROL, acl.as_str()));
        }
    } else {
        tempurl::hide_keys(&mut meta);
    }
    metadata::write(&mut response, Scope::Account, &meta);
    quota::write_account_quotas(&mut response, &info.quotas);
    response
}

async fn read(context: &RequestContext, with_listing: bool) -> Result<HttpResponse, SwiftError> {
    context.authorize_account_read().await?;
    let index = &context.state.index;
    let info = index.account(&context.account).await?;
    let mut response = account_headers(&info, context.is_owner().await?);
    let params = ListingParams::parse(&context.query, context.req.headers())?;
    if !with_listing {
        return Ok(response
            .status(actix_web::http::StatusCode::NO_CONTENT)
            .content_type(params.format.content_type())
            .finish());
    }
    // The containers of workspaces transferred to other accounts stay in
    // this one but are not its own any more: its administrators and ACL
    // users can neither open nor change them, so they are not listed.
    let transferred = context
        .state
        .auth
        .transferred_containers(&context.account)
        .await?;
    let entries = listing::collect(&params, async |range| {
        index
            .list_containers(&context.account, &range, &transferred)
            .await
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
