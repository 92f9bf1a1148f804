//! The browser UI: server-rendered pages (askama templates in
//! `web/templates/`) with htmx and a small script (`web/static/`), all
//! embedded in the binary ([`assets`]). Browsers authenticate with a
//! session cookie and a CSRF token ([`session`]), never with OAuth.
//!
//! * [`signin`]: `/signin`, `/signout`;
//! * [`browse`]: `/` (workspaces) and `/files/{workspace}[/{folder}]`;
//! * [`download`]: `/files/{workspace}/{item}/content` and `/download`;
//! * [`organize`]: new folder, rename, delete;
//! * [`account`]: `/account`, device and application revocation;
//! * [`link`]: public links, `/s/{token}`, for anyone holding the token.
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
pub mod link;
pub mod organize;
pub mod session;
pub mod signin;

use actix_web::middleware::from_fn;
use actix_web::web;

crate::routes::route_table! {
    GET "/" => browse::home,
    GET "/signin" => signin::page,
    POST "/signin" => signin::submit,
    POST "/signout" => signin::sign_out,
    GET "/files/{workspace}" => browse::workspace_root,
    // Before `/files/{workspace}/{folder}`, which would answer its POST with 405.
    POST "/files/{workspace}/new-folder" => organize::new_folder,
    GET "/files/{workspace}/{folder}" => browse::folder,
    GET "/files/{workspace}/{item}/content" => download::open,
    GET "/files/{workspace}/{item}/download" => download::download,
    POST "/files/{workspace}/{item}/rename" => organize::rename,
    POST "/files/{workspace}/{item}/delete" => organize::delete,
    GET "/account" => account::page,
    POST "/account/devices/{id}/revoke" => account::revoke_device,
    POST "/account/applications/revoke" => account::revoke_application,
    GET "/assets/{hash}/{path:.*}" => assets::serve,
}

/// Mounts the pages. Register before the Swift dispatcher, which answers
/// every path not taken; needs the `RestState` and `AppState` data.
pub fn configure(config: &mut web::ServiceConfig) {
    // One resource per path: a scope at `/` would swallow the Swift API's
    // paths instead of letting them fall through to its dispatcher.
    for group in crate::routes::by_path(ROUTES.iter().zip(handlers()).chain(link::routes())) {
        let resource = group
            .handlers
            .into_iter()
            .fold(web::resource(group.path), |resource, handler| {
                resource.route(handler)
            });
        config.service(resource.wrap(from_fn(headers::secure)));
    }
}
