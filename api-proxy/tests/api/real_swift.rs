//! The opendal blob store against a real OpenStack Swift, when one is
//! configured (see `shared/reference/swift-api.md` for standing one up on
//! loopback with TempAuth):
//!
//! ```sh
//! NIMBUS_TEST_SWIFT_AUTH_URL=http://127.0.0.1:8081/auth/v1.0 \
//! NIMBUS_TEST_SWIFT_USER=test:tester NIMBUS_TEST_SWIFT_KEY=testing \
//! cargo test -p nimbus-proxy --test api real_swift
//! ```
//!
//! Without those variables the test says so and does nothing.

use std::collections::BTreeMap;

use bytes::Bytes;
use futures::TryStreamExt;
use nimbus_proxy::blobs::{BlobStore, OpendalBlobStore};
use nimbus_proxy::config::StorageSettings;
use uuid::Uuid;

#[tokio::test]
async fn blobs_round_trip_through_a_real_swift() {
    let (Ok(auth_url), Ok(user), Ok(key)) = (
        std::env::var("NIMBUS_TEST_SWIFT_AUTH_URL"),
        std::env::var("NIMBUS_TEST_SWIFT_USER"),
        std::env::var("NIMBUS_TEST_SWIFT_KEY"),
    ) else {
        eprintln!("no real Swift configured (NIMBUS_TEST_SWIFT_AUTH_URL/_USER/_KEY): skipped");
        return;
    };
    let http = reqwest::Client::new();
    let auth = http
        .get(&auth_url)
        .header("X-Auth-User", &user)
        .header("X-Auth-Key", &key)
        .send()
        .await
        .expect("reach the Swift auth URL");
    assert!(
        auth.status().is_success(),
        "Swift refused the credentials: {}",
        auth.status()
    );
    let header = |name: &str| auth.headers()[name].to_str().unwrap().to_owned();
    let (token, storage_url) = (header("x-auth-token"), header("x-storage-url"));
    let container = format!("nimbus-test-{}", Uuid::new_v4().simple());
    let created = http
        .put(format!("{storage_url}/{container}"))
        .header("X-Auth-Token", &token)
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success());

    let store = OpendalBlobStore::from_settings(&StorageSettings {
        scheme: "swift".into(),
        options: BTreeMap::from([
            ("endpoint".into(), storage_url.clone()),
            ("container".into(), container.clone()),
            ("token".into(), token.clone()),
        ]),
    })
    .unwrap();
    let data: Vec<u8> = (0..3 << 20).map(|i: u32| (i % 251) as u8).collect();
    let mut writer = store.create("blob/one").await.unwrap();
    for part in data.chunks(100_000) {
        writer.write(Bytes::copy_from_slice(part)).await.unwrap();
    }
    writer.finish().await.unwrap();
    let read: Vec<Bytes> = store
        .read("blob/one", 1000..2_000_000)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(read.concat(), &data[1000..2_000_000]);
    store.delete("blob/one").await.unwrap();

    let removed = http
        .delete(format!("{storage_url}/{container}"))
        .header("X-Auth-Token", &token)
        .send()
        .await
        .unwrap();
    assert!(removed.status().is_success());
}
