//! The proxy's routes besides the Swift API (whose verbs are
//! [`crate::swift::METHODS`]), as data. Each module that serves routes
//! declares them once with [`route_table!`], which both publishes them as
//! its `ROUTES` constant and builds their handlers, so the published list
//! cannot drift from what is served. The authorization matrix
//! (`tests/api/authorization_matrix/`, docs/authorization-matrix.md) fails
//! for a route of [`all`] that has no entry.

use actix_web::error::UrlencodedError;
use actix_web::{HttpResponse, web};

use crate::error::rest::RestError;

/// One route: an HTTP method and a path pattern as actix-web matches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
}

/// `route_table! { GET "/path/{id}" => handler, … }` declares
/// `pub const ROUTES: &[Route]` and `fn handlers() -> Vec<actix_web::Route>`,
/// the handler of each route in the same order; register them with
/// [`by_path`].
macro_rules! route_table {
    ($($method:ident $path:literal => $handler:expr),+ $(,)?) => {
        /// The routes this module serves, in registration order.
        pub const ROUTES: &[$crate::routes::Route] = &[$(
            $crate::routes::Route { method: stringify!($method), path: $path }
        ),+];

        /// The handler of each of [`ROUTES`], in the same order.
        fn handlers() -> Vec<actix_web::Route> {
            vec![$(
                actix_web::web::method(actix_web::http::Method::$method).to($handler)
            ),+]
        }
    };
}
pub(crate) use route_table;

/// Registers each route of a table on its own, its method guarding its
/// resource, so that a request of another method falls through to the next
/// service (in the end the Swift API's dispatcher).
pub fn register(
    config: &mut web::ServiceConfig,
    routes: &'static [Route],
    handlers: Vec<actix_web::Route>,
) {
    assert_eq!(routes.len(), handlers.len(), "one handler per route");
    for (route, handler) in routes.iter().zip(handlers) {
        config.route(route.path, handler);
    }
}

/// The routes of one path, with its handlers.
pub struct PathRoutes {
    pub path: &'static str,
    /// The methods served, in the order of the table.
    pub methods: Vec<&'static str>,
    pub handlers: Vec<actix_web::Route>,
}

/// Routes of a table (with their handlers, e.g.
/// `ROUTES.iter().zip(handlers())`) grouped by path, paths in the order they
/// first appear (actix-web tries resources in that order).
pub fn by_path(
    routes: impl IntoIterator<Item = (&'static Route, actix_web::Route)>,
) -> Vec<PathRoutes> {
    let mut grouped: Vec<PathRoutes> = Vec::new();
    for (route, handler) in routes {
        match grouped.iter_mut().find(|group| group.path == route.path) {
            Some(group) => {
                group.methods.push(route.method);
                group.handlers.push(handler);
            }
            None => grouped.push(PathRoutes {
                path: route.path,
                methods: vec![route.method],
                handlers: vec![handler],
            }),
        }
    }
    grouped
}

/// Routes as one resource per path (see [`by_path`]) that answers the
/// methods it does not serve with a JSON `405` and `Allow` (the errors of
/// the REST API and the OAuth endpoints) rather than letting them fall
/// through to the Swift API, and whose unreadable query strings and forms
/// get the JSON errors of [`RestError`]. `mount` gives the pattern a route's path is
/// registered at (in a scope: without the scope's prefix).
pub fn json_resources(
    routes: impl IntoIterator<Item = (&'static Route, actix_web::Route)>,
    mount: impl Fn(&'static str) -> &'static str,
) -> Vec<actix_web::Resource> {
    by_path(routes)
        .into_iter()
        .map(|group| {
            let allow = group.methods.join(", ");
            group
                .handlers
                .into_iter()
                .fold(web::resource(mount(group.path)), |resource, handler| {
                    resource.route(handler)
                })
                .app_data(web::QueryConfig::default().error_handler(|error, _| {
                    RestError::BadRequest(format!("the query string: {error}")).into()
                }))
                .app_data(web::FormConfig::default().error_handler(|error, _| {
                    match error {
                        UrlencodedError::ContentType => RestError::UnsupportedMediaType(
                            "the body must be a form (application/x-www-form-urlencoded)".into(),
                        )
                        .into(),
                        // Too big or of unknown length: actix's own 413 and 411.
                        UrlencodedError::Overflow { .. } | UrlencodedError::UnknownLength => {
                            error.into()
                        }
                        other => RestError::BadRequest(format!("the form: {other}")).into(),
                    }
                }))
                .default_service(web::to(move || {
                    let allow = allow.clone();
                    async move { Err::<HttpResponse, _>(RestError::MethodNotAllowed { allow }) }
                }))
        })
        .collect()
}

/// Every route outside the Swift API.
pub fn all() -> Vec<Route> {
    [
        crate::startup::ROUTES,
        crate::health::ROUTES,
        crate::oauth::ROUTES,
        crate::rest::ROUTES,
        crate::web::ROUTES,
        crate::web::link::ROUTES,
    ]
    .concat()
}
