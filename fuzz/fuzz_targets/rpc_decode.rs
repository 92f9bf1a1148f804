//! Decoding the metadata RPC's messages (`nimbus_protocol::rpc`, and the push
//! messages of `nimbus_protocol::notify`) from arbitrary bytes, as the
//! metadata servers, the proxy and the clients do.
//!
//! Whatever decodes re-encodes to JSON that decodes to the same value.
//! Values are compared as `serde_json::Value`: numbers that went through
//! `f64` may be spelled differently, and not every type implements `Eq`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nimbus_protocol::notify::{Notification, Push, UserEvent};
use nimbus_protocol::rpc::{Request, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

fn round_trip<T: Serialize + DeserializeOwned>(data: &[u8]) {
    let Ok(decoded) = serde_json::from_slice::<T>(data) else {
        return;
    };
    let value = serde_json::to_value(&decoded).expect("a decoded message encodes");
    let encoded = serde_json::to_vec(&decoded).expect("a decoded message encodes");
    let again: T = serde_json::from_slice(&encoded).unwrap_or_else(|error| {
        panic!(
            "{error}: re-encoded as {}",
            String::from_utf8_lossy(&encoded)
        )
    });
    assert_eq!(
        serde_json::to_value(&again).expect("encodes"),
        value,
        "re-encoded as {}",
        String::from_utf8_lossy(&encoded)
    );
}

fuzz_target!(|data: &[u8]| {
    round_trip::<Request>(data);
    round_trip::<Response>(data);
    round_trip::<Notification>(data);
    round_trip::<Push>(data);
    round_trip::<UserEvent>(data);
});
