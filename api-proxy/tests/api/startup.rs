//! Start-up on port 0 and graceful shutdown.

use std::collections::BTreeMap;
use std::time::Duration;

use nimbus_proxy::config::{Settings, StorageSettings};
use nimbus_proxy::startup::Application;
use uuid::Uuid;

#[tokio::test]
async fn serves_on_port_zero_and_stops_when_told() {
    let objects = tempfile::tempdir().unwrap();
    let run = Uuid::new_v4().simple().to_string();
    let settings = Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: format!("postgres://postgres@127.0.0.1:5432/proxy_{run}"),
        queue_prefix: format!("test-{run}"),
        storage: StorageSettings {
            scheme: "fs".into(),
            options: BTreeMap::from([("root".into(), objects.path().display().to_string())]),
        },
        ..Settings::default()
    };
    let application = Application::build(settings).await.unwrap();
    let port = application.port();
    assert_ne!(port, 0);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(application.run_until_stopped(async {
        let _ = stopped.await;
    }));

    let info_url = format!("http://127.0.0.1:{port}/info");
    let response = reqwest::get(&info_url).await.unwrap();
    assert_eq!(response.status(), 200);

    stop.send(()).unwrap();
    let finished = tokio::time::timeout(Duration::from_secs(15), server).await;
    assert!(matches!(finished, Ok(Ok(Ok(())))), "{finished:?}");
    assert!(reqwest::get(&info_url).await.is_err());
}
