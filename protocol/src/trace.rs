//! Trace ids: one id per user-facing request (an HTTP request to the proxy,
//! a desktop client's sync pass), carried by every RPC made on its behalf so
//! that the proxy's, the client's and the metadata servers' log lines of that
//! request can be found together.
//!
//! A trace id is only ever a random value or one a client chose (the HTTP
//! `X-Request-Id`): never a secret and never derived from one. It is shown in
//! logs and response headers, so it is accepted only if short and made of
//! characters that cannot break a log line or a header; anything else is
//! dropped (and a fresh id made where one is needed), never refused: a trace
//! id is for reading logs, not a reason to fail a request.
//!
//! The id travels in the RPC envelope's optional `trace_id`; servers that
//! predate it ignore it, and requests without it are served as before.

use std::fmt;
use std::future::Future;

use serde::{Deserialize, Deserializer, Serialize};
use uuid::Uuid;

/// The longest trace id accepted.
pub const MAX_TRACE_ID_LEN: usize = 128;

/// A validated trace id: 1 to [`MAX_TRACE_ID_LEN`] ASCII letters, digits,
/// `-`, `_`, `.` or `:`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct TraceId(String);

impl TraceId {
    /// `candidate` as a trace id, if it has the accepted shape.
    pub fn parse(candidate: &str) -> Option<Self> {
        let sane = (1..=MAX_TRACE_ID_LEN).contains(&candidate.len())
            && candidate.chars().all(is_trace_id_char);
        sane.then(|| Self(candidate.to_owned()))
    }

    /// A fresh random id (a UUID v4, 32 hex digits).
    pub fn random() -> Self {
        Self(Uuid::new_v4().simple().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether `c` may appear in a trace id.
pub fn is_trace_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Reads an envelope's `trace_id` leniently: a value of the wrong type or
/// shape reads as none, so that a bad trace id never costs a request.
pub fn deserialize_lenient<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<TraceId>, D::Error> {
    let value = Option::<serde_json::Value>::deserialize(deserializer)?;
    Ok(value
        .as_ref()
        .and_then(|v| v.as_str())
        .and_then(TraceId::parse))
}

tokio::task_local! {
    static CURRENT: TraceId;
}

/// Runs `future` with `trace_id` as the trace id of the RPCs it makes
/// through an [`crate::RpcClient`] (in the same task, not in tasks it spawns).
pub async fn scope<F: Future>(trace_id: TraceId, future: F) -> F::Output {
    CURRENT.scope(trace_id, future).await
}

/// The trace id of the task's [`scope`], if any.
pub fn current() -> Option<TraceId> {
    CURRENT.try_with(Clone::clone).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_ids_of_safe_characters_are_accepted() {
        for good in [
            "tx0123456789abcdef01234-00656a0f3c",
            "3f0c2b9e-1c1e-4f37-9a55-0d5c8b7e0f11",
            "req:host.1_2",
        ] {
            assert_eq!(TraceId::parse(good).unwrap().as_str(), good);
        }
        let too_long = "a".repeat(MAX_TRACE_ID_LEN + 1);
        for bad in [
            "",
            "has space",
            "line\nbreak",
            "quote\"",
            "<script>",
            "ünïcode",
            too_long.as_str(),
        ] {
            assert_eq!(TraceId::parse(bad), None, "{bad:?}");
        }
        assert!(TraceId::parse(&TraceId::random().to_string()).is_some());
    }

    #[tokio::test]
    async fn the_scope_is_seen_inside_and_not_outside() {
        let id = TraceId::parse("abc").unwrap();
        assert_eq!(scope(id.clone(), async { current() }).await, Some(id));
        assert_eq!(current(), None);
    }
}
