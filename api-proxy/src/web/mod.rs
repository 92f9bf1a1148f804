//! The browser UI: server-rendered pages (askama templates in
//! `web/templates/`) with htmx and a small script (`web/static/`), all
//! embedded in the binary ([`assets`]). Browsers authenticate with a
//! session cookie and a CSRF token ([`session`]), never with OAuth.
//!
//! * [`signin`]: `/signin`, `/signout`;
//! * [`browse`]: `/` (workspaces) and `/files/{workspace}[/{folder}]`;
//! * [`download`]: `/files/{workspace}/{item}/content` and `/download`;
//! * [`folder_zip`]: `/files/{workspace}[/{folder}]/zip`, a folder as a streamed zip;
//! * [`organize`]: new folder, rename, delete;
//! * [`upload`]: resumable uploads (`/uploads`), for `upload.js`;
//! * [`upload_batch`]: small files in batches (`/uploads/batch`), one commit each;
//! * [`moving`]: move with a folder chooser, copy;
//! * [`trash`]: deleted items, restore, delete forever;
//! * [`versions`]: a file's versions, download and restore;
//! * [`conflicts`]: conflicted copies, keep one, the other or both;
//! * [`account`]: `/account`, device and application revocation, password;
//! * [`live`]: `/files/{workspace}/events` and `/events`, live updates as
//!   server-sent events.
//! * [`link`]: public links, `/s/{token}`, for anyone holding the token.
//! * [`sharing`]: `/files/{workspace}/sharing`, members and sharing a
//!   workspace, and `/files/{workspace}/{folder}/share`, sharing a folder; [`members`]: roles, removing, leaving, handing over;
//!   [`invitations`]: `/sharing`, invitations to accept or decline;
//!   [`mounts`]: naming and placing one's folder of a workspace;
//!   [`links`]: `/links`, making and revoking public links.
//! * [`admin`]: `/admin`, the administration pages (administrators only);
//!   [`admin_delete`]: deleting a user; [`admin_overview`]: applications,
//!   invitations and links.
//!
//! Every response carries the security headers of [`headers`]. The design
//! and what is left: `docs/web-ui.md`.

pub mod account;
pub mod admin;
pub mod admin_delete;
pub mod admin_overview;
pub mod assets;
pub mod browse;
pub mod conflicts;
pub mod download;
pub mod error;
pub mod folder_zip;
pub mod format;
pub mod headers;
pub mod invitations;
pub mod layout;
pub mod link;
pub mod links;
pub mod live;
pub mod members;
pub mod mounts;
pub mod moving;
pub mod organize;
pub mod session;
pub mod sharing;
pub mod signin;
pub mod trash;
pub mod upload;
pub mod upload_batch;
pub mod versions;
pub mod zip_format;

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
    GET "/files/{workspace}/events" => live::events,
    GET "/events" => live::user_events,
    GET "/files/{workspace}/trash" => trash::page,
    GET "/files/{workspace}/conflicts" => conflicts::page,
    GET "/files/{workspace}/zip" => folder_zip::workspace,
    GET "/files/{workspace}/sharing" => sharing::page,
    GET "/files/{workspace}/{folder}" => browse::folder,
    POST "/files/{workspace}/trash/{item}/restore" => trash::restore,
    POST "/files/{workspace}/trash/{item}/purge" => trash::purge,
    GET "/files/{workspace}/{item}/content" => download::open,
    GET "/files/{workspace}/{item}/download" => download::download,
    GET "/files/{workspace}/{folder}/zip" => folder_zip::folder,
    GET "/files/{workspace}/{folder}/share" => sharing::folder_page,
    POST "/files/{workspace}/{folder}/share" => sharing::share_folder_form,
    POST "/files/{workspace}/{item}/rename" => organize::rename,
    POST "/files/{workspace}/{item}/delete" => organize::delete,
    POST "/uploads" => upload::create,
    // Before `/uploads/{id}`, which would answer their POST with 405.
    POST "/uploads/clashes" => upload_batch::clashes,
    POST "/uploads/batch" => upload_batch::batch,
    GET "/uploads/{id}" => upload::status,
    PUT "/uploads/{id}" => upload::append,
    DELETE "/uploads/{id}" => upload::cancel,
    POST "/uploads/{id}/finish" => upload::finish,
    GET "/files/{workspace}/{item}/move" => moving::chooser,
    POST "/files/{workspace}/{item}/move" => moving::move_item,
    POST "/files/{workspace}/{item}/copy" => moving::copy,
    GET "/files/{workspace}/{item}/versions" => versions::page,
    GET "/files/{workspace}/{item}/versions/{version}/download" => versions::download,
    POST "/files/{workspace}/{item}/versions/{version}/restore" => versions::restore,
    POST "/files/{workspace}/{item}/resolve" => conflicts::resolve,
    GET "/account" => account::page,
    POST "/account/devices/{id}/revoke" => account::revoke_device,
    POST "/account/applications/revoke" => account::revoke_application,
    POST "/account/password" => account::change_password,
    POST "/files/{workspace}/sharing/propose" => sharing::propose,
    POST "/files/{workspace}/sharing/unshare" => members::unshare,
    POST "/files/{workspace}/sharing/leave" => members::leave,
    POST "/files/{workspace}/members/{user}/role" => members::set_role,
    POST "/files/{workspace}/members/{user}/remove" => members::remove,
    POST "/files/{workspace}/members/{user}/transfer" => members::transfer,
    POST "/workspaces" => sharing::create_workspace,
    POST "/workspaces/{workspace}/mount" => mounts::update,
    GET "/sharing" => invitations::page,
    GET "/sharing/badge" => invitations::badge,
    GET "/sharing/folders" => mounts::search,
    POST "/sharing/{proposal}/accept" => invitations::accept,
    POST "/sharing/{proposal}/decline" => invitations::decline,
    POST "/sharing/{proposal}/cancel" => invitations::cancel,
    GET "/links" => links::page,
    GET "/links/new" => links::new,
    POST "/links" => links::create,
    POST "/links/{id}/revoke" => links::revoke,
    GET "/admin" => admin::users,
    POST "/admin/users" => admin::add_user,
    POST "/admin/users/{name}" => admin::update_user,
    GET "/admin/users/{name}/delete" => admin_delete::confirm,
    POST "/admin/users/{name}/delete" => admin_delete::delete,
    GET "/admin/overview" => admin_overview::overview,
    POST "/admin/applications" => admin_overview::add_application,
    POST "/admin/applications/{key}/remove" => admin_overview::remove_application,
    POST "/admin/links/{id}/revoke" => admin_overview::revoke_link,
    GET "/admin/audit" => admin::audit,
    GET "/admin/health" => admin::health,
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
