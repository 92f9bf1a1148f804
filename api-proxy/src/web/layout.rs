//! What every page shares: the signed-in user, the CSRF token its forms
//! carry, and the URLs of the embedded assets.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use askama::Template;

use super::assets;
use super::error::WebError;
use super::session::WebSession;

pub struct Layout {
    /// The signed-in user's name; `None` on the sign-in and error pages.
    pub user: Option<String>,
    /// The session's CSRF token, for forms and htmx requests.
    pub csrf: String,
    /// Share invitations waiting for the user's answer, for the navigation's
    /// badge, when the page read them anyway (the home and sharing pages);
    /// `None` elsewhere, where the badge loads itself (`/sharing/badge`)
    /// after the page, so that no page waits for it.
    pub invitations: Option<usize>,
    /// Whether to show the administration link. Only a convenience: the
    /// metadata servers refuse every administration call of anyone else.
    pub is_admin: bool,
}

/// The links under a list shown a page at a time (`pager.html`): "← Previous",
/// "201–400 of 10000", "Next →".
pub struct Pager {
    pub previous: Option<String>,
    /// Empty when everything fits on one page.
    pub range: String,
    pub next: Option<String>,
}

impl Pager {
    /// For `page` (from 1, not past the last) of `total` rows, `size` a
    /// page; `href` is the address of a page.
    pub fn new(page: usize, size: usize, total: usize, href: impl Fn(usize) -> String) -> Self {
        let pages = total.div_ceil(size).max(1);
        let first = (page - 1) * size;
        Self {
            previous: (page > 1).then(|| href(page - 1)),
            range: if total > size {
                format!("{}–{} of {total}", first + 1, (first + size).min(total))
            } else {
                String::new()
            },
            next: (page < pages).then(|| href(page + 1)),
        }
    }
}

impl Layout {
    pub fn anonymous() -> Self {
        Self {
            user: None,
            csrf: String::new(),
            invitations: None,
            is_admin: false,
        }
    }

    pub fn of(session: &WebSession) -> Self {
        Self {
            user: Some(session.account.username.clone()),
            csrf: session.csrf.clone(),
            invitations: None,
            is_admin: session.account.is_admin,
        }
    }

    /// With the navigation showing `pending` invitations.
    pub fn with_invitations(self, pending: usize) -> Self {
        Self {
            invitations: Some(pending),
            ..self
        }
    }

    /// The versioned URL of an embedded asset.
    pub fn asset(&self, path: &str) -> &'static str {
        assets::url(path)
    }
}

/// A rendered page with `status`.
pub fn render(status: StatusCode, page: &impl Template) -> Result<HttpResponse, WebError> {
    let html = page
        .render()
        .map_err(|e| WebError::Internal(format!("rendering the page: {e}")))?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(html))
}

/// A `303 See Other` to a local path.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("location", location))
        .finish()
}
