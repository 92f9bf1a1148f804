//! The UI's static files (`web/static/`), embedded in the binary. Pages link
//! them as `/assets/<content hash>/<path>`: a new build changes the URL of
//! every file that changed, so browsers may cache them forever.

use std::collections::HashMap;
use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

#[derive(rust_embed::Embed)]
#[folder = "../web/static/"]
struct Static;

/// Hex digits of the SHA-256 that name a version of a file.
const HASH_DIGITS: usize = 16;

/// The versioned URL of every embedded file, by path.
static URLS: LazyLock<HashMap<String, String>> = LazyLock::new(|| {
    Static::iter()
        .filter_map(|path| {
            let file = Static::get(&path)?;
            let hash = hex::encode(file.metadata.sha256_hash());
            let url = format!("/assets/{}/{path}", &hash[..HASH_DIGITS]);
            Some((path.into_owned(), url))
        })
        .collect()
});

/// The URL of the embedded file `path` (e.g. `app.css`).
///
/// # Panics
/// If no such file is embedded: templates name files that ship with them.
pub fn url(path: &str) -> &'static str {
    URLS.get(path)
        .unwrap_or_else(|| panic!("web/static/{path} is not embedded"))
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("css") => "text/css; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("woff2") => "font/woff2",
        _ => "text/plain; charset=utf-8",
    }
}

/// `GET /assets/{hash}/{path}`: only the current version of a file is
/// served, so a cached URL never holds other bytes.
pub async fn serve(req: HttpRequest, path: web::Path<(String, String)>) -> HttpResponse {
    let (hash, path) = path.into_inner();
    let current = URLS.get(&path).and_then(|url| url.split('/').nth(2));
    let Some(file) = Static::get(&path).filter(|_| current == Some(hash.as_str())) else {
        return HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body(
                "no such file: the page that linked it may be older than this server; reload it",
            );
    };
    let etag = format!("\"{hash}\"");
    let matches = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
    let mut response = if matches {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"));
    if matches {
        return response.finish();
    }
    response
        .content_type(content_type(&path))
        .body(file.data.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_asset_is_embedded_under_its_hash() {
        for path in [
            "app.css",
            "app.js",
            "vendor/htmx.min.js",
            "icon.svg",
            "folder.svg",
            "file.svg",
            "lock.svg",
        ] {
            let url = url(path);
            assert!(url.starts_with("/assets/") && url.ends_with(path), "{url}");
            assert_eq!(url.len(), "/assets/".len() + HASH_DIGITS + 1 + path.len());
        }
    }
}
