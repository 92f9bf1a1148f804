//! Logging: `RUST_LOG`-style filtering (default `info`) to stdout.
//!
//! Requests are traced with `tracing-actix-web` without its
//! `emit_event_on_error` feature, which logs every 4xx as a warning: client
//! errors are answers, not faults (a desktop client asks `HEAD` for each chunk
//! it may have to upload, and most answer 404). Server errors are logged
//! where they are turned into responses (`SwiftError`, `RestError`).

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber; a second call is a no-op.
pub fn init(default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use actix_web::{App, HttpResponse, test, web};
    use tracing::{Event, Level, Subscriber};
    use tracing_actix_web::TracingLogger;
    use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

    use crate::error::SwiftError;

    /// Records the level of every event logged.
    #[derive(Clone, Default)]
    struct Levels(Arc<Mutex<Vec<Level>>>);

    impl<S: Subscriber> Layer<S> for Levels {
        fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
            self.0.lock().unwrap().push(*event.metadata().level());
        }
    }

    #[actix_web::test]
    async fn client_errors_are_not_logged_and_server_errors_once() {
        let levels = Levels::default();
        let _guard =
            tracing::subscriber::set_default(tracing_subscriber::registry().with(levels.clone()));
        let app = test::init_service(
            App::new()
                .wrap(TracingLogger::default())
                .route(
                    "/missing",
                    web::get().to(|| async { Err::<HttpResponse, _>(SwiftError::NotFound) }),
                )
                .route(
                    "/broken",
                    web::get().to(|| async {
                        Err::<HttpResponse, _>(SwiftError::ReadFailed(std::io::Error::other(
                            "disk gone",
                        )))
                    }),
                ),
        )
        .await;

        let missing =
            test::call_service(&app, test::TestRequest::get().uri("/missing").to_request());
        assert_eq!(missing.await.status(), 404);
        assert_eq!(
            *levels.0.lock().unwrap(),
            [] as [Level; 0],
            "a 404 is an answer, not a fault"
        );

        let broken = test::call_service(&app, test::TestRequest::get().uri("/broken").to_request());
        assert_eq!(broken.await.status(), 500);
        assert_eq!(*levels.0.lock().unwrap(), [Level::ERROR]);
    }
}
