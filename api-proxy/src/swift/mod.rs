//! The Swift API under `/v1/`: [`dispatch`] parses the path into a
//! [`path::Target`], identifies the caller, and hands the request to the
//! account, container or object handlers.

pub mod account;
pub mod body;
pub mod bulk;
pub mod chunk_guard;
pub mod container;
pub mod cors;
pub mod extract;
pub mod heartbeat;
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
use nimbus_protocol::rpc::{DeviceToken, ErrorCode, Operation};
use tokio::sync::OnceCell;

use crate::auth::Identity;
use crate::auth::acl::{self, Access, AccountAccess, AccountAcl};
use crate::error::SwiftError;
use crate::index::ContainerAcl;
use crate::state::AppState;
use path::Target;

/// Every method the Swift API answers at some level of `/v1/…` (any other
/// gets 405), and that CORS preflights may ask for. The authorization matrix
/// (docs/authorization-matrix.md) has an entry for each at each level.
pub const METHODS: [&str; 7] = ["HEAD", "GET", "PUT", "POST", "COPY", "OPTIONS", "DELETE"];

/// One Swift request: who asks, about which account, with which parameters.
/// Cloned only to run on in a response body ([`heartbeat::body`]).
#[derive(Clone)]
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
    /// What the account ACL gives the caller in `account`, read once.
    account_access: OnceCell<Option<AccountAccess>>,
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

    /// Whether the caller administers the account of this request: one of
    /// its owners, or an `admin` of its account ACL.
    pub async fn is_owner(&self) -> Result<bool, SwiftError> {
        Ok(self
            .identity
            .as_ref()
            .is_some_and(|id| id.owns(&self.account))
            || self.account_access().await? == Some(AccountAccess::Admin))
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

    /// What the account ACL of this request's account gives the caller.
    pub async fn account_access(&self) -> Result<Option<AccountAccess>, SwiftError> {
        self.account_access
            .get_or_try_init(|| self.account_access_in(&self.account))
            .await
            .copied()
    }

    /// What the account ACL of `account` gives the caller: nothing to its
    /// owners (who need none), to anonymous callers and to TempURLs. Read
    /// from the index every time, so that a change binds every proxy at once.
    async fn account_access_in(&self, account: &str) -> Result<Option<AccountAccess>, SwiftError> {
        let Some(identity) = self.identity.as_deref().filter(|id| !id.owns(account)) else {
            return Ok(None);
        };
        if account == self.account
            && let Some(access) = self.account_access.get()
        {
            return Ok(*access);
        }
        let Some(raw) = self.state.index.account_access_control(account).await? else {
            return Ok(None);
        };
        // Stored only after it was checked.
        Ok(AccountAcl::parse(&raw)
            .ok()
            .and_then(|acl| acl.access_of(identity)))
    }

    /// Whether an account ACL may open `container` of `account` to the
    /// caller. Not the container of a workspace: only its members reach
    /// that (a member by the role the workspace gives, whatever the account
    /// ACL says), so an account ACL never opens a workspace, neither one the
    /// account's owners own nor one transferred away from them, which they
    /// cannot open themselves. Only the metadata servers know which
    /// containers hold workspaces; a container that holds none is answered
    /// with an empty `referencedChunks` to anyone, one that holds a workspace
    /// the caller is not a member of is refused.
    async fn account_acl_reaches(
        &self,
        account: &str,
        container: &str,
    ) -> Result<bool, SwiftError> {
        let (Some(identity), Some(token)) = (&self.identity, token(&self.req)) else {
            return Ok(false);
        };
        if identity.grant(account, container).is_some() {
            return Ok(false);
        }
        let operation = Operation::ReferencedChunks {
            storage_account: account.to_owned(),
            container: container.to_owned(),
            chunk_ids: Vec::new(),
        };
        match self
            .state
            .rpc
            .call::<Vec<String>>(Some(&DeviceToken(token.to_owned())), operation)
            .await
        {
            Ok(_) => Ok(true),
            Err(error) if error.rpc_code() == Some(ErrorCode::Forbidden) => Ok(false),
            Err(error) if error.rpc_code() == Some(ErrorCode::Unauthenticated) => {
                Err(SwiftError::Unauthorized {
                    realm: self.account.clone(),
                })
            }
            Err(error) => Err(SwiftError::RpcUnavailable(error)),
        }
    }

    /// Checks a request that reads the account (HEAD, GET): its owners and
    /// anyone its account ACL names.
    pub async fn authorize_account_read(&self) -> Result<(), SwiftError> {
        if self.is_owner().await? || self.account_access().await?.is_some() {
            Ok(())
        } else {
            Err(self.denied())
        }
    }

    /// Checks a request that changes the account (POST): its owners and the
    /// `admin`s of its account ACL.
    pub async fn authorize_account(&self) -> Result<(), SwiftError> {
        if self.is_owner().await? {
            Ok(())
        } else {
            Err(self.denied())
        }
    }

    /// Checks a request that changes `container` itself (create, metadata,
    /// delete): the account's administrators may, but not for the container
    /// of a workspace transferred to another user, which only its members
    /// reach, and none of them through these requests; and `read-write` or
    /// `admin` users of the account ACL, for containers it reaches. Returns
    /// whether the caller may also change privileged headers (ACLs, TempURL
    /// keys, versioning): its owners and the ACL's `admin`s.
    pub async fn authorize_container_admin(&self, container: &str) -> Result<bool, SwiftError> {
        if self
            .identity
            .as_ref()
            .is_some_and(|identity| identity.owns_container(&self.account, container))
        {
            return Ok(true);
        }
        match self.account_access().await? {
            Some(access @ (AccountAccess::ReadWrite | AccountAccess::Admin))
                if self.account_acl_reaches(&self.account, container).await? =>
            {
                Ok(access == AccountAccess::Admin)
            }
            _ => Err(self.denied()),
        }
    }

    /// Whether the caller may see the privileged headers of `container`
    /// (ACLs, TempURL keys): its owners and the account ACL's `admin`s, for
    /// containers the ACL reaches.
    pub async fn sees_privileged(&self, container: &str) -> Result<bool, SwiftError> {
        if self
            .identity
            .as_ref()
            .is_some_and(|identity| identity.owns_container(&self.account, container))
        {
            return Ok(true);
        }
        Ok(self.account_access().await? == Some(AccountAccess::Admin)
            && self.account_acl_reaches(&self.account, container).await?)
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
        let mut allowed = decide(self.identity.as_deref(), acl.as_ref())
            || self.account_acl_allows(account, container, access).await?;
        // A TempURL's account key does not reach the segments or link
        // targets of a transferred workspace's container either.
        if allowed
            && self.temp_url.is_some()
            && self.state.auth.is_transferred(account, container).await?
        {
            return Err(self.denied());
        }
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

    /// Whether the account ACL of `account` gives the caller `access` to
    /// `container`: reading and listing to every level, writing objects to
    /// `read-write` and `admin`.
    async fn account_acl_allows(
        &self,
        account: &str,
        container: &str,
        access: Access,
    ) -> Result<bool, SwiftError> {
        if self.temp_url.is_some() {
            return Ok(false);
        }
        let needed = match access {
            Access::List | Access::Read => AccountAccess::ReadOnly,
            Access::Write => AccountAccess::ReadWrite,
            Access::Manage => return Ok(false),
        };
        Ok(self
            .account_access_in(account)
            .await?
            .is_some_and(|granted| granted >= needed)
            && self.account_acl_reaches(account, container).await?)
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
        account_access: OnceCell::new(),
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
    let method = context.req.method();
    // Swift's bulk middleware takes these at any path of the account.
    let mut response = if context.query_value("bulk-delete").is_some()
        && (method == Method::POST || method == Method::DELETE)
    {
        bulk::delete(&context, payload).await
    } else if method == Method::PUT
        && let Some(kind) = context.query_value("extract-archive")
    {
        extract::extract(&context, &target, kind, payload).await
    } else {
        match target {
            Target::Account { .. } => account::handle(&context).await,
            Target::Container { container, .. } => container::handle(&context, &container).await,
            Target::Object {
                container, object, ..
            } => object::handle(&context, &container, &object, payload).await,
        }
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
