//! The browser UI: server-rendered pages (askama templates in
//! `web/templates/`) with htmx and a small script (`web/static/`), all
//! embedded in the binary ([`assets`]). Browsers authenticate with a
//! session cookie and a CSRF token ([`session`]), never with OAuth.
//!
//! * [`signin`]: `/signin`, `/signout`;
//! * [`browse`]: `/` (workspaces) and `/files/{workspace}[/{folder}]`;
//! * [`download`]: `/files/{workspace}/{item}/content` and `/download`;
//! * [`organize`]: new folder, rename, delete;
//! * [`account`]: `/account`, device and application revocation.
//!
//! Every response carries the security headers of [`headers`]. The design
//! and what is left: `docs/web-ui.md`.

pub mod account;
pub mod assets;
pub mod browse;
pub mod download;
pub mod error;
pub mod format;
pub mod headers;
pub mod layout;
pub mod organize;
pub mod session;
pub mod signin;

use actix_web::middleware::from_fn;
use actix_web::web;

/// Mounts the pages. Register before the Swift dispatcher, which answers
/// every path not taken; needs the `RestState` and `AppState` data.
pub fn configure(config: &mut web::ServiceConfig) {
    // One resource per path: a scope at `/` would swallow the Swift API's
    // paths instead of letting them fall through to its dispatcher.
    macro_rules! page {
        ($path:expr, $($route:expr),+ $(,)?) => {
            config.service(
                web::resource($path)
                    .wrap(from_fn(headers::secure))
                    $(.route($route))+,
            )
        };
    }
    page!("/", web::get().to(browse::home));
    page!(
        "/signin",
        web::get().to(signin::page),
        web::post().to(signin::submit)
    );
    page!("/signout", web::post().to(signin::sign_out));
    page!("/files/{workspace}", web::get().to(browse::workspace_root));
    // Before `/files/{workspace}/{folder}`, which would answer its POST with 405.
    page!(
        "/files/{workspace}/new-folder",
        web::post().to(organize::new_folder)
    );
    page!("/files/{workspace}/{folder}", web::get().to(browse::folder));
    page!(
        "/files/{workspace}/{item}/content",
        web::get().to(download::open)
    );
    page!(
        "/files/{workspace}/{item}/download",
        web::get().to(download::download)
    );
    page!(
        "/files/{workspace}/{item}/rename",
        web::post().to(organize::rename)
    );
    page!(
        "/files/{workspace}/{item}/delete",
        web::post().to(organize::delete)
    );
    page!("/account", web::get().to(account::page));
    page!(
        "/account/devices/{id}/revoke",
        web::post().to(account::revoke_device)
    );
    page!(
        "/account/applications/revoke",
        web::post().to(account::revoke_application)
    );
    page!("/assets/{hash}/{path:.*}", web::get().to(assets::serve));
}
