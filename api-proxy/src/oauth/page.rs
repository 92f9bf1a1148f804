//! The authorize page, on the web UI's templates and styles
//! (`web/templates/oauth.html`, which extends the UI's `base.html`). Every
//! value is escaped by askama; the page carries the UI's strict
//! Content-Security-Policy, cannot be framed (clickjacking) nor cached, and
//! sends no referrer (its URL holds the request token).
//!
//! CSRF: the form is only acted on with the user's password in it, which a
//! page of another site posting it cannot know; the request token alone
//! grants nothing.

use actix_web::HttpResponse;
use actix_web::http::{StatusCode, header};
use askama::Template;

use crate::web::headers::PAGE_POLICY;
use crate::web::layout::Layout;

/// What the page shows.
enum OAuthView<'a> {
    /// The login and consent form.
    Consent {
        consumer: &'a str,
        request_token: &'a str,
        error: Option<&'a str>,
    },
    /// The verifier to copy into an application without a callback (`oob`).
    Verifier {
        consumer: &'a str,
        verifier: &'a str,
    },
    Message {
        text: &'a str,
    },
}

#[derive(Template)]
#[template(path = "oauth.html")]
struct OAuthPage<'a> {
    layout: Layout,
    title: &'a str,
    view: OAuthView<'a>,
}

/// The login and consent form for `consumer`, with `error` from a failed try.
pub fn login_form(
    status: StatusCode,
    consumer: &str,
    request_token: &str,
    error: Option<&str>,
) -> HttpResponse {
    let view = OAuthView::Consent {
        consumer,
        request_token,
        error,
    };
    respond(status, "Authorize application", view)
}

/// The verifier to copy into `consumer`.
pub fn verifier(consumer: &str, verifier: &str) -> HttpResponse {
    let view = OAuthView::Verifier { consumer, verifier };
    respond(StatusCode::OK, "Access granted", view)
}

pub fn message(status: StatusCode, title: &str, text: &str) -> HttpResponse {
    respond(status, title, OAuthView::Message { text })
}

fn respond(status: StatusCode, title: &str, view: OAuthView<'_>) -> HttpResponse {
    let page = OAuthPage {
        layout: Layout::anonymous(),
        title,
        view,
    };
    let mut response = HttpResponse::build(status);
    response
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::CONTENT_SECURITY_POLICY, PAGE_POLICY))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"));
    match page.render() {
        Ok(html) => response.content_type("text/html; charset=utf-8").body(html),
        Err(error) => {
            tracing::error!(%error, "rendering the authorize page failed");
            response
                .status(StatusCode::INTERNAL_SERVER_ERROR)
                .content_type("text/plain; charset=utf-8")
                .body("the page could not be rendered; try again")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn html(response: HttpResponse) -> String {
        let body = actix_web::body::to_bytes(response.into_body())
            .await
            .unwrap();
        String::from_utf8(body.to_vec()).unwrap()
    }

    #[actix_web::test]
    async fn values_are_escaped() {
        let html = html(login_form(
            StatusCode::OK,
            "<script>x</script>",
            "t\"><b>",
            Some("<i>"),
        ))
        .await;
        assert!(!html.contains("<script>x"), "{html}");
        assert!(
            html.contains("&#60;script&#62;x&#60;/script&#62;"),
            "{html}"
        );
        assert!(!html.contains("t\"><b>"), "{html}");
        assert!(!html.contains("<i>"), "{html}");
    }

    #[actix_web::test]
    async fn the_page_uses_the_web_uis_styles_and_policy() {
        let response = verifier("Photo app", "v3rifier");
        assert_eq!(
            response
                .headers()
                .get(header::CONTENT_SECURITY_POLICY)
                .unwrap(),
            PAGE_POLICY
        );
        assert_eq!(
            response.headers().get(header::X_FRAME_OPTIONS).unwrap(),
            "DENY"
        );
        let html = html(response).await;
        assert!(
            html.contains("<code id=\"verifier\">v3rifier</code>"),
            "{html}"
        );
        assert!(html.contains("/app.css\""), "{html}");
        assert!(!html.contains("<style"), "{html}");
    }
}
