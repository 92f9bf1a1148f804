//! The HTML of the authorize page. Every value is escaped; the pages cannot
//! be framed (clickjacking) nor cached.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header;

/// Escapes text for HTML element content and double-quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;\
padding:0 1rem;color:#222}label{display:block;margin:.8rem 0 .2rem}\
input[type=text],input[type=password]{width:100%;padding:.4rem;box-sizing:border-box}\
.actions{margin-top:1.2rem;display:flex;gap:.6rem}button{padding:.5rem 1rem}\
.error{color:#a00}code{font-size:1.3rem;background:#eee;padding:.2rem .4rem}";

fn document(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{} · Nimbus</title><style>{STYLE}</style></head><body>{body}</body></html>\n",
        escape(title)
    )
}

/// The login and consent form for `consumer`.
pub fn login_form(consumer: &str, request_token: &str, error: Option<&str>) -> String {
    let error = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default();
    document(
        "Authorize application",
        &format!(
            "<h1>Allow {consumer} to use your Nimbus files?</h1>\
             <p><strong>{consumer}</strong> asks to read and change the files and folders of \
             your account. You can revoke this access at any time.</p>{error}\
             <form method=\"post\" action=\"authorize\">\
             <input type=\"hidden\" name=\"oauth_token\" value=\"{token}\">\
             <label for=\"username\">User name</label>\
             <input type=\"text\" id=\"username\" name=\"username\" autocomplete=\"username\" required>\
             <label for=\"password\">Password</label>\
             <input type=\"password\" id=\"password\" name=\"password\" \
             autocomplete=\"current-password\" required>\
             <div class=\"actions\"><button type=\"submit\" name=\"action\" value=\"allow\">Allow\
             </button><button type=\"submit\" name=\"action\" value=\"deny\" formnovalidate>Deny\
             </button></div></form>",
            consumer = escape(consumer),
            token = escape(request_token),
        ),
    )
}

/// The verifier to copy into an application without a callback (`oob`).
pub fn verifier(consumer: &str, verifier: &str) -> String {
    document(
        "Access granted",
        &format!(
            "<h1>Access granted</h1><p>Enter this code in {}:</p>\
             <p><code id=\"verifier\">{}</code></p>",
            escape(consumer),
            escape(verifier)
        ),
    )
}

pub fn message(title: &str, text: &str) -> String {
    document(
        title,
        &format!("<h1>{}</h1><p>{}</p>", escape(title), escape(text)),
    )
}

pub fn respond(status: StatusCode, html: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .body(html.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped() {
        let html = login_form("<script>x</script>", "t\"><b>", Some("<i>"));
        assert!(!html.contains("<script>x"), "{html}");
        assert!(html.contains("&lt;script&gt;x&lt;/script&gt;"));
        assert!(html.contains("value=\"t&quot;&gt;&lt;b&gt;\""));
        assert!(!html.contains("<i>"));
    }
}
