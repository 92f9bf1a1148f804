//! The Swift API under `/v1/`: [`dispatch`] parses the path into a
//! [`path::Target`], identifies the caller, and hands the request to the
//! account, container or object handlers.

pub mod account;
pub mod body;
pub mod bulk;
pub mod chunk_guard;
pub mod container;
pub mod cors;
pub mod info;
pub mod large;
pub mod listing;
pub mod metadata;
pub mod object;
pub mod path;
pub mod quota;
pub mod range;
pub mod symlink;
pub mod tempauth;
pub mod tempurl;
pub mod versioning;

use std::sync::Arc;

use actix_web::http::{Method, header};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::auth::Identity;
use crate::auth::acl::{self, Access};
use crate::error::SwiftError;
use crate::index::ContainerAcl;
use crate::state::AppState;
use path::Target;

/// Every method the Swift API answers at some level of `/v1/…` (any other
/// gets 405), and that CORS preflights may ask for. The authorization matrix
/// (docs/authorization-matrix.md) has an entry for each at each level.
pub const METHODS: [&str; 7] = ["HEAD", "GET", "PUT", "POST", "COPY", "OPTIONS", "DELETE"];

/// One Swift request: who asks, about which account, with which parameters.
pub struct RequestContext {
    pub req: HttpRequest,
    pub state: web::Data<AppState>,
    pub identity: Option<Arc<Identity>>,
    pub account: String,
    /// The decoded query string, in order.
    pub query: Vec<(String, String)>,
    /// The authority of a valid TempURL, which the request then runs with
    /// instead of an identity.
    pub temp_url: Option<tempurl::Grant>,
}

impl RequestContext {
    pub fn query_value(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A request header as text: UTF-8, as Swift's clients send names and
    /// metadata (raw, not percent-encoded).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.req
            .headers()
            .get(name)
            .and_then(|v| std::str::from_utf8(v.as_bytes()).ok())
    }

    /// Whether the caller administers the account of this request.
    pub fn is_owner(&self) -> bool {
        self.identity
            .as_ref()
            .is_some_and(|id| id.owns(&self.account))
    }

    /// Whether the caller administers the installation (Swift's reseller).
    pub fn is_installation_admin(&self) -> bool {
        self.identity
            .as_ref()
            .is_some_and(|id| id.installation_admin)
    }

    fn denied(&self) -> SwiftError {
        match self.identity {
            Some(_) => SwiftError::Forbidden,
            None => SwiftError::Unauthorized {
                realm: self.account.clone(),
            },
        }
    }

    /// Checks an account-wide request (owners only).
    pub fn authorize_account(&self) -> Result<(), SwiftError> {
        if acl::is_allowed(
            self.identity.as_deref(),
            &self.account,
            None,
            Access::Manage,
            None,
        ) {
            Ok(())
        } else {
            Err(self.denied())
        }
    }

    /// Checks a request that changes `container` itself (create, metadata,
    /// ACLs, delete): the account's administrators may, but not for the
    /// container of a workspace transferred to another user, which only its
    /// members reach, and none of them through these requests.
    pub fn authorize_container_admin(&self, container: &str) -> Result<(), SwiftError> {
        self.authorize_account()?;
        match &self.identity {
            Some(identity) if identity.owns_container(&self.account, container) => Ok(()),
            _ => Err(self.denied()),
        }
    }

    /// Checks `access` to `container` in this request's account; a missing
    /// container is 404 for those who could see it.
    pub async fn authorize_container(
        &self,
        container: &str,
        access: Access,
    ) -> Result<(), SwiftError> {
        self.authorize_container_in(&self.account, container, access)
            .await
    }

    /// [`Self::authorize_container`] for a container of any account (copies
    /// and large-object segments may name another account).
    pub async fn authorize_container_in(
        &self,
        account: &str,
        container: &str,
        access: Access,
    ) -> Result<(), SwiftError> {
        let referrer = self.header(header::REFERER.as_str());
        let decide = |identity: Option<&Identity>, acl: Option<&ContainerAcl>| match &self.temp_url
        {
            Some(grant) => grant.allows(account, container, access),
            None => acl::is_allowed(identity, account, Some((container, acl)), access, referrer),
        };
        let mut acl = self.state.index.container_acl(account, container).await?;
        let mut allowed = decide(self.identity.as_deref(), acl.as_ref());
        if !allowed
            && let (Some(token), Some(identity)) = (token(&self.req), &self.identity)
            && let Some(fresh) = self
                .state
                .auth
                .refresh_for_container(token, identity, account, container, access)
                .await?
        {
            // Fetching the identity creates the containers of new workspaces.
            acl = self.state.index.container_acl(account, container).await?;
            allowed = decide(Some(&fresh), acl.as_ref());
        }
        match (allowed, acl) {
            (true, Some(_)) => Ok(()),
            (true, None) => Err(SwiftError::NotFound),
            (false, _) => Err(self.denied()),
        }
    }
}

/// Splits and decodes a query string (`+` is a space).
pub fn parse_query(raw: &str) -> Result<Vec<(String, String)>, SwiftError> {
    raw.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((
                path::decode_query(&key.replace('+', " "))?,
                path::decode_query(&value.replace('+', " "))?,
            ))
        })
        .collect()
}

/// The token a request carries, if any.
fn token(req: &HttpRequest) -> Option<&str> {
    ["x-auth-token", "x-storage-token"]
        .iter()
        .find_map(|name| req.headers().get(*name))
        .and_then(|v| v.to_str().ok())
        .filter(|t| !t.is_empty())
}

/// Entry point of every `/v1/...` request.
pub async fn dispatch(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, SwiftError> {
    let target = path::parse(req.uri().path())?;
    let mut query = parse_query(req.uri().query().unwrap_or_default())?;
    let temp_url = if req.method() != Method::OPTIONS && tempurl::is_requested(&query) {
        let grant = tempurl::verify(&state, req.method(), req.headers(), &target, &query).await?;
        query = tempurl::kept_query(query);
        Some(grant)
    } else {
        None
    };
    let identity = match token(&req).filter(|_| temp_url.is_none()) {
        Some(token) => {
            Some(
                state
                    .auth
                    .identify(token)
                    .await?
                    .ok_or_else(|| SwiftError::Unauthorized {
                        realm: target.account().to_owned(),
                    })?,
            )
        }
        None => None,
    };
    let context = RequestContext {
        req,
        state,
        identity,
        account: target.account().to_owned(),
        query,
        temp_url,
    };
    let container = match &target {
        Target::Account { .. } => None,
        Target::Container { container, .. } | Target::Object { container, .. } => {
            Some(container.clone())
        }
    };
    if context.req.method() == Method::OPTIONS {
        return cors::preflight(&context, container.as_deref()).await;
    }
    let mut response = match target {
        Target::Account { .. } => account::handle(&context, payload).await,
        Target::Container { container, .. } => container::handle(&context, &container).await,
        Target::Object {
            container, object, ..
        } => object::handle(&context, &container, &object, payload).await,
    }?;
    if let Some(grant) = &context.temp_url {
        tempurl::decorate(grant, context.req.method(), &mut response);
    }
    if let Some(origin) = context.header(header::ORIGIN.as_str()) {
        cors::decorate(
            &context,
            container.as_deref(),
            origin,
            response.headers_mut(),
        )
        .await?;
    }
    // Header names as Swift writes them (`X-Object-Meta-Color`): some
    // clients keep the case they receive.
    response.head_mut().set_camel_case_headers(true);
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_decode() {
        assert_eq!(
            parse_query("prefix=a%2Fb&delimiter=/&bulk-delete&x=a+b").unwrap(),
            vec![
                ("prefix".into(), "a/b".into()),
                ("delimiter".into(), "/".into()),
                ("bulk-delete".into(), String::new()),
                ("x".into(), "a b".into()),
            ]
        );
        assert!(parse_query("prefix=%FF").is_err());
    }
}
