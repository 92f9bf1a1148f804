//! The opendal blob store against a real OpenStack Swift, when one is
//! configured. `scripts/real-swift.sh up` stands one up on loopback (Swift
//! 2.38.3, TempAuth) and prints the variables:
//!
//! ```sh
//! scripts/real-swift.sh up
//! eval "$(scripts/real-swift.sh env)"   # NIMBUS_TEST_SWIFT_AUTH_URL, _USER, _KEY
//! cargo test -p nimbus-proxy --test api real_swift
//! ```
//!
//! Without those variables each test says so and does nothing. Each test
//! works in a container of its own, which it empties and removes at the end.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures::TryStreamExt;
use nimbus_proxy::blobs::{BlobStore, OpendalBlobStore, new_blob_key};
use nimbus_proxy::config::StorageSettings;
use uuid::Uuid;

/// A fresh container in the configured Swift, with the token to reach it.
struct RealSwift {
    http: reqwest::Client,
    token: String,
    container_url: String,
    store: OpendalBlobStore,
}

impl RealSwift {
    /// Authenticates, creates a container, and builds the blob store on it the
    /// way the proxy does from its settings. `None` when no Swift is configured.
    async fn connect() -> Option<Self> {
        let (Ok(auth_url), Ok(user), Ok(key)) = (
            std::env::var("NIMBUS_TEST_SWIFT_AUTH_URL"),
            std::env::var("NIMBUS_TEST_SWIFT_USER"),
            std::env::var("NIMBUS_TEST_SWIFT_KEY"),
        ) else {
            eprintln!("no real Swift configured (NIMBUS_TEST_SWIFT_AUTH_URL/_USER/_KEY): skipped");
            return None;
        };
        let http = reqwest::Client::new();
        let auth = http
            .get(&auth_url)
            .header("X-Auth-User", &user)
            .header("X-Auth-Key", &key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("cannot reach the Swift auth URL {auth_url}: {e}"));
        assert!(
            auth.status().is_success(),
            "Swift refused the credentials of {user}: {}",
            auth.status()
        );
        let header = |name: &str| {
            auth.headers()
                .get(name)
                .unwrap_or_else(|| panic!("the auth answer has no {name}"))
                .to_str()
                .unwrap()
                .to_owned()
        };
        let (token, storage_url) = (header("x-auth-token"), header("x-storage-url"));
        let container = format!("nimbus-test-{}", Uuid::new_v4().simple());
        let container_url = format!("{storage_url}/{container}");
        let created = http
            .put(&container_url)
            .header("X-Auth-Token", &token)
            .send()
            .await
            .unwrap();
        assert!(
            created.status().is_success(),
            "PUT {container_url}: {}",
            created.status()
        );
        let store = OpendalBlobStore::from_settings(&StorageSettings {
            scheme: "swift".into(),
            options: BTreeMap::from([
                ("endpoint".into(), storage_url),
                ("container".into(), container),
                ("token".into(), token.clone()),
            ]),
        })
        .expect("an opendal Swift operator");
        Some(Self {
            http,
            token,
            container_url,
            store,
        })
    }

    /// The names of every object in the container, as Swift lists them.
    async fn list(&self) -> Vec<String> {
        let listing = self
            .http
            .get(&self.container_url)
            .header("X-Auth-Token", &self.token)
            .send()
            .await
            .unwrap();
        assert!(listing.status().is_success(), "{}", listing.status());
        let text = listing.text().await.unwrap();
        text.lines().map(str::to_owned).collect()
    }

    /// Deletes whatever is left in the container (reporting it), then the
    /// container; returns what was left so that the caller can assert on it
    /// after cleaning up.
    async fn remove(self) -> Vec<String> {
        let left = self.list().await;
        for name in &left {
            self.http
                .delete(format!("{}/{name}", self.container_url))
                .header("X-Auth-Token", &self.token)
                .send()
                .await
                .unwrap();
        }
        let removed = self
            .http
            .delete(&self.container_url)
            .header("X-Auth-Token", &self.token)
            .send()
            .await
            .unwrap();
        assert!(
            removed.status().is_success(),
            "DELETE {}: {}",
            self.container_url,
            removed.status()
        );
        left
    }

    async fn write(&self, key: &str, data: &[u8]) {
        let mut writer = self.store.create(key).await.unwrap();
        for part in data.chunks(100_000) {
            writer.write(Bytes::copy_from_slice(part)).await.unwrap();
        }
        writer.finish().await.unwrap();
    }

    async fn read(&self, key: &str, range: std::ops::Range<u64>) -> Result<Vec<u8>, String> {
        let stream = self
            .store
            .read(key, range)
            .await
            .map_err(|e| e.to_string())?;
        let parts: Vec<Bytes> = stream.try_collect().await.map_err(|e| e.to_string())?;
        Ok(parts.concat())
    }
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// A blob below opendal's part size is one plain Swift object.
#[tokio::test]
async fn blobs_round_trip_through_a_real_swift() {
    let Some(swift) = RealSwift::connect().await else {
        return;
    };
    let data = pattern(3 << 20);
    swift.write("blob/one", &data).await;
    assert_eq!(swift.list().await, ["blob/one"]);
    assert_eq!(
        swift.read("blob/one", 1000..2_000_000).await.unwrap(),
        &data[1000..2_000_000]
    );
    assert_eq!(
        swift.read("blob/one", 0..data.len() as u64).await.unwrap(),
        data
    );

    swift.write("blob/empty", b"").await;
    assert_eq!(swift.read("blob/empty", 0..0).await.unwrap(), b"");

    swift.store.delete("blob/one").await.unwrap();
    swift.store.delete("blob/empty").await.unwrap();
    assert!(swift.read("blob/one", 0..1).await.is_err());
    // Deleting a blob that is gone is not an error (the proxy may retry).
    swift.store.delete("blob/one").await.unwrap();
    assert_eq!(swift.remove().await, Vec::<String>::new());
}

/// A blob above the part size becomes a static large object: segments and a
/// manifest. Reads cross segment boundaries, and deleting the blob must not
/// leave its segments behind, or every large object the proxy ever deleted
/// would keep its bytes in Swift forever.
#[tokio::test]
async fn a_large_blob_is_read_across_segments_and_deleted_whole() {
    let Some(swift) = RealSwift::connect().await else {
        return;
    };
    let data = pattern(20 << 20);
    swift.write("blob/large", &data).await;
    let stored = swift.list().await;
    assert!(
        stored.len() > 1 && stored.contains(&"blob/large".to_owned()),
        "expected a manifest and its segments, Swift lists {stored:?}"
    );
    let boundary = 8 << 20;
    assert_eq!(
        swift
            .read("blob/large", boundary - 1000..boundary + 1000)
            .await
            .unwrap(),
        &data[boundary as usize - 1000..boundary as usize + 1000]
    );
    assert_eq!(
        swift
            .read("blob/large", 0..data.len() as u64)
            .await
            .unwrap(),
        data
    );

    swift.store.delete("blob/large").await.unwrap();
    assert!(swift.read("blob/large", 0..1).await.is_err());
    let left = swift.remove().await;
    assert!(
        left.is_empty(),
        "deleting the blob left {} objects in Swift: {left:?}",
        left.len()
    );
}

/// An aborted upload of a large blob leaves nothing behind.
#[tokio::test]
async fn an_aborted_large_upload_leaves_nothing() {
    let Some(swift) = RealSwift::connect().await else {
        return;
    };
    let mut writer = swift.store.create("blob/aborted").await.unwrap();
    // opendal sends a part only once the next one is full: more than two
    // parts, so that at least one segment is already uploaded.
    for part in pattern(20 << 20).chunks(100_000) {
        writer.write(Bytes::copy_from_slice(part)).await.unwrap();
    }
    writer.abort().await;
    let left = swift.remove().await;
    assert!(
        left.is_empty(),
        "the aborted upload left {} objects in Swift: {left:?}",
        left.len()
    );
}

/// A proxy that dies in the middle of a large upload leaves the segments
/// already sent and no manifest. The sweep removes those once the upload has
/// written nothing since its cutoff, and leaves the segments of a complete
/// blob alone.
#[tokio::test]
async fn segments_of_an_interrupted_large_upload_are_swept() {
    let Some(swift) = RealSwift::connect().await else {
        return;
    };
    // More than two parts, so that a segment is uploaded (as above).
    let data = pattern(20 << 20);
    let complete = new_blob_key();
    swift.write(&complete, &data).await;
    let interrupted = new_blob_key();
    let mut writer = swift.store.create(&interrupted).await.unwrap();
    let mut send = async |bytes: &[u8]| {
        for part in bytes.chunks(100_000) {
            writer.write(Bytes::copy_from_slice(part)).await.unwrap();
        }
    };
    // Segments written before and after `while_uploading`.
    send(&data).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let while_uploading = SystemTime::now();
    tokio::time::sleep(Duration::from_secs(1)).await;
    send(&data[..16 << 20]).await;
    // Neither finished nor aborted, as after a crash.
    drop(writer);

    let segments_of = |names: &[String], key: &str| {
        let prefix = format!(".segments/{key}");
        names.iter().filter(|n| n.starts_with(&prefix)).count()
    };
    let before = swift.list().await;
    let complete_segments = segments_of(&before, &complete);
    let orphans = segments_of(&before, &interrupted);
    assert!(
        complete_segments > 0 && orphans > 0 && !before.contains(&interrupted),
        "expected segments of both uploads and one manifest, Swift lists {before:?}"
    );

    // An upload that wrote a segment since the cutoff may still be going on.
    for cutoff in [
        SystemTime::now() - Duration::from_secs(3600),
        while_uploading,
    ] {
        assert_eq!(swift.store.remove_partial_uploads(cutoff).await.unwrap(), 0);
    }
    let later = SystemTime::now() + Duration::from_secs(1);
    assert_eq!(
        swift.store.remove_partial_uploads(later).await.unwrap(),
        orphans
    );
    let after = swift.list().await;
    assert_eq!(segments_of(&after, &interrupted), 0, "{after:?}");
    assert_eq!(
        segments_of(&after, &complete),
        complete_segments,
        "{after:?}"
    );
    assert_eq!(
        swift.read(&complete, 0..data.len() as u64).await.unwrap(),
        data
    );

    swift.store.delete(&complete).await.unwrap();
    assert_eq!(swift.remove().await, Vec::<String>::new());
}
