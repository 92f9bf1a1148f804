//! The proxy's routes besides the Swift API (whose verbs are
//! [`crate::swift::METHODS`]), as data. Each module that serves routes
//! declares them once with [`route_table!`], which both publishes them as
//! its `ROUTES` constant and builds their handlers, so the published list
//! cannot drift from what is served. The authorization matrix
//! (`tests/api/authorization_matrix/`, docs/authorization-matrix.md) fails
//! for a route of [`all`] that has no entry.

use actix_web::web;

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

/// The routes of a table grouped by path, paths in the order they first
/// appear (actix-web tries resources in that order), each with its handlers.
pub fn by_path(
    routes: &'static [Route],
    handlers: Vec<actix_web::Route>,
) -> Vec<(&'static str, Vec<actix_web::Route>)> {
    assert_eq!(routes.len(), handlers.len(), "one handler per route");
    let mut grouped: Vec<(&'static str, Vec<actix_web::Route>)> = Vec::new();
    for (route, handler) in routes.iter().zip(handlers) {
        match grouped.iter_mut().find(|(path, _)| *path == route.path) {
            Some((_, handlers)) => handlers.push(handler),
            None => grouped.push((route.path, vec![handler])),
        }
    }
    grouped
}

/// Every route outside the Swift API.
pub fn all() -> Vec<Route> {
    [
        crate::startup::ROUTES,
        crate::oauth::ROUTES,
        crate::rest::ROUTES,
        crate::web::ROUTES,
    ]
    .concat()
}
